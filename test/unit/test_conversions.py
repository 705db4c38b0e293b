"""Message <-> numpy conversions, without DDS."""
import math

import numpy as np
import pytest
from builtin_interfaces.msg import Duration, Time
from geometry_msgs.msg import PoseStamped, Twist, TwistStamped
from nav_msgs.msg import Odometry, Path
from sensor_msgs.msg import JointState
from std_msgs.msg import Float64MultiArray
from trajectory_msgs.msg import JointTrajectory, JointTrajectoryPoint

from casadi_mpc.core.models import build_model
from casadi_mpc.ros import conversions as conv
from casadi_mpc.ros.conversions import Rejected

UNICYCLE = build_model('diff_drive')
POINT = build_model('double_integrator', dim=2)
ARM = build_model('planar_arm', links=2, joint_names=['shoulder', 'elbow'])
STAMP = Time(sec=12, nanosec=500000000)


def quat(yaw):
    return 0.0, 0.0, math.sin(yaw / 2), math.cos(yaw / 2)


def odom(x=0.0, y=0.0, yaw=0.0, vx=0.0, vy=0.0):
    msg = Odometry()
    msg.header.frame_id = 'odom'
    msg.pose.pose.position.x, msg.pose.pose.position.y = x, y
    o = msg.pose.pose.orientation
    o.x, o.y, o.z, o.w = quat(yaw)
    msg.twist.twist.linear.x, msg.twist.twist.linear.y = vx, vy
    return msg


def pose(x, y, yaw, frame='odom'):
    msg = PoseStamped()
    msg.header.frame_id = frame
    msg.pose.position.x, msg.pose.position.y = x, y
    o = msg.pose.orientation
    o.x, o.y, o.z, o.w = quat(yaw)
    return msg


def joints(names, q, dq=None):
    return JointState(name=list(names), position=[float(v) for v in q],
                      velocity=[] if dq is None else [float(v) for v in dq])


# ---------------------------------------------------------------------------- state in
def test_odometry_diff_drive_state_with_yaw():
    x = conv.odometry_to_state(odom(1.0, -2.0, 2.5), UNICYCLE)
    assert x == pytest.approx([1.0, -2.0, 2.5])
    assert conv.odometry_to_state(odom(yaw=-3.0), UNICYCLE)[2] == pytest.approx(-3.0)


def test_odometry_point_mass_twist_rotated_to_odom():
    # heading +90 deg: forward body velocity is +y in odom
    x = conv.odometry_to_state(odom(0.5, 0.25, math.pi / 2, vx=1.0, vy=0.5), POINT)
    assert x == pytest.approx([0.5, 0.25, -0.5, 1.0])


@pytest.mark.parametrize('field, value, reason', [
    ('x', float('nan'), 'NaN'), ('y', float('inf'), 'NaN or Inf')])
def test_odometry_non_finite_rejected(field, value, reason):
    msg = odom()
    setattr(msg.pose.pose.position, field, value)
    with pytest.raises(Rejected, match=reason):
        conv.odometry_to_state(msg, UNICYCLE)


def test_odometry_zero_quaternion_rejected():
    msg = odom()
    msg.pose.pose.orientation.w = 0.0
    with pytest.raises(Rejected, match='zero quaternion'):
        conv.odometry_to_state(msg, UNICYCLE)


def test_odometry_for_an_arm_rejected():
    with pytest.raises(Rejected, match='planar_arm'):
        conv.odometry_to_state(odom(), ARM)


def test_joint_state_any_order_extra_joints_ignored():
    msg = joints(['gripper', 'elbow', 'shoulder'], [9.0, 0.2, 0.1], [9.0, -0.2, -0.1])
    assert conv.joint_state_to_state(msg, ARM).tolist() == [0.1, 0.2, -0.1, -0.2]


