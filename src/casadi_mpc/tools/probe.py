"""A test-side node for systems running over DDS: record topics, publish, call services.

Spins in a background thread in its own context (its own domain id); every wait is a condition
polled against a deadline. Used by the integration tests (test/ros, test/launch), the demo's
observer and the latency benchmark.
"""
import threading
import time

import rclpy
from diagnostic_msgs.msg import DiagnosticArray
from lifecycle_msgs.msg import Transition
from lifecycle_msgs.srv import ChangeState, GetState
from rcl_interfaces.srv import GetParameters, SetParameters
from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor
from rclpy.parameter import Parameter, parameter_value_to_python
from rclpy.signals import SignalHandlerOptions

from ..ros import qos
from ..ros.diagnostics import statuses_of, values_of


class Recorder:
    """Messages of one topic with their arrival time (time.monotonic)."""

    def __init__(self):
        self.items = []

    def __call__(self, msg):
        self.items.append((time.monotonic(), msg))

    @property
    def msgs(self):
        return [m for _, m in self.items]

    def last(self):
        return self.items[-1][1] if self.items else None

    def since(self, t):
        return [m for s, m in self.items if s >= t]

    def __len__(self):
        return len(self.items)


class Diagnostics(Recorder):
    """The mpc_node's per-step telemetry values (key -> text), one dict per control step (from
    ``<node>/telemetry``)."""

    def __init__(self, node_name='mpc_node'):
        super().__init__()
        self.node_name = node_name

    def __call__(self, msg):
        for name, values in values_of(msg).items():
            if self.node_name in name:
                self.items.append((time.monotonic(), values))

    def value(self, key, default=None):
        last = self.last()
        return default if last is None else last.get(key, default)

    def number(self, key):
        return float(self.value(key, 'nan'))


class Status(Recorder):
    """The mpc_node's aggregated status on ``/diagnostics``: one dict per message with
    'level' (int: 0 OK, 1 WARN, 2 ERROR), 'message' and 'values' (key -> text)."""

    def __init__(self, node_name='mpc_node'):
        super().__init__()
        self.node_name = node_name

    def __call__(self, msg):
        for name, (level, message, values) in statuses_of(msg).items():
            if self.node_name in name:
                self.items.append((time.monotonic(), {'level': level, 'message': message,
                                                      'values': values}))

    def level(self):
        last = self.last()
        return None if last is None else last['level']

    def message(self):
        last = self.last()
        return None if last is None else last['message']

    def value(self, key, default=None):
        last = self.last()
        return default if last is None else last['values'].get(key, default)


