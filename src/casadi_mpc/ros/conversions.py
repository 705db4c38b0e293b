"""Message <-> numpy conversions: pure functions, no node, no DDS.

Frames follow REP 105: base states are in ``odom`` (x, y, yaw); odometry twists are in the child
(body) frame and are rotated into ``odom``. Arm states are (positions, velocities) in the
model's joint order, matched by joint name. Anything unusable raises :class:`Rejected` with the
reason.
"""
import math

import numpy as np
from builtin_interfaces.msg import Duration
from geometry_msgs.msg import PoseStamped, Twist, TwistStamped
from nav_msgs.msg import Odometry, Path
from sensor_msgs.msg import JointState
from std_msgs.msg import Float64MultiArray, MultiArrayDimension
from trajectory_msgs.msg import JointTrajectory, JointTrajectoryPoint

from . import cdr

BASES = ('diff_drive', 'double_integrator')


class Rejected(ValueError):
    """An input message that cannot be used; the text says why."""


# ---------------------------------------------------------------------------- helpers
def seconds(stamp):
    """builtin_interfaces Time or Duration -> float seconds."""
    return stamp.sec + stamp.nanosec * 1e-9


def duration(t):
    t = max(0.0, float(t))
    sec = int(math.floor(t))
    return Duration(sec=sec, nanosec=min(int(round((t - sec) * 1e9)), 999999999))


def twist_commanded(model):
    """True when the model's inputs are body velocities (v, omega): they go out as a Twist.

    Dynamic models (accelerations, torques) send their inputs as a Float64MultiArray.
    """
    return model.kind == 'base' and not model.velocity


def _finite(values, what):
    arr = np.asarray(values, float)
    if not np.all(np.isfinite(arr)):
        raise Rejected('%s holds NaN or Inf: %s' % (what, np.round(arr, 4).tolist()))
    return arr


def _scalars(values, what):
    """A few values as a tuple of floats (no numpy: this runs on every state message)."""
    out = tuple(float(v) for v in values)
    if not all(map(math.isfinite, out)):
        raise Rejected('%s holds NaN or Inf: %s' % (what, [round(v, 4) for v in out]))
    return out


QUATERNION_TOLERANCE = 0.1   # |norm - 1| above this is no rotation, not a rounding error


def _quaternion(q, what):
    """A unit quaternion (w, x, y, z) from a message's orientation, or from (x, y, z, w).

    The norm is taken after scaling by the largest component (no overflow for huge values);
    a quaternion whose norm is off 1 by more than QUATERNION_TOLERANCE is rejected, a slightly
    unnormalized one is normalized."""
    x, y, z, w = (q.x, q.y, q.z, q.w) if hasattr(q, 'w') else q
    v = _scalars((w, x, y, z), what + ' orientation')
    big = max(abs(c) for c in v)
    if big < 1e-6:
        raise Rejected('%s orientation is not a rotation (zero quaternion)' % what)
    norm = big * math.sqrt(sum((c / big) ** 2 for c in v))
    if abs(norm - 1.0) > QUATERNION_TOLERANCE:
        raise Rejected('%s orientation is not a unit quaternion (norm %.4g)' % (what, norm))
    return tuple(c / norm for c in v)


def state_age(stamp, now_ns, state_timeout, max_clock_offset):
    """The age [s] of a state stamped ``stamp`` ((sec, nanosec)) at node-clock time ``now_ns``;
    Rejected for no stamp, a stamp further in the future than ``max_clock_offset`` (the clocks
    disagree) or older than ``state_timeout``. A stamp up to the offset ahead is age 0."""
    sec, nanosec = stamp
    if sec == 0 and nanosec == 0:
        raise Rejected('state message has no stamp (header.stamp is zero)')
    age = (now_ns - (sec * 1_000_000_000 + nanosec)) * 1e-9
    if age < -max_clock_offset:
        raise Rejected('state is stamped %.3g s in the future (max_clock_offset %.3g s): are '
                       'the clocks in sync?' % (-age, max_clock_offset))
    if age > state_timeout:
        raise Rejected('state is stamped %.3g s ago, older than state_timeout %.3g s'
                       % (age, state_timeout))
    return max(age, 0.0)


def yaw_of(w, x, y, z):
    return math.atan2(2.0 * (w * z + x * y), 1.0 - 2.0 * (y * y + z * z))


def rotation(wxyz):
    """Rotation matrix of a unit quaternion (w, x, y, z)."""
    w, x, y, z = wxyz
    return np.array([
        [1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)],
        [2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)],
        [2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)]])


def _base_name(model):
    if model.name not in BASES:
        raise Rejected('model %s has no odometry/pose mapping (bases: %s)'
                       % (model.name, ', '.join(BASES)))
    return model.name


