"""Standard MPC benchmark problems shared by the peer scripts.

Plain data plus dynamics written with CasADi operations, so the same functions
build symbolic models (do-mpc, acados) and step the numeric plant. No import of
the casadi_mpc package on purpose: the peers run in their own environments.
"""
import json
import os
import sys
from contextlib import contextmanager
from dataclasses import dataclass

import casadi as ca
import numpy as np


@dataclass(frozen=True)
class Problem:
    name: str
    nx: int
    nu: int
    N: int
    dt: float
    Q: tuple          # stage state weights (diagonal)
    R: tuple          # stage input weights (diagonal)
    Qf: tuple         # terminal state weights (diagonal)
    u_max: tuple      # symmetric input bounds |u| <= u_max
    x0: tuple
    goal: tuple
    steps: int        # closed-loop steps


UNICYCLE = Problem(
    name='unicycle', nx=3, nu=2, N=20, dt=0.1,
    Q=(1.0, 1.0, 0.1), R=(0.1, 0.1), Qf=(10.0, 10.0, 10.0),
    u_max=(1.0, 2.0), x0=(0.0, 0.0, 0.0), goal=(2.0, 1.0, np.pi / 2), steps=100)

ARM2 = Problem(
    name='arm2', nx=4, nu=2, N=30, dt=0.02,
    Q=(10.0, 10.0, 0.1, 0.1), R=(0.001, 0.001), Qf=(100.0, 100.0, 0.0, 0.0),
    u_max=(20.0, 20.0), x0=(0.0, 0.0, 0.0, 0.0), goal=(np.pi / 2, 0.0, 0.0, 0.0),
    steps=200)

PROBLEMS = {p.name: p for p in (UNICYCLE, ARM2)}

# 2-link arm parameters: point masses at the link ends, gravity along -y.
M1 = M2 = 1.0
L1 = L2 = 1.0
GRAV = 9.81


def unicycle_ode(x, u):
    return ca.vertcat(u[0] * ca.cos(x[2]), u[0] * ca.sin(x[2]), u[1])


def arm2_ode(x, u):
    q1, q2, dq1, dq2 = x[0], x[1], x[2], x[3]
    c2 = ca.cos(q2)
    m11 = (M1 + M2) * L1 ** 2 + M2 * L2 ** 2 + 2 * M2 * L1 * L2 * c2
    m12 = M2 * L2 ** 2 + M2 * L1 * L2 * c2
    m22 = M2 * L2 ** 2
    h = M2 * L1 * L2 * ca.sin(q2)
    cor1 = -h * (2 * dq1 * dq2 + dq2 ** 2)
    cor2 = h * dq1 ** 2
    g1 = (M1 + M2) * GRAV * L1 * ca.cos(q1) + M2 * GRAV * L2 * ca.cos(q1 + q2)
    g2 = M2 * GRAV * L2 * ca.cos(q1 + q2)
    b1 = u[0] - cor1 - g1
    b2 = u[1] - cor2 - g2
    det = m11 * m22 - m12 * m12
    ddq1 = (m22 * b1 - m12 * b2) / det
    ddq2 = (m11 * b2 - m12 * b1) / det
    return ca.vertcat(dq1, dq2, ddq1, ddq2)


ODES = {'unicycle': unicycle_ode, 'arm2': arm2_ode}


def rk4_step(ode, x, u, dt):
    """One classic Runge-Kutta 4 step of xdot = ode(x, u) with u held constant."""
    k1 = ode(x, u)
    k2 = ode(x + dt / 2 * k1, u)
    k3 = ode(x + dt / 2 * k2, u)
    k4 = ode(x + dt * k3, u)
    return x + dt / 6 * (k1 + 2 * k2 + 2 * k3 + k4)


def ode_function(prob):
    """CasADi Function f(x, u) -> xdot."""
    x = ca.SX.sym('x', prob.nx)
    u = ca.SX.sym('u', prob.nu)
    return ca.Function('f_' + prob.name, [x, u], [ODES[prob.name](x, u)])


