"""Parameter declaration on real nodes: types, read-only, empty arrays, bad overrides."""
import pytest
import rclpy
from rcl_interfaces.msg import ParameterType as T
from rclpy.parameter import Parameter

from casadi_mpc.bringup import default_params_file, NodeSpec
from casadi_mpc.core.config import ConfigError, MPCConfig, load, parse
from casadi_mpc.ros import params


@pytest.fixture
def make_node(ros_env):
    context = rclpy.context.Context()
    rclpy.init(context=context, domain_id=int(ros_env['ROS_DOMAIN_ID']))
    nodes = []

    def make():
        node = rclpy.create_node('mpc_node_%d' % len(nodes), context=context)
        nodes.append(node)
        return node
    yield make
    for node in nodes:
        node.destroy_node()
    rclpy.try_shutdown(context=context)


def test_declared_types_values_and_read_only(make_node):
    node = make_node()
    cfg, specs = params.declare_config(node, MPCConfig, parse, {
        'rate_hz': 20, 'goal': [1, 2, 0], 'costs.effort.weight': [0.5, 0.5],
        'model.params.unused': 1})
    assert cfg.rate_hz == 20.0 and cfg.goal == [1.0, 2.0, 0.0]
    assert cfg.costs['effort'].weight == [0.5, 0.5]
    assert cfg.model.params == {'unused': 1.0}
    assert node.get_parameter('rate_hz').type_ == Parameter.Type.DOUBLE
    (d,) = node.describe_parameters(['horizon'])
    assert d.read_only and d.integer_range[0].to_value == 500
    # empty lists: every parameter holds a value (a dump answers for all of them); writable
    # ones are typed, read-only ones hold [] (rclpy cannot declare a typed empty array)
    assert node.describe_parameters(['bounds.u_min'])[0].type == T.PARAMETER_DOUBLE_ARRAY
    assert node.get_parameter('bounds.u_min').value == []
    assert list(node.get_parameter('model.joint_names').value) == []
    assert node.describe_parameters(['model.joint_names'])[0].read_only
    assert params.read(node, specs)['model.joint_names'] == []
    result = node.set_parameters([Parameter('horizon', value=5)])[0]
    assert not result.successful
    result = node.set_parameters([Parameter('bounds.u_min', value=[-0.5, -1.0])])[0]
    assert result.successful
    # values as tools send them: [1, 1] as integers, [] as an empty bool array, 2 for a double
    by_name = {s.name: s for s in specs}
    node.add_pre_set_parameters_callback(lambda ps: params.to_declared_types(ps, by_name, {}))
    for name, sent, stored in (('bounds.u_min', [-1, -1], [-1.0, -1.0]),
                               ('bounds.u_min', Parameter('x', Parameter.Type.BOOL_ARRAY, []),
                                []),
                               ('state_timeout', 2, 2.0)):
        value = sent.value if isinstance(sent, Parameter) else sent
        ptype = sent.type_ if isinstance(sent, Parameter) else Parameter.Type.from_parameter_value(
            sent)
        assert node.set_parameters([Parameter(name, ptype, value)])[0].successful, (name, sent)
        got = node.get_parameter(name)
        assert list(got.value) == stored if isinstance(stored, list) else got.value == stored
        assert got.type_ == Parameter.Type(by_name[name].type)


def test_unknown_and_mistyped_overrides_name_the_parameter(make_node):
    with pytest.raises(ConfigError, match='unknown parameter.*horizn'):
        params.declare_config(make_node(), MPCConfig, parse, {'horizn': 10})
    with pytest.raises(ConfigError, match='rate_hz'):
        params.declare_config(make_node(), MPCConfig, parse, {'rate_hz': 'fast'})
    with pytest.raises(ConfigError, match='horizon'):
        params.declare_config(make_node(), MPCConfig, parse, {'horizon': 0})


def test_yaml_file_gives_the_same_config_as_the_loader(systems, probe):
    """The node's parameters after --params-file equal config.load of that file."""
    path = default_params_file('diff_drive')
    spec = NodeSpec('mpc_node', 'casadi_mpc.ros.mpc_node', 'mpc_node', params_files=[path])
    system = systems.start([spec])
    names = ['horizon', 'goal', 'costs.terminal.weight', 'solver.name', 'rate_hz']
    got = dict(zip(names, probe.get_parameters('mpc_node', names, timeout=30)))
    system.check()
    cfg = load(path)
    assert got['horizon'] == cfg.horizon and list(got['goal']) == cfg.goal
    assert list(got['costs.terminal.weight']) == cfg.costs['terminal'].weight
    assert got['solver.name'] == cfg.solver.name and got['rate_hz'] == cfg.rate_hz


def test_node_with_a_bad_parameter_file_exits_with_the_reason(systems, tmp_path):
    bad = tmp_path / 'bad.yaml'
    bad.write_text('mpc_node:\n  ros__parameters:\n    horizn: 10\n    costs:\n'
                   '      effort:\n        weight: [0.1, 0.1]\n')
    spec = NodeSpec('mpc_node', 'casadi_mpc.ros.mpc_node', 'mpc_node', params_files=[str(bad)])
    system = systems.start([spec])
    assert system.wait_exit('mpc_node', 30) == 2
    system.stop()
    assert 'unknown parameter(s) horizn' in system['mpc_node'].output()
