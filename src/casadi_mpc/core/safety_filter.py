"""The safety filter: the command closest to a desired one that keeps the robot safe (ROS-free).

Each step minimizes the deviation of the next command from the desired one u_des over a short
horizon, a predictive safety filter: the command that goes out must leave a continuation that
brings the robot to rest within the horizon, inside the input and state bounds, within the rate
limits (a base's accelerations) and outside the obstacles plus margin, so its braking distance is
always respected. The problem is the controller's own (core.ocp, core.solvers) on the robot's
model with its inputs turned into states and their rates into the inputs (``rate_model``), so
the rate limits, the bounds and rest at the end of the horizon are bounds of the problem:

    min  |u_1 - u_des|²_W + ε Σ_k |du_k|²
    s.t. x_{k+1} = F(x_k, u_k),  u_{k+1} = u_k + du_k dt,  u_0 = the last command sent,
         u_min <= u_k <= u_max,  |du_k| <= rate_limit,  x_min <= x_k <= x_max,
         at rest at k = N,  obstacles (a penalty on the intrusion).

The prediction ramps each command within the rate limit while a robot applies it at once; the
obstacles' margin grows by what that can put the robot ahead (``_allowance``, about a millimetre
at the defaults). When the desired command is safe (within the bounds and the rate limits, and
far enough from the obstacles) the solution's first command equals it, and within
``pass_tolerance`` the desired command goes out unchanged, bit for bit. A desired command older
than ``command_timeout`` is replaced by the safe command (the filter brakes to rest within the
rate limits); a missing or stale state, or a failed solve, sends the model's safe command at
once.
"""
from dataclasses import dataclass, field

import casadi as ca
import numpy as np

from .config import ConfigError
from .controller import changed_structure, MPCController, structural_fields
from .integrators import rk4
from .models import build_model
from .models.base import Model, Signal
from .safety_filter_config import parse, SafetyFilterConfig

STRUCTURAL = structural_fields(SafetyFilterConfig)
# at rest at the end of the horizon: velocities (or velocity commands) within this, in their
# SI units (a band, not a point, so interior-point QPs keep an interior)
REST = 1e-3


def rate_model(model, rate_lb, rate_ub):
    """``model`` with its inputs as states (after its own) and their rates of change as the
    inputs: z = (x, u), dz/dt = (f(x, u, p), du). The inputs' bounds become state bounds and
    ``rate_lb``/``rate_ub`` the new inputs' bounds."""
    nx, nu = model.nx, model.nu
    z, rate = ca.SX.sym('z', nx + nu), ca.SX.sym('du', nu)
    p = ca.SX.sym('p', model.n_params)
    zdot = ca.vertcat(model.rhs(z[:nx], z[nx:], p), rate)
    return Model(
        name=model.name, kind=model.kind,
        states=model.states + tuple(Signal(s.name, s.unit) for s in model.inputs),
        inputs=tuple(Signal('d' + s.name, s.unit + '/s') for s in model.inputs),
        params=model.params,
        rhs=ca.Function(model.name + '_rates', [z, rate, p], [zdot], ['x', 'u', 'p'],
                        ['xdot']),
        x_lb=np.concatenate([model.x_lb, model.u_lb]),
        x_ub=np.concatenate([model.x_ub, model.u_ub]),
        u_lb=np.asarray(rate_lb, float), u_ub=np.asarray(rate_ub, float),
        wrap=model.wrap, position=model.position, velocity=model.velocity,
        joint_names=model.joint_names)


class _RestAtTheEnd(MPCController):
    """The controller on the rate model, with the robot at rest at the end of the horizon:
    its velocity states zero, or (kinematic bases) its velocity commands."""

    def __init__(self, cfg, model, rest, progress=None):
        self.rest = list(rest)
        super().__init__(cfg, model=model, progress=progress)

    def aim(self, goal):
        """The goal of the next step, built inside the bounds by the filter: written into the
        packed parameter vector, not packed again (a step per desired command)."""
        self.tuning.goal = goal
        self._goal_given = True
        if self._packed is not None:
            self._packed[0][self.ocp.blocks['goal'].slice] = goal

    def bounds(self):
        lbw, ubw, lbg, ubg = super().bounds()
        last = self.ocp.x_index[self.ocp.N][self.rest]
        lbw[last], ubw[last] = -REST, REST
        return lbw, ubw, lbg, ubg


@dataclass
class Counters:
    steps: int = 0
    solves: int = 0
    failures: int = 0           # solves that failed: the safe command went out
    passed: int = 0             # the desired command went out unchanged
    interventions: int = 0      # the command that went out differs from the desired one
    violations: int = 0         # nothing safe was feasible: the penalty let the prediction in
    stale_commands: int = 0     # steps braking because the desired command was stale
    stale_steps: int = 0        # steps without a fresh state: the safe command went out
    rejected: int = 0           # input messages refused

    def as_dict(self):
        return dict(self.__dict__)