def _check_frame(frame, expected, what):
    if frame != expected:
        raise Rejected('%s is in frame %r, expected %r' % (what, frame, expected))


# ---------------------------------------------------------------------------- state in
def odometry_to_state(msg: Odometry, model):
    """diff_drive: (x, y, yaw); double_integrator: (position, velocity rotated to odom)."""
    p, t = msg.pose.pose.position, msg.twist.twist.linear
    return base_state((p.x, p.y, p.z), msg.pose.pose.orientation, (t.x, t.y, t.z), model)


def odometry_bytes_to_state(buf, model, frame_id=None):
    """Serialized Odometry -> (state, header stamp as (sec, nanosec)), read without building a
    message object (the control path). With ``frame_id`` the odometry must be in that frame
    (REP 105: the pose in odom); its twist is taken in its child frame, whatever its name."""
    try:
        stamp, frame, _, position, orientation, linear, _ = cdr.read_odometry(buf)
    except cdr.CdrError as err:
        raise Rejected('odometry: %s' % err) from None
    if frame_id is not None:
        _check_frame(frame, frame_id, 'odometry')
    return base_state(position, orientation, linear, model), stamp


def base_state(position, orientation, linear, model):
    """A base's state from odometry's position, orientation (a message's, or x, y, z, w) and
    body-frame linear twist."""
    name = _base_name(model)
    pos = _scalars(position, 'odometry position')
    q = _quaternion(orientation, 'odometry')
    if name == 'diff_drive':
        return np.array([pos[0], pos[1], yaw_of(*q)])
    dim = len(model.position)
    v_odom = rotation(q) @ np.array(_scalars(linear, 'odometry twist'))
    return np.concatenate([pos[:dim], v_odom[:dim]])


def joint_state_to_state(msg: JointState, model):
    """Positions and velocities in the model's joint order; other joints are ignored."""
    return joint_values_to_state(list(msg.name), msg.position, msg.velocity, model)


def joint_state_bytes_to_state(buf, model, frame_id=None):
    """Serialized JointState -> (state, header stamp as (sec, nanosec)), read without building a
    message object (the control path). Joint states name no frame: ``frame_id`` is unused."""
    try:
        stamp, _, names, position, velocity, _ = cdr.read_joint_state(buf)
    except cdr.CdrError as err:
        raise Rejected('joint state: %s' % err) from None
    return joint_values_to_state(names, position, velocity, model), stamp


def joint_values_to_state(got, position, velocity, model):
    """A joint state's names, positions and velocities -> the model's state."""
    names = list(model.joint_names)
    if not names:
        raise Rejected('model %s has no joints' % model.name)
    if len(position) != len(got):
        raise Rejected('joint state has %d names but %d positions' % (len(got), len(position)))
    if len(velocity) != len(got):
        raise Rejected('joint state has %d names but %d velocities (velocities are needed)'
                       % (len(got), len(velocity)))
    if len(set(got)) != len(got):
        raise Rejected('joint state lists a joint twice: %s' % got)
    order = _joint_order(names, got, 'joint state')
    q = np.asarray(position, float)[order]
    dq = np.asarray(velocity, float)[order]
    bad = [n for n, a, b in zip(names, q, dq) if not (np.isfinite(a) and np.isfinite(b))]
    if bad:
        raise Rejected('joint state has NaN or Inf for joint(s) %s' % bad)
    return np.concatenate([q, dq])


def _joint_order(names, got, what):
    """Indices into the message's arrays that give the model's joints in model order."""
    index = {n: i for i, n in enumerate(got)}
    missing = [n for n in names if n not in index]
    if missing:
        raise Rejected('%s lacks joint(s) %s (has %s)' % (what, missing, got))
    return [index[n] for n in names]


# ---------------------------------------------------------------------------- goals
def pose_to_goal(msg: PoseStamped, model, frame_id):
    """A goal pose in ``frame_id``: diff_drive (x, y, yaw); double_integrator at rest."""
    name = _base_name(model)
    _check_frame(msg.header.frame_id, frame_id, 'goal pose')
    p = msg.pose.position
    pos = _finite([p.x, p.y, p.z], 'goal position')
    q = _quaternion(msg.pose.orientation, 'goal')
    if name == 'diff_drive':
        return np.array([pos[0], pos[1], yaw_of(*q)])
    dim = len(model.position)
    return np.concatenate([pos[:dim], np.zeros(dim)])


