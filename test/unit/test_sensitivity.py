"""Sensitivities of one solve (core/sensitivity.py) against central finite differences of
re-solves, on every backend and model, with active bounds.

Stated tolerance: every derivative d (dV*/dp, du0*/dp) satisfies |d - d_fd| <= 1e-4 (1 + |d_fd|),
with d_fd = (s(p + h) - s(p - h)) / 2h, h = 1e-5 max(1, |p_j|), each re-solve cold and converged
to 1e-10. The active set does not change within +-h in these problems (checked).
"""
import copy

import numpy as np
import pytest

from casadi_mpc.core.controller import MPCController
from casadi_mpc.core.integrators import rk4_step_jacobian, rk4_step_second_order
from casadi_mpc.core.models import build_model
from casadi_mpc.core.sensitivity import parameter_labels

from .problems import config, solver

RTOL = 1e-4
X0 = np.array([0.0, 0.0, 0.0])
U_PREV = np.array([0.3, -0.2])
DOUBLE_INTEGRATOR = {
    'model': {'name': 'double_integrator', 'dim': 2}, 'horizon': 15, 'dt': 0.1,
    'goal': [1.5, -1.0, 0.0, 0.0],
    'costs': {'goal_tracking': {'weight': [2.0, 2.0, 0.2, 0.2]},
              'terminal': {'weight': [20.0, 20.0, 5.0, 5.0]},
              'effort': {'weight': [0.05, 0.05]}, 'input_rate': {'weight': [0.01, 0.02]},
              'obstacles': {'weight': [200.0]}},
    'obstacles': {'max_count': 2, 'x': [0.75], 'y': [-0.45], 'radius': [0.2]},
    'bounds': {'u_min': [-1.0, -1.0], 'u_max': [1.0, 1.0], 'x_min': [-10, -10, -0.55, -0.55],
               'x_max': [10, 10, 0.55, 0.55]},
}
PLANAR_ARM = {
    'model': {'name': 'planar_arm', 'links': 2}, 'horizon': 15, 'dt': 0.03,
    'goal': [1.2, 0.3, 0.0, 0.0],
    'costs': {'goal_tracking': {'weight': [10.0, 10.0, 0.1, 0.1]},
              'terminal': {'weight': [100.0, 100.0, 1.0, 1.0]},
              'effort_above_holding': {'weight': [0.001, 0.002]}, 'power': {'weight': [0.01]}},
    'bounds': {'u_min': [-15.0, -15.0], 'u_max': [15.0, 15.0]},
}
URDF_ARM = {
    'model': {'name': 'urdf_arm', 'urdf_file': 'two_link_arm.urdf'}, 'horizon': 12, 'dt': 0.03,
    'costs': {'goal_tracking': {'weight': [10.0, 10.0, 0.1, 0.1]},
              'terminal': {'weight': [100.0, 100.0, 1.0, 1.0]},
              'effort': {'weight': [0.001, 0.001]}},
    'bounds': {'u_min': [-5.0, -5.0], 'u_max': [5.0, 5.0]},
}


def controller(cfg, name='sqp', compiled=False):
    cfg = copy.deepcopy(cfg)
    cfg['solver'] = dict(solver(name, tol=1e-10), compiled=compiled)
    return MPCController(cfg)


def solved(ctrl, x0, u_prev, rti_steps=0):
    """Solve at (x0, u_prev); returns (p, bounds, w)."""
    ctrl.u_last = np.asarray(u_prev, float)
    ctrl.set_goal(ctrl.goal)
    p, bounds = ctrl._problem(np.asarray(x0, float))
    for _ in range(max(1, rti_steps)):
        result = ctrl.solver.solve(p, bounds)
        assert result.success, result.message
    return p, bounds, ctrl.solver.w.copy()


def resolve(ctrl, p, bounds):
    ctrl.solver.reset()
    result = ctrl.solver.solve(p, bounds)
    assert result.success, result.message
    return result.cost, result.u0


def check_against_fd(ctrl, p, bounds, sens, prefixes=('costs.', 'x0[', 'u_prev[', 'goal[')):
    """Every derivative along the columns with these label prefixes vs central differences."""
    checked = 0
    for k, (j, label) in enumerate(zip(sens.index, sens.labels)):
        if not label.startswith(prefixes):
            continue
        h = 1e-5 * max(1.0, abs(p[j]))
        e = np.zeros_like(p)
        e[j] = h
        vp, up = resolve(ctrl, p + e, bounds)
        vm, um = resolve(ctrl, p - e, bounds)
        fd_v, fd_u = (vp - vm) / (2 * h), (up - um) / (2 * h)
        assert abs(sens.dV[k] - fd_v) <= RTOL * (1 + abs(fd_v)), (label, sens.dV[k], fd_v)
        np.testing.assert_allclose(sens.du0[:, k], fd_u, rtol=RTOL, atol=RTOL, err_msg=label)
        checked += 1
    assert checked >= 8


