"""The control loop's policy, ROS-free: when a step runs, and when the node clock has stopped.

A controller node lives on two clocks: the node clock (ROS time: wall time, or simulated time
from ``/clock``) that stamps states and paces the steps, and the steady clock that cannot stop.
:class:`LoopPolicy` takes readings of both (seconds, any origin) and answers:

- ``timer`` trigger: every tick of the control timer steps;
- ``state`` trigger: each accepted state message steps at once, at most ``rate_hz`` by the
  states' stamps (:class:`Pacer`: when a state was measured, not when the node got to it, so a
  burst of states is one step however late it is handled); the periodic tick then only steps
  (the safe command) while the state is not fresh;
- the watchdog: the node clock has not been seen moving for ``max(state_timeout, 2 periods)``
  of wall time, stretched when the node clock runs slower than real time, so a simulated clock
  that died stops the robot while a slow simulation does not;
- the clock's rate (node seconds per wall second, smoothed): a step's compute time is held
  against one period of the node clock, so wall time is scaled by it.

The node feeds it readings and acts on the answers; the fake-clock tests drive it directly.
"""
from dataclasses import dataclass

TRIGGERS = ('timer', 'state')
RATE_SMOOTHING = 0.1      # weight of a new clock-rate sample
RATE_MAX = 100.0          # clock rates above this are taken as this (a clock jump, not a rate)
RATE_FLOOR = 0.01         # the watchdog stretches by at most 1/RATE_FLOOR


class Pacer:
    """Paces steps triggered by messages to at most one per period on average.

    The steps keep to a grid of one period started at the first step: a step is due from
    ``early`` periods before its grid time, so messages may jitter by that much against the
    grid (a late message does not make its punctual successor look early), and steps are at
    least ``early`` periods apart (bursts are dropped). After a gap of over a period, or when
    the clock went back, the grid starts again at the next step. Times in seconds, any clock.
    """

    def __init__(self, early=0.5):
        self.early = float(early)
        self.due, self.last = None, None

    def ready(self, now):
        """True when a step at ``now`` keeps to the pace."""
        return self.due is None or now < self.last or now >= self.due

    def stepped(self, now, period):
        """Record a step at ``now`` with the control period ``period`` [s]."""
        if self.due is None or now < self.last or now > self.due + period:
            self.due = now + (1.0 - self.early) * period
        else:
            self.due = max(self.due + period, now + self.early * period)
        self.last = now


@dataclass
class ClockWatch:
    """The node clock seen from the steady clock: when it last moved, and its rate."""

    rate: float = 1.0              # node seconds per wall second, smoothed
    last_moved: float = None       # steady time the node clock was last seen moving [s]
    last_node: float = None        # the node clock then [s]

    def restart(self, steady):
        """Start watching afresh (activation): the rate learnt so far is kept."""
        self.last_moved, self.last_node = steady, None

    def observe(self, steady, node):
        """A reading of both clocks."""
        if self.last_node is not None and node == self.last_node:
            return   # the node clock stands still: last_moved stays where it moved last
        if self.last_node is not None and self.last_moved is not None:
            moved, wall = node - self.last_node, steady - self.last_moved
            if moved > 0 and wall > 0:
                sample = min(max(moved / wall, 0.0), RATE_MAX)
                self.rate += RATE_SMOOTHING * (sample - self.rate)
        self.last_moved, self.last_node = steady, node

    def quiet(self, steady):
        """Wall seconds since the node clock was last seen moving (0 before any reading)."""
        return 0.0 if self.last_moved is None else max(0.0, steady - self.last_moved)


class LoopPolicy:
    """When the controller steps, and when its clock has stopped (see the module text)."""

    def __init__(self, rate_hz, state_timeout, trigger='timer', early=0.5):
        if trigger not in TRIGGERS:
            raise ValueError('control_trigger %r: choose one of %s' % (trigger,
                                                                       ', '.join(TRIGGERS)))
        self.on_state = trigger == 'state'
        self.pacer = Pacer(early)
        self.clock = ClockWatch()
        self.configure(rate_hz, state_timeout)

    def configure(self, rate_hz, state_timeout):
        """New rate and timeout (they may change at run time)."""
        if not (rate_hz > 0 and state_timeout > 0):
            raise ValueError('rate_hz and state_timeout must be positive')
        self.rate_hz, self.state_timeout = float(rate_hz), float(state_timeout)

    @property
    def period(self):
        """The control period [s] of the node clock."""
        return 1.0 / self.rate_hz

    def start(self, steady):
        """Control starts (activation) at steady time ``steady``."""
        self.clock.restart(steady)

    def tick(self, steady, node, state_fresh):
        """A tick of the control timer (``timer`` trigger) or of the periodic check (``state``
        trigger) with both clocks read; True when it is to run a step (a solve, or the safe
        command when the state is not fresh)."""
        self.clock.observe(steady, node)
        return not (self.on_state and state_fresh)

    def state_arrived(self, node):
        """A state stamped ``node`` (node-clock seconds) was accepted: True when it is to be
        stepped at once (``state`` trigger, keeping to the pace); the step is then counted for
        the pace."""
        if not self.on_state or not self.pacer.ready(node):
            return False
        self.pacer.stepped(node, self.period)
        return True

    def clock_stopped(self, steady):
        """The watchdog: wall seconds since the node clock last moved when that is beyond the
        limit (the safe command is due), else None."""
        quiet = self.clock.quiet(steady)
        limit = max(self.state_timeout, 2.0 * self.period)
        return quiet if quiet > limit / min(1.0, max(self.clock.rate, RATE_FLOOR)) else None

    def node_time(self, wall_seconds):
        """Wall seconds as node-clock seconds (compute time held against a period)."""
        return wall_seconds * self.clock.rate
