"""Closed-loop do-mpc (IPOPT) peer on the standard problems; prints one JSON line.

The problem is casadi_mpc's (casadi_mpc.tools.problems): the model's RK4 step of dt as a
discrete model, the same stage and terminal weights and input bounds.
"""
import argparse
import logging
import sys
import time
import warnings

import numpy as np

from common import figures, json_stdout, median_figures

sys.dont_write_bytecode = True  # keep the source tree clean


def build_mpc(prob):
    import casadi as ca
    import do_mpc
    from casadi_mpc.core.integrators import rk4_step

    nx, nu = prob.model.nx, prob.model.nu
    model = do_mpc.model.Model('discrete', 'SX')
    x = model.set_variable('_x', 'x', shape=(nx, 1))
    u = model.set_variable('_u', 'u', shape=(nu, 1))
    model.set_rhs('x', rk4_step(prob.model, prob.dt, prob.substeps)(x, u, prob.params()))
    model.setup()

    Q, R, Qf = (ca.DM(w) for w in prob.weights())
    e = x - ca.DM(prob.goal)
    mpc = do_mpc.controller.MPC(model)
    mpc.settings.n_horizon = prob.N
    mpc.settings.t_step = prob.dt
    mpc.settings.store_full_solution = False
    mpc.settings.nlpsol_opts = {'ipopt.print_level': 0, 'ipopt.sb': 'yes', 'print_time': 0}
    mpc.set_objective(lterm=ca.dot(Q * e, e) + ca.dot(R * u, u), mterm=ca.dot(Qf * e, e))
    lbu, ubu = prob.u_bounds()
    mpc.bounds['lower', '_u', 'u'] = lbu.reshape(-1, 1)
    mpc.bounds['upper', '_u', 'u'] = ubu.reshape(-1, 1)
    mpc.setup()
    return mpc


def run(prob, steps):
    mpc = build_mpc(prob)
    plant = prob.plant()
    x = np.array(prob.x0, dtype=float)
    mpc.x0 = x.reshape(-1, 1)
    mpc.set_initial_guess()
    times, xs, us = [], [], []
    for _ in range(steps):
        t0 = time.perf_counter()
        u = np.asarray(mpc.make_step(x.reshape(-1, 1))).ravel()
        times.append(time.perf_counter() - t0)
        xs.append(x)
        us.append(u)
        x = plant(x, u)
    return figures(prob, times, xs, us, x)


def main():
    from casadi_mpc.tools import problems
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument('--problem', default='unicycle,arm2', help='comma-separated problems')
    ap.add_argument('--steps', type=int, default=None, help='override closed-loop steps')
    ap.add_argument('--repeat', type=int, default=1, help='closed loops per problem (medians)')
    args = ap.parse_args()
    warnings.filterwarnings('ignore')
    logging.disable(logging.WARNING)
    with json_stdout() as emit:
        out = {'tool': 'do-mpc', 'problems': {}}
        for name in args.problem.split(','):
            try:
                prob = problems.get(name)
                out['problems'][name] = median_figures(
                    [run(prob, args.steps or prob.steps) for _ in range(args.repeat)])
            except Exception as exc:  # report, keep going with the other problem
                out['problems'][name] = {'error': '%s: %s' % (type(exc).__name__, exc)}
        emit(out)


if __name__ == '__main__':
    main()
