"""Closed-loop rollouts of one scenario, and the loss's gradient by forward sensitivities.

One rollout runs the controller against the plant (core/plant.py) as the offline closed loop
does. With a gradient, every step also differentiates the solve (core/sensitivity.py: du/dx,
du/du_prev and du/dw at the solution) and the plant step (dx+/dx, dx+/du), and chains them:

    dU_k = K_x dX_k + K_u dU_{k-1} + K_w        dX_{k+1} = A_k dX_k + B_k dU_k

so dL/dw = sum_k dJ/dx_k dX_k + dJ/du_k dU_k, with dJ/dx_k, dJ/du_k from the metrics
(core/loss.py). Commands clipped by a bound do not move (zero rows).

Tuning differentiates the *converged* solution: a config with ``sqp_rti`` (one SQP step per
control step, whose iterate trails the solution) is tuned with ``sqp`` iterated to convergence on
the same problem (compiled when the config is), the policy the RTI controller approaches once
its iterate settles; the tuned weights then go back into the RTI config unchanged. Rollouts for
tuning also get a time limit of 10 s per solve, so a busy machine never turns a solve into a
failure, and results do not depend on timing, and at least 500 iterations.
"""
import re
import time
from dataclasses import dataclass, field
from typing import Optional

import numpy as np

from .config import ConfigError, MPCConfig, with_changes
from .controller import build_problem, MPCController, resolve
from .loss import check_scenario, Metrics, reference_at
from .plant import Plant
from .sensitivity import weight_entries

LABEL = re.compile(r'^(costs\.[^\[\]]+\.weight)\[(\d+)\]$')
TIME_LIMIT = 10.0     # [s] per solve in tuning rollouts
TOL = 1e-8            # solver tolerance of tuning rollouts (at most)
# iterations of tuning rollouts (at least): a 2-link arm with a strong power term needs over
# 100 SQP iterations from rest
MAX_ITER = 500


def tuning_config(cfg, converged=True):
    """The config tuning rollouts run: RTI replaced by SQP iterated to convergence (unless
    ``converged`` is False: the controller as deployed), a generous time limit, a tolerance of
    at most 1e-8."""
    changes = {'solver.time_limit': TIME_LIMIT, 'solver.tol': min(cfg.solver.tol, TOL),
               'solver.max_iter': max(cfg.solver.max_iter, MAX_ITER)}
    if cfg.solver.name == 'sqp_rti' and converged:
        changes['solver.name'] = 'sqp'
    return with_changes(cfg, changes, 'tuning rollouts')


def prepare(scenario, cfg, model, ocp):
    """(x0, goal, noise std) of a scenario for this config, checked (ConfigError naming the
    scenario and the key). The goal: the scenario's, else the reference's end, else the
    config's."""
    x0, goal, _, std = check_scenario(scenario, model, cfg.model.params)
    ref = scenario.reference
    if ref is not None and not ocp.uses_reference:
        raise ConfigError('scenario %s gives a reference, but no cost term of the config '
                          'tracks one (reference_tracking)' % scenario.name)
    if goal is None and ref is not None:
        goal = np.asarray(reference_at(ref, [ref.t[-1]])[0])
    if goal is None and cfg.goal:
        goal = np.asarray(cfg.goal, float)
    if goal is None:
        raise ConfigError('scenario %s: no goal: give goal or reference, or set goal in the '
                          'config' % scenario.name)
    return x0, goal, std


def weight_key(label):
    """'costs.effort.weight[1]' -> ('costs.effort.weight', 1)."""
    match = LABEL.match(label)
    if not match:
        raise ConfigError('%s is not a weight entry (costs.<term>.weight[i])' % label)
    return match.group(1), int(match.group(2))


def current_weights(ctrl):
    """label -> value of every weight entry in force (disabled terms read zero)."""
    p = ctrl.params(np.zeros(ctrl.model.nx))
    return {label: float(p[i]) for label, i in weight_entries(ctrl.ocp)}


def config_weights(cfg, problem=None):
    """label -> value of every weight entry of ``cfg`` (term defaults filled in, disabled
    terms zero), from the problem's parameter layout (``problem``: build_problem's result);
    builds no solver."""
    model, terms, ocp = problem or build_problem(cfg)
    t = resolve(cfg, model, terms)
    p = ocp.pack(np.zeros(model.nx), np.zeros(model.nu), t.goal, t.model_p, t.weights, None,
                 t.obstacles)
    return {label: float(p[i]) for label, i in weight_entries(ocp)}


def _matches(key, label):
    return label == key or weight_key(label)[0] == key


