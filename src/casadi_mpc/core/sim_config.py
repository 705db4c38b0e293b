"""The simulator configuration: one pydantic schema, loaded from config/<robot>.yaml.

The ``sim_node: ros__parameters:`` section of a robot's parameter file. Like MPCConfig, every
field is a scalar or a flat list of one type, so it maps one-to-one onto ROS 2 parameters;
``structural`` fields are fixed once the simulator runs (read-only parameters).
"""
from typing import List

import numpy as np
from pydantic import Field

from .config import STRUCTURAL, ConfigError, ModelConfig, Strict, default_model, node_section, \
    read_yaml, validate


class SimConfig(Strict):
    model: ModelConfig = Field(default_factory=default_model)
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
    twist_stamped: bool = Field(False, description='Twist-commanded models: cmd_vel is '
                                'TwistStamped, not Twist', json_schema_extra=STRUCTURAL)
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


def noise(cfg, model):
    """Process noise standard deviation per state (zeros when none is configured)."""
    values = np.asarray(cfg.noise_std, float)
    if values.size == 0:
        return np.zeros(model.nx)
    if values.size not in (1, model.nx) or np.any(~np.isfinite(values)) or np.any(values < 0):
        raise ConfigError('noise_std = %s: expected one value or %d values (%s), finite and >= 0'
                          % (cfg.noise_std, model.nx, ', '.join(model.state_names)))
    return np.broadcast_to(values, (model.nx,)).copy()
