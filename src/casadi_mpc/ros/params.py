"""ROS 2 parameters derived from a pydantic schema (MPCConfig, SimConfig).

The schema is the one place that defines names, types, defaults, units and bounds:

- nested models become dotted names (``solver.time_limit``);
- dict fields (``costs``, ``model.params``) get one entry per key found in the parameter
  overrides (the YAML), e.g. ``costs.effort.weight``; the node may add keys it knows (the
  model's parameter names);
- lists are typed arrays; an empty default is declared with the schema's type (ROS cannot infer
  a type from ``[]``), left unset when read-only, and read back as ``[]``;
- ``ge/gt/le/lt`` become descriptor ranges, ``Literal`` choices go into the constraints text,
  fields marked ``structural`` are read-only.

:func:`specs` and :func:`coerce` are pure (unit-tested without a node); :func:`declare` and
:func:`read` talk to an ``rclpy`` node.
"""
import array
import sys
import typing
from dataclasses import dataclass

from pydantic import BaseModel
from rcl_interfaces.msg import FloatingPointRange, IntegerRange, ParameterDescriptor, \
    ParameterType, SetParametersResult
from rclpy.exceptions import InvalidParameterValueException, ParameterUninitializedException
from rclpy.parameter import Parameter

from ..core.config import ConfigError
from ..core.models import build_model

INT_MAX = 2 ** 63 - 1
SCALARS = {bool: ParameterType.PARAMETER_BOOL, int: ParameterType.PARAMETER_INTEGER,
           float: ParameterType.PARAMETER_DOUBLE, str: ParameterType.PARAMETER_STRING}
ARRAYS = {bool: ParameterType.PARAMETER_BOOL_ARRAY,
          int: ParameterType.PARAMETER_INTEGER_ARRAY,
          float: ParameterType.PARAMETER_DOUBLE_ARRAY,
          str: ParameterType.PARAMETER_STRING_ARRAY}
# parameters rclpy or ROS tooling declare on every node
ROS_OWNED = ('use_sim_time', 'start_type_description_service', 'qos_overrides.')


@dataclass(frozen=True)
class Spec:
    """One ROS parameter: name, ParameterType, default and descriptor data."""

    name: str
    type: int
    default: object
    description: str = ''
    read_only: bool = False
    low: object = None          # inclusive range ends (ROS ranges are inclusive)
    high: object = None
    constraints: str = ''


# ---------------------------------------------------------------------------- derivation
def specs(schema, overrides=(), prefix=''):
    """Specs for every field of the pydantic model class ``schema``.

    ``overrides``: names of the parameters given by the user (they decide the dict keys).
    """
    names = list(overrides)
    out = []
    for field_name, field in schema.model_fields.items():
        name = prefix + field_name
        annotation = field.annotation
        structural = bool((field.json_schema_extra or {}).get('structural'))
        if _is_model(annotation):
            out += specs(annotation, names, name + '.')
        elif typing.get_origin(annotation) is dict:
            out += _dict_specs(name, annotation, field, names)
        else:
            default = field.get_default(call_default_factory=True)
            out.append(_leaf(name, annotation, field, default, structural))
    return out


def _is_model(annotation):
    return isinstance(annotation, type) and issubclass(annotation, BaseModel)


def _dict_specs(name, annotation, field, names):
    """One group per key of a dict field, keys taken from the override names."""
    _, value_type = typing.get_args(annotation)
    keys = sorted({n[len(name) + 1:].split('.')[0] for n in names if n.startswith(name + '.')})
    out = []
    for key in keys:
        if _is_model(value_type):
            out += specs(value_type, names, '%s.%s.' % (name, key))
        else:
            out.append(_leaf('%s.%s' % (name, key), value_type, field, value_type(),
                             False, '%s: %s' % (key, field.description or '')))
    return out


def _leaf(name, annotation, field, default, read_only, description=None):
    ptype, choices = _ros_type(name, annotation)
    low, high, text = _range(field, ptype)
    if choices:
        text = 'one of: ' + ', '.join(map(str, choices))
    description = description if description is not None else (field.description or '')
    if read_only:
        description += ' (read-only: fixes the problem structure)'
    if ptype in ARRAYS.values() and default == [] and 'empty' not in description:
        description += ' (empty or unset: default)'
    return Spec(name, ptype, default, description, read_only, low, high, text)


def _ros_type(name, annotation):
    origin = typing.get_origin(annotation)
    if origin is typing.Literal:
        choices = typing.get_args(annotation)
        return SCALARS[type(choices[0])], choices
    if origin is list:
        (item,) = typing.get_args(annotation)
        if item in ARRAYS:
            return ARRAYS[item], ()
    if annotation in SCALARS:
        return SCALARS[annotation], ()
    raise TypeError('field %s: type %s has no ROS parameter type' % (name, annotation))


