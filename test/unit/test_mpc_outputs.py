"""The node's publishers: the predicted horizon for display is throttled, streaming is not."""
from types import SimpleNamespace

import numpy as np
import pytest
from builtin_interfaces.msg import Time
from geometry_msgs.msg import Twist, TwistStamped
from rclpy.serialization import deserialize_message

from casadi_mpc.core.config import parse
from casadi_mpc.core.models import build_model
from casadi_mpc.core.solvers.base import SolveResult
from casadi_mpc.ros.mpc_outputs import MpcOutputs


class Recorder:
    def __init__(self, topic):
        self.topic, self.msgs = topic, []

    def publish(self, msg):
        self.msgs.append(msg)


class FakeNode:
    """Stands in for rclpy's Node: hands out publishers that record; ``graph`` holds the
    types subscribed per topic."""

    def __init__(self):
        self.pubs, self.types, self.graph, self.lines = {}, {}, {}, []

    def create_publisher(self, msg_type, topic, _qos):
        self.types[topic] = msg_type
        return self.pubs.setdefault(topic, Recorder(topic))

    def destroy_publisher(self, pub):
        self.pubs.pop(pub.topic, None)

    def resolve_topic_name(self, topic):
        return '/' + topic

    def get_subscriptions_info_by_topic(self, topic):
        return [SimpleNamespace(topic_type=t) for t in self.graph.get(topic, ())]

    def get_logger(self):
        return SimpleNamespace(info=self.lines.append,
                               warning=lambda text, **_: self.lines.append(text))


def result(model, horizon=5):
    return SolveResult('rti', True, np.zeros(model.nu), np.zeros((horizon + 1, model.nx)),
                       np.zeros((horizon, model.nu)), 1, 1e-4)


def stamps(rate_hz, count):
    for k in range(count):
        ns = int(k * 1e9 / rate_hz)
        yield Time(sec=ns // 1_000_000_000, nanosec=ns % 1_000_000_000)


def publish(robot, changes, steps=100, rate=100.0):
    model = build_model(robot)
    cfg = parse(dict({'model': {'name': robot}, 'costs': {'effort': {}}}, **changes))
    node = FakeNode()
    out = MpcOutputs(node, model)
    out.configure(cfg)
    for stamp in stamps(rate, steps):
        out.prediction(result(model), stamp, cfg)
    return node.pubs


def test_display_prediction_is_throttled_to_its_rate():
    pubs = publish('diff_drive', {'prediction_rate_hz': 10.0})
    assert len(pubs['~/predicted_path'].msgs) == 10     # 1 s at 100 Hz -> 10 Hz


def test_rate_zero_publishes_every_step():
    pubs = publish('diff_drive', {'prediction_rate_hz': 0.0})
    assert len(pubs['~/predicted_path'].msgs) == 100


def test_trajectory_streaming_is_never_throttled():
    pubs = publish('planar_arm', {'prediction_rate_hz': 5.0, 'publish_joint_trajectory': True})
    assert len(pubs['joint_trajectory'].msgs) == 100
    assert len(pubs['~/predicted_trajectory'].msgs) == 5


def test_twist_type_follows_the_driver_on_the_graph(monkeypatch):
    model = build_model('diff_drive')
    cfg = parse({'model': {'name': 'diff_drive'}, 'costs': {'effort': {}}})
    assert cfg.twist_stamped == 'auto'
    node = FakeNode()
    out = MpcOutputs(node, model)
    out.configure(cfg)
    stamp = Time(sec=3, nanosec=0)
    out.command([0.5, 0.1], stamp)
    assert 'cmd_vel' not in node.pubs    # no driver yet: nothing to match
    node.graph['/cmd_vel'] = ['geometry_msgs/msg/TwistStamped']
    out.command([0.5, 0.1], stamp)
    assert 'cmd_vel' not in node.pubs    # looked again only after GRAPH_CHECK
    monkeypatch.setattr(out, 'next_look', 0.0)
    out.command([0.5, 0.1], stamp)
    assert node.types['cmd_vel'] is TwistStamped
    msg = deserialize_message(node.pubs['cmd_vel'].msgs[-1], TwistStamped)
    assert (msg.twist.linear.x, msg.twist.angular.z, msg.header.stamp.sec) == (0.5, 0.1, 3)
    assert any('subscribes TwistStamped' in line for line in node.lines)


def test_twist_type_given_and_computed_twist_fields():
    model = build_model('ackermann')
    cfg = parse({'model': {'name': 'ackermann'}, 'costs': {'effort': {}},
                 'twist_stamped': False})
    node = FakeNode()
    out = MpcOutputs(node, model)
    out.configure(cfg)
    assert node.types['cmd_vel'] is Twist
    p = model.param_vector()
    out.command([0.5, 1.0], Time(), x=np.array([0.0, 0.0, 0.0, 0.2]), p=p)
    msg = deserialize_message(node.pubs['cmd_vel'].msgs[-1], Twist)
    assert msg.linear.x == 0.5
    assert msg.angular.z == pytest.approx(0.5 * np.tan(0.2 + p[1] * 1.0) / p[0])
