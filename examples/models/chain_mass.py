"""acados' chain of masses (its chain_mass example), as a user model.

``n_mass`` masses joined by springs: the first is fixed at the wall (the origin), the last is
the free end, moved by its velocity (the input, |u| <= 1 m/s per axis); the M = n_mass - 2
masses between hang under gravity. State: the positions of the M + 1 moving masses, then the
velocities of the M intermediate ones, so nx = 3 (2 M + 1): 9 for 3 masses, 39 for 8. Spring
forces D (1 - L / |d|) d between neighbours, masses m (acados: m = 0.033 kg, D = 1 N/m,
L = 0.033 m).

:func:`rest_state` gives the chain at rest with its end at a point, the goal of the reference
problem. The states are joints of a JointState (one prismatic coordinate per axis and mass),
the input goes out as a Float64MultiArray, so the chain runs on the nodes like any robot.
"""
from typing import Literal

import casadi as ca
import numpy as np
from pydantic import Field

from casadi_mpc.core.models import Model, ModelOptions, SafeCommand, STRUCTURAL, signals
from casadi_mpc.core.models import interface as itf

AXES = 'xyz'
V_MAX = 1.0   # [m/s] per axis of the free end


class Options(ModelOptions):
    name: Literal['chain_mass'] = 'chain_mass'
    n_mass: int = Field(5, ge=3, le=12, description='masses, the fixed and the free one '
                        'included', json_schema_extra=STRUCTURAL)


def forces(positions, m, spring, rest, g, n_moving):
    """Accelerations of the intermediate masses from the positions of the ``n_moving`` masses
    (stacked x, y, z per mass) and the parameters."""
    M = n_moving - 1
    acc = [ca.vertcat(0, 0, -g) for _ in range(M)]
    previous = ca.DM.zeros(3)
    for i in range(n_moving):
        here = positions[3 * i:3 * i + 3]
        dist = here - previous
        pull = spring / m * (1 - rest / ca.norm_2(dist)) * dist
        if i < M:
            acc[i] = acc[i] - pull
        if i > 0:
            acc[i - 1] = acc[i - 1] + pull
        previous = here
    return ca.vertcat(*acc)


def build(options):
    n_moving = options.n_mass - 1           # the intermediate masses and the free end
    M = n_moving - 1
    nx = 3 * (2 * M + 1)
    x = ca.SX.sym('x', nx)
    u = ca.SX.sym('u', 3)
    p = ca.SX.sym('p', 4)
    m, spring, rest, g = p[0], p[1], p[2], p[3]
    pos, vel = x[:3 * n_moving], x[3 * n_moving:]
    xdot = ca.vertcat(vel, u, forces(pos, m, spring, rest, g, n_moving))
    joints = ['mass%d_%s' % (i + 1, a) for i in range(n_moving) for a in AXES]
    positions = ['p%d%s' % (i + 1, a) for i in range(n_moving) for a in AXES]
    velocities = ['v%d%s' % (i + 1, a) for i in range(M) for a in AXES]
    spacing = 0.033 * 6   # nominal: a straight chain along x, springs stretched
    nominal = [spacing * (i + 1) if a == 'x' else 0.0 for i in range(n_moving) for a in AXES]
    return Model(
        name='chain_mass', kind='chain',
        states=signals(positions + velocities, ['m'] * len(positions) + ['m/s'] * len(
            velocities), nominal + [0.0] * len(velocities)),
        inputs=signals(['u' + a for a in AXES], ['m/s'] * 3, lower=[-V_MAX] * 3,
                       upper=[V_MAX] * 3),
        params=signals(['m', 'D', 'L', 'g'], ['kg', 'N/m', 'm', 'm/s^2'],
                       [0.033, 1.0, 0.033, 9.81]),
        rhs=ca.Function('chain_mass', [x, u, p], [xdot], ['x', 'u', 'p'], ['xdot']),
        position=tuple(range(3 * n_moving)), velocity=tuple(range(3 * n_moving, nx)),
        safe=SafeCommand('zero'),
        interface=itf.Interface(
            state=itf.joint_state(joints, positions, velocities),
            command=itf.array(joints[-3:])),
    )


def rest_state(model, end, params=None):
    """The chain at rest with its free end at ``end`` (3 numbers [m]): intermediate masses in
    equilibrium (a root of their accelerations), all velocities zero."""
    n_moving = len(model.position) // 3
    M = n_moving - 1
    p = model.param_vector(params)
    inner = ca.SX.sym('inner', 3 * M)
    pos = ca.vertcat(inner, ca.DM(end))
    acc = forces(pos, *[float(v) for v in p], n_moving)
    solve = ca.rootfinder('rest', 'newton', ca.Function('acc', [inner], [acc]))
    guess = np.concatenate([np.asarray(end, float) * (i + 1) / n_moving for i in range(M)])
    inner_rest = np.asarray(solve(guess), float).ravel()
    return np.concatenate([inner_rest, np.asarray(end, float), np.zeros(3 * M)])
