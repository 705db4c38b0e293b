"""Models: derivatives against finite differences, physics sanity, cross-model agreement."""
from pathlib import Path

import casadi as ca
import numpy as np
import pytest

from casadi_mpc.core.integrators import rk4_step
from casadi_mpc.core.models import build_model

from .helpers import check_jacobian

EXAMPLES = Path(__file__).resolve().parents[2] / 'examples' / 'models'
MODELS = [('diff_drive', {}), ('double_integrator', {'dim': 2}),
          ('double_integrator', {'dim': 3}), ('planar_arm', {'links': 2}),
          ('planar_arm', {'links': 3}), ('urdf_arm', {'urdf_file': 'two_link_arm.urdf'}),
          ('ackermann', {}), ('omni', {}), ('cart_pole', {}),
          ('', {'file': str(EXAMPLES / 'template.py')}),
          ('', {'file': str(EXAMPLES / 'pendulum_on_cart.py')}),
          ('', {'file': str(EXAMPLES / 'chain_mass.py'), 'n_mass': 4})]
RNG = np.random.default_rng(7)


def sample(model):
    spread = 0.1 if model.kind == 'chain' else 1.0   # springs keep their length
    x = np.clip(model.x_nominal + spread * RNG.uniform(-1.5, 1.5, model.nx), model.x_lb,
                model.x_ub)
    u = RNG.uniform(0.5 * model.u_lb, 0.5 * model.u_ub)
    return x, u, model.param_vector() * RNG.uniform(0.8, 1.2, model.n_params)


@pytest.mark.parametrize('name,options', MODELS, ids=lambda v: v if isinstance(v, str) else
                         Path(v.get('file', '')).stem)
