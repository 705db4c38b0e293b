"""Tuning benchmark: the gradient tuner against Optuna's TPE, and the speed of the gradients.

For the unicycle (config/diff_drive.yaml), the 2-link arm (config/planar_arm.yaml) and the 7-DOF
arm (config/urdf_arm.yaml), each made deliberately poor (energy weights x10, task weights x0.1)
and run with the compiled SQP, both tuners minimize the same loss (config/tuning/<robot>.yaml)
from the same start under the same rollout budget: the gradient tuner (core/tuner.py, descent
with line search on log-weights) and Optuna's TPE sampler on the same log-weight box (seeded,
starting with the configured weights as its first trial). Printed per robot: the loss before,
the best loss of each, the rollouts each needed to come within 1 % of the best loss found by
either, and the wall time. Target: the gradient tuner needs >= 5x fewer rollouts.

Speed, in the same run: the sensitivities of one compiled solve against the solve itself
(target <= 2x), one rollout with gradients against one without (target <= 3x), and a tuning
iteration (every scenario rolled out with gradients) on a 2-worker LocalCluster against serial.
Not a test: it prints.

    python bench/tuning.py [--robots unicycle arm2 arm7] [--budget-scale 1.0] [--skip-speed]
                           [--write-poor DIR]
"""
import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

from casadi_mpc.core import loss as loss_file
from casadi_mpc.core.config import load, with_changes
from casadi_mpc.core.controller import MPCController
from casadi_mpc.core.costs import make_term
from casadi_mpc.core.rollout import config_weights, select, tuning_config, weight_key
from casadi_mpc.core.tuner import Point, Tuner
from casadi_mpc.tools import param_file
from casadi_mpc.tools.cluster import Runner
from casadi_mpc.tools.tuning import changed_keys

ROOT = Path(__file__).resolve().parents[1]
ROBOTS = {   # name: (parameter file, loss file, rollout budget)
    'unicycle': ('diff_drive', 240),
    'arm2': ('planar_arm', 240),
    'arm7': ('urdf_arm', 120),
}
WITHIN = 0.01


def poor_weights(cfg):
    """Deliberately poor: every energy term's weights x10, every task term's x0.1 (sluggish;
    beyond x30 the 2-link arm's power term makes the solves from rest fail)."""
    weights = config_weights(cfg)
    return weights, {label: v * (10.0 if make_term(weight_key(label)[0].split('.')[1]).kind ==
                                 'energy' else 0.1) for label, v in weights.items()}


def setup(robot):
    name, budget = ROBOTS[robot]
    path = ROOT / 'config' / (name + '.yaml')
    cfg = load(path)
    cfg = with_changes(cfg, {'solver.name': 'sqp', 'solver.compiled': True}, 'benchmark')
    spec = loss_file.load(ROOT / 'config' / 'tuning' / (name + '.yaml'))
    original, poor = poor_weights(cfg)
    cfg = with_changes(cfg, {k: v[1] for k, v in changed_keys(original, poor).items()},
                       'poor weights')
    weights = config_weights(cfg)
    labels, lower, upper = select(weights, spec.tune.weights, spec.tune.bounds)
    return path, cfg, spec, labels, np.array([weights[k] for k in labels]), lower, upper, budget


class Trace:
    """Every evaluation's loss against the rollouts used so far."""

    def __init__(self, runner):
        self.runner, self.points = runner, []

    def add(self, loss):
        self.points.append((self.runner.rollouts, float(loss)))

    def best(self):
        return min(loss for _, loss in self.points)

    def rollouts_to(self, target):
        best = np.inf
        for rollouts, loss in self.points:
            best = min(best, loss)
            if best <= target:
                return rollouts
        return None


def mean_loss(outcomes):
    return float(np.mean([o.loss for o in outcomes]))


def batch(runner, labels, w, n, gradient):
    weights = {k: float(v) for k, v in zip(labels, w)}
    return runner.map([(weights, s, labels if gradient else (), False) for s in range(n)])


