"""The closed loop over DDS with the robot on MuJoCo (sim_node engine: mujoco): the diff-drive
and the 7-DOF arm reach their goals, commands stay in bounds, a stale state stops the robot;
the runner's record:=true writes the run, read back with rosbags."""
import time
from pathlib import Path

import numpy as np
from geometry_msgs.msg import PoseStamped, Twist
from nav_msgs.msg import Odometry
from rosbags.highlevel import AnyReader
from sensor_msgs.msg import JointState
from std_msgs.msg import Float64MultiArray

from casadi_mpc.bringup import default_params_file
from casadi_mpc.core.config import load
from casadi_mpc.core.controller import MPCController
from casadi_mpc.core.models import build_model
from casadi_mpc.ros import conversions as conv, qos

MUJOCO = {'engine': 'mujoco'}
# [s] scheduling and delivery on a loaded 2-core machine: over DDS the stop is checked to
# happen; its timing is unit-tested on fake clocks (test/unit/test_loop.py)
SLACK = 3.0
BASE_GOAL = (1.0, 0.5, 0.4636)
ARM_GOAL = [0.5, -0.4, 0.3, -1.0, 0.2, 0.6, 0.0]


def bounds(cfg, model):
    return np.asarray(cfg.bounds.u_min or model.u_lb), np.asarray(cfg.bounds.u_max or model.u_ub)


def in_bounds(commands, lb, ub, tol=1e-9):
    u = np.asarray(commands, float)
    return bool(u.size and np.all(np.isfinite(u)) and np.all(u >= lb - tol) and
                np.all(u <= ub + tol))


def stale_stop(system, probe, diag, cfg):
    """Kill the simulator: the controller goes STALE (and sends its safe command) within the
    state timeout. Returns when the simulator died (time.monotonic)."""
    t0 = time.monotonic()
    system.kill('sim_node')
    probe.wait_for(lambda: diag.value('mode') == 'STALE', cfg.state_timeout + 1.0 / cfg.rate_hz
                   + SLACK, 'mode STALE after the simulator died')
    assert 'state' in diag.value('reason')
    return t0


RECORDED = {'/odom': 'nav_msgs/msg/Odometry', '/cmd_vel': 'geometry_msgs/msg/Twist',
            '/goal_pose': 'geometry_msgs/msg/PoseStamped',
            '/mpc_node/predicted_path': 'nav_msgs/msg/Path',
            '/mpc_node/telemetry': 'diagnostic_msgs/msg/DiagnosticArray',
            '/diagnostics': 'diagnostic_msgs/msg/DiagnosticArray',
            '/clock': 'rosgraph_msgs/msg/Clock',
            '/sim_node/ground_truth': 'nav_msgs/msg/Odometry'}


def recorded_by(probe, node='recorder'):
    """The topics the graph shows ``node`` subscribed to."""
    from rclpy.node import NodeNameNonExistentError
    try:
        return {t for t, _ in probe.node.get_subscriber_names_and_types_by_node(node, '/')}
    except NodeNameNonExistentError:
        return set()


def send_goal(probe, system, diag, msg_type, topic, msg, values, pub=None):
    """Publish the goal until the controller reports it in force."""
    expected = ' '.join('%.4g' % g for g in values)
    probe.publish_until(pub or probe.publisher(msg_type, topic), msg, lambda: diag.value(
        'goal') == expected, 10, 'the goal accepted', system.check)


