"""The estimator's and the safety filter's messages <-> numpy (pure; no node, no DDS).

One small place: the state message of a model (odometry for bases, joint states for arms), read
whole or in part (the measured states only: a pose without twist, joint positions without
velocities), written back as the same message type; commands in as the controller sends them
(Twist or TwistStamped for velocity-commanded bases, Float64MultiArray otherwise) and out the
same way; estimated model parameters as a ParameterEvent, out of the estimator and into the
controller.
"""
from collections import deque

import numpy as np
from geometry_msgs.msg import Twist, TwistStamped
from nav_msgs.msg import Odometry
from rcl_interfaces.msg import Parameter as ParameterMsg, ParameterEvent, ParameterType, \
    ParameterValue
from rclpy.serialization import deserialize_message
from sensor_msgs.msg import JointState
from std_msgs.msg import Float64MultiArray

from . import cdr, conversions as conv
from .conversions import Rejected


def state_topic(model):
    """(message type, topic) of the model's state: odometry for bases, joint states for
    arms."""
    if model.kind == 'arm':
        return JointState, 'joint_states'
    return Odometry, 'odom'


def command_topic(model, stamped=False):
    """(message type, topic) of the model's commands."""
    if conv.twist_commanded(model):
        return (TwistStamped if stamped else Twist), 'cmd_vel'
    return Float64MultiArray, 'commands'


def read_state(buf, model, measured, frame_id, effort=False):
    """Serialized state message -> (values of the ``measured`` state indices, stamp as
    (sec, nanosec)), and with ``effort`` (arms) the joint efforts in the model's input order
    as a third item. Arms read velocities only when a velocity is measured, so a joint state
    of positions alone is a whole measurement of the positions."""
    if model.kind != 'arm':
        if effort:
            raise Rejected('model %s reports no effort in its state message' % model.name)
        x, stamp = conv.odometry_bytes_to_state(buf, model, frame_id)
        return x[measured], stamp
    try:
        stamp, _, names, position, velocity, efforts = cdr.read_joint_state(buf)
    except cdr.CdrError as err:
        raise Rejected('joint state: %s' % err) from None
    joints = list(model.joint_names)
    n = len(joints)
    wants_velocity = bool(np.any(np.asarray(measured) >= n))
    if len(position) != len(names):
        raise Rejected('joint state has %d names but %d positions' % (len(names), len(position)))
    if wants_velocity and len(velocity) != len(names):
        raise Rejected('joint state has %d names but %d velocities (velocities are measured)'
                       % (len(names), len(velocity)))
    if len(set(names)) != len(names):
        raise Rejected('joint state lists a joint twice: %s' % list(names))
    index = {name: i for i, name in enumerate(names)}
    missing = [j for j in joints if j not in index]
    if missing:
        raise Rejected('joint state lacks joint(s) %s (has %s)' % (missing, list(names)))
    order = [index[j] for j in joints]
    x = np.full(model.nx, np.nan)
    x[:n] = np.asarray(position, float)[order]
    if wants_velocity:
        x[n:2 * n] = np.asarray(velocity, float)[order]
    y = x[measured]
    if not np.all(np.isfinite(y)):
        bad = [model.state_names[i] for i, v in zip(measured, y) if not np.isfinite(v)]
        raise Rejected('joint state has NaN or Inf for %s' % bad)
    if not effort:
        return y, stamp
    if len(efforts) != len(names):
        raise Rejected('joint state has %d names but %d efforts (the input is read from '
                       'them)' % (len(names), len(efforts)))
    u = np.asarray(efforts, float)[order]
    if not np.all(np.isfinite(u)):
        raise Rejected('joint state has NaN or Inf efforts: %s' % np.round(u, 4).tolist())
    return y, stamp, u


def state_message(x, u, model, stamp, frame_id, child_frame_id):
    """A state as the model's state message: serialized Odometry (twist from the command, as
    the simulator writes it) or a JointState."""
    if model.kind == 'arm':
        return conv.state_to_joint_state(x, model, stamp)
    return conv.state_to_odometry_bytes(x, u, model, stamp, frame_id, child_frame_id)


