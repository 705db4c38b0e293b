"""The closed-loop loss: named metrics over rollouts, each with a weight, over scenarios.

Written in YAML (one file holds ``loss``, ``scenarios`` and optionally ``tune``)::

    loss:                       # metric: weight, or metric: {weight: ..., options}
      tracking: 1.0
      final_error: 10.0
      time_to_goal: {weight: 0.5, width: 0.02}
      energy: 0.01
    scenarios:
      - name: nominal
        x0: [0.0, 0.0, 0.0]
        goal: [2.0, 1.0, 1.5708]   # or reference: {t: [...], x: [[...], ...]}
        steps: 60
        mismatch: {mass2: 1.2}     # plant model parameters unlike the controller's
        noise: {std: 0.01, seed: 3}
    tune:
      weights: [costs.effort.weight, costs.terminal.weight[0]]   # default: every weight > 0
      bounds: {costs.effort.weight: [1.0e-4, 10.0]}

The loss of a set of weights is the mean over scenarios of sum_m weight_m * metric_m of the
scenario's rollout. Metrics, with x_k the plant state after k control steps of dt, u_k the
command applied at step k, e_k the state error to the goal (or the reference at t_k), angles
wrapped:

- ``tracking``: integrated squared tracking error, sum_{k=1..T} e_k' diag(q) e_k dt (``states``:
  q, default ones) [SI^2 s]
- ``final_error``: |e_T| [SI]
- ``time_to_goal``: time spent outside the goal tolerance, smoothed: sum_k dt * sigmoid((|e_k| -
  tol) / width), tol the config's ``goal_tolerance``, ``width`` default tol / 4 [s]. It equals the
  time to goal when the robot stays once there, and has a gradient where the exact one has none
- ``energy``: the robot's mechanical work, sum_k sum_i sqrt(P_i^2 + eps^2) - eps with P the
  model's power per input (eps = 1 mW), times dt [J]; kinematic models: sum_k |u_k|^2 dt
- ``peak_input``: the largest |u_i| / (input bound) of the rollout, smoothed (log-sum-exp with
  temperature 0.01; exceeds the maximum by at most 0.01 log(T nu)) [1]
- ``input_rate``: sum_k |u_k - u_{k-1}|^2 / dt, u_{-1} the last command before the rollout
  [(SI/s)^2 s]
- ``constraint_violation``: sum_k dt (|max(0, x_k - x_max)|^2 + |max(0, x_min - x_k)|^2 + the
  squared intrusion into configured obstacles) [SI^2 s]
- ``solver_failures``: failed solves in the rollout (the safe command went out) [1]; no
  gradient: a failure makes the rollout's gradient invalid

Every metric but ``solver_failures`` is a smooth function of the trajectory; its gradient with
respect to the trajectory comes from CasADi.
"""
from typing import Dict, List, Optional, Union

import casadi as ca
import numpy as np
from pydantic import Field, field_validator, model_validator

from .config import ConfigError, read_yaml, Strict, validate

METRICS = ('tracking', 'final_error', 'time_to_goal', 'energy', 'peak_input', 'input_rate',
           'constraint_violation', 'solver_failures')
SMOOTH = METRICS[:-1]
ENERGY_EPS = 1e-3      # [W] smoothing of |power|
PEAK_TEMPERATURE = 0.01
ABS_EPS = 1e-9


class Metric(Strict):
    weight: float = Field(1.0, ge=0, description='weight of the metric in the loss')
    states: List[float] = Field(default_factory=list, description='tracking: weight per state '
                                '(empty: ones)')
    width: Optional[float] = Field(None, gt=0, description='time_to_goal: width of the smooth '
                                   'step [SI of the error] (default goal_tolerance / 4)')

    @field_validator('weight')
    @classmethod
    def _finite(cls, v):
        if not np.isfinite(v):
            raise ValueError('weights must be finite')
        return v


class Reference(Strict):
    t: List[float] = Field(description='times of the reference points [s], increasing')
    x: List[List[float]] = Field(description='reference states, one per time')

    @model_validator(mode='after')
    def _shape(self):
        if len(self.t) != len(self.x) or len(self.t) < 1:
            raise ValueError('reference: t and x need the same number (>= 1) of entries')
        if any(b <= a for a, b in zip(self.t, self.t[1:])):
            raise ValueError('reference: times must increase')
        return self


class Noise(Strict):
    std: Union[float, List[float]] = Field(0.0, description='process noise standard deviation '
                                           'per state [SI/sqrt(s)], one value or one per state')
    seed: int = Field(0, ge=0, le=2 ** 31 - 1)


