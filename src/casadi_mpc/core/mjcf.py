"""MuJoCo models of the bodies the robot models declare (core/models/bodies.py).

:func:`joint_spec`: a JointBody's URDF with a motor on each actuated joint; :func:`wheeled_mjcf`:
a WheeledBody as MJCF, a free-floating chassis on its wheels on a floor, a velocity servo on
each driven wheel and a position servo on each steered one. The options are the simulator's
``mujoco`` section (sim_config.MujocoConfig).
"""
import xml.etree.ElementTree as ET

import mujoco
import numpy as np

from .config import ConfigError

FLOOR = {'contype': '1', 'conaffinity': '0'}
ROBOT = {'contype': '0', 'conaffinity': '1'}     # touches the floor, never itself
WHEEL_MASS = 0.5           # [kg]
CLEARANCE = 0.03           # [m] chassis underside above the floor
STEER_DAMPING = 1.0        # [N*m*s/rad]


def _option(spec, options, gravity):
    spec.option.timestep = options.timestep
    spec.option.integrator = getattr(mujoco.mjtIntegrator, 'mjINT_' + options.integrator.upper())
    spec.option.gravity = [0.0, 0.0, -float(gravity)]


def joint_spec(body, p, options, limits):
    """An MjSpec of ``body.urdf(p)`` with a motor per actuated joint, its effort limited to
    ``limits`` (one per actuated joint)."""
    try:
        spec = mujoco.MjSpec.from_string(body.urdf(p))
    except ValueError as err:
        raise ConfigError('MuJoCo could not load the URDF: %s' % err) from None
    names = {j.name for j in spec.joints}
    missing = [j for j in body.joints + body.actuated if j not in names]
    if missing:
        raise ConfigError('the URDF has no joint(s) %s' % missing)
    spec.compiler.boundmass, spec.compiler.boundinertia = 1e-9, 1e-12
    _option(spec, options, body.terms(p).gravity)
    for name, limit in zip(body.actuated, limits):
        motor = spec.add_actuator()
        motor.name, motor.target = 'motor_' + name, name
        motor.trntype = mujoco.mjtTrn.mjTRN_JOINT
        motor.forcelimited = mujoco.mjtLimited.mjLIMITED_TRUE
        motor.forcerange = [-float(limit), float(limit)]
    return spec


def wheeled_mjcf(body, options, gravity=9.81):
    """MJCF text of a WheeledBody: chassis ``base`` with a free joint, wheel ``i`` turning on
    hinge ``spin<i>`` (and ``steer<i>`` about the vertical when steered), servos ``drive<i>``
    and ``steer<i>``. The base frame sits at axle height on the chassis' centre line."""
    r, half_width = body.wheel_radius, body.wheel_width / 2
    length, width, height = body.size
    friction = ' '.join('%r' % f for f in options.tyre_friction)
    root = ET.Element('mujoco', model='wheeled_base')
    ET.SubElement(root, 'option', timestep=repr(options.timestep),
                  integrator=options.integrator, gravity='0 0 %r' % -float(gravity))
    world = ET.SubElement(root, 'worldbody')
    # contacts take the larger condim of the two geoms: the floor adds no friction of its own,
    # the tyres bring theirs and the casters (condim 1) stay frictionless
    ET.SubElement(world, 'geom', name='floor', type='plane', size='0 0 1', condim='1',
                  friction=friction, **FLOOR)
    base = ET.SubElement(world, 'body', name='base', pos='0 0 %r' % r)
    ET.SubElement(base, 'freejoint', name='root')
    ET.SubElement(base, 'geom', name='chassis', type='box', mass=repr(body.mass),
                  pos='0 0 %r' % (CLEARANCE - r + height / 2),
                  size='%r %r %r' % (length / 2, width / 2, height / 2), **ROBOT)
    for k, (cx, cy) in enumerate(body.casters):
        radius = min(r, 0.03)
        ET.SubElement(base, 'geom', name='caster%d' % k, type='sphere', size=repr(radius),
                      pos='%r %r %r' % (cx, cy, radius - r), condim='1', mass='0.1',
                      solref='0.1 1', **ROBOT)
    actuators = ET.SubElement(root, 'actuator')
    for i, wheel in enumerate(body.wheels):
        parent = ET.SubElement(base, 'body', name='hub%d' % i, pos='%r %r 0' % (wheel.x, wheel.y))
        if wheel.steered:
            ET.SubElement(parent, 'joint', name='steer%d' % i, type='hinge', axis='0 0 1',
                          damping=repr(STEER_DAMPING))
            ET.SubElement(parent, 'geom', type='sphere', size='0.01', mass='0.05',
                          contype='0', conaffinity='0')
            ET.SubElement(actuators, 'position', name='steer%d' % i, joint='steer%d' % i,
                          kp=repr(options.steer_kp))
        spinning = ET.SubElement(parent, 'body', name='wheel%d' % i)
        ET.SubElement(spinning, 'joint', name='spin%d' % i, type='hinge', axis='0 1 0')
        ET.SubElement(spinning, 'geom', name='tyre%d' % i, type='cylinder', zaxis='0 1 0',
                      size='%r %r' % (r, half_width), mass=repr(WHEEL_MASS), condim='6',
                      friction=friction, **ROBOT)
        if wheel.driven:
            limit = options.wheel_torque_limit
            ET.SubElement(actuators, 'velocity', name='drive%d' % i, joint='spin%d' % i,
                          kv=repr(options.wheel_kv), forcelimited='true',
                          forcerange='%r %r' % (-limit, limit))
    return ET.tostring(root, encoding='unicode')


def check_wheels(body):
    """A WheeledBody that stands and drives: wheels, at least one driven, sizes positive."""
    if not body.wheels or not any(w.driven for w in body.wheels):
        raise ConfigError('a wheeled body needs wheels, at least one of them driven')
    if min(body.wheel_radius, body.wheel_width, body.mass, *body.size) <= 0:
        raise ConfigError('wheel radius and width, chassis size and mass must be positive')
    return np.array([[w.x, w.y] for w in body.wheels], float)