def _range(field, ptype):
    """Inclusive (low, high) and a text for ge/gt/le/lt constraints of numeric fields."""
    if ptype not in (ParameterType.PARAMETER_INTEGER, ParameterType.PARAMETER_DOUBLE):
        return None, None, ''
    low = high = None
    text = []
    for m in field.metadata:
        for attr, op in (('ge', '>='), ('gt', '>'), ('le', '<='), ('lt', '<')):
            value = getattr(m, attr, None)
            if value is not None:
                text.append('%s %s' % (op, value))
                if attr in ('ge', 'gt'):
                    low = value
                else:
                    high = value
    return low, high, ', '.join(text)


def descriptor(spec):
    d = ParameterDescriptor(name=spec.name, type=spec.type, description=spec.description,
                            additional_constraints=spec.constraints, read_only=spec.read_only)
    if spec.low is None and spec.high is None:
        return d
    if spec.type == ParameterType.PARAMETER_INTEGER:
        low = int(spec.low) if spec.low is not None else -INT_MAX
        high = int(spec.high) if spec.high is not None else INT_MAX
        d.integer_range = [IntegerRange(from_value=low, to_value=high, step=0)]
    else:
        low = float(spec.low) if spec.low is not None else -sys.float_info.max
        high = float(spec.high) if spec.high is not None else sys.float_info.max
        d.floating_point_range = [FloatingPointRange(from_value=low, to_value=high, step=0.0)]
    return d


# ---------------------------------------------------------------------------- values
def coerce(spec, value):
    """Bring a user value to the spec's type (YAML ``10`` for a double, int lists for double
    arrays, arrays from the wire). Raises TypeError naming the parameter."""
    t = spec.type
    if isinstance(value, (array.array, tuple)):
        value = list(value)
    if value is None and t in ARRAYS.values():
        value = []   # an empty list in a parameter file arrives unset
    try:
        if t == ParameterType.PARAMETER_DOUBLE and _number(value):
            return float(value)
        if t == ParameterType.PARAMETER_INTEGER and _number(value) and float(value).is_integer():
            return int(value)
        if t == ParameterType.PARAMETER_BOOL and isinstance(value, bool):
            return value
        if t == ParameterType.PARAMETER_STRING and isinstance(value, str):
            return value
        if t == ParameterType.PARAMETER_DOUBLE_ARRAY and isinstance(value, list) \
                and all(_number(v) for v in value):
            return [float(v) for v in value]
        if t == ParameterType.PARAMETER_INTEGER_ARRAY and isinstance(value, list) \
                and all(_number(v) and float(v).is_integer() for v in value):
            return [int(v) for v in value]
        if t == ParameterType.PARAMETER_STRING_ARRAY and isinstance(value, list) \
                and all(isinstance(v, str) for v in value):
            return list(value)
        if t == ParameterType.PARAMETER_BOOL_ARRAY and isinstance(value, list) \
                and all(isinstance(v, bool) for v in value):
            return list(value)
    except (OverflowError, ValueError):
        pass
    raise TypeError('parameter %s = %r: expected %s' % (spec.name, value, type_name(t)))


