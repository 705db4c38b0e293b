"""Message <-> numpy conversions driven by the model's interface declaration: pure functions,
no node, no DDS, no model names.

The interface (``core/models/interface.py``) says which channel of which message carries each
state entry; the functions here read and write those channels. Frames follow REP 105: poses are
in ``odom``; odometry twists are in the child (body) frame, and ``velocity.*`` channels are that
twist turned into ``odom``. Joint states are matched by joint name. A state entry its message
does not carry is NaN in the result (the node fills it, see ``unmeasured``). Anything unusable
raises :class:`Rejected` with the reason.
"""
import math
from functools import lru_cache

import numpy as np
from builtin_interfaces.msg import Duration
from geometry_msgs.msg import PoseStamped, Twist, TwistStamped
from nav_msgs.msg import Odometry, Path
from sensor_msgs.msg import JointState
from std_msgs.msg import Float64MultiArray, MultiArrayDimension
from trajectory_msgs.msg import JointTrajectory, JointTrajectoryPoint

from . import cdr
from ..core.models import interface as itf

AXES = 'xyz'


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


def _check_frame(frame, expected, what):
    if frame != expected:
        raise Rejected('%s is in frame %r, expected %r' % (what, frame, expected))


# ---------------------------------------------------------------------------- the plan
class Plan:
    """A model's interface turned into indices, once per model.

    ``rows``: (state index, channel) of every state the state message carries;
    ``joint_rows``: (state index, 'position' or 'velocity', joint index) for joint states;
    ``unmeasured``: the states it does not carry; ``goal_rows`` as ``rows`` for the goal;
    ``input_index``: the input of each value of a Twist made of inputs."""

    def __init__(self, model):
        i = model.interface
        if i is None:
            raise Rejected('model %s declares no ROS interface' % model.name)
        names = model.state_names
        self.state, self.command, self.goal = i.state, i.command, i.goal_message
        self.rows = [(names.index(n), c) for n, c in i.state.fields.items()]
        self.channel = {c: k for k, c in self.rows}
        self.unmeasured = tuple(k for k in range(model.nx) if k not in self.channel.values())
        self.needs_yaw = 'yaw' in self.channel
        self.needs_twist = any(c.startswith('twist.') for c in self.channel)
        self.needs_rotation = any(c.startswith('velocity.') for c in self.channel)
        self.joints = list(i.state.joints)
        self.joint_rows = []
        for k, c in self.rows if self.joints else ():
            quantity, _, joint = c.partition('.')
            self.joint_rows.append((k, quantity, self.joints.index(joint)))
        self.needs_velocity = any(q == 'velocity' for _, q, _ in self.joint_rows)
        self.goal_rows = [(names.index(n), c) for n, c in self.goal.fields.items()]
        self.input_index = [model.input_names.index(n) for n in self.command.inputs]


@lru_cache(maxsize=None)
def plan(model):
    return Plan(model)


def _expect(model, kind, what):
    p = plan(model)
    if p.state.kind != kind:
        raise Rejected('model %s takes its state from %s, not %s'
                       % (model.name, p.state.kind, what))
    return p


def unmeasured(model):
    """Indices of the states the model's state message does not carry."""
    return plan(model).unmeasured


def twist_commanded(model):
    """True when the model's commands go out as a Twist on cmd_vel."""
    return plan(model).command.kind == itf.TWIST


# ---------------------------------------------------------------------------- state in
def odometry_to_state(msg: Odometry, model):
    """The model's state from Odometry (entries it does not carry: NaN)."""
    pose, twist = msg.pose.pose, msg.twist.twist
    p, t, w = pose.position, twist.linear, twist.angular
    return base_state((p.x, p.y, p.z), pose.orientation, (t.x, t.y, t.z), model,
                      (w.x, w.y, w.z))


