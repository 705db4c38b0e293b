"""The estimator's and the safety filter's messages <-> numpy (pure; no node, no DDS).

One small place: the state message of a model (as its interface declares it), read
whole or in part (the measured states only: a pose without twist, joint positions without
velocities), written back as the same message type; commands in as the controller sends them
(Twist or TwistStamped for velocity-commanded bases, Float64MultiArray otherwise) and out the
same way; estimated model parameters as a ParameterEvent, out of the estimator and into the
controller.
"""
import dataclasses
from collections import deque
from functools import lru_cache

import numpy as np
from geometry_msgs.msg import Twist, TwistStamped
from rcl_interfaces.msg import Parameter as ParameterMsg, ParameterEvent, ParameterType, \
    ParameterValue
from rclpy.serialization import deserialize_message
from std_msgs.msg import Float64MultiArray

from . import cdr, conversions as conv
from .conversions import Rejected


def state_topic(model):
    """(message type, topic) of the model's state message (its interface's)."""
    msg_type, topic, _, _ = conv.state_input(model)
    return msg_type, topic


def command_topic(model, stamped=False):
    """(message type, topic) of the model's commands."""
    topic = model.interface.command.topic
    if conv.twist_commanded(model):
        return (TwistStamped if stamped else Twist), topic
    return Float64MultiArray, topic


@lru_cache(maxsize=None)
def _reading(model, measured):
    """The model with a state message that carries the ``measured`` states only (a pose
    without twist, joint positions without velocities): what a partial measurement reads."""
    state = model.interface.state
    names = {model.state_names[i] for i in measured}
    part = dataclasses.replace(state, fields={n: c for n, c in state.fields.items()
                                              if n in names})
    return dataclasses.replace(model, interface=dataclasses.replace(model.interface,
                                                                    state=part))


def read_state(buf, model, measured, frame_id, effort=False):
    """Serialized state message -> (values of the ``measured`` state indices, stamp as
    (sec, nanosec)), and with ``effort`` (joint robots) the joint efforts in the model's input
    order as a third item. Only the measured channels are read, so a joint state of positions
    alone is a whole measurement of the positions."""
    measured = tuple(int(i) for i in measured)
    reading = _reading(model, measured)
    _, _, decode, what = conv.state_input(reading)
    x, stamp = decode(buf, reading, frame_id)
    y = x[list(measured)]
    if not np.all(np.isfinite(y)):
        bad = [model.state_names[i] for i, v in zip(measured, y) if not np.isfinite(v)]
        raise Rejected('%s does not carry %s' % (what, bad))
    if not effort:
        return y, stamp
    joints = list(model.interface.command.joints)
    if model.interface.state.kind != 'joint_state' or not joints:
        raise Rejected('model %s reports no effort in its state message' % model.name)
    try:
        _, _, names, _, _, efforts = cdr.read_joint_state(buf)
    except cdr.CdrError as err:
        raise Rejected('joint state: %s' % err) from None
    if len(efforts) != len(names):
        raise Rejected('joint state has %d names but %d efforts (the input is read from '
                       'them)' % (len(names), len(efforts)))
    index = {name: i for i, name in enumerate(names)}
    u = np.asarray(efforts, float)[[index[j] for j in joints]]
    if not np.all(np.isfinite(u)):
        raise Rejected('joint state has NaN or Inf efforts: %s' % np.round(u, 4).tolist())
    return y, stamp, u


def state_message(x, u, model, stamp, frame_id, child_frame_id, p=None):
    """A state as the model's state message: serialized Odometry (its twist from the state's
    rate under ``u``, as the simulator writes it; none without ``u``) or a JointState."""
    p = model.param_vector() if p is None else p
    xdot = None if u is None else np.asarray(model.rhs(x, u, p), float).ravel()
    if model.interface.state.kind == 'joint_state':
        return conv.state_to_joint_state(x, model, stamp, xdot=xdot)
    return conv.state_to_odometry_bytes(x, model, stamp, frame_id, child_frame_id, xdot)


def read_command(msg, model, x=None, p=None):
    """A command message -> the model's input vector (Rejected when unusable); a Twist the
    model computes from its state is inverted at ``x`` (default: the nominal state)."""
    return conv.command_to_input(msg, model, model.x_nominal if x is None else x,
                                 model.param_vector() if p is None else p)


def read_command_bytes(buf, model, stamped=False, x=None, p=None):
    """A serialized command -> (the model's input vector, its stamp (sec, nanosec) or None):
    Twist or TwistStamped for Twist-commanded robots, Float64MultiArray otherwise."""
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
    u = conv.twist_to_input(model, linear, angular, model.x_nominal if x is None else x,
                            model.param_vector() if p is None else p)
    return u, stamp


def command_message(u, model, stamp=None, frame_id='', x=None, p=None):
    """The model's input as its command message: serialized Twist (TwistStamped with a
    ``stamp``) or a Float64MultiArray."""
    if conv.twist_commanded(model):
        return conv.twist_bytes(model, conv.command_values(model, u, x, p), stamp, frame_id)
    return conv.to_float_array(u, 'joints' if model.interface.command.joints else 'inputs')


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
