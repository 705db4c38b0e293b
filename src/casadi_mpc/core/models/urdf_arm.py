"""Serial arm read from a URDF, joint torques as inputs.

The URDF is read with urdf_parser_py (the parser adam-robotics uses). Rigid-body terms come
from adam-robotics (CasADi backend) with the URDF's root link fixed to the world: mass matrix
M(q) from the CRBA, Coriolis/centrifugal and gravity terms from the RNEA.
Forward dynamics: M(q) qdd = tau - C(q, dq) dq - g * G(q) - D dq.

Gravity acts along -z of the URDF's root link; its magnitude g is a model parameter (adam fixes
the gravity vector when the model is built, so the gravity term is computed for unit gravity and
scaled). Movable joints outside the chosen chain (other branches, joints above ``root_link``)
are locked at zero; their links still contribute mass.
"""
import math
import os
from pathlib import Path
from typing import List, Literal

import casadi as ca
import numpy as np
from pydantic import Field

from . import interface as itf
from .base import Model, signals
from .bodies import JointBody, JointTerms
from .linalg import spd_solve
from .options import STRUCTURAL, ModelOptions

URDF_DIR = Path(__file__).resolve().parents[2] / 'urdf'
MOVABLE = ('revolute', 'continuous', 'prismatic')
GRAVITY = 9.81


class Options(ModelOptions):
    name: Literal['urdf_arm'] = 'urdf_arm'
    urdf_file: str = Field('', description="URDF path, or a file shipped in the package's "
                           'urdf/ folder', json_schema_extra=STRUCTURAL)
    robot_description: str = Field('', description='URDF XML (wins over urdf_file)',
                                   json_schema_extra=STRUCTURAL)
    root_link: str = Field('', description='first link of the chain (default: the root)',
                           json_schema_extra=STRUCTURAL)
    tip_link: str = Field('', description='last link of the chain (default: the deepest '
                          'leaf)', json_schema_extra=STRUCTURAL)
    joint_names: List[str] = Field(default_factory=list, description='actuated joints in '
                                   'state order (default: the movable joints from root to tip)',
                                   json_schema_extra=STRUCTURAL)
    tau_max: List[float] = Field(default_factory=list, description='torque limit [N*m], one '
                                 'for all joints or one per joint (empty: the URDF efforts)',
                                 json_schema_extra=STRUCTURAL)
    dq_max: List[float] = Field(default_factory=list, description='velocity limit [rad/s], '
                                'one for all joints or one per joint (empty: the URDF '
                                'velocities)', json_schema_extra=STRUCTURAL)


def shipped_urdfs():
    """Names of the URDF files shipped with the package."""
    if not URDF_DIR.is_dir():
        return []
    return sorted(p.name for p in URDF_DIR.glob('*.urdf'))


def resolve_urdf_file(urdf_file):
    """Path of ``urdf_file``: an existing path, or a file name in the shipped urdf directory."""
    name = os.path.expanduser(os.fspath(urdf_file))
    path = Path(name)
    if path.is_file():
        return path.resolve()
    if not path.is_absolute():
        shipped = URDF_DIR / path
        if shipped.is_file():
            return shipped
    raise ValueError('URDF file %r not found (neither as a path nor in %s; shipped: %s)' % (
        name, URDF_DIR, ', '.join(shipped_urdfs()) or 'none'))


def _text(urdf, urdf_file):
    """(URDF bytes, source description) from ``urdf`` (XML) or else ``urdf_file``."""
    if urdf:
        if isinstance(urdf, str):
            urdf = urdf.encode()
        if not isinstance(urdf, (bytes, bytearray)):
            raise ValueError('urdf must be URDF XML, got %s' % type(urdf).__name__)
        if not urdf.strip():
            raise ValueError('urdf is an empty string; expected URDF XML (<robot>...</robot>)')
        return bytes(urdf), 'URDF string'
    if urdf_file:
        path = resolve_urdf_file(urdf_file)
        return path.read_bytes(), str(path)
    raise ValueError('urdf_arm needs robot_description (URDF XML) or urdf_file (a path or '
                     'one of: %s)' % ', '.join(shipped_urdfs()))