def joint_goal(msg: JointState, model):
    """A joint goal: positions by name; velocities if given, else zero (at rest)."""
    names = list(model.joint_names)
    got = list(msg.name)
    if len(msg.position) != len(got):
        raise Rejected('joint goal has %d names but %d positions' % (len(got), len(msg.position)))
    if msg.velocity and len(msg.velocity) != len(got):
        raise Rejected('joint goal has %d names but %d velocities' % (len(got), len(msg.velocity)))
    order = _joint_order(names, got, 'joint goal')
    q = np.asarray(msg.position, float)[order]
    dq = np.asarray(msg.velocity, float)[order] if msg.velocity else np.zeros(len(names))
    return _finite(np.concatenate([q, dq]), 'joint goal')


# ---------------------------------------------------------------------------- references
def path_to_reference(msg: Path, model, horizon, dt, frame_id):
    """One pose per shooting interval (dt apart) -> (N+1, nx); short paths hold their end."""
    name = _base_name(model)
    _check_frame(msg.header.frame_id, frame_id, 'path')
    if not msg.poses:
        raise Rejected('path has no poses')
    for i, ps in enumerate(msg.poses):
        if ps.header.frame_id not in ('', frame_id):
            raise Rejected('path pose %d is in frame %r, expected %r'
                           % (i, ps.header.frame_id, frame_id))
    take = [msg.poses[min(k, len(msg.poses) - 1)].pose for k in range(horizon + 1)]
    pos = _finite([[p.position.x, p.position.y, p.position.z] for p in take], 'path')
    if name == 'diff_drive':
        yaw = np.unwrap([yaw_of(*_quaternion(p.orientation, 'path')) for p in take])
        return np.column_stack([pos[:, :2], yaw])
    dim = len(model.position)
    vel = np.zeros((horizon + 1, dim))
    vel[:-1] = np.diff(pos[:, :dim], axis=0) / dt
    return np.column_stack([pos[:, :dim], vel])


def trajectory_to_reference(msg: JointTrajectory, model, horizon, dt):
    """Sample a JointTrajectory at k * dt (k = 0..N) -> (N+1, nx), joints matched by name."""
    names = list(model.joint_names)
    got = list(msg.joint_names)
    missing = [n for n in names if n not in got]
    if missing:
        raise Rejected('trajectory lacks joint(s) %s (has %s)' % (missing, got))
    if not msg.points:
        raise Rejected('trajectory has no points')
    order = [got.index(n) for n in names]
    times, q, dq = [], [], []
    for i, pt in enumerate(msg.points):
        if len(pt.positions) != len(got):
            raise Rejected('trajectory point %d has %d positions for %d joints'
                           % (i, len(pt.positions), len(got)))
        if pt.velocities and len(pt.velocities) != len(got):
            raise Rejected('trajectory point %d has %d velocities for %d joints'
                           % (i, len(pt.velocities), len(got)))
        times.append(seconds(pt.time_from_start))
        q.append(np.asarray(pt.positions, float)[order])
        dq.append(np.asarray(pt.velocities, float)[order] if pt.velocities
                  else np.zeros(len(names)))
    times = np.asarray(times)
    if np.any(np.diff(times) <= 0):
        raise Rejected('trajectory time_from_start must increase strictly')
    q, dq = _finite(q, 'trajectory positions'), _finite(dq, 'trajectory velocities')
    t = np.arange(horizon + 1) * dt
    ref = np.empty((horizon + 1, 2 * len(names)))
    for j in range(len(names)):
        ref[:, j] = np.interp(t, times, q[:, j])
        ref[:, len(names) + j] = np.interp(t, times, dq[:, j])
    return ref


# ---------------------------------------------------------------------------- commands out
def to_twist(u):
    msg = Twist()
    msg.linear.x = float(u[0])
    msg.angular.z = float(u[1])
    return msg


def twist_bytes(u, stamp=None, frame_id=''):
    """(v, omega) as a serialized Twist, or TwistStamped with ``stamp`` (builtin Time)."""
    v, w = float(u[0]), float(u[1])
    return cdr.twist((v, 0.0, 0.0), (0.0, 0.0, w),
                     None if stamp is None else (stamp.sec, stamp.nanosec), frame_id)


def to_twist_stamped(u, stamp, frame_id):
    msg = TwistStamped()
    msg.header.stamp = stamp
    msg.header.frame_id = frame_id
    msg.twist = to_twist(u)
    return msg


def to_float_array(u, label='joints'):
    msg = Float64MultiArray()
    values = [float(v) for v in np.asarray(u, float).ravel()]
    msg.layout.dim = [MultiArrayDimension(label=label, size=len(values), stride=len(values))]
    msg.data = values
    return msg


