"""Any robot over DDS: the new built-ins, user models from a file and from another package,
robot mode on a plain-Twist and on a TwistStamped driver."""
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml
from geometry_msgs.msg import PoseStamped, Twist, TwistStamped
from nav_msgs.msg import Odometry
from sensor_msgs.msg import JointState

from casadi_mpc import bringup
from casadi_mpc.core.config import load
from casadi_mpc.core.controller import MPCController
from casadi_mpc.core.models import build, build_model
from casadi_mpc.ros import conversions as conv, qos

EXAMPLES = Path(__file__).resolve().parents[2] / 'examples' / 'models'
TEMPLATE = (EXAMPLES / 'template.py').read_text()


def send_goal(probe, system, diag, model, goal):
    """Publish the goal message the model's interface takes until the controller reports it;
    then wait until it is reached."""
    msg_type, topic, msg = conv.goal_message(goal, model)
    expected = ' '.join('%.4g' % g for g in goal)
    probe.publish_until(probe.publisher(msg_type, topic), msg,
                        lambda: diag.value('goal') == expected, 20, 'the goal accepted',
                        system.check)
    probe.wait_for(lambda: diag.value('goal') == expected and
                   diag.value('goal_reached') == 'true', 90, 'the goal reached', system.check)


@pytest.mark.parametrize('robot, goal', [('ackermann', [1.5, 1.5, np.pi / 2, 0.0]),
                                         ('omni', [1.0, -0.5, 1.0])])
def test_new_base_reaches_a_goal_sent_over_the_topic(systems, probe, robot, goal):
    model = build(load(bringup.default_params_file(robot)).model)
    start = [0.0] * model.nx
    system = systems.sim(robot, real_time_factor=2.0, mpc={'goal': start})
    diag = probe.diagnostics()
    cmd = probe.record(Twist, 'cmd_vel')
    probe.wait_for(lambda: diag.value('mode') == 'NORMAL', 60, 'the controller running',
                   system.check)
    send_goal(probe, system, diag, model, goal)
    assert int(diag.value('rejected_messages')) == 0
    if robot == 'omni':   # the holonomic base uses its sideways velocity
        assert any(abs(m.linear.y) > 0.05 for m in cmd.msgs)


def test_cart_pole_swings_up_over_dds(systems, probe):
    cfg = load(bringup.default_params_file('cart_pole'))
    MPCController(cfg)   # build the compiled solver into the test cache: the node loads it
    hanging = [0.0, np.pi, 0.0, 0.0]
    system = systems.sim('cart_pole', real_time_factor=1.0, mpc={'goal': hanging})
    joints = probe.record(JointState, 'joint_states', qos.STATE)
    diag = probe.diagnostics()
    probe.wait_for(lambda: len(joints) > 0 and diag.value('mode') == 'NORMAL', 60,
                   'the pole hanging under control', system.check)
    assert abs(joints.last().position[1] - np.pi) < 0.01
    send_goal(probe, system, diag, build(cfg.model), [0.0, 0.0, 0.0, 0.0])
    probe.wait_for(lambda: abs(joints.last().position[1]) < 0.05, 10, 'the pole upright',
                   system.check)
    assert list(joints.last().name) == ['cart', 'pole']


def user_params(tmp_path, model, sim_x0, goal, extra=None):
    """A parameter file for a user model (the template's unicycle) in both nodes."""
    mpc = {'model': dict(model, params={'speed_gain': 1.0}),   # no shared objects: no YAML
           # anchors, which rcl does not read 'horizon': 20, 'dt': 0.1,
           'goal': list(sim_x0), 'goal_tolerance': 0.1,
           'costs': {'goal_tracking': {'weight': [1.0, 1.0, 0.1]},
                     'effort': {'weight': [0.1, 0.1]},
                     'terminal': {'weight': [10.0, 10.0, 10.0]}},
           'solver': {'name': 'sqp', 'time_limit': 0.05}}
    mpc.update(extra or {})
    # the simulated robot's gains are 10 % off the model's
    sim = {'model': dict(model, params={'speed_gain': 0.9, 'turn_gain': 1.1}),
           'initial_state': list(sim_x0), 'sim_rate_hz': 50.0}
    path = tmp_path / 'user.yaml'
    path.write_text(yaml.safe_dump({'mpc_node': {'ros__parameters': mpc},
                                    'sim_node': {'ros__parameters': sim}}))
    return str(path)


def run_user_model(systems, probe, name, params, goal):
    """Start sim + mpc for the user model ``name`` (the template's unicycle) and drive it to
    ``goal`` over the goal topic."""
    system = systems.start(bringup.system('sim', {'robot': name, 'params_file': params,
                                                  'real_time_factor': '2.0'}))
    diag = probe.diagnostics()
    probe.wait_for(lambda: diag.value('mode') == 'NORMAL', 60, 'the controller running',
                   system.check)
    assert diag.value('model') == name
    send_goal(probe, system, diag, build_model(file=str(EXAMPLES / 'template.py')), goal)


