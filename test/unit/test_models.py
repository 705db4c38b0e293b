"""Models: derivatives against finite differences, physics sanity, cross-model agreement."""
import importlib.util
from pathlib import Path

import casadi as ca
import numpy as np
import pytest

from casadi_mpc.core.integrators import rk4_step
from casadi_mpc.core.models import build_model

from .helpers import check_jacobian

MODELS = [('diff_drive', {}), ('double_integrator', {'dim': 2}),
          ('double_integrator', {'dim': 3}), ('planar_arm', {'links': 2}),
          ('planar_arm', {'links': 3}), ('urdf_arm', {'urdf_file': 'two_link_arm.urdf'})]
RNG = np.random.default_rng(7)


def sample(model):
    x = RNG.uniform(-1.5, 1.5, model.nx)
    u = RNG.uniform(0.5 * model.u_lb, 0.5 * model.u_ub)
    return x, u, model.param_vector() * RNG.uniform(0.8, 1.2, model.n_params)


@pytest.mark.parametrize('name,options', MODELS)
def test_dynamics_jacobian_matches_finite_differences(name, options):
    model = build_model(name, **options)
    x, u, p = ca.SX.sym('x', model.nx), ca.SX.sym('u', model.nu), ca.SX.sym('p', model.n_params)
    for _ in range(3):
        check_jacobian(model.rhs(x, u, p), [x, u, p], sample(model), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize('name,options', MODELS)
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


def _peer_problems():
    path = Path(__file__).resolve().parents[2] / 'bench' / 'peers' / 'problems.py'
    spec = importlib.util.spec_from_file_location('peer_problems', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_planar_arm_matches_textbook_two_link_formula():
    """The Lagrangian derivation agrees with the closed-form 2-link equations the peers use."""
    problems = _peer_problems()
    model = build_model('planar_arm', links=2)
    p = model.param_vector()
    for _ in range(20):
        x, u = RNG.uniform(-3, 3, 4), RNG.uniform(-20, 20, 2)
        ours = np.asarray(model.rhs(x, u, p), float).ravel()
        theirs = np.asarray(problems.arm2_ode(ca.DM(x), ca.DM(u)), float).ravel()
        np.testing.assert_allclose(ours, theirs, rtol=1e-9, atol=1e-9)


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
