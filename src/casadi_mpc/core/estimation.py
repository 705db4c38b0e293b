"""Moving horizon estimation of the state and listed model parameters (ROS-free).

The window holds the last M measurements (nodes 1..M) and the node before them (node 0, whose
information the arrival cost carries), with the commands applied in between. The estimate
minimizes the prediction error of the controller's own model

    |x_0 - x̄|²_{P_x} + |θ - θ̄|²_{P_θ}                                    arrival
    + Σ_k |x_{k+1} - F(x_k, u_k, θ, h_k)|²_{Q_k}                          process noise
    + Σ_k |x_k[measured] - y_k|²_{R}                                     measurement noise

over the node states x_0..x_M and the estimated parameters θ (within their bounds), every norm
weighted by the inverse variance (so the cost is a sum of whitened squared residuals and its
Gauss-Newton Hessian J'J is the information matrix). F is RK4 over the interval h_k between the
measurements' stamps, so jittered or dropped samples need no resampling; u_k is the command in
force over the interval (time-averaged, zero where the robot would have dropped it as stale).

Until M measurements have arrived (at start, and after a gap that restarts the window) the
missing intervals have h = 0 (F is the identity) and no measurement: the window fills from the
right with no change of structure, so the solver is built once. Once the window slides, the
arrival cost is the previous solution at the new first node with its marginal spread (the
diagonal of the inverse information), widened by the process noise and, for the parameters, by
their drift: the parameters are tracked as slowly varying, never frozen (``arrival:
covariance``); or with the fixed spreads of the prior (``arrival: fixed``, do-mpc's choice).

The problem is solved by the package's solvers (core.solvers.Solver: Gauss-Newton SQP by
default), warm-started from the previous solution shifted by one node and the model's
prediction of the new one. A failed solve keeps the last estimate and says so.
"""
from collections import deque
from dataclasses import dataclass, field

import casadi as ca
import numpy as np

from .config import ConfigError
from .controller import changed_structure, structural_fields
from .estimator_config import EstimatorConfig, parse, resolve
from .integrators import rk4
from .models import build_model
from .ocp import Block
from .solvers import Solver

STRUCTURAL = structural_fields(EstimatorConfig)
# padding intervals (h = 0) tie their nodes together with the process noise of this fraction
# of a window period
PAD_FRACTION = 1e-4


class Rejected(ValueError):
    """A measurement or command that cannot be used; the text says why."""


@dataclass(frozen=True)
class Residual:
    """A group of the estimation cost, reported per solve like a controller's cost terms."""

    name: str
    kind: str = 'estimation'


