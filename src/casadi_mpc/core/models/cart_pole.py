"""Cart-pole: a cart on a rail pushed by a force, a pole on a free hinge (acados' pendulum on
a cart: M = 1 kg, m = 0.1 kg, l = 0.8 m, |F| <= 80 N).

State (p, theta, v, omega): cart position [m], pole angle from upright [rad] (positive tips the
pole towards -x), and their rates; input the force F [N] on the cart. The pole's mass is a
point at its end. Written as M(q) qdd = Q(q, qd) + B F with the Lagrangian mass matrix
M = [[M + m, -m l cos(theta)], [-m l cos(theta), m l^2]], optional viscous friction of the
cart and the hinge. The state comes in a JointState (a prismatic cart joint and a continuous
pole joint), the force goes out as a Float64MultiArray (an effort controller on the cart
joint). The safe command brakes the cart; the pole swings freely.
"""
from typing import List, Literal

import casadi as ca
from pydantic import Field

from . import interface as itf
from .base import Model, SafeCommand, signals
from .linalg import spd_solve
from .options import STRUCTURAL, ModelOptions

F_MAX = 80.0   # [N]


class Options(ModelOptions):
    name: Literal['cart_pole'] = 'cart_pole'
    joint_names: List[str] = Field(['cart', 'pole'], min_length=2, max_length=2,
                                   description='the cart (prismatic) and pole (continuous) '
                                   'joints in the JointState', json_schema_extra=STRUCTURAL)


def build(options):
    cart, pole = options.joint_names
    if cart == pole:
        raise ValueError('joint_names: the cart and the pole need two names, got %s'
                         % options.joint_names)
    x = ca.SX.sym('x', 4)
    u = ca.SX.sym('u', 1)
    p = ca.SX.sym('p', 6)
    theta, v, omega = x[1], x[2], x[3]
    m_cart, m_pole, length, g, friction, damping = (p[i] for i in range(6))
    c, s = ca.cos(theta), ca.sin(theta)
    mass = ca.SX(2, 2)
    mass[0, 0] = m_cart + m_pole
    mass[1, 0] = mass[0, 1] = -m_pole * length * c
    mass[1, 1] = m_pole * length ** 2
    # generalized forces: push, friction, the pole's centripetal pull, gravity on the pole
    forces = ca.vertcat(u[0] - friction * v - m_pole * length * s * omega ** 2,
                        m_pole * g * length * s - damping * omega)
    qdd = spd_solve(mass, forces)
    xdot = ca.vertcat(v, omega, qdd)
    return Model(
        name='cart_pole', kind='cart_pole',
        # theta is not wrapped: the cost then has no seam at the hanging pole, and the swing-up
        # from theta = pi goes either way (a pole turned over once is turned back)
        states=signals(['p', 'theta', 'v', 'omega'], ['m', 'rad', 'm/s', 'rad/s']),
        inputs=signals(['F'], ['N'], lower=[-F_MAX], upper=[F_MAX]),
        params=signals(['cart_mass', 'pole_mass', 'pole_length', 'gravity', 'cart_friction',
                        'pole_damping'], ['kg', 'kg', 'm', 'm/s^2', 'N*s/m', 'N*m*s/rad'],
                       [1.0, 0.1, 0.8, 9.81, 0.0, 0.0]),
        rhs=ca.Function('cart_pole', [x, u, p], [xdot], ['x', 'u', 'p'], ['xdot'],
                        {'cse': True}),
        position=(0, 1), velocity=(2, 3),
        power=ca.Function('power', [x, u, p], [u * v], ['x', 'u', 'p'], ['power']),
        energy_unit='J', safe=SafeCommand('brake', brake=(2,)),
        interface=itf.Interface(
            state=itf.joint_state([cart, pole], ['p', 'theta'], ['v', 'omega']),
            command=itf.array([cart]),
            driver={'commands': '/forward_effort_controller/commands',
                    'joint_states': '/joint_states'},
            trajectory=True),
    )
