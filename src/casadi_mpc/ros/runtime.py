"""Process life cycle shared by the node executables: init, spin, clean stop.

The executor spins on a thread of its own and sleeps until something is ready (no polling:
a wake-up of the executor would hold the GIL against the control path). The main thread waits
for SIGINT or SIGTERM, which only set a flag; then a guard condition wakes the executor so it
returns, the node publishes its stop command while the context is still valid, and the process
exits. A configuration error ends the process with status 2 and the reason in the log; an error
escaping the executor ends it with status 1.
"""
import functools
import os
import signal
import sys
import threading

import rclpy
from rclpy.executors import SingleThreadedExecutor
from rclpy.signals import SignalHandlerOptions

from . import param_files
from ..core.config import ConfigError

JOIN_TIMEOUT = 2.0   # [s] for the callback in progress to finish at a stop


def set_realtime(priority):
    """SCHED_FIFO at ``priority`` for every thread of this process (threads started later
    inherit it). Returns None, or why it could not be set."""
    if priority <= 0:
        return None
    if not hasattr(os, 'sched_setscheduler'):
        return 'this platform has no SCHED_FIFO'
    try:
        tasks = [int(t) for t in os.listdir('/proc/self/task')]
    except OSError:
        tasks = [0]
    for task in tasks:
        try:
            os.sched_setscheduler(task, os.SCHED_FIFO, os.sched_param(priority))
        except ProcessLookupError:
            continue   # the thread ended meanwhile
        except OSError as err:
            return '%s (needs CAP_SYS_NICE or an rtprio limit: ulimit -r)' % err
    return None


def locked(method):
    """Run a node's callback under its ``lock``: callbacks of a thread of its own (a state or
    command intake) and of the executor share the node's state."""
    @functools.wraps(method)
    def run(self, *args):
        with self.lock:
            return method(self, *args)
    return run


def fail_at_start(name, err):
    """A start-up failure before any node exists: one line on stderr; the exit status."""
    sys.stderr.write('[FATAL] [%s]: configuration error: %s\n'
                     % (name, str(err).strip().splitlines()[0] if str(err).strip() else err))
    sys.stderr.flush()
    return 2


def run(node_class, args=None, name='node', require_params=False):
    """Create ``node_class()``, spin it until a signal arrives, then ``node.stop()``.

    The parameter files are checked first (``param_files``); with ``require_params`` a node
    started without one is refused."""
    argv = list(sys.argv if args is None else args)
    try:
        param_files.check_files(argv, name, require_params)
        rclpy.init(args=args, signal_handler_options=SignalHandlerOptions.NO)
    except ConfigError as err:
        return fail_at_start(name, err)
    except Exception as err:   # noqa: B902 - rcl's own parser: its first line is the reason
        return fail_at_start(name, err)
    stop = threading.Event()
    previous = {s: signal.signal(s, lambda *_: stop.set()) for s in (signal.SIGINT,
                                                                     signal.SIGTERM)}
    node, code, failed = None, 0, []
    try:
        node = node_class(argv=argv)
        priority = node.cfg.realtime_priority
        failed_rt = set_realtime(priority)
        if failed_rt:
            node.get_logger().warning('realtime_priority %d not applied: %s'
                                      % (priority, failed_rt))
        elif priority:
            node.get_logger().info('running at SCHED_FIFO priority %d' % priority)
        executor = SingleThreadedExecutor()
        executor.add_node(node)
        wake = node.create_guard_condition(lambda: None)

        def spin():
            try:
                while rclpy.ok() and not stop.is_set():
                    executor.spin_once()
            except Exception as err:   # noqa: B902 - reported by the main thread
                failed.append(err)
            finally:
                stop.set()
        spinner = threading.Thread(target=spin, name='executor', daemon=True)
        spinner.start()
        while not stop.wait(1.0):   # signals are handled between the waits at the latest
            pass
        wake.trigger()
        spinner.join(JOIN_TIMEOUT)
        if failed:
            rclpy.logging.get_logger(name).fatal('executor stopped: %r' % (failed[0],))
            code = 1
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
