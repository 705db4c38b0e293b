"""mpc_node: the receding-horizon controller as a ROS 2 node.

Subscribes the robot state (the message the model's interface declares: ``odom`` or
``joint_states``; sensor-data QoS; entries it does not carry come from the model's prediction),
a goal (``goal_pose`` or ``goal_joints``) and, when a reference-tracking cost term is configured,
a reference (``plan`` as nav_msgs/Path, or ``reference_trajectory``). With ``control_trigger``
``timer`` a timer on the node clock (sim time works) solves from the latest state at ``rate_hz``;
with ``state`` each accepted state message is solved at once (at most ``rate_hz``) on a thread
that waits for state messages alone (``intake.py``); that thread's periodic check, in place of
the timer, sends the safe command when the state goes stale. State messages are read from their
serialized bytes. Each step publishes the command first; then the predicted horizon and the
step's telemetry (``~/telemetry``: the state used, the command sent, solver figures) under
``~/``, and the solver prepares the next step (compiled RTI solves the next QP for the
predicted state off the critical path). ``/diagnostics`` gets the aggregated status
(``core/health.py``) about every ``diagnostics_period`` of steady time, and at once when it
gets worse; the step path and the watchdog drive it (no timer of its own). A steady-clock
watchdog sends the safe command when the node clock itself stops (e.g. the simulated clock
died). One lock serializes the callbacks of both threads.
"""
import sys
import threading

import numpy as np
from rcl_interfaces.msg import ParameterEvent, SetParametersResult
from rclpy.clock import Clock, ClockType
from rclpy.lifecycle import LifecycleNode, TransitionCallbackReturn
from rclpy.parameter import Parameter
from rclpy.time import Time

from . import conversions as conv, diagnostics, measurements, param_files, params, qos, \
    runtime
from .intake import StateIntake
from .mpc_outputs import MpcOutputs
from .runtime import locked
from ..core.config import ConfigError, MPCConfig, parse, with_changes
from ..core.controller import MPCController
from ..core.health import Health
from ..core.loop import LoopPolicy
from ..core.solvers import builds
from ..core.supervisor import EnergyMeter, Mode, ModeLog, Supervisor

LOG_EVERY = 2.0   # [s] throttle for repeated warnings
SWITCH_INTERVAL = 2e-4   # [s] GIL hand-over: the state thread waits at most this long


