"""Closed-loop acados (HPIPM) peer on the standard problems; prints one JSON line per variant.

Variants: 'rti' (SQP_RTI, one Gauss-Newton QP per control step, tool 'acados-rti') and
'sqp' (SQP iterated to convergence, tool 'acados-sqp'). The problem is the one casadi_mpc
solves (casadi_mpc.tools.problems): the model's f(x, u) at its parameters, explicit RK4 with
the same steps per interval, the same weights (acados' LINEAR_LS 0.5 |y|_W^2 with its stage
cost scaled by dt, undone in W), input bounds and state bounds at every stage after the
first. The plant is the model's RK4 step. Start it through run_acados.sh, which sets
ACADOS_SOURCE_DIR, TERA_PATH, LD_LIBRARY_PATH and PYTHONPATH (the repository's src). Generated
code goes to --build-dir (default <repo>/build/acados, git-ignored).
"""
import argparse
import os
import sys
import time

import numpy as np

from common import figures, json_stdout, median_figures

sys.dont_write_bytecode = True  # keep the source tree clean
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TOOLS = {'rti': 'acados-rti', 'sqp': 'acados-sqp'}
# this acados does not mask infinite bounds: HPIPM then iterates to its limit on a bound at
# +-1e9. The open side of a one-sided bound is put FAR beyond the other (in the state's unit),
# never reached: the same problem, and a QP that converges in a few iterations.
FAR = 1e3


def build_solver(prob, variant, build_dir):
    import casadi as ca
    from acados_template import AcadosModel, AcadosOcp, AcadosOcpSolver

    name = '%s_%s' % (prob.name, variant)
    nx, nu = prob.model.nx, prob.model.nu
    model = AcadosModel()
    model.name = name
    model.x = ca.SX.sym('x', nx)
    model.u = ca.SX.sym('u', nu)
    model.xdot = ca.SX.sym('xdot', nx)
    model.f_expl_expr = prob.ode(model.x, model.u)
    model.f_impl_expr = model.xdot - model.f_expl_expr

    ocp = AcadosOcp()
    ocp.model = model
    ocp.dims.N = prob.N
    Q, R, Qf = prob.weights()
    # acados LINEAR_LS cost is 0.5 * ||y - yref||_W^2, and stage terms are scaled by the
    # time step; undo both so the objective equals the problem's sum of stage + terminal.
    ocp.cost.cost_type = 'LINEAR_LS'
    ocp.cost.cost_type_e = 'LINEAR_LS'
    ocp.cost.Vx = np.vstack([np.eye(nx), np.zeros((nu, nx))])
    ocp.cost.Vu = np.vstack([np.zeros((nx, nu)), np.eye(nu)])
    ocp.cost.W = np.diag(2.0 * np.concatenate([Q, R]) / prob.dt)
    ocp.cost.yref = np.concatenate([prob.goal, np.zeros(nu)])
    ocp.cost.Vx_e = np.eye(nx)
    ocp.cost.W_e = np.diag(2.0 * Qf)
    ocp.cost.yref_e = prob.goal

    lbu, ubu = prob.u_bounds()
    ocp.constraints.x0 = prob.x0
    ocp.constraints.idxbu = np.arange(nu)
    ocp.constraints.lbu, ocp.constraints.ubu = lbu, ubu
    lbx, ubx = prob.x_bounds()
    bounded = np.flatnonzero(np.isfinite(lbx) | np.isfinite(ubx))
    if bounded.size:   # the state bounds hold at every stage after the first, as ours
        lo = np.where(np.isfinite(lbx), lbx, ubx - FAR)
        hi = np.where(np.isfinite(ubx), ubx, lbx + FAR)
        ocp.constraints.idxbx = ocp.constraints.idxbx_e = bounded
        ocp.constraints.lbx = ocp.constraints.lbx_e = lo[bounded]
        ocp.constraints.ubx = ocp.constraints.ubx_e = hi[bounded]

    opts = ocp.solver_options
    opts.tf = prob.N * prob.dt
    opts.qp_solver = 'PARTIAL_CONDENSING_HPIPM'
    opts.hessian_approx = 'GAUSS_NEWTON'
    opts.integrator_type = 'ERK'
    opts.sim_method_num_stages = 4                 # classic RK4 ...
    opts.sim_method_num_steps = prob.substeps      # ... as many steps per interval as ours
    opts.print_level = 0
    if variant == 'rti':
        opts.nlp_solver_type = 'SQP_RTI'
    else:
        opts.nlp_solver_type = 'SQP'
        opts.nlp_solver_max_iter = 500   # Gauss-Newton converges linearly on a cold start
        opts.qp_solver_iter_max = 200
        opts.nlp_solver_tol_stat = 1e-6
        opts.nlp_solver_tol_eq = 1e-8
        opts.nlp_solver_tol_ineq = 1e-8
        opts.nlp_solver_tol_comp = 1e-8

    out_dir = os.path.join(build_dir, name)
    os.makedirs(out_dir, exist_ok=True)
    ocp.code_export_directory = os.path.join(out_dir, 'c_generated_code')
    cwd = os.getcwd()
    os.chdir(out_dir)  # anything written relative to cwd stays in the build dir
    try:
        solver = AcadosOcpSolver(ocp, json_file=os.path.join(out_dir, 'acados_ocp.json'))
    finally:
        os.chdir(cwd)
    return solver