class Scenario(Strict):
    name: str = ''
    x0: List[float] = Field(description="initial state (model's state order, SI units)")
    goal: List[float] = Field(default_factory=list, description="goal (empty: the config's)")
    reference: Optional[Reference] = None
    steps: int = Field(100, ge=1, le=100000, description='control steps')
    mismatch: Dict[str, float] = Field(default_factory=dict, description='plant model '
                                       'parameters that differ from the controller')
    noise: Noise = Field(default_factory=Noise)


class TuneSection(Strict):
    weights: List[str] = Field(default_factory=list, description='weights to tune: whole keys '
                               '(costs.effort.weight) or entries (costs.effort.weight[1]); '
                               'empty: every weight entry > 0')
    bounds: Dict[str, List[float]] = Field(default_factory=dict, description='[min, max] per '
                                           'weight key or entry')


class LossFile(Strict):
    loss: Dict[str, Union[float, Metric]]
    scenarios: List[Scenario]
    tune: TuneSection = Field(default_factory=TuneSection)

    @field_validator('loss')
    @classmethod
    def _metrics(cls, v):
        unknown = [k for k in v if k not in METRICS]
        if unknown:
            raise ValueError('unknown metric(s) %s; known: %s' % (unknown, ', '.join(METRICS)))
        if not v:
            raise ValueError('no metric given; known: %s' % ', '.join(METRICS))
        return {k: m if isinstance(m, Metric) else Metric(weight=m) for k, m in v.items()}

    @field_validator('scenarios')
    @classmethod
    def _some(cls, v):
        if not v:
            raise ValueError('no scenario given')
        return v


def load(path):
    """Read and validate a loss file, or raise ConfigError naming the key and the problem."""
    data = read_yaml(path)
    spec = validate(LossFile, data if data is not None else {}, str(path), dotted=False)
    for i, s in enumerate(spec.scenarios):
        if not s.name:
            s.name = 'scenario%d' % i
    names = [s.name for s in spec.scenarios]
    if len(set(names)) != len(names):
        raise ConfigError('%s: scenario names must differ (%s)' % (path, ', '.join(names)))
    return spec


# ---------------------------------------------------------------------------- scenarios
def check_scenario(scenario, model, controller_params):
    """Check a scenario against the model; returns (x0, goal or None, plant parameters,
    noise std). Raises ConfigError naming the scenario and the key."""
    name = scenario.name
    names = ', '.join(model.state_names)

    def vector(values, key):
        arr = np.asarray(values, float)
        if arr.shape != (model.nx,) or not np.all(np.isfinite(arr)):
            raise ConfigError('scenario %s: %s = %s: expected %d finite values (%s)'
                              % (name, key, list(values), model.nx, names))
        return arr
    x0 = vector(scenario.x0, 'x0')
    goal = vector(scenario.goal, 'goal') if scenario.goal else None
    if scenario.reference is not None:
        for i, row in enumerate(scenario.reference.x):
            vector(row, 'reference.x[%d]' % i)
    try:
        plant = model.param_vector(dict(controller_params, **scenario.mismatch))
    except KeyError as err:
        raise ConfigError('scenario %s: mismatch: %s' % (name, err.args[0])) from None
    std = np.asarray(scenario.noise.std, float).ravel()
    if std.size not in (1, model.nx) or not np.all(np.isfinite(std)) or np.any(std < 0):
        raise ConfigError('scenario %s: noise.std = %s: one value or %d values (%s), finite '
                          'and >= 0' % (name, scenario.noise.std, model.nx, names))
    return x0, goal, plant, np.broadcast_to(std, (model.nx,)).copy()


def reference_at(reference, times):
    """The reference states at ``times`` (linear interpolation, held at both ends)."""
    t = np.asarray(reference.t, float)
    x = np.asarray(reference.x, float)
    times = np.atleast_1d(np.asarray(times, float))
    return np.stack([np.interp(times, t, x[:, i]) for i in range(x.shape[1])], axis=1)


