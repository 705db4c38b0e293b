"""The load check of a model: every model, built-in or not, passes it before it is used.

Each problem is one line naming the model and the field: sizes of f, holding and power, names,
bounds, the nominal point, the safe command and the ROS interface. A model that passes runs
everywhere (controller, simulator, nodes, compiled solvers).
"""
import math

import casadi as ca
import numpy as np

from . import interface as itf
from .base import SAFE_KINDS, Model, Signal


class ModelError(ValueError):
    """A model that cannot be loaded or used; the text is one line naming the problem."""


def check(model, name, source):
    """Raise ModelError unless ``model`` is a usable Model named ``name``."""
    where = 'model %s (%s)' % (name, source)

    def fail(text):
        raise ModelError('%s: %s' % (where, text))
    if not isinstance(model, Model):
        fail('build() returned %s, not a casadi_mpc Model' % type(model).__name__)
    if model.name != name:
        fail('the Model is named %r; its options declare %r' % (model.name, name))
    for group in ('states', 'inputs', 'params'):
        _signals(getattr(model, group), group, fail)
    if not model.states or not model.inputs:
        fail('a model needs at least one state and one input')
    for s in model.inputs:
        if not (math.isfinite(s.lower) and math.isfinite(s.upper)):
            fail('inputs: %s needs finite bounds, has [%g, %g]' % (s.name, s.lower, s.upper))
        if not s.lower <= 0.0 <= s.upper:
            fail('inputs: the bounds of %s, [%g, %g], must contain 0 (the safe command at '
                 'rest)' % (s.name, s.lower, s.upper))
    nx, nu, n_p = model.nx, model.nu, model.n_params
    _function(model.rhs, 'rhs', [nx, nu, n_p], nx, fail)
    if model.holding is not None:
        _function(model.holding, 'holding', [nx, n_p], nu, fail)
    if model.power is not None:
        _function(model.power, 'power', [nx, nu, n_p], nu, fail)
    x, u, p = model.x_nominal, model.u_nominal, model.param_vector()
    xdot = np.asarray(model.rhs(x, u, p), float).ravel()
    if not np.all(np.isfinite(xdot)):
        bad = [model.state_names[i] for i in np.flatnonzero(~np.isfinite(xdot))]
        fail('rhs is not finite at the nominal point (states, inputs and parameters at their '
             'default values): d/dt of %s' % ', '.join(bad))
    for group, size in (('position', nx), ('velocity', nx)):
        _indices(getattr(model, group), group, size, fail)
    if model.safe.kind not in SAFE_KINDS:
        fail('safe.kind %r is unknown; known: %s' % (model.safe.kind, ', '.join(SAFE_KINDS)))
    if model.safe.brake is not None:
        _indices(model.safe.brake, 'safe.brake', nx, fail)
    if model.interface is not None:
        _interface(model, fail)
    return model


def _signals(items, group, fail):
    if not isinstance(items, tuple) or not all(isinstance(s, Signal) for s in items):
        fail('%s must be a tuple of Signal' % group)
    names = [s.name for s in items]
    if not all(isinstance(n, str) and n for n in names):
        fail('%s: every entry needs a name' % group)
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        fail('%s: %s named twice' % (group, ', '.join(twice)))
    for s in items:
        if not isinstance(s.unit, str):
            fail('%s: %s has no unit (a string, e.g. "m" or "1")' % (group, s.name))
        values = (s.default, s.lower, s.upper)
        if any(isinstance(v, bool) or not isinstance(v, (int, float)) or math.isnan(v)
               for v in values):
            fail('%s: %s has a default or bound that is no number' % (group, s.name))
        if s.lower > s.upper:
            fail('%s: %s has lower bound %g above upper bound %g'
                 % (group, s.name, s.lower, s.upper))
        if not (math.isfinite(s.default) and s.lower <= s.default <= s.upper):
            fail('%s: %s has nominal value %g outside its bounds [%g, %g]'
                 % (group, s.name, s.default, s.lower, s.upper))


