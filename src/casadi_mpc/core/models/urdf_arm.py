"""Serial arm read from a URDF, joint torques as inputs.

Rigid-body terms come from adam-robotics (CasADi backend) with the URDF's root link fixed to the
world: mass matrix M(q) from the CRBA, Coriolis/centrifugal and gravity terms from the RNEA.
Forward dynamics: M(q) qdd = tau - C(q, dq) dq - g * G(q) - D dq.

Gravity acts along -z of the URDF's root link; its magnitude g is a model parameter (adam fixes
the gravity vector when the model is built, so the gravity term is computed for unit gravity and
scaled). Movable joints outside the chosen chain (other branches, joints above ``root_link``)
are locked at zero; their links still contribute mass.
"""
import math
import os
import xml.etree.ElementTree as ET
from pathlib import Path

import casadi as ca
import numpy as np

from .base import Model, bounds, signals
from .bodies import JointBody, JointTerms
from .linalg import spd_solve

URDF_DIR = Path(__file__).resolve().parents[2] / 'urdf'
MOVABLE = ('revolute', 'continuous', 'prismatic')
GRAVITY = 9.81


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


def _parse_float(element, attribute, default, where):
    text = element.get(attribute) if element is not None else None
    if text is None:
        return default
    try:
        return float(text)
    except ValueError:
        raise ValueError('URDF %s: attribute %s=%r is not a number' % (
            where, attribute, text)) from None


def _read_xml(urdf, urdf_file):
    """Return (root element, source description) from exactly one of ``urdf``/``urdf_file``."""
    if urdf is not None and urdf_file is not None:
        raise ValueError('urdf_arm: give either urdf (an XML string) or urdf_file, not both')
    if urdf is None and urdf_file is None:
        raise ValueError('urdf_arm needs urdf (an XML string, e.g. robot_description) or '
                         'urdf_file (a path or one of: %s)' % ', '.join(shipped_urdfs()))
    if urdf_file is not None:
        path = resolve_urdf_file(urdf_file)
        text, source = path.read_bytes(), str(path)
    else:
        if isinstance(urdf, (bytes, bytearray)):
            text = bytes(urdf)
        elif isinstance(urdf, str):
            text = urdf
        else:
            raise ValueError('urdf must be a URDF XML string, got %s' % type(urdf).__name__)
        if not text.strip():
            raise ValueError('urdf is an empty string; expected URDF XML (<robot>...</robot>)')
        source = 'URDF string'
    try:
        root = ET.fromstring(text)
    except ET.ParseError as err:
        raise ValueError('malformed URDF (%s): XML parse error: %s' % (source, err)) from None
    if root.tag != 'robot':
        raise ValueError('malformed URDF (%s): root element is <%s>, expected <robot>' % (
            source, root.tag))
    return root, source


class _Joint:
    """The parts of a URDF joint that the model needs."""

    def __init__(self, element):
        self.name = element.get('name')
        self.type = element.get('type')
        where = 'joint %r' % self.name
        if not self.name or not self.type:
            raise ValueError('malformed URDF: a <joint> lacks its name or type attribute')
        parent, child = element.find('parent'), element.find('child')
        if parent is None or child is None or not parent.get('link') or not child.get('link'):
            raise ValueError('malformed URDF: joint %r lacks <parent link=...> or '
                             '<child link=...>' % self.name)
        self.parent, self.child = parent.get('link'), child.get('link')
        limit, dynamics = element.find('limit'), element.find('dynamics')
        self.lower = _parse_float(limit, 'lower', 0.0, where)
        self.upper = _parse_float(limit, 'upper', 0.0, where)
        self.effort = _parse_float(limit, 'effort', math.inf, where)
        self.velocity = _parse_float(limit, 'velocity', math.inf, where)
        self.damping = _parse_float(dynamics, 'damping', 0.0, where)
        # URDF defaults lower = upper = 0; read a missing or empty range as "no position limit"
        # rather than a locked joint, and a zero effort/velocity as "not given".
        if self.type == 'continuous' or not self.lower < self.upper:
            self.lower, self.upper = -math.inf, math.inf
        if not self.effort > 0:
            self.effort = math.inf
        if not self.velocity > 0:
            self.velocity = math.inf

    @property
    def movable(self):
        return self.type in MOVABLE


