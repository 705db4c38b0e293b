"""Diagnostics messages from plain values."""
import numpy as np
from diagnostic_msgs.msg import DiagnosticStatus

from casadi_mpc.core.solvers.base import SolveResult
from casadi_mpc.core.supervisor import Counters, Decision, Mode
from casadi_mpc.ros import diagnostics


def test_step_values_and_status():
    result = SolveResult(status='optimal', success=True, u0=np.zeros(2), x_pred=None,
                         u_pred=None, iterations=4, solve_time=0.0015, cost=1.5,
                         cost_terms={'effort': 0.5, 'task': 1.0, 'energy': 0.5})
    counters = Counters(rejected=3, fallbacks=1).as_dict()
    values = diagnostics.step_values(Decision(np.zeros(2), Mode.NORMAL), result, counters,
                                     {'goal_reached': True})
    assert values['solve_time_ms'] == 1.5 and values['cost.task'] == 1.0
    assert values['rejected_messages'] == 3 and 'rejected' not in values
    st = diagnostics.status('/mpc_node: mpc', 'diff_drive', 'NORMAL', '', values)
    assert st.level == DiagnosticStatus.OK and st.message == 'NORMAL'
    msg = diagnostics.array(diagnostics.DiagnosticArray().header.stamp, st)
    got = diagnostics.values_of(msg)['/mpc_node: mpc']
    assert got['goal_reached'] == 'true' and got['cost.energy'] == '0.5'
    assert got['fallbacks'] == '1'


def test_levels_and_missing_numbers():
    assert diagnostics.status('n', 'h', 'STALE', 'old', {}).level == DiagnosticStatus.ERROR
    assert diagnostics.status('n', 'h', 'FALLBACK', 'x', {}).level == DiagnosticStatus.WARN
    values = diagnostics.step_values(Decision(np.zeros(1), Mode.NO_STATE, 'none'), None,
                                     Counters().as_dict(), {'goal_error': float('nan')})
    assert 'solver_status' not in values
    assert diagnostics.text(values['goal_error']) == 'nan'


def test_serialized_array_equals_the_message_objects():
    from builtin_interfaces.msg import Time
    from rclpy.serialization import deserialize_message
    values = {'mode': 'FALLBACK', 'solve_time_ms': 0.25, 'reason': 'solver timeout: slow',
              'goal_reached': False, 'goal_error': float('nan'), 'iterations': 3, 'e': ''}
    for mode, message in (('FALLBACK', 'following the previous plan'), ('NORMAL', ''),
                          ('STALE', 'state is 0.6 s old'), ('SAFE', 'αβ unicode')):
        stamp = Time(sec=12, nanosec=345)
        raw = diagnostics.array_bytes(stamp, '/ns/mpc_node: mpc', 'arm', mode, message, values)
        got = deserialize_message(raw, diagnostics.DiagnosticArray)
        st = diagnostics.status('/ns/mpc_node: mpc', 'arm', mode, message, values)
        want = diagnostics.array(stamp, st)
        assert got == want
    empty = deserialize_message(diagnostics.array_bytes(Time(), 'n', '', 'NO_STATE', '', {}),
                                diagnostics.DiagnosticArray)
    assert empty.status[0].values == [] and empty.status[0].message == 'NO_STATE'


def test_aggregated_status_serialized_and_read_back():
    from builtin_interfaces.msg import Time
    from rclpy.serialization import deserialize_message
    from casadi_mpc.core.health import ERROR, Status
    status = Status(ERROR, 'SAFE 12 of 50 steps: no plan left',
                    {'steps': 50, 'solve_time_median_ms': float('nan'), 'goal_reached': False})
    raw = diagnostics.status_bytes(Time(sec=3, nanosec=7), '/mpc_node: mpc', 'arm', status)
    msg = deserialize_message(raw, diagnostics.DiagnosticArray)
    assert msg.header.stamp.sec == 3 and msg.status[0].level == DiagnosticStatus.ERROR
    level, message, values = diagnostics.statuses_of(msg)['/mpc_node: mpc']
    assert level == 2 and message == status.message
    assert values == {'steps': '50', 'solve_time_median_ms': 'nan', 'goal_reached': 'false'}


def test_vectors_as_text_and_back():
    text = diagnostics.numbers(np.array([1.0, -2.5e-7, 123456789.0]))
    assert text == '1 -2.5e-07 1.23457e+08'
    assert diagnostics.parse_numbers(text) == [1.0, -2.5e-7, 123457000.0]
    assert diagnostics.numbers(None) == '' and diagnostics.parse_numbers('') is None
    assert diagnostics.parse_numbers('1 x') is None