def odometry_bytes_to_state(buf, model, frame_id=None):
    """Serialized Odometry -> (state, header stamp as (sec, nanosec)), read without building a
    message object (the control path). With ``frame_id`` the odometry must be in that frame
    (REP 105: the pose in odom); its twist is taken in its child frame, whatever its name."""
    try:
        stamp, frame, _, position, orientation, linear, angular = cdr.read_odometry(buf)
    except cdr.CdrError as err:
        raise Rejected('odometry: %s' % err) from None
    if frame_id is not None:
        _check_frame(frame, frame_id, 'odometry')
    return base_state(position, orientation, linear, model, angular), stamp


def base_state(position, orientation, linear, model, angular=(0.0, 0.0, 0.0)):
    """A state from odometry's position, orientation (a message's, or x, y, z, w) and
    body-frame twist, by the channels the model's state message declares."""
    p = _expect(model, itf.ODOMETRY, 'odometry')
    pos = _scalars(position, 'odometry position')
    q = _quaternion(orientation, 'odometry')
    ch = {'position.x': pos[0], 'position.y': pos[1], 'position.z': pos[2]}
    if p.needs_yaw:
        ch['yaw'] = yaw_of(*q)
    if p.needs_twist or p.needs_rotation:
        lin = _scalars(linear, 'odometry twist')
        ch['twist.angular.z'] = _scalars(angular, 'odometry twist')[2]
        for a, v in zip(AXES, lin):
            ch['twist.linear.' + a] = v
        if p.needs_rotation:
            for a, v in zip(AXES, rotation(q) @ np.array(lin)):
                ch['velocity.' + a] = float(v)
    x = np.full(model.nx, np.nan)
    for k, c in p.rows:
        x[k] = ch[c]
    return x


def joint_state_to_state(msg: JointState, model):
    """Positions and velocities by joint name; other joints are ignored."""
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
    p = _expect(model, itf.JOINT_STATE, 'a joint state')
    if len(position) != len(got):
        raise Rejected('joint state has %d names but %d positions' % (len(got), len(position)))
    if p.needs_velocity and len(velocity) != len(got):
        raise Rejected('joint state has %d names but %d velocities (velocities are measured)'
                       % (len(got), len(velocity)))
    if len(set(got)) != len(got):
        raise Rejected('joint state lists a joint twice: %s' % got)
    order = _joint_order(p.joints, got, 'joint state')
    values = {'position': np.asarray(position, float)[order]}
    if p.needs_velocity:
        values['velocity'] = np.asarray(velocity, float)[order]
    bad = [p.joints[j] for j in range(len(p.joints))
           if not all(np.isfinite(v[j]) for v in values.values())]
    if bad:
        raise Rejected('joint state has NaN or Inf for joint(s) %s' % bad)
    x = np.full(model.nx, np.nan)
    for k, quantity, j in p.joint_rows:
        x[k] = values[quantity][j]
    return x


def _joint_order(names, got, what):
    """Indices into the message's arrays that give the joints ``names`` in that order."""
    index = {n: i for i, n in enumerate(got)}
    missing = [n for n in names if n not in index]
    if missing:
        raise Rejected('%s lacks joint(s) %s (has %s)' % (what, missing, got))
    return [index[n] for n in names]


STATE_IN = {itf.ODOMETRY: (Odometry, odometry_bytes_to_state, 'odometry'),
            itf.JOINT_STATE: (JointState, joint_state_bytes_to_state, 'joint state')}


def state_input(model):
    """(message type, topic, bytes -> (state, stamp) with frame_id, what) of the state."""
    s = plan(model).state
    msg_type, decode, what = STATE_IN[s.kind]
    return msg_type, s.topic, decode, what


# ---------------------------------------------------------------------------- goals
def pose_to_goal(msg: PoseStamped, model, frame_id):
    """A goal pose in ``frame_id`` -> the goal state (entries the pose does not carry: 0)."""
    p = plan(model)
    if p.goal.kind != itf.POSE:
        raise Rejected('model %s takes goals as %s, not a pose' % (model.name, p.goal.kind))
    _check_frame(msg.header.frame_id, frame_id, 'goal pose')
    pos = msg.pose.position
    values = _finite([pos.x, pos.y, pos.z], 'goal position')
    ch = dict(zip(itf.POSE_CHANNELS, values))
    if any(c == 'yaw' for _, c in p.goal_rows):
        ch['yaw'] = yaw_of(*_quaternion(msg.pose.orientation, 'goal'))
    goal = np.zeros(model.nx)
    for k, c in p.goal_rows:
        goal[k] = ch[c]
    return goal


