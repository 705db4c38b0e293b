"""The controller's aggregated health status: per-step telemetry folded into one status about
once per period (ROS-free; the node feeds it every step and publishes what it returns).

A status covers the steps since the previous status. Its level is the worst supervisor mode
seen among them (``ERROR`` for SAFE or STALE, ``WARN`` for FALLBACK or NO_STATE, ``OK`` for
NORMAL); its message says which modes occurred and why; its values summarize the period
(counts, solve times) and carry the latest figures of the controller (mode, goal, energy...).
A status is due when the period has passed, and at once (at most every ``min_interval``) when
the level of the steps so far is worse than the level last published, so a fault is reported
within a control step instead of up to a period later.

Times are seconds of any monotonic clock, passed in by the caller (the tests use a fake one).
"""
from dataclasses import dataclass, field

import numpy as np

OK, WARN, ERROR = 0, 1, 2   # the levels of diagnostic_msgs/DiagnosticStatus
MODE_LEVELS = {'NORMAL': OK, 'NO_STATE': WARN, 'FALLBACK': WARN, 'STALE': ERROR, 'SAFE': ERROR}
# supervisor counters summarized per period (differences over the period)
PERIOD_COUNTS = ('steps', 'solves', 'failures', 'fallbacks', 'safe_steps', 'stale_steps',
                 'deadline_misses', 'recoveries')
MIN_INTERVAL = 0.1   # [s] shortest time between two statuses (the immediate ones)
EPS = 1e-6           # [s] rounding of times on a grid of steps


def mode_level(mode):
    """The level of a supervisor mode (an unknown mode is an error)."""
    return MODE_LEVELS.get(str(getattr(mode, 'value', mode)), ERROR)


@dataclass
class Status:
    level: int
    message: str
    values: dict = field(default_factory=dict)


class Health:
    """Folds control steps into periodic statuses."""

    def __init__(self, period=1.0, min_interval=MIN_INTERVAL, start=None):
        """``start``: when the first period begins (default: at the first step or poll)."""
        self.period, self.min_interval = float(period), float(min_interval)
        self.published_level = OK   # the level of the last status returned
        self.last_published = None  # when it was returned
        self.latest = {}            # the latest step's figures (goal, energy, ...)
        self.mode = None            # the latest step's mode
        self.counters = {}          # the latest supervisor counters
        self._reset(start, {})

    def _reset(self, now, counters):
        self._start = now
        self._base = dict(counters)
        self._modes = {}            # mode -> steps in the period
        self._reasons = {}          # mode -> reason of its latest step
        self._solve_times = []
        self._level = OK

    def step(self, now, mode, reason='', counters=None, solve_time=None, latest=None):
        """One control step at ``now`` [s] in ``mode`` (``reason`` why), with the supervisor's
        counters after it, its solve time [s] (None: no solve) and the latest figures to
        report. Returns the Status to publish, or None."""
        mode = str(getattr(mode, 'value', mode))
        counters = dict(counters or {})
        if self._start is None:   # the counters start at zero with the controller
            self._start = now
        self.mode, self.counters = mode, counters
        if latest:
            self.latest = dict(latest)
        self._modes[mode] = self._modes.get(mode, 0) + 1
        self._reasons[mode] = str(reason or '')
        if solve_time is not None and np.isfinite(solve_time):
            self._solve_times.append(float(solve_time))
        self._level = max(self._level, mode_level(mode))
        return self.poll(now)

    def poll(self, now, counters=None):
        """Returns the Status when one is due at ``now`` (the period passed, or the level got
        worse), else None. Call it also when no step runs (a periodic check): a period
        without steps still gets its status."""
        if counters is not None:
            self.counters = dict(counters)
        if self._start is None:
            self._start = now
            return None
        since = None if self.last_published is None else now - self.last_published
        worse = self._level > self.published_level and (
            since is None or since >= self.min_interval - EPS or since < 0)
        elapsed = now - self._start
        if not worse and 0 <= elapsed < self.period - EPS:
            return None
        return self._publish(now)

    def _publish(self, now):
        status = self._status(now)
        self.published_level, self.last_published = status.level, now
        self._reset(now, self.counters)
        return status

    def _status(self, now):
        steps = sum(self._modes.values())
        level = self._level
        if not steps:   # no control step in a whole period: the loop is not running
            level = max(WARN, mode_level(self.mode) if self.mode else WARN)
            message = 'no control step in %.3g s' % max(0.0, now - self._start)
            if self.mode:
                message += '; last mode %s' % self.mode
        else:
            message = self._message(steps)
        values = {'period': max(0.0, now - self._start)}
        counters = self.counters
        for key in PERIOD_COUNTS:
            values[key] = int(counters.get(key, 0)) - int(self._base.get(key, 0))
        values['steps'] = steps
        values['rejected_messages'] = (int(counters.get('rejected', 0))
                                       - int(self._base.get('rejected', 0)))
        values['rejected_messages_total'] = int(counters.get('rejected', 0))
        times = np.asarray(self._solve_times) * 1e3
        values['solve_time_median_ms'] = float(np.median(times)) if times.size else float('nan')
        values['solve_time_max_ms'] = float(np.max(times)) if times.size else float('nan')
        values['mode'] = self.mode or ''
        values.update(self.latest)
        return Status(level, message, values)

    def _message(self, steps):
        """'NORMAL', or the other modes of the period, worst first, with counts and the
        latest reason of the worst one: 'SAFE 12, FALLBACK 5 of 50 steps: <reason>'."""
        others = [m for m in self._modes if m != 'NORMAL']
        if not others:
            return 'NORMAL'
        others.sort(key=lambda m: (-mode_level(m), -self._modes[m]))
        counts = ', '.join('%s %d' % (m, self._modes[m]) for m in others)
        reason = self._reasons.get(others[0], '')
        return '%s of %d steps%s' % (counts, steps, ': ' + reason if reason else '')
