"""Backends agree on the optimum, respect hard bounds, and tuning never rebuilds them."""
import casadi as ca
import numpy as np
import pytest

from casadi_mpc.core.controller import MPCController
from casadi_mpc.core.solvers import builds

from .problems import config, solver

X0 = np.array([0.0, 0.0, 0.0])
CONVERGED = ['ipopt', 'fatrop', 'sqp']


def solve_once(name, **changes):
    controller = MPCController(config(solver=solver(name), **changes))
    return controller, controller.step(X0)


@pytest.fixture(scope='module')
def reference():
    return solve_once('ipopt')[1]


@pytest.mark.parametrize('name', CONVERGED)
def test_converged_backends_find_the_same_optimum(name, reference):
    _, result = solve_once(name)
    assert result.success, result.message
    # stated tolerance: 1e-5 relative on the cost, 1e-4 on inputs and states
    assert result.cost == pytest.approx(reference.cost, rel=1e-5)
    np.testing.assert_allclose(result.u_pred, reference.u_pred, atol=1e-4)
    np.testing.assert_allclose(result.x_pred, reference.x_pred, atol=1e-4)


@pytest.mark.parametrize('name', CONVERGED + ['sqp_rti'])
def test_trajectories_respect_hard_bounds(name):
    tight = {'u_min': [-0.3, -0.5], 'u_max': [0.4, 0.5],
             'x_min': [-0.05, -0.05, -np.inf], 'x_max': [np.inf, 0.2, np.inf]}
    controller = MPCController(config(solver=solver(name), bounds=tight))
    x = X0
    for _ in range(5):
        result = controller.step(x)
        assert result.success, result.message
        us, xs = result.u_pred, result.x_pred[1:]
        assert np.all(us >= np.array(tight['u_min']) - 1e-6)
        assert np.all(us <= np.array(tight['u_max']) + 1e-6)
        assert np.all(xs >= np.array(tight['x_min']) - 1e-5)
        assert np.all(xs <= np.array(tight['x_max']) + 1e-5)
        x = result.x_pred[1]
    assert np.any(result.u_pred[:, 0] > 0.4 - 1e-3)   # the speed bound is active


def test_terminal_constraint_is_switched_by_bounds_only():
    controller = MPCController(config(solver=solver('ipopt'), horizon=15,
                                      goal=[1.2, 0.0, 0.0]))
    free = controller.step(X0)
    before = builds()
    controller.update({'terminal_constraint': True})
    controller.solver.reset()
    fixed = controller.step(X0)
    assert builds() == before
    assert fixed.success
    np.testing.assert_allclose(fixed.x_pred[-1], [1.2, 0.0, 0.0], atol=1e-6)
    assert np.linalg.norm(free.x_pred[-1] - [1.2, 0, 0]) > 1e-2


def test_weights_goals_and_bounds_change_without_rebuild():
    controller, first = solve_once('sqp')
    before, solver = builds(), controller.solver
    controller.update({'costs.effort.weight': [5.0, 5.0]})
    heavier = controller.step(X0)
    controller.update({'bounds.u_max': [0.2, 2.0]})
    bounded = controller.step(X0)
    controller.set_goal([-1.0, 0.0, 0.0])
    reversed_ = controller.step(X0)
    controller.update({'costs.effort.enabled': False})
    np.testing.assert_allclose(controller.goal, [-1.0, 0.0, 0.0])   # tuning keeps the goal
    free = controller.step(X0)
    assert builds() == before and controller.solver is solver
    assert heavier.cost_terms['energy'] != pytest.approx(first.cost_terms['energy'])
    assert np.sum(heavier.u_pred ** 2) < np.sum(first.u_pred ** 2)
    assert bounded.u_pred[:, 0].max() <= 0.2 + 1e-6
    assert reversed_.u_pred[0, 0] < 0
    assert free.cost_terms['effort'] == 0.0


def test_structural_change_is_refused_and_nothing_applied():
    controller, _ = solve_once('sqp')
    with pytest.raises(ValueError, match='horizon.*read-only'):
        controller.update({'horizon': 30, 'costs.effort.weight': [9.0, 9.0]})
    with pytest.raises(ValueError, match='solver.name'):
        controller.update({'solver.name': 'ipopt'})
    assert controller.cfg.costs['effort'].weight == [0.1, 0.1]