def select(weights, chosen=(), bounds=None, spread=1000.0):
    """The tuned entries and their bounds: (labels, lower, upper). ``chosen``: keys
    (costs.effort.weight) or entries (costs.effort.weight[1]); empty: every entry > 0.
    ``bounds``: key or entry -> [min, max] (an entry's own bounds win); default the initial
    value divided and multiplied by ``spread``. Raises ConfigError for a weight that does not
    exist, a zero weight (log-weights cannot move it) or bad bounds."""
    bounds = dict(bounds or {})
    for key in list(chosen) + list(bounds):
        if not any(_matches(key, label) for label in weights):
            raise ConfigError('%s: no such weight; the config has %s' % (
                key, ', '.join(sorted({weight_key(k)[0] for k in weights}))))
    if chosen:
        labels = [label for label in weights if any(_matches(k, label) for k in chosen)]
        zero = [label for label in labels if not weights[label] > 0]
        if zero:
            raise ConfigError('%s: zero (or a disabled term): log-weight tuning cannot move '
                              'it; give it a positive value first' % ', '.join(zero))
    else:
        labels = [label for label, value in weights.items() if value > 0]
    if not labels:
        raise ConfigError('no weight to tune (every weight is zero)')
    lower, upper = [], []
    for label in labels:
        key = weight_key(label)[0]
        pair = bounds.get(label, bounds.get(key))
        if pair is None:
            pair = [weights[label] / spread, weights[label] * spread]
        if len(pair) != 2 or not all(np.isfinite(pair)) or not 0 < pair[0] <= pair[1]:
            raise ConfigError('tune.bounds for %s = %s: expected [min, max] with 0 < min <= '
                              'max' % (label, pair))
        lower.append(float(pair[0]))
        upper.append(float(pair[1]))
    return labels, np.array(lower), np.array(upper)


def weight_changes(cfg, weights):
    """The config changes ({'costs.effort.weight': [...]}, one per term) that set the weight
    entries ``weights`` (label -> value), every other entry as in ``cfg``."""
    out = {'costs.%s.weight' % term: list(c.weight) for term, c in cfg.costs.items()}
    for label, value in weights.items():
        key, i = weight_key(label)
        if key not in out:
            raise ConfigError('%s: no cost term %s in the config' % (label, key.split('.')[1]))
        if not out[key] or i >= len(out[key]):
            raise ConfigError('%s: the config gives %d weights for %s; tuning needs them '
                              'written out' % (label, len(out[key]), key))
        out[key][i] = float(value)
    return out


def expand_weights(cfg, ctrl):
    """``cfg`` with every enabled term's weight list written out (term defaults filled in),
    so that each entry can be tuned and written back."""
    changes = {}
    for term in ctrl.terms:
        if not cfg.costs[term.name].weight:
            changes['costs.%s.weight' % term.name] = [
                float(v) for v in term.default_weight(ctrl.model)]
    return with_changes(cfg, changes, 'weights written out') if changes else cfg


@dataclass
class Outcome:
    """One rollout: metric values, this scenario's weighted loss and its gradient."""

    scenario: str
    metrics: dict
    loss: float
    gradient: Optional[np.ndarray] = None     # dL/dw over the requested labels
    gradient_error: str = ''                 # why there is no gradient
    failures: int = 0
    seconds: float = 0.0
    sens_seconds: float = 0.0                # of which: differentiating the solves
    time_to_goal: Optional[float] = None     # exact, for reports [s]
    trajectory: dict = field(default_factory=dict)