def parse_urdf(text, source):
    """A urdf_parser_py Robot from URDF bytes; ValueError naming the problem otherwise."""
    from urdf_parser_py import urdf, xml_reflection
    from urdf_parser_py.xml_reflection.basics import etree
    try:
        root = etree.fromstring(text)
    except etree.XMLSyntaxError as err:
        raise ValueError('malformed URDF (%s): XML parse error: %s' % (source, err)) from None
    if root.tag != 'robot':
        raise ValueError('malformed URDF (%s): root element is <%s>, expected <robot>'
                         % (source, root.tag))
    for element in list(root):   # what the model does not use (transmissions, gazebo, ...)
        if element.tag not in ('link', 'joint', 'material'):
            root.remove(element)
    warnings = []
    quiet, xml_reflection.core.on_error = xml_reflection.core.on_error, warnings.append
    try:
        robot = urdf.URDF.from_xml(root, xml_reflection.core.Path('robot'))
    except Exception as err:   # noqa: B902 - urdf_parser_py raises assorted types
        text = ' '.join(str(err).split())
        raise ValueError('malformed URDF (%s): %s' % (source, text[:300])) from None
    finally:
        xml_reflection.core.on_error = quiet
    _check_tree(robot)
    return robot


def _check_tree(robot):
    if not robot.links:
        raise ValueError('malformed URDF: no <link> elements')
    for joint in robot.joints:
        for link in (joint.parent, joint.child):
            if link not in robot.link_map:
                raise ValueError('malformed URDF: joint %r refers to unknown link %r'
                                 % (joint.name, link))
    children = [j.child for j in robot.joints]
    twice = sorted({c for c in children if children.count(c) > 1})
    if twice:
        raise ValueError('malformed URDF: link %r has two parent joints' % twice[0])
    if len(robot.joint_map) != len(robot.joints):
        raise ValueError('malformed URDF: a joint is defined twice')
    roots = [name for name in robot.link_map if name not in robot.parent_map]
    if len(roots) != 1:
        raise ValueError('malformed URDF: expected exactly one root link, found %s' % roots)


class Limits:
    """A joint's limits as the model reads them: a missing or empty position range is no
    position limit (URDF's default lower = upper = 0 would lock the joint), a zero
    effort or velocity is not given."""

    def __init__(self, joint):
        limit, dynamics = joint.limit, joint.dynamics
        self.lower = _number(limit, 'lower', 0.0)
        self.upper = _number(limit, 'upper', 0.0)
        self.effort = _number(limit, 'effort', math.inf)
        self.velocity = _number(limit, 'velocity', math.inf)
        self.damping = _number(dynamics, 'damping', 0.0)
        if joint.type == 'continuous' or not self.lower < self.upper:
            self.lower, self.upper = -math.inf, math.inf
        if not self.effort > 0:
            self.effort = math.inf
        if not self.velocity > 0:
            self.velocity = math.inf


def _number(element, attribute, default):
    value = getattr(element, attribute, None) if element is not None else None
    return default if value is None else float(value)


def _path(robot, root_link, tip_link):
    """Joints from ``root_link`` down to ``tip_link``, in chain order."""
    for link in (root_link, tip_link):
        if link not in robot.link_map:
            raise ValueError('link %r is not in URDF robot %r; links: %s' % (
                link, robot.name, ', '.join(robot.link_map)))
    chain, link = [], tip_link
    while link != root_link:
        if link not in robot.parent_map:
            raise ValueError('tip_link %r is not below root_link %r in URDF robot %r' % (
                tip_link, root_link, robot.name))
        joint, link = robot.parent_map[link]
        chain.append(robot.joint_map[joint])
    return chain[::-1]


def _movable_names(robot, root_link, tip_link):
    return [j.name for j in _path(robot, root_link, tip_link) if j.type in MOVABLE]


def _default_tip(robot, root_link):
    """The leaf below ``root_link`` with the most movable joints on its way there."""
    leaves = [name for name in robot.link_map if name not in robot.child_map]
    best, best_names = [], None
    for leaf in leaves:
        try:
            names = _movable_names(robot, root_link, leaf)
        except ValueError:
            continue
        if best_names is None or len(names) > len(best_names):
            best, best_names = [leaf], names
        elif len(names) == len(best_names) and names != best_names:
            best.append(leaf)
    if len(best) > 1:
        raise ValueError('URDF robot %r branches below %r into equally long chains ending '
                         'at %s; pass tip_link (or joint_names)' % (
                             robot.name, root_link, ', '.join(best)))
    return best[0] if best else root_link


