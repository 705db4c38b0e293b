"""Parameters as users meet them with ros2 param: dump and load back, values as the tools send
them, read-only topics, the goal in force, live rate changes, quiet repeated sets."""
import time

import yaml
from geometry_msgs.msg import PoseStamped
from rcl_interfaces.msg import Parameter as ParameterMsg, ParameterEvent, ParameterType, \
    ParameterValue
from rcl_interfaces.srv import ListParameters, SetParameters

from casadi_mpc.bringup import default_params_file, NodeSpec
from casadi_mpc.ros.conversions import planar_pose

ROS_OWNED = ('use_sim_time', 'start_type_description_service', 'qos_overrides')


def all_parameters(probe, node):
    names = probe.call(ListParameters, '/%s/list_parameters' % node,
                       ListParameters.Request(), timeout=30).result.names
    names = sorted(n for n in names if not n.startswith(ROS_OWNED))
    return dict(zip(names, probe.get_parameters(node, names, timeout=30)))


def nested(flat):
    """Dotted names -> the nested mapping ``ros2 param dump`` writes."""
    out = {}
    for name, value in flat.items():
        node, parts = out, name.split('.')
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = list(value) if isinstance(value, (list, tuple)) or \
            hasattr(value, 'tolist') else value
    return out


def test_a_dump_loads_back_with_the_same_values(systems, probe, tmp_path):
    for robot in ('diff_drive', 'planar_arm'):
        first = systems.controller_only(robot)
        dumped = all_parameters(probe, 'mpc_node')
        assert ('model.joint_names' in dumped) == (robot == 'planar_arm')   # model options
        assert 'bounds.x_min' in dumped
        assert all(v is not None for v in dumped.values()), dumped
        path = tmp_path / ('%s_dump.yaml' % robot)
        path.write_text(yaml.safe_dump({'/copy': {'ros__parameters': nested(dumped)}}))
        copy = systems.start([NodeSpec('mpc_node', 'casadi_mpc.ros.mpc_node', 'copy',
                                       params_files=[str(path)])])
        probe.wait_for(lambda: probe.get_parameters('copy', ['horizon'], timeout=30), 30,
                       'the copy running', copy.check)
        assert all_parameters(probe, 'copy') == dumped
        first.stop()
        copy.stop()


def raw(name, ptype, **fields):
    return ParameterMsg(name=name, value=ParameterValue(type=ptype, **fields))


def set_raw(probe, node, *parameters):
    request = SetParameters.Request(parameters=list(parameters))
    return probe.call(SetParameters, '/%s/set_parameters' % node, request).results


def test_values_as_the_tools_send_them(systems, probe, tmp_path):
    path = tmp_path / 'params.yaml'
    text = open(default_params_file('diff_drive')).read()
    path.write_text(text.replace('u_min: [-1.0, -2.0]', 'u_min: []').replace(
        'weight: [0.1, 0.1]', 'weight: []'))
    system = systems.start([NodeSpec('mpc_node', 'casadi_mpc.ros.mpc_node', 'mpc_node',
                                     params_files=[str(path)],
                                     parameters={'use_sim_time': False})])
    diag = probe.diagnostics()
    probe.wait_for(lambda: len(diag) > 0, 30, 'the controller running', system.check)
    assert probe.get_parameters('mpc_node', ['bounds.u_min'])[0] == []
    # ros2 param set ... "[1, 1]" (integers), "[]" (an empty bool array), 2 for a double
    results = set_raw(probe, 'mpc_node',
                      raw('bounds.x_max', ParameterType.PARAMETER_INTEGER_ARRAY,
                          integer_array_value=[5, 5, 4]))
    assert results[0].successful, results[0].reason
    results = set_raw(probe, 'mpc_node',
                      raw('bounds.x_max', ParameterType.PARAMETER_BOOL_ARRAY, bool_array_value=[]),
                      raw('state_timeout', ParameterType.PARAMETER_INTEGER, integer_value=2))
    assert all(r.successful for r in results), [r.reason for r in results]
    assert probe.get_parameters('mpc_node', ['bounds.x_max', 'state_timeout']) == [[], 2.0]
    # a wrong value is refused with the node's reason, nothing applied
    (bad,) = set_raw(probe, 'mpc_node', raw('bounds.u_max', ParameterType.PARAMETER_STRING,
                                            string_value='fast'))
    assert not bad.successful and 'bounds.u_max' in bad.reason


def test_topic_types_are_read_only_and_the_goal_parameter_follows_goals(systems, probe):
    system = systems.controller_only('diff_drive')
    diag = probe.diagnostics()
    probe.wait_for(lambda: len(diag) > 0, 30, 'the controller running', system.check)
    (result,) = probe.set_parameters('mpc_node', {'twist_stamped': True})
    assert not result.successful
    events = probe.record(ParameterEvent, '/parameter_events')

    def goal_events():
        return [e for e in events.msgs if e.node == '/mpc_node' and
                any(p.name == 'goal' for p in e.changed_parameters)]
    goal = probe.publisher(PoseStamped, 'goal_pose')
    probe.publish_until(goal, planar_pose(1.5, -0.5, 0.0), lambda: diag.value('goal') ==
                        '1.5 -0.5 0', 10, 'the goal accepted', system.check)
    assert probe.get_parameters('mpc_node', ['goal'])[0] == [1.5, -0.5, 0.0]
    probe.wait_for(lambda: len(goal_events()) == 1, 10, 'the goal parameter event')
    for _ in range(20):   # the same goal again and again: nothing changes, nothing is said
        goal.publish(planar_pose(1.5, -0.5, 0.0))
    # a new goal behind them on the same reliable topic: once it is taken, so were they
    probe.publish_until(goal, planar_pose(1.0, 0.0, 0.0), lambda: diag.value('goal') ==
                        '1 0 0', 10, 'the next goal accepted', system.check)
    probe.wait_for(lambda: len(goal_events()) >= 2, 10, 'the second goal parameter event')
    assert len(goal_events()) == 2
    assert system['mpc_node'].output().count('new goal') <= 2


def test_rate_changes_take_effect_at_once_and_repeated_sets_are_quiet(systems, probe):
    system = systems.controller_only('diff_drive', mpc={'rate_hz': 4.0})
    diag = probe.diagnostics()
    probe.wait_for(lambda: len(diag) > 2, 30, 'the controller running', system.check)
    (result,) = probe.set_parameters('mpc_node', {'rate_hz': 40.0})
    assert result.successful
    t0 = time.monotonic()
    probe.wait_for(lambda: len(diag.since(t0)) >= 20, 5, 'steps at the new rate', system.check)
    (low,) = probe.set_parameters('mpc_node', {'rate_hz': 0.05})
    assert not low.successful and 'state timeout' in low.reason
    for _ in range(50):
        assert probe.set_parameters('mpc_node', {'rate_hz': 40.0})[0].successful
    assert system['mpc_node'].output().count('parameters changed') == 1
