"""n-link planar arm in a vertical plane, joint torques as inputs.

Point masses at the link ends, viscous joint damping, gravity along -y. Joint 1 is measured from
the +x axis, so q = 0 is the arm stretched out horizontally. Dynamics from the Lagrangian:
M(q) qdd + C(q, qd) qd + G(q) + D qd = tau.
"""
import casadi as ca
import numpy as np

from .base import Model, bounds, signals


def lagrangian_terms(q, dq, masses, lengths, g):
    """Return M(q), the Coriolis/centrifugal vector C(q, dq) dq and gravity G(q)."""
    n = q.shape[0]
    angle = 0
    px, py = 0, 0
    kinetic, potential = 0, 0
    mass_matrix = ca.SX.zeros(n, n)
    for i in range(n):
        angle = angle + q[i]
        px = px + lengths[i] * ca.cos(angle)
        py = py + lengths[i] * ca.sin(angle)
        pos = ca.vertcat(px, py)
        jac = ca.jacobian(pos, q)
        mass_matrix = mass_matrix + masses[i] * (jac.T @ jac)
        potential = potential + masses[i] * g * py
    kinetic = 0.5 * dq.T @ mass_matrix @ dq
    coriolis = ca.jacobian(mass_matrix @ dq, q) @ dq - ca.gradient(kinetic, q)
    gravity = ca.gradient(potential, q)
    return mass_matrix, coriolis, gravity


def build(links=2, tau_max=50.0, dq_max=np.inf, joint_names=None, **_):
    n = int(links)
    if n < 1 or n > 7:
        raise ValueError('planar_arm links must be in [1, 7], got %r' % (links,))
    names = list(joint_names) if joint_names else ['joint%d' % (i + 1) for i in range(n)]
    x = ca.SX.sym('x', 2 * n)
    u = ca.SX.sym('u', n)
    p = ca.SX.sym('p', 3 * n + 1)
    q, dq = x[:n], x[n:]
    masses, lengths, damping, g = p[:n], p[n:2 * n], p[2 * n:3 * n], p[3 * n]
    mass_matrix, coriolis, gravity = lagrangian_terms(q, dq, masses, lengths, g)
    qdd = ca.solve(mass_matrix, u - coriolis - gravity - damping * dq)
    xdot = ca.vertcat(dq, qdd)
    holding = ca.Function('holding', [x, p], [gravity], ['x', 'p'], ['u'])
    power = ca.Function('power', [x, u, p], [u * dq], ['x', 'u', 'p'], ['power'])
    idx = ['%d' % (i + 1) for i in range(n)]
    return Model(
        name='planar_arm', kind='arm',
        states=signals(['q' + i for i in idx] + ['dq' + i for i in idx],
                       ['rad'] * n + ['rad/s'] * n),
        inputs=signals(['tau' + i for i in idx], ['N*m'] * n),
        params=signals(['mass' + i for i in idx] + ['length' + i for i in idx]
                       + ['damping' + i for i in idx] + ['gravity'],
                       ['kg'] * n + ['m'] * n + ['N*m*s/rad'] * n + ['m/s^2'],
                       [1.0] * n + [1.0] * n + [0.0] * n + [9.81]),
        rhs=ca.Function('planar_arm', [x, u, p], [xdot], ['x', 'u', 'p'], ['xdot']),
        x_lb=bounds([-np.inf] * n + [-dq_max] * n), x_ub=bounds([np.inf] * n + [dq_max] * n),
        u_lb=bounds([-tau_max] * n), u_ub=bounds([tau_max] * n),
        position=tuple(range(n)), velocity=tuple(range(n, 2 * n)),
        joint_names=tuple(names), holding=holding, power=power,
    )
