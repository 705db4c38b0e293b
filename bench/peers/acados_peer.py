"""Closed-loop acados (HPIPM) peer on the standard problems; prints one JSON line per variant.

Variants: 'rti' (SQP_RTI, one Gauss-Newton QP per control step, tool 'acados-rti') and
'sqp' (SQP iterated to convergence, tool 'acados-sqp'). Start it through run_acados.sh,
which sets ACADOS_SOURCE_DIR, TERA_PATH, LD_LIBRARY_PATH and PYTHONPATH. Generated code
and libraries go to --build-dir (default <repo>/build/acados, git-ignored).
"""
import argparse
import os
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.dont_write_bytecode = True  # keep the source tree clean
import problems as P  # noqa: E402

REPO = os.path.dirname(os.path.dirname(HERE))
TOOLS = {'rti': 'acados-rti', 'sqp': 'acados-sqp'}


def build_solver(prob, variant, build_dir):
    import casadi as ca
    from acados_template import AcadosModel, AcadosOcp, AcadosOcpSolver

    name = f'{prob.name}_{variant}'
    model = AcadosModel()
    model.name = name
    model.x = ca.SX.sym('x', prob.nx)
    model.u = ca.SX.sym('u', prob.nu)
    model.xdot = ca.SX.sym('xdot', prob.nx)
    model.f_expl_expr = P.ODES[prob.name](model.x, model.u)
    model.f_impl_expr = model.xdot - model.f_expl_expr

    ocp = AcadosOcp()
    ocp.model = model
    ocp.dims.N = prob.N
    nx, nu, ny = prob.nx, prob.nu, prob.nx + prob.nu
    # acados LINEAR_LS cost is 0.5 * ||y - yref||_W^2, and stage terms are scaled by the
    # time step; undo both so the objective equals the problem's sum of stage + terminal.
    ocp.cost.cost_type = 'LINEAR_LS'
    ocp.cost.cost_type_e = 'LINEAR_LS'
    ocp.cost.Vx = np.vstack([np.eye(nx), np.zeros((nu, nx))])
    ocp.cost.Vu = np.vstack([np.zeros((nx, nu)), np.eye(nu)])
    ocp.cost.W = np.diag(2.0 * np.array(prob.Q + prob.R) / prob.dt)
    ocp.cost.yref = np.concatenate([prob.goal, np.zeros(nu)])
    ocp.cost.Vx_e = np.eye(nx)
    ocp.cost.W_e = np.diag(2.0 * np.array(prob.Qf))
    ocp.cost.yref_e = np.array(prob.goal)
    assert ny == ocp.cost.W.shape[0]

    u_max = np.array(prob.u_max)
    ocp.constraints.x0 = np.array(prob.x0)
    ocp.constraints.idxbu = np.arange(nu)
    ocp.constraints.lbu = -u_max
    ocp.constraints.ubu = u_max

    opts = ocp.solver_options
    opts.tf = prob.N * prob.dt
    opts.qp_solver = 'PARTIAL_CONDENSING_HPIPM'
    opts.hessian_approx = 'GAUSS_NEWTON'
    opts.integrator_type = 'ERK'
    opts.sim_method_num_stages = 4   # classic RK4 ...
    opts.sim_method_num_steps = 1    # ... one step per interval, as the plant
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


def run(prob, variant, steps, build_dir):
    solver = build_solver(prob, variant, build_dir)
    plant = P.make_plant(prob)
    x = np.array(prob.x0, dtype=float)
    for k in range(prob.N + 1):
        solver.set(k, 'x', x)
    for k in range(prob.N):
        solver.set(k, 'u', np.zeros(prob.nu))
    times, own, failures = [], [], 0
    for _ in range(steps):
        solver.set(0, 'lbx', x)
        solver.set(0, 'ubx', x)
        t0 = time.perf_counter()
        status = solver.solve()
        times.append(time.perf_counter() - t0)
        own.append(float(np.ravel(solver.get_stats('time_tot'))[0]))   # acados' own C timer
        failures += int(status != 0)
        u = solver.get(0, 'u')  # previous iterate stays in memory: warm start
        x = plant(x, u)
    res = P.summarize(times, x, prob, steps)
    res['time_tot_median_ms'] = float(np.median(own) * 1e3)
    res['time_tot_p99_ms'] = float(np.percentile(own, 99) * 1e3)
    res['failures'] = failures
    return res


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument('--problem', default='all', choices=['all', *P.PROBLEMS])
    ap.add_argument('--steps', type=int, default=None, help='override closed-loop steps')
    ap.add_argument('--variant', default='rti', choices=['rti', 'sqp', 'all'])
    ap.add_argument('--build-dir', default=os.environ.get(
        'ACADOS_BUILD_DIR', os.path.join(REPO, 'build', 'acados')))
    args = ap.parse_args()
    variants = list(TOOLS) if args.variant == 'all' else [args.variant]
    build_dir = os.path.abspath(args.build_dir)
    with P.json_stdout() as emit:
        try:
            import acados_template  # noqa: F401
        except Exception as exc:
            for v in variants:
                emit({'tool': TOOLS[v], 'error': f'acados unavailable: {exc}'})
            return
        for v in variants:
            out = {'tool': TOOLS[v], 'problems': {}}
            for name in P.selected(args.problem):
                prob = P.PROBLEMS[name]
                try:
                    out['problems'][name] = run(prob, v, args.steps or prob.steps, build_dir)
                except Exception as exc:  # report, keep going with the other problem
                    out['problems'][name] = {'error': f'{type(exc).__name__}: {exc}'}
            emit(out)


if __name__ == '__main__':
    main()
