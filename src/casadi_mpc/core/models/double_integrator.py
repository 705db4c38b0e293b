"""n-D point mass / holonomic base: state (position, velocity), input acceleration."""
import casadi as ca
import numpy as np

from .base import Model, bounds, signals

AXES = 'xyz'


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
        power=mass_power,
    )
