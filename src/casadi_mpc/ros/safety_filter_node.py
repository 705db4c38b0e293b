"""safety_filter_node: the closest safe command to a desired one, as a ROS 2 node.

Subscribes the desired command (``cmd_vel_in``, Twist or TwistStamped, from teleop, Nav2 or
mpc_node), the robot's state (``odom``; sensor-data QoS) and obstacles (``obstacles``,
Float64MultiArray of rows x, y, radius [m] in ``frame_id``, in place of the configured ones);
publishes the safe command (``cmd_vel``), the per-step figures on ``~/telemetry`` (the
intervention size, the predicted intrusion, the desired and the sent command, solver figures,
counters) and the aggregated status on ``/diagnostics``. The math is ``core/safety_filter.py``.

Desired commands are taken on a thread of their own (``intake.py``) and filtered at once; that
thread also steps the filter every ``dt`` without one, so a stale desired command (older than
``command_timeout``, by its stamp or its arrival) brakes the robot to rest, and a stale state
sends the safe command. Bad input (NaN, wrong sizes, stale or future stamps, bad obstacles) is
rejected and counted. On shutdown the safe command goes out first.
"""
import sys
import threading

import numpy as np
from rclpy.clock import Clock, ClockType
from rclpy.duration import Duration
from rclpy.node import Node
from std_msgs.msg import Float64MultiArray

from . import conversions as conv, diagnostics, measurements, param_files, params, qos, \
    runtime
from .intake import StateIntake
from .runtime import locked
from ..core import safety_filter_config
from ..core.config import ConfigError
from ..core.health import Health
from ..core.safety_filter import SafetyFilter

LOG_EVERY = 2.0   # [s] throttle of repeated warnings