class _Tree:
    """Links and joints of a URDF, with chain look-ups."""

    def __init__(self, root):
        self.robot = root.get('name') or 'robot'
        self.links = [link.get('name') for link in root.findall('link')]
        if not self.links or not all(self.links):
            raise ValueError('malformed URDF: no <link> elements, or a <link> without a name')
        self.joints = {}
        self.parent_joint = {}
        for element in root.findall('joint'):
            joint = _Joint(element)
            if joint.name in self.joints:
                raise ValueError('malformed URDF: joint %r is defined twice' % joint.name)
            for link in (joint.parent, joint.child):
                if link not in self.links:
                    raise ValueError('malformed URDF: joint %r refers to unknown link %r' % (
                        joint.name, link))
            if joint.child in self.parent_joint:
                raise ValueError('malformed URDF: link %r has two parent joints' % joint.child)
            self.joints[joint.name] = joint
            self.parent_joint[joint.child] = joint
        roots = [link for link in self.links if link not in self.parent_joint]
        if len(roots) != 1:
            raise ValueError('malformed URDF: expected exactly one root link, found %s' % roots)
        self.root = roots[0]
        parents = {joint.parent for joint in self.joints.values()}
        self.leaves = [link for link in self.links if link not in parents]

    def path(self, root_link, tip_link):
        """Joints from ``root_link`` down to ``tip_link``, in chain order."""
        for link in (root_link, tip_link):
            if link not in self.links:
                raise ValueError('link %r is not in URDF robot %r; links: %s' % (
                    link, self.robot, ', '.join(self.links)))
        chain, link = [], tip_link
        while link != root_link:
            joint = self.parent_joint.get(link)
            if joint is None:
                raise ValueError('tip_link %r is not below root_link %r in URDF robot %r' % (
                    tip_link, root_link, self.robot))
            chain.append(joint)
            link = joint.parent
        return chain[::-1]

    def movable_names(self, root_link, tip_link):
        return [j.name for j in self.path(root_link, tip_link) if j.movable]

    def default_tip(self, root_link):
        """The leaf below ``root_link`` with the most movable joints on its way there."""
        best, best_names = [], None
        for leaf in self.leaves:
            try:
                names = self.movable_names(root_link, leaf)
            except ValueError:
                continue
            if best_names is None or len(names) > len(best_names):
                best, best_names = [leaf], names
            elif len(names) == len(best_names) and names != best_names:
                best.append(leaf)
        if len(best) > 1:
            raise ValueError('URDF robot %r branches below %r into equally long chains ending '
                             'at %s; pass tip_link (or joint_names)' % (
                                 self.robot, root_link, ', '.join(best)))
        return best[0] if best else root_link


def _select_joints(tree, root_link, tip_link, joint_names):
    """Actuated joints in state order and the (root, tip) links they were chosen by."""
    root_link = root_link or tree.root
    if joint_names is not None:
        names = [str(n) for n in joint_names]
        for name in names:
            if name not in tree.joints:
                raise ValueError('joint %r is not in URDF robot %r; joints: %s' % (
                    name, tree.robot, ', '.join(tree.joints)))
            if not tree.joints[name].movable:
                raise ValueError('joint %r is a %s joint; only %s joints can be actuated' % (
                    name, tree.joints[name].type, '/'.join(MOVABLE)))
        if len(set(names)) != len(names):
            raise ValueError('joint_names has duplicates: %s' % names)
        if tip_link is not None:
            chain = tree.movable_names(root_link, tip_link)
            outside = [n for n in names if n not in chain]
            if outside:
                raise ValueError('joint(s) %s are not between %r and %r' % (
                    outside, root_link, tip_link))
    else:
        tip_link = tip_link or tree.default_tip(root_link)
        names = tree.movable_names(root_link, tip_link)
    if not names:
        raise ValueError('URDF robot %r has no movable (%s) joints between %r and %r' % (
            tree.robot, '/'.join(MOVABLE), root_link, tip_link))
    return names, root_link, tip_link


