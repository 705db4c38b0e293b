"""Differential-drive base as a unicycle: state (x, y, theta), input (v, omega).

The velocity and turn-rate gains (parameters, default 1) scale the commanded velocities into the
robot's actual ones, as a real base's wheel radius and track width errors do: an estimator can
fit them and the controller can follow.
"""
import casadi as ca
import numpy as np

from .base import Model, bounds, signals
from .bodies import Wheel, WheeledBody

# the body a physics engine drives: a 50 x 40 cm, 15 kg base on two 8 cm wheels 40 cm apart,
# with ball casters front and back
WHEEL_RADIUS, TRACK = 0.08, 0.40   # [m]


def build(v_max=1.0, omega_max=2.0, **_):
    x = ca.SX.sym('x', 3)
    u = ca.SX.sym('u', 2)
    p = ca.SX.sym('p', 2)   # velocity gain, turn-rate gain
    v, omega = p[0] * u[0], p[1] * u[1]
    xdot = ca.vertcat(v * ca.cos(x[2]), v * ca.sin(x[2]), omega)
    body = WheeledBody(
        wheels=(Wheel(0.0, TRACK / 2), Wheel(0.0, -TRACK / 2)),
        wheel_radius=WHEEL_RADIUS, wheel_width=0.04, size=(0.5, 0.36, 0.15), mass=15.0,
        casters=((0.2, 0.0), (-0.2, 0.0)),
        twist=ca.Function('twist', [x, u, p], [ca.vertcat(v, 0, omega)]))
    return Model(
        name='diff_drive', kind='base',
        states=signals(['x', 'y', 'theta'], ['m', 'm', 'rad']),
        inputs=signals(['v', 'omega'], ['m/s', 'rad/s']),
        params=signals(['v_gain', 'omega_gain'], ['1', '1'], [1.0, 1.0]),
        rhs=ca.Function('diff_drive', [x, u, p], [xdot], ['x', 'u', 'p'], ['xdot']),
        x_lb=bounds([-np.inf] * 3), x_ub=bounds([np.inf] * 3),
        u_lb=bounds([-v_max, -omega_max]), u_ub=bounds([v_max, omega_max]),
        wrap=(2,), position=(0, 1, 2), meta={'physics': body},
    )
