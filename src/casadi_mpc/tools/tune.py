"""`casadi-mpc tune`: gradient descent on the log-weights of a config against a closed-loop
loss (core/tuner.py), rollouts on Dask.

Writes, in ``--output-dir``: ``<config>.tuned.yaml`` (the input parameter file with the tuned
weights, every changed key commented with its old value), ``<config>.tune.json`` (the history:
every iteration's loss, gradient norm, weights, rejected trials and rollouts used) and
``<config>.tune.png`` (loss per iteration, each weight's path, rollouts before and after).

An sqp_rti config is differentiated as sqp iterated to convergence on the same problem
(core/rollout.py); its steps are accepted on the loss of sqp_rti as deployed (each trial also
rolls out the RTI controller), so the file written improves the controller the user runs.
``--converged-only`` accepts them on the converged loss instead.
"""
import json
import sys
import time

import numpy as np

from . import param_file
from .tuning import changed_keys, output_path, parser, Problem, run_command
from ..core.tuner import Tuner


def parse_args(argv):
    ap = parser('casadi-mpc tune', __doc__.splitlines()[0])
    ap.add_argument('--iterations', type=int, default=20, help='most iterations (default 20)')
    ap.add_argument('--method', choices=('descent', 'adam'), default='descent',
                    help='descent: gradient descent with a line search (default); adam')
    ap.add_argument('--learning-rate', type=float, default=0.1,
                    help='adam: step on the log-weights (default 0.1)')
    ap.add_argument('--rtol', type=float, default=1e-4,
                    help='stop when the loss falls by less than this fraction twice in a row')
    ap.add_argument('--converged-only', action='store_true',
                    help='sqp_rti configs: accept steps on the loss of the converged solver '
                    '(default: on the loss of sqp_rti as deployed)')
    return ap.parse_args(argv)


class Progress:
    """A progress bar: iteration, loss, gradient norm, time left (tqdm, on stderr)."""

    def __init__(self, total, quiet):
        from tqdm import tqdm
        self.bar = None if quiet else tqdm(total=total, desc='tune', unit='it', file=sys.stderr,
                                           dynamic_ncols=True)

    def __call__(self, record):
        if self.bar is None:
            return
        if record['iteration'] > 0:
            self.bar.update(1)
        self.bar.set_postfix_str('loss %.6g  |grad| %.3g  rollouts %s' % (
            record['loss'], record['gradient_norm'], record.get('rollouts', '?')))

    def close(self):
        if self.bar is not None:
            self.bar.close()


@run_command
def main(argv=None):
    args = parse_args(argv)
    problem = Problem(args)
    tuned_path = output_path(args, problem, '.tuned.yaml')
    history_path = output_path(args, problem, '.tune.json')
    plot_path = output_path(args, problem, '.tune.png')
    started = time.perf_counter()
    rti = problem.cfg.solver.name == 'sqp_rti' and not args.converged_only
    with problem.runner(args, 'tuning', gradients=True) as runner:
        if rti:
            runner.say('sqp_rti: steps follow the gradient of sqp iterated to convergence on '
                       'the same problem and are accepted on the loss of sqp_rti as deployed')
            runner.prepare(converged=False)
        progress = Progress(args.iterations, args.quiet)

        def evaluate(theta):
            w = np.exp(theta)
            point = problem.point(theta, problem.rollouts(runner, [w], gradient=True)[0])
            if rti:
                deployed = problem.rollouts(runner, [w], converged=False)[0]
                point.details['converged_loss'] = point.loss
                point.details['deployed_failures'] = int(sum(o.failures for o in deployed))
                point.loss = float(np.mean([o.loss for o in deployed]))
            return point

        def report(record):
            record['rollouts'] = runner.rollouts
            progress(record)
        tuner = Tuner(evaluate, np.log(problem.lower), np.log(problem.upper), args.method,
                      args.iterations, args.rtol, learning_rate=args.learning_rate,
                      progress=report)
        try:
            result = tuner.run(np.log(problem.w0))
        except RuntimeError as err:
            progress.close()
            print('error: %s' % err, file=sys.stderr)
            return 1
        progress.close()
        w1 = np.exp(result.theta)
        before, after = problem.rollouts(runner, [problem.w0, w1], keep=True,
                                         converged=not rti)
        rollouts = runner.rollouts
    loss0 = result.history[0]['loss']
    param_file.write(problem.path, tuned_path,
                     changed_keys(problem.weights, problem.weights_at(w1)))
    history = {
        'config': str(problem.path), 'scenarios': [s.name for s in problem.spec.scenarios],
        'method': args.method, 'labels': problem.labels, 'stop': result.stop,
        'loss_before': loss0, 'loss_after': result.loss, 'rollouts': rollouts,
        'gradient_rollouts': result.evaluations * len(problem.spec.scenarios),
        'seconds': time.perf_counter() - started,
        'weights_before': problem.weights_at(problem.w0), 'weights_after': problem.weights_at(w1),
        'bounds': {label: [lo, hi]
                   for label, lo, hi in zip(problem.labels, problem.lower, problem.upper)},
        'iterations': [dict(r, weights=problem.weights_at(np.exp(r['theta']))) for r in
                       result.history],
        'metrics_before': {o.scenario: o.metrics for o in before},
        'metrics_after': {o.scenario: o.metrics for o in after},
        'loss_of': 'sqp_rti as deployed' if rti else problem.cfg.solver.name,
    }
    history_path.write_text(json.dumps(history, indent=1, default=float))
    from .tuning_plots import plot_tuning
    plot_tuning(history, before, after, problem.cfg.goal_tolerance, plot_path)
    print('loss %.6g -> %.6g (%+.1f %%) after %d iterations, %d rollouts, %.1f s: %s' % (
        loss0, result.loss, 100 * (result.loss - loss0) / abs(loss0) if loss0 else 0.0,
        len(result.history) - 1, rollouts, history['seconds'], result.stop))
    if rti:
        final = next(r for r in result.history if r['loss'] == result.loss)
        converged = (result.history[0]['details']['converged_loss'],
                     final['details']['converged_loss'])
        print('losses of sqp_rti as deployed; of sqp iterated to convergence: %.6g -> %.6g'
              % tuple(converged))
    for label, a, b in zip(problem.labels, problem.w0, w1):
        if a != b:
            print('  %-36s %12.6g -> %-12.6g (x%.3g)' % (label, a, b, b / a))
    print('wrote %s, %s, %s' % (tuned_path, history_path, plot_path))
    return 0