def test_user_model_from_a_file(systems, probe, tmp_path):
    model_file = tmp_path / 'my_robot.py'
    model_file.write_text(TEMPLATE)
    params = user_params(tmp_path, {'file': str(model_file)}, [0.0, 0.0, 0.0], [1.0, 0.5, 0.5])
    run_user_model(systems, probe, 'my_robot', params, [1.0, 0.5, 0.5])


def test_user_model_from_another_package(systems, probe, tmp_path, ros_env, model_package):
    systems.env = dict(ros_env, PYTHONPATH=model_package('rover'))   # installed for the nodes
    params = user_params(tmp_path, {'name': 'rover'}, [0.0, 0.0, 0.0], [1.0, -0.5, -0.5])
    run_user_model(systems, probe, 'rover', params, [1.0, -0.5, -0.5])


def test_a_broken_user_model_stops_the_node_with_one_line(tmp_path, ros_env):
    model_file = tmp_path / 'broken.py'
    model_file.write_text(TEMPLATE.replace("theta='yaw')", "theta='roll')"))
    params = user_params(tmp_path, {'file': str(model_file)}, [0.0, 0.0, 0.0], [0.0] * 3)
    done = subprocess.run([sys.executable, '-m', 'casadi_mpc.ros.mpc_node', '--ros-args',
                           '--params-file', params], env=dict(os.environ, **ros_env),
                          capture_output=True, text=True, timeout=120)
    output = done.stdout + done.stderr
    assert done.returncode == 2, output
    assert 'Traceback' not in output
    (line,) = [t for t in output.splitlines() if 'configuration error' in t]
    assert "unknown channel theta: 'roll'" in line


# ---------------------------------------------------------------------------- robot mode
def driver(systems, stamped, remaps):
    """A simulated diff-drive driver on wall time: Twist or TwistStamped on its topics."""
    specs = bringup.system('sim', {'robot': 'diff_drive', 'use_sim_time': 'false'},
                           {'sim_node': {'twist_stamped': stamped, 'publish_clock': False}})
    (sim,) = [s for s in specs if s.name == 'sim_node']
    sim.remappings = list(remaps)
    return systems.start([sim])


@pytest.mark.parametrize('stamped', [False, True], ids=['plain Twist', 'TwistStamped'])
def test_robot_mode_follows_the_drivers_twist_type(systems, probe, stamped):
    """A plain-Twist robot on /cmd_vel and /odom, and a ros2_control-like driver taking
    TwistStamped on /diff_drive_controller/cmd_vel: robot mode drives both, each with only its
    remaps (none for ros2_control)."""
    if stamped:
        topics = [('cmd_vel', '/diff_drive_controller/cmd_vel'),
                  ('odom', '/diff_drive_controller/odom')]
        args = {}
    else:
        topics = [('cmd_vel', '/cmd_vel'), ('odom', '/odom')]
        args = {'remaps': 'odom:=/odom,cmd_vel:=/cmd_vel'}
    robot = driver(systems, stamped, topics)
    specs = bringup.system('robot', dict(args, robot='diff_drive'),
                           {'mpc_node': {'goal': [0.0, 0.0, 0.0]}})
    system = systems.start(specs)
    commands = probe.record(TwistStamped if stamped else Twist, dict(topics)['cmd_vel'])
    odom = probe.record(Odometry, dict(topics)['odom'], qos.STATE)
    diag = probe.diagnostics()
    probe.wait_for(lambda: diag.value('mode') == 'NORMAL', 60, 'the controller running',
                   lambda: (system.check(), robot.check()))
    model = build(load(bringup.default_params_file('diff_drive')).model)
    goal = [0.8, 0.4, 0.4636]
    msg_type, topic, msg = conv.goal_message(goal, model)
    probe.publish_until(probe.publisher(PoseStamped, topic), msg,
                        lambda: diag.value('goal') == '0.8 0.4 0.4636', 20, 'the goal accepted',
                        system.check)
    probe.wait_for(lambda: diag.value('goal_reached') == 'true', 60, 'the goal reached',
                   lambda: (system.check(), robot.check()))
    assert any(abs(m.twist.linear.x if stamped else m.linear.x) > 0.1 for m in commands.msgs)
    probe.wait_for(lambda: len(odom) > 0, 10, 'odometry', robot.check)
    assert abs(odom.last().pose.pose.position.x - 0.8) < 0.15
    assert 'the driver subscribes %s' % ('TwistStamped' if stamped else 'Twist') in \
        system['mpc_node'].output()
