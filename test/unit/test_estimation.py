"""Moving horizon estimation (core/estimation.py) on simulated data: accuracy, partial and noisy
measurements, the window's life (filling, sliding, gaps), bad input and failed solves."""
import numpy as np
import pytest

from casadi_mpc.core.config import ConfigError
from casadi_mpc.core.estimation import MovingHorizonEstimator, Rejected
from casadi_mpc.core.estimator_config import parse, resolve
from casadi_mpc.core.integrators import rk4_step
from casadi_mpc.core.models import build_model
from casadi_mpc.core.solvers import Builds

# a time limit no load reaches: tests assert no timing
BASE = {'model': {'name': 'diff_drive'}, 'horizon': 20, 'rate_hz': 10.0,
        'estimate': ['v_gain', 'omega_gain'], 'measurement_std': [0.01, 0.01, 0.01],
        'process_std': [0.01, 0.01, 0.01], 'solver': {'time_limit': 5.0}}
TRUE_GAINS = {'v_gain': 0.9, 'omega_gain': 1.1}


def estimator(**changes):
    return MovingHorizonEstimator(dict(BASE, **changes))


def drive(est, seconds, noise=0.01, seed=0, t0=0.0, x0=(0.0, 0.0, 0.0), sim_dt=0.02):
    """A diff-drive with gains 10 % off, commanded at 10 Hz, its pose measured at 50 Hz with
    noise. Returns the true state and the time at the end."""
    model = est.model
    step = rk4_step(model, sim_dt)
    p = model.param_vector(TRUE_GAINS)
    rng = np.random.default_rng(seed)
    x, t, u = np.array(x0, float), t0, np.zeros(2)
    for i in range(int(round(seconds / sim_dt))):
        if i % 5 == 0:
            k = t / 0.1
            u = np.array([0.5 + 0.3 * np.sin(0.2 * k), 0.8 * np.sin(0.1 * k)])
            est.add_command(t, u)
        x = np.asarray(step(x, u, p), float).ravel()
        t += sim_dt
        est.add_measurement(t, x + noise * rng.standard_normal(3))
    return x, t


def test_gains_of_a_diff_drive_from_its_noisy_pose():
    est = estimator()
    x, _ = drive(est, 6.0)
    e = est.estimate
    assert e.success and e.nodes == 21
    np.testing.assert_allclose(e.theta, [0.9, 1.1], rtol=0.02)
    assert np.all(e.theta_std > 0) and np.all(e.theta_std < 0.05)
    error = est.model.state_error(e.x, x)
    assert np.all(np.abs(error) < 0.03), error
    assert est.counters.solves == est.counters.measurements == 60
    assert est.counters.skipped == 240 and est.counters.rejected == 0


def test_the_solver_is_built_once_however_the_window_fills_and_slides():
    builds = Builds.count
    est = estimator(horizon=10)
    assert Builds.count == builds + 1
    drive(est, 3.0)
    assert Builds.count == builds + 1
    assert [est.counters.solves, est.estimate.nodes] == [30, 11]


@pytest.mark.parametrize('solver', ['ipopt', 'sqp_rti'])
def test_other_solvers_reach_the_same_estimate(solver):
    reference, other = estimator(), estimator(solver={'name': solver, 'time_limit': 5.0})
    drive(reference, 4.0, seed=3)
    drive(other, 4.0, seed=3)
    np.testing.assert_allclose(other.estimate.theta, reference.estimate.theta, atol=2e-3)


def test_joint_positions_alone_give_velocities_and_the_payload_mass():
    """A 2-link arm measured by its joint positions only: the velocities are estimated and
    the tip mass (link 2 plus a payload of 0.5 kg) is found."""
    cfg = {'model': {'name': 'planar_arm', 'params': {'damping1': 0.1, 'damping2': 0.1}},
           'horizon': 20, 'rate_hz': 25.0, 'measured': ['q1', 'q2'],
           'measurement_std': [0.001, 0.001], 'process_std': [0.01, 0.01, 0.5, 0.5],
           'estimate': ['mass2'], 'estimate_min': [0.2], 'estimate_max': [5.0],
           'estimate_prior_std': [0.5], 'solver': {'time_limit': 5.0}}
    est = MovingHorizonEstimator(cfg)
    model = est.model
    truth = model.param_vector({'damping1': 0.1, 'damping2': 0.1, 'mass2': 1.5})
    step = rk4_step(model, 0.005)
    rng = np.random.default_rng(1)
    x, t, history = np.zeros(4), 0.0, {}
    for i in range(600):
        if i % 4 == 0:   # a PD controller on the model's gravity (no payload) moves the arm
            target = np.array([0.8 * np.sin(2.0 * t), 0.6 * np.sin(3.0 * t)])
            hold = np.asarray(model.holding(x, est.setup.model_p), float).ravel()
            u = hold + 60.0 * (target - x[:2]) - 10.0 * x[2:]
            est.add_command(t, u)
        x = np.asarray(step(x, u, truth), float).ravel()
        t += 0.005
        est.add_measurement(t, x[:2] + 0.001 * rng.standard_normal(2))
        history[t] = x
    e = est.estimate
    assert e.success
    assert e.theta[0] == pytest.approx(1.5, rel=0.03)
    # the velocities (never measured) at the newest measurement's time
    np.testing.assert_allclose(e.x[2:], history[e.stamp][2:], atol=0.05)


