"""n-D point mass / holonomic base: state (position, velocity), input acceleration."""
from typing import Literal

import casadi as ca
import numpy as np
from pydantic import Field

from . import interface as itf
from .base import Model, signals
from .bodies import JointBody, JointTerms
from .options import STRUCTURAL, ModelOptions

AXES = 'xyz'
CARRIAGE = 1e-6   # [kg] mass of the slides between the world and the point (a physics engine
# needs some), against the point's 1 kg: an acceleration command is a force command
A_MAX, V_MAX = 1.0, 1.0   # default bounds [m/s^2], [m/s]


class Options(ModelOptions):
    name: Literal['double_integrator'] = 'double_integrator'
    dim: int = Field(2, ge=1, le=3, description='number of axes (x, y, z)',
                     json_schema_extra=STRUCTURAL)


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


def build(options):
    dim = options.dim
    x = ca.SX.sym('x', 2 * dim)
    u = ca.SX.sym('u', dim)
    p = ca.SX.sym('p', 1)   # viscous damping [1/s]
    vel = x[dim:]
    xdot = ca.vertcat(vel, u - p[0] * vel)
    axes = AXES[:dim]
    positions, velocities = ['p' + a for a in axes], ['v' + a for a in axes]
    fields = {n: 'position.' + a for n, a in zip(positions, axes)}
    fields.update({n: 'velocity.' + a for n, a in zip(velocities, axes)})
    xml = urdf(tuple(positions))
    body = JointBody(urdf=lambda _: xml, joints=tuple(positions), actuated=tuple(positions),
                     terms=lambda pv: JointTerms(np.full(dim, float(pv[0])), np.zeros(dim),
                                                 0.0))
    return Model(
        name='double_integrator', kind='base',
        states=signals(positions + velocities, ['m'] * dim + ['m/s'] * dim,
                       lower=[-np.inf] * dim + [-V_MAX] * dim,
                       upper=[np.inf] * dim + [V_MAX] * dim),
        inputs=signals(['a' + a for a in axes], ['m/s^2'] * dim, lower=[-A_MAX] * dim,
                       upper=[A_MAX] * dim),
        params=signals(['damping'], ['1/s'], [0.0]),
        rhs=ca.Function('double_integrator', [x, u, p], [xdot], ['x', 'u', 'p'], ['xdot']),
        position=tuple(range(dim)), velocity=tuple(range(dim, 2 * dim)),
        power=ca.Function('power', [x, u, p], [u * vel], ['x', 'u', 'p'], ['power']),
        energy_unit='J/kg', meta={'physics': body},
        interface=itf.Interface(
            state=itf.StateMessage(itf.ODOMETRY, fields),
            command=itf.array(),
            driver={'commands': '/forward_acceleration_controller/commands',
                    'odom': '/odometry/filtered'}),
    )