def test_diff_drive_reaches_its_goal_on_mujoco(systems, probe, tmp_path):
    """Goal (1, 0.5, 0.4636) within 0.1 (the file's tolerance, by the odometry) in under 15 s
    of simulated time; the true pose within 0.25 m of the goal (odometry drift)."""
    cfg = load(default_params_file('diff_drive'))
    model = build_model('diff_drive')
    record = tmp_path / 'run.mcap'
    system = systems.sim('diff_drive', real_time_factor=3.0, sim=MUJOCO,
                         mpc={'goal': [0.0, 0.0, 0.0]}, record=str(record))
    cmd = probe.record(Twist, 'cmd_vel')
    truth = probe.record(Odometry, 'sim_node/ground_truth', qos.STATE)
    diag = probe.diagnostics()
    probe.wait_for(lambda: diag.value('mode') == 'NORMAL' and len(truth), 30,
                   'the controller running on MuJoCo', system.check)
    # the recorder, like any, records what arrives once it subscribed: the goal included
    goal = probe.publisher(PoseStamped, 'goal_pose')
    probe.wait_for(lambda: set(RECORDED) <= recorded_by(probe), 30,
                   'the recorder on the topics', system.check)
    send_goal(probe, system, diag, PoseStamped, 'goal_pose', conv.planar_pose(*BASE_GOAL),
              BASE_GOAL, goal)
    start = next(conv.seconds(m.header.stamp) for m in reversed(truth.msgs))
    probe.wait_for(lambda: diag.value('goal_reached') == 'true', 40, 'the goal reached',
                   system.check)
    reached = conv.seconds(truth.last().header.stamp)
    assert reached - start < 15.0
    assert float(diag.value('goal_error')) < cfg.goal_tolerance
    true_pose = conv.odometry_to_state(truth.last(), model)
    assert np.linalg.norm(true_pose[:2] - BASE_GOAL[:2]) < 0.25
    assert truth.last().header.frame_id == 'world'
    lb, ub = bounds(cfg, model)
    assert in_bounds([[m.linear.x, m.angular.z] for m in cmd.msgs], lb, ub)
    assert any(abs(m.linear.x) > 0.1 for m in cmd.msgs)
    t0 = stale_stop(system, probe, diag, cfg)
    probe.wait_for(lambda: [m for m in cmd.since(t0) if m.linear.x == 0.0 and
                            m.angular.z == 0.0], 1.0, 'the zero command')
    system.stop()
    check_recording(record, model)


def check_recording(path, model):
    """The runner's recording (record:=...), read with rosbags: the system's topics with their
    types, a /clock and a state per simulation step, the goal sent, commands and telemetry that
    agree."""
    topics = {}
    with AnyReader([Path(path)]) as reader:
        for connection, _, raw in reader.messages():
            entry = topics.setdefault(connection.topic, (connection.msgtype, []))
            entry[1].append(reader.deserialize(raw, connection.msgtype))
    assert {t: topics[t][0] for t in RECORDED if t in topics} == RECORDED
    odom, clock = topics['/odom'][1], topics['/clock'][1]
    ticks = {(c.clock.sec, c.clock.nanosec) for c in clock}
    first = min(ticks)
    stamped = [(m.header.stamp.sec, m.header.stamp.nanosec) for m in odom]
    later = [s for s in stamped if s >= first]
    # one /clock per simulation step, the state of that step stamped with it (the recorder
    # subscribes to each topic as it discovers it: their first messages may differ)
    assert len(odom) > 100 and sum(s in ticks for s in later) >= len(later) - 2
    assert topics['/goal_pose'][1][0].pose.position.x == BASE_GOAL[0]
    steps = [{kv.key: kv.value for kv in m.status[0].values}
             for m in topics['/mpc_node/telemetry'][1]]
    assert any(s.get('goal_reached') == 'true' for s in steps)
    # every command the controller reports sending is one recorded on /cmd_vel
    sent = {(round(m.linear.x, 4), round(m.angular.z, 4)) for m in topics['/cmd_vel'][1]}
    reported = [tuple(round(float(v), 4) for v in s['command'].split()) for s in steps
                if s.get('command') and s.get('mode') == 'NORMAL']
    assert reported and sum(r in sent for r in reported) >= 0.9 * len(reported)
    # each state the controller used is an odometry message of the recording
    poses = np.array([conv.odometry_to_state(m, model) for m in odom])
    used = [np.array(s['state'].split(), float) for s in steps[-20:] if s.get('state')]
    assert used and all(np.abs(poses - x).max(axis=1).min() < 1e-4 for x in used)