def _select_joints(robot, root_link, tip_link, joint_names):
    """Actuated joints in state order and the (root, tip) links they were chosen by."""
    root_link = root_link or robot.get_root()
    if joint_names:
        names = [str(n) for n in joint_names]
        for name in names:
            if name not in robot.joint_map:
                raise ValueError('joint %r is not in URDF robot %r; joints: %s' % (
                    name, robot.name, ', '.join(robot.joint_map)))
            if robot.joint_map[name].type not in MOVABLE:
                raise ValueError('joint %r is a %s joint; only %s joints can be actuated' % (
                    name, robot.joint_map[name].type, '/'.join(MOVABLE)))
        if len(set(names)) != len(names):
            raise ValueError('joint_names has duplicates: %s' % names)
        if tip_link:
            chain = _movable_names(robot, root_link, tip_link)
            outside = [n for n in names if n not in chain]
            if outside:
                raise ValueError('joint(s) %s are not between %r and %r' % (
                    outside, root_link, tip_link))
    else:
        tip_link = tip_link or _default_tip(robot, root_link)
        names = _movable_names(robot, root_link, tip_link)
    if not names:
        raise ValueError('URDF robot %r has no movable (%s) joints between %r and %r' % (
            robot.name, '/'.join(MOVABLE), root_link, tip_link))
    return names, root_link, tip_link


def _dynamics_xml(robot, actuated):
    """The URDF for adam: links (inertials only) and joints, the unused ones fixed.

    Locking joints by turning them into fixed joints (at q = 0) also keeps joint types adam does
    not handle (floating, planar) and tags its parser warns about (transmissions, gazebo,
    ros2_control, meshes) away from it.
    """
    from urdf_parser_py import urdf
    reduced = urdf.Robot(name=robot.name or 'robot')
    for link in robot.links:
        inertial = link.inertial
        if inertial is not None and inertial.origin is None:   # optional in URDF, not in adam
            inertial = urdf.Inertial(inertial.mass, inertial.inertia, urdf.Pose([0, 0, 0],
                                                                                [0, 0, 0]))
        reduced.add_link(urdf.Link(name=link.name, inertial=inertial))
    for joint in robot.joints:
        moving = joint.name in actuated
        reduced.add_joint(urdf.Joint(
            name=joint.name, parent=joint.parent, child=joint.child,
            joint_type=joint.type if moving else 'fixed',
            # URDF defaults that adam does not fill in: identity origin, axis along x
            origin=joint.origin or urdf.Pose([0, 0, 0], [0, 0, 0]),
            axis=(joint.axis or [1.0, 0.0, 0.0]) if moving else None,
            limit=joint.limit if moving else None))
    text = reduced.to_xml_string()
    # adam recognises a URDF string by '<robot' near its start: no declaration or comments
    return text[text.index('<robot'):]


def _per_joint(value, default, n, name):
    """A limit override (one number or one per joint), or the URDF values."""
    if value is None or len(value) == 0:
        return np.asarray(default, dtype=float)
    out = np.asarray(value, dtype=float).ravel()
    if out.size == 1:
        out = np.full(n, out[0])
    if out.size != n:
        raise ValueError('%s must be a number or %d numbers, got %r' % (name, n, value))
    if not np.all(out > 0):
        raise ValueError('%s must be positive, got %r' % (name, value))
    return out


def _rigid_body_terms(xml, names, q, dq):
    """M(q), C(q, dq) dq and the unit-gravity torque G1(q) as SX, from adam."""
    try:
        from adam.casadi import KinDynComputations
    except ImportError as err:
        raise ImportError('urdf_arm needs adam-robotics with its CasADi backend '
                          '(pip install adam-robotics[casadi]): %s' % err) from err
    try:
        kindyn = KinDynComputations(xml, list(names), gravity=np.array([0, 0, -1.0, 0, 0, 0]))
    except Exception as err:  # urdf_parser_py / adam raise assorted exception types
        raise ValueError('adam could not build a model from the URDF: %s: %s' % (
            type(err).__name__, err)) from err
    # Fixed base: identity base pose and zero base twist; keep the joint block (adam orders
    # generalized coordinates as 6 base coordinates, then the joints in ``names`` order).
    base, twist = ca.SX.eye(4), ca.SX.zeros(6)
    mass_matrix = kindyn.mass_matrix(base, q)[6:, 6:]
    coriolis = kindyn.coriolis_term(base, q, twist, dq)[6:]
    gravity_unit = kindyn.gravity_term(base, q)[6:]
    return mass_matrix, coriolis, gravity_unit