@pytest.mark.parametrize('msg, reason', [
    (joints(['shoulder'], [0.0], [0.0]), r"lacks joint\(s\) \['elbow'\]"),
    (joints(['shoulder', 'elbow'], [0.0], [0.0, 0.0]), '2 names but 1 positions'),
    (joints(['shoulder', 'elbow'], [0.0, 0.0]), 'velocities'),
    (joints(['shoulder', 'elbow'], [0.0, float('nan')], [0.0, 0.0]), r"\['elbow'\]"),
    (joints(['shoulder', 'elbow'], [0.0, 0.0], [float('-inf'), 0.0]), r"\['shoulder'\]"),
    (joints(['shoulder', 'shoulder', 'elbow'], [0, 0, 0], [0, 0, 0]), 'twice'),
])
def test_joint_state_rejections(msg, reason):
    with pytest.raises(Rejected, match=reason):
        conv.joint_state_to_state(msg, ARM)


# ---------------------------------------------------------------------------- goals
def test_pose_goal_for_both_bases():
    assert conv.pose_to_goal(pose(1.0, 2.0, -1.0), UNICYCLE, 'odom') == \
        pytest.approx([1.0, 2.0, -1.0])
    assert conv.pose_to_goal(pose(1.0, 2.0, 0.3), POINT, 'odom').tolist() == \
        [1.0, 2.0, 0.0, 0.0]


def test_pose_goal_in_another_frame_rejected():
    with pytest.raises(Rejected, match="frame 'map', expected 'odom'"):
        conv.pose_to_goal(pose(1.0, 2.0, 0.0, 'map'), UNICYCLE, 'odom')
    with pytest.raises(Rejected, match="frame ''"):
        conv.pose_to_goal(pose(1.0, 2.0, 0.0, ''), UNICYCLE, 'odom')


def test_joint_goal_by_name_velocity_defaults_to_rest():
    assert conv.joint_goal(joints(['elbow', 'shoulder'], [0.5, 1.0]), ARM).tolist() == \
        [1.0, 0.5, 0.0, 0.0]
    assert conv.joint_goal(joints(['elbow', 'shoulder'], [0.5, 1.0], [0.1, 0.2]),
                           ARM).tolist() == [1.0, 0.5, 0.2, 0.1]
    with pytest.raises(Rejected, match='lacks'):
        conv.joint_goal(joints(['elbow'], [0.5]), ARM)
    with pytest.raises(Rejected, match='NaN'):
        conv.joint_goal(joints(['elbow', 'shoulder'], [0.5, float('nan')]), ARM)


# ---------------------------------------------------------------------------- references
def path(points, frame='odom'):
    msg = Path()
    msg.header.frame_id = frame
    msg.poses = [pose(x, y, yaw, frame) for x, y, yaw in points]
    return msg


def test_path_reference_one_pose_per_stage_padded_and_unwrapped():
    pts = [(0.0, 0.0, 3.0), (0.1, 0.0, -3.0), (0.2, 0.1, -2.9)]
    ref = conv.path_to_reference(path(pts), UNICYCLE, horizon=4, dt=0.1, frame_id='odom')
    assert ref.shape == (5, 3)
    assert ref[:3, 0].tolist() == [0.0, 0.1, 0.2]
    assert ref[3:].tolist() == [ref[2].tolist()] * 2
    assert ref[1, 2] == pytest.approx(2 * math.pi - 3.0)   # continuous through +-pi


def test_path_reference_point_mass_velocities():
    pts = [(0.0, 0.0, 0.0), (0.1, 0.2, 0.0), (0.2, 0.4, 0.0)]
    ref = conv.path_to_reference(path(pts), POINT, horizon=3, dt=0.1, frame_id='odom')
    assert ref[0].tolist() == pytest.approx([0.0, 0.0, 1.0, 2.0])
    assert ref[-1, 2:].tolist() == [0.0, 0.0]


def test_path_reference_rejections():
    with pytest.raises(Rejected, match='frame'):
        conv.path_to_reference(path([(0, 0, 0)], 'map'), UNICYCLE, 3, 0.1, 'odom')
    with pytest.raises(Rejected, match='no poses'):
        conv.path_to_reference(path([]), UNICYCLE, 3, 0.1, 'odom')


def trajectory(names, times, positions, velocities=None):
    msg = JointTrajectory(joint_names=list(names))
    for i, (t, q) in enumerate(zip(times, positions)):
        pt = JointTrajectoryPoint(positions=[float(v) for v in q])
        if velocities is not None:
            pt.velocities = [float(v) for v in velocities[i]]
        pt.time_from_start = conv.duration(t)
        msg.points.append(pt)
    return msg


