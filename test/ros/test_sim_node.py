"""sim_node alone: state and clock out, commands in, stale commands dropped."""
from geometry_msgs.msg import Twist
from nav_msgs.msg import Odometry
from rosgraph_msgs.msg import Clock
from sensor_msgs.msg import JointState
from std_msgs.msg import Float64MultiArray

from casadi_mpc import bringup
from casadi_mpc.ros import conversions as conv, qos


def sim_only(systems, robot, **params):
    specs = bringup.system('sim', {'robot': robot}, {'sim_node': params})
    return systems.start([s for s in specs if s.name == 'sim_node'])


def test_base_odometry_clock_and_command_timeout(systems, probe):
    system = sim_only(systems, 'diff_drive', publish_clock=True, real_time_factor=4.0,
                      command_timeout=0.3)
    odom = probe.record(Odometry, 'odom', qos.STATE)
    clock = probe.record(Clock, '/clock', qos.CLOCK)
    probe.wait_for(lambda: len(odom) > 5 and len(clock) > 5, 30, 'odometry and /clock',
                   system.check)
    msg = odom.last()
    assert (msg.header.frame_id, msg.child_frame_id) == ('odom', 'base_link')
    assert conv.seconds(msg.header.stamp) > 0
    assert any(c.clock == msg.header.stamp for c in clock.msgs[-20:])
    cmd = Twist()
    cmd.linear.x = 0.5
    pub = probe.publisher(Twist, 'cmd_vel')
    probe.publish_until(pub, cmd, lambda: odom.last().twist.twist.linear.x == 0.5, 10,
                        'the command applied', system.check)
    sent = conv.seconds(odom.last().header.stamp)
    probe.wait_for(lambda: odom.last().twist.twist.linear.x == 0.0, 10, 'the command dropped',
                   system.check)
    dropped = conv.seconds(odom.last().header.stamp)
    assert 0.2 <= dropped - sent <= 0.3 + 0.2     # command_timeout in simulated time
    assert odom.last().pose.pose.position.x > 0.05


def test_arm_joint_states_and_rejected_commands(systems, probe):
    system = sim_only(systems, 'planar_arm', real_time_factor=1.0)
    js = probe.record(JointState, 'joint_states', qos.STATE)
    probe.wait_for(lambda: len(js) > 20, 30, 'joint states', system.check)
    assert list(js.last().name) == ['joint1', 'joint2']
    # brakes on (hold_until_command) until the first command: no fall under gravity
    assert list(js.last().position) == [0.0, 0.0]
    assert len(js.last().velocity) == 2 and list(js.last().effort) == [0.0, 0.0]
    pub = probe.publisher(Float64MultiArray, 'commands')
    probe.publish_until(pub, Float64MultiArray(data=[1.0, 2.0, 3.0]),
                        lambda: 'rejected command' in system['sim_node'].output(), 10,
                        'a wrong-size command rejected', system.check)
    assert list(js.last().position) == [0.0, 0.0]   # a rejected command releases nothing
    probe.publish_until(pub, Float64MultiArray(data=[5.0, -2.0]),
                        lambda: list(js.last().effort) == [5.0, -2.0], 10,
                        'the torque applied', system.check)
    probe.wait_for(lambda: js.last().position[0] != 0.0, 5, 'the arm moving', system.check)


def test_live_mismatch_and_noise_parameters(systems, probe):
    system = sim_only(systems, 'planar_arm', real_time_factor=1.0)
    js = probe.record(JointState, 'joint_states', qos.STATE)
    probe.wait_for(lambda: len(js) > 5, 30, 'joint states', system.check)
    ok = probe.set_parameters('sim_node', {'model.params.damping1': 0.3,
                                           'noise_std': [0.001]})
    assert all(r.successful for r in ok), [r.reason for r in ok]
    bad, = probe.set_parameters('sim_node', {'noise_std': [0.1, 0.2]})
    assert not bad.successful and 'noise_std' in bad.reason
    ro, = probe.set_parameters('sim_node', {'sim_rate_hz': 10.0})
    assert not ro.successful