def _dynamics_xml(root, actuated):
    """A copy of the URDF for adam: links (inertials only) and joints, unused joints fixed.

    Locking joints by turning them into fixed joints (at q = 0) also keeps joint types adam does
    not handle (floating, planar) and tags its parser warns about (transmissions, gazebo,
    ros2_control, meshes) away from it.
    """
    robot = ET.Element('robot', {'name': root.get('name') or 'robot'})
    identity = {'xyz': '0 0 0', 'rpy': '0 0 0'}
    for link in root.findall('link'):
        copy = ET.SubElement(robot, 'link', {'name': link.get('name')})
        inertial = link.find('inertial')
        if inertial is not None:
            part = ET.SubElement(copy, 'inertial')
            part.extend(inertial)
            if inertial.find('origin') is None:   # optional in URDF, required by adam
                ET.SubElement(part, 'origin', identity)
    for joint in root.findall('joint'):
        copy = ET.SubElement(robot, 'joint', dict(joint.attrib))
        if joint.get('name') not in actuated:
            copy.set('type', 'fixed')
        copy.extend(c for c in joint if c.tag in ('parent', 'child', 'origin', 'axis', 'limit'))
        # URDF defaults that adam does not fill in: identity origin, axis along x
        if joint.find('origin') is None:
            ET.SubElement(copy, 'origin', identity)
        if copy.get('type') != 'fixed' and joint.find('axis') is None:
            ET.SubElement(copy, 'axis', {'xyz': '1 0 0'})
    # adam recognises a URDF string by '<robot' near its start: emit no declaration or comments.
    return ET.tostring(robot, encoding='unicode')


def _per_joint(value, default, n, name):
    """A limit override (one number or one per joint), or the URDF values."""
    if value is None:
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


def build(urdf=None, urdf_file=None, root_link=None, tip_link=None, joint_names=None,
          tau_max=None, dq_max=None, **_):
    """Arm model from ``urdf`` (XML string) or ``urdf_file`` (path or shipped file name).

    The actuated joints are ``joint_names`` if given, else the movable joints from
    ``root_link`` (default: the URDF root) to ``tip_link`` (default: the deepest leaf).
    ``tau_max``/``dq_max`` (one number or one per joint) replace the URDF effort/velocity limits.
    """
    root, source = _read_xml(urdf, urdf_file)
    tree = _Tree(root)
    names, root_link, tip_link = _select_joints(tree, root_link, tip_link, joint_names)
    joints = [tree.joints[name] for name in names]
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
    xml = _dynamics_xml(root, set(names))
    mass_matrix, coriolis, gravity_unit = _rigid_body_terms(xml, names, q, dq)
    gravity = g * gravity_unit
    # armature: the rotor inertia reflected through the gearbox, added to the diagonal
    mass_matrix = mass_matrix + ca.diag(armature)
    qdd = spd_solve(mass_matrix, u - coriolis - gravity - damping * dq)
    opts = {'cse': True}
    rhs = ca.Function('urdf_arm', [x, u, p], [ca.vertcat(dq, qdd)],
                      ['x', 'u', 'p'], ['xdot'], opts)
    holding = ca.Function('holding', [x, p], [gravity], ['x', 'p'], ['u'], opts)
    power = ca.Function('power', [x, u, p], [u * dq], ['x', 'u', 'p'], ['power'])

    # the physics engine loads the same robot: inertials, the chain's joints, the rest fixed
    body = JointBody(urdf=lambda _: xml, joints=tuple(names), actuated=tuple(names),
                     terms=lambda pv: JointTerms(np.asarray(pv[:n], float),
                                                 np.asarray(pv[n:2 * n], float),
                                                 float(pv[2 * n])))
    effort = _per_joint(tau_max, [j.effort for j in joints], n, 'tau_max')
    velocity = _per_joint(dq_max, [j.velocity for j in joints], n, 'dq_max')
    return Model(
        name='urdf_arm', kind='arm',
        states=signals(['q_' + s for s in names] + ['dq_' + s for s in names],
                       ['rad'] * n + ['rad/s'] * n),
        inputs=signals(['tau_' + s for s in names], ['N*m'] * n),
        params=signals(['damping_' + s for s in names] + ['armature_' + s for s in names]
                       + ['gravity'], ['N*m*s/rad'] * n + ['kg*m^2'] * n + ['m/s^2'],
                       [j.damping for j in joints] + [0.0] * n + [GRAVITY]),
        rhs=rhs,
        x_lb=bounds([j.lower for j in joints] + list(-velocity)),
        x_ub=bounds([j.upper for j in joints] + list(velocity)),
        u_lb=bounds(-effort), u_ub=bounds(effort),
        wrap=tuple(i for i, j in enumerate(joints) if j.type == 'continuous'),
        position=tuple(range(n)), velocity=tuple(range(n, 2 * n)),
        joint_names=tuple(names), holding=holding, power=power,
        meta={'physics': body, 'robot': tree.robot, 'source': source, 'root_link': root_link,
              'tip_link': tip_link,
              'locked_joints': tuple(j for j, v in tree.joints.items()
                                     if v.movable and j not in names)},
    )
