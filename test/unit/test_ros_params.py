"""ROS parameters derived from the pydantic schemas (no node, no DDS)."""
import array
import glob
import os
import sys

import pytest
from rcl_interfaces.msg import ParameterType as T

from casadi_mpc.core.config import MPCConfig, node_section, parse, read_yaml
from casadi_mpc.core.controller import STRUCTURAL
from casadi_mpc.core import sim_config
from casadi_mpc.ros import params

CONFIGS = sorted(glob.glob(os.path.join(os.path.dirname(__file__), '..', '..', 'config',
                                        '*.yaml')))


def flat(mapping, prefix=''):
    """A nested ros__parameters mapping as ROS sees it: dotted names."""
    out = {}
    for key, value in mapping.items():
        if isinstance(value, dict):
            out.update(flat(value, prefix + key + '.'))
        else:
            out[prefix + key] = value
    return out


def by_name(spec_list):
    return {s.name: s for s in spec_list}


def test_every_schema_leaf_becomes_a_parameter():
    specs = by_name(params.specs(MPCConfig, ['costs.effort.weight']))
    leaves = set(flat(MPCConfig(costs={'effort': {}}).model_dump(exclude={'costs'})))
    leaves -= {k for k in leaves if k.startswith('model.params')}
    assert leaves <= set(specs)
    assert {'costs.effort.enabled', 'costs.effort.weight'} <= set(specs)


def test_types_defaults_and_empty_lists():
    specs = by_name(params.specs(MPCConfig, []))
    assert specs['horizon'].type == T.PARAMETER_INTEGER and specs['horizon'].default == 20
    assert specs['dt'].type == T.PARAMETER_DOUBLE
    assert specs['terminal_constraint'].type == T.PARAMETER_BOOL
    assert specs['frame_id'].type == T.PARAMETER_STRING
    assert specs['goal'].type == T.PARAMETER_DOUBLE_ARRAY and specs['goal'].default == []
    assert specs['model.joint_names'].type == T.PARAMETER_STRING_ARRAY
    assert not any(n.startswith('costs.') for n in specs)


def test_read_only_follows_structural_fields():
    specs = by_name(params.specs(MPCConfig, ['costs.effort.weight']))
    for name, spec in specs.items():
        assert spec.read_only == (name in STRUCTURAL), name
    assert specs['solver.time_limit'].read_only is False
    assert specs['costs.effort.weight'].read_only is False


def test_ranges_units_and_choices_in_descriptors():
    specs = by_name(params.specs(MPCConfig, []))
    d = params.descriptor(specs['horizon'])
    assert (d.integer_range[0].from_value, d.integer_range[0].to_value) == (1, 500)
    assert d.read_only and 'read-only' in d.description
    d = params.descriptor(specs['solver.time_limit'])
    assert (d.floating_point_range[0].from_value, d.floating_point_range[0].to_value) == \
        (0.0, 10.0)
    assert '[s]' in d.description and '> 0' in d.additional_constraints
    d = params.descriptor(specs['solver.name'])
    assert 'sqp_rti' in d.additional_constraints and d.type == T.PARAMETER_STRING
    d = params.descriptor(specs['frame_id'])
    assert not d.floating_point_range and not d.integer_range


def test_one_sided_range():
    spec = params.Spec('x', T.PARAMETER_DOUBLE, 1.0, low=0.0)
    rng = params.descriptor(spec).floating_point_range[0]
    assert rng.from_value == 0.0 and rng.to_value == sys.float_info.max
    spec = params.Spec('n', T.PARAMETER_INTEGER, 1, high=5)
    assert params.descriptor(spec).integer_range[0].from_value == -params.INT_MAX


def test_dict_entries_come_from_the_overrides():
    names = ['costs.effort.weight', 'costs.terminal.enabled', 'costs.terminal.weight']
    specs = by_name(params.specs(MPCConfig, names))
    costs = sorted(n for n in specs if n.startswith('costs.'))
    assert costs == ['costs.effort.enabled', 'costs.effort.weight', 'costs.terminal.enabled',
                     'costs.terminal.weight']


@pytest.mark.parametrize('ptype, given, expected', [
    (T.PARAMETER_DOUBLE, 10, 10.0),
    (T.PARAMETER_DOUBLE, 0.5, 0.5),
    (T.PARAMETER_INTEGER, 20.0, 20),
    (T.PARAMETER_DOUBLE_ARRAY, [1, 2.5], [1.0, 2.5]),
    (T.PARAMETER_DOUBLE_ARRAY, array.array('d', [1.0]), [1.0]),
    (T.PARAMETER_DOUBLE_ARRAY, (), []),
    (T.PARAMETER_DOUBLE_ARRAY, None, []),   # an empty list in a parameter file arrives unset
    (T.PARAMETER_STRING_ARRAY, None, []),
    (T.PARAMETER_STRING_ARRAY, ('a', 'b'), ['a', 'b']),
    (T.PARAMETER_BOOL, True, True),
])
def test_coerce(ptype, given, expected):
    value = params.coerce(params.Spec('p', ptype, None), given)
    assert value == expected and type(value) is type(expected)


@pytest.mark.parametrize('ptype, given', [
    (T.PARAMETER_DOUBLE, 'fast'), (T.PARAMETER_DOUBLE, True), (T.PARAMETER_INTEGER, 2.5),
    (T.PARAMETER_BOOL, 1), (T.PARAMETER_DOUBLE_ARRAY, ['a']), (T.PARAMETER_STRING, 3)])