class SafetyFilterNode(Node):

    def __init__(self, argv=None, **kwargs):
        super().__init__('safety_filter_node', **kwargs)
        self.lock = threading.RLock()
        given = param_files.overrides(sys.argv if argv is None else argv, 'safety_filter_node')
        self.cfg, self.model, self.specs = params.declare_with_model(
            self, safety_filter_config.SafetyFilterConfig, safety_filter_config.parse, given)
        self.core = SafetyFilter(self.cfg, self.model,
                                 progress=lambda msg: self.get_logger().info(msg))
        m = self.model
        self.everything = np.arange(m.nx)
        self.x, self.x_time = None, None              # state, its stamp [s, node clock]
        self.desired, self.desired_time = None, None  # desired command, its time [s]
        self.desired_stamp = None                     # its header stamp (sec, nanosec)
        self.last_step = None                         # [s, steady] of the last command out
        self.steady = Clock(clock_type=ClockType.STEADY_TIME)
        self.health = Health(self.cfg.diagnostics_period, start=self._steady_seconds())
        self.worst = 0.0                              # largest intervention of the period
        state_type, state_topic = measurements.state_topic(m)
        self.create_subscription(state_type, state_topic, self._on_state, qos.STATE, raw=True)
        self.cmd_type, self.cmd_topic = measurements.command_topic(m, self.cfg.twist_stamped)
        self.cmd_pub = self.create_publisher(self.cmd_type, self.cmd_topic, qos.COMMAND)
        if self.core.planar:
            self.create_subscription(Float64MultiArray, 'obstacles', self._on_obstacles,
                                     qos.COMMAND)
        self.telemetry_pub = self.create_publisher(diagnostics.DiagnosticArray, '~/telemetry',
                                                   qos.DIAGNOSTICS)
        self.diag_pub = self.create_publisher(diagnostics.DiagnosticArray, '/diagnostics',
                                              qos.DIAGNOSTICS)
        self.refused = {}
        self.add_pre_set_parameters_callback(
            lambda ps: params.to_declared_types(ps, self.specs, self.refused))
        self.add_on_set_parameters_callback(self._on_set_parameters)
        sys.setswitchinterval(min(sys.getswitchinterval(), 2e-4))
        self.intake = StateIntake(self, self.cmd_type, self.cmd_topic + '_in', qos.COMMAND,
                                  self._on_desired, self._on_intake_error, self._periodic,
                                  int(self.cfg.dt * 1e9))
        self.get_logger().info(
            'filtering %s_in into %s for %s: horizon %d x %.3g s, rate limits %s, %s%s'
            % (self.cmd_topic, self.cmd_topic, m.name, self.cfg.horizon, self.cfg.dt,
               np.round(self.core.ctrl.tuning.u_ub, 4).tolist(), self.cfg.solver.name,
               ', %d obstacle slots' % self.cfg.obstacles.max_count if self.core.planar
               else ''))

    # ------------------------------------------------------------------ inputs
    def _reject(self, what, err):
        self.core.reject('%s: %s' % (what, err))
        self.health.latest['last_rejection'] = self.core.last_rejection
        self.get_logger().warning('rejected %s: %s' % (what, err),
                                  throttle_duration_sec=LOG_EVERY)

    def _now(self):
        return self.get_clock().now().nanoseconds * 1e-9

    @locked
    def _on_state(self, buf):
        received = self.get_clock().now().nanoseconds
        if received == 0:
            return   # simulated time before the first /clock
        c = self.cfg
        try:
            x, header = measurements.read_state(buf, self.model, self.everything, c.frame_id)
            age = conv.state_age(header, received, c.state_timeout, c.max_clock_offset)
        except (conv.Rejected, ValueError, TypeError, IndexError) as err:
            self._reject('state', err)
            return
        self.x, self.x_time = x, received * 1e-9 - age

    @locked
    def _on_desired(self, buf):
        """A desired command: filtered at once (the command thread)."""
        now = self._now()
        try:
            u, stamp = measurements.read_command_bytes(buf, self.model, self.cfg.twist_stamped)
            if u.shape != (self.model.nu,):
                raise conv.Rejected('command has %d values, the model takes %d'
                                    % (u.size, self.model.nu))
            t = now
            if stamp is not None:   # stamped: its age runs from the stamp
                t = now - conv.state_age(stamp, int(now * 1e9), self.cfg.command_timeout,
                                         self.cfg.max_clock_offset)
        except (conv.Rejected, ValueError, TypeError, IndexError) as err:
            self._reject('desired command', err)
            return
        self.desired, self.desired_time, self.desired_stamp = u, t, stamp
        self._step(now)

    @locked
    def _on_obstacles(self, msg):
        try:
            self.core.set_obstacles(np.asarray(msg.data, float).reshape(-1, 3))
        except (ValueError, ConfigError) as err:
            self._reject('obstacles', err)

    def _on_intake_error(self, err):
        self.get_logger().error('command intake: %r' % (err,), throttle_duration_sec=LOG_EVERY)

    @locked
    def _periodic(self):
        """Every dt of steady time: step when no desired command did (stale desired command,
        stale state), and publish the status when one is due."""
        steady = self._steady_seconds()
        if self.last_step is None or steady - self.last_step >= self.cfg.dt * 0.999:
            now = self._now()
            if now > 0:
                self._step(now)
        self._status(self.health.poll(self._steady_seconds(), self.core.counters.as_dict()))

    # ------------------------------------------------------------------ the step
    def _step(self, now):
        c = self.cfg
        started = self.steady.now()
        state_fresh = self.x is not None and now - self.x_time <= c.state_timeout
        desired_fresh = self.desired is not None and now - self.desired_time <= \
            c.command_timeout
        try:
            age = now - self.x_time if self.x is not None else 0.0
            out = self.core.step(self.x, self.desired, state_fresh, desired_fresh, age)
        except Exception as err:   # noqa: B902 - a command must go out whatever failed
            self.get_logger().error('filter step failed: %r' % (err,),
                                    throttle_duration_sec=LOG_EVERY)
            out = self.core.step(None, None)   # the safe command
        stamp = self.get_clock().now().to_msg()
        self._publish(out.command, stamp)
        elapsed = (self.steady.now() - started).nanoseconds * 1e-9
        self.last_step = self._steady_seconds()
        self._report(out, stamp, elapsed)

    def _publish(self, u, stamp):
        if conv.twist_commanded(self.model):
            msg = measurements.command_message(u, self.model,
                                               stamp if self.cfg.twist_stamped else None,
                                               'base_link')
        else:
            msg = measurements.command_message(u, self.model)
        self.cmd_pub.publish(msg)

    def _report(self, out, stamp, elapsed):
        """The step's telemetry on ~/telemetry; the aggregated status when one is due."""
        self.worst = max(self.worst, out.intervention)
        counters = self.core.counters.as_dict()
        result = out.result
        latest = {'model': self.model.name, 'solver': self.cfg.solver.name,
                  'intervention': out.intervention, 'intervention_max': self.worst,
                  'interventions_total': counters['interventions'],
                  'violations_total': counters['violations'],
                  'last_rejection': self.core.last_rejection}
        values = {'mode': out.mode, 'reason': out.reason, 'step_time_ms': elapsed * 1e3,
                  'violation': out.violation, 'desired': diagnostics.numbers(out.desired),
                  'command': diagnostics.numbers(out.command)}
        if result is not None:
            values.update({'solver_status': result.status,
                           'solve_time_ms': result.solve_time * 1e3,
                           'iterations': result.iterations})
        if self.desired_stamp is not None:
            values['desired_stamp'] = '%d.%09d' % self.desired_stamp
        values.update(counters)
        values['rejected_messages'] = values.pop('rejected')
        values.update(latest)
        self.telemetry_pub.publish(diagnostics.array_bytes(
            stamp, self._name(), self.model.name, out.mode, out.reason, values))
        self._status(self.health.step(self._steady_seconds(), out.mode, out.reason, counters,
                                      None if result is None else result.solve_time, latest),
                     stamp)

    def _name(self):
        return '%s: safety filter' % self.get_fully_qualified_name()

    def _status(self, status, stamp=None):
        if status is None:
            return
        self.worst = 0.0
        self.health.period = self.cfg.diagnostics_period
        if stamp is None:
            stamp = self.get_clock().now().to_msg()
        self.diag_pub.publish(diagnostics.status_bytes(stamp, self._name(), self.model.name,
                                                       status))

    def _steady_seconds(self):
        return self.steady.now().nanoseconds * 1e-9

    # ------------------------------------------------------------------ parameters
    @locked
    def _on_set_parameters(self, parameters):
        result, _ = params.apply(parameters, self.specs, self.refused, self.core.update,
                                 self.get_logger(), LOG_EVERY)
        self.cfg = self.core.cfg
        return result

    # ------------------------------------------------------------------ shutdown
    def stop(self):
        """Stop taking commands; the command a driver may keep (at rest) goes out last."""
        self.intake.close()
        with self.lock:
            x = self.x if self.x is not None else np.zeros(self.model.nx)
            u = self.core.rest_command(x)
            self._publish(u, self.get_clock().now().to_msg())
            self.cmd_pub.wait_for_all_acked(Duration(seconds=0.5))
        self.get_logger().info('safety filter stopped: sent the safe command %s'
                               % np.round(u, 4).tolist())


def main(args=None):
    return runtime.run(SafetyFilterNode, args, 'safety_filter_node', require_params=True)


if __name__ == '__main__':
    sys.exit(main())
