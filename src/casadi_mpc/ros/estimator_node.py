"""estimator_node: moving horizon estimation of the state and model parameters as a ROS 2 node.

Subscribes the robot's state (``odom`` for bases, ``joint_states`` for arms; sensor-data QoS),
of which it uses the ``measured`` states only, and the commands the robot is given (``cmd_vel``
or ``commands``). Each measurement stamped at least a window period after the last one taken
solves a window (``core/estimation.py``); the estimate goes out on the same message type
(``estimated/odom`` or ``estimated/joint_states``, stamped with the measurement), the estimated
parameters as a ParameterEvent on ``estimated_parameters`` (``model.params.<name>``: what
``mpc_node`` follows with ``follow_estimates``), the per-window figures with each parameter's
spread on ``~/telemetry`` and the aggregated status on ``/diagnostics``. Bad input (NaN, wrong
sizes or joints, stale, future or out-of-order stamps, another frame) is rejected and counted; a
failed solve keeps the last estimate and says so (FALLBACK); a gap restarts the window.
"""
import sys

from builtin_interfaces.msg import Time
from rcl_interfaces.msg import ParameterEvent
from rclpy.clock import Clock, ClockType
from rclpy.node import Node
from rosgraph_msgs.msg import Clock as ClockMsg

from . import conversions as conv, diagnostics, measurements, param_files, params, qos, \
    runtime
from ..core import estimator_config
from ..core.estimation import MovingHorizonEstimator, Rejected
from ..core.health import Health

LOG_EVERY = 2.0   # [s] throttle of repeated warnings


