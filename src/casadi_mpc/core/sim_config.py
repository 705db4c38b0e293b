"""The simulator configuration: one pydantic schema, loaded from config/<robot>.yaml.

The ``sim_node: ros__parameters:`` section of a robot's parameter file. Like MPCConfig, every
field is a scalar or a flat list of one type, so it maps one-to-one onto ROS 2 parameters;
``structural`` fields are fixed once the simulator runs (read-only parameters).
"""
from typing import List, Literal

import numpy as np
from pydantic import Field, field_validator

from .models.bodies import physics_of
from .config import STRUCTURAL, ConfigError, ModelConfig, Strict, node_section, read_yaml, \
    validate


ENGINES = ('model', 'mujoco')
INTEGRATORS = ('implicitfast', 'implicit', 'Euler', 'RK4')


class MujocoConfig(Strict):
    """The physics the controller's model leaves out (engine: mujoco). Per-joint lists take
    one value for every joint or one per joint of the model (arms, the point mass's axes)."""

    timestep: float = Field(0.001, gt=0, le=0.05, description='physics time step [s]',
                            json_schema_extra=STRUCTURAL)
    integrator: Literal[INTEGRATORS] = Field('implicitfast', description='MuJoCo integrator',
                                             json_schema_extra=STRUCTURAL)
    damping: List[float] = Field(default_factory=list, description='viscous joint damping '
                                 '[N*m*s/rad, N*s/m for slides] (empty: the model parameters)')
    frictionloss: List[float] = Field(default_factory=list, description='dry (Coulomb) joint '
                                      'friction [N*m, N for slides] (empty: none)')
    armature: List[float] = Field(default_factory=list, description='reflected rotor inertia '
                                  '[kg*m^2, kg for slides] (empty: the model parameters)')
    torque_limit: List[float] = Field(default_factory=list, description='actuator effort '
                                      "limit [N*m, N for slides] (empty: the model's input "
                                      'bounds)')
    tyre_friction: List[float] = Field(default_factory=lambda: [1.0, 0.005, 0.0001],
                                       description='bases: wheel-floor friction: sliding [1], '
                                       'torsional [m], rolling [m]')
    wheel_kv: float = Field(2.0, gt=0, le=1e4, description='bases: wheel velocity loop gain '
                            '[N*m*s/rad]')
    wheel_torque_limit: float = Field(2.0, gt=0, le=1e4, description='bases: wheel motor '
                                      'torque limit [N*m]')
    steer_kp: float = Field(50.0, gt=0, le=1e5, description='bases: steering position loop '
                            'gain [N*m/rad]')
    encoder_ticks: int = Field(4096, ge=0, le=2 ** 24, description='bases: wheel encoder '
                               'ticks per revolution (0: exact angles)',
                               json_schema_extra=STRUCTURAL)

    @field_validator('damping', 'frictionloss', 'armature', 'torque_limit')
    @classmethod
    def _non_negative(cls, v):
        if any(not (0.0 <= x < float('inf')) for x in v):
            raise ValueError('values must be finite and >= 0')
        return v

    @field_validator('tyre_friction')
    @classmethod
    def _friction(cls, v):
        if len(v) != 3 or any(not (0.0 <= x < float('inf')) for x in v):
            raise ValueError('expected 3 finite values >= 0: sliding, torsional, rolling')
        return v


