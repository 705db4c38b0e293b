"""DiagnosticArray messages from plain values (pure; the node gathers the values).

Two kinds: the per-step telemetry of the controller (``~/telemetry``, every control step: mode,
solver figures, the state used and the command sent, counters) and the aggregated status on
``/diagnostics`` (about 1 Hz, folded by ``core.health``). The node publishes both serialized
(``array_bytes``, ``status_bytes``: no message objects); ``status`` and ``array`` build the
same as message objects for tools and tests.
"""
import math

from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue

from . import cdr
from ..core.health import mode_level


def text(value):
    """KeyValue text: floats with 6 significant digits, nan for missing numbers."""
    if isinstance(value, bool):
        return 'true' if value else 'false'
    if isinstance(value, float):
        return 'nan' if math.isnan(value) else '%.6g' % value
    return str(value)


def level(mode):
    """The DiagnosticStatus level (bytes, as rclpy holds it) of a supervisor mode."""
    return bytes([mode_level(mode)])


def numbers(vector):
    """A vector as space-separated numbers, 6 significant digits ('' for None)."""
    if vector is None:
        return ''
    return ' '.join('%.6g' % v for v in vector)


def parse_numbers(value):
    """The floats of a ``numbers`` text; None when empty or not numbers."""
    try:
        out = [float(v) for v in (value or '').split()]
    except ValueError:
        return None
    return out or None


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


def status_bytes(stamp, name, hardware_id, health_status):
    """A ``core.health.Status`` as a DiagnosticArray stamped ``stamp``, serialized."""
    pairs = [(str(k), text(v)) for k, v in health_status.values.items()]
    return cdr.diagnostic_array((stamp.sec, stamp.nanosec), [
        (int(health_status.level), name, health_status.message, hardware_id, pairs)])


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


def sensitivity_bytes(stamp, name, hardware_id, sens, cost):
    """The sensitivities of one solve (core.sensitivity.SolveSensitivity) as a DiagnosticArray
    stamped ``stamp``, serialized: per weight entry ``dV/d <label>``, ``du0/d <label>`` (one
    number per input) and ``margin <label>`` (how far it may fall and rise before the active
    set changes); ``du0/dx0`` (rows per input, ';' between rows), ``dV/dx0``; the status, the
    KKT residual, the active and weakly active constraints. WARN when there is no derivative."""
    if sens is None or not sens.ok:
        message = 'no sensitivities: %s' % ('the last solve failed' if sens is None
                                            else sens.message)
        pairs = [('status', 'failed' if sens is None else sens.status)]
        return cdr.diagnostic_array((stamp.sec, stamp.nanosec),
                                    [(1, name, message, hardware_id, pairs)])
    values = {'status': sens.status, 'cost': cost, 'kkt_residual': sens.kkt_residual,
              'active_constraints': len(sens.active),
              'weakly_active': ' '.join(sens.weakly_active), 'compute_ms': sens.seconds * 1e3}
    x0 = sens.columns('x0[')
    for j, label in enumerate(sens.labels):
        if j in x0:
            continue
        values['dV/d ' + label] = float(sens.dV[j])
        values['du0/d ' + label] = numbers(sens.du0[:, j])
        values['margin ' + label] = numbers(sens.margin[:, j])
    values['dV/dx0'] = numbers(sens.dV[x0])
    values['du0/dx0'] = '; '.join(numbers(row) for row in sens.du0_dx0)
    pairs = [(str(k), text(v)) for k, v in values.items()]
    return cdr.diagnostic_array((stamp.sec, stamp.nanosec), [
        (0, name, 'sensitivities of the solve to %d weight entries and the state'
         % (len(sens.labels) - len(x0)), hardware_id, pairs)])


def array(stamp, *statuses):
    msg = DiagnosticArray()
    msg.header.stamp = stamp
    msg.status = list(statuses)
    return msg


def values_of(msg):
    """name -> {key: value text} of a DiagnosticArray (for tools and tests)."""
    return {s.name: {kv.key: kv.value for kv in s.values} for s in msg.status}


def statuses_of(msg):
    """name -> (level as int, message, {key: value text}) of a DiagnosticArray."""
    return {s.name: (ord(s.level) if isinstance(s.level, bytes) else int(s.level), s.message,
                     {kv.key: kv.value for kv in s.values}) for s in msg.status}
