"""urdf_arm: URDF + adam dynamics against the hand-derived planar arm, limits, errors."""
import casadi as ca
import numpy as np
import pytest

from casadi_mpc.core.integrators import rk4_step
from casadi_mpc.core.models import build_model
from casadi_mpc.core.models.urdf_arm import shipped_urdfs, URDF_DIR

TWO_LINK = 'two_link_arm.urdf'
SEVEN_DOF = 'seven_dof_arm.urdf'
# The URDF two-link arm carries a 1e-6 kg*m^2 link inertia on top of planar_arm's point masses,
# which shifts accelerations by about 1e-6 relative; 1e-4 leaves margin and still catches any
# sign, axis or lever-arm mistake (those are errors of order one).
EQUIV_RTOL = 1e-4
EQUIV_ATOL = 1e-4


@pytest.fixture(scope='module')
def two_link():
    return build_model('urdf_arm', urdf_file=TWO_LINK)


@pytest.fixture(scope='module')
def planar():
    return build_model('planar_arm', links=2)


@pytest.fixture(scope='module')
def seven():
    return build_model('urdf_arm', urdf_file=SEVEN_DOF)


def matched_params(urdf_model, planar_model, damping, gravity):
    pu = urdf_model.param_vector({'damping_joint1': damping[0], 'damping_joint2': damping[1],
                                  'gravity': gravity})
    pp = planar_model.param_vector({'damping1': damping[0], 'damping2': damping[1],
                                    'gravity': gravity})
    return pu, pp


def random_states(rng, count, n, q_span=np.pi, dq_span=3.0):
    q = rng.uniform(-q_span, q_span, (count, n))
    dq = rng.uniform(-dq_span, dq_span, (count, n))
    return np.hstack([q, dq])


def test_two_link_layout(two_link):
    assert two_link.kind == 'arm'
    assert two_link.joint_names == ('joint1', 'joint2')
    assert two_link.state_names == ['q_joint1', 'q_joint2', 'dq_joint1', 'dq_joint2']
    assert two_link.input_names == ['tau_joint1', 'tau_joint2']
    assert two_link.param_names == ['damping_joint1', 'damping_joint2', 'armature_joint1',
                                    'armature_joint2', 'gravity']
    assert two_link.position == (0, 1) and two_link.velocity == (2, 3)
    np.testing.assert_allclose(two_link.u_ub, [20.0, 20.0])
    np.testing.assert_allclose(two_link.u_lb, [-20.0, -20.0])
    np.testing.assert_allclose(two_link.x_ub[2:], [10.0, 10.0])


@pytest.mark.parametrize('damping, gravity', [((0.0, 0.0), 9.81), ((0.7, 0.3), 9.81),
                                              ((0.2, 0.5), 3.7)])
def test_two_link_matches_planar_arm(two_link, planar, damping, gravity):
    rng = np.random.default_rng(1)
    pu, pp = matched_params(two_link, planar, damping, gravity)
    xs = random_states(rng, 20, 2)
    us = rng.uniform(-20, 20, (20, 2))
    for x, u in zip(xs, us):
        got = np.asarray(two_link.rhs(x, u, pu)).ravel()
        want = np.asarray(planar.rhs(x, u, pp)).ravel()
        np.testing.assert_allclose(got, want, rtol=EQUIV_RTOL, atol=EQUIV_ATOL)


def test_two_link_sign_convention(two_link):
    """q = 0 is horizontal and positive q1 lifts the arm: unactuated, it falls to q1 < 0."""
    p = two_link.param_vector()
    xdot = np.asarray(two_link.rhs(np.zeros(4), np.zeros(2), p)).ravel()
    assert xdot[2] < -1.0
    # hanging straight down (q1 = -pi/2) it is in equilibrium
    xdot = np.asarray(two_link.rhs([-np.pi / 2, 0, 0, 0], np.zeros(2), p)).ravel()
    np.testing.assert_allclose(xdot, 0.0, atol=1e-9)


def test_two_link_holding_matches_planar_arm(two_link, planar):
    rng = np.random.default_rng(2)
    pu, pp = matched_params(two_link, planar, (0.4, 0.4), 9.81)
    for x in random_states(rng, 20, 2):
        got = np.asarray(two_link.holding(x, pu)).ravel()
        want = np.asarray(planar.holding(x, pp)).ravel()
        np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-9)
    # stretched out horizontally: (m1 l1 + m2 (l1 + l2)) g and m2 l2 g
    np.testing.assert_allclose(np.asarray(two_link.holding(np.zeros(4), pu)).ravel(),
                               [3 * 9.81, 9.81], rtol=1e-12)


