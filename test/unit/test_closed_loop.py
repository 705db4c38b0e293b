"""Every model reaches its goal in closed loop with its shipped configuration."""
from pathlib import Path

import numpy as np
import pytest

from casadi_mpc.core import closed_loop, sim_config
from casadi_mpc.core.config import load
from casadi_mpc.core.controller import MPCController
from casadi_mpc.core.plant import Plant

CONFIG_DIR = Path(__file__).resolve().parents[2] / 'config'
# (config, steps, mismatch for the plant); time limits are lifted: tests assert behaviour
CASES = [('diff_drive', 80, {}), ('double_integrator', 80, {}), ('planar_arm', 120, {}),
         ('planar_arm', 150, {'mass2': 1.2, 'damping1': 0.3}), ('urdf_arm', 80, {}),
         ('ackermann', 100, {}), ('omni', 60, {}), ('cart_pole', 80, {}),
         ('cart_pole', 80, {'pole_mass': 0.11, 'cart_friction': 0.1})]


def controller_for(robot, **changes):
    cfg = load(CONFIG_DIR / ('%s.yaml' % robot)).model_dump()
    cfg['solver']['time_limit'] = 10.0
    for key, value in changes.items():
        cfg[key] = value
    return MPCController(cfg)


@pytest.mark.parametrize('robot,steps,mismatch', CASES,
                         ids=['%s%s' % (c[0], '-mismatch' if c[2] else '') for c in CASES])
def test_model_reaches_goal_within_bounds(robot, steps, mismatch):
    controller = controller_for(robot)
    params = dict(controller.cfg.model.params, **mismatch)
    x0 = sim_config.initial_state(sim_config.load(CONFIG_DIR / ('%s.yaml' % robot)),
                                  controller.model)   # the simulator's start
    log, summary = closed_loop.run(controller, x0, steps, params, stop_at_goal=True)
    assert summary['goal_reached'], summary
    assert summary['failures'] == 0
    u = np.asarray(log.u)
    t = controller.tuning
    assert np.all(u >= t.u_lb - 1e-9) and np.all(u <= t.u_ub + 1e-9)
    x = np.asarray(log.x)
    finite_lb = np.where(np.isfinite(t.x_lb), t.x_lb, -1e9)
    finite_ub = np.where(np.isfinite(t.x_ub), t.x_ub, 1e9)
    # states stay within their bounds up to the plant/model integration mismatch
    assert np.all(x >= finite_lb - 0.05) and np.all(x <= finite_ub + 0.05)


def test_arm_settles_on_a_goal_away_from_the_vertical():
    """effort_above_holding does not charge the torque that holds the arm, so no offset."""
    controller = controller_for('planar_arm', goal=[0.785, 0.3, 0.0, 0.0])
    _, summary = closed_loop.run(controller, np.zeros(4), 150)
    assert summary['final_error'] < 0.005


def test_obstacle_is_avoided_on_the_way():
    controller = controller_for('double_integrator')
    log, summary = closed_loop.run(controller, np.zeros(4), 80, stop_at_goal=True)
    assert summary['goal_reached']
    ob = controller.cfg.obstacles
    centre = np.array([ob.x[0], ob.y[0]])
    clearance = np.linalg.norm(np.asarray(log.x)[:, :2] - centre, axis=1).min()
    assert clearance > ob.radius[0]
    straight = np.linspace([0, 0], controller.goal[:2], 50)
    assert np.linalg.norm(straight - centre, axis=1).min() < ob.radius[0]   # it had to swerve


def test_more_effort_weight_spends_less_energy():
    energies = []
    for weight in ([0.01, 0.01], [1.0, 1.0]):
        controller = controller_for('diff_drive')
        controller.update({'costs.effort.weight': weight})
        _, summary = closed_loop.run(controller, np.zeros(3), 60)
        energies.append(summary['energy'])
    assert energies[1] < 0.9 * energies[0]


