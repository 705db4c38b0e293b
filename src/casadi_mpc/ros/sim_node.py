"""sim_node: plays the robot on the controller's model (core Plant, ``engine: model``) or on a
physics engine (core MujocoPlant, ``engine: mujoco``).

Publishes ``odom`` (bases; frame ``frame_id``, child ``child_frame_id``) or ``joint_states``
(arms) every simulation step, and ``/clock`` when ``publish_clock`` is on. Commands come in on
``cmd_vel`` (velocity-commanded bases) or ``commands`` (model inputs, e.g. joint torques); a
command older than ``command_timeout`` (simulated time) is replaced by zero; with
``hold_until_command`` the robot keeps its initial state until the first command. On MuJoCo a
base's ``odom`` is its wheel odometry, and ``~/ground_truth`` (Odometry in ``world``) its true
pose. The simulation
steps on a steady wall-clock timer, ``real_time_factor`` simulated seconds per second; the
simulator itself never runs on simulated time.
"""
import sys

import numpy as np
from geometry_msgs.msg import Twist, TwistStamped
from nav_msgs.msg import Odometry
from rcl_interfaces.msg import SetParametersResult
from rclpy.clock import Clock, ClockType
from rclpy.node import Node
from rclpy.parameter import Parameter
from rclpy.time import Time
from rosgraph_msgs.msg import Clock as ClockMsg
from sensor_msgs.msg import JointState
from std_msgs.msg import Float64MultiArray

from . import conversions as conv, param_files, params, qos, runtime
from ..core import sim_config
from ..core.config import ConfigError
from ..core.plant import make_plant

LOG_EVERY = 2.0   # [s]


class SimNode(Node):

    def __init__(self, argv=None, **kwargs):
        super().__init__('sim_node', **kwargs)
        if self.get_parameter('use_sim_time').value:
            self.get_logger().warning('use_sim_time is ignored: the simulator keeps wall time')
            self.set_parameters([Parameter('use_sim_time', Parameter.Type.BOOL, False)])
        given = param_files.overrides(sys.argv if argv is None else argv, 'sim_node')
        self.cfg, model, self.specs = params.declare_with_model(self, sim_config.SimConfig,
                                                                sim_config.parse, given)
        self.model, self.dt = model, 1.0 / self.cfg.sim_rate_hz
        try:
            sim_config.check_engine(self.cfg, model)
            self.plant = make_plant(self.cfg, model)
        except KeyError as err:
            raise ConfigError('model.params: %s' % err.args[0]) from None
        self.t = 0.0                        # simulated time [s]
        self.u = np.zeros(model.nu)
        self.u_time = None                  # simulated time of the last command
        self._io()
        steady = Clock(clock_type=ClockType.STEADY_TIME)
        self.timer = self.create_timer(self.dt / self.cfg.real_time_factor, self._step,
                                       clock=steady)
        self.refused = {}   # parameters of the request in hand that have the wrong type
        self.add_pre_set_parameters_callback(
            lambda ps: params.to_declared_types(ps, self.specs, self.refused))
        self.add_on_set_parameters_callback(self._on_set_parameters)
        self.get_logger().info('simulating %s on %s at %.4g Hz, %.3g x real time%s'
                               % (model.name, self.cfg.engine, self.cfg.sim_rate_hz,
                                  self.cfg.real_time_factor,
                                  ', publishing /clock' if self.cfg.publish_clock else ''))

    def _io(self):
        m = self.model
        if m.kind == 'arm':
            self.state_pub = self.create_publisher(JointState, 'joint_states', qos.STATE_OUT)
        else:
            self.state_pub = self.create_publisher(Odometry, 'odom', qos.STATE_OUT)
        if conv.twist_commanded(m):
            self.create_subscription(TwistStamped if self.cfg.twist_stamped else Twist,
                                     'cmd_vel', self._on_command, qos.COMMAND)
        else:
            self.create_subscription(Float64MultiArray, 'commands', self._on_command,
                                     qos.COMMAND)
        self.clock_pub = (self.create_publisher(ClockMsg, '/clock', qos.CLOCK)
                          if self.cfg.publish_clock else None)
        self.truth_pub = (self.create_publisher(Odometry, '~/ground_truth', qos.STATE_OUT)
                          if self.plant.truth() is not None else None)

    def _on_command(self, msg):
        try:
            if isinstance(msg, Float64MultiArray):
                u = conv.array_to_input(msg, self.model)
            else:
                u = conv.twist_to_input(msg, self.model)
        except conv.Rejected as err:
            self.get_logger().warning('rejected command: %s' % err,
                                      throttle_duration_sec=LOG_EVERY)
            return
        self.u, self.u_time = u, self.t

    def _on_set_parameters(self, parameters):
        try:
            changes = params.changes(parameters, self.specs, self.refused)
            if not changes:
                return SetParametersResult(successful=True)
            # dotted changes after the nested dump: parsing applies them on top
            new = sim_config.parse({**self.cfg.model_dump(), **changes}, 'parameter update')
            noise = sim_config.noise(new, self.model)
            p = self.model.param_vector(new.model.params)
            sim_config.check_engine(new, self.model)
        except (ConfigError, TypeError, KeyError) as err:
            return SetParametersResult(successful=False, reason=str(err))
        self.cfg = new
        self.plant.noise, self.plant.p = noise, p
        if new.engine == 'mujoco':
            self.plant.options = new.mujoco
        return SetParametersResult(successful=True)

    def _step(self):
        fresh = self.u_time is not None and self.t - self.u_time <= self.cfg.command_timeout
        u = self.u if fresh else np.zeros(self.model.nu)
        braked = self.u_time is None and self.cfg.hold_until_command
        x = self.plant.x.copy() if braked else self.plant.step(u, self.dt)
        self.t += self.dt
        stamp = self._stamp()
        if self.clock_pub is not None:
            self.clock_pub.publish(ClockMsg(clock=stamp))
        applied = self.plant.applied
        if self.model.kind == 'arm':
            self.state_pub.publish(conv.state_to_joint_state(x, self.model, stamp, applied))
        else:
            self.state_pub.publish(conv.state_to_odometry_bytes(
                x, applied, self.model, stamp, self.cfg.frame_id, self.cfg.child_frame_id))
        if self.truth_pub is not None:
            self.truth_pub.publish(conv.state_to_odometry_bytes(
                self.plant.truth(), applied, self.model, stamp, 'world',
                self.cfg.child_frame_id))

    def _stamp(self):
        if self.clock_pub is not None:
            return Time(nanoseconds=int(round(self.t * 1e9))).to_msg()
        return self.get_clock().now().to_msg()

    def stop(self):
        self.get_logger().info('simulation stopped at t = %.3f s' % self.t)


def main(args=None):
    return runtime.run(SimNode, args, 'sim_node')


if __name__ == '__main__':
    sys.exit(main())
