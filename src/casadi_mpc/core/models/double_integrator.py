"""n-D point mass / holonomic base: state (position, velocity), input acceleration."""
from typing import Literal

import casadi as ca
import numpy as np
from pydantic import Field

from . import interface as itf
from .base import Model, signals
from .options import STRUCTURAL, ModelOptions

AXES = 'xyz'
A_MAX, V_MAX = 1.0, 1.0   # default bounds [m/s^2], [m/s]


class Options(ModelOptions):
    name: Literal['double_integrator'] = 'double_integrator'
    dim: int = Field(2, ge=1, le=3, description='number of axes (x, y, z)',
                     json_schema_extra=STRUCTURAL)


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
        energy_unit='J/kg',
        interface=itf.Interface(
            state=itf.StateMessage(itf.ODOMETRY, fields),
            command=itf.array(),
            driver={'commands': '/forward_acceleration_controller/commands',
                    'odom': '/odometry/filtered'}),
    )