def test_seven_dof_layout_and_bounds(seven):
    assert seven.kind == 'arm'
    assert seven.nx == 14 and seven.nu == 7 and seven.n_params == 15
    assert seven.joint_names == tuple('joint%d' % i for i in range(1, 8))
    assert seven.states[0].unit == 'rad' and seven.states[7].unit == 'rad/s'
    assert seven.inputs[0].unit == 'N*m'
    np.testing.assert_allclose(seven.x_ub[:7], [2.9671, 2.0944, 2.9671, 2.0944, 2.9671,
                                                2.0944, 3.0543])
    np.testing.assert_allclose(seven.x_lb[:7], -seven.x_ub[:7])
    np.testing.assert_allclose(seven.x_ub[7:], [1.7453, 1.7453, 2.0944, 2.0944, 2.6180,
                                                2.6180, 3.1416])
    np.testing.assert_allclose(seven.u_ub, [150, 150, 80, 80, 30, 20, 10])
    np.testing.assert_allclose(seven.u_lb, -seven.u_ub)
    np.testing.assert_allclose(seven.param_vector(),
                               [0.5, 0.5, 0.3, 0.3, 0.1, 0.1, 0.05] + [0.0] * 7 + [9.81])
    assert seven.wrap == ()
    assert seven.meta['root_link'] == 'base_link' and seven.meta['tip_link'] == 'tool0'


def test_seven_dof_rhs_finite_and_holding_is_equilibrium(seven):
    rng = np.random.default_rng(3)
    p = seven.param_vector()
    for x in random_states(rng, 20, 7, q_span=2.0, dq_span=1.5):
        u = rng.uniform(seven.u_lb, seven.u_ub)
        xdot = np.asarray(seven.rhs(x, u, p)).ravel()
        assert xdot.shape == (14,) and np.all(np.isfinite(xdot))
        np.testing.assert_array_equal(xdot[:7], x[7:])
        still = np.concatenate([x[:7], np.zeros(7)])
        hold = np.asarray(seven.holding(still, p)).ravel()
        acc = np.asarray(seven.rhs(still, hold, p)).ravel()
        np.testing.assert_allclose(acc, 0.0, atol=1e-8)
    # at a bent pose gravity loads the shoulder: the holding torque is not trivially zero
    bent = np.zeros(14)
    bent[1] = 1.0
    assert abs(float(seven.holding(bent, p)[1])) > 10.0


def test_seven_dof_power(seven):
    x = np.arange(14) * 0.1
    u = np.arange(7) - 3.0
    np.testing.assert_allclose(np.asarray(seven.power(x, u, seven.param_vector())).ravel(),
                               u * x[7:])


def test_seven_dof_jacobian_matches_finite_differences(seven):
    rng = np.random.default_rng(4)
    p = seven.param_vector()
    xs = ca.SX.sym('x', seven.nx)
    us = ca.SX.sym('u', seven.nu)
    ps = ca.SX.sym('p', seven.n_params)
    f = seven.rhs(xs, us, ps)
    jac = ca.Function('jacobian_xu', [xs, us, ps], [ca.jacobian(f, xs), ca.jacobian(f, us)])
    h = 1e-6
    for x in random_states(rng, 3, 7, q_span=2.0, dq_span=1.0):
        u = 0.3 * rng.uniform(seven.u_lb, seven.u_ub)
        jx, ju = (np.asarray(j) for j in jac(x, u, p))
        fd_x = np.column_stack([
            (np.asarray(seven.rhs(x + h * e, u, p)) - np.asarray(seven.rhs(x - h * e, u, p)))
            .ravel() / (2 * h) for e in np.eye(seven.nx)])
        fd_u = np.column_stack([
            (np.asarray(seven.rhs(x, u + h * e, p)) - np.asarray(seven.rhs(x, u - h * e, p)))
            .ravel() / (2 * h) for e in np.eye(seven.nu)])
        np.testing.assert_allclose(jx, fd_x, rtol=1e-5, atol=1e-6 * np.abs(jx).max())
        np.testing.assert_allclose(ju, fd_u, rtol=1e-5, atol=1e-6 * np.abs(ju).max())
        # d qdd / d tau is the inverse mass matrix: symmetric positive definite
        minv = ju[7:]
        np.testing.assert_allclose(minv, minv.T, rtol=1e-9, atol=1e-9 * np.abs(minv).max())
        assert np.all(np.linalg.eigvalsh(0.5 * (minv + minv.T)) > 0)


def test_seven_dof_works_with_rk4(seven):
    """The shared integrator evaluates rhs on SX symbols; a held arm stays put."""
    step = rk4_step(seven, 0.01, substeps=2)
    p = seven.param_vector()
    x0 = np.zeros(14)
    x0[[1, 3]] = [0.8, -1.2]
    u = np.asarray(seven.holding(x0, p)).ravel()
    x1 = np.asarray(step(x0, u, p)).ravel()
    np.testing.assert_allclose(x1, x0, atol=1e-9)
    x1 = np.asarray(step(x0, np.zeros(7), p)).ravel()
    assert np.linalg.norm(x1 - x0) > 1e-4


