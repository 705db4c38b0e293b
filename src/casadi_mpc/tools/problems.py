"""The standard problems: one home for the tests, the benchmarks and the peers.

Each :class:`Problem` is a casadi_mpc configuration (model, horizon, interval, weights, bounds,
goal) with its start and closed-loop length. The peers (do-mpc, acados) pose the same problem
from the same object: the model's f(x, u, p) at the default parameters, the weights of the
``goal_tracking``, ``effort`` and ``terminal`` terms, the bounds, the RK4 discretization with
``substeps`` steps per interval. Needs casadi, numpy and pydantic only (the acados venv reads
it too); no ROS.

- ``unicycle``: the diff-drive base, N = 20, dt = 0.1 s, to (2, 1, pi/2), 100 steps.
- ``arm2``: the gravity-loaded 2-link arm, N = 30, dt = 0.02 s, to (pi/2, 0), 200 steps.
- ``pendulum``: acados' pendulum-on-cart swing-up (a user model under examples/models):
  N = 20, Tf = 1 s, Q = 2 diag(1e3, 1e3, 1e-2, 1e-2), R = 2e-2, |F| <= 80 N, from theta = pi.
- ``chain3`` ... ``chain8``: acados' chain of masses (a user model) with 3 to 8 masses
  (nx = 9 ... 39): Ts = 0.2 s, N = 40, |u| <= 1, Q = 2 diag(1, ..., M + 1 at the free end),
  R = 2e-2; from the rest state disturbed by five steps of u = (-1, 1, 1) back to rest,
  25 steps (acados' Tsim = 5 s). acados' example keeps every moving mass off a wall,
  y >= -0.05, as a soft constraint (slacks); casadi_mpc has hard state bounds only, and with
  a hard wall the linearized problems of the longer chains have no solution (the masses swing
  into the wall faster than the free end can hold them; acados fails on them alike), so the
  wall is left out here; ``chain5-wall`` etc. keep it as a hard bound on both sides.

acados scales its stage cost by the interval (cost = dt sum l + terminal): our weights are its
Q/2 and R/2 for the stages and its Q/2 / dt at the end, the same minimizer.
:meth:`Problem.closed_loop_cost` is the one figure every side's closed loop is scored with.
"""
import copy
import math
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np

from ..core.integrators import rk4_step
from ..core.models import build, options
from ..core.models.registry import load_file

PACKAGE = Path(__file__).resolve().parents[1]
WALL = -0.05          # [m] chain: the wall's y
CHAIN_SIZES = range(3, 9)


def examples_dir():
    """examples/ of the source tree, else of the installed share directory."""
    source = PACKAGE.parents[1] / 'examples'
    if source.is_dir():
        return source
    import sys
    return Path(sys.prefix) / 'share' / 'casadi_mpc' / 'examples'


def example_model(name):
    """Path of a user model file under examples/models."""
    return str(examples_dir() / 'models' / ('%s.py' % name))


