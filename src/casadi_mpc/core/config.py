"""The controller configuration: one pydantic schema, loaded from config/<robot>.yaml.

Every field is a scalar or a flat list of one type, so it maps one-to-one onto ROS 2 parameters
(nested models become dotted names: ``costs.effort.weight``). Field descriptions carry units;
``structural`` fields fix the problem's shape and are read-only at run time.
"""
from typing import Annotated, Dict, List, Literal

import yaml
from pydantic import BaseModel, ConfigDict, create_model, Field, field_validator, \
    model_validator, SerializeAsAny, ValidationError, WrapValidator

from .costs import TERMS
from .models import ModelError, ModelOptions, STRUCTURAL, options_class
from .solvers import BACKENDS, backends, COMPILABLE


class ConfigError(ValueError):
    """A configuration problem: names the key, the value and what is allowed."""


class Strict(BaseModel):
    model_config = ConfigDict(extra='forbid', validate_assignment=True)


def _model_options(value, handler):
    """The ``model`` section, validated by the options class of the model it names (a
    discriminated union on ``model.name``, or the model ``model.file`` declares)."""
    if isinstance(value, ModelOptions):
        value = value.model_dump()
    if value is None:
        value = {}
    if not isinstance(value, dict):
        raise ValueError('expected a mapping (name, file, params, and the options of the '
                         'model)')
    name, file = str(value.get('name') or ''), str(value.get('file') or '')
    try:
        cls = options_class(name or ('' if file else DEFAULT_MODEL), file)
    except ModelError as err:   # reported at model.file or model.name
        key = 'file' if file else 'name'
        raise ValidationError.from_exception_data('model', [{
            'type': 'value_error', 'loc': (key,), 'input': value.get(key),
            'ctx': {'error': ValueError(str(err))}}]) from None
    return cls.model_validate(dict(value, name=name or cls.declared_name()))


DEFAULT_MODEL = 'diff_drive'
# the model's options: a ModelOptions subclass chosen by model.name / model.file
ModelConfig = Annotated[SerializeAsAny[ModelOptions], WrapValidator(_model_options)]


def default_model():
    return options_class(DEFAULT_MODEL)()


class CostConfig(Strict):
    enabled: bool = Field(True, description='term on (off sets its weights to zero)')
    weight: List[float] = Field(default_factory=list, description='weights, one per state or '
                                'input as the term defines (empty: the term default)')

    @field_validator('weight')
    @classmethod
    def _non_negative(cls, v):
        if any(not (w >= 0.0) or w == float('inf') for w in v):
            raise ValueError('weights must be finite and >= 0')
        return v


class SolverSettings(Strict):
    """What every backend takes; each backend's own options are the section solver.<backend>."""

    name: Literal[BACKENDS] = Field('ipopt', description='backend: ipopt (interior point), '
                                    'fatrop (structured interior point), sqp (Gauss-Newton SQP '
                                    'to convergence), sqp_rti (one SQP step per control step)',
                                    json_schema_extra=STRUCTURAL)
    compiled: bool = Field(False, description='%s: generate C for the stage functions and link '
                           'it with the structured SQP (HPIPM QPs), built once with the system '
                           'compiler and cached by structure; with sqp_rti the node prepares '
                           'the next QP after each command' % ', '.join(COMPILABLE),
                           json_schema_extra=STRUCTURAL)
    max_iter: int = Field(100, ge=1, le=10000, description='iteration limit per solve',
                          json_schema_extra=STRUCTURAL)
    tol: float = Field(1e-6, gt=0, le=1, description='convergence tolerance',
                       json_schema_extra=STRUCTURAL)
    time_limit: float = Field(0.05, gt=0, le=10, description='time limit per solve [s]: a '
                              'solve that takes longer counts as failed and is not applied '
                              '(sqp and ipopt stop iterating at the limit, the compiled solver '
                              'checks it per iteration); a failed solve is no warm start')


# solver.<backend>: the options each registered backend declares
SolverConfig = create_model(
    'SolverConfig', __base__=SolverSettings,
    **{b.name: (b.Options, Field(default_factory=b.Options, description=b.description))
       for b in backends()})


class BoundsConfig(Strict):
    u_min: List[float] = Field(default_factory=list, description='input lower bounds (SI units '
                               'of each input; empty: model defaults); every input range must '
                               'contain 0, the safe command at rest')
    u_max: List[float] = Field(default_factory=list, description='input upper bounds')
    x_min: List[float] = Field(default_factory=list, description='state lower bounds (SI units '
                               'of each state; empty: model defaults)')
    x_max: List[float] = Field(default_factory=list, description='state upper bounds')


class ObstaclesConfig(Strict):
    max_count: int = Field(0, ge=0, le=32, description='obstacle slots in the problem '
                           '(circles, for bases)',
                           json_schema_extra=STRUCTURAL)
    x: List[float] = Field(default_factory=list, description='obstacle centres x [m]')
    y: List[float] = Field(default_factory=list, description='obstacle centres y [m]')
    radius: List[float] = Field(default_factory=list, description='obstacle radii [m]')
    margin: float = Field(0.1, ge=0, le=10, description='clearance added to each radius [m]')


