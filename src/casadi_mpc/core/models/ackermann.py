"""Car-like base (Ackermann steering) as a kinematic bicycle.

State (x, y, theta, delta): the rear axle's position [m], heading [rad] and the steering angle
[rad]; input (v, delta_rate): the speed [m/s] and the steering rate [rad/s], so the steering
angle and its rate limits are both bounds. The wheelbase L and the steering's response time
tau are parameters.

It is commanded as ros2_control's ackermann_steering_controller takes it: a Twist whose
linear.x is v and angular.z the yaw rate v tan(delta_c) / L of the steering angle it asks for,
delta_c = delta + tau * delta_rate (a steering that follows its command as a first-order lag
of time constant tau then turns at delta_rate). Odometry carries the pose; the steering angle
is not in it and comes from the controller's prediction.
"""
from typing import Literal

import casadi as ca

from . import interface as itf
from .base import Model, SafeCommand, signals
from .options import ModelOptions

V_MAX, STEER_MAX, STEER_RATE_MAX = 1.0, 0.5, 1.0   # default bounds [m/s], [rad], [rad/s]
STILL = 1e-6   # [m/s] below this speed a Twist asks for no steering angle


class Options(ModelOptions):
    name: Literal['ackermann'] = 'ackermann'


def build(options):
    x = ca.SX.sym('x', 4)
    u = ca.SX.sym('u', 2)
    p = ca.SX.sym('p', 2)
    theta, delta = x[2], x[3]
    v, rate = u[0], u[1]
    wheelbase, tau = p[0], p[1]
    xdot = ca.vertcat(v * ca.cos(theta), v * ca.sin(theta), v * ca.tan(delta) / wheelbase,
                      rate)
    twist = ca.vertcat(v, v * ca.tan(delta + tau * rate) / wheelbase)
    # the inverse, for the simulator: the steering angle a Twist asks for, and the rate at
    # which a steering of response time tau turns towards it (none when standing)
    c = ca.SX.sym('c', 2)
    moving = ca.fabs(c[0]) > STILL
    asked = ca.atan(wheelbase * c[1] / ca.if_else(moving, c[0], 1.0))
    to_input = ca.vertcat(c[0], ca.if_else(moving, (asked - delta) / tau, 0.0))
    return Model(
        name='ackermann', kind='base',
        states=signals(['x', 'y', 'theta', 'delta'], ['m', 'm', 'rad', 'rad'],
                       lower=[-ca.inf, -ca.inf, -ca.inf, -STEER_MAX],
                       upper=[ca.inf, ca.inf, ca.inf, STEER_MAX], angles=('theta',)),
        inputs=signals(['v', 'delta_rate'], ['m/s', 'rad/s'], lower=[-V_MAX, -STEER_RATE_MAX],
                       upper=[V_MAX, STEER_RATE_MAX]),
        params=signals(['wheelbase', 'steer_time'], ['m', 's'], [0.5, 0.1]),
        rhs=ca.Function('ackermann', [x, u, p], [xdot], ['x', 'u', 'p'], ['xdot']),
        position=(0, 1, 2), safe=SafeCommand('zero'),
        interface=itf.Interface(
            state=itf.odometry(x='position.x', y='position.y', theta='yaw'),
            command=itf.twist(
                ca.Function('twist', [x, u, p], [twist], ['x', 'u', 'p'], ['twist']),
                ca.Function('twist_input', [c, x, p], [to_input], ['c', 'x', 'p'], ['u']),
                fields=('linear.x', 'angular.z')),
            driver={'cmd_vel': '/ackermann_steering_controller/reference',
                    'odom': '/ackermann_steering_controller/odometry'}),
    )