@pytest.mark.parametrize('name,compiled', [('ipopt', False), ('fatrop', False), ('sqp', False),
                                           ('sqp', True)])
def test_every_converged_backend_matches_finite_differences(name, compiled):
    ctrl = controller(config(), name, compiled)
    p, bounds, w = solved(ctrl, X0, U_PREV)
    sens = ctrl.differentiator.compute(w, p, bounds)
    assert sens.ok, sens.message
    assert any(a.startswith('u[') for a in sens.active)   # the speed bound is active
    assert ctrl.differentiator.compiled == compiled
    check_against_fd(ctrl, p, bounds, sens)


def test_rti_iterated_at_one_state_gives_the_converged_sensitivities():
    """sqp_rti does one SQP step per control step; iterated at a fixed state it settles on the
    converged solution, and so do its sensitivities (what tuning differentiates)."""
    rti = controller(config(), 'sqp_rti')
    p, bounds, w = solved(rti, X0, U_PREV, rti_steps=40)
    ref = controller(config(), 'sqp')
    _, _, w_ref = solved(ref, X0, U_PREV)
    a = rti.differentiator.compute(w, p, bounds)
    b = ref.differentiator.compute(w_ref, p, bounds)
    assert a.kkt_residual < 1e-8
    np.testing.assert_allclose(a.du0, b.du0, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(a.dV, b.dV, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize('cfg,x0,u_prev', [
    (DOUBLE_INTEGRATOR, [0.0, 0.0, 0.42, 0.0], [0.1, -0.1]),
    (PLANAR_ARM, [0.0, 0.0, 0.0, 0.0], [1.0, 0.5]),
    (URDF_ARM, [0.3, -0.2, 0.0, 0.0], [0.2, 0.1]),
], ids=['double_integrator', 'planar_arm', 'urdf_arm'])
def test_every_model_matches_finite_differences_with_active_bounds(cfg, x0, u_prev):
    ctrl = controller(cfg)
    if cfg is URDF_ARM:
        ctrl.set_goal([1.0, 0.5, 0.0, 0.0])
    p, bounds, w = solved(ctrl, x0, u_prev)
    sens = ctrl.differentiator.compute(w, p, bounds)
    assert sens.ok, sens.message
    assert sens.active, 'the problem should have active bounds'
    check_against_fd(ctrl, p, bounds, sens)


def test_the_margin_tells_when_the_active_set_changes():
    """Within the reported margin the active set stays; well beyond it, it changes."""
    ctrl = controller(config())
    p, bounds, w = solved(ctrl, X0, U_PREV)
    sens = ctrl.differentiator.compute(w, p, bounds)
    weights = sens.columns('costs.')
    up = sens.margin[1, weights]
    k = weights[int(np.argmin(np.where(np.isfinite(up), up, np.inf)))]
    j, margin = sens.index[k], sens.margin[1, k]
    assert np.isfinite(margin) and margin > 0

    def active(dp):
        q = p.copy()
        q[j] += dp
        ctrl.solver.reset()
        ctrl.solver.solve(q, bounds)
        return ctrl.differentiator.compute(ctrl.solver.w, q, bounds).active
    assert active(0.3 * margin) == sens.active
    assert active(3.0 * margin) != sens.active


def test_cost_derivative_with_respect_to_a_bound():
    ctrl = controller(config())
    p, bounds, w = solved(ctrl, X0, U_PREV)
    sens = ctrl.differentiator.compute(w, p, bounds)
    lbw, ubw, lbg, ubg = bounds
    h = 1e-5
    vs = []
    for sign in (1, -1):
        ub = ubw.copy()
        ub[ctrl.ocp.u_index[:, 0]] += sign * h
        vs.append(resolve(ctrl, p, (lbw, ub, lbg, ubg))[0])
    fd = (vs[0] - vs[1]) / (2 * h)
    assert fd < 0   # a looser speed limit lowers the optimal cost
    assert sens.dV_bounds['bounds.u_max[0]'] == pytest.approx(fd, rel=1e-4)
    assert sens.dV_bounds['bounds.u_min[0]'] == 0.0


def test_adjoint_du0_equals_the_full_tangent():
    ctrl = controller(PLANAR_ARM)
    p, bounds, w = solved(ctrl, [0.0, 0.0, 0.0, 0.0], [1.0, 0.5])
    full = ctrl.differentiator.compute(w, p, bounds)
    fast = ctrl.differentiator.compute(w, p, bounds, columns=full.index, full=False)
    np.testing.assert_allclose(fast.du0, full.du0, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(fast.dV, full.dV, rtol=1e-12)
    assert fast.dw is None and fast.margin is None


def test_labels_follow_the_parameter_layout():
    ctrl = controller(PLANAR_ARM)
    labels = parameter_labels(ctrl.ocp)
    for label in ('costs.effort_above_holding.weight[1]', 'goal[2]', 'x0[0]', 'u_prev[1]',
                  'model.params.mass2'):
        assert label in labels
    p, bounds, w = solved(ctrl, [0.0, 0.0, 0.0, 0.0], [0.0, 0.0])
    model = ctrl.ocp.blocks['model'].start
    assert model not in ctrl.differentiator.directions
    with pytest.raises(ValueError, match='dynamics depend'):
        ctrl.differentiator.compute(w, p, bounds, columns=[model])


def test_no_derivative_is_a_status_not_an_exception():
    ctrl = controller(config())
    p, bounds, w = solved(ctrl, X0, U_PREV)
    flat = p.copy()
    for name, block in ctrl.ocp.blocks.items():
        if name.startswith('w_'):
            flat[block.slice] = 0.0     # nothing decides the inputs: singular
    sens = ctrl.differentiator.compute(w, flat, bounds)
    assert sens.status == 'singular' and 'singular' in sens.message
    w_bad = w.copy()
    w_bad[3] = np.nan
    assert ctrl.differentiator.compute(w_bad, p, bounds).status == 'not_finite'


@pytest.mark.parametrize('name,options', [('planar_arm', {'links': 3}), ('diff_drive', {})])
def test_chained_step_curvature_equals_the_expanded_one(name, options):
    model = build_model(name, **options)
    rng = np.random.default_rng(3)
    args = [rng.uniform(-1, 1, model.nx), rng.uniform(-1, 1, model.nu), model.param_vector(),
            rng.uniform(-1, 1, model.nx)]
    a = [np.asarray(v) for v in rk4_step_second_order(model, 0.05, 2, chain=False)(*args)]
    b = [np.asarray(v) for v in rk4_step_second_order(model, 0.05, 2, chain=True)(*args)]
    jac = rk4_step_jacobian(model, 0.05, 2)(*args[:3])
    for x, y in zip(a, b):
        np.testing.assert_allclose(x, y, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(a[0], np.asarray(jac[1]), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(a[1], np.asarray(jac[2]), rtol=1e-10, atol=1e-12)


def test_sensitivity_message_labels_every_weight_entry():
    from builtin_interfaces.msg import Time
    from rclpy.serialization import deserialize_message

    from casadi_mpc.ros import diagnostics
    ctrl = controller(config())
    ctrl.set_goal(ctrl.goal)
    result = ctrl.step(X0)
    sens = ctrl.sensitivity(ctrl.differentiator.columns(('costs.', 'x0[')))
    raw = diagnostics.sensitivity_bytes(Time(sec=3), 'mpc: sensitivity', 'diff_drive', sens,
                                        result.cost)
    (level, message, values), = diagnostics.statuses_of(
        deserialize_message(raw, diagnostics.DiagnosticArray)).values()
    assert level == 0 and values['status'] == 'ok'
    k = sens.labels.index('costs.effort.weight[1]')
    assert float(values['dV/d costs.effort.weight[1]']) == pytest.approx(sens.dV[k], rel=1e-5)
    assert len(values['du0/d costs.terminal.weight[2]'].split()) == 2
    assert [len(r.split()) for r in values['du0/dx0'].split(';')] == [3, 3]
    ctrl.step(np.array([np.nan, 0.0, 0.0]))      # a failed solve: no derivative, a WARN
    raw = diagnostics.sensitivity_bytes(Time(sec=4), 'mpc: sensitivity', 'diff_drive',
                                        ctrl.sensitivity(), float('nan'))
    (level, message, values), = diagnostics.statuses_of(
        deserialize_message(raw, diagnostics.DiagnosticArray)).values()
    assert level == 1 and 'failed' in message