class EstimationProblem:
    """The window as one parametric NLP: decision w = [x_0, ..., x_M, θ], no constraints but
    the bounds on θ.

    It offers what the package's solvers read of a transcribed problem (``nlp``, sizes, the
    Gauss-Newton Hessian, ``unpack``, the cost per group); its ``unpack`` reports θ as the
    solution's single "input" row, so a SolveResult's ``x_pred`` is the node states and its
    ``u0`` the parameter estimate.
    """

    def __init__(self, model, horizon, measured, estimated, substeps=1):
        self.model, self.N = model, int(horizon)
        self.measured = np.asarray(measured, dtype=int)
        self.estimated = np.asarray(estimated, dtype=int)
        nx, nu, M = model.nx, model.nu, self.N
        nm, nth = len(self.measured), len(self.estimated)
        sizes = [('y', nm * M), ('wy', nm * M), ('u', nu * M), ('h', M), ('ww', nx * M),
                 ('x_prior', nx), ('wx', nx), ('theta_prior', nth), ('wtheta', nth),
                 ('model', model.n_params)]
        self.blocks, start = {}, 0
        for name, size in sizes:
            self.blocks[name] = Block(name, start, size)
            start += size
        self.n_p = start
        P = ca.SX.sym('p', self.n_p)
        par = {name: P[b.slice] for name, b in self.blocks.items()}
        X = ca.SX.sym('X', nx, M + 1)
        theta = ca.SX.sym('theta', nth)
        p_model = [par['model'][i] for i in range(model.n_params)]
        for j, i in enumerate(self.estimated):
            p_model[i] = theta[j]
        p_model = ca.vertcat(*p_model) if p_model else ca.SX(0, 1)
        xs, us, ps, hs = (ca.SX.sym('x', nx), ca.SX.sym('u', nu),
                          ca.SX.sym('p', model.n_params), ca.SX.sym('h'))
        self.step = ca.Function('F', [xs, us, ps, hs], [rk4(model, xs, us, ps, hs, substeps)],
                                ['x', 'u', 'p', 'h'], ['xf'])
        y = ca.reshape(par['y'], nm, M)
        wy = ca.reshape(par['wy'], nm, M)
        u = ca.reshape(par['u'], nu, M)
        ww = ca.reshape(par['ww'], nx, M)
        arrival = ca.vertcat(par['wx'] * (X[:, 0] - par['x_prior']),
                             par['wtheta'] * (theta - par['theta_prior']))
        process, measurement = [], []
        for k in range(M):
            predicted = self.step(X[:, k], u[:, k], p_model, par['h'][k])
            process.append(ww[:, k] * (X[:, k + 1] - predicted))
            measurement.append(wy[:, k] * (X[self.measured.tolist(), k + 1] - y[:, k]))
        groups = [arrival, ca.vertcat(*process), ca.vertcat(*measurement)]
        self.terms = [Residual('arrival'), Residual('process'), Residual('measurement')]
        self.term_names = [t.name for t in self.terms]
        self.w = ca.vertcat(ca.vec(X), theta)
        self.p = P
        self.g = ca.SX(0, 1)
        self.residual = ca.vertcat(*groups)
        self.f = ca.sumsqr(self.residual)
        self.nw, self.ng = self.w.shape[0], 0
        self.equality = []
        self.term_costs = ca.Function('term_costs', [self.w, P],
                                      [ca.vertcat(*[ca.sumsqr(r) for r in groups])])
        jac = ca.jacobian(self.residual, self.w)
        self._information = jac.T @ jac
        self.x_index = np.arange(nx * (M + 1)).reshape(M + 1, nx)
        self.theta_index = nx * (M + 1) + np.arange(nth)
        self.marginal = self._marginal([1, M])

    def _marginal(self, positions):
        """(w, p) -> the marginal variances (diagonal of the inverse information) of the
        node states at ``positions`` and of θ, in that order: one sparse LDL solve."""
        information = ca.Function('information', [self.w, self.p], [self._information])
        w, p = ca.MX.sym('w', self.nw), ca.MX.sym('p', self.n_p)
        cols = np.concatenate([self.x_index[k] for k in positions] + [self.theta_index])
        unit = ca.DM(ca.Sparsity.triplet(self.nw, len(cols), cols.tolist(),
                                         list(range(len(cols)))), 1.0)
        inverse = ca.solve(information(w, p), unit, 'ldl')
        return ca.Function('marginal', [w, p],
                           [ca.vertcat(*[inverse[c, j] for j, c in enumerate(cols)])])

    @property
    def nlp(self):
        return {'x': self.w, 'p': self.p, 'f': self.f, 'g': self.g}

    def gauss_newton_hessian(self):
        """2 J'J of the whitened residuals: the exact Hessian but for the model's curvature."""
        return 2 * self._information

    def unpack(self, w):
        w = np.asarray(w, float).ravel()
        return w[self.x_index], w[self.theta_index].reshape(1, -1)


@dataclass
class Counters:
    measurements: int = 0       # taken into the window
    skipped: int = 0            # closer than a window period to the last one taken
    rejected: int = 0           # measurements or commands refused (the reason is kept)
    commands: int = 0
    solves: int = 0
    failures: int = 0           # solves that failed: the last estimate was kept
    restarts: int = 0           # windows restarted after a gap

    def as_dict(self):
        return dict(self.__dict__)


