"""Records a running controller step by step: state, command, prediction, telemetry.

Used by the demo: every telemetry message of the controller (``<node>/telemetry``) becomes one
step. The state the step used and the command it sent come from that message itself (its
'state' and 'command' values; None when it had no state); the predicted horizon is the latest
one received before it (None until one arrived: a display topic, throttled).
"""
import time

from diagnostic_msgs.msg import DiagnosticArray

from .probe import Probe
from .report import prediction_of, telemetry_steps
from ..ros import conversions as conv, qos


class Observer:

    def __init__(self, model, domain_id, node_name='mpc_node'):
        self.model, self.node_name = model, node_name
        self.prediction = None
        self.steps = []           # one dict per telemetry message of the controller
        self.probe = Probe(domain_id, 'casadi_mpc_observer')
        self.node = self.probe.node
        self._subscribe()

    def _subscribe(self):
        n = self.node
        msg_type, topic = conv.prediction_output(self.model)
        n.create_subscription(msg_type, '%s/%s' % (self.node_name, topic), self._on_prediction,
                              qos.COMMAND)
        n.create_subscription(DiagnosticArray, '%s/telemetry' % self.node_name,
                              self._on_telemetry, qos.DIAGNOSTICS)

    # ------------------------------------------------------------------ callbacks
    def _on_prediction(self, msg):
        self.prediction = prediction_of(msg)

    def _on_telemetry(self, msg):
        self.steps.extend(telemetry_steps(msg, self.model, self.node_name, self.prediction,
                                          time.monotonic()))

    # ------------------------------------------------------------------ queries
    def value(self, key, default=None):
        return self.steps[-1]['values'].get(key, default) if self.steps else default

    def wait_for(self, condition, timeout, what, check=None):
        return self.probe.wait_for(condition, timeout, what, check)

    def send_goal(self, goal, timeout, check=None, frame_id='odom'):
        """Publish the goal until the controller reports it; returns that step's index."""
        msg_type, topic, msg = conv.goal_message(goal, self.model, frame_id)
        pub = self.node.create_publisher(msg_type, topic, qos.COMMAND)
        expected = ' '.join('%.4g' % g for g in goal)
        self.probe.publish_until(pub, msg, lambda: self.value('goal') == expected, timeout,
                                 'the controller taking the goal', check)
        return next((i for i in range(len(self.steps) - 1, -1, -1)
                     if self.steps[i]['values'].get('goal') != expected), -1) + 1

    def close(self):
        self.probe.close()
