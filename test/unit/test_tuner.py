"""The log-weight optimizer (core/tuner.py) on losses with known minima."""
import numpy as np
import pytest

from casadi_mpc.core.tuner import Point, projected_gradient, Tuner

CENTRE = np.array([0.5, -1.0, 2.0])
SCALE = np.array([1.0, 10.0, 0.2])     # badly scaled on purpose


def quadratic(fail=None):
    calls = []

    def evaluate(theta):
        calls.append(theta.copy())
        if fail is not None and fail(theta):
            return Point(theta, float('nan'), None, 'scenario a: step 3: solver infeasible')
        d = theta - CENTRE
        return Point(theta, float(np.sum(SCALE * d ** 2) + 1.0), 2 * SCALE * d)
    return evaluate, calls


@pytest.mark.parametrize('method,iterations', [('descent', 40), ('adam', 400)])
def test_converges_to_the_minimum(method, iterations):
    evaluate, calls = quadratic()
    tuner = Tuner(evaluate, np.full(3, -5.0), np.full(3, 5.0), method, iterations, rtol=1e-10,
                  learning_rate=0.05)
    result = tuner.run(np.zeros(3))
    np.testing.assert_allclose(result.theta, CENTRE, atol=2e-2)
    assert result.loss == pytest.approx(1.0, abs=1e-3)
    assert result.evaluations == len(calls)
    losses = [r['loss'] for r in result.history]
    if method == 'descent':
        assert all(b <= a for a, b in zip(losses, losses[1:]))   # every step decreases


def test_bounds_hold_and_the_gradient_is_projected():
    evaluate, calls = quadratic()
    upper = np.array([5.0, 5.0, 1.0])    # the minimum of the third lies beyond
    result = Tuner(evaluate, np.full(3, -5.0), upper, iterations=40, rtol=1e-12).run(
        np.zeros(3))
    assert all(np.all(c <= upper + 1e-12) for c in calls)
    assert result.theta[2] == pytest.approx(1.0)
    np.testing.assert_allclose(result.theta[:2], CENTRE[:2], atol=2e-2)
    g = projected_gradient(result.theta, 2 * SCALE * (result.theta - CENTRE), -5.0, upper)
    assert g[2] == 0.0


def test_failing_trials_are_rejected_and_counted():
    """Points where a rollout fails are never accepted; the history names each rejection."""
    evaluate, calls = quadratic(fail=lambda theta: theta[0] > 0.3)
    result = Tuner(evaluate, np.full(3, -5.0), np.full(3, 5.0), iterations=30).run(np.zeros(3))
    assert result.theta[0] <= 0.3
    rejected = [r for rec in result.history for r in rec['rejected']]
    assert rejected and any('infeasible' in r['reason'] for r in rejected)
    assert all(np.isfinite(r['loss']) for r in result.history)


def test_stops_when_converged():
    evaluate, _ = quadratic()
    result = Tuner(evaluate, np.full(3, -5.0), np.full(3, 5.0), iterations=500).run(CENTRE)
    assert result.stop.startswith('converged')
    assert len(result.history) < 5


def test_initial_failure_is_an_error():
    evaluate, _ = quadratic(fail=lambda theta: True)
    with pytest.raises(RuntimeError, match='initial weights.*infeasible'):
        Tuner(evaluate, np.full(3, -5.0), np.full(3, 5.0)).run(np.zeros(3))


def test_unknown_method():
    with pytest.raises(ValueError, match='descent or adam'):
        Tuner(lambda t: None, [0.0], [1.0], method='newton')
