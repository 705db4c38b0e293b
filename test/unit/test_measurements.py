"""The estimator's and the safety filter's message conversions (ros/measurements.py), without
DDS: partial states, commands, estimated parameters, the clock log."""
import math

import numpy as np
import pytest
from builtin_interfaces.msg import Time
from geometry_msgs.msg import Twist
from nav_msgs.msg import Odometry
from rcl_interfaces.msg import Parameter, ParameterEvent, ParameterType, ParameterValue
from rclpy.serialization import deserialize_message, serialize_message
from sensor_msgs.msg import JointState
from std_msgs.msg import Float64MultiArray

from casadi_mpc.core.models import build_model
from casadi_mpc.ros import measurements as io
from casadi_mpc.ros.conversions import Rejected

UNICYCLE = build_model('diff_drive')
ARM = build_model('planar_arm', links=2, joint_names=['shoulder', 'elbow'])
STAMP = Time(sec=3, nanosec=250000000)


def joint_state(names, position, velocity=()):
    msg = JointState(name=list(names), position=list(position), velocity=list(velocity))
    msg.header.stamp = STAMP
    return serialize_message(msg)


def test_joint_positions_alone_are_a_measurement_of_the_positions():
    buf = joint_state(['elbow', 'shoulder'], [0.2, 0.1])
    y, stamp = io.read_state(buf, ARM, np.array([0, 1]), 'odom')
    assert y.tolist() == [0.1, 0.2] and stamp == (3, 250000000)
    with pytest.raises(Rejected, match='velocities are measured'):
        io.read_state(buf, ARM, np.array([0, 1, 2, 3]), 'odom')
    y, _ = io.read_state(joint_state(['shoulder', 'elbow', 'x'], [0.1, 0.2, 9.0],
                                     [1.0, 2.0, 9.0]), ARM, np.array([0, 3]), 'odom')
    assert y.tolist() == [0.1, 2.0]


@pytest.mark.parametrize('buf, reason', [
    (joint_state(['shoulder'], [0.1]), 'lacks joint'),
    (joint_state(['shoulder', 'elbow'], [0.1]), '2 names but 1 positions'),
    (joint_state(['shoulder', 'shoulder'], [0.1, 0.2]), 'twice'),
    (joint_state(['shoulder', 'elbow'], [0.1, math.nan]), 'NaN or Inf'),
    (b'\x00\x01\x00\x00\x01', 'joint state')])
def test_bad_joint_states_are_rejected(buf, reason):
    with pytest.raises(Rejected, match=reason):
        io.read_state(buf, ARM, np.array([0, 1]), 'odom')


def test_odometry_pose_and_the_estimate_back_as_odometry():
    msg = Odometry()
    msg.header.stamp, msg.header.frame_id = STAMP, 'odom'
    msg.pose.pose.position.x, msg.pose.pose.position.y = 1.0, -2.0
    msg.pose.pose.orientation.z, msg.pose.pose.orientation.w = math.sin(0.25), math.cos(0.25)
    y, stamp = io.read_state(serialize_message(msg), UNICYCLE, np.array([0, 1, 2]), 'odom')
    np.testing.assert_allclose(y, [1.0, -2.0, 0.5])
    with pytest.raises(Rejected, match='frame'):
        io.read_state(serialize_message(msg), UNICYCLE, np.array([0, 1, 2]), 'map')
    out = deserialize_message(io.state_message(y, [0.3, 0.1], UNICYCLE, STAMP, 'odom',
                                               'base_link'), Odometry)
    assert (out.header.stamp, out.child_frame_id) == (STAMP, 'base_link')
    assert out.pose.pose.position.x == 1.0 and out.twist.twist.linear.x == 0.3
    arm = io.state_message([0.1, 0.2, 1.0, 2.0], None, ARM, STAMP, 'odom', 'base_link')
    assert list(arm.name) == ['shoulder', 'elbow'] and list(arm.velocity) == [1.0, 2.0]


def test_topics_and_commands_follow_the_model():
    assert io.state_topic(UNICYCLE) == (Odometry, 'odom')
    assert io.state_topic(ARM) == (JointState, 'joint_states')
    assert io.command_topic(UNICYCLE)[1] == 'cmd_vel'
    assert io.command_topic(ARM) == (Float64MultiArray, 'commands')
    twist = Twist()
    twist.linear.x, twist.angular.z = 0.5, -1.0
    assert io.read_command(twist, UNICYCLE).tolist() == [0.5, -1.0]
    assert io.read_command(Float64MultiArray(data=[1.0, 2.0]), ARM).tolist() == [1.0, 2.0]
    with pytest.raises(Rejected, match='takes 2'):
        io.read_command(Float64MultiArray(data=[1.0]), ARM)
    out = deserialize_message(io.command_message([0.5, -1.0], UNICYCLE), Twist)
    assert (out.linear.x, out.angular.z) == (0.5, -1.0)
    assert list(io.command_message([1.0, 2.0], ARM).data) == [1.0, 2.0]


def test_estimated_parameters_round_trip_and_bad_events():
    msg = io.parameter_event(['v_gain', 'omega_gain'], [0.9, 1.1], STAMP, '/estimator_node')
    assert io.read_parameter_event(msg, UNICYCLE) == {'model.params.v_gain': 0.9,
                                                      'model.params.omega_gain': 1.1}

    def event(name, value, kind=ParameterType.PARAMETER_DOUBLE):
        return ParameterEvent(changed_parameters=[Parameter(name=name, value=ParameterValue(
            type=kind, double_value=value))])
    for bad, reason in [(event('model.params.mass2', 1.0), 'no parameter of model'),
                        (event('goal', 1.0), 'no parameter of model'),
                        (event('model.params.v_gain', math.nan), 'finite double'),
                        (event('model.params.v_gain', 1.0, ParameterType.PARAMETER_INTEGER),
                         'finite double'), (ParameterEvent(), 'no parameter')]:
        with pytest.raises(Rejected, match=reason):
            io.read_parameter_event(bad, UNICYCLE)


def test_the_clock_log_gives_the_time_in_force_at_an_arrival():
    log = io.ClockLog(size=3)
    assert log.at(100) is None
    for received, clock in ((100, 10), (200, 20), (300, 30), (150, 99)):
        log.add(received, clock)
    assert [log.at(t) for t in (120, 200, 250, 1000)] == [10, 20, 20, 30]
    log.add(400, 40)    # the oldest tick leaves
    assert log.at(150) is None and log.at(450) == 40