def test_trajectory_reference_sampled_at_stage_times_by_name():
    msg = trajectory(['elbow', 'shoulder'], [0.0, 0.2], [[0.0, 1.0], [0.4, 3.0]])
    ref = conv.trajectory_to_reference(msg, ARM, horizon=3, dt=0.1)
    assert ref[:, 0] == pytest.approx([1.0, 2.0, 3.0, 3.0])   # shoulder
    assert ref[:, 1] == pytest.approx([0.0, 0.2, 0.4, 0.4])   # elbow
    assert np.all(ref[:, 2:] == 0.0)


def test_trajectory_reference_rejections():
    with pytest.raises(Rejected, match='lacks'):
        conv.trajectory_to_reference(trajectory(['elbow'], [0.0], [[0.0]]), ARM, 3, 0.1)
    with pytest.raises(Rejected, match='increase'):
        conv.trajectory_to_reference(trajectory(['elbow', 'shoulder'], [0.1, 0.1],
                                                [[0, 0], [1, 1]]), ARM, 3, 0.1)
    with pytest.raises(Rejected, match='NaN'):
        conv.trajectory_to_reference(trajectory(['elbow', 'shoulder'], [0.0],
                                                [[0, float('nan')]]), ARM, 3, 0.1)


# ---------------------------------------------------------------------------- out
def test_commands_out():
    t = conv.to_twist(UNICYCLE, [0.5, -1.0])
    assert isinstance(t, Twist) and (t.linear.x, t.angular.z) == (0.5, -1.0)
    ts = conv.to_twist_stamped(UNICYCLE, [0.5, -1.0], STAMP, 'base_link')
    assert isinstance(ts, TwistStamped) and ts.header.frame_id == 'base_link'
    assert ts.header.stamp == STAMP and ts.twist.linear.x == 0.5
    arr = conv.to_float_array(np.array([1.0, 2.0]))
    assert list(arr.data) == [1.0, 2.0] and arr.layout.dim[0].size == 2


def test_predicted_path_and_trajectory():
    x_pred = np.array([[0.0, 0.0, 0.0], [0.1, 0.0, math.pi / 2]])
    p = conv.to_path(x_pred, UNICYCLE, STAMP, 'odom')
    assert p.header.frame_id == 'odom' and len(p.poses) == 2
    o = p.poses[1].pose.orientation
    assert conv.yaw_of(o.w, o.x, o.y, o.z) == pytest.approx(math.pi / 2)
    xs = np.array([[0.1, 0.2, 0.0, 0.0], [0.2, 0.3, 1.0, 1.0], [0.3, 0.4, 1.0, 1.0]])
    us = np.array([[1.0, 2.0], [3.0, 4.0]])
    jt = conv.to_joint_trajectory(xs, us, ARM, STAMP, 0.02)
    assert jt.joint_names == ['shoulder', 'elbow'] and len(jt.points) == 3
    assert list(jt.points[1].positions) == [0.2, 0.3]
    assert list(jt.points[1].effort) == [3.0, 4.0] and list(jt.points[2].effort) == []
    assert conv.seconds(jt.points[2].time_from_start) == pytest.approx(0.04)


def test_duration_and_seconds():
    assert conv.seconds(conv.duration(1.25)) == pytest.approx(1.25)
    assert conv.duration(-1.0) == Duration(sec=0, nanosec=0)
    assert conv.seconds(STAMP) == 12.5


def test_twist_commanded_only_for_kinematic_bases():
    assert conv.twist_commanded(UNICYCLE)
    assert not conv.twist_commanded(POINT)
    assert not conv.twist_commanded(ARM)


