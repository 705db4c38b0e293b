"""The safety state machine: modes, counters, and every command finite and in bounds."""
import numpy as np
import pytest

from casadi_mpc.core.solvers.base import SolveResult, failure
from casadi_mpc.core.supervisor import EnergyMeter, Mode, Supervisor

LB, UB = np.array([-1.0, -2.0]), np.array([1.0, 2.0])
X = np.zeros(3)
SAFE = np.zeros(2)


def sup(fallback_steps=3, state_timeout=0.5, period=0.1):
    return Supervisor(LB, UB, state_timeout, fallback_steps, period)


def ok(u0, plan=None, status='optimal', solve_time=0.01):
    u0 = np.asarray(u0, float)
    u_pred = np.asarray(plan, float) if plan is not None else np.tile(u0, (5, 1))
    return SolveResult(status=status, success=True, u0=u0, x_pred=np.zeros((6, 3)),
                       u_pred=u_pred, iterations=3, solve_time=solve_time)


def failed(status='max_iter'):
    return failure(status, 'did not converge')


PLAN = [[0.1, 0.0], [0.2, 0.1], [0.3, 0.2], [0.4, 0.3], [0.5, 0.4]]


def test_no_state_sends_safe_command():
    s = sup()
    d = s.decide(None, None, None, SAFE)
    assert d.mode == Mode.NO_STATE and np.all(d.command == 0)
    assert not s.state_ok(None, None)
    assert s.counters.stale_steps == 1


@pytest.mark.parametrize('age', [0.51, 5.0, -0.01, float('inf')])
def test_stale_or_future_state_sends_safe_command(age):
    s = sup()
    assert not s.state_ok(X, age)
    d = s.decide(X, age, None, SAFE)
    assert d.mode == Mode.STALE and np.all(d.command == 0)
    assert 'state_timeout' in d.reason


def test_normal_applies_the_clipped_first_input():
    s = sup()
    assert s.state_ok(X, 0.1)
    d = s.decide(X, 0.1, ok([3.0, -0.5]), SAFE)
    assert d.mode == Mode.NORMAL
    assert d.command.tolist() == [1.0, -0.5]
    assert s.counters.solves == 1 and s.counters.failures == 0


def test_failure_follows_previous_plan_then_safe_then_recovers():
    s = sup(fallback_steps=3)
    s.decide(X, 0.0, ok(PLAN[0], PLAN), SAFE)
    modes, commands = [], []
    for _ in range(5):
        d = s.decide(X, 0.0, failed(), SAFE)
        modes.append(d.mode)
        commands.append(d.command.tolist())
    assert modes == [Mode.FALLBACK] * 3 + [Mode.SAFE] * 2
    assert commands[:3] == PLAN[1:4]
    assert commands[3:] == [[0.0, 0.0]] * 2
    c = s.counters
    assert (c.failures, c.fallbacks, c.safe_steps, c.recoveries) == (5, 3, 2, 0)
    d = s.decide(X, 0.0, ok([0.2, 0.2]), SAFE)
    assert d.mode == Mode.NORMAL and s.counters.recoveries == 1
    # a fresh plan gives a fresh fallback budget
    assert s.decide(X, 0.0, failed(), SAFE).mode == Mode.FALLBACK


def test_fallback_stops_when_the_plan_runs_out():
    s = sup(fallback_steps=10)
    s.decide(X, 0.0, ok(PLAN[0], PLAN[:3]), SAFE)
    modes = [s.decide(X, 0.0, failed(), SAFE).mode for _ in range(4)]
    assert modes == [Mode.FALLBACK, Mode.FALLBACK, Mode.SAFE, Mode.SAFE]


def test_no_fallback_when_disabled_or_after_stale_state():
    s = sup(fallback_steps=0)
    s.decide(X, 0.0, ok(PLAN[0], PLAN), SAFE)
    assert s.decide(X, 0.0, failed(), SAFE).mode == Mode.SAFE
    s = sup(fallback_steps=3)
    s.decide(X, 0.0, ok(PLAN[0], PLAN), SAFE)
    assert s.decide(X, 9.0, None, SAFE).mode == Mode.STALE
    assert s.decide(X, 0.0, failed(), SAFE).mode == Mode.SAFE


