"""The MPC controller: config -> model, cost terms, OCP and solver; one ``step`` per control step.

Everything a user tunes at run time (weights, goal, bounds, obstacles, time limit) goes through
``update``, which validates against the model and never rebuilds the solver.
"""
from dataclasses import dataclass

import numpy as np
from pydantic import BaseModel

from .config import ConfigError, MPCConfig, parse, with_changes
from .integrators import rk4_step
from .costs import make_term
from .models import ModelError, build
from .ocp import OCP
from .sensitivity import Differentiator
from .solvers import make_solver


def structural_fields(model_cls=MPCConfig, prefix=''):
    """Dotted names of the fields that fix the problem's structure."""
    out = set()
    for name, field in model_cls.model_fields.items():
        key = prefix + name
        extra = field.json_schema_extra or {}
        annotation = field.annotation
        if extra.get('structural'):
            out.add(key)
        elif isinstance(annotation, type) and issubclass(annotation, BaseModel):
            out |= structural_fields(annotation, key + '.')
    return out


STRUCTURAL = structural_fields()


def _vector(values, size, key, what, default):
    if not values:
        return np.array(default, dtype=float)
    arr = np.asarray(values, dtype=float)
    if arr.shape != (size,):
        raise ConfigError('%s = %s: expected %d values (%s)' % (key, list(values), size, what))
    if np.any(np.isnan(arr)):
        raise ConfigError('%s = %s: NaN is not allowed' % (key, list(values)))
    return arr


@dataclass
class Tuning:
    """The numeric values of the run-time settings, checked against the model."""

    weights: dict
    goal: np.ndarray
    x_lb: np.ndarray
    x_ub: np.ndarray
    u_lb: np.ndarray
    u_ub: np.ndarray
    model_p: np.ndarray
    obstacles: np.ndarray
    terminal_constraint: bool
    terminal_tolerance: float


def resolve(cfg, model, terms, x_default=None):
    """Check ``cfg`` against ``model`` and return its numbers, or raise ConfigError."""
    weights = {}
    for term in terms:
        c = cfg.costs[term.name]
        labels = term.weight_labels(model)
        w = _vector(c.weight, len(labels), 'costs.%s.weight' % term.name,
                    'one per ' + ', '.join(labels), term.default_weight(model))
        weights[term.name] = w * (1.0 if c.enabled else 0.0)
    names = ', '.join(model.state_names)
    goal = _vector(cfg.goal, model.nx, 'goal', names,
                   x_default if x_default is not None else np.zeros(model.nx))
    b = cfg.bounds
    u_lb = _vector(b.u_min, model.nu, 'bounds.u_min', ', '.join(model.input_names), model.u_lb)
    u_ub = _vector(b.u_max, model.nu, 'bounds.u_max', ', '.join(model.input_names), model.u_ub)
    x_lb = _vector(b.x_min, model.nx, 'bounds.x_min', names, model.x_lb)
    x_ub = _vector(b.x_max, model.nx, 'bounds.x_max', names, model.x_ub)
    if not np.all(np.isfinite(goal)):
        raise ConfigError('goal = %s: the goal must be finite (%s)' % (goal.tolist(), names))
    for lo, hi, key in ((u_lb, u_ub, 'u'), (x_lb, x_ub, 'x')):
        if np.any(lo > hi):
            raise ConfigError('bounds.%s_min = %s > bounds.%s_max = %s: each minimum must not '
                              'exceed its maximum' % (key, lo.tolist(), key, hi.tolist()))
    if np.any(u_lb == -np.inf) or np.any(u_ub == np.inf):
        raise ConfigError('bounds.u_min/u_max: inputs need finite bounds (got %s, %s)'
                          % (u_lb.tolist(), u_ub.tolist()))
    if np.any(u_lb > 0) or np.any(u_ub < 0):
        raise ConfigError('bounds.u_min = %s, bounds.u_max = %s: every input range must '
                          'contain 0 (%s), or the safe command at rest would move the robot'
                          % (u_lb.tolist(), u_ub.tolist(), ', '.join(model.input_names)))
    try:
        model_p = model.param_vector(cfg.model.params)
    except KeyError as err:
        raise ConfigError('model.params: %s' % err.args[0]) from None
    ob = cfg.obstacles
    if not (len(ob.x) == len(ob.y) == len(ob.radius)):
        raise ConfigError('obstacles.x/y/radius have lengths %d/%d/%d: they must be equal'
                          % (len(ob.x), len(ob.y), len(ob.radius)))
    if len(ob.x) > ob.max_count:
        raise ConfigError('obstacles: %d given, obstacles.max_count = %d slots'
                          % (len(ob.x), ob.max_count))
    if any(r < 0 for r in ob.radius):
        raise ConfigError('obstacles.radius = %s: radii must be >= 0' % ob.radius)
    obstacles = np.array([[x, y, r + ob.margin] for x, y, r in zip(ob.x, ob.y, ob.radius)])
    return Tuning(weights, goal, x_lb, x_ub, u_lb, u_ub, model_p, obstacles.reshape(-1, 3),
                  cfg.terminal_constraint, cfg.terminal_tolerance)