@pytest.mark.parametrize('name', [TWO_LINK, SEVEN_DOF])
def test_string_equals_file(name):
    path = URDF_DIR / name
    from_file = build_model('urdf_arm', urdf_file=name)
    from_path = build_model('urdf_arm', urdf_file=str(path))
    from_string = build_model('urdf_arm', robot_description=path.read_text())
    for other in (from_path, from_string):
        assert other.state_names == from_file.state_names
        assert other.input_names == from_file.input_names
        assert other.param_names == from_file.param_names
        assert other.joint_names == from_file.joint_names
        for a, b in ((other.x_lb, from_file.x_lb), (other.x_ub, from_file.x_ub),
                     (other.u_lb, from_file.u_lb), (other.u_ub, from_file.u_ub),
                     (other.param_vector(), from_file.param_vector())):
            np.testing.assert_array_equal(a, b)
    rng = np.random.default_rng(5)
    n = from_file.nu
    p = from_file.param_vector()
    for x in random_states(rng, 10, n):
        u = rng.uniform(from_file.u_lb, from_file.u_ub)
        want = np.asarray(from_file.rhs(x, u, p)).ravel()
        np.testing.assert_allclose(np.asarray(from_string.rhs(x, u, p)).ravel(), want,
                                   rtol=1e-12, atol=1e-12)


def test_string_with_long_header_is_accepted(two_link):
    """A robot_description may start with a long comment (xacro banner) before <robot>."""
    text = (URDF_DIR / TWO_LINK).read_text()
    body = text.split('?>', 1)[1]
    banner = '<?xml version="1.0" encoding="utf-8"?>\n<!--%s-->\n' % ('=' * 4000)
    model = build_model('urdf_arm', robot_description=banner + body)
    x, u = np.array([0.3, -0.2, 0.5, 1.0]), np.array([3.0, -1.0])
    p = two_link.param_vector()
    np.testing.assert_allclose(np.asarray(model.rhs(x, u, p)),
                               np.asarray(two_link.rhs(x, u, p)), rtol=1e-12)


def test_limit_overrides():
    model = build_model('urdf_arm', urdf_file=SEVEN_DOF, tau_max=[5.0],
                        dq_max=[1, 2, 3, 4, 5, 6, 7])
    np.testing.assert_allclose(model.u_ub, 5.0)
    np.testing.assert_allclose(model.u_lb, -5.0)
    np.testing.assert_allclose(model.x_ub[7:], [1, 2, 3, 4, 5, 6, 7])
    np.testing.assert_allclose(model.x_ub[:7][0], 2.9671)
    with pytest.raises(ValueError, match='tau_max'):
        build_model('urdf_arm', urdf_file=SEVEN_DOF, tau_max=[1, 2])
    with pytest.raises(ValueError, match='dq_max'):
        build_model('urdf_arm', urdf_file=SEVEN_DOF, dq_max=[-1.0])


BRANCHED = '''<?xml version="1.0"?>
<robot name="branched">
  <link name="world"/>
  <joint name="yaw" type="revolute">
    <parent link="world"/><child link="carriage"/>
    <axis xyz="0 0 1"/>
    <limit lower="-1.5" upper="1.5" effort="100" velocity="0.4"/>
  </joint>
  <link name="carriage">
    <inertial><mass value="2"/>
      <inertia ixx="0.01" ixy="0" ixz="0" iyy="0.01" iyz="0" izz="0.01"/></inertial>
  </link>
  <joint name="spin" type="continuous">
    <parent link="carriage"/><child link="rotor"/>
    <origin xyz="0 0 0.1"/><axis xyz="0 1 0"/>
    <limit effort="4" velocity="6"/>
    <dynamics damping="0.25"/>
  </joint>
  <link name="rotor">
    <inertial><origin xyz="0.2 0 0"/><mass value="0.5"/>
      <inertia ixx="0.001" ixy="0" ixz="0" iyy="0.001" iyz="0" izz="0.001"/></inertial>
  </link>
  <joint name="camera_mount" type="revolute">
    <parent link="carriage"/><child link="camera"/>
    <axis xyz="0 0 1"/>
    <limit lower="-1" upper="1" effort="1" velocity="1"/>
  </joint>
  <link name="camera">
    <inertial><origin xyz="0.3 0 0"/><mass value="0.1"/>
      <inertia ixx="1e-4" ixy="0" ixz="0" iyy="1e-4" iyz="0" izz="1e-4"/></inertial>
  </link>
  <joint name="slide" type="prismatic">
    <parent link="camera"/><child link="lens"/>
    <axis xyz="1 0 0"/>
    <limit lower="0" upper="0.02" effort="5" velocity="0.1"/>
  </joint>
  <link name="lens"/>
  <transmission name="t1"><type>transmission_interface/SimpleTransmission</type></transmission>
</robot>
'''