def joint_goal(msg: JointState, model):
    """A joint goal: positions by name; velocities if given, else zero (at rest)."""
    p = plan(model)
    if p.goal.kind != itf.JOINT_STATE:
        raise Rejected('model %s takes goals as %s, not joints' % (model.name, p.goal.kind))
    joints, got = list(p.goal.joints), list(msg.name)
    if len(msg.position) != len(got):
        raise Rejected('joint goal has %d names but %d positions' % (len(got), len(msg.position)))
    if msg.velocity and len(msg.velocity) != len(got):
        raise Rejected('joint goal has %d names but %d velocities' % (len(got), len(msg.velocity)))
    order = _joint_order(joints, got, 'joint goal')
    values = {'position': np.asarray(msg.position, float)[order],
              'velocity': np.asarray(msg.velocity, float)[order] if msg.velocity
              else np.zeros(len(joints))}
    goal = np.zeros(model.nx)
    for k, c in p.goal_rows:
        quantity, _, joint = c.partition('.')
        goal[k] = values[quantity][joints.index(joint)]
    return _finite(goal, 'joint goal')


GOAL_IN = {itf.POSE: (PoseStamped, lambda m, model, frame: pose_to_goal(m, model, frame),
                      'goal pose'),
           itf.JOINT_STATE: (JointState, lambda m, model, frame: joint_goal(m, model),
                             'joint goal')}


def goal_input(model):
    """(message type, topic, (msg, model, frame_id) -> goal, what) of the goal."""
    g = plan(model).goal
    msg_type, convert, what = GOAL_IN[g.kind]
    return msg_type, g.topic, convert, what


def goal_message(goal, model, frame_id='odom'):
    """The goal topic and message that carry the goal state ``goal`` (as sent to the node)."""
    p = plan(model)
    goal = np.asarray(goal, float)
    ch = {c: float(goal[k]) for k, c in p.goal_rows}
    if p.goal.kind == itf.JOINT_STATE:
        joints = list(p.goal.joints)
        return JointState, p.goal.topic, JointState(
            name=joints, position=[ch.get('position.' + j, 0.0) for j in joints],
            velocity=[ch.get('velocity.' + j, 0.0) for j in joints])
    msg = planar_pose(ch.get('position.x', 0.0), ch.get('position.y', 0.0),
                      ch.get('yaw', 0.0), frame_id)
    msg.pose.position.z = ch.get('position.z', 0.0)
    return PoseStamped, p.goal.topic, msg


# ---------------------------------------------------------------------------- references
def path_to_reference(msg: Path, model, horizon, dt, frame_id):
    """One pose per shooting interval (dt apart) -> (N+1, nx); short paths hold their end.
    Velocity channels come from the poses' differences (0 at the end)."""
    p = _expect(model, itf.ODOMETRY, 'a path')
    _check_frame(msg.header.frame_id, frame_id, 'path')
    if not msg.poses:
        raise Rejected('path has no poses')
    for i, ps in enumerate(msg.poses):
        if ps.header.frame_id not in ('', frame_id):
            raise Rejected('path pose %d is in frame %r, expected %r'
                           % (i, ps.header.frame_id, frame_id))
    take = [msg.poses[min(k, len(msg.poses) - 1)].pose for k in range(horizon + 1)]
    pos = _finite([[q.position.x, q.position.y, q.position.z] for q in take], 'path')
    yaw = np.zeros(horizon + 1)
    if p.needs_yaw or p.needs_twist:
        yaw = np.unwrap([yaw_of(*_quaternion(q.orientation, 'path')) for q in take])
    vel = np.zeros((horizon + 1, 3))
    vel[:-1] = np.diff(pos, axis=0) / dt
    rate = np.zeros(horizon + 1)
    rate[:-1] = np.diff(yaw) / dt
    ch = {'yaw': yaw, 'twist.angular.z': rate}
    c, s = np.cos(yaw), np.sin(yaw)
    body = (c * vel[:, 0] + s * vel[:, 1], -s * vel[:, 0] + c * vel[:, 1], vel[:, 2])
    for a in range(3):
        ch['position.' + AXES[a]] = pos[:, a]
        ch['velocity.' + AXES[a]] = vel[:, a]
        ch['twist.linear.' + AXES[a]] = body[a]
    ref = np.zeros((horizon + 1, model.nx))
    for k, channel in p.rows:
        ref[:, k] = ch[channel]
    return ref


