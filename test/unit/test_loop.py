"""The control loop's policy on fake clocks: pacing, the timer's steps, the clock's rate and the
watchdog (core/loop.py; the node only feeds it readings)."""
import numpy as np
import pytest

from casadi_mpc.core.loop import LoopPolicy, Pacer


class Clocks:
    """A steady clock and a node clock running at ``rate`` node seconds per wall second."""

    def __init__(self, rate=1.0):
        self.steady, self.node, self.rate = 100.0, 5.0, rate

    def advance(self, wall):
        self.steady += wall
        self.node += wall * self.rate

    def stall(self, wall):
        self.steady += wall


def run_ticks(policy, clocks, period, count, fresh=True):
    """``count`` timer ticks one node period apart; returns how many stepped."""
    steps = 0
    for _ in range(count):
        clocks.advance(period / clocks.rate)
        steps += policy.tick(clocks.steady, clocks.node, fresh)
    return steps


def test_pacer_keeps_to_the_grid_through_jitter_and_drops_bursts():
    p, pacer, steps = 0.01, Pacer(), []
    # one message a period with +-2 ms of jitter, every fifth one followed by a duplicate
    rng = np.random.default_rng(0)
    for i in range(1000):
        t = i * p + rng.uniform(-0.002, 0.002)
        for dt in ((0.0, 1e-4) if i % 5 == 0 else (0.0,)):
            if pacer.ready(t + dt):
                pacer.stepped(t + dt, p)
                steps.append(t + dt)
    assert len(steps) == 1000   # one step per message, none for the duplicates
    assert min(np.diff(steps)) >= 0.5 * p
    for i in range(1000, 2000):     # messages at twice the rate: every other one is stepped
        for t in (i * p, (i + 0.5) * p):
            if pacer.ready(t):
                pacer.stepped(t, p)
                steps.append(t)
    assert len(steps) == 2000


def test_pacer_restarts_after_a_gap_or_a_clock_jump():
    p, pacer = 0.1, Pacer()
    pacer.stepped(10.0, p)
    assert not pacer.ready(10.04) and pacer.ready(10.06)
    pacer.stepped(13.0, p)          # a gap: the grid starts again here
    assert not pacer.ready(13.04) and pacer.ready(13.06)
    assert pacer.ready(1.0)         # the clock went back (a simulation restarted)
    pacer.stepped(1.0, p)
    assert not pacer.ready(1.04) and pacer.ready(1.06)


def test_timer_trigger_steps_on_every_tick_and_state_messages_step_nothing():
    policy, clocks = LoopPolicy(10.0, 0.5, 'timer'), Clocks()
    policy.start(clocks.steady)
    assert run_ticks(policy, clocks, 0.1, 20) == 20
    assert not policy.state_arrived(clocks.node)


def test_state_trigger_ticks_step_only_without_a_fresh_state():
    policy, clocks = LoopPolicy(10.0, 0.5, 'state'), Clocks()
    policy.start(clocks.steady)
    assert run_ticks(policy, clocks, 0.1, 10, fresh=True) == 0
    assert run_ticks(policy, clocks, 0.1, 10, fresh=False) == 10   # the safe commands
    # messages at 40 Hz step at 10 Hz
    steps = 0
    for _ in range(200):
        clocks.advance(0.025)
        steps += policy.state_arrived(clocks.node)
    assert steps == pytest.approx(50, abs=1)


def test_the_clock_rate_follows_a_simulation_at_three_times_real_time():
    policy, clocks = LoopPolicy(10.0, 0.5), Clocks(rate=3.0)
    policy.start(clocks.steady)
    run_ticks(policy, clocks, 0.1, 100)
    assert policy.clock.rate == pytest.approx(3.0, rel=1e-3)
    assert policy.node_time(0.01) == pytest.approx(0.03, rel=1e-3)
    # a clock jump is no rate: the estimate moves by at most a step of RATE_MAX
    clocks.node += 1e6
    clocks.advance(0.01)
    policy.tick(clocks.steady, clocks.node, True)
    assert policy.clock.rate <= 3.0 + 0.1 * 100.0


def test_the_watchdog_fires_when_the_node_clock_stops_and_not_before():
    policy, clocks = LoopPolicy(10.0, 0.5), Clocks()
    policy.start(clocks.steady)
    run_ticks(policy, clocks, 0.1, 10)
    assert policy.clock_stopped(clocks.steady) is None
    clocks.stall(0.45)                     # the node clock stands still (no /clock)
    policy.tick(clocks.steady, clocks.node, True)
    assert policy.clock_stopped(clocks.steady) is None
    clocks.stall(0.1)
    quiet = policy.clock_stopped(clocks.steady)
    assert quiet == pytest.approx(0.55)
    clocks.advance(0.1)                    # it moves again
    policy.tick(clocks.steady, clocks.node, True)
    assert policy.clock_stopped(clocks.steady) is None


def test_the_watchdog_waits_longer_for_a_slow_simulation_and_at_least_two_periods():
    slow, clocks = LoopPolicy(10.0, 0.5), Clocks(rate=0.25)
    slow.start(clocks.steady)
    run_ticks(slow, clocks, 0.1, 80)      # a tick every 0.4 s of wall time
    assert slow.clock.rate == pytest.approx(0.25, rel=1e-2)
    clocks.stall(1.9)
    assert slow.clock_stopped(clocks.steady) is None     # 0.5 s / 0.25 = 2 s of wall time
    clocks.stall(0.2)
    assert slow.clock_stopped(clocks.steady) is not None
    # a slow control rate: two periods, not the state timeout, bound the wait
    policy, clocks = LoopPolicy(1.0, 0.5), Clocks()
    policy.start(clocks.steady)
    run_ticks(policy, clocks, 1.0, 3)
    clocks.stall(1.9)
    assert policy.clock_stopped(clocks.steady) is None
    clocks.stall(0.2)
    assert policy.clock_stopped(clocks.steady) is not None


def test_a_restart_forgets_the_last_reading_but_keeps_the_rate():
    policy, clocks = LoopPolicy(10.0, 0.5), Clocks(rate=2.0)
    policy.start(clocks.steady)
    run_ticks(policy, clocks, 0.1, 60)
    rate = policy.clock.rate
    clocks.stall(30.0)                     # deactivated for a while
    policy.start(clocks.steady)
    assert policy.clock_stopped(clocks.steady) is None
    assert policy.clock.rate == rate


@pytest.mark.parametrize('rate_hz, timeout', [(0.0, 0.5), (10.0, 0.0), (-1.0, 1.0)])
def test_bad_rates_are_refused(rate_hz, timeout):
    with pytest.raises(ValueError):
        LoopPolicy(rate_hz, timeout)
    with pytest.raises(ValueError):
        LoopPolicy(10.0, 0.5, 'sometimes')
    assert np.isfinite(LoopPolicy(10.0, 0.5).period)
