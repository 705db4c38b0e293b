"""The compiled SQP kernel's branches and outputs: multipliers in nlpsol's convention, every
fallback forced (the exact Hessian that is not convex, line-search backtracking, a singular
reduced Hessian regularized, NaN, the time limit), and a 7-DOF arm against IPOPT.

Stated tolerances: IPOPT runs to 1e-9, the kernel to 1e-9; solutions agree to 1e-6, multipliers
to 1e-5 (they carry the error of both solutions, amplified by the constraint Jacobians).
"""
import casadi as ca
import numpy as np
import pytest

from casadi_mpc.core.config import load, SolverConfig
from casadi_mpc.core.controller import MPCController
from casadi_mpc.core.solvers import make_solver

from .problems import config, solver

SOLUTION, MULTIPLIER = 1e-6, 1e-5
# bounds that bind: the speed limit, and a terminal state fixed at the goal
BINDING = {'bounds': {'u_min': [-0.3, -0.5], 'u_max': [0.4, 0.5],
                      'x_min': [-0.05, -0.05, -np.inf], 'x_max': [np.inf, 0.2, np.inf]},
           'goal': [0.55, 0.0, 0.0], 'terminal_constraint': True}


def controller(name, compiled=False, **changes):
    cfg = config(**changes)
    cfg['solver'] = dict(solver(name), compiled=compiled)
    return MPCController(cfg)


def kkt_residual(ocp, result, p):
    """Largest entry of grad f + J_g' lam_g + lam_x at the result (the convention's test)."""
    lam_g = ca.SX.sym('lam_g', ocp.ng)
    lagrangian = ocp.f + ca.dot(lam_g, ocp.g)
    grad = ca.Function('grad', [ocp.w, ocp.p, lam_g], [ca.gradient(lagrangian, ocp.w)])
    value = np.asarray(grad(result.w, p, result.lam_g), float).ravel() + result.lam_x
    return float(np.max(np.abs(value)))


def test_compiled_multipliers_match_ipopt():
    x0 = np.zeros(3)
    reference = controller('ipopt', **BINDING).step(x0)
    assert reference.success
    assert np.max(np.abs(reference.lam_x)) > 0.1     # the speed limit binds
    for name in ('sqp', 'sqp_rti'):
        ours = controller(name, compiled=True, **BINDING).step(x0)
        assert ours.success, ours.message
        np.testing.assert_allclose(ours.w, reference.w, atol=SOLUTION)
        np.testing.assert_allclose(ours.lam_g, reference.lam_g, atol=MULTIPLIER)
        np.testing.assert_allclose(ours.lam_x, reference.lam_x, atol=MULTIPLIER)


@pytest.mark.parametrize('name,compiled', [('ipopt', False), ('fatrop', False), ('sqp', False),
                                           ('sqp_rti', False), ('sqp', True),
                                           ('sqp_rti', True)])
def test_every_backend_returns_multipliers_of_the_flat_nlp(name, compiled):
    ctrl = controller(name, compiled, bounds=BINDING['bounds'], goal=[0.55, 0.1, 0.0])
    x0 = np.zeros(3)
    result = ctrl.step(x0)
    assert result.success, result.message
    ocp = ctrl.ocp
    assert result.w.shape == (ocp.nw,)
    assert result.lam_g.shape == (ocp.ng,) and result.lam_x.shape == (ocp.nw,)
    if name != 'sqp_rti':   # converged: the multipliers make the Lagrangian stationary
        assert kkt_residual(ocp, result, ctrl.params(x0)) < 1e-5


def test_exact_hessian_not_convex_falls_back_to_gauss_newton_and_the_line_search_backtracks():
    # far from the goal, turned away: the constraint curvature makes the exact Hessian
    # indefinite, and full steps do not decrease the merit function
    changes = {'goal': [-2.0, 1.5, 3.0]}
    ours = controller('sqp', compiled=True, **changes).step(np.zeros(3))
    reference = controller('ipopt', **changes).step(np.zeros(3))
    assert ours.success and reference.success
    assert ours.stats['hess_fallbacks'] > 0 and ours.stats['ls_backtracks'] > 0
    assert ours.cost == pytest.approx(reference.cost, rel=1e-7)
    np.testing.assert_allclose(ours.u_pred, reference.u_pred, atol=SOLUTION)


