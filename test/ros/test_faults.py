"""Faults over DDS: the controller keeps sending safe, bounded commands and says why."""
import time

import numpy as np
from geometry_msgs.msg import PoseStamped, Twist
from nav_msgs.msg import Odometry
from sensor_msgs.msg import JointState
from std_msgs.msg import Float64MultiArray

from casadi_mpc.bringup import default_params_file
from casadi_mpc.core.config import load
from casadi_mpc.core.models import build
from casadi_mpc.ros import qos
from casadi_mpc.ros.conversions import planar_pose

TRANSPORT_SLACK = 0.2   # [s] scheduling and delivery on a loaded 2-core machine


def start_moving(systems, probe, goal=(3.0, 0.0, 0.0), **kwargs):
    """The diff-drive system holding its start, then driving straight to ``goal``."""
    system = systems.sim('diff_drive', mpc={'goal': [0.0, 0.0, 0.0]}, **kwargs)
    cmd = probe.record(Twist, 'cmd_vel')
    diag = probe.diagnostics()
    probe.wait_for(lambda: diag.value('mode') == 'NORMAL', 30, 'the controller running',
                   system.check)
    pub = probe.publisher(PoseStamped, 'goal_pose')
    probe.publish_until(pub, planar_pose(*goal), lambda: cmd.last() is not None and
                        cmd.last().linear.x > 0.3, 10, 'the robot moving')
    return system, cmd, diag


def test_sim_killed_safe_command_within_state_timeout(systems, probe):
    cfg = load(default_params_file('diff_drive'))
    system, cmd, diag = start_moving(systems, probe)
    t0 = time.monotonic()
    system.kill('sim_node')

    def stopped():
        return [t for t, m in cmd.items if t >= t0 and m.linear.x == 0.0 and
                m.angular.z == 0.0]
    probe.wait_for(stopped, 5, 'a zero command after the simulator died')
    latency = stopped()[0] - t0
    print('safe command %.3f s after the simulator died' % latency)
    assert latency <= cfg.state_timeout + 1.0 / cfg.rate_hz + TRANSPORT_SLACK, latency
    probe.wait_for(lambda: diag.value('mode') == 'STALE', 2, 'mode STALE')
    assert 'state' in diag.value('reason')
    assert system.dead() == {'sim_node': -9}


def arm_state(names, q, dq):
    return JointState(name=list(names), position=[float(v) for v in q],
                      velocity=[float(v) for v in dq])


def test_bad_joint_states_rejected_then_safe_hold(systems, probe):
    cfg = load(default_params_file('planar_arm'))
    model = build(cfg.model)
    system = systems.controller_only('planar_arm', mpc={'state_timeout': 0.3})
    cmd = probe.record(Float64MultiArray, 'commands')
    diag = probe.diagnostics()
    pub = probe.publisher(JointState, 'joint_states', qos.STATE)
    # a good state with the joints in another order plus a joint the model does not have
    good = arm_state(['gripper', 'joint2', 'joint1'], [0.5, 0.0, 0.0], [0.0, 0.0, 0.0])
    timer = probe.node.create_timer(0.02, lambda: pub.publish(probe.stamped(good)))
    probe.wait_for(lambda: diag.value('mode') not in (None, 'NO_STATE'), 30,
                   'the state accepted', system.check)
    bad = [arm_state(['joint1', 'joint2'], [float('nan'), 0.0], [0.0, 0.0]),
           arm_state(['joint1', 'joint2'], [0.0], [0.0, 0.0]),
           arm_state(['shoulder', 'elbow'], [0.0, 0.0], [0.0, 0.0]),
           arm_state(['joint1', 'joint2'], [0.0, 0.0], [float('inf'), 0.0])]
    for i, msg in enumerate(bad):
        probe.publish_until(pub, msg, lambda: diag.number('rejected_messages') >= i + 1, 10,
                            'bad message %d rejected' % i, system.check)
    assert 'joint' in diag.value('last_rejection')
    probe.node.destroy_timer(timer)
    t0 = time.monotonic()
    probe.wait_for(lambda: diag.value('mode') == 'STALE', 5, 'mode STALE', system.check)
    system.check()
    # the safe command holds the last good configuration against gravity, inside the bounds
    p = model.param_vector(cfg.model.params)
    hold = np.clip(model.safe_input(np.zeros(4), p, True), cfg.bounds.u_min, cfg.bounds.u_max)
    probe.wait_for(lambda: cmd.since(t0) and np.allclose(cmd.last().data, hold, atol=1e-6), 5,
                   'the holding torque')
    for m in cmd.msgs:
        u = np.asarray(m.data)
        assert np.all(np.isfinite(u))
        assert np.all(u >= np.asarray(cfg.bounds.u_min) - 1e-9)
        assert np.all(u <= np.asarray(cfg.bounds.u_max) + 1e-9)


