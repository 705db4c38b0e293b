"""The estimator configuration: one pydantic schema, the ``estimator_node`` section of a robot's
parameter file.

Like MPCConfig every field is a scalar or a flat list of one type, so it maps one-to-one onto ROS 2
parameters; ``structural`` fields fix the estimation problem's shape and are read-only at run
time. :func:`resolve` checks the names and list sizes against the model and returns the numbers.
"""
from dataclasses import dataclass
from typing import List, Literal

import numpy as np
from pydantic import Field, model_validator

from .config import ConfigError, ModelConfig, node_section, read_yaml, STRUCTURAL, Strict, \
    validate

# the package's solvers that take the estimation problem (the compiled kernel needs the control
# problem's stage structure: the window's parameters couple every node)
ESTIMATION_SOLVERS = ('sqp', 'sqp_rti', 'ipopt')


class EstimatorSolverConfig(Strict):
    name: Literal[ESTIMATION_SOLVERS] = Field(
        'sqp', description='sqp (Gauss-Newton SQP to convergence), sqp_rti (one Gauss-Newton '
        'step per measurement), ipopt', json_schema_extra=STRUCTURAL)
    max_iter: int = Field(20, ge=1, le=1000, description='iteration limit per window',
                          json_schema_extra=STRUCTURAL)
    tol: float = Field(1e-8, gt=0, le=1, description='convergence tolerance',
                       json_schema_extra=STRUCTURAL)
    time_limit: float = Field(0.05, gt=0, le=10, description='time limit per window [s]: a '
                              'longer solve counts as failed and keeps the last estimate')


class EstimatorConfig(Strict):
    model: ModelConfig = Field(default_factory=ModelConfig)
    horizon: int = Field(20, ge=2, le=200, description='measurements in the window M',
                         json_schema_extra=STRUCTURAL)
    substeps: int = Field(1, ge=1, le=50, description='RK4 steps per interval',
                          json_schema_extra=STRUCTURAL)
    rate_hz: float = Field(10.0, gt=0, le=1000, description='window rate [Hz]: a measurement '
                           'stamped less than 1/rate_hz after the last one taken is skipped')
    measured: List[str] = Field(default_factory=list, description='measured states by name, '
                                'e.g. [q1, q2] for joint positions only (empty: every state)',
                                json_schema_extra=STRUCTURAL)
    measurement_std: List[float] = Field(default_factory=list, description='measurement noise '
                                         'standard deviation per measured state [SI unit of '
                                         'the state] (empty: 0.01 each)')
    process_std: List[float] = Field(default_factory=list, description='process noise '
                                     'standard deviation per state [SI unit of the state / '
                                     'sqrt(s)] (empty: 0.1 each)')
    state_prior_std: List[float] = Field(default_factory=list, description='prior standard '
                                         'deviation per state at a (re)start, for the states '
                                         'not measured [SI unit of the state] (empty: 1 each)')
    estimate: List[str] = Field(default_factory=list, description='model parameters to '
                                'estimate by name, e.g. [v_gain, omega_gain] or [mass2]',
                                json_schema_extra=STRUCTURAL)
    estimate_min: List[float] = Field(default_factory=list, description='lower bound per '
                                      'estimated parameter [its unit] (empty: 0.5 x prior)')
    estimate_max: List[float] = Field(default_factory=list, description='upper bound per '
                                      'estimated parameter [its unit] (empty: 2 x prior)')
    estimate_prior: List[float] = Field(default_factory=list, description='prior value per '
                                        'estimated parameter [its unit] (empty: '
                                        'model.params, else the model default)')
    estimate_prior_std: List[float] = Field(default_factory=list, description='prior standard '
                                            'deviation per estimated parameter, also the '
                                            'largest spread [its unit] (empty: 0.2 x |prior|)')
    estimate_drift: List[float] = Field(default_factory=list, description='random-walk '
                                        'intensity per estimated parameter [its unit / '
                                        'sqrt(s)]: how fast it may change; 0 holds it '
                                        'constant (empty: 0.01 x |prior|)')
    estimate_confident_std: List[float] = Field(default_factory=list, description='a '
                                                'parameter estimate goes out for the '
                                                'controller to follow only while its spread is '
                                                'at most this [its unit] (empty: 0.25 x '
                                                'estimate_prior_std)')
    arrival: Literal['covariance', 'fixed'] = Field(
        'covariance', description='arrival cost once the window slides: covariance (the '
        'previous solution with its marginal spread, widened by process noise and drift) or '
        'fixed (the previous solution with the spreads state_prior_std and '
        'estimate_prior_std, as the MHE of do-mpc)')
    max_gap: float = Field(0.5, gt=0, le=60, description='a measurement further than this '
                           'after the last one taken restarts the window [s]')
    state_timeout: float = Field(0.5, gt=0, le=60, description='a measurement stamped longer '
                                 'ago than this is stale and rejected [s]')
    max_clock_offset: float = Field(0.5, ge=0, le=10, description='a measurement stamped '
                                    'further ahead of the node clock than this is rejected [s]')
    input_source: Literal['commands', 'effort'] = Field(
        'commands', description='commands: the input is what the robot is commanded (cmd_vel '
        'or commands, applied command_delay later); effort (arms): the joint efforts of the '
        'joint states, each the input since the previous state', json_schema_extra=STRUCTURAL)
    command_timeout: float = Field(0.5, gt=0, le=60, description='a command older than this '
                                   'counts as zero, as the robot drops it [s]')
    command_delay: float = Field(0.0, ge=0, le=1, description='time from a command received '
                                 'to the robot applying it [s]')
    solver: EstimatorSolverConfig = Field(default_factory=EstimatorSolverConfig)
    twist_stamped: bool = Field(False, description='bases: commands in (cmd_vel) are '
                                'TwistStamped, not Twist', json_schema_extra=STRUCTURAL)
    frame_id: str = Field('odom', description='bases: frame of the odometry in and out')
    child_frame_id: str = Field('base_link', description='bases: body frame of the estimate')
    diagnostics_period: float = Field(1.0, ge=0.1, le=60, description='period of the '
                                      'aggregated status on /diagnostics [s]')
    realtime_priority: int = Field(0, ge=0, le=99, description='SCHED_FIFO priority of the '
                                   'node process on Linux, 0: off',
                                   json_schema_extra=STRUCTURAL)

    @model_validator(mode='after')
    def _consistent(self):
        if self.rate_hz * self.max_gap < 1.0:
            raise ValueError('rate_hz = %g with max_gap = %g s: the window period must not '
                             'exceed max_gap' % (self.rate_hz, self.max_gap))
        return self