@dataclass
class Problem:
    """A standard problem: our configuration, the start, the closed-loop steps."""

    name: str
    config: dict
    x0: np.ndarray
    steps: int
    notes: str = ''
    _model: object = field(default=None, repr=False)

    # ------------------------------------------------------------------ the pieces
    @property
    def model(self):
        if self._model is None:
            m = self.config['model']
            self._model = build(options(**m))
        return self._model

    @property
    def N(self):
        return int(self.config['horizon'])

    @property
    def dt(self):
        return float(self.config['dt'])

    @property
    def substeps(self):
        return int(self.config.get('substeps', 1))

    @property
    def goal(self):
        return np.asarray(self.config['goal'], float)

    def weights(self):
        """(Q, R, Qf) diagonals of the goal_tracking, effort and terminal terms."""
        costs = self.config['costs']
        return tuple(np.asarray(costs[t]['weight'], float)
                     for t in ('goal_tracking', 'effort', 'terminal'))

    def u_bounds(self):
        b = self.config.get('bounds', {})
        m = self.model
        return (np.asarray(b.get('u_min') or m.u_lb, float),
                np.asarray(b.get('u_max') or m.u_ub, float))

    def x_bounds(self):
        b = self.config.get('bounds', {})
        m = self.model
        return (np.asarray(b.get('x_min') or m.x_lb, float),
                np.asarray(b.get('x_max') or m.x_ub, float))

    def params(self):
        return self.model.param_vector(self.config['model'].get('params'))

    def ode(self, x, u):
        """f(x, u) at the problem's parameters (CasADi symbols or numbers)."""
        return self.model.rhs(x, u, self.params())

    def plant(self):
        """numpy x, u -> x after dt: the closed loop's plant, the model's RK4 step."""
        step, p = rk4_step(self.model, self.dt, self.substeps), self.params()
        return lambda x, u: np.asarray(step(x, u, p), float).ravel()

    def mpc_config(self, solver='sqp', compiled=False, max_iter=200, tol=1e-8,
                   time_limit=10.0):
        """Our configuration with a backend chosen."""
        cfg = copy.deepcopy(self.config)
        cfg['solver'] = {'name': solver, 'compiled': compiled, 'max_iter': max_iter,
                         'tol': tol, 'time_limit': time_limit}
        return cfg

    def closed_loop_cost(self, xs, us):
        """sum_k (x_k - g)' Q (x_k - g) + u_k' R u_k over a closed loop's states and inputs
        (the stage weights, angles not wrapped: every side scored alike)."""
        Q, R, _ = self.weights()
        e = np.asarray(xs, float)[:len(us)] - self.goal
        u = np.asarray(us, float)
        return float(np.sum(e * e * Q) + np.sum(u * u * R))


def _unicycle():
    return Problem('unicycle', {
        'model': {'name': 'diff_drive'},
        'horizon': 20, 'dt': 0.1, 'goal': [2.0, 1.0, math.pi / 2], 'goal_tolerance': 0.1,
        'costs': {'goal_tracking': {'weight': [1.0, 1.0, 0.1]},
                  'effort': {'weight': [0.1, 0.1]},
                  'terminal': {'weight': [10.0, 10.0, 10.0]}},
        'bounds': {'u_min': [-1.0, -2.0], 'u_max': [1.0, 2.0]},
    }, np.zeros(3), 100)


def _arm2():
    return Problem('arm2', {
        'model': {'name': 'planar_arm', 'links': 2},
        'horizon': 30, 'dt': 0.02, 'goal': [math.pi / 2, 0.0, 0.0, 0.0], 'goal_tolerance': 0.1,
        'costs': {'goal_tracking': {'weight': [10.0, 10.0, 0.1, 0.1]},
                  'effort': {'weight': [0.001, 0.001]},
                  'terminal': {'weight': [100.0, 100.0, 0.0, 0.0]}},
        'bounds': {'u_min': [-20.0, -20.0], 'u_max': [20.0, 20.0]},
    }, np.zeros(4), 200)


def _pendulum():
    dt = 0.05
    q = [1e3, 1e3, 1e-2, 1e-2]
    return Problem('pendulum', {
        'model': {'name': 'pendulum_on_cart', 'file': example_model('pendulum_on_cart')},
        'horizon': 20, 'dt': dt, 'goal': [0.0] * 4, 'goal_tolerance': 0.05,
        'costs': {'goal_tracking': {'weight': q}, 'effort': {'weight': [1e-2]},
                  'terminal': {'weight': [w / dt for w in q]}},
        'bounds': {'u_min': [-80.0], 'u_max': [80.0]},
    }, np.array([0.0, math.pi, 0.0, 0.0]), 100, 'acados getting-started swing-up')