def _number(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def type_name(ptype):
    return Parameter.Type(ptype).name.lower().replace('_', ' ')


def unknown(names, spec_list):
    """Override names that match no spec (typos, wrong section), ignoring ROS-owned ones."""
    known = {s.name for s in spec_list}
    return sorted(n for n in names if n not in known and not n.startswith(ROS_OWNED))


# ---------------------------------------------------------------------------- node side
def declare(node, spec_list, given):
    """Declare ``spec_list`` on ``node`` with the coerced values of ``given`` (name -> value:
    the parameter files and ``-p`` of its command line, ``param_files.overrides``); returns
    name -> value."""
    values = {}
    for spec in spec_list:
        value = coerce(spec, given[spec.name]) if spec.name in given else spec.default
        declare_one(node, spec, value)
        values[spec.name] = value
    return values


def declare_one(node, spec, value):
    """Declare one parameter holding ``value``; every parameter has a value, so that
    get_parameters (and ``ros2 param dump``) answer for all of them."""
    ptype = Parameter.Type(spec.type)
    if isinstance(value, list) and not value:
        if spec.read_only:
            # rclpy cannot declare a typed empty array, and a read-only parameter cannot be
            # set after its declaration: declared dynamically typed, holding []
            d = descriptor(spec)
            d.dynamic_typing = True
            node.declare_parameter(spec.name, [], d, ignore_override=True)
            return
        node.declare_parameter(spec.name, ptype, descriptor(spec), ignore_override=True)
        node.set_parameters([Parameter(spec.name, ptype, [])])
        return
    node.declare_parameter(spec.name, value, descriptor(spec), ignore_override=True)


def to_declared_types(parameters, by_name, refused):
    """A pre-set callback: requests as people and tools send them ([] as an empty bool array,
    [1, 1] as integers, 2 for a double) turned into the declared types, before rclpy checks
    the types. A value that cannot be turned is put in ``refused`` (name -> reason), for the
    set callback to refuse with the reason, instead of rclpy's bare type numbers."""
    out = []
    for p in parameters:
        spec = by_name.get(p.name)
        if spec is not None and not spec.read_only and p.type_ != Parameter.Type(spec.type):
            try:
                p = Parameter(p.name, Parameter.Type(spec.type), coerce(spec, p.value))
            except TypeError as err:
                refused[p.name] = str(err)
                p = Parameter(p.name, Parameter.Type(spec.type), spec.default)
        out.append(p)
    return out


def apply(parameters, by_name, refused, update, logger, throttle=2.0):
    """The body of a node's set-parameters callback: the requests as changes (see
    :func:`changes`), handed to ``update`` (which raises ConfigError to refuse them all);
    the applied changes logged. Returns the SetParametersResult and the changes applied."""
    try:
        requested = changes(parameters, by_name, refused)
        if requested:
            update(requested)
    except (ConfigError, TypeError) as err:
        return SetParametersResult(successful=False, reason=str(err)), {}
    if requested:
        logger.info('parameters changed: %s' % ', '.join(
            '%s = %s' % (k, requested[k]) for k in sorted(requested)),
            throttle_duration_sec=throttle)
    return SetParametersResult(successful=True), requested


def values_of(cfg, names):
    """The values in force of dotted parameter ``names`` in the config ``cfg`` (names it does
    not hold are left out)."""
    dump, out = cfg.model_dump(), {}
    for name in names:
        node = dump
        for part in name.split('.'):
            node = node.get(part) if isinstance(node, dict) else None
        if node is not None:
            out[name] = node
    return out


def read(node, spec_list):
    """Current values, name -> python value ([] for unset arrays)."""
    out = {}
    for spec in spec_list:
        try:
            value = node.get_parameter(spec.name).value
        except ParameterUninitializedException:
            value = []
        out[spec.name] = coerce(spec, value) if value is not None else spec.default
    return out


def changes(parameters, by_name, refused=None):
    """Set-parameter requests -> {dotted name: coerced value} for the names in ``by_name``.

    Raises TypeError on a value of the wrong type (also those the pre-set callback put in
    ``refused``, which is emptied)."""
    if refused:
        reasons = '; '.join(refused.values())
        refused.clear()
        raise TypeError(reasons)
    out = {}
    for p in parameters:
        spec = by_name.get(p.name)
        if spec is not None:
            out[p.name] = coerce(spec, p.value if p.value is not None else [])
    return out


# ---------------------------------------------------------------------------- whole configs
MODEL_PARAMS = 'model.params.'


def declare_config(node, schema, parse, given):
    """Declare ``schema``'s parameters on ``node`` with the values ``given`` (name -> value)
    and validate them with ``parse``.

    Returns (config, specs). Model parameters (``model.params.*``) are passed through to the
    config here and declared by :func:`declare_model_params` once the model is known.
    Raises ConfigError naming unknown or mistyped parameters.
    """
    names = [n for n in given if not n.startswith(MODEL_PARAMS)]
    spec_list = specs(schema, names)
    source = 'parameters of %s' % node.get_fully_qualified_name()
    bad = unknown(names, spec_list)
    if bad:
        raise ConfigError('%s: unknown parameter(s) %s' % (source, ', '.join(bad)))
    try:
        values = declare(node, spec_list, given)
        for name in given:
            if name.startswith(MODEL_PARAMS):
                spec = Spec(name, ParameterType.PARAMETER_DOUBLE, 0.0)
                values[name] = coerce(spec, given[name])
    except (TypeError, InvalidParameterValueException) as err:
        raise ConfigError('%s: %s' % (source, err)) from None
    return parse(values, source), spec_list


def model_param_specs(model):
    """One DOUBLE spec per model parameter, with its unit and default."""
    return [Spec(MODEL_PARAMS + s.name, ParameterType.PARAMETER_DOUBLE, float(s.default),
                 '%s model parameter %s [%s]' % (model.name, s.name, s.unit))
            for s in model.params]


def declare_model_params(node, model, given):
    spec_list = model_param_specs(model)
    declare(node, spec_list, given)
    return spec_list


def declare_with_model(node, schema, parse, given):
    """The whole start-up: declare ``schema``'s parameters with the values ``given``, build the
    model they name, declare its parameters, and validate everything. Returns (config, model,
    specs by name)."""
    cfg, spec_list = declare_config(node, schema, parse, given)
    try:
        model = build_model(cfg.model.name, **cfg.model.options())
    except (ValueError, KeyError, OSError) as err:
        raise ConfigError('model: %s' % err) from None
    unknown_params = sorted(set(cfg.model.params) - set(model.param_names))
    if unknown_params:
        raise ConfigError('model.params: unknown parameter(s) %s of model %s; known: %s'
                          % (', '.join(unknown_params), model.name,
                             ', '.join(model.param_names) or 'none'))
    spec_list += declare_model_params(node, model, given)
    cfg = parse(read(node, spec_list), 'parameters of %s' % node.get_fully_qualified_name())
    return cfg, model, {s.name: s for s in spec_list}