def trajectory_to_reference(msg: JointTrajectory, model, horizon, dt):
    """Sample a JointTrajectory at k * dt (k = 0..N) -> (N+1, nx), joints matched by name."""
    p = _expect(model, itf.JOINT_STATE, 'a joint trajectory')
    names, got = p.joints, list(msg.joint_names)
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
    values = {'position': _finite(q, 'trajectory positions'),
              'velocity': _finite(dq, 'trajectory velocities')}
    t = np.arange(horizon + 1) * dt
    ref = np.zeros((horizon + 1, model.nx))
    for k, quantity, j in p.joint_rows:
        ref[:, k] = np.interp(t, times, values[quantity][:, j])
    return ref


REFERENCE_IN = {
    itf.ODOMETRY: (Path, 'plan', path_to_reference, 'plan'),
    itf.JOINT_STATE: (JointTrajectory, 'reference_trajectory',
                      lambda m, model, n, dt, frame: trajectory_to_reference(m, model, n, dt),
                      'trajectory')}


def reference_input(model):
    """(message type, topic, (msg, model, horizon, dt, frame_id) -> reference, what) of the
    reference a model's state message implies."""
    return REFERENCE_IN[plan(model).state.kind]


# ---------------------------------------------------------------------------- commands out
def command_values(model, u, x=None, p=None):
    """The values a command message carries for the input ``u`` (and, for computed Twist
    fields, the state ``x`` and parameters ``p``; an unknown state counts as nominal)."""
    pl = plan(model)
    cmd = pl.command
    if cmd.kind == itf.ARRAY:
        return [float(v) for v in np.asarray(u, float).ravel()]
    if cmd.command is None:
        return [float(u[i]) for i in pl.input_index]
    x = model.x_nominal if x is None else x
    p = model.param_vector() if p is None else p
    return [float(v) for v in np.asarray(cmd.command(x, u, p), float).ravel()]


def twist_parts(model, values):
    """Command values -> the Twist's (linear, angular) triples by the declared fields."""
    by_field = dict(zip(plan(model).command.fields, values))
    return (tuple(float(by_field.get('linear.' + a, 0.0)) for a in AXES),
            tuple(float(by_field.get('angular.' + a, 0.0)) for a in AXES))


def twist_bytes(model, values, stamp=None, frame_id=''):
    """Command values as a serialized Twist, or TwistStamped with ``stamp`` (builtin Time)."""
    linear, angular = twist_parts(model, values)
    return cdr.twist(linear, angular, None if stamp is None else (stamp.sec, stamp.nanosec),
                     frame_id)


def to_twist(model, values):
    msg = Twist()
    (msg.linear.x, msg.linear.y, msg.linear.z), (msg.angular.x, msg.angular.y,
                                                 msg.angular.z) = twist_parts(model, values)
    return msg


def to_twist_stamped(model, values, stamp, frame_id):
    msg = TwistStamped()
    msg.header.stamp = stamp
    msg.header.frame_id = frame_id
    msg.twist = to_twist(model, values)
    return msg


