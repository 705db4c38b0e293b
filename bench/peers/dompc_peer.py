"""Closed-loop do-mpc (IPOPT) peer on the standard problems; prints one JSON line."""
import argparse
import logging
import os
import sys
import time
import warnings

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.dont_write_bytecode = True  # keep the source tree clean
import problems as P  # noqa: E402


def build_mpc(prob):
    import do_mpc

    model = do_mpc.model.Model('discrete', 'SX')
    x = model.set_variable('_x', 'x', shape=(prob.nx, 1))
    u = model.set_variable('_u', 'u', shape=(prob.nu, 1))
    model.set_rhs('x', P.rk4_step(P.ODES[prob.name], x, u, prob.dt))
    model.setup()

    mpc = do_mpc.controller.MPC(model)
    mpc.settings.n_horizon = prob.N
    mpc.settings.t_step = prob.dt
    mpc.settings.store_full_solution = False
    mpc.settings.nlpsol_opts = {'ipopt.print_level': 0, 'ipopt.sb': 'yes', 'print_time': 0}
    mpc.set_objective(lterm=P.stage_cost(prob, x, u), mterm=P.terminal_cost(prob, x))
    u_max = np.array(prob.u_max).reshape(-1, 1)
    mpc.bounds['lower', '_u', 'u'] = -u_max
    mpc.bounds['upper', '_u', 'u'] = u_max
    mpc.setup()
    return mpc


def run(prob, steps):
    mpc = build_mpc(prob)
    plant = P.make_plant(prob)
    x = np.array(prob.x0, dtype=float)
    mpc.x0 = x.reshape(-1, 1)
    mpc.set_initial_guess()
    times = []
    for _ in range(steps):
        t0 = time.perf_counter()
        u = mpc.make_step(x.reshape(-1, 1))
        times.append(time.perf_counter() - t0)
        x = plant(x, np.asarray(u).ravel())
    return P.summarize(times, x, prob, steps)


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument('--problem', default='all', choices=['all', *P.PROBLEMS])
    ap.add_argument('--steps', type=int, default=None, help='override closed-loop steps')
    args = ap.parse_args()
    warnings.filterwarnings('ignore')
    logging.disable(logging.WARNING)
    with P.json_stdout() as emit:
        out = {'tool': 'do-mpc', 'problems': {}}
        for name in P.selected(args.problem):
            prob = P.PROBLEMS[name]
            try:
                out['problems'][name] = run(prob, args.steps or prob.steps)
            except Exception as exc:  # report, keep going with the other problem
                out['problems'][name] = {'error': f'{type(exc).__name__}: {exc}'}
        emit(out)


if __name__ == '__main__':
    main()
