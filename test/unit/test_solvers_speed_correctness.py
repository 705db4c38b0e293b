"""The fast paths are correct: RTI settles where the converged SQP does, the compiled kernel
solves the same problems as CasADi's nlpsol, and the compiled-solver cache never rebuilds for
run-time changes. Correctness only: the speed figures are bench/solve_times.py's business.

Only the small unicycle is compiled (about 1 s per structure); the cache is the per-session
temp dir test/conftest.py sets.
"""
import numpy as np
import pytest

from casadi_mpc.core.controller import MPCController
from casadi_mpc.core.integrators import rk4_step
from casadi_mpc.core.solvers import Builds, Counter

from .problems import config, solver, UNICYCLE

# A gravity-loaded arm whose effort weight leaves a steady-state offset from the goal: the
# closed loop settles at a non-trivial point, the same one for every mode that converges to
# the problem's KKT points.
ARM = {'model': {'name': 'planar_arm', 'links': 2}, 'horizon': 15, 'dt': 0.05,
       'goal': [np.pi / 4, 0.0, 0.0, 0.0],
       'costs': {'goal_tracking': {'weight': [10.0, 10.0, 0.1, 0.1]},
                 'effort': {'weight': [0.01, 0.01]},
                 'terminal': {'weight': [100.0, 100.0, 1.0, 1.0]}}}
RATE = dict(UNICYCLE, costs=dict(UNICYCLE['costs'], input_rate={'weight': [0.5, 0.5]}))
TIGHT = {'u_min': [-0.3, -0.5], 'u_max': [0.4, 0.5],
         'x_min': [-0.05, -0.05, -np.inf], 'x_max': [np.inf, 0.2, np.inf]}
# stated tolerances
STEADY_ATOL = 1e-4     # RTI vs converged steady state [rad, rad/s]
SAME_ATOL = 1e-6       # compiled vs CasADi nlpsol, converged (tol 1e-9)
SAME_RTI_ATOL = 1e-5   # one RTI step: the compiled QP stops at complementarity 1e-8, which
# leaves weakly active bounds up to ~1e-8 / multiplier from the vertex)
OPTIMUM_ATOL = 1e-5    # compiled vs ipopt (different algorithm, tol 1e-9)


def controller(base=UNICYCLE, name='sqp', compiled=False, limits=None, **changes):
    cfg = config(base, **changes)
    cfg['solver'] = dict(solver(name), compiled=compiled, **(limits or {}))
    return MPCController(cfg)


def closed_loop(ctrl, steps, x0=None):
    plant = rk4_step(ctrl.model, ctrl.cfg.dt)
    p = ctrl.tuning.model_p
    x = np.zeros(ctrl.model.nx) if x0 is None else np.asarray(x0, float)
    results = []
    for _ in range(steps):
        result = ctrl.step(x)
        assert result.success, result.message
        results.append(result)
        x = np.asarray(plant(x, result.u0, p), float).ravel()
    return x, results


@pytest.mark.parametrize('compiled', [False, True], ids=['nlpsol', 'compiled'])
def test_rti_settles_at_the_converged_steady_state(compiled):
    if compiled:
        # the compiled case on the unicycle (compile only the small problem): a goal it can
        # reach exactly, so both modes must end on it
        changes = {'goal': [1.5, 0.0, 0.0]}
        converged, _ = closed_loop(controller(name='sqp', compiled=True, **changes), 80)
        rti, _ = closed_loop(controller(name='sqp_rti', compiled=True, **changes), 80)
        np.testing.assert_allclose(rti, converged, atol=STEADY_ATOL)
        np.testing.assert_allclose(rti, [1.5, 0.0, 0.0], atol=STEADY_ATOL)
        return
    converged, res_c = closed_loop(controller(ARM, 'sqp'), 100)
    rti, res_r = closed_loop(controller(ARM, 'sqp_rti'), 100)
    assert abs(converged[0] - np.pi / 4) > 0.05     # a real offset, not the goal itself
    np.testing.assert_allclose(rti, converged, atol=STEADY_ATOL)
    np.testing.assert_allclose(res_r[-1].u0, res_c[-1].u0, atol=1e3 * STEADY_ATOL)


@pytest.mark.parametrize('base,bounds', [(UNICYCLE, None), (UNICYCLE, TIGHT), (RATE, None)],
                         ids=['unicycle', 'state-bounds', 'input-rate'])
def test_compiled_and_nlpsol_give_the_same_solution(base, bounds):
    changes = {'bounds': bounds} if bounds else {}
    # converged: the same optimum along a closed loop (cold start, then warm starts)
    ours = controller(base, 'sqp', compiled=True, **changes)
    theirs = controller(base, 'sqp', compiled=False, **changes)
    x = np.zeros(3)
    for _ in range(4):
        a, b = ours.step(x), theirs.step(x)
        assert a.success and b.success, (a.message, b.message)
        assert_same(a, b, SAME_ATOL)
        x = a.x_pred[1]
    # one real-time iteration: the same QP from the same linearization point (the two keep
    # different warm starts between steps, so each step starts cold here)
    ours = controller(base, 'sqp_rti', compiled=True, **changes)
    theirs = controller(base, 'sqp_rti', compiled=False, **changes)
    for x in ([0.0, 0.0, 0.0], [0.3, -0.02, 0.4], [-0.04, 0.1, -1.0]):
        ours.solver.reset()
        theirs.solver.reset()
        a, b = ours.step(np.array(x)), theirs.step(np.array(x))
        assert a.success and b.success, (a.message, b.message)
        assert_same(a, b, SAME_RTI_ATOL)