def changed_structure(old, new, structural=None):
    """Dotted names of structural fields whose values differ between two configs of one
    schema (``structural``: its structural fields; default MPCConfig's)."""
    a, b = old.model_dump(), new.model_dump()

    def get(d, key):
        for part in key.split('.'):
            d = d[part]
        return d
    fields = STRUCTURAL if structural is None else structural
    changed = [k for k in sorted(fields) if get(a, k) != get(b, k)]
    if 'model' in a:   # every model option but the parameter values fixes the model
        changed += ['model.%s' % k for k in sorted(set(a['model']) | set(b['model']))
                    if k != 'params' and 'model.' + k not in changed
                    and a['model'].get(k) != b['model'].get(k)]
    if 'costs' in a and set(a['costs']) != set(b['costs']):
        changed.append('costs (set of terms)')
    return changed


def build_problem(cfg, model=None):
    """The model, cost terms and transcribed problem of a config (no solver): (model, terms,
    ocp). Raises ConfigError."""
    try:
        model = model or build(cfg.model)
    except ModelError as err:
        raise ConfigError(str(err)) from None
    # in a canonical order: the same terms give the same problem (and compiled solver)
    # whatever order a file or the node's parameters list them in
    terms = [make_term(name) for name in sorted(cfg.costs)]
    try:
        ocp = OCP(model, cfg.horizon, cfg.dt, terms, cfg.substeps, cfg.obstacles.max_count)
    except ValueError as err:
        raise ConfigError('costs: %s' % err) from None
    return model, terms, ocp


