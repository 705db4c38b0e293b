"""Bad input and faults over DDS, the cases users and faulty robots send: the node keeps
commanding at its rate, every command finite and inside the bounds, every bad message
rejected and counted with its reason, the log bounded, and recovery within about a second.

The test plays the robot (mpc_node alone on wall time) and stamps its states as a driver does.
"""
import time

import numpy as np
import pytest
from geometry_msgs.msg import PoseStamped, Twist
from nav_msgs.msg import Odometry
from sensor_msgs.msg import JointState

from casadi_mpc.bringup import default_params_file
from casadi_mpc.core.config import load
from casadi_mpc.ros import qos
from casadi_mpc.ros.conversions import planar_pose

CFG = load(default_params_file('diff_drive'))
LB, UB = np.array(CFG.bounds.u_min), np.array(CFG.bounds.u_max)


def odometry(x=0.0, frame='odom'):
    msg = Odometry()
    msg.header.frame_id, msg.child_frame_id = frame, 'base_link'
    msg.pose.pose.position.x = x
    msg.pose.pose.orientation.w = 1.0
    return msg


class Robot:
    """The diff-drive controller with this test as its robot: a good state every 20 ms
    (``bad`` replaces it while set)."""

    def __init__(self, systems, probe, **mpc):
        self.probe = probe
        self.system = systems.controller_only('diff_drive', mpc=dict(
            {'goal': [2.0, 0.0, 0.0]}, **mpc))
        self.cmd = probe.record(Twist, 'cmd_vel')
        self.diag = probe.diagnostics()
        self.odom = probe.publisher(Odometry, 'odom', qos.STATE)
        self.bad = None
        self.timer = probe.node.create_timer(0.02, self._tick)
        probe.wait_for(lambda: self.diag.value('mode') == 'NORMAL' and len(self.cmd) > 0, 30,
                       'the controller running and its commands arriving', self.system.check)

    def _tick(self):
        msg = self.bad() if self.bad is not None else self.probe.stamped(odometry())
        self.odom.publish(msg)

    def rejected(self):
        return int(self.diag.value('rejected_messages'))

    def during(self, make_bad, seconds, what):
        """Send ``make_bad()`` in place of the good state for ``seconds``, then good states;
        returns (rejected count before, the telemetry during and after)."""
        before, t0 = self.rejected(), time.monotonic()
        self.bad = make_bad
        self.probe.wait_for(lambda: time.monotonic() - t0 >= seconds, seconds + 5, what,
                            self.system.check)
        self.bad = None
        return before, t0

    def recovers(self, within=1.5):
        t_good = time.monotonic()
        self.probe.wait_for(lambda: any(d['mode'] == 'NORMAL' for d in
                                        self.diag.since(t_good)), within + 5,
                            'NORMAL after good input', self.system.check)
        first = next(t for t, d in self.diag.items if t >= t_good and d['mode'] == 'NORMAL')
        assert first - t_good <= within, first - t_good

    def check_commands(self, since):
        got = self.cmd.since(since)
        assert got, 'no command'
        u = np.array([[m.linear.x, m.angular.z] for m in got])
        assert np.all(np.isfinite(u))
        assert np.all(u >= LB - 1e-9) and np.all(u <= UB + 1e-9)
        return got


@pytest.fixture
def robot(systems, probe):
    return Robot(systems, probe)


BAD_STATES = {
    'NaN position': (lambda p: p.stamped(odometry(float('nan'))), 'NaN'),
    'frame map': (lambda p: p.stamped(odometry(frame='map')), "frame 'map'"),
    'frame empty': (lambda p: p.stamped(odometry(frame='')), "frame ''"),
    'no stamp': (lambda p: odometry(), 'no stamp'),
    'stamped 1 h ago': (lambda p: p.stamped(odometry(), -3600.0), 'older than state_timeout'),
    'stamped 1 h ahead': (lambda p: p.stamped(odometry(), 3600.0), 'in the future'),
    'all default': (lambda p: Odometry(), 'frame'),
    'quaternion 1e200': (lambda p: scaled_quaternion(p, 1e200), 'not a unit quaternion'),
}