def run(prob, variant, steps, build_dir, repeat=1):
    """``repeat`` closed loops with one solver; the medians of their figures."""
    solver = build_solver(prob, variant, build_dir)
    return median_figures([closed_loop(prob, solver, steps) for _ in range(repeat)])


def closed_loop(prob, solver, steps):
    plant = prob.plant()
    nu = prob.model.nu
    x = np.array(prob.x0, dtype=float)
    for k in range(prob.N + 1):
        solver.set(k, 'x', x)
    for k in range(prob.N):
        solver.set(k, 'u', np.zeros(nu))
    times, own, xs, us, failures = [], [], [], [], 0
    for _ in range(steps):
        solver.set(0, 'lbx', x)
        solver.set(0, 'ubx', x)
        t0 = time.perf_counter()
        status = solver.solve()
        times.append(time.perf_counter() - t0)
        own.append(float(np.atleast_1d(solver.get_stats('time_tot'))[0]))
        failures += int(status not in (0, 2))   # 2: iteration limit (RTI: always one)
        u = solver.get(0, 'u')  # previous iterate stays in memory: warm start
        xs.append(x)
        us.append(u)
        x = plant(x, u)
    return figures(prob, times, xs, us, x, failures, own)


def main():
    from casadi_mpc.tools import problems
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument('--problem', default='unicycle,arm2',
                    help='comma-separated problems (%s)' % ', '.join(problems.NAMES))
    ap.add_argument('--steps', type=int, default=None, help='override closed-loop steps')
    ap.add_argument('--variant', default='rti', choices=['rti', 'sqp', 'all'])
    ap.add_argument('--repeat', type=int, default=1, help='closed loops per problem (medians)')
    ap.add_argument('--build-dir', default=os.environ.get(
        'ACADOS_BUILD_DIR', os.path.join(REPO, 'build', 'acados')))
    args = ap.parse_args()
    variants = list(TOOLS) if args.variant == 'all' else [args.variant]
    build_dir = os.path.abspath(args.build_dir)
    with json_stdout() as emit:
        try:
            import acados_template  # noqa: F401
        except Exception as exc:
            for v in variants:
                emit({'tool': TOOLS[v], 'error': 'acados unavailable: %s' % exc})
            return
        for v in variants:
            out = {'tool': TOOLS[v], 'problems': {}}
            for name in args.problem.split(','):
                try:
                    prob = problems.get(name)
                    out['problems'][name] = run(prob, v, args.steps or prob.steps, build_dir,
                                                args.repeat)
                except Exception as exc:  # report, keep going with the other problems
                    out['problems'][name] = {'error': '%s: %s' % (type(exc).__name__, exc)}
            emit(out)


if __name__ == '__main__':
    main()