class SimConfig(Strict):
    model: ModelConfig = Field(default_factory=ModelConfig)
    engine: Literal[ENGINES] = Field('model', description="'model': integrate the "
                                     "controller's own model (RK4); 'mujoco': a physics engine "
                                     '(contacts, joint friction, actuator limits)',
                                     json_schema_extra=STRUCTURAL)
    mujoco: MujocoConfig = Field(default_factory=MujocoConfig)
    initial_state: List[float] = Field(default_factory=list, description='state at start, in '
                                       "the model's state order and SI units (empty: zeros)",
                                       json_schema_extra=STRUCTURAL)
    sim_rate_hz: float = Field(100.0, gt=0, le=10000, description='integration and publish '
                               'rate in simulated time [Hz]', json_schema_extra=STRUCTURAL)
    real_time_factor: float = Field(1.0, gt=0, le=100, description='simulated seconds per '
                                    'wall-clock second [1]', json_schema_extra=STRUCTURAL)
    publish_clock: bool = Field(False, description='publish /clock (simulated time) for nodes '
                                'running with use_sim_time', json_schema_extra=STRUCTURAL)
    max_step: float = Field(0.005, gt=0, le=1, description='longest RK4 sub-step [s]',
                            json_schema_extra=STRUCTURAL)
    noise_std: List[float] = Field(default_factory=list, description='process noise standard '
                                   'deviation per state [SI unit of the state / sqrt(s)]: one '
                                   'value for all states or one per state (empty: none)')
    seed: int = Field(0, ge=0, le=2 ** 31 - 1, description='noise random seed',
                      json_schema_extra=STRUCTURAL)
    hold_until_command: bool = Field(True, description='keep the initial state until the first '
                                     'command arrives (brakes released when control starts)')
    command_timeout: float = Field(0.5, gt=0, le=60, description='commands older than this '
                                   '(simulated time) are dropped: zero velocity for bases, zero '
                                   'torque for arms [s]')
    twist_stamped: bool = Field(False, description='bases: cmd_vel is TwistStamped, not Twist',
                                json_schema_extra=STRUCTURAL)
    frame_id: str = Field('odom', description='bases: odometry frame',
                          json_schema_extra=STRUCTURAL)
    child_frame_id: str = Field('base_link', description='bases: robot body frame',
                                json_schema_extra=STRUCTURAL)
    realtime_priority: int = Field(0, ge=0, le=99, description='SCHED_FIFO priority of the '
                                   'simulator process on Linux, 0: off',
                                   json_schema_extra=STRUCTURAL)


def parse(data, source='sim config'):
    """Validate a plain (possibly dotted) dict into a SimConfig, or raise ConfigError."""
    return validate(SimConfig, data, source)


def load(path, node='sim_node'):
    return parse(node_section(read_yaml(path), node, str(path)), str(path))


def initial_state(cfg, model):
    """The initial state as an array checked against ``model``."""
    if not cfg.initial_state:
        return np.zeros(model.nx)
    x0 = np.asarray(cfg.initial_state, float)
    if x0.shape != (model.nx,) or not np.all(np.isfinite(x0)):
        raise ConfigError('initial_state = %s: expected %d finite values (%s)'
                          % (cfg.initial_state, model.nx, ', '.join(model.state_names)))
    return x0


def per_joint(values, n, name, default):
    """A per-joint list of the mujoco section: one value for all joints or ``n``; empty gives
    ``default``."""
    values = np.asarray(values, float)
    if values.size == 0:
        return np.broadcast_to(np.asarray(default, float), (n,)).copy()
    if values.size not in (1, n):
        raise ConfigError('mujoco.%s = %s: expected one value or %d (one per joint)'
                          % (name, values.tolist(), n))
    return np.broadcast_to(values, (n,)).copy()


def check_engine(cfg, model):
    """ConfigError unless the engine can simulate ``model`` with ``cfg``'s mujoco lists."""
    if cfg.engine != 'mujoco':
        return
    body = physics_of(model)
    if body is None:
        raise ConfigError('engine: mujoco: model %s declares no body a physics engine can build'
                          % model.name)
    joints, actuated = len(getattr(body, 'joints', ())), len(getattr(body, 'actuated', ()))
    section = cfg.mujoco
    for name, n in (('damping', joints), ('frictionloss', joints), ('armature', joints),
                    ('torque_limit', actuated)):
        if n:       # wheeled bases have no such joints: the lists do not apply
            per_joint(getattr(section, name), n, name, 0.0)


def noise(cfg, model):
    """Process noise standard deviation per state (zeros when none is configured)."""
    values = np.asarray(cfg.noise_std, float)
    if values.size == 0:
        return np.zeros(model.nx)
    if values.size not in (1, model.nx) or np.any(~np.isfinite(values)) or np.any(values < 0):
        raise ConfigError('noise_std = %s: expected one value or %d values (%s), finite and >= 0'
                          % (cfg.noise_std, model.nx, ', '.join(model.state_names)))
    return np.broadcast_to(values, (model.nx,)).copy()
