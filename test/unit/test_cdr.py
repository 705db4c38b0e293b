"""Plain CDR on the control path against rclpy's own serialization."""
import math
import struct

import numpy as np
import pytest
from geometry_msgs.msg import Twist, TwistStamped
from nav_msgs.msg import Odometry
from sensor_msgs.msg import JointState
from rclpy.serialization import deserialize_message, serialize_message

from casadi_mpc.core.models import build_model
from casadi_mpc.ros import cdr, conversions as conv

UNICYCLE = build_model('diff_drive')
POINT = build_model('double_integrator', dim=2)


def odometry(frame='odom', child='base_link', seed=0):
    rng = np.random.default_rng(seed)
    msg = Odometry()
    msg.header.stamp.sec, msg.header.stamp.nanosec = 1234 + seed, 987654321 - seed
    msg.header.frame_id, msg.child_frame_id = frame, child
    p, q = msg.pose.pose.position, msg.pose.pose.orientation
    p.x, p.y, p.z = rng.normal(size=3)
    rotation = rng.normal(size=4)
    q.x, q.y, q.z, q.w = rotation / np.linalg.norm(rotation)
    msg.pose.covariance = rng.normal(size=36)
    t = msg.twist.twist
    t.linear.x, t.linear.y, t.linear.z = rng.normal(size=3)
    t.angular.x, t.angular.y, t.angular.z = rng.normal(size=3)
    msg.twist.covariance = rng.normal(size=36)
    return msg


# every string length modulo 8, so every padding case before the doubles is met
FRAMES = [('', ''), ('o', 'b'), ('odom', 'base_link'), ('map', 'robot_1/base_footprint'),
          ('abcdefg', 'abcdefgh'), ('αβ', 'frame with spaces')]


@pytest.mark.parametrize('seed,frames', list(enumerate(FRAMES)))
def test_read_odometry_matches_rclpy(seed, frames):
    msg = odometry(*frames, seed=seed)
    stamp, frame, child, position, orientation, linear, angular = cdr.read_odometry(
        serialize_message(msg))
    assert stamp == (msg.header.stamp.sec, msg.header.stamp.nanosec)
    assert (frame, child) == frames
    p, q, t = msg.pose.pose.position, msg.pose.pose.orientation, msg.twist.twist
    assert position == (p.x, p.y, p.z)
    assert orientation == (q.x, q.y, q.z, q.w)
    assert linear == (t.linear.x, t.linear.y, t.linear.z)
    assert angular == (t.angular.x, t.angular.y, t.angular.z)


def test_big_endian_is_read_too():
    # a big-endian Odometry by hand: stamp, two strings, 7 + 36 + 6 doubles
    body = struct.pack('>iI', -3, 7) + struct.pack('>I', 2) + b'a\x00'
    body += b'\x00\x00' + struct.pack('>I', 1) + b'\x00'
    body += b'\x00' * (-len(body) % 8)
    body += struct.pack('>7d', 1, 2, 3, 0, 0, 0, 1) + struct.pack('>36d', *range(36))
    body += struct.pack('>6d', 4, 5, 6, 7, 8, 9) + struct.pack('>36d', *range(36))
    stamp, frame, child, position, orientation, linear, angular = cdr.read_odometry(
        b'\x00\x00\x00\x00' + body)
    assert (stamp, frame, child) == ((-3, 7), 'a', '')
    assert (position, orientation) == ((1, 2, 3), (0, 0, 0, 1))
    assert (linear, angular) == ((4, 5, 6), (7, 8, 9))


@pytest.mark.parametrize('buf,why', [
    (b'', 'encapsulation'),
    (b'\x00\x07\x00\x00' + b'\x00' * 400, 'encapsulation'),     # XCDR2 is not plain CDR
    (serialize_message(odometry())[:100], 'ends early'),
    (serialize_message(odometry())[:-1], 'ends early'),
    (b'\x00\x01\x00\x00' + struct.pack('<iII', 0, 0, 1000) + b'x' * 20, 'string'),
    (b'\x00\x01\x00\x00' + struct.pack('<iII', 0, 0, 0) + b'\x00' * 500, 'string'),
    (b'\x00\x01\x00\x00' + struct.pack('<iII', 0, 0, 2) + b'ab' + b'\x00' * 500, 'string'),
], ids=['empty', 'xcdr2', 'cut_in_pose', 'cut_at_the_end', 'string_too_long', 'string_empty',
        'string_without_nul'])
def test_malformed_bytes_raise_with_the_reason(buf, why):
    with pytest.raises(cdr.CdrError, match=why):
        cdr.read_odometry(buf)


@pytest.mark.parametrize('frame', ['', 'b', 'base_link', 'abcdefg'])
def test_twist_bytes_deserialize_with_rclpy(frame):
    class Stamp:
        sec, nanosec = 17, 250000000
    msg = deserialize_message(conv.twist_bytes(UNICYCLE, [0.5, -1.25], Stamp, frame), TwistStamped)
    assert (msg.header.stamp.sec, msg.header.stamp.nanosec) == (17, 250000000)
    assert msg.header.frame_id == frame
    t = msg.twist
    assert (t.linear.x, t.linear.y, t.linear.z) == (0.5, 0.0, 0.0)
    assert (t.angular.x, t.angular.y, t.angular.z) == (0.0, 0.0, -1.25)
    plain = deserialize_message(conv.twist_bytes(UNICYCLE, [2.0, 0.25]), Twist)
    assert (plain.linear.x, plain.angular.z) == (2.0, 0.25)


