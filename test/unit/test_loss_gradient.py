"""The closed-loop loss and its gradient dL/dw by forward sensitivities through the rollout,
against central finite differences of whole rollouts (core/rollout.py, core/loss.py).

Stated tolerance: relative error |g - g_fd|_inf / |g_fd|_inf <= 1e-3 on the standard problems
(tools/problems.py: unicycle N = 20, 2-link arm N = 30), g_fd from rollouts at log-weights
+-1e-5, solves converged to 1e-10.
"""
import copy

import numpy as np
import pytest

from casadi_mpc.core.config import ConfigError, parse
from casadi_mpc.core.loss import ENERGY_EPS, LossFile, METRICS, Metrics
from casadi_mpc.core.rollout import current_weights, Evaluator, tuning_config
from casadi_mpc.tools import problems

ALL = {'tracking': 1.0, 'final_error': 2.0, 'time_to_goal': 0.5, 'energy': 0.05,
       'peak_input': 0.3, 'input_rate': 1e-3, 'constraint_violation': 10.0,
       'solver_failures': 1.0}
H = 1e-5


def spec(scenarios, loss=None):
    return LossFile.model_validate({'loss': loss or ALL, 'scenarios': scenarios})


def evaluator(problem, scenarios, solver='sqp', loss=None, **changes):
    """The standard problem with the compiled SQP (exact Hessian: converges in a few
    iterations to 1e-10) and, for its size, compiled sensitivities."""
    cfg = problems.get(problem).mpc_config(solver, compiled=True, tol=1e-10, max_iter=500)
    cfg.update(changes)
    return Evaluator(parse(cfg), spec(scenarios, loss))


def fd_gradient(ev, scenario, labels, directions):
    """Central differences of the loss along log-weight ``directions`` (rows)."""
    w = current_weights(ev.ctrl)
    out = []
    for d in directions:
        losses = [ev.run({lab: w[lab] * np.exp(s * H * di) for lab, di in zip(labels, d)},
                         scenario).loss for s in (1, -1)]
        out.append((losses[0] - losses[1]) / (2 * H))
    return np.array(out)


def log_gradient(ev, scenario, labels):
    out = ev.run({}, scenario, gradient=labels)
    assert out.gradient is not None, out.gradient_error
    w = current_weights(ev.ctrl)
    return out, out.gradient * np.array([w[lab] for lab in labels])


def test_unicycle_gradient_matches_whole_rollouts_every_weight():
    steps = problems.get('unicycle').steps
    ev = evaluator('unicycle', [{'name': 'standard', 'x0': [0, 0, 0], 'steps': steps}])
    scenario = ev.loss.scenarios[0]
    labels = [k for k, v in current_weights(ev.ctrl).items() if v > 0]
    out, g = log_gradient(ev, scenario, labels)
    fd = fd_gradient(ev, scenario, labels, np.eye(len(labels)))
    assert out.failures == 0
    assert np.max(np.abs(g - fd)) / np.max(np.abs(fd)) <= 1e-3, (g, fd)
    assert set(out.metrics) == set(METRICS)


def test_arm_gradient_matches_whole_rollouts_along_random_directions():
    steps = problems.get('arm2').steps
    ev = evaluator('arm2', [{'name': 'standard', 'x0': [0, 0, 0, 0], 'steps': steps}])
    scenario = ev.loss.scenarios[0]
    labels = [k for k, v in current_weights(ev.ctrl).items() if v > 0]
    _, g = log_gradient(ev, scenario, labels)
    directions = np.random.default_rng(0).normal(size=(2, len(labels)))
    fd = fd_gradient(ev, scenario, labels, directions)
    predicted = directions @ g
    assert np.max(np.abs(predicted - fd)) / np.max(np.abs(fd)) <= 1e-3, (predicted, fd)


def test_scenario_with_reference_mismatch_noise_and_obstacles():
    cfg = {'model': {'name': 'double_integrator', 'dim': 2,
                     'params': {'damping': 0.0}}, 'horizon': 12, 'dt': 0.1,
           'costs': {'reference_tracking': {'weight': [5.0, 5.0, 0.1, 0.1]},
                     'effort': {'weight': [0.1, 0.1]}, 'obstacles': {'weight': [50.0]}},
           'obstacles': {'max_count': 1, 'x': [0.5], 'y': [0.25], 'radius': [0.1]},
           'bounds': {'u_min': [-2.0, -2.0], 'u_max': [2.0, 2.0]},
           'solver': {'name': 'sqp', 'tol': 1e-10, 'max_iter': 500, 'time_limit': 10.0}}
    scenario = {'name': 'windy', 'x0': [0, 0, 0, 0], 'steps': 30,
                'reference': {'t': [0.0, 3.0], 'x': [[0, 0, 0, 0], [1.0, 0.5, 0, 0]]},
                'mismatch': {'damping': 0.3}, 'noise': {'std': 0.02, 'seed': 4}}
    ev = Evaluator(parse(cfg), spec([scenario]))
    s = ev.loss.scenarios[0]
    labels = [k for k, v in current_weights(ev.ctrl).items() if v > 0]
    out, g = log_gradient(ev, s, labels)
    assert out.metrics['constraint_violation'] > 0   # the path cuts the obstacle's circle
    fd = fd_gradient(ev, s, labels, np.eye(len(labels)))
    assert np.max(np.abs(g - fd)) / np.max(np.abs(fd)) <= 1e-3, (g, fd)
    again = ev.run({}, s)
    assert again.loss == out.loss      # seeded noise: the same rollout twice