@dataclass
class Outcome:
    """What one step sent and why."""

    command: np.ndarray
    mode: str                   # NORMAL, FALLBACK (braking: stale desired), SAFE, STALE,
    reason: str = ''            # NO_STATE
    desired: np.ndarray = None
    intervention: float = 0.0   # largest |command - desired| over the inputs
    violation: float = 0.0      # largest predicted intrusion [m]
    result: object = None
    extra: dict = field(default_factory=dict)


class SafetyFilter:
    """Desired command and state in, safe command out; ``step`` never raises."""

    def __init__(self, cfg, model=None, progress=None):
        self.cfg = cfg if isinstance(cfg, SafetyFilterConfig) else parse(cfg)
        c = self.cfg
        try:
            self.model = model or build_model(c.model.name, **c.model.options())
        except (ValueError, KeyError, OSError) as err:
            raise ConfigError('model: %s' % err) from None
        m = self.model
        if m.velocity:
            raise ConfigError(
                'model %s: the safety filter takes velocity-commanded robots (a base whose '
                'inputs are its velocities); models with velocity states (accelerations or '
                'torques in) need its limits as path constraints with slack' % m.name)
        self.planar = m.kind == 'base' and len(m.position) >= 2 and c.obstacles.max_count > 0
        rest = list(m.velocity) if m.velocity else list(range(m.nx, m.nx + m.nu))
        try:
            self.ctrl = _RestAtTheEnd(self._controller_config(c), self._rate_model(c), rest,
                                      progress)
        except ValueError as err:
            raise ConfigError(str(err)) from None
        self._check_braking()
        xs, us, ps, h = (ca.SX.sym('x', m.nx), ca.SX.sym('u', m.nu), ca.SX.sym('p', m.n_params),
                         ca.SX.sym('h'))
        self._ahead = _Buffered(ca.Function('ahead', [ca.vertcat(xs, us, ps, h)],
                                            [rk4(m, xs, us, ps, h)]))
        self.counters = Counters()
        self.last_rejection = ''
        self.u_last = self.rest_command(np.zeros(m.nx))

    # ------------------------------------------------------------------ configuration
    def _limits(self, c):
        m = self.model
        u_lb = np.asarray(c.bounds.u_min or m.u_lb, float)
        u_ub = np.asarray(c.bounds.u_max or m.u_ub, float)
        if u_lb.shape != (m.nu,) or u_ub.shape != (m.nu,):
            raise ConfigError('bounds.u_min/u_max: expected %d values (%s)'
                              % (m.nu, ', '.join(m.input_names)))
        rate = np.asarray(c.rate_limit, float) if c.rate_limit else u_ub - u_lb
        if rate.shape != (m.nu,) or not np.all(np.isfinite(rate)):
            raise ConfigError('rate_limit = %s: expected %d finite values (%s)'
                              % (list(c.rate_limit), m.nu, ', '.join(m.input_names)))
        weight = np.asarray(c.tracking_weight or [1.0] * m.nu, float)
        if weight.shape != (m.nu,):
            raise ConfigError('tracking_weight = %s: expected %d values (%s)'
                              % (list(c.tracking_weight), m.nu, ', '.join(m.input_names)))
        return u_lb, u_ub, rate, weight

    def _rate_model(self, c):
        _, _, rate, _ = self._limits(c)
        return rate_model(self.model, -rate, rate)

    def _controller_config(self, c):
        """The controller's configuration (core.config.MPCConfig) of the filter problem."""
        m = self.model
        u_lb, u_ub, rate, weight = self._limits(c)
        x_lb = list(c.bounds.x_min or m.x_lb) + u_lb.tolist()
        x_ub = list(c.bounds.x_max or m.x_ub) + u_ub.tolist()
        costs = {'next_state': {'weight': [0.0] * m.nx + weight.tolist()},
                 'effort': {'weight': [c.smoothing_weight] * m.nu}}
        obstacles = {'max_count': 0}
        if self.planar:
            costs['obstacles'] = {'weight': [c.obstacle_penalty]}
            obstacles = c.obstacles.model_dump()
            obstacles['margin'] += self._allowance(c.dt, rate, u_lb, u_ub)
        return {'model': c.model.model_dump(), 'horizon': c.horizon, 'dt': c.dt,
                'substeps': c.substeps, 'costs': costs, 'obstacles': obstacles,
                'bounds': {'u_min': (-rate).tolist(), 'u_max': rate.tolist(),
                           'x_min': x_lb, 'x_max': x_ub},
                'solver': c.solver.model_dump(), 'rate_hz': 1.0 / c.dt,
                'state_timeout': c.state_timeout}

    def _allowance(self, dt, rate, u_lb, u_ub, samples=32):
        """How far the robot can run ahead of the prediction in one interval: each command is
        planned as a ramp within the rate limits, a robot applies it at once, which moves the
        base by up to |d(position rate)/du| x rate x dt^2 / 2 more. Added to the obstacles'
        margin, so the robot keeps the margin configured."""
        m = self.model
        x, u = ca.SX.sym('x', m.nx), ca.SX.sym('u', m.nu)
        p = m.param_vector(self.cfg.model.params)
        position_rate = m.rhs(x, u, p)[list(m.position[:2])]
        jac = ca.Function('position_rate_jacobian', [x, u], [ca.jacobian(position_rate, u)])
        rng = np.random.default_rng(0)
        lo = np.where(np.isfinite(m.x_lb), m.x_lb, -np.pi)
        hi = np.where(np.isfinite(m.x_ub), m.x_ub, np.pi)
        worst = np.zeros(m.nu)
        for _ in range(samples):
            j = np.asarray(jac(rng.uniform(lo, hi), rng.uniform(u_lb, u_ub)), float)
            worst = np.maximum(worst, np.linalg.norm(j, axis=0))
        return float(np.dot(worst, rate) * dt * dt / 2.0)

    def _check_braking(self):
        """The horizon must be long enough to stop from any command within the rate limits."""
        c = self.cfg
        u_lb, u_ub, rate, _ = self._limits(c)
        needed = np.max(np.maximum(np.abs(u_lb), np.abs(u_ub)) / rate)
        if not self.model.velocity and c.horizon * c.dt < needed + c.dt - 1e-9:
            raise ConfigError('horizon x dt = %.3g s is shorter than braking from the largest '
                              'command at rate_limit (%.3g s plus one interval): the filter '
                              'would limit commands in free space' % (c.horizon * c.dt, needed))

    def update(self, changes):
        """Apply run-time changes (dotted names); ConfigError, nothing applied, when a value is
        invalid or structural."""
        new = parse({**self.cfg.model_dump(), **changes}, 'parameter update')
        structural = changed_structure(self.cfg, new, STRUCTURAL)
        if structural:
            raise ConfigError('%s: read-only at run time (it changes the problem structure)'
                              % ', '.join(structural))
        target = self._controller_config(new)
        target.pop('model')
        for key in ('horizon', 'dt', 'substeps'):
            target.pop(key)
        target['solver'] = {'time_limit': new.solver.time_limit,
                            'advanced_step': new.solver.advanced_step}
        target['obstacles'].pop('max_count', None)
        old, self.cfg = self.cfg, new
        try:
            self._check_braking()
            self.ctrl.update(_dotted(target))
        except ConfigError:
            self.cfg = old
            raise

    def set_obstacles(self, rows):
        """Obstacles (x, y, radius) rows, as from the obstacles topic, in place of the
        configured ones; ValueError (nothing applied) when they do not fit."""
        rows = np.asarray(rows, float)
        if rows.size == 0:
            rows = rows.reshape(0, 3)
        if rows.ndim != 2 or rows.shape[1] != 3 or not np.all(np.isfinite(rows)):
            raise ValueError('obstacles: expected finite rows of x, y, radius')
        if not self.planar:
            raise ValueError('obstacles: model %s has no obstacle slots (max_count %d)'
                             % (self.model.name, self.cfg.obstacles.max_count))
        self.update({'obstacles.x': rows[:, 0].tolist(), 'obstacles.y': rows[:, 1].tolist(),
                     'obstacles.radius': rows[:, 2].tolist()})

    # ------------------------------------------------------------------ commands
    @property
    def u_lb(self):
        return self.ctrl.tuning.x_lb[self.model.nx:]

    @property
    def u_ub(self):
        return self.ctrl.tuning.x_ub[self.model.nx:]

    def rest_command(self, x, period=None):
        """The model's safe command at ``x``: zero for velocity-commanded bases, holding (and
        with ``period`` braking) for models with velocities; inside the bounds."""
        m = self.model
        p = self.ctrl.tuning.model_p
        return m.safe_input(np.asarray(x, float), p, True, period, self.u_lb, self.u_ub)

    def reject(self, reason):
        self.counters.rejected += 1
        self.last_rejection = reason

    def step(self, x, desired, state_fresh=True, desired_fresh=True, state_age=0.0):
        """One command: the filtered ``desired`` command for state ``x`` (None: no state
        yet), measured ``state_age`` seconds ago (the robot has moved on under the last
        command since: the filter plans from where the model puts it when the new command acts,
        ``command_delay`` from now). ``desired`` None or not fresh: brake to the safe
        command."""
        self.counters.steps += 1
        c = self.counters
        if x is None:
            c.stale_steps += 1
            return self._send(self.rest_command(np.zeros(self.model.nx)), 'NO_STATE',
                              'no state received yet', desired)
        x = np.asarray(x, float).ravel()
        if not state_fresh:
            c.stale_steps += 1
            return self._send(self.rest_command(x, self.cfg.dt), 'STALE',
                              'state is stale: safe command', desired)
        ahead_by = min(max(state_age, 0.0), self.cfg.state_timeout) + self.cfg.command_delay
        if ahead_by > 0:   # where the last command puts the robot by the time this one acts
            ahead = self._ahead(x, self.u_last, self.ctrl.tuning.model_p, [ahead_by])
            x = ahead if np.all(np.isfinite(ahead)) else x
        mode, reason = 'NORMAL', ''
        if desired is None or not desired_fresh:
            c.stale_commands += 1
            mode, reason = 'FALLBACK', 'desired command is stale: braking to the safe command'
            target = self.rest_command(x)
        else:
            target = np.clip(np.asarray(desired, float).ravel(), self.u_lb, self.u_ub)
        return self._filter(x, target, desired, mode, reason)

    def _filter(self, x, target, desired, mode, reason):
        m, ctrl, c = self.model, self.ctrl, self.counters
        t = ctrl.tuning
        ctrl.aim(np.concatenate([np.clip(x, t.x_lb[:m.nx], t.x_ub[:m.nx]), target]))
        result = ctrl.step(np.concatenate([x, self.u_last]))
        c.solves += 1
        if not result.success:
            c.failures += 1
            return self._send(self.rest_command(x, self.cfg.dt), 'SAFE',
                              'solve failed (%s): safe command' % result.status, desired,
                              result)
        command = np.clip(result.x_pred[1][m.nx:], self.u_lb, self.u_ub)
        if np.all(np.abs(command - target) <= self.cfg.pass_tolerance):
            command = target.copy()   # the target (desired or safe command), bit for bit
            if mode == 'NORMAL' and np.array_equal(target, desired):
                c.passed += 1
        violation = self._intrusion(result.x_pred)
        if violation > self.cfg.violation_tolerance:
            c.violations += 1
            reason = reason or 'no safe command: the prediction enters an obstacle by %.3g m' \
                % violation
        return self._send(command, mode, reason, desired, result, violation)

    def _intrusion(self, x_pred):
        """The largest intrusion of the predicted positions into an obstacle plus margin."""
        obstacles = self.ctrl.tuning.obstacles
        if not self.planar or not len(obstacles):
            return 0.0
        i, j = self.model.position[0], self.model.position[1]
        pos = np.asarray(x_pred)[1:, [i, j]]
        d = np.hypot(pos[:, None, 0] - obstacles[None, :, 0],
                     pos[:, None, 1] - obstacles[None, :, 1])
        return float(max(0.0, np.max(obstacles[None, :, 2] - d)))

    def _send(self, command, mode, reason, desired, result=None, violation=0.0):
        command = np.clip(np.asarray(command, float), self.u_lb, self.u_ub)
        intervention = 0.0
        if desired is not None:
            intervention = float(np.max(np.abs(command - np.asarray(desired, float))))
            if intervention > 0.0:
                self.counters.interventions += 1
        self.u_last = command.copy()
        return Outcome(command=command, mode=mode, reason=reason, desired=desired,
                       intervention=intervention, violation=violation, result=result)


class _Buffered:
    """A CasADi function of one vector evaluated through its buffers: no conversion of
    arguments per call (tens of microseconds saved on the command path)."""

    def __init__(self, fn):
        self.fn = fn   # the buffers evaluate it: it must live as long as they do
        self.arg = np.zeros(fn.size1_in(0))
        self.res = np.zeros(fn.size1_out(0))
        self.buffer, self.trigger = fn.buffer()
        self.buffer.set_arg(0, memoryview(self.arg))
        self.buffer.set_res(0, memoryview(self.res))

    def __call__(self, *parts):
        self.arg[:] = np.concatenate([np.asarray(v, float).ravel() for v in parts])
        self.trigger()
        return self.res.copy()


def _dotted(tree, prefix=''):
    out = {}
    for key, value in tree.items():
        if isinstance(value, dict):
            out.update(_dotted(value, prefix + key + '.'))
        else:
            out[prefix + key] = value
    return out
