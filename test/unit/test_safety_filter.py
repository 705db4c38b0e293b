"""The safety filter (core/safety_filter.py) on the diff-drive of config/diff_drive.yaml: desired
commands that are safe pass unchanged, others are brought within the rate limits and bounds, an
obstacle stops the robot outside its margin, stale input brakes, bad obstacles are refused."""
import numpy as np
import pytest

from casadi_mpc.bringup import default_params_file
from casadi_mpc.core.config import ConfigError
from casadi_mpc.core.models import build_model
from casadi_mpc.core.plant import Plant
from casadi_mpc.core.safety_filter import rate_model, SafetyFilter
from casadi_mpc.core.safety_filter_config import load, parse

CFG = load(default_params_file('diff_drive'))
OBSTACLE = {'obstacles': dict(CFG.obstacles.model_dump(), x=[2.0], y=[0.0], radius=[0.3])}


def make(**changes):
    """The filter of the configuration file; a time limit no load reaches (tests assert no
    timing)."""
    return SafetyFilter(parse({**CFG.model_dump(), 'solver.time_limit': 5.0, **changes}))


def drive(f, desired, steps, x0=(0.0, 0.0, 0.0)):
    """A robot that applies each command at once for dt; returns the outcomes and the
    positions."""
    plant = Plant(f.model, x0, max_step=0.005)
    outcomes, states = [], [plant.x.copy()]
    for k in range(steps):
        out = f.step(plant.x, desired(k))
        outcomes.append(out)
        states.append(plant.step(out.command, f.cfg.dt))
    return outcomes, np.array(states)


def test_rate_model_turns_inputs_into_states():
    model = build_model('diff_drive')
    aug = rate_model(model, [-1.0, -4.0], [1.0, 4.0])
    assert (aug.nx, aug.nu) == (5, 2)
    assert aug.state_names == ['x', 'y', 'theta', 'v', 'omega']
    assert aug.input_names == ['dv', 'domega'] and aug.u_ub.tolist() == [1.0, 4.0]
    assert aug.x_ub.tolist()[3:] == model.u_ub.tolist()
    zdot = np.asarray(aug.rhs([0, 0, 0, 0.5, 1.0], [0.2, -0.1], model.param_vector()),
                      float).ravel()
    np.testing.assert_allclose(zdot, [0.5, 0.0, 1.0, 0.2, -0.1])


def test_safe_desired_commands_pass_unchanged_bit_for_bit():
    f = make()
    # a teleop ramping up and turning, within the rate limits, far from any obstacle
    commands = [np.array([min(0.5, 0.04 * (k + 1)), 0.3 * np.sin(0.1 * k)]) for k in range(40)]
    outcomes, _ = drive(f, lambda k: commands[k], 40)
    for out, desired in zip(outcomes, commands):
        assert out.mode == 'NORMAL' and out.intervention == 0.0
        assert np.array_equal(out.command, desired)
    assert f.counters.passed == 40 and f.counters.interventions == 0


def test_commands_are_held_within_the_rate_limits_and_bounds():
    f = make()
    out = f.step(np.zeros(3), np.array([0.8, 0.0]))   # from rest: at most 1 m/s^2 x 0.05 s
    assert out.command[0] == pytest.approx(0.05, abs=1e-3) and out.intervention > 0.7
    f = make()
    for _ in range(40):
        out = f.step(np.zeros(3), np.array([5.0, -9.0]))   # beyond the bounds: clipped
    np.testing.assert_allclose(out.command, [1.0, -2.0], atol=1e-3)
    assert np.all(out.command <= f.u_ub) and np.all(out.command >= f.u_lb)
    assert f.counters.interventions >= 40