def unicycle_backend(name, ocp_of, time_limit=10.0):
    settings = SolverConfig(name=name, compiled=True, tol=1e-9, max_iter=200,
                            time_limit=time_limit)
    return make_solver(ocp_of, settings)


def test_a_singular_reduced_hessian_is_regularized():
    """No cost on the heading or the turn rate, and no bound on the turn rate: at rest the
    turn rate changes nothing the cost sees, so the first QP's reduced Hessian is singular."""
    ctrl = controller('ipopt', costs={'goal_tracking': {'weight': [1.0, 1.0, 0.0]},
                                      'effort': {'weight': [0.1, 0.0]},
                                      'terminal': {'weight': [10.0, 10.0, 0.0]}},
                      goal=[1.0, 0.0, 0.0])
    ocp, x0 = ctrl.ocp, np.zeros(3)
    lbw, ubw, lbg, ubg = ctrl.bounds()
    lbw[ocp.u_index[:, 1]], ubw[ocp.u_index[:, 1]] = -np.inf, np.inf
    p = ctrl.params(x0)
    backend = unicycle_backend('sqp', ocp)
    ours = backend.solve(p, (lbw, ubw, lbg, ubg))
    assert ours.success, ours.message
    assert ours.stats['regularized'] > 0
    reference = ctrl.solver.solve(p, (lbw, ubw, lbg, ubg))
    assert reference.success
    assert ours.cost == pytest.approx(reference.cost, rel=1e-6)


@pytest.mark.parametrize('name', ['sqp', 'sqp_rti'])
def test_nan_fails_the_solve_and_the_next_one_starts_cold(name):
    ctrl = controller(name, compiled=True)
    x0 = np.zeros(3)
    p, bounds = ctrl.params(x0), ctrl.bounds()
    solver_ = ctrl.solver
    assert solver_.solve(p, bounds).success
    bad = p.copy()
    bad[ctrl.ocp.blocks['goal'].slice] = np.nan
    failed = solver_.solve(bad, bounds)
    assert not failed.success and failed.status == 'error' and failed.u0 is None
    assert solver_.w is None     # no warm start from it
    again = solver_.solve(p, bounds)
    fresh = controller(name, compiled=True).solver.solve(p, bounds)
    assert again.success
    np.testing.assert_allclose(again.w, fresh.w, atol=1e-12)   # the same cold start


def test_the_time_limit_stops_the_iteration():
    ctrl = controller('sqp', compiled=True, goal=[-2.0, 1.5, 3.0])
    converged = controller('sqp', compiled=True, goal=[-2.0, 1.5, 3.0]).step(np.zeros(3))
    ctrl.update({'solver.time_limit': 1e-6})
    result = ctrl.step(np.zeros(3))
    assert result.status == 'timeout' and not result.success
    assert result.iterations < converged.iterations


def test_seven_dof_arm_against_ipopt():
    """The 7-DOF arm of config/urdf_arm.yaml (shorter horizon: the build stays short): the
    compiled SQP reaches IPOPT's optimum and multipliers; compiled RTI steps stay within bounds
    and settle where the converged solver does."""
    base = load('config/urdf_arm.yaml').model_dump()
    base.update(horizon=5)

    def arm(name, compiled=False):
        cfg = dict(base, solver=dict(base['solver'], name=name, compiled=compiled, tol=1e-9,
                                     max_iter=200, time_limit=10.0))
        return MPCController(cfg)
    x0 = np.zeros(14)
    ours, reference = arm('sqp', True).step(x0), arm('ipopt').step(x0)
    assert ours.success and reference.success, (ours.message, reference.message)
    assert ours.cost == pytest.approx(reference.cost, rel=1e-6)
    np.testing.assert_allclose(ours.u_pred, reference.u_pred, atol=1e-4)
    np.testing.assert_allclose(ours.lam_g, reference.lam_g, atol=1e-4 * (
        1 + np.max(np.abs(reference.lam_g))))
    rti = arm('sqp_rti', True)
    t = rti.tuning
    x = x0
    for _ in range(30):
        result = rti.step(x)
        assert result.success, result.message
        assert np.all(result.u_pred >= t.u_lb - 1e-8) and np.all(result.u_pred <= t.u_ub + 1e-8)
        x = result.x_pred[1]
        rti.solver.prepare()
    assert result.stats['path'] in ('prepared', 'predictor', 'continued')
