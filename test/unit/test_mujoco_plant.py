"""The MuJoCo plant: built from each model's declared body, the same dynamics as the model where
the model is exact, and the physics the model leaves out where it is not."""
import numpy as np
import pytest

from casadi_mpc.core import sim_config
from casadi_mpc.core.config import ConfigError
from casadi_mpc.core.models import build_model
from casadi_mpc.core.mujoco_plant import MujocoPlant
from casadi_mpc.core.plant import Plant, make_plant
from casadi_mpc.core.sim_config import MujocoConfig

EXACT = MujocoConfig(integrator='RK4', timestep=0.0005)   # integrates like the model's RK4


def run(plant, u, steps, dt=0.01):
    for _ in range(steps):
        x = plant.step(u, dt)
    return x


@pytest.mark.parametrize('name, options, params, x0, u', [
    ('urdf_arm', {'urdf_file': 'seven_dof_arm.urdf'},
     {'armature_joint1': 0.5, 'armature_joint4': 0.3, 'damping_joint2': 1.5, 'gravity': 9.81},
     [0.1, 0.3, 0.0, -0.5, 0.2, 0.4, 0.0] + [0.0] * 7, [2.0, 5.0, 1.0, 3.0, 0.5, 0.5, 0.2]),
    ('planar_arm', {'links': 3}, {'mass1': 2.0, 'length2': 0.7, 'damping3': 0.2},
     [0.3, -0.2, 0.1, 0.0, 0.5, 0.0], [10.0, 3.0, -1.0]),
    ('double_integrator', {'dim': 3}, {'damping': 0.4}, [0.0] * 3 + [0.1, -0.2, 0.3],
     [0.5, -1.0, 0.2]),
])
def test_joint_bodies_follow_the_model_exactly(name, options, params, x0, u):
    """The URDF the engine loads is the robot the model describes: same masses, lengths,
    damping, armature and gravity, so with the model's integrator the states agree."""
    model = build_model(name, **options)
    engine = MujocoPlant(model, x0, params, EXACT)
    reference = Plant(model, x0, params, max_step=0.0005)
    for _ in range(20):
        a, b = engine.step(u, 0.01), reference.step(u, 0.01)
    # the planar arm's point masses get a little rotational inertia in the engine
    assert np.abs(a - b).max() < 1e-4, a - b
    assert np.abs(a - np.asarray(x0)).max() > 1e-2      # it moved
    assert engine.truth() is None


def test_model_parameters_change_the_robot_live():
    """New masses or lengths rebuild the engine's robot (state kept); damping applies in
    place."""
    model = build_model('planar_arm', links=2)
    x0 = [0.2, 0.1, 0.0, 0.0]
    engine = MujocoPlant(model, x0, {}, EXACT)
    reference = Plant(model, x0, {}, max_step=0.0005)
    run(engine, [1.0, 0.5], 5)
    run(reference, [1.0, 0.5], 5)
    changed = model.param_vector({'mass2': 3.0, 'length1': 0.5, 'damping1': 0.7})
    engine.p, reference.p = changed, changed
    a, b = run(engine, [1.0, 0.5], 10), run(reference, [1.0, 0.5], 10)
    assert np.abs(a - b).max() < 1e-4


def test_friction_loss_torque_limit_and_joint_range_are_physics_the_model_lacks():
    model = build_model('planar_arm', links=1)
    # dry friction holds the joint against a torque below it; the model turns
    held = MujocoPlant(model, [0.0, 0.0], {'gravity': 0.0}, MujocoConfig(frictionloss=[2.0]))
    assert abs(run(held, [1.0], 50)[0]) < 1e-3
    assert run(Plant(model, [0.0, 0.0], {'gravity': 0.0}), [1.0], 50)[0] > 0.1
    # the motor's limit caps the effort it applies
    limited = MujocoPlant(model, [0.0, 0.0], {'gravity': 0.0}, MujocoConfig(torque_limit=[3.0]))
    limited.step([10.0], 0.01)
    assert limited.applied[0] == pytest.approx(3.0)
    # the URDF's joint range stops the joint (urdf_arm's joint2: +-2.0944 rad)
    arm = build_model('urdf_arm', urdf_file='seven_dof_arm.urdf')
    stopped = MujocoPlant(arm, np.zeros(14), {'gravity': 0.0})
    x = run(stopped, [0, 60.0, 0, 0, 0, 0, 0], 100)
    assert 2.0 < x[1] < 2.2
    free = run(Plant(arm, np.zeros(14), {'gravity': 0.0}), [0, 60.0, 0, 0, 0, 0, 0], 100)
    assert free[1] > 2.3


