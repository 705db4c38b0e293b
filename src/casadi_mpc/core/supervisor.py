"""The safety state machine between the solver and the actuators (ROS-free).

Each control step the supervisor looks at the latest state and its age and at the solve result,
and decides what goes out:

- ``NO_STATE``: no state has arrived yet -> the safe command.
- ``STALE``: the latest state is older than ``state_timeout`` -> the safe command, plan dropped.
- ``NORMAL``: the solve succeeded -> its first input; the plan is kept for fallback.
- ``FALLBACK``: the solve failed -> the next input of the last good plan (shifted one stage per
  step), for at most ``fallback_steps`` steps.
- ``SAFE``: failed and no plan left -> the model's safe command (stop, or hold against gravity).

Every command that leaves is finite and inside the input bounds.
"""
from dataclasses import dataclass
from enum import Enum
import numpy as np


class Mode(str, Enum):
    NO_STATE = 'NO_STATE'
    NORMAL = 'NORMAL'
    FALLBACK = 'FALLBACK'
    SAFE = 'SAFE'
    STALE = 'STALE'


@dataclass
class Counters:
    steps: int = 0
    solves: int = 0
    failures: int = 0           # solves that returned success False or a non-finite input
    fallbacks: int = 0          # steps served from the previous plan
    safe_steps: int = 0         # steps that sent the safe command after failures
    stale_steps: int = 0        # steps without a fresh state (stale or none yet)
    deadline_misses: int = 0
    rejected: int = 0           # input messages rejected (bad values, sizes, names, frames)
    recoveries: int = 0         # FALLBACK/SAFE -> NORMAL transitions

    def as_dict(self):
        return dict(self.__dict__)


@dataclass
class Decision:
    command: np.ndarray
    mode: Mode
    reason: str = ''