# ---------------------------------------------------------------------------- simulator side
def test_sim_round_trips():
    x = np.array([1.0, -0.5, 2.0])
    xdot = np.asarray(UNICYCLE.rhs(x, [0.3, 0.1], UNICYCLE.param_vector()), float).ravel()
    msg = conv.state_to_odometry(x, UNICYCLE, STAMP, 'odom', 'base_link', xdot)
    assert msg.child_frame_id == 'base_link'
    assert (msg.twist.twist.linear.x, msg.twist.twist.linear.y) == pytest.approx((0.3, 0.0))
    assert msg.twist.twist.angular.z == pytest.approx(0.1)
    assert conv.odometry_to_state(msg, UNICYCLE) == pytest.approx(x)
    xp = np.array([1.0, 2.0, -0.3, 0.4])
    msg = conv.state_to_odometry(xp, POINT, STAMP, 'odom', 'base_link')
    assert conv.odometry_to_state(msg, POINT) == pytest.approx(xp)
    xa = np.array([0.1, 0.2, 0.3, 0.4])
    js = conv.state_to_joint_state(xa, ARM, STAMP, effort=[1.0, 2.0])
    assert conv.joint_state_to_state(js, ARM) == pytest.approx(xa)
    assert list(js.effort) == [1.0, 2.0]


def test_sim_command_inputs():
    t = Twist()
    t.linear.x, t.angular.z = 0.4, -0.2
    x0 = np.zeros(3)
    assert conv.command_to_input(t, UNICYCLE, x0, []).tolist() == [0.4, -0.2]
    ts = TwistStamped()
    ts.twist = t
    assert conv.command_to_input(ts, UNICYCLE, x0, []).tolist() == [0.4, -0.2]
    p = ARM.param_vector()
    assert conv.command_to_input(Float64MultiArray(data=[1.0, 2.0]), ARM, None, p).tolist() \
        == [1.0, 2.0]
    with pytest.raises(Rejected, match='takes 2'):
        conv.command_to_input(Float64MultiArray(data=[1.0]), ARM, None, p)
    with pytest.raises(Rejected, match='NaN'):
        conv.command_to_input(Float64MultiArray(data=[1.0, float('nan')]), ARM, None, p)


def test_planar_pose_round_trips_through_the_goal_conversion():
    model = build_model('diff_drive')
    msg = conv.planar_pose(1.5, -0.5, 2.5, 'odom')
    np.testing.assert_allclose(conv.pose_to_goal(msg, model, 'odom'), [1.5, -0.5, 2.5])
    with pytest.raises(Rejected, match='map'):
        conv.pose_to_goal(conv.planar_pose(0, 0, 0, 'map'), model, 'odom')


# ---------------------------------------------------------------------------- stamps, frames
def stamped_odometry(frame='odom', sec=100, nanosec=0, scale=1.0):
    from rclpy.serialization import serialize_message
    msg = Odometry()
    msg.header.frame_id = frame
    msg.header.stamp.sec, msg.header.stamp.nanosec = sec, nanosec
    msg.pose.pose.orientation.w = scale
    return serialize_message(msg)


def test_state_age_comes_from_the_stamp():
    now = 100 * 10 ** 9
    assert conv.state_age((99, 900_000_000), now, 0.5, 0.1) == pytest.approx(0.1)
    assert conv.state_age((100, 50_000_000), now, 0.5, 0.1) == 0.0   # just ahead: now
    with pytest.raises(conv.Rejected, match='no stamp'):
        conv.state_age((0, 0), now, 0.5, 0.1)
    with pytest.raises(conv.Rejected, match='in the future'):
        conv.state_age((100 + 3600, 0), now, 0.5, 0.1)
    with pytest.raises(conv.Rejected, match='older than state_timeout'):
        conv.state_age((100 - 3600, 0), now, 0.5, 0.1)


def test_odometry_frame_and_degenerate_orientation_are_checked():
    model = build_model('diff_drive')
    x, stamp = conv.odometry_bytes_to_state(stamped_odometry(), model, 'odom')
    assert stamp == (100, 0) and np.allclose(x, 0.0)
    for frame in ('map', ''):
        with pytest.raises(conv.Rejected, match="frame '%s', expected 'odom'" % frame):
            conv.odometry_bytes_to_state(stamped_odometry(frame), model, 'odom')
    with pytest.raises(conv.Rejected, match='not a unit quaternion'):
        conv.odometry_bytes_to_state(stamped_odometry(scale=1e200), model, 'odom')
    x, _ = conv.odometry_bytes_to_state(stamped_odometry(scale=1.05), model, 'odom')
    assert np.allclose(x, 0.0)   # slightly off: normalized
    # an all-default Odometry: no frame, no stamp
    from rclpy.serialization import serialize_message
    blank = serialize_message(Odometry())
    with pytest.raises(conv.Rejected, match='frame'):
        conv.odometry_bytes_to_state(blank, model, 'odom')