def scaled_quaternion(probe, scale):
    msg = probe.stamped(odometry())
    msg.pose.pose.orientation.w = scale
    return msg


@pytest.mark.parametrize('case', sorted(BAD_STATES))
def test_bad_states_are_rejected_counted_and_stop_the_robot(robot, probe, case):
    make, reason = BAD_STATES[case]
    before, t0 = robot.during(lambda: make(probe), 1.0, case)
    assert robot.rejected() >= before + 20          # ~50 of them at 50 Hz
    assert reason in robot.diag.value('last_rejection'), robot.diag.value('last_rejection')
    modes = {d['mode'] for d in robot.diag.since(t0 + 0.7)}
    assert 'STALE' in modes                          # never used: the state went stale
    got = robot.check_commands(t0)
    stale_cmds = [m for t, m in robot.cmd.items if t0 + 0.7 <= t <= t0 + 1.0]
    assert any(m.linear.x == 0.0 and m.angular.z == 0.0 for m in stale_cmds)
    robot.recovers()
    assert len(got) > 0


@pytest.mark.parametrize('huge', [1e10, 1e300])
def test_a_burst_of_huge_states_then_recovery_within_a_second(robot, probe, huge):
    """The reported case: 13 odometry messages at x = 1e10 (0.26 s) locked the controller in
    SAFE for good. Commands keep coming while they arrive, and good states bring it back."""
    n0 = len(robot.cmd)
    robot.during(lambda: probe.stamped(odometry(huge)), 0.26, 'the burst')
    assert len(robot.cmd) > n0   # commands kept coming
    robot.recovers(within=1.0)
    robot.check_commands(0.0)


def test_a_goal_far_outside_the_world_then_a_sane_goal(robot, probe):
    goal = probe.publisher(PoseStamped, 'goal_pose')
    probe.publish_until(goal, planar_pose(1e10, 0.0, 0.0), lambda: robot.diag.value('goal') ==
                        '1e+10 0 0', 10, 'the far goal taken', robot.system.check)
    t0 = time.monotonic()
    probe.publish_until(goal, planar_pose(1.0, 0.5, 0.0), lambda: robot.diag.value('goal') ==
                        '1 0.5 0', 10, 'the sane goal taken', robot.system.check)
    robot.recovers(within=1.0)
    robot.check_commands(t0)


def test_a_goal_flood_is_handled_and_the_log_stays_short(robot, probe):
    goal = probe.publisher(PoseStamped, 'goal_pose')
    t0, k = time.monotonic(), 0
    while time.monotonic() - t0 < 2.0:   # about 1 kHz of changing goals
        k += 1
        goal.publish(planar_pose(1.0 + 1e-3 * (k % 100), 0.0, 0.0))
        time.sleep(0.001)
    probe.publish_until(goal, planar_pose(1.5, 0.0, 0.0), lambda: robot.diag.value('goal') ==
                        '1.5 0 0', 10, 'the last goal taken', robot.system.check)
    assert k > 500
    lines = robot.system['mpc_node'].output().count('new goal')
    assert lines <= 5, lines    # throttled: a line per 2 s
    robot.check_commands(t0)
    assert robot.diag.value('mode') == 'NORMAL'


def test_joint_goal_outside_the_limits_is_rejected_naming_the_joint(systems, probe):
    system = systems.sim('planar_arm', real_time_factor=1.0)
    diag = probe.diagnostics()
    probe.wait_for(lambda: diag.value('mode') == 'NORMAL', 60, 'the arm running', system.check)
    goal = probe.publisher(JointState, 'goal_joints')
    msg = JointState(name=['joint1', 'joint2'], position=[10.0, 0.0])
    probe.publish_until(goal, msg, lambda: 'joint1' in (diag.value('last_rejection') or ''),
                        10, 'the goal rejected', system.check)
    assert 'outside the state bounds' in diag.value('last_rejection')
    assert diag.value('goal') != '10 0 0 0'
    assert diag.value('mode') == 'NORMAL'