def test_bad_odometry_and_wrong_frame_goal_rejected(systems, probe):
    system = systems.controller_only('diff_drive')
    diag = probe.diagnostics()
    odom = probe.publisher(Odometry, 'odom', qos.STATE)
    msg = Odometry()
    msg.header.frame_id = 'odom'
    msg.pose.pose.orientation.w = 1.0
    nan = Odometry()
    nan.header.frame_id = 'odom'
    nan.pose.pose.position.x = float('nan')
    nan.pose.pose.orientation.w = 1.0
    zero_q = Odometry()
    zero_q.header.frame_id = 'odom'
    zero_q.pose.pose.orientation.w = 0.0
    probe.publish_until(odom, lambda: probe.stamped(msg),
                        lambda: diag.value('mode') == 'NORMAL', 30,
                        'the controller running', system.check)
    probe.publish_until(odom, lambda: probe.stamped(nan),
                        lambda: diag.number('rejected_messages') >= 1, 10,
                        'NaN odometry rejected', system.check)
    probe.publish_until(odom, lambda: probe.stamped(zero_q),
                        lambda: 'zero quaternion' in diag.value('last_rejection'),
                        10, 'a zero quaternion rejected', system.check)
    before = diag.value('goal')
    goal = probe.publisher(PoseStamped, 'goal_pose')
    probe.publish_until(goal, planar_pose(1.0, 0.0, 0.0, 'map'),
                        lambda: "frame 'map'" in diag.value('last_rejection'), 10,
                        'the wrong-frame goal rejected', system.check)
    assert diag.value('goal') == before
    system.check()


def test_solver_failure_fallback_then_safe_then_recovery(systems, probe):
    cfg = load(default_params_file('diff_drive'))
    system, cmd, diag = start_moving(systems, probe, goal=(3.0, 0.0, 0.0),
                                     real_time_factor=2.0)
    result, = probe.set_parameters('mpc_node', {'solver.time_limit': 1e-6})
    assert result.successful, result.reason
    probe.wait_for(lambda: diag.value('mode') == 'SAFE', 10, 'mode SAFE', system.check)
    modes = [d['mode'] for d in diag.msgs]
    first_fallback, first_safe = modes.index('FALLBACK'), modes.index('SAFE')
    assert first_fallback < first_safe
    assert first_safe - first_fallback == cfg.fallback_steps
    assert diag.value('solver_status') == 'timeout'
    probe.wait_for(lambda: cmd.last().linear.x == 0.0 and cmd.last().angular.z == 0.0, 5,
                   'the safe (zero) command')
    result, = probe.set_parameters('mpc_node', {'solver.time_limit': 0.05})
    assert result.successful, result.reason
    probe.wait_for(lambda: diag.value('mode') == 'NORMAL', 10, 'recovery', system.check)
    assert diag.number('recoveries') >= 1
    assert diag.number('fallbacks') == cfg.fallback_steps
    probe.wait_for(lambda: diag.value('goal_reached') == 'true', 30, 'the goal after recovery',
                   system.check)