def test_coerce_rejects_wrong_types_naming_the_parameter(ptype, given):
    with pytest.raises(TypeError, match='parameter p'):
        params.coerce(params.Spec('p', ptype, None), given)


def test_unknown_names_are_found_ros_owned_ignored():
    specs = params.specs(MPCConfig, [])
    names = ['horizon', 'horizn', 'use_sim_time', 'qos_overrides./odom.depth', 'solver.nme']
    assert params.unknown(names, specs) == ['horizn', 'solver.nme']


def test_model_param_specs_carry_units():
    from casadi_mpc.core.models import build_model
    specs = by_name(params.model_param_specs(build_model('planar_arm', links=2)))
    assert specs['model.params.mass1'].default == 1.0
    assert '[kg]' in specs['model.params.mass1'].description
    assert specs['model.params.gravity'].type == T.PARAMETER_DOUBLE


def test_changes_from_set_requests():
    from rclpy.parameter import Parameter
    specs = by_name(params.specs(MPCConfig, ['costs.effort.weight']))
    request = [Parameter('costs.effort.weight', value=[1, 2]),
               Parameter('use_sim_time', value=True)]
    assert params.changes(request, specs) == {'costs.effort.weight': [1.0, 2.0]}
    with pytest.raises(TypeError):
        params.changes([Parameter('rate_hz', value='fast')], specs)


def test_values_sent_as_other_types_become_the_declared_ones():
    from rclpy.parameter import Parameter
    specs = by_name(params.specs(MPCConfig, []))
    refused = {}
    sent = [Parameter('bounds.u_min', Parameter.Type.INTEGER_ARRAY, [-1, -2]),
            Parameter('bounds.x_min', Parameter.Type.BOOL_ARRAY, []),
            Parameter('rate_hz', Parameter.Type.INTEGER, 20),
            Parameter('bounds.u_max', Parameter.Type.STRING, 'fast')]
    got = params.to_declared_types(sent, specs, refused)
    assert [(p.type_, p.value) for p in got[:3]] == [
        (Parameter.Type.DOUBLE_ARRAY, [-1.0, -2.0]), (Parameter.Type.DOUBLE_ARRAY, []),
        (Parameter.Type.DOUBLE, 20.0)]
    assert list(refused) == ['bounds.u_max']
    with pytest.raises(TypeError, match='bounds.u_max'):
        params.changes(got, specs, refused)
    assert refused == {}


def test_values_in_force_of_dotted_names():
    from casadi_mpc.core.config import load
    cfg = load(CONFIGS[0])
    got = params.values_of(cfg, ['rate_hz', 'solver.name', 'nothing.here'])
    assert got == {'rate_hz': cfg.rate_hz, 'solver.name': cfg.solver.name}


@pytest.mark.parametrize('path', CONFIGS, ids=os.path.basename)
def test_shipped_yaml_round_trips_through_the_parameters(path):
    """What the YAML says reaches the config unchanged when it goes through the parameters."""
    document = read_yaml(path)
    for node, schema, parser, load in (
            ('mpc_node', MPCConfig, parse, lambda p: parse(node_section(read_yaml(p)))),
            ('sim_node', sim_config.SimConfig, sim_config.parse, sim_config.load)):
        given = flat(node_section(document, node))
        names = [n for n in given if not n.startswith(params.MODEL_PARAMS)]
        specs = params.specs(schema, names)
        assert params.unknown(names, specs) == []
        values = {s.name: params.coerce(s, given[s.name]) if s.name in given else s.default
                  for s in specs}
        values.update({n: float(v) for n, v in given.items()
                       if n.startswith(params.MODEL_PARAMS)})
        assert parser(values) == load(path)


def test_command_line_overrides_in_the_order_rcl_applies_them(tmp_path):
    from casadi_mpc.ros.param_files import overrides
    first = tmp_path / 'first.yaml'
    first.write_text('/**:\n  ros__parameters:\n    rate_hz: 5.0\n    frame_id: map\n'
                     'mpc_node:\n  ros__parameters:\n    rate_hz: 20.0\n    costs:\n'
                     '      effort:\n        weight: [0.1, 0.2]\n    bounds:\n'
                     '      x_min: []\n'
                     'sim_node:\n  ros__parameters:\n    sim_rate_hz: 50.0\n')
    second = tmp_path / 'second.yaml'
    second.write_text('/robot1/mpc_node:\n  ros__parameters:\n    horizon: 30\n'
                      'mpc_node:\n  ros__parameters:\n    horizon: 10\n')
    argv = ['prog', '--ros-args', '--params-file', str(first), '--params-file', str(second),
            '-p', 'goal:=[1, 2, 0]', '-p', 'rate_hz:=25.0', '-r', '__node:=mpc_node']
    got = overrides(argv, 'mpc_node')
    # the node's own section wins over the wildcard, later files and -p over earlier ones
    assert got == {'rate_hz': 25.0, 'frame_id': 'map', 'costs.effort.weight': [0.1, 0.2],
                   'bounds.x_min': [], 'horizon': 10, 'goal': [1, 2, 0]}
    # under a namespace, the namespaced section and the wildcard apply, not the bare name
    spaced = overrides(argv[:6] + ['-r', '__ns:=/robot1'], 'mpc_node')
    assert spaced['horizon'] == 30 and spaced['rate_hz'] == 5.0
    # a remapped name takes that name's sections; arguments outside --ros-args are not ROS's
    assert overrides(['prog', '-p', 'x:=1', '--ros-args', '--params-file', str(first), '-r',
                      '__node:=sim_node'], 'mpc_node') == {'rate_hz': 5.0, 'frame_id': 'map',
                                                           'sim_rate_hz': 50.0}