def to_float_array(u, label='joints'):
    msg = Float64MultiArray()
    values = [float(v) for v in np.asarray(u, float).ravel()]
    msg.layout.dim = [MultiArrayDimension(label=label, size=len(values), stride=len(values))]
    msg.data = values
    return msg


def _joint_values(x, model, xdot=None):
    """{'position': [...], 'velocity': [...] or None} per joint of the state message, from
    the state (a velocity no state carries: d/dt of the position state, if ``xdot``)."""
    p = plan(model)
    ch = {c: float(x[k]) for k, c in p.rows}
    positions = [ch.get('position.' + j, 0.0) for j in p.joints]
    velocities = []
    for j in p.joints:
        if 'velocity.' + j in ch:
            velocities.append(ch['velocity.' + j])
        elif xdot is not None and 'position.' + j in p.channel:
            velocities.append(float(xdot[p.channel['position.' + j]]))
        else:
            return positions, None
    return positions, velocities


def joint_efforts(model, u):
    """The input on each joint of the state message (0 for joints no input drives), or None
    when the commands name no joints."""
    p = plan(model)
    if not p.command.joints:
        return None
    by_joint = dict(zip(p.command.joints, np.asarray(u, float).ravel()))
    return [float(by_joint.get(j, 0.0)) for j in p.joints]


def to_joint_trajectory(x_pred, u_pred, model, stamp, dt):
    """The predicted horizon as a JointTrajectory (positions, velocities, efforts)."""
    msg = JointTrajectory()
    msg.header.stamp = stamp
    msg.joint_names = list(plan(model).joints)
    for k, x in enumerate(np.asarray(x_pred, float)):
        pt = JointTrajectoryPoint()
        positions, velocities = _joint_values(x, model)
        pt.positions = positions
        pt.velocities = velocities or []
        if u_pred is not None and k < len(u_pred):
            pt.effort = joint_efforts(model, u_pred[k]) or []
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
    """Predicted states as a nav_msgs/Path in ``frame_id`` (their pose channels)."""
    p = _expect(model, itf.ODOMETRY, 'a path')
    msg = Path()
    msg.header.stamp = stamp
    msg.header.frame_id = frame_id
    for x in np.asarray(x_pred, float):
        ch = {c: x[k] for k, c in p.rows}
        ps = planar_pose(ch.get('position.x', 0.0), ch.get('position.y', 0.0),
                         ch.get('yaw', 0.0), frame_id)
        ps.pose.position.z = float(ch.get('position.z', 0.0))
        ps.header = msg.header
        msg.poses.append(ps)
    return msg


# ---------------------------------------------------------------------------- simulator side
def command_to_input(msg, model, x, p):
    """A command message (Twist, TwistStamped or Float64MultiArray) -> the model's input, at
    state ``x`` with parameters ``p`` (computed Twist fields are inverted there)."""
    if isinstance(msg, Float64MultiArray):
        if len(msg.data) != model.nu:
            raise Rejected('command has %d values, the model takes %d (%s)'
                           % (len(msg.data), model.nu, ', '.join(model.input_names)))
        return _finite(msg.data, 'command')
    t = msg.twist if isinstance(msg, TwistStamped) else msg
    return twist_to_input(model, (t.linear.x, t.linear.y, t.linear.z),
                          (t.angular.x, t.angular.y, t.angular.z), x, p)


def twist_to_input(model, linear, angular, x, p):
    """A Twist's linear and angular triples -> the model's input (inverting a computed Twist
    at state ``x``, parameters ``p``)."""
    pl = plan(model)
    by_field = {'linear.' + a: v for a, v in zip(AXES, linear)}
    by_field.update({'angular.' + a: v for a, v in zip(AXES, angular)})
    values = _finite([by_field[f] for f in pl.command.fields], 'twist command')
    if pl.command.command is None:
        u = np.zeros(model.nu)
        u[pl.input_index] = values
        return u
    return _finite(np.asarray(pl.command.to_input(values, x, p), float).ravel(), 'input')