def build(options):
    """Arm model from ``robot_description`` (XML) or ``urdf_file`` (path or shipped file).

    The actuated joints are ``joint_names`` if given, else the movable joints from
    ``root_link`` (default: the URDF root) to ``tip_link`` (default: the deepest leaf).
    ``tau_max``/``dq_max`` (one number or one per joint) replace the URDF effort/velocity limits.
    """
    text, source = _text(options.robot_description, options.urdf_file)
    robot = parse_urdf(text, source)
    names, root_link, tip_link = _select_joints(robot, options.root_link, options.tip_link,
                                                options.joint_names)
    joints = [robot.joint_map[name] for name in names]
    limits = [Limits(j) for j in joints]
    n = len(joints)
    prismatic = [j.name for j in joints if j.type == 'prismatic']
    if prismatic:
        # adam 0.5.0 builds a 12-row motion subspace for prismatic joints (CRBA fails)
        raise ValueError('urdf_arm supports revolute/continuous joints only; prismatic: %s '
                         '(pass joint_names without them to lock them at zero)' % prismatic)

    x = ca.SX.sym('x', 2 * n)
    u = ca.SX.sym('u', n)
    p = ca.SX.sym('p', 2 * n + 1)
    q, dq = x[:n], x[n:]
    damping, armature, g = p[:n], p[n:2 * n], p[2 * n]
    xml = _dynamics_xml(robot, set(names))
    mass_matrix, coriolis, gravity_unit = _rigid_body_terms(xml, names, q, dq)
    gravity = g * gravity_unit
    # armature: the rotor inertia reflected through the gearbox, added to the diagonal
    mass_matrix = mass_matrix + ca.diag(armature)
    qdd = spd_solve(mass_matrix, u - coriolis - gravity - damping * dq)
    opts = {'cse': True}
    rhs = ca.Function('urdf_arm', [x, u, p], [ca.vertcat(dq, qdd)],
                      ['x', 'u', 'p'], ['xdot'], opts)
    # the physics engine loads the same robot: inertials, the chain's joints, the rest fixed
    body = JointBody(urdf=lambda _: xml, joints=tuple(names), actuated=tuple(names),
                     terms=lambda pv: JointTerms(np.asarray(pv[:n], float),
                                                 np.asarray(pv[n:2 * n], float),
                                                 float(pv[2 * n])))
    effort = _per_joint(options.tau_max, [lim.effort for lim in limits], n, 'tau_max')
    velocity = _per_joint(options.dq_max, [lim.velocity for lim in limits], n, 'dq_max')
    positions, velocities = ['q_' + s for s in names], ['dq_' + s for s in names]
    continuous = [positions[i] for i, j in enumerate(joints) if j.type == 'continuous']
    return Model(
        name='urdf_arm', kind='arm',
        states=signals(positions + velocities, ['rad'] * n + ['rad/s'] * n,
                       lower=[lim.lower for lim in limits] + list(-velocity),
                       upper=[lim.upper for lim in limits] + list(velocity),
                       angles=continuous),
        inputs=signals(['tau_' + s for s in names], ['N*m'] * n, lower=-effort, upper=effort),
        params=signals(['damping_' + s for s in names] + ['armature_' + s for s in names]
                       + ['gravity'], ['N*m*s/rad'] * n + ['kg*m^2'] * n + ['m/s^2'],
                       [lim.damping for lim in limits] + [0.0] * n + [GRAVITY]),
        rhs=rhs,
        position=tuple(range(n)), velocity=tuple(range(n, 2 * n)),
        holding=ca.Function('holding', [x, p], [gravity], ['x', 'p'], ['u'], opts),
        power=ca.Function('power', [x, u, p], [u * dq], ['x', 'u', 'p'], ['power']),
        energy_unit='J', interface=itf.arm(names, positions, velocities),
        meta={'physics': body, 'robot': robot.name, 'source': source,
              'urdf': text.decode('utf-8', 'replace'), 'root_link': root_link,
              'tip_link': tip_link,
              'locked_joints': tuple(j.name for j in robot.joints
                                     if j.type in MOVABLE and j.name not in names)},
    )