class MpcNode(LifecycleNode):
    """The controller node. Unmanaged (the default) it configures and activates itself at
    start; with ``managed`` it waits for the lifecycle transitions: configure builds (or loads)
    the solver and creates the topics, activate starts control, deactivate sends the safe
    command and stops, cleanup frees the controller."""

    def __init__(self, argv=None, **kwargs):
        super().__init__('mpc_node', **kwargs)
        self.lock = threading.RLock()
        self.intake = None
        self.ctrl = None
        self.active = False
        self.timer = self.watchdog = None
        self._entities = []
        self.steady = Clock(clock_type=ClockType.STEADY_TIME)
        given = param_files.overrides(sys.argv if argv is None else argv, 'mpc_node')
        self.cfg, self.model, self.specs = params.declare_with_model(self, MPCConfig, parse,
                                                                     given)
        self.get_logger().debug('configuration: %s' % self.cfg.model_dump())
        self.loop = LoopPolicy(self.cfg.rate_hz, self.cfg.state_timeout,
                               self.cfg.control_trigger)
        self.refused = {}   # parameters of the request in hand that have the wrong type
        self.add_pre_set_parameters_callback(
            lambda ps: params.to_declared_types(ps, self.specs, self.refused))
        self.add_on_set_parameters_callback(self._on_set_parameters)
        self._failure = None
        if self.cfg.managed:
            self.get_logger().info('managed: waiting for the configure transition')
            return
        if self.trigger_configure() != TransitionCallbackReturn.SUCCESS:
            raise ConfigError(self._failure)
        self.trigger_activate()

    # ------------------------------------------------------------------ lifecycle
    def on_configure(self, state):
        try:
            with self.lock:
                self._configure()
        except ConfigError as err:
            self._failure = str(err)
            if self.cfg.managed:
                self.get_logger().error('configure failed: %s' % err)
            self._cleanup()
            return TransitionCallbackReturn.FAILURE
        return TransitionCallbackReturn.SUCCESS

    def on_activate(self, state):
        self._activate()
        return TransitionCallbackReturn.SUCCESS

    def on_deactivate(self, state):
        self._deactivate()
        return TransitionCallbackReturn.SUCCESS

    def on_cleanup(self, state):
        self._cleanup()
        return TransitionCallbackReturn.SUCCESS

    def on_shutdown(self, state):
        self._deactivate()
        self._cleanup()
        return TransitionCallbackReturn.SUCCESS

    def _configure(self):
        """Build (or load) the solver and create the topics; no control yet."""
        model = self.model
        self.ctrl = MPCController(self.cfg, model=model,
                                  progress=lambda msg: self.get_logger().info(msg))
        t, c = self.ctrl.tuning, self.cfg
        self.sup = Supervisor(t.u_lb, t.u_ub, c.state_timeout, c.fallback_steps, 1.0 / c.rate_hz)
        self.energy = EnergyMeter(
            lambda x, u: model.energy_rate(x, u, self.ctrl.tuning.model_p), model.energy)
        self.health = Health(self.cfg.diagnostics_period, start=self._steady_seconds())
        self.x, self.x_stamp, self.x_header = None, None, None
        self.last = None          # (decision, result) of the last step
        self.mode_log = ModeLog(LOG_EVERY)
        self.out = MpcOutputs(self, model)
        self.out.configure(self.cfg)
        self._sens_columns = None     # set once the sensitivities are built
        self._sens_builder = None
        if self.cfg.sensitivity_rate_hz > 0:
            self._build_sensitivity()
        self._state_topic = self._subscribe()
        self.get_logger().info(
            'model %s (%d states, %d inputs), %s, horizon %d x %.3g s, %.3g Hz, cost terms %s'
            % (model.name, model.nx, model.nu, self.cfg.solver.name, self.cfg.horizon,
               self.cfg.dt, self.cfg.rate_hz, ', '.join(self.cfg.costs)))

    def _activate(self):
        """Start control: the timers, or the state thread (which starts handling at once)."""
        with self.lock:
            if self.active or self.ctrl is None:
                return
            self.active = True
            self.loop.start(self._steady_seconds())
            period = 1.0 / self.cfg.rate_hz
            if not self.loop.on_state:
                self.timer = self.create_timer(period, self._tick)
                self.watchdog = self.create_timer(period, self._watch, clock=self.steady)
        if self.loop.on_state:
            sys.setswitchinterval(min(sys.getswitchinterval(), SWITCH_INTERVAL))
            msg_type, topic = self._state_topic
            self.intake = StateIntake(self, msg_type, topic, qos.STATE, self._on_state,
                                      self._on_intake_error, self._periodic, int(1e9 * period))
        self.get_logger().info('control active')

    def _deactivate(self):
        """Stop control; the safe command goes out first."""
        if self.intake is not None:
            self.intake.close()
            self.intake = None
        with self.lock:
            if not self.active:
                return
            self.active = False
            for timer in (self.timer, self.watchdog):
                if timer is not None:
                    self.destroy_timer(timer)
            self.timer = self.watchdog = None
            u = self._send_stop()
        self.get_logger().info('control inactive: sent the safe command %s'
                               % np.round(u, 4).tolist())

    def _cleanup(self):
        with self.lock:
            for sub in self._entities:
                self.destroy_subscription(sub)
            self._entities = []
            if self.ctrl is not None:
                self.out.close()
            self.ctrl = None

    def _subscription(self, *args, **kwargs):
        sub = self.create_subscription(*args, **kwargs)
        self._entities.append(sub)   # destroyed at cleanup
        return sub

    # ------------------------------------------------------------------ wiring
    def _subscribe(self):
        """The state, goal and (with a reference term) reference topics the model's interface
        declares."""
        msg_type, topic, self._decode, self._state_what = conv.state_input(self.model)
        self._unmeasured = conv.unmeasured(self.model)
        goal_type, goal_topic, self._goal_convert, self._goal_what = conv.goal_input(self.model)
        self._subscription(goal_type, goal_topic, self._on_goal, qos.COMMAND)
        if not self.loop.on_state:
            self._subscription(msg_type, topic, self._on_state, qos.STATE, raw=True)
        self._subscription(ParameterEvent, 'estimated_parameters', self._on_estimates,
                           qos.COMMAND)
        if self.ctrl.ocp.uses_reference:
            ref_type, ref_topic, self._reference_convert, self._reference_what = \
                conv.reference_input(self.model)
            self._subscription(ref_type, ref_topic, self._on_reference, qos.COMMAND)
        return msg_type, topic

    def _configure_supervisor(self):
        t, c = self.ctrl.tuning, self.cfg
        self.sup.configure(t.u_lb, t.u_ub, c.state_timeout, c.fallback_steps, 1.0 / c.rate_hz)

    # ------------------------------------------------------------------ inputs
    def _reject(self, what, err):
        self.sup.reject('%s: %s' % (what, err))
        self.get_logger().warning('rejected %s: %s' % (what, err), throttle_duration_sec=LOG_EVERY)

    @locked
    def _on_state(self, buf):
        """A serialized state message: convert, keep, and (state trigger) step at once."""
        started = self.steady.now()
        received = self.get_clock().now()
        if received.nanoseconds == 0:
            # simulated time before the first /clock message: no age can be judged yet (the
            # message is not at fault, so it is not counted as rejected)
            self.get_logger().info('waiting for the node clock (/clock) before taking states',
                                   throttle_duration_sec=LOG_EVERY)
            return
        try:
            x, header = self._decode(buf, self.model, self.cfg.frame_id)
            # on a simulated clock faster than real time, the node clock (updated by the
            # executor) lags a state taken at once by its wall-clock lag times the rate
            age = conv.state_age(header, received.nanoseconds, self.cfg.state_timeout,
                                 self.cfg.max_clock_offset * max(1.0, self.loop.clock.rate))
        except (conv.Rejected, ValueError, TypeError, IndexError) as err:
            self._reject(self._state_what, err)
            return
        if self._unmeasured:   # entries the message does not carry: the model's prediction
            x = self.ctrl.complete(x, self._unmeasured)
        # the state's age runs from its stamp (a stamp just ahead counts as now)
        self.x, self.x_header = x, header
        self.x_stamp = Time(nanoseconds=received.nanoseconds - int(age * 1e9),
                            clock_type=received.clock_type)
        # paced by the state's stamp (when it was measured), not by when this thread got to it;
        # only these steps count for the pace: the periodic check's safe commands solve nothing
        if self.active and self.loop.state_arrived(self.x_stamp.nanoseconds * 1e-9):
            self._step(started, received)

    def _on_intake_error(self, err):
        self.get_logger().error('state intake: %r' % (err,), throttle_duration_sec=LOG_EVERY)

    @locked
    def _set_goal(self, convert, msg, what):
        try:
            goal = convert(msg)
            if np.array_equal(goal, self.ctrl.goal):
                return   # the goal in force, sent again: nothing to do or say
            self.ctrl.set_goal(goal)
        except (conv.Rejected, ValueError, TypeError, IndexError) as err:
            self._reject(what, err)
            return
        values = [float(g) for g in goal]
        # the goal parameter shows the goal in force (the config first: no update follows)
        self.cfg = self.ctrl.cfg = self.cfg.model_copy(update={'goal': values})
        self.set_parameters([Parameter('goal', Parameter.Type.DOUBLE_ARRAY, values)])
        self.get_logger().info('new goal %s' % np.round(goal, 4).tolist(),
                               throttle_duration_sec=LOG_EVERY)

    def _on_goal(self, msg):
        self._set_goal(lambda m: self._goal_convert(m, self.model, self.cfg.frame_id), msg,
                       self._goal_what)

    @locked
    def _set_reference(self, convert, msg, what):
        try:
            self.ctrl.set_reference(convert(msg))
        except (conv.Rejected, ValueError, TypeError, IndexError) as err:
            self._reject(what, err)

    def _on_reference(self, msg):
        c = self.cfg
        self._set_reference(lambda m: self._reference_convert(m, self.model, c.horizon, c.dt,
                                                              c.frame_id), msg,
                            self._reference_what)

    @locked
    def _on_estimates(self, msg):
        """Estimated model parameters (estimator_node), followed with ``follow_estimates``:
        applied as one parameter change, validated like ``ros2 param set`` and never a
        rebuild."""
        if not self.cfg.follow_estimates or self.ctrl is None:
            return
        try:
            values = measurements.read_parameter_event(msg, self.model)
        except conv.Rejected as err:
            self._reject('estimated parameters', err)
            return
        current = params.values_of(self.cfg, values)
        if all(current.get(k) == v for k, v in values.items()):
            return
        result = self.set_parameters_atomically(
            [Parameter(k, Parameter.Type.DOUBLE, v) for k, v in values.items()])
        if not result.successful:
            self._reject('estimated parameters', result.reason)

    @locked
    def _on_set_parameters(self, parameters):
        """Validate and apply run-time changes; rejected changes apply nothing. Only values
        that differ from those in force count as changes (and are logged, throttled)."""
        try:
            requested = params.changes(parameters, self.specs, self.refused)
            current = params.values_of(self.cfg, requested)
            changes = {k: v for k, v in requested.items() if current.get(k) != v}
            if changes and self.ctrl is not None:
                self.ctrl.update(changes)
                new = self.ctrl.cfg
            elif changes:   # not configured yet: validated now, used at configure
                new = with_changes(self.cfg, changes, 'parameter update')
        except (ConfigError, TypeError) as err:
            return SetParametersResult(successful=False, reason=str(err))
        if changes:
            self.cfg = new
            if self.ctrl is not None:
                self._follow_config()   # bounds, limits, publishers and rate follow at once
            self.get_logger().info('parameters changed: %s' % ', '.join(
                '%s = %s' % (k, changes[k]) for k in sorted(changes)),
                throttle_duration_sec=LOG_EVERY)
        return SetParametersResult(successful=True)

    # ------------------------------------------------------------------ control
    def _state_age(self, now):
        if self.x_stamp is None:
            return None
        return (now - self.x_stamp).nanoseconds * 1e-9

    def _safe(self):
        if self.x is None:
            return np.zeros(self.model.nu)
        return self.ctrl.safe_input(self.x)

    @locked
    def _periodic(self):
        """State trigger, on the state thread every period of steady time: what the timer and
        the watchdog do in timer mode."""
        self._tick()
        self._watch()

    @locked
    def _tick(self):
        started = self.steady.now()
        now = self.get_clock().now()
        fresh = self.sup.state_ok(self.x, self._state_age(now))
        if self.loop.tick(started.nanoseconds * 1e-9, now.nanoseconds * 1e-9, fresh):
            self._step(started, now)   # (state trigger: only while the state is not fresh)

    def _step(self, started, now):
        try:
            self._control(started, now)
        except Exception as err:   # noqa: B902 - the loop must keep sending safe commands
            self._emergency(err)

    def _control(self, started, now):
        """One step: solve, decide, publish the command; everything else comes after it."""
        age = self._state_age(now)
        result = None
        if self.sup.state_ok(self.x, age):
            result = self.ctrl.step(self.x)
        decision = self.sup.decide(self.x, age, result, self._safe)
        stamp = self._send(decision)
        elapsed = (self.steady.now() - started).nanoseconds * 1e-9
        # the deadline is one period of the node clock: wall time scaled by the clock's rate
        self.sup.timing(self.loop.node_time(elapsed), result)
        self._after(decision, result, stamp)
        self._diagnose(decision, result, age, elapsed, stamp)
        if result is not None:
            self._publish_sensitivity(result, stamp)
            self.ctrl.solver.prepare()   # the next linearization, off the critical path

    def _emergency(self, err):
        """Something unexpected failed inside a step: log it, send a bounded stop command."""
        self.get_logger().error('control step failed: %r' % (err,),
                                throttle_duration_sec=LOG_EVERY)
        try:
            self.out.command(self.sup.clip(np.zeros(self.model.nu)),
                             self.get_clock().now().to_msg(), x=self.x,
                             p=self.ctrl.tuning.model_p)
        except Exception as again:   # noqa: B902
            self.get_logger().error('could not send the stop command: %r' % (again,),
                                    throttle_duration_sec=LOG_EVERY)

    @locked
    def _watch(self):
        """Steady-clock watchdog: the node clock (and with it the control timer) has not moved
        for too long (core.loop.LoopPolicy.clock_stopped): the safe command goes out."""
        quiet = self.loop.clock_stopped(self._steady_seconds())
        if quiet is None:
            self._status(self.health.poll(self._steady_seconds(), self.sup.counters.as_dict()))
            return
        try:
            decision = self.sup.decide(self.x, float('inf'), None, self._safe)
            decision.reason = 'control clock stopped %.2f s ago; %s' % (quiet, decision.reason)
            stamp = self._send(decision)
            self._after(decision, None, stamp)
            self._diagnose(decision, None, None, 0.0, stamp)
        except Exception as err:   # noqa: B902
            self._emergency(err)

    def _send(self, decision):
        """Publish the command; returns the stamp of this step."""
        stamp = self.get_clock().now().to_msg()
        self.out.command(decision.command, stamp, x=self.x, p=self.ctrl.tuning.model_p)
        return stamp

    def _after(self, decision, result, stamp):
        """The rest of a step, once its command is out: prediction, energy, mode changes."""
        if decision.mode != Mode.NORMAL:
            self.ctrl.applied(decision.command)
        if self._unmeasured and self.x is not None:
            self.ctrl.sent(self.x, decision.command)
        if decision.mode == Mode.NORMAL:
            self.out.prediction(result, stamp, self.cfg)
        self.energy.add(self.x if decision.mode != Mode.STALE else None, decision.command,
                        1.0 / self.cfg.rate_hz)
        self.last = (decision, result)
        skipped = self.mode_log.change(decision.mode, self._steady_seconds())
        if skipped is not None:
            more = ' (%d more changes into it since its last line)' % skipped if skipped else ''
            if decision.mode == Mode.NORMAL:
                self.get_logger().info('mode NORMAL' + more)
            else:
                self.get_logger().warning('mode %s: %s%s' % (decision.mode.value,
                                                             decision.reason, more))

    def _build_sensitivity(self):
        """Build the derivative functions of the problem (at configure, or on a thread when
        ``sensitivity_rate_hz`` is first set at run time, so control goes on meanwhile)."""
        ctrl = self.ctrl
        started = self.steady.now()
        columns = ctrl.differentiator.columns(('costs.', 'x0['))
        if ctrl is self.ctrl:
            self._sens_columns = columns
            self.get_logger().info('sensitivities ready for ~/sensitivity (%.1f s)' % (
                (self.steady.now() - started).nanoseconds * 1e-9))

    def _publish_sensitivity(self, result, stamp):
        """Throttled: the last solve's sensitivities on ~/sensitivity, after its command."""
        rate = self.cfg.sensitivity_rate_hz
        if rate <= 0 or self._sens_columns is None or not self.out.due('sensitivity', stamp,
                                                                       rate):
            return
        try:
            sens = self.ctrl.sensitivity(self._sens_columns)
            cost = result.cost if result is not None and result.success else float('nan')
            self.out.sensitivity(diagnostics.sensitivity_bytes(
                stamp, '%s: sensitivity' % self.get_fully_qualified_name(), self.model.name,
                sens, cost))
        except Exception as err:   # noqa: B902 - a report must never stop the control loop
            self.get_logger().error('sensitivities failed: %r' % (err,),
                                    throttle_duration_sec=LOG_EVERY)

    def _follow_config(self):
        if self.cfg.sensitivity_rate_hz > 0 and self._sens_columns is None and \
                self._sens_builder is None:
            self.get_logger().info('building the sensitivities for ~/sensitivity')
            self._sens_builder = threading.Thread(target=self._build_sensitivity, daemon=True)
            self._sens_builder.start()
        self._configure_supervisor()
        self.loop.configure(self.cfg.rate_hz, self.cfg.state_timeout)
        self.out.configure(self.cfg)
        period_ns = int(1e9 / self.cfg.rate_hz)
        if self.intake is not None:
            self.intake.period_ns = period_ns
        if self.timer is not None and self.timer.timer_period_ns != period_ns:
            # new timers: a changed period of a running timer only applies after its next call
            self.destroy_timer(self.timer)
            self.destroy_timer(self.watchdog)
            self.timer = self.create_timer(period_ns * 1e-9, self._tick)
            self.watchdog = self.create_timer(period_ns * 1e-9, self._watch, clock=self.steady)

    def _steady_seconds(self):
        return self.steady.now().nanoseconds * 1e-9

    def _diagnose(self, decision, result, age, elapsed, stamp):
        """The step's telemetry on ~/telemetry; the aggregated status when one is due."""
        goal_error = self.ctrl.goal_error(self.x) if self.x is not None else float('nan')
        latest = {'goal': ' '.join('%.4g' % g for g in self.ctrl.goal),
                  'goal_error': goal_error,
                  'goal_reached': bool(goal_error < self.cfg.goal_tolerance),
                  'energy_used': self.energy.total, 'energy_unit': self.energy.unit,
                  'model': self.model.name, 'solver': self.cfg.solver.name,
                  'solver_builds': builds(), 'last_rejection': self.sup.last_rejection}
        extra = dict(latest, step_time_ms=elapsed * 1e3, clock_rate=self.loop.clock.rate,
                     state_age=-1.0 if age is None else float(age),
                     state=diagnostics.numbers(self.x),
                     command=diagnostics.numbers(decision.command))
        if self.x_header is not None:   # header stamp of the state this step used
            extra['state_stamp'] = '%d.%09d' % self.x_header
        counters = self.sup.counters.as_dict()
        values = diagnostics.step_values(decision, result, counters, extra)
        self.out.telemetry(diagnostics.array_bytes(stamp, self._diagnostics_name(),
                                                   self.model.name, decision.mode.value,
                                                   decision.reason, values))
        self.health.period = self.cfg.diagnostics_period
        self._status(self.health.step(self._steady_seconds(), decision.mode, decision.reason,
                                      counters, None if result is None else result.solve_time,
                                      latest), stamp)

    def _diagnostics_name(self):
        return '%s: model predictive control' % self.get_fully_qualified_name()

    def _status(self, status, stamp=None):
        """Publish an aggregated status (core.health.Status) on /diagnostics, if any."""
        if status is None:
            return
        if stamp is None:
            stamp = self.get_clock().now().to_msg()
        self.out.diagnostics(diagnostics.status_bytes(stamp, self._diagnostics_name(),
                                                      self.model.name, status))

    # ------------------------------------------------------------------ shutdown
    def _send_stop(self):
        """The last command: the one a driver may hold once no controller is left (no braking
        term). Returns it."""
        u = self.sup.clip(np.zeros(self.model.nu) if self.x is None
                          else self.ctrl.safe_input(self.x, brake=False))
        self.out.command(u, self.get_clock().now().to_msg(), x=self.x,
                         p=self.ctrl.tuning.model_p)
        self.out.flush()
        return u

    def stop(self):
        """Stop taking states, publish the safe command, and wait briefly until it is
        delivered."""
        self._deactivate()


def main(args=None):
    return runtime.run(MpcNode, args, 'mpc_node', require_params=True)


if __name__ == '__main__':
    sys.exit(main())
