"""mpc_node publishes the sensitivities of its solves on ~/sensitivity when asked
(sensitivity_rate_hz > 0, off by default), labelled per weight entry and throttled."""
import time


def test_off_by_default_on_when_asked_at_run_time(systems, probe):
    system = systems.sim('diff_drive', real_time_factor=1.0)
    telemetry, sens = probe.diagnostics(), probe.sensitivity()
    probe.wait_for(lambda: telemetry.value('mode') == 'NORMAL', 60, 'the controller running',
                   system.check)
    t0 = time.monotonic()
    probe.wait_for(lambda: time.monotonic() > t0 + 1.5, 5, 'a while of control')
    assert not probe.node.get_publishers_info_by_topic('/mpc_node/sensitivity')
    assert len(sens) == 0
    result, = probe.set_parameters('mpc_node', {'sensitivity_rate_hz': 2.0})
    assert result.successful, result.reason
    probe.wait_for(lambda: len(sens) >= 1, 30, 'the first sensitivities', system.check)


def test_labelled_per_weight_entry_and_throttled(systems, probe):
    system = systems.sim('diff_drive', real_time_factor=1.0, mpc={
        'sensitivity_rate_hz': 2.0, 'goal': [3.0, 2.0, 0.0], 'solver.time_limit': 0.5})
    sens = probe.sensitivity()
    probe.wait_for(lambda: len(sens) >= 2, 60, 'sensitivities', system.check)
    t0 = time.monotonic()
    probe.wait_for(lambda: time.monotonic() > t0 + 3.0, 10, 'a window of 3 s', system.check)
    window = sens.since(t0)
    assert 4 <= len(window) <= 8, len(window)    # 2 Hz of a 10 Hz controller
    v = window[-1]
    assert v['status'] == 'ok', v
    for term, n in (('goal_tracking', 3), ('terminal', 3), ('effort', 2), ('input_rate', 2)):
        for i in range(n):
            label = 'costs.%s.weight[%d]' % (term, i)
            # each term is its weight times a sum of squares: dV*/dw is that sum, >= 0
            assert float(v['dV/d ' + label]) >= 0
            assert len(v['du0/d ' + label].split()) == 2      # one per input (v, omega)
            assert len(v['margin ' + label].split()) == 2
    rows = v['du0/dx0'].split(';')
    assert len(rows) == 2 and all(len(r.split()) == 3 for r in rows)
    assert float(v['kkt_residual']) < 1e-4
