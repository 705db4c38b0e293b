"""DiagnosticArray messages from plain values (pure; the node gathers the values).

The node publishes them serialized (``array_bytes``: no message objects, every control step);
``status`` and ``array`` build the same as message objects for tools and tests.
"""
import math

from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue

from . import cdr

LEVELS = {'NORMAL': DiagnosticStatus.OK, 'NO_STATE': DiagnosticStatus.WARN,
          'FALLBACK': DiagnosticStatus.WARN, 'STALE': DiagnosticStatus.ERROR,
          'SAFE': DiagnosticStatus.ERROR}


def text(value):
    """KeyValue text: floats with 6 significant digits, nan for missing numbers."""
    if isinstance(value, bool):
        return 'true' if value else 'false'
    if isinstance(value, float):
        return 'nan' if math.isnan(value) else '%.6g' % value
    return str(value)


def level(mode):
    """The DiagnosticStatus level (bytes, as rclpy holds it) of a supervisor mode."""
    return LEVELS.get(mode, DiagnosticStatus.ERROR)


def status(name, hardware_id, mode, message, values):
    """One DiagnosticStatus; its level follows the supervisor mode."""
    st = DiagnosticStatus()
    st.name = name
    st.hardware_id = hardware_id
    st.level = level(mode)
    st.message = message or mode
    st.values = [KeyValue(key=str(k), value=text(v)) for k, v in values.items()]
    return st


def array_bytes(stamp, name, hardware_id, mode, message, values):
    """The same status in a DiagnosticArray stamped ``stamp`` (builtin Time), serialized."""
    pairs = [(str(k), text(v)) for k, v in values.items()]
    return cdr.diagnostic_array((stamp.sec, stamp.nanosec), [
        (ord(level(mode)), name, message or mode, hardware_id, pairs)])


def step_values(decision, result, counters, extra):
    """The key/values of one control step: mode, solver figures, cost per term (with the
    task/energy split), the supervisor's counters, then ``extra``."""
    values = {'mode': decision.mode.value, 'reason': decision.reason}
    if result is not None:
        values.update({'solver_status': result.status, 'solve_time_ms': result.solve_time * 1e3,
                       'iterations': result.iterations, 'cost': result.cost})
        values.update({'cost.' + k: v for k, v in result.cost_terms.items()})
    counters = dict(counters)
    counters['rejected_messages'] = counters.pop('rejected', 0)
    values.update(counters)
    values.update(extra)
    return values


def array(stamp, *statuses):
    msg = DiagnosticArray()
    msg.header.stamp = stamp
    msg.status = list(statuses)
    return msg


def values_of(msg):
    """name -> {key: value text} of a DiagnosticArray (for tools and tests)."""
    return {s.name: {kv.key: kv.value for kv in s.values} for s in msg.status}
