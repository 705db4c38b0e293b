"""Publishers of the MPC node: command, predicted horizon, per-step telemetry (``~/telemetry``)
and the aggregated status (``/diagnostics``), both DiagnosticArray.

Bases whose inputs are velocities publish ``cmd_vel`` (Twist, or TwistStamped with
``twist_stamped``); other models (arms, the point mass) publish their inputs on ``commands``
(Float64MultiArray in the model's input order, for ros2_control forward controllers).
"""
from geometry_msgs.msg import Twist, TwistStamped
from nav_msgs.msg import Path
from rclpy.duration import Duration
from std_msgs.msg import Float64MultiArray
from trajectory_msgs.msg import JointTrajectory

from . import conversions as conv, diagnostics, qos


class MpcOutputs:

    def __init__(self, node, model):
        self.node, self.model = node, model
        self.twist = conv.twist_commanded(model)
        self.arm = model.kind == 'arm'
        self.stamped = None
        self.cmd_pub = None
        self.traj_pub = None
        self.last_ns = {}
        self.sens_pub = None
        if not self.twist:
            self.cmd_pub = node.create_publisher(Float64MultiArray, 'commands', qos.COMMAND)
        if self.arm:
            self.pred_pub = node.create_publisher(JointTrajectory, '~/predicted_trajectory',
                                                  qos.COMMAND)
        else:
            self.pred_pub = node.create_publisher(Path, '~/predicted_path', qos.COMMAND)
        self.telemetry_pub = node.create_publisher(diagnostics.DiagnosticArray,
                                                   '~/telemetry', qos.DIAGNOSTICS)
        self.diag_pub = node.create_publisher(diagnostics.DiagnosticArray, '/diagnostics',
                                              qos.DIAGNOSTICS)

    def configure(self, cfg):
        """Follow run-time settings that change which publishers exist."""
        if self.twist and self.stamped != cfg.twist_stamped:
            if self.cmd_pub is not None:
                self.node.destroy_publisher(self.cmd_pub)
            self.stamped = cfg.twist_stamped
            self.cmd_pub = self.node.create_publisher(TwistStamped if self.stamped else Twist,
                                                      'cmd_vel', qos.COMMAND)
        if self.arm and cfg.publish_joint_trajectory and self.traj_pub is None:
            self.traj_pub = self.node.create_publisher(JointTrajectory, 'joint_trajectory',
                                                       qos.COMMAND)

    def command(self, u, stamp, frame_id='base_link'):
        """Velocity commands go out as serialized bytes (no message object on the control
        path); input arrays as Float64MultiArray."""
        if not self.twist:
            self.cmd_pub.publish(conv.to_float_array(u, 'joints' if self.arm else 'inputs'))
        else:
            self.cmd_pub.publish(conv.twist_bytes(u, stamp if self.stamped else None, frame_id))

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
        stream = self.arm and cfg.publish_joint_trajectory and self.traj_pub is not None
        display = self.due('prediction', stamp, cfg.prediction_rate_hz)
        if self.arm and (stream or display):
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
        self.stamped = None

    def flush(self, timeout=0.5):
        """Wait until subscribers acknowledged the last command (used at shutdown)."""
        if self.cmd_pub is not None:
            self.cmd_pub.wait_for_all_acked(Duration(seconds=timeout))
