"""The model contract shared by the controller, the simulator and the estimator.

A :class:`Model` is one object of symbols and data that declares everything the package needs
to know about a robot: its states, inputs and parameters (:class:`Signal`: name, unit, nominal
value, bounds, angle), the dynamics f(x, u, p) as a CasADi Function, optional holding input and
mechanical power, the safe command (:class:`SafeCommand`) and the ROS interface
(``interface.Interface``). It is a frozen dataclass: components that need more per-model data
add an optional field with a default (older models keep working), or read ``meta``, the
free-form dictionary for data only some components use. Keys in use: ``urdf`` (the URDF XML of
a model read from one), ``source``; ``physics`` is reserved for a physics engine's data (e.g.
a base's wheel radius and track).
"""
import math
from dataclasses import dataclass, field
from functools import cached_property
from typing import Optional, Tuple

import casadi as ca
import numpy as np

from .interface import Interface, JOINT_STATE


@dataclass(frozen=True)
class Signal:
    """One named entry of a state, input or parameter vector.

    ``default``: for parameters the default value; for states and inputs the nominal point the
    load check evaluates f at (and a first guess), inside the bounds. ``lower``/``upper``:
    bounds in SI units (inputs need finite ones). ``angle``: a state whose errors are wrapped
    to (-pi, pi]."""

    name: str
    unit: str
    default: float = 0.0
    lower: float = -math.inf
    upper: float = math.inf
    angle: bool = False


@dataclass(frozen=True)
class SafeCommand:
    """What the safe command does. ``zero``: all inputs zero (velocity-commanded bases).
    ``brake``: the holding input plus what stops the velocity states ``brake`` (indices;
    None: all of ``Model.velocity``) within one control period, inside the input bounds."""

    kind: str = 'brake'
    brake: Optional[Tuple[int, ...]] = None


SAFE_KINDS = ('zero', 'brake')