class EstimatorNode(Node):

    def __init__(self, argv=None, **kwargs):
        super().__init__('estimator_node', **kwargs)
        given = param_files.overrides(sys.argv if argv is None else argv, 'estimator_node')
        self.cfg, self.model, self.specs = params.declare_with_model(
            self, estimator_config.EstimatorConfig, estimator_config.parse, given)
        self.core = MovingHorizonEstimator(self.cfg, self.model)
        self.names = list(self.cfg.estimate)
        self.steady = Clock(clock_type=ClockType.STEADY_TIME)
        self.health = Health(self.cfg.diagnostics_period, start=self._steady_seconds())
        self.u_last = None
        state_type, topic = measurements.state_topic(self.model)
        self.create_subscription(state_type, topic, self._on_state, qos.STATE, raw=True)
        self.sim_time = bool(self.get_parameter('use_sim_time').value)
        self.clock_log = measurements.ClockLog()
        if self.sim_time:
            self.create_subscription(ClockMsg, '/clock', self._on_clock, qos.CLOCK_LOG)
        self.effort = self.cfg.input_source == 'effort'
        self.last_stamp = None   # of the last state message (effort: the input since then)
        self.driven = False      # a command was seen: the robot is no longer held
        cmd_type, cmd_topic = measurements.command_topic(self.model, self.cfg.twist_stamped)
        self.create_subscription(cmd_type, cmd_topic, self._on_command, qos.COMMAND)
        self.state_pub = self.create_publisher(state_type, 'estimated/' + topic, qos.STATE_OUT)
        self.param_pub = self.create_publisher(ParameterEvent, 'estimated_parameters',
                                               qos.COMMAND) if self.names else None
        self.telemetry_pub = self.create_publisher(diagnostics.DiagnosticArray, '~/telemetry',
                                                   qos.DIAGNOSTICS)
        self.diag_pub = self.create_publisher(diagnostics.DiagnosticArray, '/diagnostics',
                                              qos.DIAGNOSTICS)
        self.create_timer(min(1.0, self.cfg.diagnostics_period), self._poll, clock=self.steady)
        self.refused = {}
        self.add_pre_set_parameters_callback(
            lambda ps: params.to_declared_types(ps, self.specs, self.refused))
        self.add_on_set_parameters_callback(self._on_set_parameters)
        measured = [self.model.state_names[i] for i in self.core.setup.measured]
        source = topic + ' efforts' if self.effort else cmd_topic
        self.get_logger().info(
            'estimating %s from %s (%s) and %s: window of %d at %.3g Hz, %s, parameters %s'
            % (self.model.name, topic, ', '.join(measured), source, self.cfg.horizon,
               self.cfg.rate_hz, self.cfg.solver.name, ', '.join(self.names) or 'none'))

    # ------------------------------------------------------------------ inputs
    def _reject(self, what, err):
        self.core.reject('%s: %s' % (what, err))
        self._refused('%s: %s' % (what, err))

    def _refused(self, err):
        """The core refused an input (and counted it)."""
        self.health.latest['last_rejection'] = self.core.last_rejection
        self._warn('rejected %s' % err)

    def _warn(self, text):
        self.get_logger().warning(text, throttle_duration_sec=LOG_EVERY)

    def _on_clock(self, msg, info):
        self.clock_log.add(info['received_timestamp'],
                           msg.clock.sec * 1_000_000_000 + msg.clock.nanosec)

    def _on_command(self, msg, info):
        """A command, filed at the node-clock time it reached this process (not when the
        executor got to it: a window being solved must not delay it)."""
        try:
            u = measurements.read_command(msg, self.model)
        except conv.Rejected as err:
            self._reject('command', err)
            return
        self.driven = True
        if self.effort:
            return   # the input comes from the efforts; the commands only say it is driven
        received = info['received_timestamp']
        now = self.clock_log.at(received) if self.sim_time else received
        if not now:
            return   # simulated time before the first /clock: no time to file it under
        try:
            self.core.add_command(now * 1e-9, u)
        except Rejected as err:
            self._refused(err)
            return
        self.u_last = u

    def _on_state(self, buf):
        received = self.get_clock().now().nanoseconds
        if received == 0:
            self.get_logger().info('waiting for the node clock (/clock) before taking states',
                                   throttle_duration_sec=LOG_EVERY)
            return
        c = self.cfg
        try:
            y, header, *effort = measurements.read_state(
                buf, self.model, self.core.setup.measured, c.frame_id, self.effort)
            conv.state_age(header, received, c.state_timeout, c.max_clock_offset)
        except (conv.Rejected, ValueError, TypeError, IndexError) as err:
            self._reject('measurement', err)
            return
        t = header[0] + header[1] * 1e-9
        try:
            if effort and self.driven and self.last_stamp is not None and t > self.last_stamp:
                self.core.add_command(self.last_stamp, effort[0])   # applied since then
                self.u_last = effort[0]
            if self.last_stamp is None or t > self.last_stamp:
                self.last_stamp = t
            estimate = self.core.add_measurement(t, y)
        except Rejected as err:
            self._refused(err)
            return
        if estimate is not None:
            self._publish(estimate, header)

    # ------------------------------------------------------------------ outputs
    def _publish(self, est, header):
        stamp = Time(sec=int(header[0]), nanosec=int(header[1]))
        if est.success:
            u = self.u_last if self.u_last is not None else [0.0] * self.model.nu
            self.state_pub.publish(measurements.state_message(
                est.x, u, self.model, stamp, self.cfg.frame_id, self.cfg.child_frame_id))
            confident = [i for i, ok in enumerate(est.confident) if ok]
            if self.param_pub is not None and confident:   # for the controller to follow
                self.param_pub.publish(measurements.parameter_event(
                    [self.names[i] for i in confident], est.theta[confident], stamp,
                    self.get_fully_qualified_name()))
            mode, reason = 'NORMAL', ''
        else:
            mode = 'FALLBACK'
            reason = 'solve %s: keeping the estimate of %.3f s' % (
                est.status, self._last_good_stamp())
            self._warn(reason)
        latest = {'model': self.model.name, 'solver': self.cfg.solver.name,
                  'nodes': est.nodes, 'last_rejection': self.core.last_rejection}
        for name, value, spread in zip(self.names, est.theta, est.theta_std):
            latest['estimate.' + name] = float(value)
            latest['spread.' + name] = float(spread)
        latest['confident'] = ' '.join(n for n, ok in zip(self.names, est.confident) if ok)
        counters = self.core.counters.as_dict()
        values = {'mode': mode, 'reason': reason, 'solver_status': est.status,
                  'solve_time_ms': est.solve_time * 1e3, 'iterations': est.iterations}
        values.update({'cost.' + k: v for k, v in est.cost_terms.items()})
        values.update(counters)
        values['rejected_messages'] = values.pop('rejected')
        values.update(latest)
        values['stamp'] = '%d.%09d' % header   # of the newest measurement in the window
        values['state'] = diagnostics.numbers(est.x)
        values['state_std'] = diagnostics.numbers(est.x_std)
        self.telemetry_pub.publish(diagnostics.array_bytes(
            stamp, self._name(), self.model.name, mode, reason, values))
        self._status(self.health.step(self._steady_seconds(), mode, reason, counters,
                                      est.solve_time, latest), stamp)

    def _last_good_stamp(self):
        nodes = self.core.nodes
        return nodes[-1][0] if nodes else float('nan')

    def _name(self):
        return '%s: moving horizon estimation' % self.get_fully_qualified_name()

    def _status(self, status, stamp=None):
        if status is None:
            return
        if stamp is None:
            stamp = self.get_clock().now().to_msg()
        self.health.period = self.cfg.diagnostics_period
        self.diag_pub.publish(diagnostics.status_bytes(stamp, self._name(), self.model.name,
                                                       status))

    def _poll(self):
        self._status(self.health.poll(self._steady_seconds(), self.core.counters.as_dict()))

    def _steady_seconds(self):
        return self.steady.now().nanoseconds * 1e-9

    # ------------------------------------------------------------------ parameters
    def _on_set_parameters(self, parameters):
        result, _ = params.apply(parameters, self.specs, self.refused, self.core.update,
                                 self.get_logger(), LOG_EVERY)
        self.cfg = self.core.cfg
        return result

    def stop(self):
        c = self.core.counters
        self.get_logger().info('estimator stopped after %d windows (%d failed, %d restarts, %d '
                               'rejected)' % (c.solves, c.failures, c.restarts, c.rejected))


def main(args=None):
    return runtime.run(EstimatorNode, args, 'estimator_node', require_params=True)


if __name__ == '__main__':
    sys.exit(main())