@pytest.mark.parametrize('model', [UNICYCLE, POINT], ids=['diff_drive', 'double_integrator'])
def test_state_from_bytes_equals_state_from_the_message(model):
    for seed in range(5):
        msg = odometry(seed=seed)
        x, stamp = conv.odometry_bytes_to_state(serialize_message(msg), model)
        assert np.allclose(x, conv.odometry_to_state(msg, model), rtol=0, atol=1e-12)
        assert stamp == (msg.header.stamp.sec, msg.header.stamp.nanosec)


@pytest.mark.parametrize('field', ['position', 'orientation', 'twist'])
def test_state_from_bytes_rejects_non_finite_values(field):
    msg = odometry()
    if field == 'position':
        msg.pose.pose.position.y = math.nan
    elif field == 'orientation':
        msg.pose.pose.orientation.z = math.inf
    else:
        msg.twist.twist.linear.x = math.nan
    model = POINT if field == 'twist' else UNICYCLE
    with pytest.raises(conv.Rejected, match='NaN or Inf'):
        conv.odometry_bytes_to_state(serialize_message(msg), model)


def test_state_from_garbage_bytes_is_rejected():
    with pytest.raises(conv.Rejected, match='odometry'):
        conv.odometry_bytes_to_state(b'\x00\x01\x00\x00garbage', UNICYCLE)
    with pytest.raises(conv.Rejected, match='joint state'):
        conv.joint_state_bytes_to_state(b'\x00\x01\x00\x00\xff\xff\xff\xff', UNICYCLE)


@pytest.mark.parametrize('model', [UNICYCLE, POINT], ids=['diff_drive', 'double_integrator'])
@pytest.mark.parametrize('frames', FRAMES[:4])
def test_simulator_odometry_bytes_equal_the_message(model, frames):
    class Stamp:
        sec, nanosec = 5, 123
    x = np.array([0.5, -1.5, 2.5, 0.25])[:model.nx]
    xdot = np.asarray(model.rhs(x, [0.7, -0.3], model.param_vector()), float).ravel()
    msg = conv.state_to_odometry(x, model, Stamp, *frames, xdot=xdot)
    got = deserialize_message(conv.state_to_odometry_bytes(x, model, Stamp, *frames,
                                                           xdot=xdot), Odometry)
    for a, b in ((got.pose.pose.position, msg.pose.pose.position),
                 (got.pose.pose.orientation, msg.pose.pose.orientation),
                 (got.twist.twist.linear, msg.twist.twist.linear),
                 (got.twist.twist.angular, msg.twist.twist.angular)):
        assert a == b
    assert (got.header.frame_id, got.child_frame_id) == frames
    assert (got.header.stamp.sec, got.header.stamp.nanosec) == (5, 123)
    assert list(got.pose.covariance) == [0.0] * 36
    assert np.allclose(conv.odometry_bytes_to_state(serialize_message(got), model)[0], x)


ARM = build_model('planar_arm', links=2)


def joint_state(names, position, velocity, effort=(), frame='base'):
    msg = JointState()
    msg.header.stamp.sec, msg.header.stamp.nanosec = 77, 5
    msg.header.frame_id = frame
    msg.name, msg.position, msg.velocity, msg.effort = list(names), position, velocity, effort
    return msg


# name lengths that meet every padding case, empty sequences between full ones, extra joints
JOINT_STATES = [
    (['joint1', 'joint2'], [0.1, -0.2], [0.3, 0.4], [1.0, 2.0]),
    (['joint2', 'x', 'joint1'], [1.5, 9.0, -1.5], [0.0, 9.0, 2.0], []),
    (['joint1', 'joint2'], [0.5, 0.25], [], [3.0]),
    ([], [], [], []),
    (['a' * k for k in range(1, 9)], [float(k) for k in range(8)], [], [0.5] * 8),
]


@pytest.mark.parametrize('fields', JOINT_STATES)
def test_read_joint_state_matches_rclpy(fields):
    msg = joint_state(*fields)
    stamp, frame, names, position, velocity, effort = cdr.read_joint_state(
        serialize_message(msg))
    assert (stamp, frame) == ((77, 5), 'base')
    assert names == list(msg.name)
    assert (position, velocity, effort) == (tuple(msg.position), tuple(msg.velocity),
                                            tuple(msg.effort))


@pytest.mark.parametrize('fields', JOINT_STATES)
def test_joint_state_from_bytes_equals_from_the_message(fields):
    msg = joint_state(*fields)
    try:
        want = conv.joint_state_to_state(msg, ARM)
    except conv.Rejected as err:
        with pytest.raises(conv.Rejected) as got:   # the same rejection, the same words
            conv.joint_state_bytes_to_state(serialize_message(msg), ARM)
        assert str(got.value) == str(err)
        return
    x, stamp = conv.joint_state_bytes_to_state(serialize_message(msg), ARM)
    np.testing.assert_array_equal(x, want)
    assert stamp == (77, 5)


def test_joint_state_bytes_that_lie_about_their_counts_are_rejected():
    good = serialize_message(joint_state(['joint1', 'joint2'], [0.1, 0.2], [0.0, 0.0]))
    # the name count (right after the header) claims a billion names
    at = 4 + 8 + 4 + len(b'base\x00')
    at += -(at - 4) % 4
    lying = good[:at] + struct.pack('<I', 10 ** 9) + good[at + 4:]
    with pytest.raises(conv.Rejected, match='joint state: sequence of 1000000000'):
        conv.joint_state_bytes_to_state(lying, ARM)
    with pytest.raises(conv.Rejected, match='joint state: message ends early'):
        conv.joint_state_bytes_to_state(good[:-8], ARM)
