"""Publishers of the MPC node: command, predicted horizon, per-step telemetry (``~/telemetry``)
and the aggregated status (``/diagnostics``), both DiagnosticArray.

What goes out follows the model's interface: a Twist command on ``cmd_vel`` (Twist or
TwistStamped: ``twist_stamped`` true or false, or ``auto``, the type the driver subscribes to
on the graph), or the inputs on ``commands`` (Float64MultiArray in the model's input order, for
ros2_control forward controllers); the predicted horizon as a Path (odometry state) or a
JointTrajectory (joint state, also streamed on ``joint_trajectory`` if asked).
"""
import time

from geometry_msgs.msg import Twist, TwistStamped
from rclpy.duration import Duration
from std_msgs.msg import Float64MultiArray
from trajectory_msgs.msg import JointTrajectory

from . import conversions as conv, diagnostics, qos
from ..core.models import interface as itf

TWIST_TYPES = {'geometry_msgs/msg/Twist': False, 'geometry_msgs/msg/TwistStamped': True}
GRAPH_CHECK = 0.1   # [s] between looks at the graph while the Twist type is not known


class MpcOutputs:

    def __init__(self, node, model):
        self.node, self.model = node, model
        interface = model.interface
        self.twist = interface.command.kind == itf.TWIST
        self.joint_state = interface.state.kind == itf.JOINT_STATE   # horizon as joints
        self.streams = interface.trajectory
        self.topic = interface.command.topic
        self.label = 'joints' if interface.command.joints else 'inputs'
        self.stamped = None       # the Twist type in use (None: none yet)
        self.choice = None        # twist_stamped as configured
        self.next_look = 0.0
        self.cmd_pub = None
        self.traj_pub = None
        self.last_ns = {}
        self.sens_pub = None
        if not self.twist:
            self.cmd_pub = node.create_publisher(Float64MultiArray, self.topic, qos.COMMAND)
        msg_type, topic = conv.prediction_output(model)
        self.pred_pub = node.create_publisher(msg_type, '~/' + topic, qos.COMMAND)
        self.telemetry_pub = node.create_publisher(diagnostics.DiagnosticArray,
                                                   '~/telemetry', qos.DIAGNOSTICS)
        self.diag_pub = node.create_publisher(diagnostics.DiagnosticArray, '/diagnostics',
                                              qos.DIAGNOSTICS)

    def configure(self, cfg):
        """Follow run-time settings that change which publishers exist."""
        if self.twist and self.choice != cfg.twist_stamped:
            self.choice = cfg.twist_stamped
            self._use({'true': True, 'false': False}.get(self.choice))
            if self.choice == 'auto':
                self._look()   # a driver already on the graph: its type at once
        if self.streams and cfg.publish_joint_trajectory and self.traj_pub is None:
            self.traj_pub = self.node.create_publisher(JointTrajectory, 'joint_trajectory',
                                                       qos.COMMAND)

    def _use(self, stamped):
        """Publish Twist (False) or TwistStamped (True) on the command topic; None: none."""
        if self.cmd_pub is not None:
            self.node.destroy_publisher(self.cmd_pub)
            self.cmd_pub = None
        self.stamped = stamped
        if stamped is not None:
            self.cmd_pub = self.node.create_publisher(TwistStamped if stamped else Twist,
                                                      self.topic, qos.COMMAND)

    def _look(self):
        """twist_stamped auto: take the type the driver subscribes to on the command topic,
        looked up on the graph at most every GRAPH_CHECK seconds until one shows."""
        now = time.monotonic()
        if now < self.next_look:
            return
        self.next_look = now + GRAPH_CHECK
        topic = self.node.resolve_topic_name(self.topic)
        kinds = {TWIST_TYPES[i.topic_type] for i in
                 self.node.get_subscriptions_info_by_topic(topic) if i.topic_type in TWIST_TYPES}
        if len(kinds) > 1:
            self.node.get_logger().warning(
                '%s has Twist and TwistStamped subscribers: publishing TwistStamped' % topic,
                throttle_duration_sec=10.0)
        if kinds:
            stamped = True in kinds
            self._use(stamped)
            self.node.get_logger().info('%s: the driver subscribes %s; publishing it'
                                        % (topic, 'TwistStamped' if stamped else 'Twist'))

    def command(self, u, stamp, frame_id='base_link', x=None, p=None):
        """Twist commands go out as serialized bytes (no message object on the control path),
        computed from ``u`` (and the state ``x`` and parameters ``p``, where the model's Twist
        depends on them); input arrays as Float64MultiArray. With twist_stamped auto nothing
        goes out until a driver subscribes."""
        if not self.twist:
            self.cmd_pub.publish(conv.to_float_array(u, self.label))
            return
        if self.cmd_pub is None and self.choice == 'auto':
            self._look()
        if self.cmd_pub is not None:
            values = conv.command_values(self.model, u, x, p)
            self.cmd_pub.publish(conv.twist_bytes(self.model, values,
                                                  stamp if self.stamped else None, frame_id))

    def due(self, what, stamp, rate_hz):
        """Throttle ``what`` to at most ``rate_hz`` (0: every step) on the step stamps."""
        now = stamp.sec * 1_000_000_000 + stamp.nanosec
        last = self.last_ns.get(what)
        if rate_hz > 0 and last is not None and 0 <= now - last < 1e9 / rate_hz:
            return False
        self.last_ns[what] = now
        return True

    def prediction(self, result, stamp, cfg):
        if result is None or result.x_pred is None:
            return
        stream = self.streams and cfg.publish_joint_trajectory and self.traj_pub is not None
        display = self.due('prediction', stamp, cfg.prediction_rate_hz)
        if self.joint_state and (stream or display):
            msg = conv.to_joint_trajectory(result.x_pred, result.u_pred, self.model, stamp,
                                           cfg.dt)
            if display:
                self.pred_pub.publish(msg)
            if stream:
                self.traj_pub.publish(msg)
        elif display:
            self.pred_pub.publish(conv.to_path(result.x_pred, self.model, stamp, cfg.frame_id))

    def telemetry(self, serialized):
        """One control step's DiagnosticArray (serialized), at the control rate."""
        self.telemetry_pub.publish(serialized)

    def sensitivity(self, serialized):
        """The sensitivities of a solve (serialized DiagnosticArray) on ``~/sensitivity``,
        created on first use: only a node asked for them has the topic."""
        if self.sens_pub is None:
            self.sens_pub = self.node.create_publisher(diagnostics.DiagnosticArray,
                                                       '~/sensitivity', qos.DIAGNOSTICS)
        self.sens_pub.publish(serialized)

    def diagnostics(self, serialized):
        """The aggregated status (serialized), about once per diagnostics_period."""
        self.diag_pub.publish(serialized)

    def close(self):
        """Destroy every publisher (lifecycle cleanup)."""
        for pub in (self.cmd_pub, self.traj_pub, self.pred_pub, self.diag_pub, self.sens_pub):
            if pub is not None:
                self.node.destroy_publisher(pub)
        self.cmd_pub = self.traj_pub = self.pred_pub = self.diag_pub = self.sens_pub = None
        self.stamped = self.choice = None

    def flush(self, timeout=0.5):
        """Wait until subscribers acknowledged the last command (used at shutdown)."""
        if self.cmd_pub is not None:
            self.cmd_pub.wait_for_all_acked(Duration(seconds=timeout))
