"""Advanced-step RTI (compiled sqp_rti with Solver.prepare): the prepare solves the QP for the
predicted state and the feedback corrects that solution for the actual one. Preparing must
change when the work is done, not the result: the closed loop is the one of plain RTI, with a
perfect model, a wrong model or a noisy state, and changes of bounds, goal or weights between
the prepare and the solve are honoured.

Plain and prepared RTI solve the same QPs, each to the QP tolerance. Their stopping test bounds
the mean complementarity, so two solutions of one QP may differ by far more than that tolerance
where a bound is weakly active; the comparisons with a plant that differs from the model
therefore run both controllers with a tight QP tolerance, which measures the algorithm rather
than the tolerance.
"""
import importlib.util
from pathlib import Path

import numpy as np
import pytest

from casadi_mpc.core.controller import MPCController
from casadi_mpc.core.integrators import rk4_step


def _standard():
    """The benchmarks' standard problems (bench/standard.py), the ones acados is compared on."""
    path = Path(__file__).resolve().parents[2] / 'bench' / 'standard.py'
    spec = importlib.util.spec_from_file_location('bench_standard', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


standard = _standard()
UNICYCLE, ARM2, PROBLEMS = standard.UNICYCLE, standard.ARM2, standard.PROBLEMS

# plants that differ from the model: the arm's first link heavier, the unicycle slower than
# commanded
MISMATCH = {'unicycle': ({}, [0.85, 1.0]), 'arm2': ({'mass1': 1.15}, [1.0, 1.0])}
NOISE = 1e-3          # state measurement noise (standard deviation)
TIGHT_QP_TOL = 1e-12
SAME_ATOL = 1e-8      # closed loops of plain and prepared RTI
BOUND_ATOL = 1e-8


def controller(cfg, **solver):
    cfg = dict(cfg, solver=dict({'name': 'sqp_rti', 'compiled': True, 'max_iter': 200,
                                 'tol': 1e-8, 'time_limit': 10.0}, **solver))
    return MPCController(cfg)


def tighten(ctrl, qp_tol):
    s = ctrl.solver
    s.kernel.settings(s.max_iter, s.tol, s.tol, s.time_limit, rti=1, shift=0, qp_tol=qp_tol)


def plant_of(problem, ctrl, plant):
    """(step function, parameters, input gain) of the simulated plant."""
    p = np.array(ctrl.tuning.model_p, float)
    gain = np.ones(ctrl.model.nu)
    if plant in ('mismatch', 'both'):
        scale, gain = MISMATCH[problem]
        for name, factor in scale.items():
            p[ctrl.model.param_names.index(name)] *= factor
        gain = np.asarray(gain, float)
    return rk4_step(ctrl.model, ctrl.cfg.dt), p, gain


def closed_loop(problem, prepare, plant='model', qp_tol=None):
    """States, results and feedback statistics of one closed loop."""
    cfg, steps = PROBLEMS[problem]
    ctrl = controller(cfg)
    if qp_tol:
        tighten(ctrl, qp_tol)
    step, p, gain = plant_of(problem, ctrl, plant)
    noise = NOISE if plant in ('noise', 'both') else 0.0
    rng = np.random.default_rng(3)
    x = np.zeros(ctrl.model.nx)
    xs, results, stats = [], [], []
    kernel, nw = ctrl.solver.kernel, ctrl.ocp.nw
    for _ in range(steps):
        result = ctrl.step(x + noise * rng.standard_normal(x.size))
        assert result.success, result.message
        stats.append(dict(kernel.prep_stats(), qp_iter=int(kernel.out[nw + 5])))
        results.append(result)
        x = np.asarray(step(x, result.u0 * gain, p), float).ravel()
        xs.append(x)
        if prepare:
            ctrl.solver.prepare()
            stats[-1]['next_prep_qp_iter'] = kernel.prep_stats()['prep_qp_iter']
    return np.array(xs), results, stats, ctrl


def assert_within_bounds(ctrl, results):
    t = ctrl.tuning
    for r in results:
        assert np.all(r.u_pred >= t.u_lb - BOUND_ATOL) and np.all(r.u_pred <= t.u_ub + BOUND_ATOL)
        assert np.all(r.x_pred >= t.x_lb - BOUND_ATOL) and np.all(r.x_pred <= t.x_ub + BOUND_ATOL)


@pytest.mark.parametrize('problem', list(PROBLEMS))
def test_prepared_rti_is_plain_rti_with_the_model_as_plant(problem):
    plain, res_plain, _, _ = closed_loop(problem, prepare=False)
    prepared, res_prep, stats, ctrl = closed_loop(problem, prepare=True)
    np.testing.assert_allclose(prepared, plain, rtol=0, atol=SAME_ATOL)
    for a, b in zip(res_plain, res_prep):
        np.testing.assert_allclose(b.u_pred, a.u_pred, rtol=0, atol=SAME_ATOL)
        assert b.cost == pytest.approx(a.cost, rel=1e-8, abs=1e-10)
        for term in ('goal_tracking', 'effort', 'terminal'):
            assert b.cost_terms[term] == pytest.approx(a.cost_terms[term], rel=1e-8, abs=1e-10)
    assert_within_bounds(ctrl, res_prep)
    # the state is the predicted one: the prepared solution is the answer, the feedback solves
    # nothing; the QP iterations are the prepare's, reported apart from the feedback's
    assert stats[0]['path'] == 'solve' and stats[0]['qp_iter'] > 0
    assert all(s['path'] == 'prepared' and s['qp_iter'] == 0 for s in stats[1:])
    assert all(s['next_prep_qp_iter'] > 0 for s in stats)


@pytest.mark.parametrize('plant', ['mismatch', 'noise', 'both'])
@pytest.mark.parametrize('problem', list(PROBLEMS))
def test_prepared_rti_is_plain_rti_when_the_state_is_not_the_predicted_one(problem, plant):
    plain, _, _, _ = closed_loop(problem, False, plant, TIGHT_QP_TOL)
    prepared, results, stats, ctrl = closed_loop(problem, True, plant, TIGHT_QP_TOL)
    np.testing.assert_allclose(prepared, plain, rtol=0, atol=SAME_ATOL)
    assert_within_bounds(ctrl, results)
    paths = [s['path'] for s in stats[1:]]
    # every feedback corrects the prepared solution; active-set changes need IP iterations
    assert 'prepared' not in paths and 'solve' not in paths
    assert 'predictor' in paths and 'continued' in paths
    for s in stats[1:]:
        assert s['dx0'] > 0.0
        if s['path'] == 'predictor':
            assert s['qp_iter'] == 1     # the correction step alone
        else:
            assert s['qp_iter'] > 1


@pytest.mark.parametrize('problem', list(PROBLEMS))
def test_prepared_rti_with_the_default_qp_tolerance_under_mismatch(problem):
    """At the default QP tolerance the two loops differ within what that tolerance allows,
    and the prepared loop ends where the plain one does."""
    plain, _, _, _ = closed_loop(problem, False, 'both')
    prepared, results, stats, ctrl = closed_loop(problem, True, 'both')
    np.testing.assert_allclose(prepared, plain, rtol=0, atol=1e-4)
    goal = PROBLEMS[problem][0]['goal']
    assert np.linalg.norm(prepared[-1] - goal) == pytest.approx(
        np.linalg.norm(plain[-1] - goal), abs=1e-5)
    assert_within_bounds(ctrl, results)
    assert all(s['path'] in ('predictor', 'continued') for s in stats[1:])


def lockstep(changes, steps=6):
    """Plain and prepared unicycle RTI for a few steps, then ``changes`` applied to both after
    the prepare; returns both results of the step after it and the prepared one's path."""
    plain, prepared = controller(UNICYCLE), controller(UNICYCLE)
    step = rk4_step(plain.model, plain.cfg.dt)
    x = np.zeros(3)
    for _ in range(steps):
        a, b = plain.step(x), prepared.step(x)
        np.testing.assert_allclose(b.u_pred, a.u_pred, rtol=0, atol=SAME_ATOL)
        x = np.asarray(step(x, a.u0, plain.tuning.model_p), float).ravel()
        prepared.solver.prepare()
    for ctrl in (plain, prepared):
        changes(ctrl)
    x = x + np.array([0.01, -0.02, 0.03])    # not the predicted state either
    a, b = plain.step(x), prepared.step(x)
    assert a.success and b.success, (a.message, b.message)
    return a, b, prepared.solver.kernel.prep_stats()['path']


def test_a_bound_change_between_prepare_and_solve_is_honoured():
    # the first steps drive at full speed: an input bound that cuts into the prepared solution
    a, b, path = lockstep(lambda c: c.update({'bounds.u_max': [0.3, 2.0]}))
    assert path == 'solve'
    assert b.u_pred[:, 0].max() <= 0.3 + BOUND_ATOL
    assert a.u_pred[:, 0].max() > 0.3 - 1e-3     # the new bound is active
    np.testing.assert_allclose(b.u_pred, a.u_pred, rtol=0, atol=1e-12)
    # a state bound ahead of the robot (it is at x = 0.47)
    a, b, path = lockstep(lambda c: c.update({'bounds.x_max': [0.9, np.inf, np.inf]}))
    assert path == 'solve'
    assert b.x_pred[1:, 0].max() <= 0.9 + BOUND_ATOL
    assert a.x_pred[1:, 0].max() > 0.9 - 1e-3    # active
    np.testing.assert_allclose(b.u_pred, a.u_pred, rtol=0, atol=1e-12)


def test_goal_and_weight_changes_between_prepare_and_solve_are_honoured():
    a, b, path = lockstep(lambda c: c.set_goal([-1.0, 0.5, 0.0]))
    assert path == 'solve'
    assert b.u_pred[0, 0] < 0.0      # heading back
    np.testing.assert_allclose(b.u_pred, a.u_pred, rtol=0, atol=1e-12)
    # a weight 50 times the last one: the last QP's multipliers are a poor warm start here
    # (the warm-started interior point cycles; the solve then restarts cold)
    _, before, _ = lockstep(lambda c: None)
    a, b, path = lockstep(lambda c: c.update({'costs.effort.weight': [5.0, 5.0]}))
    assert path == 'solve'
    np.testing.assert_allclose(b.u_pred, a.u_pred, rtol=0, atol=1e-12)
    assert b.cost_terms['effort'] == pytest.approx(a.cost_terms['effort'], rel=1e-12)
    assert np.sum(b.u_pred ** 2) < np.sum(before.u_pred ** 2)


def test_unchanged_bounds_and_parameters_keep_the_advanced_step():
    """The same bounds passed again (new arrays, same values) do not count as a change."""
    _, b, path = lockstep(lambda c: c.update({'bounds.u_max': [1.0, 2.0]}))
    assert path in ('predictor', 'continued')
    assert b.success


def test_advanced_step_off_prepares_only_the_linearization_and_can_be_switched_live():
    """solver.advanced_step false: prepare linearizes, the feedback solves the QP (the same
    solution); a parameter update switches it either way without a rebuild."""
    from casadi_mpc.core.solvers import Builds
    on, off = controller(UNICYCLE), controller(UNICYCLE, advanced_step=False)
    step = rk4_step(on.model, on.cfg.dt)
    x = np.zeros(3)
    builds = Builds.count
    for k in range(12):
        if k == 8:
            off.update({'solver.advanced_step': True})
            on.update({'solver.advanced_step': False})
        a, b = on.step(x), off.step(x)
        np.testing.assert_allclose(b.u_pred, a.u_pred, rtol=0, atol=SAME_ATOL)
        paths = [c.solver.kernel.prep_stats()['path'] for c in (on, off)]
        if 0 < k < 8:
            assert paths == ['prepared', 'solve']
        elif k > 8:
            assert paths == ['solve', 'prepared']
        x = np.asarray(step(x, a.u0, on.tuning.model_p), float).ravel()
        on.solver.prepare()
        off.solver.prepare()
    assert Builds.count == builds