# ---------------------------------------------------------------------------- metrics
class Metrics:
    """The smooth metrics of a T-step rollout as one CasADi function of the trajectory:
    (X[nx, T+1], U[nu, T], R[nx, T+1], u_init, c) -> (metrics, d(c'metrics)/dX,
    d(c'metrics)/dU), built once per horizon length."""

    def __init__(self, model, dt, goal_tolerance, x_lb, x_ub, u_lb, u_ub, plant_params,
                 obstacles=None, options=None):
        self.model, self.dt = model, float(dt)
        self.tol = float(goal_tolerance)
        self.x_lb, self.x_ub = np.asarray(x_lb, float), np.asarray(x_ub, float)
        self.u_scale = np.maximum(np.abs(u_lb), np.abs(u_ub))
        self.u_scale[self.u_scale == 0] = 1.0
        self.plant = np.asarray(plant_params, float)
        self.obstacles = np.zeros((0, 3)) if obstacles is None else \
            np.asarray(obstacles, float).reshape(-1, 3)
        self.options = options or {}
        self._fns = {}

    def function(self, steps):
        if steps not in self._fns:
            self._fns[steps] = self._build(steps)
        return self._fns[steps]

    def _build(self, T):
        m, dt = self.model, self.dt
        X, U = ca.SX.sym('X', m.nx, T + 1), ca.SX.sym('U', m.nu, T)
        R, u0 = ca.SX.sym('R', m.nx, T + 1), ca.SX.sym('u_init', m.nu)
        c = ca.SX.sym('c', len(SMOOTH))
        tracking = self.options.get('tracking')
        q = np.ones(m.nx) if tracking is None or not tracking.states else \
            np.asarray(tracking.states, float)
        if q.shape != (m.nx,):
            raise ConfigError('loss: tracking.states: expected %d values (%s)'
                              % (m.nx, ', '.join(m.state_names)))
        ttg = self.options.get('time_to_goal')
        width = ttg.width if ttg is not None and ttg.width else self.tol / 4
        errors = [m.state_error(X[:, k], R[:, k]) for k in range(T + 1)]
        norms = [ca.sqrt(ca.sumsqr(e) + ABS_EPS ** 2) for e in errors]
        out = {
            'tracking': sum(ca.dot(q, e ** 2) for e in errors[1:]) * dt,
            'final_error': norms[T],
            'time_to_goal': sum(1 / (1 + ca.exp(-(n - self.tol) / width)) for n in norms[1:]) * dt,
        }
        energy = 0
        for k in range(T):
            if m.power is not None:
                power = m.power(X[:, k], U[:, k], self.plant)
                energy += ca.sum1(ca.sqrt(power ** 2 + ENERGY_EPS ** 2) - ENERGY_EPS) * dt
            else:
                energy += ca.sumsqr(U[:, k]) * dt
        out['energy'] = energy
        scaled = ca.sqrt(U ** 2 + ABS_EPS ** 2) / ca.repmat(ca.DM(self.u_scale), 1, T)
        out['peak_input'] = PEAK_TEMPERATURE * ca.logsumexp(ca.vec(scaled) / PEAK_TEMPERATURE)
        previous = ca.horzcat(u0, U[:, :-1])
        out['input_rate'] = ca.sumsqr(U - previous) / dt
        out['constraint_violation'] = self._violation(X, T) * dt
        values = ca.vertcat(*[out[name] for name in SMOOTH])
        total = ca.dot(c, values)
        return ca.Function('metrics', [X, U, R, u0, c],
                           [values, ca.densify(ca.jacobian(total, ca.vec(X)).T),
                            ca.densify(ca.jacobian(total, ca.vec(U)).T)], {'cse': True})

    def _violation(self, X, T):
        m = self.model
        total = 0
        for i in range(m.nx):
            lo, hi = self.x_lb[i], self.x_ub[i]
            row = X[i, 1:]
            if np.isfinite(hi):
                total += ca.sumsqr(ca.fmax(0, row - hi))
            if np.isfinite(lo):
                total += ca.sumsqr(ca.fmax(0, lo - row))
        if len(self.obstacles) and len(m.position) >= 2:
            px, py = X[m.position[0], 1:], X[m.position[1], 1:]
            for ox, oy, r in self.obstacles:
                dist = ca.sqrt((px - ox) ** 2 + (py - oy) ** 2 + ABS_EPS ** 2)
                total += ca.sumsqr(ca.fmax(0, r - dist))
        return total

    def evaluate(self, X, U, R, u_init, weights):
        """(metric values dict, dJ/dX (T+1, nx), dJ/dU (T, nu)) for J = sum weights * metrics
        (the smooth ones)."""
        X, U, R = (np.asarray(a, float) for a in (X, U, R))
        T = U.shape[0]
        c = np.array([weights.get(name, 0.0) for name in SMOOTH])
        values, gx, gu = self.function(T)(X.T, U.T, R.T, u_init, c)
        values = np.asarray(values, float).ravel()
        gx = np.asarray(gx, float).reshape(T + 1, self.model.nx)
        gu = np.asarray(gu, float).reshape(T, self.model.nu)
        return dict(zip(SMOOTH, values.tolist())), gx, gu
