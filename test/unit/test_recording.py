"""Recordings: MCAP files with the ROS 2 schemas, read back by an independent reader (rosbags),
and the report drawn from them."""
import io
from pathlib import Path

import numpy as np
import pytest
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from mcap.reader import make_reader
from nav_msgs.msg import Odometry
from rclpy.serialization import deserialize_message
from rosbags.highlevel import AnyReader
from sensor_msgs.msg import JointState
from trajectory_msgs.msg import JointTrajectory, JointTrajectoryPoint

from casadi_mpc.tools import record, report, simulate

CONFIG = Path(__file__).resolve().parents[2] / 'config'


def read_back(path):
    """topic -> (type, [messages]) with rosbags."""
    out = {}
    with AnyReader([Path(path)]) as reader:
        for connection, _, raw in reader.messages():
            entry = out.setdefault(connection.topic, (connection.msgtype, []))
            entry[1].append(reader.deserialize(raw, connection.msgtype))
    return out


def test_definitions_are_the_installed_ones_with_every_dependency_once():
    text = record.definition('nav_msgs/msg/Odometry')
    assert text.startswith('# This represents an estimate of a position and velocity')
    blocks = text.split('=' * 80 + '\n')
    names = [b.splitlines()[0] for b in blocks[1:]]
    assert names == sorted(set(names), key=names.index)      # each type once
    for needed in ('MSG: std_msgs/Header', 'MSG: builtin_interfaces/Time',
                   'MSG: geometry_msgs/PoseWithCovariance', 'MSG: geometry_msgs/Quaternion',
                   'MSG: geometry_msgs/Vector3'):
        assert needed in names
    with pytest.raises(LookupError):
        record.definition('nav_msgs/msg/NoSuchMessage')


def sample_messages():
    odom = Odometry()
    odom.header.stamp.sec, odom.header.stamp.nanosec = 3, 500
    odom.header.frame_id, odom.child_frame_id = 'odom', 'base_link'
    odom.pose.pose.position.x, odom.pose.pose.orientation.w = 1.25, 1.0
    odom.pose.covariance[0] = 0.5
    joints = JointState(name=['a', 'b'], position=[0.1, -0.2], velocity=[1.0, 2.0])
    diag = DiagnosticArray(status=[DiagnosticStatus(level=b'\x02', name='n', message='m',
                                                    values=[KeyValue(key='k', value='v')])])
    traj = JointTrajectory(joint_names=['a'], points=[JointTrajectoryPoint(positions=[0.3])])
    return {'/odom': odom, '/joint_states': joints, '/diag': diag, '/traj': traj}


def test_messages_are_written_as_ros_writes_them(tmp_path):
    """The CDR in the file is what ROS itself reads back as the message written, under the
    type's name (padding bytes may differ: rclpy leaves them uninitialized)."""
    path = tmp_path / 'sample.mcap'
    messages = sample_messages()
    with record.Recording(path, {'parameters': 'x: 1'}) as rec:
        for topic, msg in messages.items():
            rec.write(topic, msg, 1_000)
            rec.write(topic, msg, 2_000)
    assert rec.counts == {t: 2 for t in messages}
    with open(path, 'rb') as f:
        reader = make_reader(f)
        assert reader.get_header().profile == 'ros2'
        assert {m.name: m.metadata for m in reader.iter_metadata()} == {
            'casadi_mpc': {'parameters': 'x: 1'}}
        for schema, channel, message in reader.iter_messages():
            assert schema.encoding == 'ros2msg' and channel.message_encoding == 'cdr'
            assert schema.name == record.type_name(messages[channel.topic])
            sent = messages[channel.topic]
            assert deserialize_message(message.data, type(sent)) == sent
    back = read_back(path)
    assert back['/odom'][0] == 'nav_msgs/msg/Odometry'
    odom = back['/odom'][1][0]
    assert (odom.pose.pose.position.x, odom.pose.covariance[0], odom.header.stamp.nanosec) == \
        (1.25, 0.5, 500)
    assert list(back['/joint_states'][1][1].velocity) == [1.0, 2.0]
    assert back['/diag'][1][0].status[0].level == 2
    assert back['/traj'][1][0].points[0].positions[0] == 0.3


@pytest.mark.parametrize('robot, state, command, prediction, steps', [
    ('diff_drive', '/odom', '/cmd_vel', '/mpc_node/predicted_path', 25),
    ('planar_arm', '/joint_states', '/commands', '/mpc_node/predicted_trajectory', 40),
])
def test_simulate_records_the_run_and_the_report_draws_it(robot, state, command, prediction,
                                                          steps, tmp_path, capsys):
    path, json_path = tmp_path / 'run.mcap', tmp_path / 'run.json'
    simulate.main(['--config', str(CONFIG / ('%s.yaml' % robot)), '--steps', str(steps),
                   '--record', str(path), '--json', str(json_path), '--quiet'])
    capsys.readouterr()
    back = read_back(path)
    expected = {'/clock': 'rosgraph_msgs/msg/Clock', '/mpc_node/telemetry':
                'diagnostic_msgs/msg/DiagnosticArray'}
    assert {t: back[t][0] for t in expected} == expected
    assert {state, command, prediction} <= set(back)
    assert all(len(back[t][1]) == steps for t in (state, command, '/clock',
                                                  '/mpc_node/telemetry'))
    # values: each step's state message is the state its telemetry names, in simulated time
    for k in (0, steps // 2, steps - 1):
        telemetry = {kv.key: kv.value for kv in back['/mpc_node/telemetry'][1][k].status[0].values}
        x = np.array(telemetry['state'].split(), float)
        msg = back[state][1][k]
        if robot == 'diff_drive':
            measured = [msg.pose.pose.position.x, msg.pose.pose.position.y]
            sent = back[command][1][k].linear.x
        else:
            measured = list(msg.position) + list(msg.velocity)
            sent = back[command][1][k].data[0]
        assert np.allclose(measured, x[:len(measured)], rtol=1e-5, atol=1e-6)
        assert float(telemetry['command'].split()[0]) == pytest.approx(sent, rel=1e-5, abs=1e-9)
        assert back['/clock'][1][k].clock.sec * 1e9 + back['/clock'][1][k].clock.nanosec == \
            pytest.approx(msg.header.stamp.sec * 1e9 + msg.header.stamp.nanosec)
    # the report of the recording
    out = io.StringIO()
    summary = report.report_recording(str(path), str(tmp_path / 'run.png'), out=out)
    assert (tmp_path / 'run.png').stat().st_size > 10000
    assert summary['steps'] == steps and summary['model'] == robot
    assert 'parameters        recording' in out.getvalue()


def test_report_command_needs_a_model_and_telemetry(tmp_path, capsys):
    bare = tmp_path / 'bare.mcap'
    with record.Recording(bare) as rec:
        rec.write('/odom', Odometry(), 1)
    assert report.main([str(bare)]) == 1
    assert 'no casadi_mpc metadata' in capsys.readouterr().err
    assert report.main([str(bare), '--params-file', str(CONFIG / 'diff_drive.yaml')]) == 1
    assert 'holds no telemetry' in capsys.readouterr().err
    assert report.main([str(tmp_path / 'missing.mcap')]) == 1