def test_rti_config_is_tuned_with_the_converged_solver():
    """sqp_rti is differentiated as sqp iterated to convergence on the same problem; the loss
    of RTI as deployed stays close to it, so the tuned weights carry over."""
    steps = problems.get('unicycle').steps
    scenarios = [{'name': 'standard', 'x0': [0, 0, 0], 'steps': steps}]
    cfg = parse(problems.config('unicycle', 'sqp_rti'))
    assert tuning_config(cfg).solver.name == 'sqp'
    converged = Evaluator(cfg, spec(scenarios))
    deployed = Evaluator(cfg, spec(scenarios), converged=False)
    assert converged.ctrl.solver.name == 'sqp' and deployed.ctrl.solver.name == 'sqp_rti'
    a = converged.run({}, converged.loss.scenarios[0], gradient=['costs.effort.weight[0]'])
    b = deployed.run({}, deployed.loss.scenarios[0])
    assert a.gradient is not None
    assert b.loss == pytest.approx(a.loss, rel=0.03)
    with pytest.raises(ConfigError, match='converged'):
        deployed.run({}, deployed.loss.scenarios[0], gradient=['costs.effort.weight[0]'])


def test_a_failing_solve_is_counted_and_voids_the_gradient():
    """A goal out of reach under a terminal constraint: every solve fails, the safe command
    goes out, the failures count in the loss, and there is no gradient (with the reason)."""
    cfg = problems.get('unicycle').mpc_config('sqp', max_iter=30)
    cfg.update(terminal_constraint=True, bounds={'u_min': [-0.1, -0.2], 'u_max': [0.1, 0.2]})
    ev = Evaluator(parse(cfg), spec([{'name': 's', 'x0': [0, 0, 0], 'steps': 3}]))
    out = ev.run({}, ev.loss.scenarios[0], gradient=['costs.effort.weight[0]'])
    assert out.failures == 3 and out.metrics['solver_failures'] == 3
    assert out.gradient is None and out.gradient_error.startswith('step 0: solver')
    assert out.loss >= ALL['solver_failures'] * 3


def test_metric_values():
    """The metrics against direct numpy evaluations of their definitions."""
    cfg = parse(problems.config('arm2', 'sqp'))
    ev = Evaluator(cfg, spec([{'x0': [0, 0, 0, 0], 'steps': 3}]))
    model = ev.ctrl.model
    t = ev.ctrl.tuning
    m = Metrics(model, 0.02, 0.1, [-1, -1, -5, -5], [1, 1, 5, 5], t.u_lb, t.u_ub, t.model_p)
    rng = np.random.default_rng(1)
    X, U = rng.normal(size=(4, 4)), rng.normal(size=(3, 2)) * 5
    R = np.tile([0.5, 0.0, 0.0, 0.0], (4, 1))
    values, gx, gu = m.evaluate(X, U, R, np.zeros(2), {'tracking': 1.0})
    e = X - R
    assert values['tracking'] == pytest.approx(np.sum(e[1:] ** 2) * 0.02)
    assert values['final_error'] == pytest.approx(np.linalg.norm(e[-1]))
    power = np.array([np.asarray(model.power(x, u, t.model_p)).ravel() for x, u in zip(X, U)])
    # |P| smoothed as sqrt(P^2 + eps^2) - eps: within eps per entry
    assert abs(values['energy'] - np.sum(np.abs(power)) * 0.02) <= ENERGY_EPS * U.size * 0.02
    peak = np.max(np.abs(U) / 20.0)
    assert peak <= values['peak_input'] <= peak + 0.01 * np.log(U.size) + 1e-9
    rate = np.sum(np.diff(np.vstack([np.zeros(2), U]), axis=0) ** 2) / 0.02
    assert values['input_rate'] == pytest.approx(rate)
    over = np.maximum(0, X[1:] - [1, 1, 5, 5]) ** 2 + np.maximum(0, [-1, -1, -5, -5] - X[1:]) ** 2
    assert values['constraint_violation'] == pytest.approx(np.sum(over) * 0.02)
    assert 0 < values['time_to_goal'] <= 3 * 0.02
    np.testing.assert_allclose(gx[1:], 2 * e[1:] * 0.02)
    assert np.all(gx[0] == 0) and np.all(gu == 0)


@pytest.mark.parametrize('scenario,match', [
    ({'x0': [0, 0]}, 'x0 = .*expected 3 finite values'),
    ({'x0': [0, 0, 0], 'goal': [1, 1]}, 'goal = .*expected 3'),
    ({'x0': [0, 0, 0], 'mismatch': {'mass9': 1.0}}, 'unknown parameter'),
    ({'x0': [0, 0, 0], 'noise': {'std': [0.1, 0.1]}}, 'noise.std'),
    ({'x0': [0, 0, 0], 'reference': {'t': [0], 'x': [[0, 0, 0]]}}, 'reference_tracking'),
])
def test_bad_scenarios_name_the_problem(scenario, match):
    ev = evaluator('unicycle', [dict(scenario, name='bad', steps=2)])
    with pytest.raises(ConfigError, match=match):
        ev.run({}, ev.loss.scenarios[0])


def test_bad_weights_name_the_problem():
    ev = evaluator('unicycle', [{'x0': [0, 0, 0], 'steps': 2}])
    with pytest.raises(ConfigError, match='unknown weight'):
        ev.run({'costs.effort.weight[7]': 1.0}, ev.loss.scenarios[0])
    with pytest.raises(ConfigError, match='finite and >= 0'):
        ev.run({'costs.effort.weight[0]': float('nan')}, ev.loss.scenarios[0])


def test_scenario_needs_a_goal():
    cfg = copy.deepcopy(problems.config('unicycle', 'sqp'))
    del cfg['goal']
    ev = Evaluator(parse(cfg), spec([{'x0': [0, 0, 0], 'steps': 2}]))
    with pytest.raises(ConfigError, match='no goal'):
        ev.run({}, ev.loss.scenarios[0])
