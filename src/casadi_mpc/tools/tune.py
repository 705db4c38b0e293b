"""`casadi-mpc tune`: gradient descent on the log-weights of a config against a closed-loop
loss (core/tuner.py), rollouts on Dask.

Writes, in ``--output-dir``: ``<config>.tuned.yaml`` (the input parameter file with the tuned
weights, every changed key commented with its old value), ``<config>.tune.json`` (the history:
every iteration's loss, gradient norm, weights, rejected trials and rollouts used) and
``<config>.tune.png`` (loss per iteration, each weight's path, rollouts before and after).
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
    with problem.runner(args, 'tuning', gradients=True) as runner:
        progress = Progress(args.iterations, args.quiet)

        def evaluate(theta):
            outcomes = problem.rollouts(runner, [np.exp(theta)], gradient=True)[0]
            return problem.point(theta, outcomes)

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
        before, after = problem.rollouts(runner, [problem.w0, w1], keep=True)
        deployed = None
        if problem.cfg.solver.name == 'sqp_rti':
            deployed = [float(np.mean([o.loss for o in batch])) for batch in
                        problem.rollouts(runner, [problem.w0, w1], converged=False)]
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
        'loss_sqp_rti_before_after': deployed,
    }
    history_path.write_text(json.dumps(history, indent=1, default=float))
    from .tuning_plots import plot_tuning
    plot_tuning(history, before, after, problem.cfg.goal_tolerance, plot_path)
    print('loss %.6g -> %.6g (%+.1f %%) after %d iterations, %d rollouts, %.1f s: %s' % (
        loss0, result.loss, 100 * (result.loss - loss0) / abs(loss0) if loss0 else 0.0,
        len(result.history) - 1, rollouts, history['seconds'], result.stop))
    if deployed is not None:
        print('the config runs sqp_rti: tuned with sqp to convergence; loss of sqp_rti as '
              'deployed %.6g -> %.6g' % tuple(deployed))
    for label, a, b in zip(problem.labels, problem.w0, w1):
        if a != b:
            print('  %-36s %12.6g -> %-12.6g (x%.3g)' % (label, a, b, b / a))
    print('wrote %s, %s, %s' % (tuned_path, history_path, plot_path))
    return 0