class Evaluator:
    """Runs rollouts of one config for any weights; built once per process (the controller
    and its solver, compiled or not, the plant's and the metrics' functions)."""

    def __init__(self, cfg, loss, progress=None, converged=True):
        cfg = cfg if isinstance(cfg, MPCConfig) else MPCConfig.model_validate(cfg)
        self.ctrl = MPCController(tuning_config(cfg, converged), progress=progress)
        self.rti = self.ctrl.cfg.solver.name == 'sqp_rti'
        self.cfg = expand_weights(self.ctrl.cfg, self.ctrl)
        self.loss = loss
        self.entries = dict(weight_entries(self.ctrl.ocp))
        t = self.ctrl.tuning
        self.metric_weights = {name: m.weight for name, m in loss.loss.items()}
        self._metrics = {}
        self._bounds = (t.x_lb, t.x_ub, t.u_lb, t.u_ub)
        self._obstacles = t.obstacles

    def metrics(self, plant_params):
        key = tuple(np.round(plant_params, 12))
        if key not in self._metrics:
            c = self.cfg
            self._metrics[key] = Metrics(self.ctrl.model, c.dt, c.goal_tolerance, *self._bounds,
                                         plant_params, self._obstacles, self.loss.loss)
        return self._metrics[key]

    def set_weights(self, weights):
        unknown = [k for k in weights if k not in self.entries]
        if unknown:
            raise ConfigError('unknown weight(s) %s; the config has %s' % (
                ', '.join(unknown), ', '.join(self.entries)))
        bad = [k for k, v in weights.items() if not (np.isfinite(v) and v >= 0)]
        if bad:
            raise ConfigError('weights must be finite and >= 0: %s' % ', '.join(
                '%s = %r' % (k, weights[k]) for k in bad))
        self.ctrl.update(weight_changes(self.cfg, weights))

    def _input_tangent(self, sens, u, dx, du_prev):
        """dU_k = K_x dX_k + K_u dU_{k-1} + K_w from a solve's sensitivities (columns: x0,
        u_prev, the weights); a command at its bound does not move."""
        nx, nu = self.ctrl.model.nx, self.ctrl.model.nu
        du = sens.du0[:, :nx] @ dx + sens.du0[:, nx:nx + nu] @ du_prev + sens.du0[:, nx + nu:]
        t = self.ctrl.tuning
        du[(u <= t.u_lb) | (u >= t.u_ub)] = 0.0
        return du

    def run(self, weights, scenario, gradient=(), keep=False):
        """Roll out ``scenario`` with the weight entries ``weights`` (label -> value, others
        as configured); ``gradient``: labels to differentiate the loss along. Never raises
        for a failing solve: it counts, and makes the gradient invalid."""
        started = time.perf_counter()
        ctrl, cfg, model = self.ctrl, self.cfg, self.ctrl.model
        if gradient and self.rti:
            raise ConfigError('loss gradients differentiate the converged solution; this '
                              'evaluator runs sqp_rti as deployed')
        self.set_weights(weights)
        x0, goal, std = prepare(scenario, cfg, model, ctrl.ocp)
        ctrl.reset()
        ref = scenario.reference
        try:
            ctrl.set_goal(goal)
        except ValueError as err:
            raise ConfigError('scenario %s: %s' % (scenario.name, err)) from None
        plant = Plant(model, x0, dict(cfg.model.params, **scenario.mismatch),
                      max_step=min(cfg.dt, 0.01), noise_std=std, seed=scenario.noise.seed)
        cols = np.array([self.entries[label] for label in gradient], int)
        blocks = ctrl.ocp.blocks
        directions = np.concatenate([np.arange(blocks['x0'].start, blocks['x0'].start + model.nx),
                                     np.arange(blocks['u_prev'].start,
                                               blocks['u_prev'].start + model.nu), cols])
        want = len(cols) > 0
        T, dt, N = scenario.steps, cfg.dt, ctrl.ocp.N
        X, U, R = [plant.x.copy()], [], []
        dX = [np.zeros((model.nx, len(cols)))]
        dU_prev = np.zeros((model.nu, len(cols)))
        dU = []
        failures, error, sens_time = 0, '', 0.0
        for k in range(T):
            t = k * dt
            if ref is not None:
                ctrl.set_reference(reference_at(ref, t + dt * np.arange(N + 1)))
                R.append(reference_at(ref, [t])[0])
            else:
                R.append(ctrl.goal.copy())
            x = plant.x.copy()
            u, result = ctrl.act(x, directions if want and not error else None)
            failures += not result.success
            if want and not error:
                s = result.sensitivity
                if not result.success:
                    error = 'step %d: solver %s' % (k, result.status)
                elif not s.ok:
                    error = 'step %d: %s' % (k, s.message)
                else:
                    sens_time += s.seconds
                    dU_prev = self._input_tangent(s, u, dX[-1], dU_prev)
                    dU.append(dU_prev)
            if want and not error:
                x_next, A, B = plant.step(u, dt, jacobian=True)
                dX.append(A @ dX[-1] + B @ dU[-1])
            else:
                x_next = plant.step(u, dt)
            X.append(x_next)
            U.append(np.asarray(u, float))
        R.append(reference_at(ref, [T * dt])[0] if ref is not None else ctrl.goal.copy())
        X, U, R = np.array(X), np.array(U), np.array(R)
        metric = self.metrics(plant.p)
        values, gx, gu = metric.evaluate(X, U, R, np.zeros(model.nu), self.metric_weights)
        values['solver_failures'] = float(failures)
        loss = sum(self.metric_weights.get(k, 0.0) * v for k, v in values.items())
        grad = None
        if want and not error:
            grad = sum(gx[k] @ dX[k] for k in range(T + 1)) + \
                sum(gu[k] @ dU[k] for k in range(T))
            if not np.all(np.isfinite(grad)):
                grad, error = None, 'the gradient is not finite'
        errors = np.array([ctrl.goal_error(x) for x in X])
        # goal_error uses the controller's goal; with a reference: the error to it
        if ref is not None:
            errors = np.array([np.linalg.norm(model.state_error(x, r)) for x, r in zip(X, R)])
        inside = np.flatnonzero(errors < cfg.goal_tolerance)
        out = Outcome(scenario=scenario.name, metrics=values, loss=float(loss),
                      gradient=grad, gradient_error=error, failures=failures,
                      seconds=time.perf_counter() - started, sens_seconds=sens_time,
                      time_to_goal=float(inside[0] * dt) if len(inside) else None)
        if keep:
            out.trajectory = {'t': (np.arange(T + 1) * dt).tolist(), 'x': X.tolist(),
                              'u': U.tolist(), 'error': errors.tolist()}
        return out