def test_a_robot_driven_at_an_obstacle_stops_outside_its_margin():
    f = make(**OBSTACLE)
    outcomes, states = drive(f, lambda k: np.array([0.5, 0.0]), 120)
    surface = 2.0 - 0.3 - CFG.obstacles.margin
    assert np.max(states[:, 0]) <= surface + 1e-3
    assert states[-1, 0] == pytest.approx(surface, abs=0.01)   # it got there
    assert any(o.intervention > 0.4 for o in outcomes)
    assert f.counters.passed > 30 and f.counters.failures == 0
    # once at speed, braking starts where the braking distance needs it, not earlier
    cruising = next(k for k, o in enumerate(outcomes) if o.intervention == 0.0)
    first = next(k for k, o in enumerate(outcomes) if k > cruising and o.intervention > 1e-3)
    assert surface - states[first, 0] < 0.5 ** 2 / 2 + 0.1


def test_an_obstacle_already_too_close_is_a_counted_violation_with_a_finite_command():
    f = make(**OBSTACLE)
    out = f.step(np.array([1.7, 0.0, 0.0]), np.array([0.5, 0.0]))
    assert np.all(np.isfinite(out.command)) and out.violation > 0.0
    assert f.counters.violations == 1 and out.reason.startswith('no safe command')


def test_stale_desired_command_brakes_to_rest_within_the_rate_limit():
    f = make()
    for _ in range(20):
        f.step(np.zeros(3), np.array([0.5, 0.0]))
    speeds = []
    for _ in range(15):
        out = f.step(np.zeros(3), np.array([0.5, 0.0]), desired_fresh=False)
        assert out.mode == 'FALLBACK' and 'stale' in out.reason
        speeds.append(out.command[0])
    assert np.all(np.diff(speeds) >= -0.05 - 1e-6)   # no harder than 1 m/s^2
    assert speeds[-1] == pytest.approx(0.0, abs=1e-3)
    assert f.counters.stale_commands == 15


def test_no_or_stale_state_sends_the_safe_command():
    f = make()
    out = f.step(None, np.array([0.5, 0.0]))
    assert out.mode == 'NO_STATE' and out.command.tolist() == [0.0, 0.0]
    out = f.step(np.zeros(3), np.array([0.5, 0.0]), state_fresh=False)
    assert out.mode == 'STALE' and out.command.tolist() == [0.0, 0.0]
    assert f.counters.stale_steps == 2 and f.counters.solves == 0


def test_obstacles_from_rows_and_bad_ones():
    f = make()
    f.set_obstacles([[2.0, 0.0, 0.3]])
    assert f.cfg.obstacles.x == [2.0]
    for rows, message in (([[2.0, 0.0]], 'rows of x, y, radius'),
                          ([[np.nan, 0.0, 0.3]], 'finite'), ([[1.0, 0.0, -1.0]], 'radii'),
                          ([[0.0, 0.0, 0.1]] * 5, 'max_count')):
        with pytest.raises((ValueError, ConfigError), match=message):
            f.set_obstacles(rows)
    assert f.cfg.obstacles.x == [2.0]   # nothing applied
    f.set_obstacles([])
    assert f.cfg.obstacles.x == []


def test_run_time_changes_structural_ones_and_a_horizon_too_short_to_brake():
    f = make()
    f.update({'rate_limit': [0.8, 2.0]})
    out = f.step(np.zeros(3), np.array([0.8, 0.0]))
    assert out.command[0] == pytest.approx(0.04, abs=1e-3)
    with pytest.raises(ConfigError, match='horizon: read-only'):
        f.update({'horizon': 10})
    with pytest.raises(ConfigError, match='shorter than braking'):
        f.update({'rate_limit': [0.1, 2.0]})
    assert f.cfg.rate_limit == [0.8, 2.0]
    with pytest.raises(ConfigError, match='shorter than braking'):
        make(horizon=5)


def test_models_with_velocity_states_are_refused_with_the_reason():
    with pytest.raises(ConfigError, match='velocity-commanded'):
        SafetyFilter({'model': {'name': 'planar_arm'}})
