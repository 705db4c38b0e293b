"""The node's publishers: the predicted horizon for display is throttled, streaming is not."""
import numpy as np
from builtin_interfaces.msg import Time

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
    """Stands in for rclpy's Node: hands out publishers that record."""

    def __init__(self):
        self.pubs = {}

    def create_publisher(self, _type, topic, _qos):
        return self.pubs.setdefault(topic, Recorder(topic))


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