@dataclass
class Estimate:
    """The latest estimate: the state at the newest measurement and the parameters."""

    stamp: float                # [s] time of the newest measurement in the window
    x: np.ndarray               # angles wrapped to (-pi, pi]
    x_std: np.ndarray           # marginal standard deviation per state
    theta: np.ndarray           # estimated parameters, in the order of ``estimate``
    theta_std: np.ndarray
    confident: np.ndarray       # per parameter: its spread is within estimate_confident_std
    model_p: np.ndarray         # the model's whole parameter vector with the estimates
    success: bool
    status: str
    solve_time: float           # [s]
    iterations: int
    nodes: int                  # measurements in the window
    cost_terms: dict = field(default_factory=dict)


def _wrap(a):
    return np.arctan2(np.sin(a), np.cos(a))


class MovingHorizonEstimator:
    """Measurements and commands in, estimates out. ``add_measurement`` solves a window
    whenever a measurement is taken; it never raises but for :class:`Rejected` input."""

    def __init__(self, cfg, model=None):
        self.cfg = cfg if isinstance(cfg, EstimatorConfig) else parse(cfg)
        c = self.cfg
        try:
            self.model = model or build_model(c.model.name, **c.model.options())
        except (ValueError, KeyError, OSError) as err:
            raise ConfigError('model: %s' % err) from None
        self.setup = resolve(c, self.model)
        s = self.setup
        self.problem = EstimationProblem(self.model, c.horizon, s.measured, s.estimated,
                                         c.substeps)
        self.solver = Solver(self.problem, c.solver.name, c.solver.max_iter, c.solver.tol,
                             c.solver.time_limit)
        self.counters = Counters()
        self.last_rejection = ''
        self.theta, self.theta_std = s.prior.copy(), s.prior_std.copy()
        self.estimate = None
        self.commands = deque()      # (time the robot applies it [s], command)
        self._restart()

    # ------------------------------------------------------------------ settings
    def update(self, changes):
        """Apply run-time changes (dotted names); raises ConfigError and applies nothing when a
        value is invalid or structural."""
        new = parse({**self.cfg.model_dump(), **changes}, 'parameter update')
        structural = changed_structure(self.cfg, new, STRUCTURAL)
        if structural:
            raise ConfigError('%s: read-only at run time (it changes the problem structure)'
                              % ', '.join(structural))
        setup = resolve(new, self.model)
        self.cfg, self.setup = new, setup
        self.solver.time_limit = new.solver.time_limit
        self.theta = np.clip(self.theta, setup.lower, setup.upper)

    @property
    def period(self):
        return 1.0 / self.cfg.rate_hz

    # ------------------------------------------------------------------ input
    def reject(self, reason):
        """Count a refused input (also those the caller refuses) and keep the reason."""
        self.counters.rejected += 1
        self.last_rejection = reason

    def add_command(self, t, u):
        """A command received at time ``t`` [s] (applied ``command_delay`` later)."""
        u = np.asarray(u, dtype=float).ravel()
        if u.shape != (self.model.nu,) or not np.all(np.isfinite(u)):
            reason = 'command %s: expected %d finite values (%s)' % (
                np.round(u, 4).tolist(), self.model.nu, ', '.join(self.model.input_names))
            self.reject(reason)
            raise Rejected(reason)
        t = float(t) + self.cfg.command_delay
        if self.commands and t < self.commands[-1][0]:
            t = self.commands[-1][0]    # applied in the order received
        self.commands.append((t, u))
        self.counters.commands += 1

    def add_measurement(self, t, y):
        """A measurement of the measured states stamped ``t`` [s]. Returns the new Estimate,
        or None when it is skipped (closer than a window period to the last one taken, or no
        command received yet).
        Raises Rejected (counted) for NaN, a wrong size or a stamp not after the last one."""
        y = np.asarray(y, dtype=float).ravel()
        m = len(self.setup.measured)
        names = [self.model.state_names[i] for i in self.setup.measured]
        if y.shape != (m,) or not np.all(np.isfinite(y)):
            self._refuse('measurement %s: expected %d finite values (%s)'
                         % (np.round(y, 4).tolist(), m, ', '.join(names)))
        t = float(t)
        if self._last_stamp is not None and t <= self._last_stamp:
            self._refuse('measurement stamped %.9f s, not after the last one (%.9f s): out of '
                         'order or repeated' % (t, self._last_stamp))
        self._last_stamp = t
        if self.nodes and t - self.nodes[-1][0] > self.cfg.max_gap:
            self.counters.restarts += 1
            self._restart(keep_stamp=True)
        if not self.commands or self.nodes and \
                t - self.nodes[-1][0] < self.period * (1 - 1e-6):
            # before the first command the robot's input is unknown (it may be held or
            # braked): no window yet
            self.counters.skipped += 1
            return None
        self._take(t, y)
        return self._solve()

    def _refuse(self, reason):
        self.reject(reason)
        raise Rejected(reason)

    # ------------------------------------------------------------------ window
    def _restart(self, keep_stamp=False):
        """An empty window; the parameters keep their estimate."""
        self.nodes = deque()     # (stamp, measurement with angles unwrapped along the window)
        self.xs = deque()        # the current estimate (or guess) of each node's state
        self.prior = None        # (x̄, its std, θ̄, its std) of node 0
        if not keep_stamp:
            self._last_stamp = None

    def _take(self, t, y):
        s, model = self.setup, self.model
        y = y.copy()
        angles = [j for j, i in enumerate(s.measured) if i in model.wrap]
        if self.nodes:
            previous = self.nodes[-1][1]
            for j in angles:
                y[j] = previous[j] + _wrap(y[j] - previous[j])
            guess = self._predict(self.nodes[-1][0], t, self.xs[-1])
        else:
            guess = self._start_state(y)
        guess[s.measured] = y
        if not self.nodes:
            std = s.state_prior_std.copy()
            if self.cfg.arrival == 'covariance':
                std[s.measured] = s.measurement_std
            self.prior = (guess.copy(), std, self.theta.copy(),
                          np.maximum(self.theta_std, 1e-12))
            self._x1_var = std ** 2
        self.nodes.append((t, y))
        self.xs.append(guess)
        self.counters.measurements += 1
        if len(self.nodes) > self.cfg.horizon + 1:
            self._slide()
        self._prune_commands()

    def _start_state(self, y):
        """The state at a (re)start: the last estimate for the states not measured (zero
        before any), the measurement for the rest."""
        if self.estimate is not None:
            return self.estimate.x.copy()
        return np.zeros(self.model.nx)

    def _slide(self):
        """Drop the oldest node: the arrival cost moves to the next one, with the previous
        solution's value and spread there, widened by the noise of the dropped interval."""
        t0 = self.nodes[0][0]
        self.nodes.popleft()
        self.xs.popleft()
        h = self.nodes[0][0] - t0
        s = self.setup
        if self.cfg.arrival == 'fixed':
            x_std, theta_std = s.state_prior_std, s.prior_std
        else:
            x_std = np.sqrt(self._x1_var + s.process_std ** 2 * h)
            theta_std = np.minimum(np.sqrt(self.theta_std ** 2 + s.drift ** 2 * h),
                                   s.prior_std)
        self.prior = (self.xs[0].copy(), x_std, self.theta.copy(),
                      np.maximum(theta_std, 1e-12))

    def _prune_commands(self):
        """Keep the commands that can still matter: those after the window's first node and
        the one in force then."""
        start = self.nodes[0][0] - self.cfg.command_timeout
        while len(self.commands) > 1 and self.commands[1][0] <= start:
            self.commands.popleft()

    def average_command(self, t0, t1):
        """The command the robot applied over [t0, t1], averaged over time (zero while none,
        or only a stale one, was in force)."""
        return self.average_commands(np.array([t0, t1]))[0]

    def average_commands(self, times):
        """The average command over each interval between consecutive ``times``: (n-1, nu)."""
        times = np.asarray(times, float)
        out = np.zeros((len(times) - 1, self.model.nu))
        if not self.commands:
            return out
        starts = np.array([t for t, _ in self.commands])
        values = np.array([u for _, u in self.commands])
        ends = np.minimum(np.append(starts[1:], np.inf), starts + self.cfg.command_timeout)
        t0, t1 = times[:-1, None], times[1:, None]
        overlap = np.clip(np.minimum(ends, t1) - np.maximum(starts, t0), 0.0, None)
        length = (t1 - t0)[:, 0]
        live = length > 0
        out[live] = (overlap[live] @ values) / length[live, None]
        return out

    def _predict(self, t0, t1, x):
        u = self.average_command(t0, t1)
        p = self.model_p(self.theta)
        return np.asarray(self.problem.step(x, u, p, t1 - t0), float).ravel()

    def model_p(self, theta):
        p = self.setup.model_p.copy()
        p[self.setup.estimated] = theta
        return p

    # ------------------------------------------------------------------ solve
    def parameters(self):
        """The window as the problem's parameter vector, and the guess of the decision."""
        prob, s, M = self.problem, self.setup, self.cfg.horizon
        nx, nm = self.model.nx, len(s.measured)
        n = len(self.nodes)
        pad = M + 1 - n
        times = [self.nodes[0][0]] * pad + [t for t, _ in self.nodes]
        p = np.zeros(prob.n_p)
        y = np.zeros((M, nm))
        wy = np.zeros((M, nm))
        h = np.diff(times)
        floor = PAD_FRACTION * self.period
        ww = 1.0 / (s.process_std[None, :] * np.sqrt(np.maximum(h, floor))[:, None])
        u = self.average_commands(times)
        for k in range(M):
            pos = k + 1
            if pos > pad:   # a real node after the first: its measurement counts
                y[k] = self.nodes[pos - pad][1]
                wy[k] = 1.0 / s.measurement_std
        x_bar, x_std, th_bar, th_std = self.prior
        values = {'y': y, 'wy': wy, 'u': u, 'h': h, 'ww': ww, 'x_prior': x_bar,
                  'wx': 1.0 / x_std, 'theta_prior': th_bar, 'wtheta': 1.0 / th_std,
                  'model': s.model_p}
        for name, value in values.items():
            p[prob.blocks[name].slice] = np.asarray(value, float).reshape(-1)
        guess = np.concatenate([np.tile(self.xs[0], pad)] + list(self.xs) + [self.theta])
        bounds = (np.concatenate([np.full(nx * (M + 1), -np.inf), s.lower]),
                  np.concatenate([np.full(nx * (M + 1), np.inf), s.upper]),
                  np.zeros(0), np.zeros(0))
        return p, bounds, guess

    def _solve(self):
        p, bounds, guess = self.parameters()
        result = self.solver.solve(p, bounds, guess)
        self.counters.solves += 1
        M, n = self.cfg.horizon, len(self.nodes)
        if result.success:
            w = np.concatenate([result.x_pred.reshape(-1), result.u0])
            variance = np.abs(np.asarray(self.problem.marginal(w, p), float).ravel())
            self.xs = deque(result.x_pred[M + 1 - n:].copy())
            self.theta = result.u0.copy()
            nx = self.model.nx
            self._x1_var = variance[:nx]
            x_std = np.sqrt(variance[nx:2 * nx])
            self.theta_std = np.minimum(np.sqrt(variance[2 * nx:]), self.setup.prior_std)
            x = self.model.state_error(result.x_pred[M], np.zeros(nx))
        else:
            self.counters.failures += 1
            last = self.estimate
            x = last.x if last is not None else self.model.state_error(self.xs[-1],
                                                                       np.zeros(self.model.nx))
            x_std = last.x_std if last is not None else np.full(self.model.nx, np.nan)
        self.estimate = Estimate(
            stamp=self.nodes[-1][0], x=np.asarray(x, float), x_std=x_std,
            theta=self.theta.copy(), theta_std=self.theta_std.copy(),
            confident=self.theta_std <= self.setup.confident_std,
            model_p=self.model_p(self.theta), success=result.success, status=result.status,
            solve_time=result.solve_time, iterations=result.iterations, nodes=n,
            cost_terms={k: v for k, v in result.cost_terms.items()
                        if k in self.problem.term_names})
        return self.estimate
