"""Process life cycle shared by the node executables: init, spin, clean stop.

SIGINT and SIGTERM only set a flag: the spin loop then returns, the node publishes its stop
command while the context is still valid, and the process exits. A configuration error ends the
process with status 2 and the reason in the log.
"""
import signal
import threading

import rclpy
from rclpy.executors import SingleThreadedExecutor
from rclpy.signals import SignalHandlerOptions

from ..core.config import ConfigError

SPIN_TIMEOUT = 0.1   # [s] longest wait between checks of the stop flag


def run(node_class, args=None, name='node'):
    """Create ``node_class()``, spin it until a signal arrives, then ``node.stop()``."""
    rclpy.init(args=args, signal_handler_options=SignalHandlerOptions.NO)
    stop = threading.Event()
    previous = {s: signal.signal(s, lambda *_: stop.set()) for s in (signal.SIGINT,
                                                                     signal.SIGTERM)}
    node, code = None, 0
    try:
        node = node_class()
        executor = SingleThreadedExecutor()
        executor.add_node(node)
        while rclpy.ok() and not stop.is_set():
            executor.spin_once(timeout_sec=SPIN_TIMEOUT)
    except ConfigError as err:
        rclpy.logging.get_logger(name).fatal('configuration error: %s' % err)
        code = 2
    finally:
        if node is not None:
            try:
                node.stop()
            finally:
                node.destroy_node()
        rclpy.try_shutdown()
        for s, handler in previous.items():
            signal.signal(s, handler)
    return code