def step_function(prob):
    """CasADi Function F(x, u) -> x_next (one RK4 step of length dt)."""
    x = ca.SX.sym('x', prob.nx)
    u = ca.SX.sym('u', prob.nu)
    x_next = rk4_step(ODES[prob.name], x, u, prob.dt)
    return ca.Function('F_' + prob.name, [x, u], [x_next])


def make_plant(prob):
    """Numeric plant: numpy x, u -> numpy x_next (same RK4 step as the models)."""
    step = step_function(prob)

    def plant(x, u):
        return np.asarray(step(x, u)).ravel()
    return plant


def stage_cost(prob, x, u):
    dx = x - ca.DM(prob.goal)
    return ca.dot(ca.DM(prob.Q) * dx, dx) + ca.dot(ca.DM(prob.R) * u, u)


def terminal_cost(prob, x):
    dx = x - ca.DM(prob.goal)
    return ca.dot(ca.DM(prob.Qf) * dx, dx)


def summarize(times_s, x_final, prob, steps):
    ms = 1e3 * np.asarray(times_s)
    return {
        'median_ms': float(np.median(ms)),
        'p99_ms': float(np.percentile(ms, 99)),
        'max_ms': float(np.max(ms)),
        'final_error': float(np.linalg.norm(np.asarray(x_final) - np.asarray(prob.goal))),
        'steps': int(steps),
    }


def selected(name):
    return list(PROBLEMS) if name == 'all' else [name]


@contextmanager
def json_stdout():
    """Route everything written to fd 1 (Python and C code) to stderr.

    Yields a writer that emits one JSON line on the real stdout.
    """
    sys.stdout.flush()
    saved = os.dup(1)
    os.dup2(2, 1)
    real = os.fdopen(saved, 'w')

    def emit(obj):
        real.write(json.dumps(obj) + '\n')
        real.flush()
    try:
        yield emit
    finally:
        sys.stdout.flush()
        real.close()


# ---------------------------------------------------------------------------- estimation
@dataclass(frozen=True)
class Estimation:
    """Moving horizon estimation of a unicycle's pose and its velocity and turn-rate gains from
    a noisy pose measured every dt, the commands known. Arrival cost with fixed weights, the
    previous solution as its prior (do-mpc's MHE)."""

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


MHE = Estimation(name='unicycle_gains', dt=0.1, steps=200, gains=(0.9, 1.1), prior=(1.0, 1.0),
                 meas_std=0.01, process_std=0.02, state_prior_std=0.1, gain_prior_std=0.1,
                 seed=7)


def unicycle_gains_ode(x, u, p):
    v, omega = p[0] * u[0], p[1] * u[1]
    return ca.vertcat(v * ca.cos(x[2]), v * ca.sin(x[2]), omega)


def mhe_data(prob):
    """(measurements (steps+1, 3), commands (steps, 2), true states (steps+1, 3)): the robot
    driven by smooth commands, one RK4 step of dt per interval, its pose measured with noise."""
    x, u, p = ca.SX.sym('x', 3), ca.SX.sym('u', 2), ca.SX.sym('p', 2)
    ode = lambda a, b: unicycle_gains_ode(a, b, p)   # noqa: E731
    step = ca.Function('F', [x, u, p], [rk4_step(ode, x, u, prob.dt)])
    rng = np.random.default_rng(prob.seed)
    xs, us = [np.zeros(3)], []
    for k in range(prob.steps):
        cmd = np.array([0.5 + 0.3 * np.sin(0.2 * k), 0.8 * np.sin(0.1 * k)])
        us.append(cmd)
        xs.append(np.asarray(step(xs[-1], cmd, prob.gains), float).ravel())
    xs = np.array(xs)
    return xs + prob.meas_std * rng.standard_normal(xs.shape), np.array(us), xs