def assert_same(a, b, atol):
    np.testing.assert_allclose(a.u_pred, b.u_pred, atol=atol)
    np.testing.assert_allclose(a.x_pred, b.x_pred, atol=atol)
    assert a.cost == pytest.approx(b.cost, rel=10 * atol)
    for term in ('goal_tracking', 'effort', 'task', 'energy'):
        assert a.cost_terms[term] == pytest.approx(b.cost_terms[term], rel=10 * atol, abs=atol)


def test_compiled_terminal_constraint_matches_ipopt():
    changes = {'horizon': 15, 'goal': [1.2, 0.0, 0.0], 'terminal_constraint': True}
    ours = controller(name='sqp', compiled=True, **changes).step(np.zeros(3))
    reference = controller(name='ipopt', **changes).step(np.zeros(3))
    assert ours.success and reference.success
    np.testing.assert_allclose(ours.x_pred[-1], [1.2, 0.0, 0.0], atol=1e-8)
    np.testing.assert_allclose(ours.u_pred, reference.u_pred, atol=OPTIMUM_ATOL)
    assert ours.cost == pytest.approx(reference.cost, rel=1e-6)


def test_cache_hit_does_not_rebuild():
    first = controller(name='sqp_rti', compiled=True)
    builds = Counter.builds
    again = controller(name='sqp_rti', compiled=True)
    # the converged mode and other limits share the library: RTI is a run-time setting
    other = controller(name='sqp', compiled=True, limits={'max_iter': 7, 'tol': 1e-4})
    assert Counter.builds == builds
    assert not again.solver.built and not other.solver.built
    x = np.zeros(3)
    np.testing.assert_allclose(first.step(x).u_pred, again.step(x).u_pred, atol=1e-12)


def test_weight_goal_and_bound_changes_do_not_rebuild():
    ctrl = controller(name='sqp', compiled=True)
    x = np.zeros(3)
    first = ctrl.step(x)
    builds, constructions = Counter.builds, Builds.count
    ctrl.update({'costs.effort.weight': [5.0, 5.0]})
    heavier = ctrl.step(x)
    ctrl.update({'bounds.u_max': [0.2, 2.0], 'solver.time_limit': 1.0})
    bounded = ctrl.step(x)
    ctrl.update({'goal': [-1.0, 0.0, 0.0]})
    ctrl.solver.reset()
    reversed_ = ctrl.step(x)
    ctrl.update({'terminal_constraint': True, 'terminal_tolerance': 1e-3})
    terminal = ctrl.step(x)
    assert (Counter.builds, Builds.count) == (builds, constructions)
    for result in (heavier, bounded, reversed_, terminal):
        assert result.success, result.message
    assert np.sum(heavier.u_pred ** 2) < np.sum(first.u_pred ** 2)
    assert bounded.u_pred[:, 0].max() <= 0.2 + 1e-9
    assert reversed_.u_pred[0, 0] < 0
    assert np.all(np.abs(terminal.x_pred[-1] - [-1.0, 0.0, 0.0]) <= 1e-3 + 1e-9)


def test_prepared_rti_step_equals_unprepared():
    """Preparing the linearization ahead of the state changes when work is done, not what."""
    plain = controller(name='sqp_rti', compiled=True)
    prepared = controller(name='sqp_rti', compiled=True)
    plant = rk4_step(plain.model, plain.cfg.dt)
    x = np.zeros(3)
    for _ in range(5):
        a, b = plain.step(x), prepared.step(x)
        np.testing.assert_allclose(a.u_pred, b.u_pred, atol=1e-12)
        prepared.solver.prepare()
        x = np.asarray(plant(x, a.u0, plain.tuning.model_p), float).ravel()
    # a goal change after preparing: the stale linearization is detected and redone
    prepared.solver.prepare()
    for ctrl in (plain, prepared):
        ctrl.set_goal([0.5, -0.5, 0.0])
    np.testing.assert_allclose(plain.step(x).u_pred, prepared.step(x).u_pred, atol=1e-12)


def test_compiled_solver_reports_failure_without_raising():
    ctrl = controller(name='sqp', compiled=True)
    # the initial state violates a state bound that the first predicted state cannot meet
    ctrl.update({'bounds.x_min': [-0.01, -0.01, -np.inf], 'bounds.x_max': [0.01, 0.01, np.inf]})
    result = ctrl.step(np.array([0.5, 0.5, 0.0]))
    assert not result.success and result.u0 is None
    assert result.status in ('infeasible', 'max_iter', 'error', 'timeout')
    ctrl.update({'bounds.x_min': [-np.inf] * 3, 'bounds.x_max': [np.inf] * 3})
    recovered = ctrl.step(np.zeros(3))
    assert recovered.success, recovered.message


def test_compiled_controllers_of_one_structure_keep_separate_state():
    """Two controllers of one structure share the library, not the workspace."""
    a = controller(name='sqp', compiled=True)
    b = controller(name='sqp', compiled=True, goal=[-1.0, 0.0, 0.0])
    for _ in range(2):
        ra, rb = a.step(np.zeros(3)), b.step(np.zeros(3))
        assert ra.success and rb.success
        assert ra.u_pred[0, 0] > 0 > rb.u_pred[0, 0]
