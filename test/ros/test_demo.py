"""`casadi-mpc demo`, end to end: goal reached, summary printed, PNG written, exit 0; its
recording read back with rosbags and drawn again by `casadi-mpc report`."""
import os
import subprocess
import sys
from pathlib import Path

import pytest
from rosbags.highlevel import AnyReader

SRC = str(Path(__file__).resolve().parents[2] / 'src')


def cli(args, env):
    return subprocess.run([sys.executable, '-m', 'casadi_mpc.cli'] + args, env=env,
                          capture_output=True, text=True, timeout=240)


def line(text, start):
    return next(x for x in text.splitlines() if x.strip().startswith(start))


def test_demo_reaches_the_goal_writes_the_report_and_the_recording(ros_env, tmp_path):
    env = dict(os.environ, **ros_env)
    env['PYTHONPATH'] = os.pathsep.join([SRC, env.get('PYTHONPATH', '')])
    out, record = tmp_path / 'report.png', tmp_path / 'demo.mcap'
    run = cli(['demo', '--out', str(out), '--timeout', '90', '--record', str(record)], env)
    assert run.returncode == 0, run.stdout + run.stderr
    for text in ('goal reached      yes', 'time to goal', 'energy used', 'solve time',
                 'deadline misses', 'fallbacks', 'recording         %s' % record):
        assert text in run.stdout
    assert out.stat().st_size > 10000
    # the recording, read by an independent reader: the system's topics and types
    counts, types = {}, {}
    with AnyReader([record]) as reader:
        for connection, _, raw in reader.messages():
            counts[connection.topic] = counts.get(connection.topic, 0) + 1
            types[connection.topic] = connection.msgtype
            if connection.topic == '/goal_pose':
                goal = reader.deserialize(raw, connection.msgtype)
    assert types['/odom'] == 'nav_msgs/msg/Odometry' and counts['/odom'] > 50
    assert types['/cmd_vel'] == 'geometry_msgs/msg/Twist' and counts['/cmd_vel'] > 10
    assert types['/mpc_node/telemetry'] == 'diagnostic_msgs/msg/DiagnosticArray'
    assert types['/clock'] == 'rosgraph_msgs/msg/Clock'
    assert (goal.pose.position.x, goal.pose.position.y) == (2.0, 1.0)   # the file's goal
    # the report from the recording: the same run, the same figures
    again = cli(['report', str(record), '--out', str(tmp_path / 'again.png')], env)
    assert again.returncode == 0, again.stdout + again.stderr
    for start in ('goal reached', 'time to goal'):
        assert line(again.stdout, start).split()[:4] == line(run.stdout, start).split()[:4]
    # the recording ends a step or two after the demo's own view of the run (the recorder is
    # closed once it has the step that reached the goal): the same figures, to that step
    for start in ('final error', 'energy used'):
        ours, recorded = (float(line(text, start).split()[2])
                          for text in (run.stdout, again.stdout))
        assert recorded == pytest.approx(ours, rel=0.2, abs=0.02), start
    assert (tmp_path / 'again.png').stat().st_size > 10000


def test_demo_on_mujoco_compares_with_the_model(ros_env, tmp_path):
    env = dict(os.environ, **ros_env)
    env['PYTHONPATH'] = os.pathsep.join([SRC, env.get('PYTHONPATH', '')])
    run = cli(['demo', '--engine', 'mujoco', '--out', str(tmp_path / 'r.png'), '--timeout',
               '90', '--record', ''], env)
    assert run.returncode == 0, run.stdout + run.stderr
    assert 'sim_node on mujoco' in run.stdout
    header = line(run.stdout, 'engines').split()
    assert header == ['engines', 'model', 'mujoco']
    for start in ('time to goal', 'final error', 'energy', 'true final error',
                  'odometry drift'):
        assert len(line(run.stdout, start).split()) >= 3
    assert 'recording' not in run.stdout