def test_diff_drive_on_wheels_drives_and_its_odometry_drifts():
    model = build_model('diff_drive')
    base = MujocoPlant(model, [1.0, -0.5, 0.3])
    assert np.allclose(base.x, [1.0, -0.5, 0.3]) and np.allclose(base.truth(), base.x)
    x = run(base, [0.5, 0.0], 200, dt=0.02)       # 4 s straight at 0.5 m/s
    truth = base.truth()
    travelled = np.linalg.norm(truth[:2] - [1.0, -0.5])
    assert 1.8 < travelled < 2.0                   # accelerates from rest
    assert abs(truth[2] - 0.3) < 0.02
    assert np.linalg.norm(x[:2] - truth[:2]) < 0.02 * travelled
    # swerving at full speed: wheels scrub and slip, the encoders' dead reckoning drifts
    for k in range(300):
        x = base.step([1.0, 2.0 * np.sign(np.sin(0.04 * k))], 0.02)
    drift = np.linalg.norm(x[:2] - base.truth()[:2])
    assert 0.005 < drift < 0.1 * 6.0
    # a stopped base stays where it is
    run(base, [0.0, 0.0], 100, dt=0.02)
    rest = base.truth().copy()
    run(base, [0.0, 0.0], 50, dt=0.02)
    assert np.allclose(base.truth(), rest, atol=1e-3)


def test_wheel_commands_follow_the_rolling_constraints():
    model = build_model('diff_drive')
    base = MujocoPlant(model, [0.0, 0.0, 0.0], options=MujocoConfig(wheel_kv=20.0,
                                                                    wheel_torque_limit=20.0))
    base.step([0.4, 1.0], 0.02)
    ctrl = base.drive.data.ctrl
    body = model.meta['physics']
    r, half = body.wheel_radius, body.wheels[0].y
    assert ctrl[0] == pytest.approx((0.4 - 1.0 * half) / r)   # left wheel (y > 0)
    assert ctrl[1] == pytest.approx((0.4 + 1.0 * half) / r)


def test_noise_is_seeded_and_settings_apply_live():
    model = build_model('planar_arm', links=2)
    a = MujocoPlant(model, [0.0] * 4, {}, noise_std=0.01, seed=3)
    b = MujocoPlant(model, [0.0] * 4, {}, noise_std=0.01, seed=3)
    assert np.array_equal(run(a, [0.0, 0.0], 5), run(b, [0.0, 0.0], 5))
    a.options = MujocoConfig(damping=[0.5, 0.6], torque_limit=[4.0])
    vi = a.drive.vi
    assert list(a.drive.mj.dof_damping[vi]) == [0.5, 0.6]
    assert list(a.drive.mj.actuator_forcerange[:, 1]) == [4.0, 4.0]


def test_make_plant_and_the_checks_of_the_engine_settings():
    cfg = sim_config.parse({'model': {'name': 'planar_arm'}, 'engine': 'mujoco',
                            'mujoco': {'damping': [0.1, 0.2], 'timestep': 0.002}})
    model = build_model('planar_arm')
    plant = make_plant(cfg, model)
    assert isinstance(plant, MujocoPlant) and plant.drive.mj.opt.timestep == 0.002
    assert isinstance(make_plant(sim_config.parse({'model': {'name': 'planar_arm'}}), model),
                      Plant)
    bad = sim_config.parse({'model': {'name': 'planar_arm'}, 'engine': 'mujoco',
                            'mujoco': {'frictionloss': [1.0, 2.0, 3.0]}})
    with pytest.raises(ConfigError, match='mujoco.frictionloss'):
        sim_config.check_engine(bad, model)
    for wrong in ({'tyre_friction': [1.0]}, {'damping': [-1.0]}, {'integrator': 'leapfrog'}):
        with pytest.raises(ConfigError):
            sim_config.parse({'engine': 'mujoco', 'mujoco': wrong})
    with pytest.raises(ConfigError):
        sim_config.parse({'engine': 'bullet'})


def test_a_model_without_a_body_is_refused_clearly():
    from dataclasses import replace
    model = replace(build_model('planar_arm'), meta={})
    with pytest.raises(ConfigError, match='declares no body'):
        MujocoPlant(model, np.zeros(4))
    cfg = sim_config.parse({'model': {'name': 'planar_arm'}, 'engine': 'mujoco'})
    with pytest.raises(ConfigError, match='declares no body'):
        sim_config.check_engine(cfg, model)