def test_seven_dof_arm_reaches_its_goal_on_mujoco(systems, probe):
    """The joint goal within 0.05 (the file's tolerance) in under 10 s of simulated time, torques
    within the limits; stale state: the safe command (hold and brake), in bounds."""
    cfg = load(default_params_file('urdf_arm'))
    model = build_model(cfg.model.name, **cfg.model.options())
    MPCController(cfg)   # build the compiled solver into the test cache: the node loads it
    system = systems.sim('urdf_arm', real_time_factor=1.0, sim=MUJOCO,
                         mpc={'goal': [0.0] * 14})
    cmd = probe.record(Float64MultiArray, 'commands')
    states = probe.record(JointState, 'joint_states', qos.STATE)
    diag = probe.diagnostics()
    probe.wait_for(lambda: diag.value('goal_reached') == 'true' and len(states), 90,
                   'the start held', system.check)
    send_goal(probe, system, diag, JointState, 'goal_joints',
              JointState(name=list(model.joint_names), position=ARM_GOAL), ARM_GOAL + [0.0] * 7)
    start = conv.seconds(states.last().header.stamp)
    probe.wait_for(lambda: diag.value('goal_reached') == 'true', 60, 'the goal reached',
                   system.check)
    assert conv.seconds(states.last().header.stamp) - start < 10.0
    assert float(diag.value('goal_error')) < cfg.goal_tolerance
    lb, ub = bounds(cfg, model)
    assert in_bounds([m.data for m in cmd.msgs], lb, ub)
    # joint_states' efforts are the motors' (after their limits)
    assert in_bounds([m.effort for m in states.msgs[-10:]], lb, ub)
    t0 = stale_stop(system, probe, diag, cfg)
    probe.wait_for(lambda: len(cmd.since(t0)) > 3, 2.0, 'safe commands while stale')
    assert in_bounds([m.data for m in cmd.since(t0)], lb, ub)


def test_record_command_records_the_topics_it_is_given(systems, probe, ros_env, tmp_path):
    """`casadi-mpc record FILE --topics ...` beside a simulator on MuJoCo (planar arm, brakes
    on): only those topics, until SIGINT."""
    import os
    import signal
    import subprocess
    import sys
    from casadi_mpc import bringup
    specs = bringup.system('sim', {'robot': 'planar_arm', 'engine': 'mujoco'})
    system = systems.start([s for s in specs if s.name == 'sim_node'])
    states = probe.record(JointState, 'joint_states', qos.STATE)
    probe.wait_for(lambda: len(states) > 5, 30, 'joint states', system.check)
    path = tmp_path / 'arm.mcap'
    env = dict(os.environ, **ros_env)
    env['PYTHONPATH'] = os.pathsep.join([str(Path(__file__).resolve().parents[2] / 'src'),
                                         env.get('PYTHONPATH', '')])
    log = tmp_path / 'recorder.log'
    with open(log, 'w') as out:
        recorder = subprocess.Popen(
            [sys.executable, '-m', 'casadi_mpc.cli', 'record', str(path), '--topics', '/clock',
             'joint_states', '--ros-args', '--log-level', 'recorder:=debug'], env=env,
            stdout=out, stderr=subprocess.STDOUT)
        try:
            probe.wait_for(lambda: 'recording /joint_states' in log.read_text() and
                           'recording /clock' in log.read_text(), 30, 'the recorder subscribed')
            # its subscriptions known to the graph (the probe subscribes to states too)
            probe.wait_for(lambda: probe.node.count_subscribers('/joint_states') >= 2 and
                           probe.node.count_subscribers('/clock') >= 1, 30,
                           'the recorder matched')
            n = len(states)
            probe.wait_for(lambda: len(states) > n + 200, 30, 'more states')
        finally:
            recorder.send_signal(signal.SIGINT)
            recorder.wait(timeout=20)
    output = log.read_text()
    assert recorder.returncode == 0, output
    with AnyReader([path]) as reader:
        names = {c.topic: c.msgtype for c in reader.connections}
        stamps = [reader.deserialize(raw, c.msgtype).header.stamp
                  for c, _, raw in reader.messages() if c.topic == '/joint_states']
    assert names == {'/clock': 'rosgraph_msgs/msg/Clock',
                     '/joint_states': 'sensor_msgs/msg/JointState'}
    assert len(stamps) > 50 and 'recorded' in output
