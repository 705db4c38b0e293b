"""The system as data: node specs, arguments, remappings, command lines."""
import importlib.util
from pathlib import Path

import pytest

from casadi_mpc import bringup

LAUNCH_DIR = Path(__file__).resolve().parents[2] / 'launch'


def by_name(specs):
    return {s.name: s for s in specs}


def test_sim_runs_simulator_then_controller_on_sim_time():
    specs = bringup.system('sim', {'robot': 'planar_arm', 'real_time_factor': '2.5'})
    assert [s.name for s in specs] == ['sim_node', 'mpc_node']
    nodes = by_name(specs)
    assert nodes['sim_node'].parameters == {'publish_clock': True, 'real_time_factor': 2.5}
    assert nodes['mpc_node'].parameters['use_sim_time'] is True
    assert nodes['mpc_node'].params_files[0].endswith('config/planar_arm.yaml')
    assert Path(nodes['mpc_node'].params_files[0]).is_file()
    assert nodes['mpc_node'].module == 'casadi_mpc.ros.mpc_node'


def test_robot_remaps_onto_ros2_control():
    (mpc,) = bringup.system('robot', {'robot': 'diff_drive'})
    assert ('cmd_vel', '/diff_drive_controller/cmd_vel') in mpc.remappings
    assert mpc.parameters == {'use_sim_time': False, 'managed': False, 'twist_stamped': True}
    (arm,) = bringup.system('robot', {'robot': 'urdf_arm', 'remaps': 'joint_states:=/arm/js'})
    assert ('commands', '/forward_effort_controller/commands') in arm.remappings
    assert ('joint_states', '/arm/js') in arm.remappings
    assert ('joint_states', '/joint_states') not in arm.remappings


def test_namespace_rewrites_the_parameter_file_sections():
    import yaml
    (mpc,) = bringup.system('robot', {'robot': 'diff_drive', 'namespace': 'fleet/robot1'})
    with open(mpc.params_files[0]) as f:
        document = yaml.safe_load(f)
    assert set(document) == {'/fleet/robot1/mpc_node', '/fleet/robot1/sim_node',
                             '/fleet/robot1/estimator_node', '/fleet/robot1/safety_filter_node'}
    # a state named y stays a string for rcl (which reads a bare y as true)
    with open(mpc.params_files[0]) as f:
        assert "- 'y'" in f.read()
    (plain,) = bringup.system('robot', {'robot': 'diff_drive'})
    assert plain.params_files[0] == bringup.default_params_file('diff_drive')


def test_overrides_and_namespace_reach_the_command_line():
    specs = bringup.system('sim', {'namespace': 'robot1', 'use_sim_time': 'false',
                                   'remaps': 'goal_pose:=/goal', 'log_level': 'debug'},
                           {'mpc_node': {'goal': [1.0, 2.0, 0.0], 'solver.name': 'ipopt'}})
    mpc = by_name(specs)['mpc_node']
    args = mpc.ros_args()
    assert args[:3] == ['--ros-args', '-r', '__node:=mpc_node']
    assert ['-r', '__ns:=/robot1'] == args[3:5]
    assert '-p' in args and 'goal:=[1.0, 2.0, 0.0]' in args and 'use_sim_time:=false' in args
    assert 'solver.name:=ipopt' in args and 'goal_pose:=/goal' in args
    assert args[-2:] == ['--log-level', 'robot1.mpc_node:=debug']   # ours, not rcl's
    assert mpc.command(python='py')[:3] == ['py', '-m', 'casadi_mpc.ros.mpc_node']
    assert by_name(specs)['sim_node'].parameters['publish_clock'] is False


@pytest.mark.parametrize('args, message', [
    ({'robot': 'tank'}, 'robot'), ({'robots': 'x'}, 'unknown argument'),
    ({'params_file': '/nonexistent.yaml'}, 'does not exist'),
    ({'remaps': 'cmd_vel'}, 'from:=to'), ({'use_sim_time': 'maybe'}, 'true or false')])
def test_bad_arguments(args, message):
    with pytest.raises(ValueError, match=message):
        bringup.system('sim', args)


def test_an_argument_the_mode_would_ignore_is_refused():
    with pytest.raises(ValueError, match='real_time_factor applies to sim mode only'):
        bringup.system('robot', {'real_time_factor': '3.0'})
    # the launch files pass every declared argument, defaults included
    assert bringup.system('robot', {'real_time_factor': '1.0'})


def test_log_level_is_the_nodes_own():
    (mpc,) = bringup.system('robot', {'log_level': 'debug'})
    assert mpc.ros_args()[-2:] == ['--log-level', 'mpc_node:=debug']


def test_mode_checked():
    with pytest.raises(ValueError, match='mode'):
        bringup.system('hardware')


def test_remaps_and_values():
    assert bringup.parse_remaps('a:=b, c=d  e:=/f') == [('a', 'b'), ('c', 'd'), ('e', '/f')]
    assert bringup.yaml_value([1, 2.5, True]) == '[1, 2.5, true]'
    assert bringup.yaml_value(0.1) == '0.1' and bringup.yaml_value('odom') == 'odom'


def test_every_launch_argument_has_a_description():
    for name, (default, text) in bringup.ARGUMENTS.items():
        assert isinstance(default, str) and len(text) > 20, name