def test_success_with_non_finite_input_counts_as_failure():
    s = sup()
    d = s.decide(X, 0.0, ok([np.nan, 0.0]), SAFE)
    assert d.mode == Mode.SAFE and s.counters.failures == 1
    assert 'non-finite' in d.reason


def test_safe_command_is_clipped():
    s = sup()
    d = s.decide(X, 0.0, failed(), np.array([29.4, -9.8]))
    assert d.command.tolist() == [1.0, -2.0]


def test_clip_handles_nan_inf_and_wrong_size():
    s = sup()
    assert s.clip([np.nan, np.inf]).tolist() == [0.0, 2.0]
    assert s.clip([-np.inf, 0.5]).tolist() == [-1.0, 0.5]
    assert s.clip([1.0, 2.0, 3.0]).tolist() == [0.0, 0.0]
    assert s.clip(None).tolist() == [0.0, 0.0]


def test_commands_always_finite_and_in_bounds():
    rng = np.random.default_rng(1)
    s = sup()
    choices = [np.nan, np.inf, -np.inf, 1e9, -1e9]
    for _ in range(500):
        u = rng.normal(scale=5, size=2)
        if rng.random() < 0.3:
            u[rng.integers(2)] = choices[rng.integers(len(choices))]
        plan = rng.normal(scale=5, size=(4, 2))
        result = ok(u, plan) if rng.random() < 0.6 else failed()
        age = [0.0, 0.2, 1.0, None][rng.integers(4)]
        x = None if rng.random() < 0.1 else X
        safe = rng.normal(scale=5, size=2)
        d = s.decide(x, age, result, safe)
        assert np.all(np.isfinite(d.command))
        assert np.all(d.command >= LB) and np.all(d.command <= UB)


def test_deadline_misses():
    s = sup(period=0.1)
    s.timing(0.05, ok([0, 0]))
    s.timing(0.15, ok([0, 0]))
    s.timing(0.01, failed('timeout'))
    assert s.counters.deadline_misses == 2


def test_rejections_are_counted_with_reason():
    s = sup()
    s.reject('joint state: NaN')
    s.reject('goal pose: frame map')
    assert s.counters.rejected == 2
    assert s.last_rejection == 'goal pose: frame map'
    assert s.counters.as_dict()['rejected'] == 2


def test_configure_checks_bounds():
    s = sup()
    with pytest.raises(ValueError):
        s.configure([1.0, 0.0], [0.0, 1.0], 0.5, 3, 0.1)
    with pytest.raises(ValueError):
        s.configure([-np.inf, 0.0], [0.0, 1.0], 0.5, 3, 0.1)
    s.configure([-0.5, -0.5], [0.5, 0.5], 0.2, 1, 0.05)
    assert s.clip([1.0, -1.0]).tolist() == [0.5, -0.5]


def test_energy_meter_integrates_and_skips_unknown_state():
    meter = EnergyMeter(lambda x, u: float(np.sum(u ** 2)), 'u^2 s')
    meter.add(X, np.array([1.0, 1.0]), 0.1)
    meter.add(None, np.array([5.0, 5.0]), 0.1)
    meter.add(X, np.array([np.nan, 0.0]), 0.1)
    assert meter.total == pytest.approx(0.2)


def test_every_kind_of_mode_change_is_logged_at_most_once_per_interval():
    from casadi_mpc.core.supervisor import ModeLog
    log = ModeLog(2.0)
    assert log.change(Mode.NO_STATE, 0.0) == 0
    assert log.change(Mode.NO_STATE, 0.1) is None          # no change
    assert log.change(Mode.NORMAL, 0.2) == 0
    assert log.change(Mode.FALLBACK, 0.3) == 0
    assert log.change(Mode.SAFE, 0.4) == 0                 # not hidden behind FALLBACK
    assert log.change(Mode.NORMAL, 0.5) is None            # NORMAL said 0.3 s ago
    assert log.change(Mode.SAFE, 0.6) is None
    assert log.change(Mode.NORMAL, 0.7) is None
    assert log.change(Mode.SAFE, 2.5) == 1                 # with the one left out
    assert log.change(Mode.NORMAL, 2.6) == 2