class Supervisor:
    """Decides the command of each control step; keeps the counters."""

    def __init__(self, u_lb, u_ub, state_timeout, fallback_steps, period):
        self.counters = Counters()
        self.last_rejection = ''
        self.mode = Mode.NO_STATE
        self._plan = None
        self._plan_index = 0
        self.configure(u_lb, u_ub, state_timeout, fallback_steps, period)

    def configure(self, u_lb, u_ub, state_timeout, fallback_steps, period):
        """Take new limits (they may change at run time)."""
        lb, ub = np.asarray(u_lb, float).ravel(), np.asarray(u_ub, float).ravel()
        if lb.shape != ub.shape or np.any(lb > ub) or not np.all(np.isfinite(lb + ub)):
            raise ValueError('input bounds must be finite with u_min <= u_max')
        self.u_lb, self.u_ub = lb, ub
        self.state_timeout = float(state_timeout)
        self.fallback_steps = int(fallback_steps)
        self.period = float(period)

    # ------------------------------------------------------------------ inputs
    def reject(self, reason):
        """Count a rejected input message and remember why."""
        self.counters.rejected += 1
        self.last_rejection = str(reason)

    def state_ok(self, x, age):
        """True when a solve is worth running: a state exists and is fresh."""
        return x is not None and age is not None and 0.0 <= age <= self.state_timeout

    def timing(self, elapsed, result=None):
        """Record the compute time of one step [s]; a miss when it exceeds the period or the
        solver ran out of its time limit."""
        timeout = result is not None and result.status == 'timeout'
        if elapsed > self.period or timeout:
            self.counters.deadline_misses += 1

    # ------------------------------------------------------------------ decision
    def decide(self, x, age, result, safe):
        """The command for this step.

        ``x``: latest state or None; ``age``: its age [s]; ``result``: the SolveResult of this
        step or None when no solve ran; ``safe``: the model's safe command at ``x``, or a
        function that returns it (called only when the safe command goes out).
        """
        c = self.counters
        c.steps += 1
        if x is None:
            c.stale_steps += 1
            return self._emit(self._safe(safe), Mode.NO_STATE, 'no state received yet')
        if not self.state_ok(x, age):
            c.stale_steps += 1
            self._plan = None
            return self._emit(self._safe(safe), Mode.STALE,
                              'state is %s s old (state_timeout %s s)'
                              % (_fmt(age), _fmt(self.state_timeout)))
        if result is None:
            return self._failed(safe, 'no solve result')
        c.solves += 1
        u0 = None if result.u0 is None else np.asarray(result.u0, float).ravel()
        if result.success and u0 is not None and u0.shape == self.u_lb.shape \
                and np.all(np.isfinite(u0)):
            if self.mode in (Mode.FALLBACK, Mode.SAFE):
                c.recoveries += 1
            self._keep_plan(result.u_pred)
            return self._emit(self.clip(u0), Mode.NORMAL, '')
        reason = 'solver %s%s' % (result.status, ': ' + result.message if result.message
                                  else '')
        if result.success:
            reason = 'solver returned a non-finite or mis-sized input'
        return self._failed(safe, reason)

    def _failed(self, safe, reason):
        c = self.counters
        c.failures += 1
        step = self._next_plan_input()
        if step is not None:
            c.fallbacks += 1
            return self._emit(self.clip(step), Mode.FALLBACK, '%s; following the previous '
                              'plan (%d/%d)' % (reason, self._plan_index, self.fallback_steps))
        c.safe_steps += 1
        return self._emit(self._safe(safe), Mode.SAFE, '%s; safe command' % reason)

    def _safe(self, safe):
        return self.clip(safe() if callable(safe) else safe)

    def _keep_plan(self, u_pred):
        plan = None if u_pred is None else np.asarray(u_pred, float)
        ok = plan is not None and plan.ndim == 2 and plan.shape[1] == self.u_lb.size
        self._plan = plan if ok and np.all(np.isfinite(plan)) else None
        self._plan_index = 0

    def _next_plan_input(self):
        if self._plan is None or self._plan_index >= self.fallback_steps:
            return None
        self._plan_index += 1
        if self._plan_index >= len(self._plan):
            self._plan = None
            return None
        return self._plan[self._plan_index]

    def _emit(self, command, mode, reason):
        self.mode = mode
        return Decision(command, mode, reason)

    def clip(self, u):
        """Finite and inside the bounds: NaN -> 0 (then clipped), +-inf -> the bound."""
        u = np.asarray(u, float).ravel() if u is not None else np.zeros(self.u_lb.size)
        if u.shape != self.u_lb.shape:
            u = np.zeros(self.u_lb.size)
        u = np.where(np.isnan(u), 0.0, u)
        return np.clip(u, self.u_lb, self.u_ub)


class ModeLog:
    """Which mode changes to log: each change into a mode, at most once per ``interval``
    seconds per mode (a flapping controller does not flood the log, and a change into SAFE is
    never hidden behind a change into FALLBACK). ``change`` returns None when the change is not
    to be logged, else how many changes into that mode were left out since its last line."""

    def __init__(self, interval):
        self.interval = float(interval)
        self.previous = None
        self._last, self._skipped = {}, {}

    def change(self, mode, now):
        previous, self.previous = self.previous, mode
        if mode == previous:
            return None
        last = self._last.get(mode)
        if last is not None and 0.0 <= now - last < self.interval:
            self._skipped[mode] = self._skipped.get(mode, 0) + 1
            return None
        self._last[mode] = now
        return self._skipped.pop(mode, 0)


def _fmt(value):
    return 'unknown' if value is None else '%.3g' % value


class EnergyMeter:
    """Accumulates the energy used: ``rate(x, u)`` [W or effort units] times the step [s]."""

    def __init__(self, rate, unit):
        self.rate, self.unit = rate, unit
        self.total = 0.0

    def add(self, x, u, dt):
        if x is None or dt <= 0:
            return self.total
        value = float(self.rate(np.asarray(x, float), np.asarray(u, float)))
        if np.isfinite(value):
            self.total += value * dt
        return self.total