@pytest.mark.parametrize('mode', bringup.MODES)
def test_launch_files_build_descriptions(mode):
    pytest.importorskip('launch_ros', reason='launch_ros is not installed')
    path = LAUNCH_DIR / ('%s.launch.py' % mode)
    spec = importlib.util.spec_from_file_location('launch_file_' + mode, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    description = module.generate_launch_description()
    names = [e.name for e in description.entities if hasattr(e, 'name')]
    assert set(bringup.ARGUMENTS) <= set(names)


def test_estimator_listens_to_the_robot_and_the_controller_follows_it():
    specs = by_name(bringup.system('sim', {'robot': 'planar_arm', 'estimator': 'true'}))
    assert list(specs) == ['sim_node', 'estimator_node', 'mpc_node']
    est, mpc = specs['estimator_node'], specs['mpc_node']
    assert est.module == 'casadi_mpc.ros.estimator_node' and est.remappings == []
    assert est.parameters == {'use_sim_time': True}
    assert mpc.parameters['follow_estimates'] is True and mpc.remappings == []
    # on a robot the estimator takes the driver's topics; a remap onto the estimate feeds the
    # controller alone
    specs = by_name(bringup.system('robot', {'robot': 'diff_drive', 'estimator': 'true',
                                             'remaps': 'odom:=estimated/odom'}))
    est, mpc = specs['estimator_node'], specs['mpc_node']
    assert ('odom', '/diff_drive_controller/odom') in est.remappings
    assert ('cmd_vel', '/diff_drive_controller/cmd_vel') in est.remappings
    assert est.parameters['twist_stamped'] is True
    assert ('odom', 'estimated/odom') in mpc.remappings
    assert ('odom', '/diff_drive_controller/odom') not in mpc.remappings
    assert 'follow_estimates' not in by_name(bringup.system('sim', {}))['mpc_node'].parameters


def test_estimator_needs_its_section(tmp_path):
    path = tmp_path / 'only_mpc.yaml'
    path.write_text('mpc_node:\n  ros__parameters:\n    horizon: 10\n')
    with pytest.raises(ValueError, match='no estimator_node section'):
        bringup.system('sim', {'params_file': str(path), 'estimator': 'true'})


def test_safety_filter_sits_between_the_controller_and_the_robot():
    specs = by_name(bringup.system('robot', {'robot': 'diff_drive', 'safety_filter': 'true',
                                             'estimator': 'true'}))
    assert list(specs) == ['estimator_node', 'safety_filter_node', 'mpc_node']
    sf, mpc, est = specs['safety_filter_node'], specs['mpc_node'], specs['estimator_node']
    assert sf.module == 'casadi_mpc.ros.safety_filter_node'
    assert ('cmd_vel', '/diff_drive_controller/cmd_vel') in sf.remappings
    assert ('odom', '/diff_drive_controller/odom') in sf.remappings
    assert sf.parameters == {'use_sim_time': False, 'twist_stamped': True}
    assert ('cmd_vel', 'cmd_vel_in') in mpc.remappings
    assert ('cmd_vel', '/diff_drive_controller/cmd_vel') not in mpc.remappings
    # the estimator hears what the robot is sent: the filter's output
    assert ('cmd_vel', '/diff_drive_controller/cmd_vel') in est.remappings
    sim = by_name(bringup.system('sim', {'robot': 'diff_drive', 'safety_filter': 'true'}))
    assert list(sim) == ['sim_node', 'safety_filter_node', 'mpc_node']
    assert sim['mpc_node'].remappings == [('cmd_vel', 'cmd_vel_in')]
    assert sim['safety_filter_node'].remappings == []


def test_safety_filter_needs_its_section(tmp_path):
    path = tmp_path / 'only_mpc.yaml'
    path.write_text('mpc_node:\n  ros__parameters:\n    horizon: 10\n')
    with pytest.raises(ValueError, match='no safety_filter_node section'):
        bringup.system('sim', {'params_file': str(path), 'safety_filter': 'true'})


def test_engine_selects_the_simulator_and_is_for_sim_only():
    nodes = by_name(bringup.system('sim', {'robot': 'urdf_arm', 'engine': 'mujoco'}))
    assert nodes['sim_node'].parameters['engine'] == 'mujoco'
    assert '-p' in nodes['sim_node'].ros_args() and 'engine:=mujoco' in \
        nodes['sim_node'].ros_args()
    # without the argument the parameter file's engine stays in force
    assert 'engine' not in by_name(bringup.system('sim', {}))['sim_node'].parameters
    with pytest.raises(ValueError, match='engine'):
        bringup.system('sim', {'engine': 'bullet'})
    with pytest.raises(ValueError, match='sim mode only'):
        bringup.system('robot', {'engine': 'mujoco'})


def test_record_adds_a_recorder_that_starts_first(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    specs = bringup.system('sim', {'robot': 'planar_arm', 'record': 'true'})
    assert [s.name for s in specs] == ['recorder', 'sim_node', 'mpc_node']
    recorder = specs[0]
    path = Path(recorder.parameters['path'])
    assert path.parent == tmp_path and path.name.startswith('casadi_mpc_planar_arm_')
    assert path.suffix == '.mcap'
    assert recorder.parameters['params_file'].endswith('config/planar_arm.yaml')
    assert recorder.module == 'casadi_mpc.tools.record' and not recorder.params_files
    names = by_name(bringup.system('robot', {'robot': 'diff_drive', 'record': 'runs/a.mcap'}))
    assert names['recorder'].parameters['path'] == str(tmp_path / 'runs' / 'a.mcap')
    plain = bringup.system('sim', {'record': 'false'})
    assert [s.name for s in plain] == ['sim_node', 'mpc_node']