@dataclass(frozen=True, eq=False)
class Model:
    """A robot model: data plus CasADi expressions.

    ``rhs`` maps (x, u, p) to the state derivative. Parameters (masses, lengths, ...) are
    symbols, so a simulator can be given a mismatched copy and an estimator can fit them.
    ``kind``: 'base' (a mobile base; ``position[:2]`` is its x, y in the odometry frame),
    'arm' (joints driven by torques) or another word for anything else. ``position`` and
    ``velocity``: indices of the configuration and of the velocity states.
    """

    name: str
    states: Tuple[Signal, ...]
    inputs: Tuple[Signal, ...]
    params: Tuple[Signal, ...]
    rhs: ca.Function               # (x[nx], u[nu], p[np]) -> xdot[nx]
    kind: str = 'base'
    position: Tuple[int, ...] = ()
    velocity: Tuple[int, ...] = ()
    holding: Optional[ca.Function] = None   # (x, p) -> u that keeps the robot still (gravity)
    power: Optional[ca.Function] = None     # (x, u, p) -> mechanical power per input [W]
    energy_unit: str = ''                   # unit of the energy figure ('' : from power)
    safe: SafeCommand = SafeCommand()
    interface: Optional[Interface] = None
    meta: dict = field(default_factory=dict)

    # ------------------------------------------------------------------ sizes and names
    @property
    def nx(self) -> int:
        return len(self.states)

    @property
    def nu(self) -> int:
        return len(self.inputs)

    @property
    def n_params(self) -> int:
        return len(self.params)

    @property
    def state_names(self):
        return [s.name for s in self.states]

    @property
    def input_names(self):
        return [s.name for s in self.inputs]

    @property
    def param_names(self):
        return [s.name for s in self.params]

    @cached_property
    def x_lb(self):
        return np.array([s.lower for s in self.states], float)

    @cached_property
    def x_ub(self):
        return np.array([s.upper for s in self.states], float)

    @cached_property
    def u_lb(self):
        return np.array([s.lower for s in self.inputs], float)

    @cached_property
    def u_ub(self):
        return np.array([s.upper for s in self.inputs], float)

    @cached_property
    def wrap(self):
        """Indices of the angle states (errors wrapped to (-pi, pi])."""
        return tuple(i for i, s in enumerate(self.states) if s.angle)

    @property
    def joint_names(self):
        """The joints of a model whose state comes in a JointState, in message order."""
        i = self.interface
        return i.state.joints if i is not None and i.state.kind == JOINT_STATE else ()

    @property
    def x_nominal(self):
        return np.array([s.default for s in self.states], float)

    @property
    def u_nominal(self):
        return np.array([s.default for s in self.inputs], float)

    def param_vector(self, overrides=None) -> np.ndarray:
        """Default parameter values, with ``overrides`` (name -> value) applied."""
        overrides = dict(overrides or {})
        unknown = set(overrides) - set(self.param_names)
        if unknown:
            raise KeyError('unknown parameter(s) %s for model %s; known: %s' % (
                sorted(unknown), self.name, self.param_names))
        return np.array([float(overrides.get(s.name, s.default)) for s in self.params])

    # ------------------------------------------------------------------ energy
    def energy_rate(self, x, u, p):
        """Mechanical power sum |tau_i dq_i| where the model has it, else ||u||^2."""
        if self.power is not None:
            return float(np.sum(np.abs(np.asarray(self.power(x, u, p), float))))
        return float(np.sum(np.asarray(u, float) ** 2))

    @property
    def energy(self):
        """The unit of the energy figure (the integral of :meth:`energy_rate`)."""
        if self.energy_unit:
            return self.energy_unit
        return 'J' if self.power is not None else '(SI input)^2*s'

    # ------------------------------------------------------------------ safe command
    @property
    def braked(self):
        """Velocity states the safe command stops (none for 'zero')."""
        if self.safe.kind != 'brake':
            return ()
        return tuple(self.velocity if self.safe.brake is None else self.safe.brake)

    def safe_input(self, x, p, hold=True, period=None, lb=None, ub=None) -> np.ndarray:
        """The command that brings the robot to rest and keeps it there, inside the bounds
        (``lb``/``ub``, default the model's).

        ``zero`` models (kinematic bases): zero. ``brake`` models: the holding input (zero
        without one, the torque against gravity for arms) plus a braking part that would stop
        the braked velocities within ``period`` seconds (the control period; None: hold
        only), scaled down as a whole where it would leave the bounds, so that the
        deceleration keeps its direction. Models with a holding input and ``hold`` off: zero.
        """
        lb = self.u_lb if lb is None else np.asarray(lb, float)
        ub = self.u_ub if ub is None else np.asarray(ub, float)
        zero = np.clip(np.zeros(self.nu), lb, ub)
        if (self.holding is not None and not hold) or not self.braked:
            return zero
        held = np.zeros(self.nu) if self.holding is None else \
            np.asarray(self.holding(x, p), dtype=float).ravel()
        if not period:
            return np.clip(held, lb, ub) if np.all(np.isfinite(held)) else zero
        full = np.asarray(self._brake(x, p, 1.0 / float(period)), dtype=float).ravel()
        if not (np.all(np.isfinite(held)) and np.all(np.isfinite(full))):
            return zero
        held = np.clip(held, lb, ub)
        delta = full - held
        scale = 1.0
        for d, h, lo, hi in zip(delta, held, lb, ub):
            room = hi - h if d > 0 else lo - h
            if d != 0 and abs(d) > abs(room):
                scale = min(scale, room / d)
        return np.clip(held + max(scale, 0.0) * delta, lb, ub)

    @cached_property
    def _brake(self):
        """(x, p, 1/T) -> u with v + T * dv/dt(x, u) = 0 (least squares in u) for the braked
        velocities v, for models that are affine in their input (the point mass, rigid
        arms)."""
        x, p = ca.SX.sym('x', self.nx), ca.SX.sym('p', self.n_params)
        u, rate = ca.SX.sym('u', self.nu), ca.SX.sym('rate')
        vel = list(self.braked)
        vdot = self.rhs(x, u, p)[vel]
        jac = ca.jacobian(vdot, u)
        drift = ca.substitute(vdot, u, ca.DM.zeros(self.nu))
        jac = ca.substitute(jac, u, ca.DM.zeros(self.nu))
        target = -rate * x[vel] - drift
        solution = ca.solve(jac, target) if len(vel) == self.nu else \
            ca.mtimes(ca.pinv(jac), target)
        return ca.Function('brake', [x, p, rate], [solution])

    # ------------------------------------------------------------------ errors
    def state_error(self, x, goal):
        """x - goal with angle entries wrapped; works on numbers and CasADi symbols."""
        e = x - goal
        if not self.wrap:
            return e
        if isinstance(e, np.ndarray):
            e = e.astype(float).copy()
            for i in self.wrap:
                e[i] = np.arctan2(np.sin(e[i]), np.cos(e[i]))
            return e
        parts = [ca.atan2(ca.sin(e[i]), ca.cos(e[i])) if i in self.wrap else e[i]
                 for i in range(self.nx)]
        return ca.vertcat(*parts)


def signals(names, units, defaults=None, lower=None, upper=None, angles=()):
    """A tuple of Signals from parallel lists (``angles``: the names that are angles)."""
    n = len(names)
    defaults = [0.0] * n if defaults is None else defaults
    lower = [-math.inf] * n if lower is None else lower
    upper = [math.inf] * n if upper is None else upper
    return tuple(Signal(name, unit, float(d), float(lo), float(hi), name in angles)
                 for name, unit, d, lo, hi in zip(names, units, defaults, lower, upper))