def run_gradient(cfg, spec, labels, w0, lower, upper, budget):
    n = len(spec.scenarios)
    with Runner(cfg, spec, serial=True) as runner:
        trace = Trace(runner)

        def evaluate(theta):
            outcomes = batch(runner, labels, np.exp(theta), n, True)
            trace.add(mean_loss(outcomes))
            errors = [o.gradient_error for o in outcomes if o.gradient_error]
            if errors:
                return Point(theta, mean_loss(outcomes), None, '; '.join(errors))
            grad = np.mean([o.gradient for o in outcomes], axis=0) * np.exp(theta)
            return Point(theta, mean_loss(outcomes), grad)
        started = time.perf_counter()
        tuner = Tuner(evaluate, np.log(lower), np.log(upper), iterations=10000)
        tuner.progress = lambda record: _stop_at(runner, budget)
        try:
            result = tuner.run(np.log(w0))
            stop = result.stop
        except BudgetSpent:
            stop = 'budget spent'
        return trace, time.perf_counter() - started, stop


class BudgetSpent(Exception):
    pass


def _stop_at(runner, budget):
    if runner.rollouts >= budget:
        raise BudgetSpent()


def run_tpe(cfg, spec, labels, w0, lower, upper, budget, seed=0):
    import optuna
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    n = len(spec.scenarios)
    with Runner(cfg, spec, serial=True) as runner:
        trace = Trace(runner)
        keys = ['w%d' % i for i in range(len(labels))]

        def objective(trial):
            w = [trial.suggest_float(k, lo, hi, log=True) for k, lo, hi in
                 zip(keys, lower, upper)]
            loss = mean_loss(batch(runner, labels, w, n, False))
            trace.add(loss)
            return loss
        study = optuna.create_study(sampler=optuna.samplers.TPESampler(seed=seed))
        study.enqueue_trial({k: float(v) for k, v in zip(keys, w0)})
        started = time.perf_counter()
        study.optimize(objective, n_trials=budget // n)
        return trace, time.perf_counter() - started


def compare(robots, scale):
    rows = []
    for robot in robots:
        path, cfg, spec, labels, w0, lower, upper, budget = setup(robot)
        budget = int(budget * scale)
        print('%s: %s made poor, %d weights, %d scenarios, budget %d rollouts' % (
            robot, path.name, len(labels), len(spec.scenarios), budget), flush=True)
        MPCController(cfg, progress=lambda m: print('  [build] ' + m, flush=True))
        grad, grad_s, stop = run_gradient(cfg, spec, labels, w0, lower, upper, budget)
        print('  gradient: best %.6g after %d rollouts, %.0f s (%s)' % (
            grad.best(), grad.points[-1][0], grad_s, stop), flush=True)
        tpe, tpe_s = run_tpe(cfg, spec, labels, w0, lower, upper, budget)
        print('  TPE:      best %.6g after %d rollouts, %.0f s' % (
            tpe.best(), tpe.points[-1][0], tpe_s), flush=True)
        best = min(grad.best(), tpe.best())
        target = best + WITHIN * abs(best)
        rows.append((robot, len(labels), grad.points[0][1], best, grad, grad_s, tpe, tpe_s,
                     target))
    print()
    print('within 1 % of the best loss found by either (rollouts; wall time of the whole run)')
    head = '%-9s %7s %10s %10s | %10s %9s %8s | %10s %9s %8s | %s' % (
        'robot', 'weights', 'loss start', 'best', 'gradient', 'rollouts', 'wall s', 'TPE',
        'rollouts', 'wall s', 'TPE / gradient')
    print(head)
    print('-' * len(head))
    for robot, n, start, best, grad, grad_s, tpe, tpe_s, target in rows:
        g, t = grad.rollouts_to(target), tpe.rollouts_to(target)
        ratio = '%.1fx' % (t / g) if g and t else (
            '> %.1fx' % (tpe.points[-1][0] / g) if g else 'n/a')
        print('%-9s %7d %10.5g %10.5g | %10.5g %9s %8.0f | %10.5g %9s %8.0f | %s' % (
            robot, n, start, best, grad.best(), g if g else '> %d' % grad.points[-1][0],
            grad_s, tpe.best(), t if t else '> %d' % tpe.points[-1][0], tpe_s, ratio))
    print('target: the gradient tuner needs >= 5x fewer rollouts')


def speed(robots):
    print()
    print('speed (medians; same run, same machine)')
    for robot in robots:
        _, cfg, spec, labels, w0, _, _, _ = setup(robot)
        ctrl = MPCController(tuning_config(cfg))    # the solver the rollouts run
        scenario = spec.scenarios[0]
        x = np.asarray(scenario.x0, float)
        from casadi_mpc.core.plant import Plant
        plant = Plant(ctrl.model, x, cfg.model.params, max_step=min(cfg.dt, 0.01))
        entries = ctrl.differentiator.columns(('x0[', 'u_prev[', 'costs.'))
        solve, sens_fast, sens_full = [], [], []
        for _ in range(min(scenario.steps, 40)):
            result = ctrl.step(plant.x)
            if result.success:
                solve.append(result.solve_time)
                sens_fast.append(ctrl.sensitivity(entries, full=False).seconds)
                sens_full.append(ctrl.sensitivity(entries).seconds)
            plant.step(result.u0 if result.success else ctrl.safe_input(plant.x), cfg.dt)
        s, f, g = (np.median(v) * 1e3 for v in (solve, sens_fast, sens_full))
        print('%-9s compiled solve %7.3f ms | sensitivities du0 (rollouts) %7.3f ms = %.1fx, '
              'full (table, node) %7.3f ms = %.1fx   (target <= 2x)' % (robot, s, f, f / s, g,
                                                                        g / s))
        with Runner(cfg, spec, serial=True) as runner:
            weights = {k: float(v) for k, v in zip(labels, w0)}
            runner.map([(weights, 0, labels, False)])     # build once
            times = {}
            for name, grad in (('without', ()), ('with', labels)):
                ts = []
                for _ in range(3):
                    out = runner.map([(weights, 0, grad, False)])[0]
                    ts.append(out.seconds)
                times[name] = np.median(ts)
        print('%-9s one rollout (%d steps): without gradients %.3f s, with %.3f s = %.1fx   '
              '(target <= 3x)' % (robot, scenario.steps, times['without'], times['with'],
                                  times['with'] / times['without']))
    _, cfg, spec, labels, w0, _, _, _ = setup(robots[0])
    n = len(spec.scenarios)
    with Runner(cfg, spec, serial=True) as serial:
        serial.prepare(gradients=True)
        batch(serial, labels, w0, n, True)
        started = time.perf_counter()
        for _ in range(2):
            batch(serial, labels, w0, n, True)
        one = (time.perf_counter() - started) / 2
    with Runner(cfg, spec, workers=2, say=lambda m: print('  ' + m)) as cluster:
        cluster.prepare(gradients=True)         # each worker builds once, and says so
        batch(cluster, labels, w0, n, True)
        started = time.perf_counter()
        for _ in range(2):
            batch(cluster, labels, w0, n, True)
        two = (time.perf_counter() - started) / 2
    print('%-9s a tuning iteration (%d scenarios with gradients): serial %.2f s, 2-worker '
          'LocalCluster %.2f s = %.2fx speed-up (%d cores, shared)' % (
              robots[0], n, one, two, one / two, os.cpu_count()))


def write_poor(directory):
    """The deliberately poor copies of every shipped robot's parameter file."""
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    for path in sorted((ROOT / 'config').glob('*.yaml')):
        cfg = load(path)
        original, poor = poor_weights(cfg)
        param_file.write(path, out / path.name, changed_keys(original, poor))
        print('wrote %s' % (out / path.name))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--robots', nargs='+', choices=sorted(ROBOTS), default=list(ROBOTS))
    ap.add_argument('--budget-scale', type=float, default=1.0,
                    help='scale every rollout budget (default 1)')
    ap.add_argument('--skip-speed', action='store_true')
    ap.add_argument('--skip-compare', action='store_true')
    ap.add_argument('--write-poor', metavar='DIR',
                    help='only write the poor copies of config/*.yaml into DIR')
    args = ap.parse_args()
    if args.write_poor:
        write_poor(args.write_poor)
        return 0
    if not args.skip_compare:
        compare(args.robots, args.budget_scale)
    if not args.skip_speed:
        speed(args.robots)
    return 0


if __name__ == '__main__':
    sys.exit(main())