def test_weight_sensitivity_matches_finite_difference_of_resolves():
    """Nudge a weight: the optimal cost moves by dJ*/dw (envelope theorem) times the nudge."""
    controller, result = solve_once('ipopt')
    ocp = controller.ocp
    block = ocp.blocks['w_effort']
    p = controller.params(X0)
    w_opt = controller.solver.w
    grad = ca.Function('g', [ocp.w, ocp.p], [ca.jacobian(ocp.f, ocp.p)])
    analytic = np.asarray(grad(w_opt, p), float).ravel()[block.slice]
    assert np.all(analytic > 0)   # more effort weight can only cost more

    def optimal_cost(weight):
        return solve_once('ipopt', costs__effort__weight=weight)[1].cost
    h = 1e-4
    base = [0.1, 0.1]
    for i in range(2):
        up, down = list(base), list(base)
        up[i] += h
        down[i] -= h
        numeric = (optimal_cost(up) - optimal_cost(down)) / (2 * h)
        assert numeric == pytest.approx(analytic[i], rel=2e-3, abs=1e-6)


def test_each_step_solves_the_current_problem_after_every_kind_of_change():
    """Steps reuse the packed parameters and bounds until something changes: after each change
    they must equal a fresh packing."""
    controller = MPCController(config(solver=solver('sqp'), costs__reference_tracking={}))
    x = np.array([0.1, -0.2, 0.3])
    ocp = controller.ocp

    def check():
        p, bounds = controller._problem(x)
        np.testing.assert_array_equal(p, controller.params(x))
        for got, fresh in zip(bounds, controller.bounds()):
            np.testing.assert_array_equal(got, fresh)
        return p
    check()
    controller.step(x)
    p = check()
    np.testing.assert_array_equal(p[ocp.blocks['u_prev'].slice], controller.u_last)
    controller.set_goal([1.0, 2.0, 0.5])
    np.testing.assert_array_equal(check()[ocp.blocks['goal'].slice], [1.0, 2.0, 0.5])
    controller.update({'costs.effort.weight': [3.0, 4.0], 'bounds.u_max': [0.3, 1.0]})
    np.testing.assert_array_equal(check()[ocp.blocks['w_effort'].slice], [3.0, 4.0])
    ref = np.tile([0.5, 0.5, 0.0], (ocp.N + 1, 1))
    controller.set_reference(ref)
    np.testing.assert_array_equal(check()[ocp.blocks['ref'].slice], ref.ravel())
    controller.applied([0.2, -0.1])
    np.testing.assert_array_equal(check()[ocp.blocks['u_prev'].slice], [0.2, -0.1])


def test_backends_are_registered_classes_with_their_own_options():
    from casadi_mpc.core.config import SolverConfig
    from casadi_mpc.core.solvers import BACKENDS, COMPILABLE, REGISTRY, select
    assert set(BACKENDS) == {'ipopt', 'fatrop', 'sqp', 'sqp_rti'}
    assert set(COMPILABLE) == {'sqp', 'sqp_rti'}
    assert select('sqp_rti', compiled=True) is REGISTRY['kernel']
    assert select('ipopt') is REGISTRY['ipopt']
    with pytest.raises(ValueError, match='compiled mode is available for sqp, sqp_rti'):
        select('ipopt', compiled=True)
    defaults = SolverConfig()
    for name, cls in REGISTRY.items():   # each backend's options are solver.<name>.*
        assert isinstance(getattr(defaults, name), cls.Options)
    assert defaults.kernel.advanced_step and defaults.ipopt.mu_init == 1e-3


def test_backend_options_are_validated_and_structural_ones_refused_at_run_time():
    controller, _ = solve_once('ipopt')
    with pytest.raises(ValueError, match='solver.kernel.qp_tol'):
        controller.update({'solver.kernel.qp_tol': -1.0})
    with pytest.raises(ValueError, match='solver.ipopt.mu_init.*read-only'):
        controller.update({'solver.ipopt.mu_init': 0.1})
    controller.update({'solver.kernel.advanced_step': False})   # run-time: accepted
    assert not controller.cfg.solver.kernel.advanced_step


def test_keyword_construction_still_builds_a_backend():
    from casadi_mpc.core.solvers import REGISTRY, Solver
    controller, reference = solve_once('ipopt')
    backend = Solver(controller.ocp, 'ipopt', max_iter=100, tol=1e-9, time_limit=10.0)
    assert type(backend) is REGISTRY['ipopt']
    result = backend.solve(controller.params(X0), controller.bounds())
    assert result.success
    np.testing.assert_allclose(result.u_pred, reference.u_pred, atol=1e-6)
