"""Holonomic (omnidirectional or mecanum) base with heading: state (x, y, theta), input the
body-frame velocity (vx, vy, omega), commanded as a Twist with linear.y."""
from typing import Literal

import casadi as ca

from . import interface as itf
from .base import Model, SafeCommand, signals
from .options import ModelOptions


class Options(ModelOptions):
    name: Literal['omni'] = 'omni'


def build(options):
    x = ca.SX.sym('x', 3)
    u = ca.SX.sym('u', 3)
    p = ca.SX.sym('p', 0)
    c, s = ca.cos(x[2]), ca.sin(x[2])
    xdot = ca.vertcat(c * u[0] - s * u[1], s * u[0] + c * u[1], u[2])
    return Model(
        name='omni', kind='base',
        states=signals(['x', 'y', 'theta'], ['m', 'm', 'rad'], angles=('theta',)),
        inputs=signals(['vx', 'vy', 'omega'], ['m/s', 'm/s', 'rad/s'],
                       lower=[-1.0, -1.0, -2.0], upper=[1.0, 1.0, 2.0]),
        params=(),
        rhs=ca.Function('omni', [x, u, p], [xdot], ['x', 'u', 'p'], ['xdot']),
        position=(0, 1, 2), safe=SafeCommand('zero'),
        interface=itf.Interface(
            state=itf.odometry(x='position.x', y='position.y', theta='yaw'),
            command=itf.twist(linear_x='vx', linear_y='vy', angular_z='omega'),
            # ros2_control's mecanum_drive_controller
            driver={'cmd_vel': '/mecanum_drive_controller/reference',
                    'odom': '/mecanum_drive_controller/odometry'}),
    )