def test_branched_urdf_chain_selection():
    """Defaults from the URDF (no origin/axis tags), continuous joints, locked branches."""
    model = build_model('urdf_arm', robot_description=BRANCHED, tip_link='rotor')
    assert model.joint_names == ('yaw', 'spin')
    assert set(model.meta['locked_joints']) == {'camera_mount', 'slide'}
    np.testing.assert_allclose(model.x_lb, [-1.5, -np.inf, -0.4, -6.0])
    np.testing.assert_allclose(model.x_ub, [1.5, np.inf, 0.4, 6.0])
    np.testing.assert_allclose(model.u_ub, [100.0, 4.0])
    np.testing.assert_allclose(model.param_vector(), [0.0, 0.25, 0.0, 0.0, 9.81])
    assert model.wrap == (1,)
    # rotor along +x, spin about +y turns it down: holding needs -m g r; yaw feels no gravity
    p = model.param_vector()
    np.testing.assert_allclose(np.asarray(model.holding(np.zeros(4), p)).ravel(),
                               [0.0, -0.5 * 9.81 * 0.2], atol=1e-12)
    # the mass matrix is the inverse of d qdd / d tau; the yaw joint carries the carriage,
    # the rotor and the locked camera branch
    us = ca.SX.sym('u', 2)
    inv_mass = ca.Function('m', [us], [ca.jacobian(model.rhs(np.zeros(4), us, p)[2:], us)])
    mass = np.linalg.inv(np.asarray(inv_mass(np.zeros(2))))
    yaw_inertia = 0.01 + (0.5 * 0.2 ** 2 + 0.001) + (0.1 * 0.3 ** 2 + 1e-4)
    assert mass[0, 0] == pytest.approx(yaw_inertia, rel=1e-9)
    assert mass[1, 1] == pytest.approx(0.5 * 0.2 ** 2 + 0.001, rel=1e-9)
    by_names = build_model('urdf_arm', robot_description=BRANCHED, joint_names=['spin', 'yaw'])
    assert by_names.joint_names == ('spin', 'yaw')
    assert by_names.state_names == ['q_spin', 'q_yaw', 'dq_spin', 'dq_yaw']


def test_branched_urdf_needs_a_tip_and_rejects_prismatic():
    with pytest.raises(ValueError, match='pass tip_link'):
        build_model('urdf_arm', robot_description=BRANCHED.replace(
            '<limit lower="0" upper="0.02"', '<limit').replace('prismatic', 'fixed'))
    with pytest.raises(ValueError, match="prismatic: \\['slide'\\]"):
        build_model('urdf_arm', robot_description=BRANCHED)


@pytest.mark.parametrize('kwargs, message', [
    ({'robot_description': '<robot name="x"><link name="a"></robot>'},
     'malformed URDF.*parse error'),
    ({'robot_description': 'not xml at all'}, 'malformed URDF.*parse error'),
    ({'robot_description': '   '}, 'empty'),
    ({'robot_description': '<model name="x"/>'}, 'root element is <model>'),
    ({'robot_description': '<robot name="x"><link name="a"/><joint name="j" '
      'type="revolute"><parent link="a"/><child link="b"/></joint></robot>'},
     "unknown link 'b'"),
    ({'robot_description': '<robot name="x"><link name="a"/></robot>'}, 'no movable'),
    ({'urdf_file': 'no_such_arm.urdf'}, "'no_such_arm.urdf' not found"),
    ({'urdf_file': '/nonexistent/dir/arm.urdf'}, 'not found'),
    ({}, 'needs robot_description'),
    ({'urdf_file': SEVEN_DOF, 'joint_names': ['joint1', 'elbow']}, "joint 'elbow' is not in"),
    ({'urdf_file': SEVEN_DOF, 'joint_names': ['tool_joint']}, 'fixed joint'),
    ({'urdf_file': SEVEN_DOF, 'tip_link': 'gripper'}, "link 'gripper' is not in"),
    ({'urdf_file': SEVEN_DOF, 'root_link': 'link3', 'tip_link': 'link1'}, 'is not below'),
])
def test_clear_errors(kwargs, message):
    with pytest.raises(ValueError, match=message):
        build_model('urdf_arm', **kwargs)


def test_unknown_file_error_lists_shipped_files():
    with pytest.raises(ValueError) as err:
        build_model('urdf_arm', urdf_file='no_such_arm.urdf')
    assert TWO_LINK in str(err.value) and SEVEN_DOF in str(err.value)


def test_shipped_urdfs():
    assert {TWO_LINK, SEVEN_DOF} <= set(shipped_urdfs())
    assert (URDF_DIR / TWO_LINK).is_file()