class MPCController:
    """Receding-horizon controller. ``step(x)`` returns a SolveResult; it never raises."""

    def __init__(self, cfg, model=None, progress=None):
        self.cfg = cfg if isinstance(cfg, MPCConfig) else parse(cfg)
        c = self.cfg
        self.model, self.terms, self.ocp = build_problem(c, model)
        self.tuning = resolve(c, self.model, self.terms)
        self._goal_given = bool(c.goal)
        self._progress = progress
        self.solver = make_solver(self.ocp, c.solver, progress)
        self.u_last = np.zeros(self.model.nu)
        self.reference = None
        self._coast = None        # (state given, state predicted) while safe commands go out
        self._predict = None
        self._expected = None     # the state predicted for the next step (partial states)
        self._packed = None   # (parameter vector without x0 and u_prev, bounds) until a change
        self._differentiator = None
        self._last_solve = None      # (w, p, bounds, multipliers) of the last good solve

    def reset(self):
        """Forget everything a previous run left: warm start, last command, reference."""
        self.solver.reset()
        self._last_solve = None
        self.u_last = np.zeros(self.model.nu)
        self.reference = None
        self._coast = None
        self._packed = None

    @property
    def differentiator(self):
        """The sensitivities of this controller's problem (built on first use)."""
        if self._differentiator is None:
            s = self.cfg.solver
            self._differentiator = Differentiator(self.ocp, compiled=s.compiled,
                                                  cache_dir=s.kernel.cache_dir,
                                                  progress=self._progress)
        return self._differentiator

    # ------------------------------------------------------------------ tuning
    def update(self, changes):
        """Apply run-time changes (a nested or dotted dict). Raises ConfigError, applies nothing,
        if a value is invalid or structural."""
        new = with_changes(self.cfg, changes, 'parameter update')
        structural = changed_structure(self.cfg, new)
        if structural:
            raise ConfigError('%s: read-only at run time (it changes the problem structure)'
                              % ', '.join(structural))
        tuning = resolve(new, self.model, self.terms)
        if 'goal' not in changes:
            tuning.goal = self.tuning.goal   # a goal set at run time outlives tuning changes
        self.cfg, self.tuning = new, tuning
        self._packed = None
        self.solver.configure(new.solver)
        self._goal_given = self._goal_given or bool(new.goal)

    def set_goal(self, goal):
        """A new goal state; refused (ValueError naming the state and its bounds) when it is
        not finite or lies outside the state bounds in force."""
        goal = np.asarray(goal, dtype=float).ravel()
        if goal.shape != (self.model.nx,) or not np.all(np.isfinite(goal)):
            raise ValueError('goal must be %d finite values (%s)'
                             % (self.model.nx, ', '.join(self.model.state_names)))
        self._check_goal(goal)
        self.tuning.goal = goal
        self._goal_given = True
        self._packed = None

    def _check_goal(self, goal, key='goal'):
        t, m = self.tuning, self.model
        joints = list(m.joint_names)

        def label(i):   # arms: the joint's name too
            return m.states[i].name + (' (%s)' % joints[i] if i < len(joints) else '')
        outside = [(label(i), goal[i], m.states[i].unit, t.x_lb[i], t.x_ub[i])
                   for i in range(m.nx)
                   if i not in m.wrap and not t.x_lb[i] <= goal[i] <= t.x_ub[i]]
        if outside:
            raise ValueError('%s outside the state bounds: %s' % (key, '; '.join(
                '%s = %.4g %s not in [%.4g, %.4g]' % row for row in outside)))

    def set_reference(self, ref):
        """A reference state per stage, shape (N+1, nx), or None to track the goal."""
        if ref is not None:
            ref = np.asarray(ref, dtype=float)
            if ref.shape != (self.ocp.N + 1, self.model.nx) or not np.all(np.isfinite(ref)):
                raise ValueError('reference must be finite with shape (%d, %d)'
                                 % (self.ocp.N + 1, self.model.nx))
        self.reference = ref
        self._packed = None

    @property
    def goal(self):
        return self.tuning.goal

    def goal_error(self, x):
        return float(np.linalg.norm(self.model.state_error(np.asarray(x, float), self.goal)))

    def bounds(self):
        t = self.tuning
        return self.ocp.bounds(t.x_lb, t.x_ub, t.u_lb, t.u_ub, t.terminal_constraint,
                               t.terminal_tolerance)

    def params(self, x):
        t = self.tuning
        return self.ocp.pack(x, self.u_last, t.goal, t.model_p, t.weights, self.reference,
                             t.obstacles)

    def _problem(self, x):
        """The parameter vector and bounds of a step from ``x``. Only the initial state and
        the last input change from step to step; the rest is packed again after a change of
        goal, reference or tuning."""
        if self._packed is None:
            self._packed = (self.params(x), self.bounds())
        p = self._packed[0].copy()
        p[self.ocp.blocks['x0'].slice] = x
        p[self.ocp.blocks['u_prev'].slice] = self.u_last
        return p, self._packed[1]

    # ------------------------------------------------------------------ control
    def step(self, x, sensitivity=None):
        """Solve from state ``x``; on success remember u0 as the applied command.

        ``sensitivity``: also differentiate the solution (``result.sensitivity``, see
        core/sensitivity.py): True for every parameter entry, or the indices into the
        parameter vector to differentiate along (du0 only, the cheaper way)."""
        x = np.asarray(x, dtype=float).ravel()
        if not self._goal_given:
            self.tuning.goal = x.copy()
            self._goal_given = True
            self._packed = None
        x = self._unwrap(x)
        p, bounds = self._problem(x)
        result = self.solver.solve(p, bounds)
        self._last_solve = None
        if result.success:
            result.u0 = np.clip(result.u0, self.tuning.u_lb, self.tuning.u_ub)
            self.u_last = result.u0.copy()
            self._last_solve = (self.solver.w.copy(), p, bounds, self._multipliers(result))
            if sensitivity is not None and sensitivity is not False:
                full = sensitivity is True
                result.sensitivity = self.sensitivity(None if full else sensitivity, full)
        return result

    def sensitivity(self, columns=None, full=True):
        """The sensitivities (core/sensitivity.py, full) of the last successful step's solve,
        computed now (e.g. once its command is out), or None when the last step failed. With
        sqp_rti they are those of the KKT conditions at the RTI iterate (``kkt_residual`` says
        how far it is from the converged solution)."""
        if self._last_solve is None:
            return None
        w, p, bounds, multipliers = self._last_solve
        return self.differentiator.compute(w, p, bounds, columns=columns, full=full,
                                           multipliers=multipliers)

    def _multipliers(self, result):
        """The solve's (lam_g, lam_x) where the backend gives them, else None (recovered)."""
        lam_g = getattr(result, 'lam_g', None)
        lam_x = getattr(result, 'lam_x', None)
        if lam_g is None or lam_x is None:
            lam_g, lam_x = self.solver.lam_g, self.solver.lam_x
        if lam_g is None or lam_x is None or self.solver.rti:
            return None
        return np.array(lam_g, float), np.array(lam_x, float)

    def _unwrap(self, x):
        """Keep angles continuous with the warm start, so the guess is not off by 2 pi."""
        w = self.solver.w
        if w is None or not self.model.wrap:
            return x
        x = x.copy()
        prev = w[self.ocp.x_index[1]]
        for i in self.model.wrap:
            x[i] = prev[i] + np.arctan2(np.sin(x[i] - prev[i]), np.cos(x[i] - prev[i]))
        return x

    def act(self, x, sensitivity=None):
        """Offline loops: the solved command, or the safe input when the solve failed.
        Returns (u, result)."""
        result = self.step(x, sensitivity)
        if result.success:
            return result.u0, result
        u = self.safe_input(x)
        self.applied(u)
        return u, result

    def safe_input(self, x, brake=True):
        """The command that brings the robot to rest (a kinematic base: zero; the point mass and
        arms brake within one control period, arms holding against gravity), inside the input
        bounds. Called again with the same (stale) ``x``, it brakes from the state that the
        model predicts under the safe commands sent since, so a robot that is already braking
        is not braked past rest. ``brake`` False: the command that holds a robot at rest,
        the last one a driver may keep applying when no controller is left (shutdown)."""
        x = np.asarray(x, dtype=float).ravel()
        period = 1.0 / self.cfg.rate_hz if brake else None
        if self._coast is None or not np.array_equal(self._coast[0], x):
            self._coast = (x.copy(), x.copy())
        assumed = self._coast[1]
        t = self.tuning
        u = self.model.safe_input(assumed, t.model_p, self.cfg.hold_position, period, t.u_lb,
                                  t.u_ub)
        if brake and self.model.velocity:
            ahead = self._ahead(assumed, u, period)
            if np.all(np.isfinite(ahead)):
                self._coast = (x.copy(), ahead)
        return u

    def _ahead(self, x, u, period):
        """The state ``period`` seconds after ``x`` under the input ``u``, by the model."""
        if self._predict is None or self._predict[0] != period:
            self._predict = (period, rk4_step(self.model, period,
                                              max(1, int(np.ceil(period / 0.002)))))
        return np.asarray(self._predict[1](x, u, self.tuning.model_p), float).ravel()

    def complete(self, x, missing):
        """A state whose message does not carry the entries ``missing`` (indices, e.g. a car's
        steering angle in odometry): those come from the model's prediction under the commands
        sent (see :meth:`sent`), at first from their nominal values."""
        x = np.asarray(x, dtype=float).copy()
        known = self._expected if self._expected is not None else self.model.x_nominal
        x[list(missing)] = known[list(missing)]
        return x

    def sent(self, x, u):
        """The command ``u`` went out at state ``x``: predict the state one control period
        later, for :meth:`complete`."""
        ahead = self._ahead(np.asarray(x, float), np.asarray(u, float), 1.0 / self.cfg.rate_hz)
        self._expected = ahead if np.all(np.isfinite(ahead)) else None

    def applied(self, u):
        """Tell the controller which command actually went out (fallback or safe command)."""
        self.u_last = np.asarray(u, dtype=float).copy()
