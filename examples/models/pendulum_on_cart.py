"""acados' pendulum on a cart (its getting-started example), as a user model.

State (x1, theta, v1, dtheta): cart position [m], pole angle [rad] (0 upright), their rates;
input the force F [N] on the cart, |F| <= 80 N. The equations are acados' closed form of the
pendulum with its mass at the tip; the built-in ``cart_pole`` writes the same robot through its
mass matrix, and the tests check that the two agree. Loaded with
``model.file: examples/models/pendulum_on_cart.py``.
"""
from typing import Literal

import casadi as ca

from casadi_mpc.core.models import Model, ModelOptions, SafeCommand, signals
from casadi_mpc.core.models import interface as itf


class Options(ModelOptions):
    name: Literal['pendulum_on_cart'] = 'pendulum_on_cart'


def build(options):
    x = ca.SX.sym('x', 4)
    u = ca.SX.sym('u', 1)
    p = ca.SX.sym('p', 4)
    theta, v1, dtheta = x[1], x[2], x[3]
    m_cart, m, l, g = p[0], p[1], p[2], p[3]
    cos_theta, sin_theta = ca.cos(theta), ca.sin(theta)
    denominator = m_cart + m - m * cos_theta * cos_theta
    f_expl = ca.vertcat(
        v1, dtheta,
        (-m * l * sin_theta * dtheta * dtheta + m * g * cos_theta * sin_theta + u[0])
        / denominator,
        (-m * l * cos_theta * sin_theta * dtheta * dtheta + u[0] * cos_theta
         + (m_cart + m) * g * sin_theta) / (l * denominator))
    return Model(
        name='pendulum_on_cart', kind='cart_pole',
        states=signals(['x1', 'theta', 'v1', 'dtheta'], ['m', 'rad', 'm/s', 'rad/s']),
        inputs=signals(['F'], ['N'], lower=[-80.0], upper=[80.0]),
        params=signals(['M', 'm', 'l', 'g'], ['kg', 'kg', 'm', 'm/s^2'],
                       [1.0, 0.1, 0.8, 9.81]),
        rhs=ca.Function('pendulum_on_cart', [x, u, p], [f_expl], ['x', 'u', 'p'], ['xdot']),
        position=(0, 1), velocity=(2, 3),
        power=ca.Function('power', [x, u, p], [u * v1], ['x', 'u', 'p'], ['power']),
        energy_unit='J', safe=SafeCommand('brake', brake=(2,)),
        interface=itf.Interface(
            state=itf.joint_state(['cart', 'pole'], ['x1', 'theta'], ['v1', 'dtheta']),
            command=itf.array(['cart']),
            driver={'commands': '/forward_effort_controller/commands',
                    'joint_states': '/joint_states'}),
    )