def test_dynamics_jacobian_matches_finite_differences(name, options):
    model = build_model(name, **options)
    x, u, p = ca.SX.sym('x', model.nx), ca.SX.sym('u', model.nu), ca.SX.sym('p', model.n_params)
    for _ in range(3):
        check_jacobian(model.rhs(x, u, p), [x, u, p], sample(model), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize('name,options', MODELS, ids=lambda v: v if isinstance(v, str) else
                         Path(v.get('file', '')).stem)
def test_rk4_step_jacobian_matches_finite_differences(name, options):
    model = build_model(name, **options)
    F = rk4_step(model, 0.05, substeps=2)
    x, u, p = ca.SX.sym('x', model.nx), ca.SX.sym('u', model.nu), ca.SX.sym('p', model.n_params)
    check_jacobian(F(x, u, p), [x, u, p], sample(model), rtol=1e-5, atol=1e-6)


def test_unicycle_kinematics():
    model = build_model('diff_drive')
    xdot = np.asarray(model.rhs([0, 0, np.pi / 2], [1.0, 0.5], model.param_vector()),
                      float).ravel()
    np.testing.assert_allclose(xdot, [0.0, 1.0, 0.5], atol=1e-12)


def test_unicycle_gains_scale_the_commanded_velocities():
    model = build_model('diff_drive')
    assert model.param_names == ['v_gain', 'omega_gain']
    p = model.param_vector({'v_gain': 0.9, 'omega_gain': 1.1})
    xdot = np.asarray(model.rhs([0, 0, 0.0], [1.0, 0.5], p), float).ravel()
    np.testing.assert_allclose(xdot, [0.9, 0.0, 0.55], atol=1e-12)


@pytest.mark.parametrize('links', [1, 2, 3])
def test_planar_arm_holds_still_with_holding_torque(links):
    model = build_model('planar_arm', links=links)
    p = model.param_vector()
    x = np.r_[RNG.uniform(-2, 2, links), np.zeros(links)]
    tau = np.asarray(model.holding(x, p), float).ravel()
    qdd = np.asarray(model.rhs(x, tau, p), float).ravel()[links:]
    np.testing.assert_allclose(qdd, 0.0, atol=1e-9)
    # horizontal arm: the shoulder holds every mass at its lever arm
    tau0 = np.asarray(model.holding(np.zeros(2 * links), p), float).ravel()
    expected = 9.81 * sum(i + 1 for i in range(links))
    assert tau0[0] == pytest.approx(expected, rel=1e-9)


def arm2_textbook(x, u, m1=1.0, m2=1.0, l1=1.0, l2=1.0, g=9.81):
    """The closed-form 2-link equations (point masses at the link ends, gravity along -y)."""
    q1, q2, dq1, dq2 = x
    c2 = np.cos(q2)
    m11 = (m1 + m2) * l1 ** 2 + m2 * l2 ** 2 + 2 * m2 * l1 * l2 * c2
    m12 = m2 * l2 ** 2 + m2 * l1 * l2 * c2
    m22 = m2 * l2 ** 2
    h = m2 * l1 * l2 * np.sin(q2)
    g1 = (m1 + m2) * g * l1 * np.cos(q1) + m2 * g * l2 * np.cos(q1 + q2)
    g2 = m2 * g * l2 * np.cos(q1 + q2)
    b = np.linalg.solve([[m11, m12], [m12, m22]],
                        [u[0] + h * (2 * dq1 * dq2 + dq2 ** 2) - g1, u[1] - h * dq1 ** 2 - g2])
    return np.array([dq1, dq2, b[0], b[1]])


def test_planar_arm_matches_textbook_two_link_formula():
    """The Lagrangian derivation agrees with the closed-form 2-link equations."""
    model = build_model('planar_arm', links=2)
    p = model.param_vector()
    for _ in range(20):
        x, u = RNG.uniform(-3, 3, 4), RNG.uniform(-20, 20, 2)
        ours = np.asarray(model.rhs(x, u, p), float).ravel()
        np.testing.assert_allclose(ours, arm2_textbook(x, u), rtol=1e-9, atol=1e-9)


def test_cart_pole_matches_acados_pendulum_on_cart():
    """The built-in (mass-matrix form) and the example (acados' closed form) are one robot."""
    ours = build_model('cart_pole')
    theirs = build_model(file=str(EXAMPLES / 'pendulum_on_cart.py'))
    assert ours.param_vector()[:4].tolist() == theirs.param_vector().tolist()
    for _ in range(20):
        x, u = RNG.uniform(-4, 4, 4), RNG.uniform(-80, 80, 1)
        np.testing.assert_allclose(np.asarray(ours.rhs(x, u, ours.param_vector())),
                                   np.asarray(theirs.rhs(x, u, theirs.param_vector())),
                                   rtol=1e-10, atol=1e-10)


def test_cart_pole_friction_and_safe_command_brake_the_cart_only():
    model = build_model('cart_pole')
    p = model.param_vector({'cart_friction': 2.0})
    free = np.asarray(model.rhs([0, 0, 1.0, 0], [0], model.param_vector()), float).ravel()
    rubbing = np.asarray(model.rhs([0, 0, 1.0, 0], [0], p), float).ravel()
    assert free[2] == pytest.approx(0.0) and rubbing[2] < 0
    u = model.safe_input(np.array([0.0, 0.3, 1.0, 2.0]), model.param_vector(), period=0.05)
    assert -80 <= u[0] < 0   # pushes against the cart's motion, within the bounds
    assert model.braked == (2,)


def test_ackermann_twist_is_what_its_driver_and_the_simulator_read_back():
    model = build_model('ackermann')
    p = model.param_vector()
    command, to_input = model.interface.command.command, model.interface.command.to_input
    wheelbase, tau = p
    for _ in range(20):
        x = np.r_[RNG.uniform(-2, 2, 3), RNG.uniform(-0.4, 0.4)]
        u = np.array([RNG.choice([-1, 1]) * RNG.uniform(0.1, 1.0), RNG.uniform(-1, 1)])
        twist = np.asarray(command(x, u, p), float).ravel()
        assert twist[1] == pytest.approx(u[0] * np.tan(x[3] + tau * u[1]) / wheelbase)
        np.testing.assert_allclose(np.asarray(to_input(twist, x, p), float).ravel(), u,
                                   rtol=1e-9, atol=1e-9)
        xdot = np.asarray(model.rhs(x, u, p), float).ravel()
        assert xdot[2] == pytest.approx(u[0] * np.tan(x[3]) / wheelbase)
    # standing: no steering asked, whatever the yaw rate field says
    still = np.asarray(to_input([0.0, 0.3], [0, 0, 0, 0.2], p), float).ravel()
    assert still.tolist() == [0.0, 0.0]


def test_omni_moves_sideways_in_its_body_frame():
    model = build_model('omni')
    xdot = np.asarray(model.rhs([0, 0, np.pi / 2], [0.0, 1.0, 0.5], []), float).ravel()
    np.testing.assert_allclose(xdot, [-1.0, 0.0, 0.5], atol=1e-12)


def test_planar_arm_conserves_energy_without_damping_and_torque():
    model = build_model('planar_arm', links=2)
    p = model.param_vector()
    F = rk4_step(model, 0.001)
    x = np.array([0.3, -0.4, 0.0, 0.0])

    def energy(x):
        q1, q2, d1, d2 = x
        y1, y2 = np.sin(q1), np.sin(q1) + np.sin(q1 + q2)
        v1 = d1 ** 2
        v2 = d1 ** 2 + (d1 + d2) ** 2 + 2 * d1 * (d1 + d2) * np.cos(q2)
        return 0.5 * (v1 + v2) + 9.81 * (y1 + y2)
    e0 = energy(x)
    for _ in range(1000):
        x = np.asarray(F(x, [0, 0], p), float).ravel()
    assert abs(energy(x) - e0) < 1e-6 * max(1.0, abs(e0))
    assert abs(x[0] - 0.3) > 0.1   # it did swing


def test_double_integrator_damping_parameter():
    model = build_model('double_integrator', dim=1)
    xdot = np.asarray(model.rhs([0.0, 2.0], [1.0], [0.5]), float).ravel()
    np.testing.assert_allclose(xdot, [2.0, 0.0])


def test_state_error_wraps_angles():
    model = build_model('diff_drive')
    e = model.state_error(np.array([0, 0, 3.1]), np.array([0, 0, -3.1]))
    assert e[2] == pytest.approx(6.2 - 2 * np.pi)


def test_unknown_model_and_parameter_are_named():
    with pytest.raises(ValueError, match='unknown model'):
        build_model('hexapod')
    with pytest.raises(KeyError, match='massX'):
        build_model('planar_arm').param_vector({'massX': 1.0})


def test_urdf_arm_armature_adds_to_the_mass_matrix_diagonal():
    model = build_model('urdf_arm', urdf_file='two_link_arm.urdf')
    x = np.array([0.3, 0.8, 0.0, 0.0])
    plain = model.param_vector({'gravity': 0.0})
    geared = model.param_vector({'gravity': 0.0, 'armature_joint1': 0.5,
                                 'armature_joint2': 0.2})

    def inverse_mass(p):
        cols = [np.asarray(model.rhs(x, e, p), float).ravel()[2:] for e in np.eye(2)]
        return np.column_stack(cols)
    expected = np.linalg.inv(np.linalg.inv(inverse_mass(plain)) + np.diag([0.5, 0.2]))
    np.testing.assert_allclose(inverse_mass(geared), expected, rtol=1e-9, atol=1e-12)