def _chain(n_mass, wall=False):
    dt = 0.2
    model_options = {'name': 'chain_mass', 'file': example_model('chain_mass'),
                     'n_mass': n_mass}
    model = build(options(**model_options))
    M = n_mass - 2
    rest = load_file(model_options['file']).rest_state(model, [0.033 * (M + 1) * 6, 0.0, 0.0])
    q = np.ones(model.nx)
    q[3 * M:3 * M + 3] = M + 1          # the free end weighs M + 1
    config = {
        'model': model_options, 'horizon': 40, 'dt': dt, 'substeps': 2,
        'goal': rest.tolist(), 'goal_tolerance': 0.05,
        'costs': {'goal_tracking': {'weight': q.tolist()}, 'effort': {'weight': [1e-2] * 3},
                  'terminal': {'weight': (q / dt).tolist()}},
        'bounds': {'u_min': [-1.0] * 3, 'u_max': [1.0] * 3},
    }
    if wall:
        x_min = np.full(model.nx, -np.inf)
        x_min[1:3 * (M + 1):3] = WALL       # y of every moving mass
        config['bounds']['x_min'] = x_min.tolist()
    problem = Problem('chain%d%s' % (n_mass, '-wall' if wall else ''), config, rest, 25,
                      'acados chain_mass%s' % (', hard wall' if wall else ''), _model=model)
    step = problem.plant()
    x = rest.copy()
    for _ in range(5):                  # acados' disturbance: five steps of u_init
        x = step(x, [-1.0, 1.0, 1.0])
    problem.x0 = x
    return problem


FACTORIES = dict([('unicycle', _unicycle), ('arm2', _arm2), ('pendulum', _pendulum)]
                 + [('chain%d' % n, (lambda n=n: _chain(n))) for n in CHAIN_SIZES]
                 + [('chain%d-wall' % n, (lambda n=n: _chain(n, True))) for n in CHAIN_SIZES])
NAMES = tuple(FACTORIES)


@lru_cache(maxsize=None)
def _problem(name):
    if name not in FACTORIES:
        raise KeyError('unknown problem %r; known: %s' % (name, ', '.join(NAMES)))
    return FACTORIES[name]()


def get(name):
    """The standard problem ``name`` (its data a fresh copy: change it freely)."""
    p = _problem(name)
    return Problem(p.name, copy.deepcopy(p.config), p.x0.copy(), p.steps, p.notes, p._model)


def config(name, solver='sqp', compiled=False, **changes):
    """Our configuration of problem ``name`` with a backend and top-level ``changes``."""
    cfg = get(name).mpc_config(solver, compiled)
    cfg.update(changes)
    return cfg


# ---------------------------------------------------------------------------- estimation
@dataclass(frozen=True)
class Estimation:
    """Moving horizon estimation of the diff-drive base's pose and its velocity and turn-rate
    gains (model parameters) from a noisy pose measured every dt, the commands known. Arrival
    cost with fixed weights, the previous solution as its prior (do-mpc's MHE)."""

    name: str
    dt: float
    steps: int            # measurements after the first
    gains: tuple          # the robot's true gains
    prior: tuple          # the estimator's prior gains
    meas_std: float       # pose measurement noise (per state, SI)
    process_std: float    # process noise intensity [SI / sqrt(s)]
    state_prior_std: float
    gain_prior_std: float
    seed: int

    @property
    def model(self):
        return build(options('diff_drive'))

    def step(self):
        """F(x, u, gains) -> x after dt: one RK4 step of the model (symbols or numbers)."""
        return rk4_step(self.model, self.dt)


MHE = Estimation(name='unicycle_gains', dt=0.1, steps=200, gains=(0.9, 1.1), prior=(1.0, 1.0),
                 meas_std=0.01, process_std=0.02, state_prior_std=0.1, gain_prior_std=0.1,
                 seed=7)


def mhe_data(prob):
    """(measurements (steps+1, 3), commands (steps, 2), true states (steps+1, 3)): the robot
    driven by smooth commands, one RK4 step of dt per interval, its pose measured with noise."""
    step = prob.step()
    rng = np.random.default_rng(prob.seed)
    xs, us = [np.zeros(3)], []
    for k in range(prob.steps):
        cmd = np.array([0.5 + 0.3 * np.sin(0.2 * k), 0.8 * np.sin(0.1 * k)])
        us.append(cmd)
        xs.append(np.asarray(step(xs[-1], cmd, prob.gains), float).ravel())
    xs = np.array(xs)
    return xs + prob.meas_std * rng.standard_normal(xs.shape), np.array(us), xs
