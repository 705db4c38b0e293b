"""Cost terms: values, gradients against finite differences, Gauss-Newton curvature."""
import casadi as ca
import numpy as np
import pytest

from casadi_mpc.core.costs import TERMS, make_term
from casadi_mpc.core.costs.base import Stage
from casadi_mpc.core.models import build_model

from .helpers import check_jacobian

RNG = np.random.default_rng(3)
MODEL_FOR = {'power': 'planar_arm', 'obstacles': 'double_integrator',
             'effort_above_holding': 'planar_arm'}


def symbolic_stage(term, model, slots=2):
    nx, nu = model.nx, model.nu
    syms = {'x': ca.SX.sym('x', nx), 'u': ca.SX.sym('u', nu), 'u_prev': ca.SX.sym('v', nu),
            'x_next': ca.SX.sym('y', nx), 'goal': ca.SX.sym('g', nx),
            'ref': ca.SX.sym('r', nx), 'weight': ca.SX.sym('w', len(term.weight_labels(model))),
            'p': ca.SX.sym('p', model.n_params), 'obstacles': ca.SX.sym('o', 3, slots)}
    stage = Stage(model=model, k=0, horizon=10, **syms)
    return stage, syms


def values_for(model, syms):
    out = []
    for name, s in syms.items():
        if name == 'p':
            out.append(model.param_vector())
        elif name == 'weight':
            out.append(RNG.uniform(0.5, 2.0, s.shape[0]))
        elif name == 'obstacles':
            out.append(np.array([[0.3, -0.2], [0.1, 0.4], [0.8, 0.5]]).T.ravel(order='F'))
        else:
            out.append(RNG.uniform(-1, 1, s.numel()))
    return out


@pytest.mark.parametrize('name', sorted(TERMS))
def test_stage_and_terminal_gradients_match_finite_differences(name):
    term = make_term(name)
    model = build_model(MODEL_FOR.get(name, 'diff_drive'))
    stage, syms = symbolic_stage(term, model)
    flat = [ca.vec(s) for s in syms.values()]
    values = values_for(model, syms)
    for expr in (term.stage(stage), term.terminal(stage)):
        expr = ca.substitute([expr], [syms['obstacles']], [ca.reshape(flat[-1], 3, 2)])[0]
        check_jacobian(expr, flat, values, rtol=1e-4, atol=1e-6)


def evaluate(term, model, **numbers):
    stage, syms = symbolic_stage(term, model)
    expr = term.stage(stage)
    f = ca.Function('f', list(syms.values()), [expr])
    args = [numbers.get(n, np.zeros(s.shape)) for n, s in syms.items()]
    return float(f(*args))


def test_effort_is_weighted_square_of_input():
    model = build_model('diff_drive')
    value = evaluate(make_term('effort'), model, u=np.array([0.5, -2.0]),
                     weight=np.array([0.1, 0.3]))
    assert value == pytest.approx(0.1 * 0.25 + 0.3 * 4.0)


def test_goal_tracking_wraps_heading():
    model = build_model('diff_drive')
    near = evaluate(make_term('goal_tracking'), model, x=np.array([0, 0, 3.1]),
                    goal=np.array([0, 0, -3.1]), weight=np.ones(3))
    assert near == pytest.approx((2 * np.pi - 6.2) ** 2, rel=1e-9)


def test_input_rate_penalizes_change_from_previous_command():
    model = build_model('diff_drive')
    value = evaluate(make_term('input_rate'), model, u=np.array([1.0, 0.0]),
                     u_prev=np.array([0.5, 1.0]), weight=np.array([2.0, 1.0]))
    assert value == pytest.approx(2 * 0.25 + 1.0)


def test_power_is_smoothed_absolute_mechanical_power():
    model = build_model('planar_arm')
    value = evaluate(make_term('power'), model, x=np.array([0, 0, 2.0, -1.0]),
                     u=np.array([3.0, 4.0]), weight=np.array([1.0]), p=model.param_vector())
    assert value == pytest.approx(6.0 + 4.0, abs=3e-2)


def test_effort_above_holding_is_zero_when_holding_still():
    model = build_model('planar_arm')
    p = model.param_vector()
    x = np.array([0.4, -0.3, 0.0, 0.0])
    hold = np.asarray(model.holding(x, p), float).ravel()
    term = make_term('effort_above_holding')
    assert evaluate(term, model, x=x, u=hold, weight=np.ones(2), p=p) == pytest.approx(0.0)
    assert evaluate(term, model, x=x, u=hold + [1.0, 0.0], weight=np.ones(2),
                    p=p) == pytest.approx(1.0)


def test_progress_rewards_moving_toward_goal():
    model = build_model('diff_drive')
    term = make_term('progress')
    goal = np.array([1.0, 0, 0])
    toward = evaluate(term, model, x=np.zeros(3), x_next=np.array([0.2, 0, 0]), goal=goal,
                      weight=np.ones(1))
    away = evaluate(term, model, x=np.zeros(3), x_next=np.array([-0.2, 0, 0]), goal=goal,
                    weight=np.ones(1))
    assert toward == pytest.approx(-0.2, abs=1e-4)
    assert away == pytest.approx(0.2, abs=1e-4)


def test_obstacle_penalty_only_inside_inflated_radius():
    model = build_model('double_integrator')
    term = make_term('obstacles')
    obstacles = np.array([[1.0, 0.0, 0.5], [0.0, 0.0, -1.0]]).T   # second slot unused
    outside = evaluate(term, model, x=np.zeros(4), obstacles=obstacles, weight=np.ones(1))
    inside = evaluate(term, model, x=np.array([0.8, 0, 0, 0]), obstacles=obstacles,
                      weight=np.ones(1))
    assert outside == 0.0
    assert inside == pytest.approx(0.3 ** 2, rel=1e-6)


@pytest.mark.parametrize('name', ['power', 'obstacles'])
def test_gauss_newton_parts_reproduce_the_cost(name):
    term = make_term(name)
    model = build_model(MODEL_FOR[name])
    stage, syms = symbolic_stage(term, model)
    (phi, r), = term.convex_parts(stage)
    total = ca.sum1(phi(r))
    f = ca.Function('f', list(syms.values()), [total - term.stage(stage)])
    values = values_for(model, syms)
    values[-1] = values[-1].reshape(3, 2, order='F')
    assert abs(float(f(*values))) < 1e-12


def test_terms_refuse_models_they_cannot_use():
    with pytest.raises(ValueError, match='power'):
        make_term('power').check(build_model('diff_drive'))
    with pytest.raises(ValueError, match='planar base'):
        make_term('obstacles').check(build_model('planar_arm'))
    with pytest.raises(ValueError, match='holding torque'):
        make_term('effort_above_holding').check(build_model('diff_drive'))
    with pytest.raises(ValueError, match='unknown cost term'):
        make_term('comfort')
