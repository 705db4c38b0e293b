"""The aggregated status: one per period, the worst mode's level, counts per period, at once
when the level gets worse (on a fake clock)."""
import math

from casadi_mpc.core.health import ERROR, OK, WARN, Health, mode_level
from casadi_mpc.core.supervisor import Counters, Mode


class Loop:
    """Control steps at ``rate`` Hz on a fake clock, counted as the supervisor counts them."""

    def __init__(self, health, rate=50):
        self.health, self.rate, self.k, self.now = health, rate, 0, 0.0
        self.counters = Counters()
        self.statuses = []   # (time, Status)

    def run(self, steps, mode=Mode.NORMAL, reason='', solve_time=0.002, **counts):
        for _ in range(steps):
            self.k += 1
            self.now = self.k / self.rate
            c = self.counters
            c.steps += 1
            if mode in (Mode.NORMAL, Mode.FALLBACK, Mode.SAFE):
                c.solves += 1
            if mode in (Mode.FALLBACK, Mode.SAFE):
                c.failures += 1
            c.fallbacks += mode == Mode.FALLBACK
            c.safe_steps += mode == Mode.SAFE
            c.stale_steps += mode in (Mode.STALE, Mode.NO_STATE)
            for key, n in counts.items():
                setattr(c, key, getattr(c, key) + n)
            status = self.health.step(self.now, mode, reason, c.as_dict(),
                                      solve_time if mode != Mode.STALE else None,
                                      {'goal': '1 2', 'energy_used': 0.5})
            if status is not None:
                self.statuses.append((self.now, status))
        return self


def test_levels_follow_the_worst_mode():
    assert mode_level(Mode.NORMAL) == OK
    assert mode_level('FALLBACK') == mode_level(Mode.NO_STATE) == WARN
    assert mode_level(Mode.SAFE) == mode_level('STALE') == mode_level('bogus') == ERROR


def test_one_status_per_period_with_counts_of_that_period():
    loop = Loop(Health(period=1.0, start=0.0)).run(50).run(50, solve_time=0.004)
    # the first step has nothing to report worse than OK: statuses come once per period
    assert [round(t, 6) for t, _ in loop.statuses] == [1.0, 2.0]
    first, second = (s for _, s in loop.statuses)
    assert first.level == OK and first.message == 'NORMAL'
    assert first.values['steps'] == 50 and first.values['solves'] == 50
    assert second.values['steps'] == 50 and second.values['failures'] == 0
    assert math.isclose(first.values['solve_time_median_ms'], 2.0)
    assert math.isclose(second.values['solve_time_max_ms'], 4.0)
    assert second.values['mode'] == 'NORMAL' and second.values['goal'] == '1 2'
    assert math.isclose(second.values['period'], 1.0)


def test_a_worse_level_is_published_at_once_then_the_period_restarts():
    loop = Loop(Health(period=1.0, start=0.0)).run(60)             # status at t = 1.0, OK
    loop.run(3, Mode.FALLBACK, 'solver: max_iter')      # t = 1.22: WARN at once
    loop.run(3, Mode.SAFE, 'no plan left')              # t = 1.32: ERROR, 0.1 s after the WARN
    times = [round(t, 6) for t, _ in loop.statuses]
    assert times == [1.0, 1.22, 1.32]
    warn, error = loop.statuses[1][1], loop.statuses[2][1]
    assert warn.level == WARN
    assert warn.message == 'FALLBACK 1 of 11 steps: solver: max_iter'
    assert warn.values['fallbacks'] == 1 and warn.values['steps'] == 11
    assert error.level == ERROR
    # the steps after the WARN status: two more FALLBACK, then the SAFE ones
    assert error.message == 'SAFE 3, FALLBACK 2 of 5 steps: no plan left'
    assert error.values['safe_steps'] == 3 and error.values['fallbacks'] == 2
    # staying as bad as published waits for the period again; recovering reports OK
    loop.run(50, Mode.SAFE, 'no plan left')
    assert [round(t, 6) for t, _ in loop.statuses[3:]] == [2.32]
    assert loop.statuses[3][1].message == 'SAFE 50 of 50 steps: no plan left'
    assert loop.statuses[3][1].level == ERROR
    loop.run(50)
    assert [round(t, 6) for t, _ in loop.statuses[4:]] == [3.32]
    ok = loop.statuses[4][1]
    assert ok.level == OK and ok.message == 'NORMAL' and ok.values['safe_steps'] == 0


def test_immediate_statuses_are_rate_limited():
    loop = Loop(Health(period=1.0, min_interval=0.1, start=0.0), rate=100)
    loop.run(1, Mode.NO_STATE, 'no state yet')          # t = 0.01: WARN at once
    loop.run(1, Mode.STALE, 'state 0.6 s old')          # t = 0.02: worse, but too soon
    assert [s.level for _, s in loop.statuses] == [WARN]
    loop.run(9, Mode.STALE, 'state 0.7 s old')          # at t = 0.11 the ERROR goes out
    assert [round(t, 6) for t, _ in loop.statuses] == [0.01, 0.11]
    error = loop.statuses[1][1]
    assert error.level == ERROR and error.values['stale_steps'] == 10
    assert error.message == 'STALE 10 of 10 steps: state 0.7 s old'
    assert math.isnan(error.values['solve_time_median_ms'])


def test_rejections_per_period_and_in_total():
    loop = Loop(Health(period=1.0, start=0.0))
    loop.run(50, rejected=0)
    loop.run(10, rejected=1).run(40)
    loop.run(50)
    first, second, third = (s for _, s in loop.statuses)
    assert first.values['rejected_messages'] == 0
    assert second.values['rejected_messages'] == 10
    assert second.values['rejected_messages_total'] == 10
    assert third.values['rejected_messages'] == 0
    assert third.values['rejected_messages_total'] == 10
    assert first.level == second.level == OK   # rejected input is counted, not a fault


def test_a_period_without_steps_still_reports():
    health = Health(period=1.0, start=0.0)
    loop = Loop(health).run(50)
    assert len(loop.statuses) == 1
    assert health.poll(1.5) is None
    status = health.poll(2.1)
    assert status is not None and status.level == WARN and status.values['steps'] == 0
    assert status.message.startswith('no control step') and 'NORMAL' in status.message
    assert health.poll(2.2) is None


def test_the_period_can_change():
    health = Health(period=1.0, start=0.0)
    loop = Loop(health).run(50)
    health.period = 0.2
    loop.run(50)
    assert len(loop.statuses) == 1 + 5
