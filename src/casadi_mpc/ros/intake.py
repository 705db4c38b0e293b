"""State messages taken on a thread of their own, as serialized bytes.

The executor's spin loop rebuilds its wait set over every entity of the node (parameter
services, timers, goal subscriptions) and dispatches through tasks each time something arrives;
on the control path that costs more than the solve, and a timer of the executor that fires
while a state is being handled holds the GIL against it. Here one thread waits on the state
subscription alone and hands each message's bytes to ``handler`` at once; it also calls
``periodic`` every ``period_ns`` of steady time (the node's checks for stale state), so the
executor keeps only the rare callbacks (goals, parameters). The handler runs on this thread: the
node serializes it with its other callbacks by a lock. The wait releases the GIL.

The subscription and wait set come from rclpy's implementation module, as rclpy's own
``wait_for_message`` builds them, so the executor never sees this subscription.
"""
import threading
import time

from rclpy.impl.implementation_singleton import rclpy_implementation as _rclpy
from rclpy.type_support import check_is_valid_msg_type

WAIT_NS = 100_000_000   # [ns] longest wait between checks of the stop flag


class StateIntake:

    def __init__(self, node, msg_type, topic, qos_profile, handler, on_error, periodic=None,
                 period_ns=WAIT_NS):
        check_is_valid_msg_type(msg_type)   # loads the type support
        self.msg_type, self.handler, self.on_error = msg_type, handler, on_error
        self.periodic, self.period_ns = periodic, int(period_ns)
        context = node.context.handle
        with node.handle:
            self.sub = _rclpy.Subscription(node.handle, msg_type, topic,
                                           qos_profile.get_c_qos_profile())
        self.wake = _rclpy.GuardCondition(context)
        self.wait_set = _rclpy.WaitSet(1, 1, 0, 0, 0, 0, context)
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._run, name='state_intake', daemon=True)
        self.thread.start()

    def _run(self):
        ws, sub = self.wait_set, self.sub
        due = time.monotonic_ns() + self.period_ns
        while not self._stop.is_set():
            ws.clear_entities()
            ws.add_subscription(sub)
            ws.add_guard_condition(self.wake)
            timeout = WAIT_NS
            if self.periodic is not None:
                timeout = min(timeout, max(0, due - time.monotonic_ns()))
            try:
                ws.wait(timeout)
            except Exception as err:   # noqa: B902 - e.g. the context was shut down
                if not self._stop.is_set():
                    self.on_error(err)
                return
            self._drain(sub)
            now = time.monotonic_ns()
            if self.periodic is not None and now >= due and not self._stop.is_set():
                # on the grid of the period; after a long stall, from now
                due = due + self.period_ns if now < due + self.period_ns else now + self.period_ns
                try:
                    self.periodic()
                except Exception as err:   # noqa: B902
                    self.on_error(err)

    def _drain(self, sub):
        """Handle every message waiting, in order."""
        while not self._stop.is_set():
            try:
                taken = sub.take_message(self.msg_type, True)
            except Exception as err:   # noqa: B902
                self.on_error(err)
                return
            if taken is None:
                return
            try:
                self.handler(taken[0])
            except Exception as err:   # noqa: B902 - the intake must keep running
                self.on_error(err)

    def close(self, timeout=2.0):
        """Stop the thread (it finishes the message in hand), then drop the subscription."""
        self._stop.set()
        self.wake.trigger_guard_condition()
        self.thread.join(timeout)
        if not self.thread.is_alive():
            self.sub.destroy_when_not_in_use()
            self.wake.destroy_when_not_in_use()
