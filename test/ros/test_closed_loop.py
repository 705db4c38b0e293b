"""Closed loop over DDS: sim_node + mpc_node reach the goal, in bounds, with diagnostics."""
import numpy as np
import pytest
from nav_msgs.msg import Odometry, Path
from sensor_msgs.msg import JointState
from std_msgs.msg import Float64MultiArray
from trajectory_msgs.msg import JointTrajectory

from casadi_mpc.core.config import load
from casadi_mpc.core.controller import MPCController
from casadi_mpc.core.models import build_model
from casadi_mpc.ros import conversions as conv, qos
from casadi_mpc.bringup import default_params_file

DIAGNOSTIC_KEYS = ('mode', 'solver_status', 'solve_time_ms', 'iterations', 'deadline_misses',
                   'rejected_messages', 'fallbacks', 'cost.task', 'cost.energy', 'energy_used',
                   'goal_error', 'goal_reached', 'solver_builds')


def bounds(robot):
    cfg = load(default_params_file(robot))
    model = build_model(cfg.model.name, **cfg.model.options())
    return np.asarray(cfg.bounds.u_min or model.u_lb), np.asarray(cfg.bounds.u_max or model.u_ub)


def in_bounds(commands, lb, ub, tol=1e-9):
    u = np.asarray(commands, float)
    return bool(np.all(np.isfinite(u)) and np.all(u >= lb - tol) and np.all(u <= ub + tol))


def test_diff_drive_reaches_goal(systems, probe):
    path = probe.record(Path, 'mpc_node/predicted_path')
    _, cmd, diag = systems.diff_drive_to_goal(probe)
    lb, ub = bounds('diff_drive')
    assert len(cmd) > 10
    assert in_bounds([[m.linear.x, m.angular.z] for m in cmd.msgs], lb, ub)
    assert any(abs(m.linear.x) > 0.1 for m in cmd.msgs)
    last = diag.last()
    for key in DIAGNOSTIC_KEYS:
        assert key in last, key
    assert float(last['goal_error']) < 0.1
    assert float(last['energy_used']) > 0
    assert last['rejected_messages'] == '0'
    horizon = len(path.last().poses)
    assert horizon == 21 and path.last().header.frame_id == 'odom'


def test_namespaced_system_gets_its_parameters_and_topics(systems, probe):
    system = systems.sim('diff_drive', real_time_factor=3.0, namespace='robot1')
    odom = probe.record(Odometry, '/robot1/odom', qos.STATE)
    path = probe.record(Path, '/robot1/mpc_node/predicted_path')
    diag = probe.diagnostics('/robot1/mpc_node')   # /robot1/mpc_node/telemetry
    status = probe.status('/robot1/mpc_node')      # /diagnostics stays global
    probe.wait_for(lambda: diag.value('mode') == 'NORMAL' and len(odom) and len(path) and
                   status.value('mode') == 'NORMAL', 30, 'the namespaced controller running',
                   system.check)
    assert diag.value('goal') == '2 1 1.571'   # from the parameter file
    assert diag.value('solver') == 'sqp' and status.value('solver') == 'sqp'


# per robot: real-time factor, controller overrides (kept modest for 2 cores) and the joint
# target sent over the topic once the start goal is reached
ARMS = {'planar_arm': (1.0, {}, [1.9708, -0.8]),
        'urdf_arm': (1.0, {'goal': [0.0] * 14}, [0.5, -0.4, 0.3, -1.0, 0.2, 0.6, 0.0])}


@pytest.mark.parametrize('robot', sorted(ARMS))
def test_arm_reaches_goal(systems, probe, robot):
    pytest.importorskip('casadi_mpc.core.models.%s' % robot)
    cfg = load(default_params_file(robot))
    model = build_model(cfg.model.name, **cfg.model.options())
    rtf, overrides, target = ARMS[robot]
    if cfg.solver.compiled:
        MPCController(cfg)   # build the compiled solver into the test cache: the node loads it
    system = systems.sim(robot, real_time_factor=rtf, mpc=overrides)
    cmd = probe.record(Float64MultiArray, 'commands')
    traj = probe.record(JointTrajectory, 'mpc_node/predicted_trajectory')
    diag = probe.diagnostics()
    # (the solver comes from the cache the test filled; on a loaded machine even loading and
    # the first steps take a while: the controller running first, then the goal in its time)
    probe.wait_for(lambda: diag.value('mode') is not None, 180, 'the controller running',
                   system.check)
    probe.wait_for(lambda: diag.value('goal_reached') == 'true', 60, 'the start goal reached',
                   system.check)
    if cfg.solver.compiled:   # the node loaded the solver the test built: same structure
        assert 'loaded the compiled' in system.processes['mpc_node'].output()
    n = len(model.joint_names)
    # joints in reverse order: the controller matches them by name
    msg = JointState(name=list(model.joint_names)[::-1], position=target[::-1])
    goal = probe.publisher(JointState, 'goal_joints')
    expected = ' '.join('%.4g' % g for g in target + [0.0] * n)
    probe.publish_until(goal, msg, lambda: diag.value('goal') == expected, 10,
                        'the goal accepted', system.check)
    probe.wait_for(lambda: diag.value('goal') == expected and
                   diag.value('goal_reached') == 'true', 60, 'the goal reached', system.check)
    lb = np.asarray(cfg.bounds.u_min or model.u_lb)
    ub = np.asarray(cfg.bounds.u_max or model.u_ub)
    assert in_bounds([m.data for m in cmd.msgs], lb, ub)
    last = traj.last()
    assert list(last.joint_names) == list(model.joint_names)
    assert len(last.points) == cfg.horizon + 1
    assert conv.seconds(last.points[-1].time_from_start) == pytest.approx(cfg.horizon * cfg.dt)
    assert int(diag.value('rejected_messages')) == 0
