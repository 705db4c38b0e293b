"""safety_filter_node over DDS: a teleop drives the simulated diff-drive straight at an obstacle
through the filter; bad input and a stale state."""
import bisect
import math
import time

import numpy as np
import pytest
from geometry_msgs.msg import PoseStamped, Twist
from nav_msgs.msg import Odometry
from std_msgs.msg import Float64MultiArray

from casadi_mpc import bringup
from casadi_mpc.bringup import default_params_file
from casadi_mpc.core.safety_filter import SafetyFilter
from casadi_mpc.core.safety_filter_config import load
from casadi_mpc.ros import qos
from casadi_mpc.ros.conversions import planar_pose

CFG = load(default_params_file('diff_drive'))
CENTRE, RADIUS = (2.0, 0.0), 0.3
MARGIN = CFG.obstacles.margin
# the obstacle is a penalty until the constraint terms land: the robot may touch the margin's
# edge by this much [m] (a fraction of a millimetre in practice)
EDGE = 2e-3


@pytest.fixture(scope='module', autouse=True)
def compiled_filter():
    """Build the filter's compiled solver into the test cache, so the node only loads it."""
    SafetyFilter(CFG)


def filter_specs(mode='sim', **args):
    specs = bringup.system(mode, dict(args, safety_filter='true'), {'safety_filter_node': {
        'obstacles.x': [CENTRE[0]], 'obstacles.y': [CENTRE[1]], 'obstacles.radius': [RADIUS]}})
    return [s for s in specs if s.name != 'mpc_node']   # the test is the teleop


def twist(v, w=0.0):
    msg = Twist()
    msg.linear.x, msg.angular.z = float(v), float(w)
    return msg


def distance(msg):
    p = msg.pose.pose.position
    return math.hypot(p.x - CENTRE[0], p.y - CENTRE[1])


def test_teleop_driving_at_an_obstacle_stops_outside_its_margin(systems, probe):
    system = systems.start(filter_specs(real_time_factor='1.0'))
    odom = probe.record(Odometry, 'odom', qos.STATE)
    out = probe.record(Twist, 'cmd_vel')
    tel = probe.diagnostics('safety_filter_node')
    teleop = probe.publisher(Twist, 'cmd_vel_in')
    probe.wait_for(lambda: tel.value('mode') is not None and len(odom), 60,
                   'the filter running', system.check)
    sent = []

    def drive(k):   # ramps up within the acceleration limit, then holds 0.5 m/s
        msg = twist(min(0.5, 0.04 * (k + 1)))
        sent.append(msg.linear.x)
        teleop.publish(msg)
    k, start = 0, time.monotonic()
    while time.monotonic() - start < 8.0:   # 20 Hz, as a teleop sends
        drive(k)
        k += 1
        probe.wait_for(lambda: time.monotonic() >= start + 0.05 * k, 1.0, 'the next tick',
                       system.check)
    gaps = [distance(m) - RADIUS for m in odom.msgs]
    # in free space (more than 0.5 m from the margin, twice the braking distance) each command
    # goes out as it came in, bit for bit
    times = [t for t, _ in odom.items]
    free = [m.linear.x for t, m in out.items if t > start and
            gaps[max(0, bisect.bisect(times, t) - 1)] > MARGIN + 0.5]
    assert len(free) > 20 and all(v in sent for v in free), free
    assert min(gaps) >= MARGIN - EDGE, 'entered the margin by %.4f m' % (MARGIN - min(gaps))
    assert gaps[-1] <= MARGIN + 0.02               # it drove up to the obstacle ...
    assert abs(odom.last().twist.twist.linear.x) < 0.05   # ... and stands there
    assert int(tel.value('interventions')) > 0 and int(tel.value('passed')) > 20
    assert tel.value('rejected_messages') == '0'
    # the teleop goes quiet: the desired command goes stale and the robot is braked to rest
    probe.wait_for(lambda: tel.value('mode') == 'FALLBACK', 5, 'the stale teleop noticed',
                   system.check)
    probe.wait_for(lambda: out.last().linear.x == 0.0, 5, 'the safe command', system.check)
    assert 'stale' in tel.value('reason')


