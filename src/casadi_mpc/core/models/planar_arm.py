"""n-link planar arm in a vertical plane, joint torques as inputs.

Point masses at the link ends, viscous joint damping, gravity along -y. Joint 1 is measured from
the +x axis, so q = 0 is the arm stretched out horizontally. Dynamics:
M(q) qdd + C(q, dq) dq + G(q) + D dq = tau.

The terms are written in closed form rather than derived symbolically from the Lagrangian: for a
chain of point masses, M = sum_k m_k J_k' J_k and C dq + G = sum_k m_k J_k' (Jdot_k dq + g e_y),
with J_k the Jacobian of mass k's position. With the LDL' solve of M this keeps the SX graph of
the dynamics short (85 instructions for 2 links instead of 252 from the symbolic Lagrangian and
ca.solve; the RK4 step's Jacobian 2349 instead of 5725), and every derivative the solvers take
of it shrinks alike.
"""
import casadi as ca
import numpy as np

from .base import Model, bounds, signals
from .bodies import JointBody, JointTerms
from .linalg import spd_solve

POINT_INERTIA = 1e-6   # [kg*m^2] a physics engine needs some rotational inertia per link


def rigid_body_terms(q, dq, masses, lengths, g):
    """Return M(q) (SX, symmetric), the bias C(q, dq) dq + G(q) and the gravity torque G(q)."""
    n = q.shape[0]
    phi, omega, ax, ay = 0, 0, 0, 0
    perp, acc = [], []
    for i in range(n):
        phi = phi + q[i]
        omega = omega + dq[i]
        lc, ls = lengths[i] * ca.cos(phi), lengths[i] * ca.sin(phi)
        perp.append((-ls, lc))              # d(position)/d(phi_i) of every mass beyond joint i
        w2 = omega * omega
        ax, ay = ax - w2 * lc, ay - w2 * ls     # centripetal acceleration of mass i (qdd = 0)
        acc.append((ax, ay))
    mass_matrix = ca.SX(n, n)
    bias = [0] * n
    gravity = [0] * n
    for k in range(n):
        cols, sx, sy = [None] * (k + 1), 0, 0
        for i in reversed(range(k + 1)):     # column i of J_k: sum of perp_l for l = i..k
            sx, sy = sx + perp[i][0], sy + perp[i][1]
            cols[i] = (sx, sy)
        for i in range(k + 1):
            for j in range(i + 1):
                mass_matrix[i, j] += masses[k] * (cols[i][0] * cols[j][0]
                                                  + cols[i][1] * cols[j][1])
            bias[i] = bias[i] + masses[k] * (cols[i][0] * acc[k][0]
                                             + cols[i][1] * (acc[k][1] + g))
            gravity[i] = gravity[i] + masses[k] * g * cols[i][1]
    for i in range(n):
        for j in range(i):
            mass_matrix[j, i] = mass_matrix[i, j]
    return mass_matrix, ca.vertcat(*bias), ca.vertcat(*gravity)


def urdf(names, masses, lengths):
    """The arm as a URDF: in the x-z plane (gravity along -z stands for the model's -y), each
    joint turning about -y so that q = 0 points along +x and positive angles lift the arm, a
    point mass at each link's end."""
    parts = ['<robot name="planar_arm">', '<link name="base"/>']
    parent, offset = 'base', 0.0
    for i, (name, m, length) in enumerate(zip(names, masses, lengths)):
        child = 'link%d' % (i + 1)
        parts.append(
            '<joint name="%s" type="continuous"><parent link="%s"/><child link="%s"/>'
            '<origin xyz="%r 0 0"/><axis xyz="0 -1 0"/></joint>' % (name, parent, child, offset))
        parts.append(
            '<link name="%s"><inertial><origin xyz="%r 0 0"/><mass value="%r"/>'
            '<inertia ixx="%r" iyy="%r" izz="%r" ixy="0" ixz="0" iyz="0"/></inertial></link>'
            % (child, float(length), float(m), POINT_INERTIA, POINT_INERTIA, POINT_INERTIA))
        parent, offset = child, float(length)
    parts.append('</robot>')
    return ''.join(parts)


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
    mass_matrix, bias, gravity = rigid_body_terms(q, dq, masses, lengths, g)
    qdd = spd_solve(mass_matrix, u - bias - damping * dq)
    xdot = ca.vertcat(dq, qdd)
    holding = ca.Function('holding', [x, p], [gravity], ['x', 'p'], ['u'])
    power = ca.Function('power', [x, u, p], [u * dq], ['x', 'u', 'p'], ['power'])
    idx = ['%d' % (i + 1) for i in range(n)]
    body = JointBody(
        urdf=lambda pv: urdf(names, pv[:n], pv[n:2 * n]), joints=tuple(names),
        actuated=tuple(names),
        terms=lambda pv: JointTerms(np.asarray(pv[2 * n:3 * n], float), np.zeros(n),
                                    float(pv[3 * n])))
    return Model(
        name='planar_arm', kind='arm',
        states=signals(['q' + i for i in idx] + ['dq' + i for i in idx],
                       ['rad'] * n + ['rad/s'] * n),
        inputs=signals(['tau' + i for i in idx], ['N*m'] * n),
        params=signals(['mass' + i for i in idx] + ['length' + i for i in idx]
                       + ['damping' + i for i in idx] + ['gravity'],
                       ['kg'] * n + ['m'] * n + ['N*m*s/rad'] * n + ['m/s^2'],
                       [1.0] * n + [1.0] * n + [0.0] * n + [9.81]),
        rhs=ca.Function('planar_arm', [x, u, p], [xdot], ['x', 'u', 'p'], ['xdot'],
                        {'cse': True}),
        x_lb=bounds([-np.inf] * n + [-dq_max] * n), x_ub=bounds([np.inf] * n + [dq_max] * n),
        u_lb=bounds([-tau_max] * n), u_ub=bounds([tau_max] * n),
        position=tuple(range(n)), velocity=tuple(range(n, 2 * n)),
        joint_names=tuple(names), holding=holding, power=power, meta={'physics': body},
    )