def _function(fn, what, sizes, out, fail):
    if not isinstance(fn, ca.Function):
        fail('%s must be a casadi.Function, got %s' % (what, type(fn).__name__))
    if fn.n_in() != len(sizes) or fn.n_out() != 1:
        fail('%s must take %d arguments and return 1 value, takes %d and returns %d'
             % (what, len(sizes), fn.n_in(), fn.n_out()))
    for i, size in enumerate(sizes):
        got = fn.size_in(i)
        if got[0] * got[1] != size or min(got) > 1:
            fail('%s: argument %s has shape %dx%d, expected %d values'
                 % (what, fn.name_in(i), got[0], got[1], size))
    got = fn.size_out(0)
    if got[0] * got[1] != out or min(got) > 1:
        fail('%s returns shape %dx%d, expected %d values' % (what, got[0], got[1], out))


def _indices(values, what, size, fail):
    if not all(isinstance(i, (int, np.integer)) and 0 <= i < size for i in values):
        fail('%s: indices %s outside 0..%d' % (what, list(values), size - 1))


# ---------------------------------------------------------------------------- interface
def _interface(model, fail):
    i = model.interface
    if not isinstance(i, itf.Interface):
        fail('interface must be an interface.Interface, got %s' % type(i).__name__)
    _state(model, i.state, 'interface.state', itf.STATE_KINDS, fail)
    goal = i.goal_message
    _state(model, goal, 'interface.goal', itf.GOAL_KINDS, fail)
    _command(model, i.command, fail)
    if not all(isinstance(k, str) and isinstance(v, str) and v for k, v in i.driver.items()):
        fail('interface.driver must map topic names to topic names')


def _state(model, msg, what, kinds, fail):
    if msg.kind not in kinds:
        fail('%s: unknown interface kind %r; known: %s' % (what, msg.kind, ', '.join(kinds)))
    unknown = [n for n in msg.fields if n not in model.state_names]
    if unknown:
        fail('%s.fields: %s is not a state (states: %s)'
             % (what, ', '.join(unknown), ', '.join(model.state_names)))
    if msg.kind == itf.JOINT_STATE:
        joints = list(msg.joints)
        if not joints or len(set(joints)) != len(joints) or not all(joints):
            fail('%s.joints must name each joint once, got %s' % (what, joints))
        allowed = {'%s.%s' % (q, j) for q in itf.JOINT_QUANTITIES for j in joints}
    else:
        allowed = set(itf.ODOMETRY_CHANNELS if msg.kind == itf.ODOMETRY else
                      itf.POSE_CHANNELS)
    bad = ['%s: %r' % kv for kv in msg.fields.items() if kv[1] not in allowed]
    if bad:
        fail('%s.fields: unknown channel %s for kind %s' % (what, '; '.join(bad), msg.kind))
    channels = list(msg.fields.values())
    twice = sorted({c for c in channels if channels.count(c) > 1})
    if twice:
        fail('%s.fields: channel %s carries two states' % (what, ', '.join(twice)))
    if not msg.fields:
        fail('%s.fields: the message carries no state' % what)


def _command(model, cmd, fail):
    what = 'interface.command'
    if cmd.kind not in itf.COMMAND_KINDS:
        fail('%s: unknown interface kind %r; known: %s'
             % (what, cmd.kind, ', '.join(itf.COMMAND_KINDS)))
    if cmd.kind == itf.ARRAY:
        if cmd.joints and len(cmd.joints) != model.nu:
            fail('%s.joints: %d joints for %d inputs' % (what, len(cmd.joints), model.nu))
        return
    bad = [f for f in cmd.fields if f not in itf.TWIST_FIELDS]
    if bad or len(set(cmd.fields)) != len(cmd.fields) or not cmd.fields:
        fail('%s.fields: %s; Twist fields are %s, each at most once'
             % (what, list(cmd.fields), ', '.join(itf.TWIST_FIELDS)))
    if cmd.command is None:
        unknown = [n for n in cmd.inputs if n not in model.input_names]
        if unknown:
            fail('%s: %s is not an input (inputs: %s)'
                 % (what, ', '.join(map(str, unknown)), ', '.join(model.input_names)))
        if sorted(cmd.inputs) != sorted(model.input_names):
            fail('%s: a Twist must carry every input once (%s), carries %s'
                 % (what, ', '.join(model.input_names), ', '.join(cmd.inputs)))
        return
    n = len(cmd.fields)
    _function(cmd.command, what + '.command', [model.nx, model.nu, model.n_params], n, fail)
    if cmd.to_input is None:
        fail('%s.to_input: a computed Twist needs its inverse (values, x, p) -> u' % what)
    _function(cmd.to_input, what + '.to_input', [n, model.nx, model.n_params], model.nu,
              fail)