class MPCConfig(Strict):
    model: ModelConfig = Field(default_factory=default_model)
    horizon: int = Field(20, ge=1, le=500, description='number of shooting intervals N',
                         json_schema_extra=STRUCTURAL)
    dt: float = Field(0.1, gt=0, le=10, description='shooting interval [s]',
                      json_schema_extra=STRUCTURAL)
    substeps: int = Field(1, ge=1, le=50, description='RK4 steps per interval',
                          json_schema_extra=STRUCTURAL)
    goal: List[float] = Field(default_factory=list, description="goal state in the model's "
                              'state order and SI units (empty: the initial state)')
    goal_tolerance: float = Field(0.05, gt=0, le=100, description='goal reached when the '
                                  'wrapped state error norm is below this [SI]')
    costs: Dict[str, CostConfig] = Field(default_factory=dict, description='cost terms by name '
                                         '(the set of terms is fixed at start; weights are not)')
    bounds: BoundsConfig = Field(default_factory=BoundsConfig)
    terminal_constraint: bool = Field(False, description='constrain the last state to the '
                                      'goal (switched by bounds: no rebuild)')
    terminal_tolerance: float = Field(0.0, ge=0, le=10, description='terminal constraint '
                                      'slack per state [SI]')
    obstacles: ObstaclesConfig = Field(default_factory=ObstaclesConfig)
    solver: SolverConfig = Field(default_factory=SolverConfig)
    rate_hz: float = Field(10.0, gt=0, le=2000, description='control rate [Hz]; a change '
                           'takes effect with the next period')
    control_trigger: Literal['timer', 'state'] = Field(
        'timer', description='timer: solve at rate_hz on the node clock; state: solve as each '
        'state message arrives (lowest latency), at most rate_hz, a periodic check then only '
        'guards against stale state', json_schema_extra=STRUCTURAL)
    realtime_priority: int = Field(
        0, ge=0, le=99, description='SCHED_FIFO priority of the node process (its threads) '
        'on Linux, 0: off (the normal scheduler); needs CAP_SYS_NICE or an rtprio limit, '
        'else the node warns and runs unchanged', json_schema_extra=STRUCTURAL)
    state_timeout: float = Field(0.5, gt=0, le=60, description='state older than this is '
                                 'stale and stops the robot [s]; the control period must be '
                                 'at most half of it (rate_hz * state_timeout >= 2)')
    max_clock_offset: float = Field(0.5, ge=0, le=10, description='a state stamped further '
                                    'ahead of the node clock than this is refused (the clocks '
                                    'disagree) [s of wall time: on a simulated clock running '
                                    'faster than real time, times its rate]; a state older '
                                    'than state_timeout by its stamp is stale')
    fallback_steps: int = Field(5, ge=0, le=1000, description='control steps to follow the '
                                'previous plan after a failed solve before the safe command')
    twist_stamped: Literal['auto', 'true', 'false'] = Field(
        'auto', description="Twist-commanded models: cmd_vel as TwistStamped ('true'), Twist "
        "('false'), or 'auto': the type the driver subscribes to on the graph (commands go out "
        'once a subscriber shows); it fixes the topic type', json_schema_extra=STRUCTURAL)
    hold_position: bool = Field(True, description='arms: the safe command holds against '
                                'gravity (effort interfaces); off: zero')
    publish_joint_trajectory: bool = Field(False, description='arms: also publish the '
                                           'predicted horizon as a JointTrajectory')
    prediction_rate_hz: float = Field(10.0, ge=0, le=2000, description='rate of the '
                                      'predicted path/trajectory for display [Hz] (0: every '
                                      'step); joint_trajectory streaming is never throttled')
    sensitivity_rate_hz: float = Field(0.0, ge=0, le=100, description='publish the '
                                       "sensitivities of the step's solve on ~/sensitivity "
                                       '(dV/dw, du0/dw per weight entry, du0/dx0) at most this '
                                       'often [Hz]; 0: off (they cost about one solve more)')
    frame_id: str = Field('odom', description='frame of goals and predicted paths')
    managed: bool = Field(False, description='run as a lifecycle node: configure builds or '
                          'loads the solver, activate starts control, deactivate sends the '
                          'safe command and stops, cleanup frees; false: the node runs those '
                          'transitions itself at start', json_schema_extra=STRUCTURAL)
    diagnostics_period: float = Field(1.0, ge=0.1, le=60, description='period of the '
                                      'aggregated status on /diagnostics [s] (sooner when '
                                      'the level gets worse); per-step telemetry goes on '
                                      '~/telemetry')
    follow_estimates: bool = Field(False, description='take the model parameters from '
                                   'estimated_parameters (estimator_node) as they arrive, '
                                   'as parameter changes (no rebuild)')

    @field_validator('twist_stamped', mode='before')
    @classmethod
    def _bool_as_choice(cls, v):
        return ('true' if v else 'false') if isinstance(v, bool) else v

    @field_validator('costs')
    @classmethod
    def _known_terms(cls, v):
        unknown = [k for k in v if k not in TERMS]
        if unknown:
            raise ValueError('unknown cost term(s) %s; known: %s' % (unknown, ', '.join(TERMS)))
        return v

    @model_validator(mode='after')
    def _consistent(self):
        """Rules across fields (pydantic does not run field validators on defaults)."""
        if not self.costs:
            raise ValueError('no cost term configured (costs.<term>: %s); is this the '
                             'parameter file of the node?' % ', '.join(TERMS))
        if self.solver.compiled and self.solver.name not in COMPILABLE:
            raise ValueError('solver.compiled: compiled mode is available for %s, not %s'
                             % (', '.join(COMPILABLE), self.solver.name))
        if self.rate_hz * self.state_timeout < 2.0:
            raise ValueError('rate_hz = %g with state_timeout = %g s: the control period must '
                             'be at most half the state timeout (rate_hz >= %g)'
                             % (self.rate_hz, self.state_timeout, 2.0 / self.state_timeout))
        return self


