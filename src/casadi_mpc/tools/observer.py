"""Records a running controller step by step: state, command, prediction, telemetry.

Used by the demo: every telemetry message of the controller (``<node>/telemetry``) becomes one
step. The state the step used and the command it sent come from that message itself (its
'state' and 'command' values; None when it had no state); the predicted horizon is the latest
one received before it (None until one arrived: a display topic, throttled).
"""
import time

import numpy as np
from diagnostic_msgs.msg import DiagnosticArray
from geometry_msgs.msg import PoseStamped
from nav_msgs.msg import Path
from sensor_msgs.msg import JointState
from trajectory_msgs.msg import JointTrajectory

from .probe import Probe
from .report import prediction_of, telemetry_steps
from ..ros import qos


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
        if self.model.kind == 'arm':
            n.create_subscription(JointTrajectory, '%s/predicted_trajectory' % self.node_name,
                                  self._on_prediction, qos.COMMAND)
        else:
            n.create_subscription(Path, '%s/predicted_path' % self.node_name,
                                  self._on_prediction, qos.COMMAND)
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

    def goal_message(self, goal, frame_id='odom'):
        """The goal topic and message for a goal state of the model."""
        goal = np.asarray(goal, float)
        if self.model.kind == 'arm':
            n = len(self.model.joint_names)
            return JointState, 'goal_joints', JointState(
                name=list(self.model.joint_names), position=goal[:n].tolist(),
                velocity=goal[n:2 * n].tolist())
        msg = PoseStamped()
        msg.header.frame_id = frame_id
        msg.pose.position.x = float(goal[0])
        msg.pose.position.y = float(goal[1]) if len(self.model.position) > 1 else 0.0
        yaw = float(goal[2]) if self.model.name == 'diff_drive' else 0.0
        msg.pose.orientation.z, msg.pose.orientation.w = np.sin(yaw / 2), np.cos(yaw / 2)
        return PoseStamped, 'goal_pose', msg

    def send_goal(self, goal, timeout, check=None, frame_id='odom'):
        """Publish the goal until the controller reports it; returns that step's index."""
        msg_type, topic, msg = self.goal_message(goal, frame_id)
        pub = self.node.create_publisher(msg_type, topic, qos.COMMAND)
        expected = ' '.join('%.4g' % g for g in goal)
        self.probe.publish_until(pub, msg, lambda: self.value('goal') == expected, timeout,
                                 'the controller taking the goal', check)
        return next((i for i in range(len(self.steps) - 1, -1, -1)
                     if self.steps[i]['values'].get('goal') != expected), -1) + 1

    def close(self):
        self.probe.close()
