"""n-D point mass / holonomic base: state (position, velocity), input acceleration."""
import casadi as ca
import numpy as np

from .base import Model, bounds, signals
from .bodies import JointBody, JointTerms

AXES = 'xyz'
CARRIAGE = 1e-6   # [kg] mass of the slides between the world and the point (a physics engine
# needs some), against the point's 1 kg: an acceleration command is a force command


def urdf(joints):
    """The point as a URDF: 1 kg on one slide per axis, stacked."""
    parts = ['<robot name="double_integrator">', '<link name="world"/>']
    parent = 'world'
    for i, name in enumerate(joints):
        last = i == len(joints) - 1
        child = 'point' if last else 'slide_' + name
        axis = ' '.join('1' if k == i else '0' for k in range(3))
        parts.append('<joint name="%s" type="prismatic"><parent link="%s"/><child link="%s"/>'
                     '<axis xyz="%s"/><limit lower="-1e6" upper="1e6" effort="1e6" '
                     'velocity="1e6"/></joint>' % (name, parent, child, axis))
        mass, inertia = (1.0, 1e-3) if last else (CARRIAGE, CARRIAGE)
        parts.append('<link name="%s"><inertial><mass value="%r"/><inertia ixx="%r" iyy="%r" '
                     'izz="%r" ixy="0" ixz="0" iyz="0"/></inertial></link>'
                     % (child, mass, inertia, inertia, inertia))
        parent = child
    parts.append('</robot>')
    return ''.join(parts)


def build(dim=2, a_max=1.0, v_max=1.0, **_):
    if dim not in (1, 2, 3):
        raise ValueError('double_integrator dim must be 1, 2 or 3, got %r' % (dim,))
    x = ca.SX.sym('x', 2 * dim)
    u = ca.SX.sym('u', dim)
    p = ca.SX.sym('p', 1)   # viscous damping [1/s]
    vel = x[dim:]
    xdot = ca.vertcat(vel, u - p[0] * vel)
    axes = AXES[:dim]
    mass_power = ca.Function('power', [x, u, p], [u * vel], ['x', 'u', 'p'], ['power'])
    joints = tuple('p' + a for a in axes)
    xml = urdf(joints)
    body = JointBody(urdf=lambda _: xml, joints=joints, actuated=joints,
                     terms=lambda pv: JointTerms(np.full(dim, float(pv[0])), np.zeros(dim),
                                                 0.0))
    return Model(
        name='double_integrator', kind='base',
        states=signals(['p' + a for a in axes] + ['v' + a for a in axes],
                       ['m'] * dim + ['m/s'] * dim),
        inputs=signals(['a' + a for a in axes], ['m/s^2'] * dim),
        params=signals(['damping'], ['1/s'], [0.0]),
        rhs=ca.Function('double_integrator', [x, u, p], [xdot], ['x', 'u', 'p'], ['xdot']),
        x_lb=bounds([-np.inf] * dim + [-v_max] * dim), x_ub=bounds([np.inf] * dim + [v_max] * dim),
        u_lb=bounds([-a_max] * dim), u_ub=bounds([a_max] * dim),
        position=tuple(range(dim)), velocity=tuple(range(dim, 2 * dim)),
        power=mass_power, meta={'physics': body},
    )