# ---------------------------------------------------------------------------- every robot
ROBOTS = {name: build_model(name, **({'urdf_file': 'two_link_arm.urdf'} if name == 'urdf_arm'
                                     else {}))
          for name in ('diff_drive', 'omni', 'ackermann', 'double_integrator', 'planar_arm',
                       'urdf_arm', 'cart_pole')}


@pytest.mark.parametrize('name', sorted(ROBOTS))
def test_every_robot_round_trips_state_goal_and_command(name):
    """Through the messages its interface declares: the simulator's state message back to the
    state (entries it does not carry: NaN), a goal message back to the goal, a command back to
    the input."""
    from rclpy.serialization import serialize_message
    model = ROBOTS[name]
    rng = np.random.default_rng(3)
    x = np.clip(rng.uniform(-1, 1, model.nx), model.x_lb, model.x_ub)
    u = rng.uniform(0.2 * model.u_lb, 0.2 * model.u_ub)
    p = model.param_vector()
    xdot = np.asarray(model.rhs(x, u, p), float).ravel()
    msg_type, topic, decode, _ = conv.state_input(model)
    if msg_type is JointState:
        buf = serialize_message(conv.state_to_joint_state(x, model, STAMP, xdot=xdot))
    else:
        buf = conv.state_to_odometry_bytes(x, model, STAMP, 'odom', 'base_link', xdot)
    got, stamp = decode(buf, model, 'odom')
    missing = list(conv.unmeasured(model))
    assert stamp == (12, 500000000)
    np.testing.assert_allclose(np.delete(got, missing), np.delete(x, missing), atol=1e-12)
    assert np.all(np.isnan(got[missing]))
    goal_type, goal_topic, convert, _ = conv.goal_input(model)
    msg_type, topic, msg = conv.goal_message(x, model, 'odom')
    assert (msg_type, topic) == (goal_type, goal_topic)
    goal = convert(msg, model, 'odom')
    carried = [k for k, _ in conv.plan(model).goal_rows]
    np.testing.assert_allclose(goal[carried], x[carried], atol=1e-12)
    assert np.all(np.delete(goal, carried) == 0.0)   # what a goal does not say: at rest
    values = conv.command_values(model, u, x, p)
    if conv.twist_commanded(model):
        command = conv.to_twist(model, values)
    else:
        command = conv.to_float_array(values)
    np.testing.assert_allclose(conv.command_to_input(command, model, x, p), u, atol=1e-9)


def test_odometry_twist_of_the_simulated_robot_is_its_body_velocity():
    omni = ROBOTS['omni']
    x, u = np.array([0.0, 0.0, np.pi / 2]), np.array([0.3, -0.2, 0.5])
    xdot = np.asarray(omni.rhs(x, u, []), float).ravel()
    msg = conv.state_to_odometry(x, omni, STAMP, 'odom', 'base_link', xdot)
    twist = msg.twist.twist
    assert (twist.linear.x, twist.linear.y, twist.angular.z) == pytest.approx((0.3, -0.2, 0.5))


def test_a_chain_of_masses_streams_the_velocity_no_state_carries():
    """The chain's free end has no velocity state (its velocity is the input): the simulated
    joint state takes it from the state's rate; the predicted trajectory leaves velocities out."""
    from casadi_mpc.core.models import build_model as build
    from pathlib import Path
    chain = build(file=str(Path(__file__).resolve().parents[2] / 'examples' / 'models' /
                           'chain_mass.py'), n_mass=3)
    x, u = chain.x_nominal, np.array([0.1, -0.2, 0.3])
    xdot = np.asarray(chain.rhs(x, u, chain.param_vector()), float).ravel()
    js = conv.state_to_joint_state(x, chain, STAMP, xdot=xdot)
    assert list(js.velocity[-3:]) == pytest.approx([0.1, -0.2, 0.3])
    assert conv.joint_efforts(chain, u)[-3:] == pytest.approx([0.1, -0.2, 0.3])
    jt = conv.to_joint_trajectory(np.array([x, x]), np.array([u]), chain, STAMP, 0.2)
    assert list(jt.points[0].velocities) == [] and len(jt.points[0].positions) == 6