def test_bad_input_is_rejected_and_counted():
    est = estimator()
    est.add_command(0.0, [0.1, 0.0])
    assert est.add_measurement(0.1, [0.0, 0.0, 0.0]) is not None
    bad = [(0.2, [np.nan, 0.0, 0.0], 'finite'), (0.2, [0.0, 0.0], 'expected 3'),
           (0.1, [0.0, 0.0, 0.0], 'out of order or repeated'),
           (0.05, [0.0, 0.0, 0.0], 'out of order')]
    for i, (t, y, reason) in enumerate(bad):
        with pytest.raises(Rejected, match=reason):
            est.add_measurement(t, y)
        assert est.counters.rejected == i + 1 and reason in est.last_rejection
    for u in ([np.inf, 0.0], [1.0]):
        with pytest.raises(Rejected, match='command'):
            est.add_command(0.3, u)
    assert est.counters.rejected == 6 and est.counters.commands == 1
    assert est.add_measurement(0.2, [0.01, 0.0, 0.0]) is not None   # and it goes on


def test_close_measurements_and_those_before_any_command_are_skipped_not_solved():
    est = estimator()
    assert est.add_measurement(0.9, [0, 0, 0]) is None   # the robot may be held: no input
    est.add_command(0.9, [0.0, 0.0])
    assert est.add_measurement(1.0, [0, 0, 0]) is not None
    assert est.add_measurement(1.05, [0, 0, 0]) is None
    assert est.add_measurement(1.1, [0, 0, 0]) is not None
    assert (est.counters.skipped, est.counters.solves) == (2, 2)


def test_a_gap_restarts_the_window_and_keeps_the_parameters():
    est = estimator()
    x, t = drive(est, 4.0)
    learned = est.estimate.theta.copy()
    t += 1.0    # more than max_gap (0.5 s) without a measurement
    e = est.add_measurement(t, x)
    assert est.counters.restarts == 1 and e.nodes == 1 and e.success
    np.testing.assert_allclose(e.theta, learned, atol=1e-6)
    np.testing.assert_allclose(e.x, x, atol=0.02)
    drive(est, 3.0, t0=t, x0=x, seed=5)
    np.testing.assert_allclose(est.estimate.theta, [0.9, 1.1], rtol=0.02)


def test_a_failed_solve_keeps_the_last_estimate_and_says_so():
    est = estimator()
    x, t = drive(est, 2.0)
    last = est.estimate
    est.update({'solver.time_limit': 1e-9})
    e = est.add_measurement(t + 0.1, x)
    assert not e.success and e.status == 'timeout' and est.counters.failures == 1
    np.testing.assert_array_equal(e.x, last.x)
    np.testing.assert_array_equal(e.theta, last.theta)
    est.update({'solver.time_limit': 0.5})
    assert est.add_measurement(t + 0.2, x).success     # and recovers


def test_the_command_in_force_is_averaged_and_dropped_when_stale():
    est = estimator(command_timeout=0.3)
    est.add_command(1.0, [1.0, 0.0])
    est.add_command(1.1, [0.0, 2.0])
    np.testing.assert_allclose(est.average_command(1.0, 1.2), [0.5, 1.0])
    np.testing.assert_allclose(est.average_command(1.3, 1.5), [0.0, 1.0])  # stale from 1.4
    np.testing.assert_allclose(est.average_command(0.5, 0.9), [0.0, 0.0])  # none yet
    delayed = estimator(command_delay=0.05)
    delayed.add_command(1.0, [1.0, 0.0])
    np.testing.assert_allclose(delayed.average_command(1.0, 1.1), [0.5, 0.0])


def test_run_time_changes_and_structural_ones():
    est = estimator()
    est.update({'measurement_std': [0.02, 0.02, 0.02], 'rate_hz': 20.0})
    assert est.period == pytest.approx(0.05)
    with pytest.raises(ConfigError, match='horizon: read-only'):
        est.update({'horizon': 5})
    with pytest.raises(ConfigError, match='measurement_std'):
        est.update({'measurement_std': [0.02]})
    assert est.cfg.rate_hz == 20.0


@pytest.mark.parametrize('changes, message', [
    ({'measured': ['x', 'z']}, 'unknown state z'),
    ({'estimate': ['wheel_radius']}, 'unknown model parameter wheel_radius'),
    ({'estimate': ['v_gain', 'v_gain']}, 'listed twice'),
    ({'process_std': [0.1, 0.1]}, 'expected 3 values'),
    ({'measurement_std': [0.1, 0.0, 0.1]}, 'finite and > 0'),
    ({'estimate_min': [1.05, 0.5]}, 'bracket its prior'),
    ({'estimate_max': [2.0]}, 'expected 2 values')])
def test_configuration_errors_name_the_key(changes, message):
    with pytest.raises(ConfigError, match=message):
        resolve(parse(dict(BASE, **changes)), build_model('diff_drive'))


def test_defaults_follow_the_prior():
    setup = resolve(parse({'model': {'name': 'planar_arm', 'params': {'mass2': 2.0}},
                           'estimate': ['mass2']}), build_model('planar_arm'))
    assert setup.prior.tolist() == [2.0] and setup.lower.tolist() == [1.0]
    assert setup.upper.tolist() == [4.0] and setup.prior_std.tolist() == [pytest.approx(0.4)]
    assert setup.measured.tolist() == [0, 1, 2, 3]


def test_a_fixed_arrival_cost_keeps_the_prior_spreads():
    est = estimator(arrival='fixed', state_prior_std=[0.1, 0.1, 0.1],
                    estimate_prior_std=[0.05, 0.05])
    drive(est, 4.0)
    _, x_std, _, theta_std = est.prior
    assert x_std.tolist() == [0.1, 0.1, 0.1] and theta_std.tolist() == [0.05, 0.05]
    np.testing.assert_allclose(est.estimate.theta, [0.9, 1.1], rtol=0.02)