def test_bad_input_is_rejected_and_a_stale_state_sends_the_safe_command(systems, probe):
    """The filter alone on wall time; the test plays robot (odometry) and teleop."""
    specs = filter_specs(use_sim_time='false')
    system = systems.start([s for s in specs if s.name == 'safety_filter_node'])
    out = probe.record(Twist, 'cmd_vel')
    tel = probe.diagnostics('safety_filter_node')
    teleop = probe.publisher(Twist, 'cmd_vel_in')
    odom = probe.publisher(Odometry, 'odom', qos.STATE)
    obstacles = probe.publisher(Float64MultiArray, 'obstacles')

    def state():
        msg = Odometry()
        msg.header.frame_id, msg.pose.pose.orientation.w = 'odom', 1.0
        return probe.stamped(msg)

    def tick(command=None):
        odom.publish(state())
        teleop.publish(command if command is not None else twist(0.0))
    probe.publish_until(teleop, lambda: (odom.publish(state()), twist(0.0))[1],
                        lambda: tel.value('mode') == 'NORMAL', 60, 'the filter running',
                        system.check)
    bad = [(twist(float('nan')), 'NaN'), (Float64MultiArray(data=[1.0, 2.0]), 'obstacles'),
           (Float64MultiArray(data=[1.0, 0.0, -0.5]), 'radii')]
    for i, (msg, reason) in enumerate(bad):
        pub = obstacles if isinstance(msg, Float64MultiArray) else teleop
        probe.publish_until(pub, msg, lambda: int(tel.value('rejected_messages')) > i, 10,
                            'bad input %d rejected' % i, lambda: (system.check(), tick()))
        assert reason in tel.value('last_rejection')
    assert all(np.isfinite([m.linear.x, m.angular.z]).all() for m in out.msgs)
    # an obstacle from the topic right ahead: a desired 0.5 m/s is held back
    probe.publish_until(obstacles, Float64MultiArray(data=[0.6, 0.0, 0.3]),
                        lambda: float(tel.value('intervention')) > 0.0, 10,
                        'the obstacle from the topic in force',
                        lambda: (system.check(), tick(twist(0.5))))
    # no more odometry: the state goes stale and the safe command goes out
    probe.wait_for(lambda: tel.value('mode') == 'STALE', 5, 'the stale state',
                   lambda: (system.check(), teleop.publish(twist(0.5))))
    assert out.last().linear.x == 0.0 and out.last().angular.z == 0.0


def test_the_whole_system_reaches_the_goal_through_estimator_and_filter(systems, probe):
    """sim_node, estimator_node, safety_filter_node and mpc_node as sim.launch.py starts them
    with estimator:=true safety_filter:=true, on a robot whose gains are 10 % off."""
    system = systems.sim('diff_drive', real_time_factor=2.0, estimator='true',
                         safety_filter='true', mpc={'goal': [0.0, 0.0, 0.0]},
                         sim={'model.params.v_gain': 0.9, 'model.params.omega_gain': 1.1})
    diag = probe.diagnostics()
    filtered = probe.diagnostics('safety_filter_node')
    est = probe.diagnostics('estimator_node')
    probe.wait_for(lambda: diag.value('mode') == 'NORMAL' and filtered.value('mode') ==
                   'NORMAL', 60, 'the system running', system.check)
    goal = probe.publisher(PoseStamped, 'goal_pose')
    probe.publish_until(goal, planar_pose(1.0, 0.5, 0.4636), lambda: diag.value('goal') ==
                        '1 0.5 0.4636', 10, 'the goal accepted', system.check)
    probe.wait_for(lambda: diag.value('goal_reached') == 'true', 60, 'the goal reached',
                   system.check)
    assert int(filtered.value('passed')) > 0 and filtered.value('rejected_messages') == '0'
    # the estimates' accuracy is test_estimator's (a drive that excites them); a short drive
    # to a goal on a loaded machine only shows them on their way, and followed
    assert abs(float(est.value('estimate.v_gain')) / 0.9 - 1) < 0.15
    assert abs(float(est.value('estimate.omega_gain')) / 1.1 - 1) < 0.15
    (followed,) = probe.get_parameters('mpc_node', ['model.params.v_gain'])
    assert abs(followed / 0.9 - 1) < 0.15
