"""The model contract shared by the controller, the simulator and the estimator."""
from dataclasses import dataclass, field
from typing import Optional

import casadi as ca
import numpy as np


@dataclass(frozen=True)
class Signal:
    """One named entry of a state, input or parameter vector."""

    name: str
    unit: str
    default: float = 0.0


@dataclass(frozen=True)
class Model:
    """A robot model: data plus CasADi expressions.

    ``rhs`` maps (x, u, p) to the state derivative. Parameters (masses, lengths, ...) are symbols,
    so a simulator can be given a mismatched copy and an estimator can fit them.
    """

    name: str
    kind: str                      # 'base' (commands are velocities) or 'arm' (joint torques)
    states: tuple
    inputs: tuple
    params: tuple
    rhs: ca.Function               # (x[nx], u[nu], p[np]) -> xdot[nx]
    x_lb: np.ndarray
    x_ub: np.ndarray
    u_lb: np.ndarray
    u_ub: np.ndarray
    wrap: tuple = ()               # indices of angle states (errors wrapped to (-pi, pi])
    position: tuple = ()           # indices of the configuration (pose or joint angles)
    velocity: tuple = ()           # indices of the velocities, for dynamic models
    joint_names: tuple = ()        # arms: joint names in state order
    holding: Optional[ca.Function] = None   # (x, p) -> u that keeps the robot still (gravity)
    power: Optional[ca.Function] = None     # (x, u, p) -> mechanical power per input [W]
    meta: dict = field(default_factory=dict)

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

    def param_vector(self, overrides=None) -> np.ndarray:
        """Default parameter values, with ``overrides`` (name -> value) applied."""
        overrides = dict(overrides or {})
        unknown = set(overrides) - set(self.param_names)
        if unknown:
            raise KeyError('unknown parameter(s) %s for model %s; known: %s' % (
                sorted(unknown), self.name, self.param_names))
        return np.array([float(overrides.get(s.name, s.default)) for s in self.params])

    def safe_input(self, x, p, hold=True, period=None, lb=None, ub=None) -> np.ndarray:
        """The command that brings the robot to rest and keeps it there, inside the bounds
        (``lb``/``ub``, default the model's).

        Kinematic bases (velocity commands): zero. Models with velocity states (the point mass,
        arms): the holding input (zero for the point mass, the torque against gravity for arms)
        plus a braking part that would stop the velocities within ``period`` seconds (the
        control period; None: hold only), scaled down as a whole where it would leave the
        bounds, so that the deceleration keeps its direction. Arms with ``hold`` off: zero.
        """
        lb = self.u_lb if lb is None else np.asarray(lb, float)
        ub = self.u_ub if ub is None else np.asarray(ub, float)
        if (self.kind == 'arm' and not hold) or not self.velocity:
            return np.clip(np.zeros(self.nu), lb, ub)
        held = np.zeros(self.nu) if self.holding is None else \
            np.asarray(self.holding(x, p), dtype=float).ravel()
        if not period:
            return np.clip(held, lb, ub) if np.all(np.isfinite(held)) else \
                np.clip(np.zeros(self.nu), lb, ub)
        full = np.asarray(self._brake()(x, p, 1.0 / float(period)), dtype=float).ravel()
        if not (np.all(np.isfinite(held)) and np.all(np.isfinite(full))):
            return np.clip(np.zeros(self.nu), lb, ub)
        held = np.clip(held, lb, ub)
        delta = full - held
        scale = 1.0
        for d, h, lo, hi in zip(delta, held, lb, ub):
            room = hi - h if d > 0 else lo - h
            if d != 0 and abs(d) > abs(room):
                scale = min(scale, room / d)
        return np.clip(held + max(scale, 0.0) * delta, lb, ub)

    def _brake(self):
        """(x, p, 1/T) -> u with v + T * dv/dt(x, u) = 0 (least squares in u), for models that
        are affine in their input (the point mass, rigid arms); built once per model."""
        fn = self.meta.get('_brake')
        if fn is None:
            x, p = ca.SX.sym('x', self.nx), ca.SX.sym('p', self.n_params)
            u, rate = ca.SX.sym('u', self.nu), ca.SX.sym('rate')
            vel = list(self.velocity)
            vdot = self.rhs(x, u, p)[vel]
            jac = ca.jacobian(vdot, u)
            drift = ca.substitute(vdot, u, ca.DM.zeros(self.nu))
            jac = ca.substitute(jac, u, ca.DM.zeros(self.nu))
            target = -rate * x[vel] - drift
            solution = ca.solve(jac, target) if len(vel) == self.nu else \
                ca.mtimes(ca.pinv(jac), target)
            fn = ca.Function('brake', [x, p, rate], [solution])
            self.meta['_brake'] = fn
        return fn

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


def signals(names, units, defaults=None):
    """Build a tuple of Signals from parallel lists."""
    defaults = defaults if defaults is not None else [0.0] * len(names)
    return tuple(Signal(n, u, float(d)) for n, u, d in zip(names, units, defaults))


def bounds(values):
    return np.array(values, dtype=float)