def to_joint_trajectory(x_pred, u_pred, model, stamp, dt):
    """The predicted horizon as a JointTrajectory (positions, velocities, efforts)."""
    n = len(model.joint_names)
    msg = JointTrajectory()
    msg.header.stamp = stamp
    msg.joint_names = list(model.joint_names)
    for k, x in enumerate(np.asarray(x_pred, float)):
        pt = JointTrajectoryPoint()
        pt.positions = [float(v) for v in x[:n]]
        pt.velocities = [float(v) for v in x[n:2 * n]]
        if u_pred is not None and k < len(u_pred):
            pt.effort = [float(v) for v in u_pred[k]]
        pt.time_from_start = duration(k * dt)
        msg.points.append(pt)
    return msg


def planar_pose(x, y, yaw, frame_id='odom'):
    """A PoseStamped at (x, y) [m] with heading ``yaw`` [rad] about z (goals, paths)."""
    msg = PoseStamped()
    msg.header.frame_id = frame_id
    msg.pose.position.x, msg.pose.position.y = float(x), float(y)
    msg.pose.orientation.z = math.sin(yaw / 2.0)
    msg.pose.orientation.w = math.cos(yaw / 2.0)
    return msg


def to_path(x_pred, model, stamp, frame_id):
    """Predicted base states as a nav_msgs/Path in ``frame_id``."""
    name = _base_name(model)
    msg = Path()
    msg.header.stamp = stamp
    msg.header.frame_id = frame_id
    for x in np.asarray(x_pred, float):
        if name == 'diff_drive':
            ps = planar_pose(x[0], x[1], x[2], frame_id)
        else:
            ps = planar_pose(x[0], x[1] if len(model.position) > 1 else 0.0, 0.0, frame_id)
            ps.pose.position.z = float(x[2]) if len(model.position) > 2 else 0.0
        ps.header = msg.header
        msg.poses.append(ps)
    return msg


# ---------------------------------------------------------------------------- simulator side
def twist_to_input(msg, model):
    """A Twist (or TwistStamped) command -> (v, omega) for velocity-commanded bases."""
    t = msg.twist if isinstance(msg, TwistStamped) else msg
    return _finite([t.linear.x, t.angular.z], 'twist command')


def array_to_input(msg: Float64MultiArray, model):
    if len(msg.data) != model.nu:
        raise Rejected('command has %d values, the model takes %d (%s)'
                       % (len(msg.data), model.nu, ', '.join(model.input_names)))
    return _finite(msg.data, 'command')


def _odometry_fields(x, u, model):
    """A base state (and the applied input, for the twist) as odometry's position,
    orientation (x, y, z, w), body linear and angular twist."""
    if _base_name(model) == 'diff_drive':
        yaw = float(x[2])
        return ((float(x[0]), float(x[1]), 0.0), (0.0, 0.0, math.sin(yaw / 2.0),
                                                  math.cos(yaw / 2.0)),
                (float(u[0]), 0.0, 0.0), (0.0, 0.0, float(u[1])))
    dim = len(model.position)
    pos, vel = [0.0] * 3, [0.0] * 3
    pos[:dim], vel[:dim] = [float(v) for v in x[:dim]], [float(v) for v in x[dim:2 * dim]]
    # the point mass does not rotate: body axes = odom axes
    return tuple(pos), (0.0, 0.0, 0.0, 1.0), tuple(vel), (0.0, 0.0, 0.0)


def state_to_odometry(x, u, model, stamp, frame_id, child_frame_id):
    """A base state (and the applied input, for the twist) as Odometry."""
    position, orientation, linear, angular = _odometry_fields(x, u, model)
    msg = Odometry()
    msg.header.stamp = stamp
    msg.header.frame_id = frame_id
    msg.child_frame_id = child_frame_id
    pose, twist = msg.pose.pose, msg.twist.twist
    pose.position.x, pose.position.y, pose.position.z = position
    q = pose.orientation
    q.x, q.y, q.z, q.w = orientation
    twist.linear.x, twist.linear.y, twist.linear.z = linear
    twist.angular.x, twist.angular.y, twist.angular.z = angular
    return msg


def state_to_odometry_bytes(x, u, model, stamp, frame_id, child_frame_id):
    """The same Odometry, serialized (the simulator's state path builds no message object)."""
    return cdr.odometry((stamp.sec, stamp.nanosec), frame_id, child_frame_id,
                        *_odometry_fields(x, u, model))


def state_to_joint_state(x, model, stamp, effort=None):
    n = len(model.joint_names)
    msg = JointState()
    msg.header.stamp = stamp
    msg.name = list(model.joint_names)
    msg.position = [float(v) for v in x[:n]]
    msg.velocity = [float(v) for v in x[n:2 * n]]
    if effort is not None:
        msg.effort = [float(v) for v in effort]
    return msg