class Probe:
    """A node of our own, spun in a background thread."""

    def __init__(self, domain, name='test_probe'):
        self.context = rclpy.context.Context()
        rclpy.init(context=self.context, domain_id=domain,
                   signal_handler_options=SignalHandlerOptions.NO)
        self.node = rclpy.create_node(name, context=self.context)
        self.executor = SingleThreadedExecutor(context=self.context)
        self.executor.add_node(self.node)
        self.thread = threading.Thread(target=self._spin, daemon=True)
        self.thread.start()

    def _spin(self):
        while self.context.ok():
            try:
                self.executor.spin_once(timeout_sec=0.05)
            except (ExternalShutdownException, rclpy.executors.ShutdownException):
                break

    def record(self, msg_type, topic, qos_profile=qos.COMMAND):
        rec = Recorder()
        self.node.create_subscription(msg_type, topic, rec, qos_profile)
        return rec

    def diagnostics(self, node_name='mpc_node'):
        """The per-step telemetry of ``node_name`` (a name or a path like /ns/mpc_node)."""
        rec = Diagnostics(node_name)
        rec.subscription = self.node.create_subscription(
            DiagnosticArray, '%s/telemetry' % node_name, rec, qos.DIAGNOSTICS)
        return rec

    def sensitivity(self, node_name='mpc_node'):
        """The sensitivities of ``node_name``'s solves (``<node>/sensitivity``), key -> text per
        message."""
        rec = Diagnostics(node_name)
        rec.subscription = self.node.create_subscription(
            DiagnosticArray, '%s/sensitivity' % node_name, rec, qos.DIAGNOSTICS)
        return rec

    def status(self, node_name='mpc_node'):
        """The aggregated status of ``node_name`` on /diagnostics (about 1 Hz)."""
        rec = Status(node_name)
        self.node.create_subscription(DiagnosticArray, '/diagnostics', rec, qos.DIAGNOSTICS)
        return rec

    def publisher(self, msg_type, topic, qos_profile=qos.COMMAND):
        return self.node.create_publisher(msg_type, topic, qos_profile)

    def wait_for(self, condition, timeout, what='condition', check=None):
        """Poll ``condition`` until true; TimeoutError after ``timeout`` s. ``check`` runs on
        every poll (e.g. System.check, which raises when a node died)."""
        deadline = time.monotonic() + timeout
        while True:
            if check is not None:
                check()
            if condition():
                return
            if time.monotonic() >= deadline:
                raise TimeoutError('timed out after %.1f s waiting for %s' % (timeout, what))
            time.sleep(0.01)

    def stamped(self, msg, offset=0.0):
        """``msg`` with its header stamped now (+ ``offset`` s) on this node's (wall) clock, as
        a driver stamps its state messages."""
        t = self.node.get_clock().now().nanoseconds + int(offset * 1e9)
        msg.header.stamp.sec, msg.header.stamp.nanosec = divmod(t, 1_000_000_000)
        return msg

    def publish_until(self, pub, msg, condition, timeout, what, check=None, period=0.1):
        """Publish ``msg`` (or what a callable ``msg`` returns, e.g. a freshly stamped state)
        every ``period`` s until ``condition`` holds (discovery races)."""
        deadline = time.monotonic() + timeout
        while True:
            pub.publish(msg() if callable(msg) else msg)
            try:
                return self.wait_for(condition, period, what, check)
            except TimeoutError:
                if time.monotonic() >= deadline:
                    raise TimeoutError('timed out after %.1f s waiting for %s'
                                       % (timeout, what)) from None

    def call(self, srv_type, name, request, timeout=10.0, retry=2.0):
        """Call a service; the request is sent again every ``retry`` s until a response comes
        (a response can be lost while the service's reply path is still being matched)."""
        client = self.node.create_client(srv_type, name)
        try:
            self.wait_for(client.service_is_ready, timeout, 'the service %s' % name)
            deadline = time.monotonic() + timeout
            while True:
                future = client.call_async(request)
                try:
                    self.wait_for(future.done, min(retry, max(0.0, deadline -
                                                              time.monotonic())),
                                  'the %s response' % name)
                    return future.result()
                except TimeoutError:
                    client.remove_pending_request(future)
                    if time.monotonic() >= deadline:
                        raise
        finally:
            self.node.destroy_client(client)

    def change_state(self, node_name, transition, timeout=60.0):
        """Call <node>/change_state with a lifecycle_msgs Transition id; True on success."""
        request = ChangeState.Request(transition=Transition(id=transition))
        return self.call(ChangeState, '/%s/change_state' % node_name, request, timeout).success

    def lifecycle_state(self, node_name, timeout=30.0):
        """The label of a lifecycle node's current state ('unconfigured', 'active', ...)."""
        response = self.call(GetState, '/%s/get_state' % node_name, GetState.Request(),
                             timeout)
        return response.current_state.label

    def set_parameters(self, node_name, values, timeout=10.0):
        """Call <node>/set_parameters (rcl_interfaces/SetParameters); one result per value."""
        request = SetParameters.Request(parameters=[Parameter(k, value=v).to_parameter_msg()
                                                    for k, v in values.items()])
        return self.call(SetParameters, '/%s/set_parameters' % node_name, request,
                         timeout).results

    def get_parameters(self, node_name, names, timeout=10.0):
        """Call <node>/get_parameters; python values in the order of ``names``."""
        response = self.call(GetParameters, '/%s/get_parameters' % node_name,
                             GetParameters.Request(names=list(names)), timeout)
        return [parameter_value_to_python(v) for v in response.values]

    def close(self):
        self.executor.shutdown(timeout_sec=1.0)
        self.node.destroy_node()
        rclpy.try_shutdown(context=self.context)
        self.thread.join(timeout=2.0)
