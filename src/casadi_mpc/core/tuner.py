"""Gradient descent on log-weights: the optimizer behind ``casadi-mpc tune`` (ROS-free, no I/O).

The variables are theta = log(w) of the tuned weight entries, so weights stay positive and a
step changes each by a factor; per-weight bounds become boxes on theta (projected steps).

- ``descent`` (default): projected gradient descent with a backtracking (Armijo) line search;
  each line search starts from the Barzilai-Borwein step of the last two iterates (the first
  from a step that changes the most sensitive weight by a factor e^0.5; where the loss curves
  the wrong way for it, from twice the last step). Every trial point is
  rolled out with its gradient, so an accepted trial needs no further rollouts.
- ``adam``: Adam on theta with a fixed learning rate, keeping the best point seen.

A trial whose rollouts fail a solve or give no finite gradient is rejected (counted in the
history with its reason) and the step shrinks. Stops on convergence (relative loss decrease
below ``rtol`` twice in a row, or a projected gradient below ``gtol``), on a line search that
finds no decrease, or after ``iterations``.
"""
from dataclasses import dataclass, field
import time

import numpy as np

ARMIJO = 1e-4
FIRST_STEP = 0.5     # largest change of a log-weight in the first line search
MAX_STEP = 3.0       # largest change of a log-weight in one step (a factor of 20)
BACKTRACKS = 6


@dataclass
class Point:
    """An evaluated point: the loss, its gradient in theta, and why it may not count."""

    theta: np.ndarray
    loss: float
    gradient: np.ndarray = None
    error: str = ''
    details: dict = field(default_factory=dict)

    @property
    def ok(self):
        return not self.error and np.isfinite(self.loss) and self.gradient is not None \
            and np.all(np.isfinite(self.gradient))


@dataclass
class Result:
    theta: np.ndarray
    loss: float
    history: list
    stop: str
    evaluations: int


def project(theta, lower, upper):
    return np.minimum(np.maximum(theta, lower), upper)


def projected_gradient(theta, grad, lower, upper):
    """The gradient with the components that push out of the box at a bound removed."""
    g = grad.copy()
    g[(theta <= lower) & (g > 0)] = 0.0
    g[(theta >= upper) & (g < 0)] = 0.0
    return g


class Tuner:
    """``evaluate(theta) -> Point`` rolls out every scenario at exp(theta) with gradients;
    ``progress(record)`` is told about each iteration."""

    def __init__(self, evaluate, lower, upper, method='descent', iterations=20, rtol=1e-4,
                 gtol=1e-8, learning_rate=0.1, progress=None):
        if method not in ('descent', 'adam'):
            raise ValueError('method must be descent or adam, not %r' % method)
        self.evaluate, self.method = evaluate, method
        self.lower, self.upper = np.asarray(lower, float), np.asarray(upper, float)
        self.iterations, self.rtol, self.gtol = int(iterations), float(rtol), float(gtol)
        self.learning_rate = float(learning_rate)
        self.progress = progress or (lambda record: None)
        self.evaluations = 0
        self.started = None

    def _eval(self, theta):
        self.evaluations += 1
        return self.evaluate(project(theta, self.lower, self.upper))

    def _record(self, history, k, point, step, rejected):
        g = projected_gradient(point.theta, point.gradient, self.lower, self.upper)
        record = {'iteration': k, 'loss': point.loss, 'gradient_norm': float(np.linalg.norm(g)),
                  'theta': point.theta.tolist(), 'step': step, 'rejected': rejected,
                  'evaluations': self.evaluations,
                  'seconds': time.perf_counter() - self.started, 'details': point.details}
        history.append(record)
        self.progress(record)
        return g

    def run(self, theta0):
        self.started = time.perf_counter()
        theta0 = project(np.asarray(theta0, float), self.lower, self.upper)
        point = self._eval(theta0)
        if not point.ok:
            raise RuntimeError('the initial weights give no loss gradient: %s'
                               % (point.error or 'not finite'))
        history = []
        g = self._record(history, 0, point, 0.0, [])
        if self.method == 'adam':
            return self._adam(point, g, history)
        return self._descent(point, g, history)

    def _descent(self, point, g, history):
        previous, small, stop = None, 0, 'iterations'
        for k in range(1, self.iterations + 1):
            if np.linalg.norm(g) <= self.gtol * (1.0 + abs(point.loss)):
                stop = 'converged (gradient)'
                break
            alpha = min(self._initial_step(point, g, previous),
                        MAX_STEP / max(float(np.max(np.abs(g))), 1e-300))
            rejected, accepted = [], None
            for _ in range(BACKTRACKS + 1):
                step = -alpha * g
                trial_theta = project(point.theta + step, self.lower, self.upper)
                trial = self._eval(trial_theta)
                decrease = ARMIJO * float(g @ (trial_theta - point.theta))
                if trial.ok and trial.loss <= point.loss + decrease:
                    accepted = trial
                    break
                rejected.append({'theta': trial_theta.tolist(), 'loss': trial.loss,
                                 'reason': trial.error or 'no sufficient decrease'})
                alpha *= 0.5
            if accepted is None:
                self._record(history, k, point, 0.0, rejected)
                stop = 'line search found no decrease'
                break
            previous = (point, g)
            relative = (point.loss - accepted.loss) / max(abs(point.loss), 1e-300)
            point = accepted
            moved = float(np.max(np.abs(point.theta - previous[0].theta)))
            g = self._record(history, k, point, moved, rejected)
            small = small + 1 if relative < self.rtol else 0
            if small >= 2:
                stop = 'converged (loss)'
                break
        return Result(point.theta, point.loss, history, stop, self.evaluations)

    def _initial_step(self, point, g, previous):
        """The Barzilai-Borwein step; where the loss curves the wrong way for it, twice the
        last step's size; at first, FIRST_STEP on the most sensitive weight."""
        gmax = max(float(np.max(np.abs(g))), 1e-300)
        if previous is None:
            return FIRST_STEP / gmax
        s = point.theta - previous[0].theta
        sy = float(s @ (g - previous[1]))
        if sy > 0:
            return float(s @ s) / sy
        return 2.0 * float(np.max(np.abs(s))) / gmax

    def _adam(self, point, g, history, beta1=0.9, beta2=0.999, eps=1e-8):
        best, theta = point, point.theta.copy()
        m, v = np.zeros_like(theta), np.zeros_like(theta)
        stop = 'iterations'
        for k in range(1, self.iterations + 1):
            m = beta1 * m + (1 - beta1) * g
            v = beta2 * v + (1 - beta2) * g ** 2
            step = -self.learning_rate * (m / (1 - beta1 ** k)) / (
                np.sqrt(v / (1 - beta2 ** k)) + eps)
            theta = project(theta + step, self.lower, self.upper)
            trial = self._eval(theta)
            if not trial.ok:
                self._record(history, k, best, 0.0, [{'theta': theta.tolist(),
                                                      'loss': trial.loss,
                                                      'reason': trial.error or 'not finite'}])
                theta = best.theta.copy()
                m, v = np.zeros_like(theta), np.zeros_like(theta)
                g = projected_gradient(theta, best.gradient, self.lower, self.upper)
                continue
            if trial.loss < best.loss:
                best = trial
            g = self._record(history, k, trial, float(np.max(np.abs(step))), [])
            if np.linalg.norm(g) <= self.gtol * (1.0 + abs(trial.loss)):
                stop = 'converged (gradient)'
                break
        return Result(best.theta, best.loss, history, stop, self.evaluations)
