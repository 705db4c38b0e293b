"""Differential-drive base as a unicycle: state (x, y, theta), input (v, omega).

The velocity and turn-rate gains (parameters, default 1) scale the commanded velocities into the
robot's actual ones, as a real base's wheel radius and track width errors do: an estimator can
fit them and the controller can follow.
"""
import casadi as ca
import numpy as np

from .base import Model, bounds, signals


def build(v_max=1.0, omega_max=2.0, **_):
    x = ca.SX.sym('x', 3)
    u = ca.SX.sym('u', 2)
    p = ca.SX.sym('p', 2)   # velocity gain, turn-rate gain
    v, omega = p[0] * u[0], p[1] * u[1]
    xdot = ca.vertcat(v * ca.cos(x[2]), v * ca.sin(x[2]), omega)
    return Model(
        name='diff_drive', kind='base',
        states=signals(['x', 'y', 'theta'], ['m', 'm', 'rad']),
        inputs=signals(['v', 'omega'], ['m/s', 'rad/s']),
        params=signals(['v_gain', 'omega_gain'], ['1', '1'], [1.0, 1.0]),
        rhs=ca.Function('diff_drive', [x, u, p], [xdot], ['x', 'u', 'p'], ['xdot']),
        x_lb=bounds([-np.inf] * 3), x_ub=bounds([np.inf] * 3),
        u_lb=bounds([-v_max, -omega_max]), u_ub=bounds([v_max, omega_max]),
        wrap=(2,), position=(0, 1, 2),
    )
