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

    def safe_input(self, x, p, hold=True) -> np.ndarray:
        """The command that stops the robot: zero, or the holding torque for arms."""
        if hold and self.holding is not None:
            u = np.asarray(self.holding(x, p), dtype=float).ravel()
            return np.clip(u, self.u_lb, self.u_ub)
        return np.zeros(self.nu)

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
