"""The 7-DOF arm (config/urdf_arm.yaml, N = 20) with compiled sqp_rti: build, cache hit, speed.

Prints the first build time (into an empty cache directory), the load time on a cache hit, and
per control step the feedback time (the solve once the state is known) and the whole step
(the preparation after the plant step, as the node does, plus the feedback), with
``solver.kernel.advanced_step`` on (the prepare solves the QP for the predicted state: least
latency) and off (it only linearizes: least work per step). Target of the speed issue: p99
of the whole step <= 2 ms. Not a test: it prints.

    python bench/arm7.py [--steps 500] [--cache DIR]
"""
import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from casadi_mpc.core.config import load
from casadi_mpc.core.controller import MPCController
from casadi_mpc.core.plant import Plant

CONFIG = Path(__file__).resolve().parents[1] / 'config' / 'urdf_arm.yaml'


def controller(cache, advanced_step=True):
    cfg = load(CONFIG).model_dump()
    cfg['solver'].update(name='sqp_rti', compiled=True, time_limit=1.0)
    cfg['solver']['kernel'].update(cache_dir=cache, advanced_step=advanced_step)
    started = time.perf_counter()
    ctrl = MPCController(cfg, progress=lambda msg: print('  [build] ' + msg, flush=True))
    return ctrl, time.perf_counter() - started


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--steps', type=int, default=500)
    ap.add_argument('--cache', help='cache directory (default: a new, empty one)')
    args = ap.parse_args()
    cache = args.cache or tempfile.mkdtemp(prefix='casadi_mpc_arm7_')
    _, first = controller(cache)
    print('7-DOF urdf_arm, N = 20, sqp_rti compiled, %d steps' % args.steps)
    print('  first build      %6.1f s   (target < 60 s)' % first)
    for advanced in (True, False):
        ctrl, hit = controller(cache, advanced)
        solve, total, failures, plant = run(ctrl, args.steps)
        print('advanced_step %s' % str(advanced).lower())
        print('  cache hit        %6.2f s   (target < 1 s)' % hit)
        for name, values in (('feedback (solve)', solve), ('prepare + solve', total)):
            ms = np.asarray(values)
            print('  %-16s median %.3f ms  p99 %.3f ms  max %.3f ms' % (
                name, np.median(ms), np.percentile(ms, 99), ms.max()))
        print('  final error      %6.4f      failures %d' % (ctrl.goal_error(plant.x), failures))
    print('target: p99 of a whole step (prepare + solve) <= 2 ms, i.e. >= 500 Hz on one core')


def run(ctrl, steps):
    """The closed loop against the simulator's plant; per step [ms] the feedback and the
    whole step."""
    plant = Plant(ctrl.model, np.zeros(ctrl.model.nx), ctrl.cfg.model.params)
    solve, total, failures = [], [], 0
    for _ in range(steps):
        u, result = ctrl.act(plant.x)
        solve.append(result.solve_time * 1e3)
        failures += not result.success
        plant.step(u, ctrl.cfg.dt)
        started = time.perf_counter()
        ctrl.solver.prepare()
        total.append(solve[-1] + (time.perf_counter() - started) * 1e3)
    return solve, total, failures, plant


if __name__ == '__main__':
    main()