def _odometry_fields(x, xdot, model):
    """A state (and its rate, for the channels no state carries) as odometry's position,
    orientation (x, y, z, w), body linear and angular twist."""
    p = _expect(model, itf.ODOMETRY, 'odometry')
    ch = {c: float(x[k]) for k, c in p.rows}
    rate = {c: float(xdot[k]) for k, c in p.rows} if xdot is not None else {}
    position = tuple(ch.get('position.' + a, 0.0) for a in AXES)
    yaw = ch.get('yaw', 0.0)
    odom = [ch['velocity.' + a] if 'velocity.' + a in ch else rate.get('position.' + a, 0.0)
            for a in AXES]
    c, s = math.cos(yaw), math.sin(yaw)
    body = (c * odom[0] + s * odom[1], -s * odom[0] + c * odom[1], odom[2])
    linear = tuple(ch.get('twist.linear.' + a, body[i]) for i, a in enumerate(AXES))
    angular = (0.0, 0.0, ch.get('twist.angular.z', rate.get('yaw', 0.0)))
    return position, (0.0, 0.0, math.sin(yaw / 2.0), math.cos(yaw / 2.0)), linear, angular


def state_to_odometry(x, model, stamp, frame_id, child_frame_id, xdot=None):
    """A state (and its rate ``xdot``, for the twist) as Odometry."""
    position, orientation, linear, angular = _odometry_fields(x, xdot, model)
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


def state_to_odometry_bytes(x, model, stamp, frame_id, child_frame_id, xdot=None):
    """The same Odometry, serialized (the simulator's state path builds no message object)."""
    return cdr.odometry((stamp.sec, stamp.nanosec), frame_id, child_frame_id,
                        *_odometry_fields(x, xdot, model))


def state_to_joint_state(x, model, stamp, effort=None, xdot=None):
    """A state as a JointState of the model's joints (``effort``: one value per joint)."""
    positions, velocities = _joint_values(x, model, xdot)
    msg = JointState()
    msg.header.stamp = stamp
    msg.name = list(plan(model).joints)
    msg.position = positions
    msg.velocity = velocities or []
    if effort is not None:
        msg.effort = [float(v) for v in effort]
    return msg


STATE_OUT = {itf.ODOMETRY: Odometry, itf.JOINT_STATE: JointState}
# the predicted horizon for display: a path of poses, or a trajectory of joint states
PREDICTION = {itf.ODOMETRY: (Path, 'predicted_path'),
              itf.JOINT_STATE: (JointTrajectory, 'predicted_trajectory')}


def prediction_output(model):
    """(message type, topic under the node's name) of the predicted horizon."""
    return PREDICTION[plan(model).state.kind]


# ---------------------------------------------------------------------------- whole messages
def state_message(x, u, p, model, stamp, frame_id='odom', child_frame_id='base_link'):
    """(topic, message) of the state ``x`` as the model's state message says, with the input
    ``u`` applied (the odometry twist, the efforts) at parameters ``p``."""
    xdot = np.asarray(model.rhs(x, u, p), float).ravel()
    state = plan(model).state
    if state.kind == itf.JOINT_STATE:
        return state.topic, state_to_joint_state(x, model, stamp, joint_efforts(model, u), xdot)
    return state.topic, state_to_odometry(x, model, stamp, frame_id, child_frame_id, xdot)


def command_message(u, x, p, model):
    """(topic, message) of the command ``u`` (a Twist, or the inputs as an array)."""
    command = plan(model).command
    if command.kind == itf.TWIST:
        return command.topic, to_twist(model, command_values(model, u, x, p))
    return command.topic, to_float_array(u, 'joints' if command.joints else 'inputs')


def prediction_message(x_pred, u_pred, model, stamp, dt, frame_id='odom'):
    """(topic under the node's name, message) of a predicted horizon."""
    msg_type, topic = prediction_output(model)
    if msg_type is JointTrajectory:
        return topic, to_joint_trajectory(x_pred, u_pred, model, stamp, dt)
    return topic, to_path(x_pred, model, stamp, frame_id)