def test_failed_solves_fall_back_to_the_safe_input():
    controller = controller_for('planar_arm')
    controller.update({'solver.time_limit': 1e-7})   # every solve misses its deadline
    log, summary = closed_loop.run(controller, np.zeros(4), 5)
    assert summary['failures'] == 5
    hold = controller.safe_input(np.zeros(4))
    np.testing.assert_allclose(log.u[0], hold)
    assert set(log.status) == {'timeout'}


def test_tracks_a_moving_reference_per_stage():
    """reference_tracking: a point moving along y = 0.5 at 0.4 m/s, one reference per stage."""
    cfg = load(CONFIG_DIR / 'diff_drive.yaml').model_dump()
    cfg['costs'] = {'reference_tracking': {'weight': [5.0, 5.0, 0.5]},
                    'effort': {'weight': [0.05, 0.05]}}
    cfg['solver']['time_limit'] = 10.0
    controller = MPCController(cfg)
    speed, dt, N = 0.4, controller.cfg.dt, controller.ocp.N
    plant = Plant(controller.model, np.zeros(3))
    errors = []
    for k in range(80):
        t = (k + np.arange(N + 1)) * dt
        ref = np.column_stack([speed * t, np.full(N + 1, 0.5), np.zeros(N + 1)])
        controller.set_reference(ref)
        result = controller.step(plant.x)
        assert result.success, result.message
        plant.step(result.u0, dt)
        errors.append(np.linalg.norm(plant.x[:2] - [speed * (k + 1) * dt, 0.5]))
    assert max(errors[-20:]) < 0.05   # locked on after the approach
    assert errors[0] > 0.3


def test_cart_pole_swings_up_and_stays_upright_within_3_s():
    """From the pole hanging down, acados' swing-up: upright and still within 3 s simulated,
    and it stays there."""
    controller = controller_for('cart_pole')
    dt = controller.cfg.dt
    log, summary = closed_loop.run(controller, np.array([0.0, np.pi, 0.0, 0.0]), int(5 / dt))
    x = np.asarray(log.x)
    still = np.all(np.abs(x[int(3 / dt):]) < [0.05, 0.02, 0.05, 0.05], axis=1)
    assert still.all(), x[int(3 / dt):][~still][:3]
    assert np.max(np.abs(x[:, 1] - np.pi)) > 3.0   # it did swing up
    assert summary['failures'] == 0 and np.all(np.abs(np.asarray(log.u)) <= 80.0 + 1e-9)


def test_ackermann_keeps_its_steering_limits_and_turns_by_steering():
    controller = controller_for('ackermann', goal=[1.5, 1.5, np.pi / 2, 0.0])
    log, summary = closed_loop.run(controller, np.zeros(4), 80, stop_at_goal=True)
    assert summary['goal_reached'], summary
    x, u = np.asarray(log.x), np.asarray(log.u)
    assert np.max(np.abs(x[:, 3])) <= 0.5 + 1e-6 and np.max(np.abs(x[:, 3])) > 0.2
    assert np.max(np.abs(u[:, 1])) <= 1.0 + 1e-9


def test_a_state_entry_the_message_does_not_carry_comes_from_the_prediction():
    """The car's odometry has no steering angle: the controller predicts it from the commands
    it sent, at first the nominal (straight) one."""
    controller = controller_for('ackermann')
    x = np.array([0.5, 0.2, 0.1, np.nan])
    assert controller.complete(x, [3]).tolist() == [0.5, 0.2, 0.1, 0.0]
    full = np.array([0.5, 0.2, 0.1, 0.2])
    controller.sent(full, np.array([0.5, 0.8]))
    period = 1.0 / controller.cfg.rate_hz
    ahead = Plant(controller.model, full, controller.cfg.model.params, max_step=0.002)
    expected = ahead.step([0.5, 0.8], period)
    got = controller.complete(np.array([0.6, 0.3, 0.2, np.nan]), [3])
    assert got[:3].tolist() == [0.6, 0.3, 0.2]
    assert got[3] == pytest.approx(expected[3], abs=1e-9) and got[3] == pytest.approx(0.28)
