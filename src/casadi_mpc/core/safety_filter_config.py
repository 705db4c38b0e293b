"""The safety filter configuration: one pydantic schema, the ``safety_filter_node`` section of a
robot's parameter file.

Every field is a scalar or a flat list of one type, so it maps one-to-one onto ROS 2 parameters;
``structural`` fields fix the filter problem's shape and are read-only at run time.
"""
from typing import List

from pydantic import Field, field_validator, model_validator

from .config import BoundsConfig, ModelConfig, node_section, ObstaclesConfig, read_yaml, \
    SolverConfig, STRUCTURAL, Strict, validate


class SafetyFilterConfig(Strict):
    model: ModelConfig = Field(default_factory=ModelConfig)
    horizon: int = Field(15, ge=1, le=200, description='shooting intervals N of the predictive '
                         'filter: the robot must be able to stop within N x dt',
                         json_schema_extra=STRUCTURAL)
    dt: float = Field(0.05, gt=0, le=10, description='shooting interval [s], also the '
                      'longest time between two commands out: without a new desired command '
                      'the filter steps on its own every dt', json_schema_extra=STRUCTURAL)
    substeps: int = Field(1, ge=1, le=50, description='RK4 steps per interval',
                          json_schema_extra=STRUCTURAL)
    rate_limit: List[float] = Field(default_factory=list, description='largest rate of change '
                                    'of each input [its unit per s]: the accelerations of a '
                                    "base's velocity commands (empty: the input's range per "
                                    'second)')
    tracking_weight: List[float] = Field(default_factory=list, description='weight of each '
                                         "input's deviation from the desired command (empty: "
                                         '1 each)')
    smoothing_weight: float = Field(1e-4, ge=0, le=1e6, description='weight of the rates of '
                                    'the predicted continuation (keeps it unique)')
    obstacle_penalty: float = Field(1e5, ge=0, le=1e9, description='cost of a squared '
                                    'intrusion into an obstacle plus margin [1/m^2]')
    bounds: BoundsConfig = Field(default_factory=BoundsConfig)
    obstacles: ObstaclesConfig = Field(default_factory=ObstaclesConfig)
    pass_tolerance: float = Field(1e-4, gt=0, le=1, description='an intervention smaller '
                                  'than this (per input, its unit) passes the desired command '
                                  'unchanged')
    violation_tolerance: float = Field(1e-3, gt=0, le=1, description='a predicted intrusion '
                                       'beyond this [m] counts as a violation: nothing safe '
                                       'was feasible')
    command_delay: float = Field(0.0, ge=0, le=1, description='time from a command sent to '
                                 'the robot applying it [s]: the filter plans from where the '
                                 'robot will be then')
    command_timeout: float = Field(0.5, gt=0, le=60, description='a desired command older '
                                   'than this is stale: the filter brakes to the safe command '
                                   '[s]')
    state_timeout: float = Field(0.5, gt=0, le=60, description='a state older than this is '
                                 'stale: the safe command goes out [s]')
    max_clock_offset: float = Field(0.5, ge=0, le=10, description='a state stamped further '
                                    'ahead of the node clock than this is refused [s]')
    twist_stamped: bool = Field(False, description='bases: cmd_vel_in and cmd_vel are '
                                'TwistStamped, not Twist', json_schema_extra=STRUCTURAL)
    frame_id: str = Field('odom', description='frame of the odometry and the obstacles')
    solver: SolverConfig = Field(default_factory=SolverConfig)
    diagnostics_period: float = Field(1.0, ge=0.1, le=60, description='period of the '
                                      'aggregated status on /diagnostics [s]')
    realtime_priority: int = Field(0, ge=0, le=99, description='SCHED_FIFO priority of the '
                                   'node process on Linux, 0: off',
                                   json_schema_extra=STRUCTURAL)

    @field_validator('rate_limit', 'tracking_weight')
    @classmethod
    def _positive(cls, v):
        if any(not (w > 0.0) or w == float('inf') for w in v):
            raise ValueError('values must be finite and > 0')
        return v

    @model_validator(mode='after')
    def _consistent(self):
        if self.state_timeout < 2.0 * self.dt:
            raise ValueError('dt = %g s with state_timeout = %g s: the filter steps at least '
                             'every dt, which must be at most half the state timeout'
                             % (self.dt, self.state_timeout))
        return self


def parse(data, source='safety filter config'):
    """Validate a plain (possibly dotted) dict into a SafetyFilterConfig, or raise
    ConfigError."""
    return validate(SafetyFilterConfig, data, source)


def load(path, node='safety_filter_node'):
    return parse(node_section(read_yaml(path), node, str(path)), str(path))