def read_command(msg, model):
    """A command message -> the model's input vector (Rejected when unusable)."""
    if isinstance(msg, Float64MultiArray):
        return conv.array_to_input(msg, model)
    return conv.twist_to_input(msg, model)


def read_command_bytes(buf, model, stamped=False):
    """A serialized command -> (the model's input vector, its stamp (sec, nanosec) or None):
    Twist or TwistStamped for velocity-commanded bases, Float64MultiArray otherwise."""
    if not conv.twist_commanded(model):
        try:
            msg = deserialize_message(buf, Float64MultiArray)
        except Exception as err:   # noqa: B902 - rclpy's error for bytes that are no message
            raise Rejected('command: %s' % err) from None
        return read_command(msg, model), None
    try:
        stamp, linear, angular = cdr.read_twist(buf, stamped)
    except cdr.CdrError as err:
        raise Rejected('twist command: %s' % err) from None
    u = np.array([linear[0], angular[2]])
    if not np.all(np.isfinite(u)):
        raise Rejected('twist command holds NaN or Inf: %s' % np.round(u, 4).tolist())
    return u, stamp


def command_message(u, model, stamp=None, frame_id=''):
    """The model's input as its command message: serialized Twist (TwistStamped with a
    ``stamp``) or a Float64MultiArray."""
    if conv.twist_commanded(model):
        return conv.twist_bytes(u, stamp, frame_id)
    return conv.to_float_array(u, 'joints' if model.kind == 'arm' else 'inputs')


# ---------------------------------------------------------------------------- parameters
PARAMETER_PREFIX = 'model.params.'


def parameter_event(names, values, stamp, node):
    """Estimated model parameters as a ParameterEvent: ``model.params.<name>`` doubles, the
    names ``mpc_node`` declares for them."""
    msg = ParameterEvent(stamp=stamp, node=node)
    msg.changed_parameters = [
        ParameterMsg(name=PARAMETER_PREFIX + name, value=ParameterValue(
            type=ParameterType.PARAMETER_DOUBLE, double_value=float(value)))
        for name, value in zip(names, values)]
    return msg


def read_parameter_event(msg, model):
    """A ParameterEvent of estimated parameters -> {'model.params.<name>': value}; Rejected
    for a parameter the model does not have, a value that is no finite double, or none."""
    out = {}
    for p in list(msg.new_parameters) + list(msg.changed_parameters):
        name = p.name[len(PARAMETER_PREFIX):] if p.name.startswith(PARAMETER_PREFIX) else None
        if name not in model.param_names:
            raise Rejected('%s is no parameter of model %s (%s)' % (
                p.name, model.name, ', '.join(PARAMETER_PREFIX + n for n in model.param_names)
                or 'none'))
        value = p.value.double_value
        if p.value.type != ParameterType.PARAMETER_DOUBLE or not np.isfinite(value):
            raise Rejected('%s must be a finite double' % p.name)
        out[p.name] = float(value)
    if not out:
        raise Rejected('no parameter in the event')
    return out


# ---------------------------------------------------------------------------- timing
class ClockLog:
    """When each /clock message reached this process (system time) and the time it carried,
    so that a message's arrival (its MessageInfo received_timestamp) converts to the
    simulated time the node clock showed then, however late the executor handles it."""

    def __init__(self, size=256):
        self.entries = deque(maxlen=size)   # (received [ns, system], clock [ns])

    def add(self, received_ns, clock_ns):
        if self.entries and received_ns < self.entries[-1][0]:
            return   # out of order: keep the log sorted
        self.entries.append((int(received_ns), int(clock_ns)))

    def at(self, received_ns):
        """The clock [ns] in force at ``received_ns``; None before the first logged tick."""
        for received, clock in reversed(self.entries):
            if received <= received_ns:
                return clock
        return None