def _describe(err):
    """Turn a pydantic error into: key, value, what is allowed."""
    parts = []
    for e in err.errors():
        key = '.'.join(str(x) for x in e['loc']) or '<root>'
        value = e.get('input')
        shown = repr(value) if not isinstance(value, dict) else '{...}'
        msg = e['msg']
        if msg.startswith('Value error, '):
            msg = msg[len('Value error, '):]
        if e['type'] == 'extra_forbidden':
            msg = 'unknown key'
        parts.append(msg if key == '<root>' else '%s = %s: %s' % (key, shown[:80], msg))
    return '; '.join(parts)


def validate(schema, data, source, dotted=True):
    """Validate a plain (possibly dotted, unless ``dotted`` is False) dict into ``schema``, or
    raise ConfigError naming the key, the value and the rule."""
    if not isinstance(data, dict):
        raise ConfigError('%s: expected a mapping of parameters, got %s'
                          % (source, type(data).__name__))
    try:
        return schema.model_validate(unflatten(data) if dotted else data)
    except ValidationError as err:
        raise ConfigError('%s: %s' % (source, _describe(err))) from None


def parse(data, source='config'):
    """Validate a plain dict into an MPCConfig, or raise ConfigError naming the problem."""
    return validate(MPCConfig, data, source)


def unflatten(data):
    """Turn ROS-style dotted keys ('costs.effort.weight') into nested dicts."""
    out = {}
    for key, value in data.items():
        if isinstance(value, dict):
            value = unflatten(value)
        node, parts = out, str(key).split('.')
        for part in parts[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise ConfigError('key %s: %r is both a value and a group' % (key, part))
        if isinstance(value, dict) and isinstance(node.get(parts[-1]), dict):
            node[parts[-1]].update(value)
        else:
            node[parts[-1]] = value
    return out


def _merge(base, changes):
    for key, value in changes.items():
        if isinstance(value, dict):
            _merge(base.setdefault(key, {}), value)
            continue
        node, parts = base, key.split('.')
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = value


def with_changes(cfg, changes, source='changes'):
    """A new MPCConfig: ``cfg`` with ``changes`` (nested or dotted keys) applied, validated."""
    merged = cfg.model_dump()
    _merge(merged, changes)
    return parse(merged, source)


def node_section(document, node='mpc_node', source='config'):
    """The ``ros__parameters`` mapping for ``node`` (or '/**') of a ROS 2 parameter file."""
    if not isinstance(document, dict):
        raise ConfigError('%s: top level must be a mapping like "%s: ros__parameters: ..."'
                          % (source, node))
    for key in (node, '/' + node, '/**', '**'):
        section = document.get(key)
        if section is not None:
            if not isinstance(section, dict) or 'ros__parameters' not in section:
                raise ConfigError('%s: %s must hold a ros__parameters mapping' % (source, key))
            return section['ros__parameters'] or {}
    raise ConfigError('%s: no section for node %s (found: %s)'
                      % (source, node, ', '.join(map(str, document)) or 'nothing'))


def read_yaml(path):
    try:
        with open(path) as f:
            return yaml.safe_load(f)
    except OSError as err:
        raise ConfigError('%s: cannot read: %s' % (path, err.strerror)) from None
    except yaml.YAMLError as err:
        mark, problem = getattr(err, 'problem_mark', None), getattr(err, 'problem', None)
        where = ' at line %d, column %d' % (mark.line + 1, mark.column + 1) if mark else ''
        text = problem or str(err).splitlines()[0]
        if '\\t' in text or 'tab' in text:
            text += ' (YAML indents with spaces, not tabs)'
        raise ConfigError('%s: malformed YAML%s: %s' % (path, where, text)) from None


def load(path, node='mpc_node'):
    """Load and validate the ``node`` section of a parameter file."""
    return parse(node_section(read_yaml(path), node, str(path)), str(path))