def parse(data, source='estimator config'):
    """Validate a plain (possibly dotted) dict into an EstimatorConfig, or raise ConfigError."""
    return validate(EstimatorConfig, data, source)


def load(path, node='estimator_node'):
    return parse(node_section(read_yaml(path), node, str(path)), str(path))


@dataclass
class EstimationSetup:
    """The numbers of an EstimatorConfig, checked against the model."""

    measured: np.ndarray        # indices of the measured states
    measurement_std: np.ndarray
    process_std: np.ndarray     # per state
    state_prior_std: np.ndarray
    estimated: np.ndarray       # indices of the estimated parameters in the model's vector
    model_p: np.ndarray         # the model's parameters (model.params applied)
    prior: np.ndarray           # per estimated parameter
    prior_std: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    drift: np.ndarray
    confident_std: np.ndarray


def _indices(names, known, key, what):
    unknown = [n for n in names if n not in known]
    if unknown:
        raise ConfigError('%s = %s: unknown %s %s; known: %s' % (
            key, list(names), what, ', '.join(unknown), ', '.join(known) or 'none'))
    if len(set(names)) != len(names):
        raise ConfigError('%s = %s: a name is listed twice' % (key, list(names)))
    return np.array([known.index(n) for n in names], dtype=int)


def _per(values, size, key, labels, default, positive=True):
    """A list of one value per label (empty: ``default``), finite, > 0 (or >= 0)."""
    if not values:
        out = np.broadcast_to(np.asarray(default, float), (size,)).copy()
    else:
        out = np.asarray(values, float)
        if out.shape != (size,):
            raise ConfigError('%s = %s: expected %d values (%s)'
                              % (key, list(values), size, ', '.join(labels)))
    low_ok = out > 0 if positive else out >= 0
    if not np.all(np.isfinite(out)) or not np.all(low_ok):
        raise ConfigError('%s = %s: values must be finite and %s 0'
                          % (key, out.tolist(), '>' if positive else '>='))
    return out


def resolve(cfg, model):
    """Check ``cfg`` against ``model``; returns an EstimationSetup or raises ConfigError."""
    if cfg.input_source == 'effort' and model.kind != 'arm':
        raise ConfigError('input_source = effort: only arms report joint efforts (model %s '
                          'is commanded by velocities or accelerations)' % model.name)
    states = model.state_names
    measured = _indices(cfg.measured, states, 'measured', 'state') if cfg.measured \
        else np.arange(model.nx)
    labels = [states[i] for i in measured]
    meas_std = _per(cfg.measurement_std, len(measured), 'measurement_std', labels, 0.01)
    process_std = _per(cfg.process_std, model.nx, 'process_std', states, 0.1)
    prior_x = _per(cfg.state_prior_std, model.nx, 'state_prior_std', states, 1.0)
    try:
        model_p = model.param_vector(cfg.model.params)
    except KeyError as err:
        raise ConfigError('model.params: %s' % err.args[0]) from None
    estimated = _indices(cfg.estimate, model.param_names, 'estimate', 'model parameter')
    names = list(cfg.estimate)
    n = len(names)
    prior = model_p[estimated] if not cfg.estimate_prior else \
        _per(cfg.estimate_prior, n, 'estimate_prior', names, 0.0, positive=False)
    if cfg.estimate_prior and not np.all(np.isfinite(prior)):
        raise ConfigError('estimate_prior = %s: values must be finite' % prior.tolist())
    scale = np.maximum(np.abs(prior), 1e-3)
    prior_std = _per(cfg.estimate_prior_std, n, 'estimate_prior_std', names, 0.2 * scale)
    drift = _per(cfg.estimate_drift, n, 'estimate_drift', names, 0.01 * scale, positive=False)
    confident = _per(cfg.estimate_confident_std, n, 'estimate_confident_std', names,
                     0.25 * prior_std)
    lower = np.asarray(cfg.estimate_min, float) if cfg.estimate_min else \
        np.minimum(0.5 * prior, 2.0 * prior)
    upper = np.asarray(cfg.estimate_max, float) if cfg.estimate_max else \
        np.maximum(0.5 * prior, 2.0 * prior)
    for values, key in ((lower, 'estimate_min'), (upper, 'estimate_max')):
        if values.shape != (n,) or np.any(np.isnan(values)):
            raise ConfigError('%s = %s: expected %d values (%s)'
                              % (key, values.tolist(), n, ', '.join(names)))
    if np.any(lower > prior) or np.any(upper < prior):
        raise ConfigError('estimate_min = %s, estimate_max = %s: each must bracket its prior %s '
                          '(%s)' % (lower.tolist(), upper.tolist(), prior.tolist(),
                                    ', '.join(names)))
    return EstimationSetup(measured, meas_std, process_std, prior_x, estimated, model_p, prior,
                           prior_std, lower, upper, drift, confident)
