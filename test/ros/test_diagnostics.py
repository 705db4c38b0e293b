"""/diagnostics carries the aggregated status about once per diagnostics_period, ~/telemetry
every control step; a fault reaches /diagnostics at once, not a period later."""
import time

import pytest
from nav_msgs.msg import Odometry

from casadi_mpc.ros import qos

OK, WARN, ERROR = 0, 1, 2


def odometry():
    msg = Odometry()
    msg.header.frame_id = 'odom'
    msg.pose.pose.orientation.w = 1.0
    return msg


@pytest.mark.parametrize('trigger', ['timer', 'state'])
def test_status_about_once_a_second_telemetry_every_step(systems, probe, trigger):
    # a generous solver time limit: no failed solve on a loaded machine, so no status comes
    # early and the count is the period's
    system = systems.sim('planar_arm', real_time_factor=1.0, mpc={
        'control_trigger': trigger, 'solver.time_limit': 0.5, 'diagnostics_period': 1.0})
    telemetry, status = probe.diagnostics(), probe.status()
    probe.wait_for(lambda: telemetry.value('mode') == 'NORMAL' and status.level() == OK, 60,
                   'the controller running and reporting OK', system.check)
    t0 = time.monotonic()
    probe.wait_for(lambda: time.monotonic() >= t0 + 4.0, 10, 'a window of 4 s', system.check)
    statuses, steps = status.since(t0), telemetry.since(t0)
    assert 2 <= len(statuses) <= 6, [s['message'] for s in statuses]
    assert len(steps) >= 10 * len(statuses)    # the control rate is 50 Hz
    for s in statuses:
        v = s['values']
        assert s['level'] == OK and s['message'] == 'NORMAL' and v['mode'] == 'NORMAL'
        assert int(v['steps']) > 10 and int(v['solves']) == int(v['steps'])
        assert int(v['safe_steps']) == 0 and int(v['rejected_messages_total']) == 0
        assert float(v['solve_time_max_ms']) >= float(v['solve_time_median_ms']) > 0
        assert v['model'] == 'planar_arm' and v['solver'] == 'sqp_rti'
        for key in ('goal', 'goal_error', 'goal_reached', 'energy_used', 'solver_builds',
                    'fallbacks', 'stale_steps', 'deadline_misses', 'rejected_messages'):
            assert key in v
    # every telemetry message names the state used and the command sent
    last = steps[-1]
    assert len(last['state'].split()) == 4 and len(last['command'].split()) == 2


@pytest.mark.parametrize('trigger', ['timer', 'state'])
def test_stale_state_is_an_error_on_diagnostics_at_once(systems, probe, trigger):
    # a period far longer than the test: only the immediate status can report the fault
    system = systems.controller_only('diff_drive', mpc={
        'control_trigger': trigger, 'rate_hz': 20.0, 'state_timeout': 0.5,
        'diagnostics_period': 60.0, 'goal': [3.0, 0.0, 0.0]})
    telemetry, status = probe.diagnostics(), probe.status()
    odom = probe.publisher(Odometry, 'odom', qos.STATE)
    probe.publish_until(odom, lambda: probe.stamped(odometry()),
                        lambda: telemetry.value('mode') == 'NORMAL', 30,
                        'the controller running', system.check)
    # the states stop: after state_timeout the steps are STALE
    probe.wait_for(lambda: status.level() == ERROR, 10, 'an ERROR status', system.check)
    error = status.last()
    assert error['message'].startswith('STALE '), error['message']
    assert 'state is' in error['message'] and error['values']['mode'] == 'STALE'
    assert int(error['values']['stale_steps']) >= 1
    assert float(error['values']['period']) < 60.0
    assert all(s['level'] < ERROR for s in status.msgs[:-1])
