"""Solver backends behind one interface: every call returns a SolveResult and never raises.

Symbolic backends run CasADi's nlpsol (ipopt, fatrop, sqpmethod). Compiled sqp and sqp_rti run
the structured kernel (structured.py, kernel.c): generated C for the stage-wise QP data, a
Riccati-based interior point QP solver and the SQP loop, in one shared library cached on disk.
"""
import time

import numpy as np

from .base import SolveResult, failure
from .compiled import build_library, Counter, Kernel, library_path
from .nlp import BACKENDS, build_nlpsol, Deadline
from .structured import KernelSource, structure_digest

COMPILABLE = ('sqp', 'sqp_rti')
SUCCESS = {'Solve_Succeeded': 'optimal', 'Solved_To_Acceptable_Level': 'acceptable',
           'SUCCESS': 'optimal', 'Maximum_Iterations_Exceeded': 'max_iter',
           'Maximum_WallTime_Exceeded': 'timeout', 'Infeasible_Problem_Detected': 'infeasible',
           'MAX_ITER': 'max_iter', 'Search_Direction_Becomes_Too_Small': 'small_step',
           'User_Requested_Stop': 'timeout'}
# kernel status codes (kernel.c) -> result status
KERNEL_STATUS = {0: 'optimal', 1: 'max_iter', 2: 'timeout', 3: 'infeasible', 4: 'error',
                 5: 'rti'}
OK = ('optimal', 'acceptable', 'rti', 'max_iter_feasible', 'small_step_feasible')
# statuses that count as converged when the iterate is primal feasible: the iteration limit,
# and an SQP step too small to change the iterate (e.g. a robot at rest, whose warm start is
# already the solution to the last digits)
FEASIBLE_ENOUGH = ('max_iter', 'small_step')


class Builds:
    """Counts every solver construction (symbolic or compiled)."""

    count = 0


def structure_key(ocp, name='sqp', options=None):
    """Cache key of the compiled kernel for ``ocp`` (``name``/``options`` do not change the
    generated code: RTI or converged, limits and tolerances are run-time settings)."""
    return structure_digest(ocp)


class Solver:
    """One backend for one OCP; warm starts itself from the previous solution (shifted one
    stage when iterating to convergence, as it is for real-time iterations)."""

    def __init__(self, ocp, name='ipopt', max_iter=100, tol=1e-6, time_limit=1.0,
                 compiled=False, cache_dir='', progress=None, advanced_step=True):
        if name not in BACKENDS:
            raise ValueError('unknown solver %r; choose one of %s' % (name, ', '.join(BACKENDS)))
        if compiled and name not in COMPILABLE:
            raise ValueError('compiled mode is available for %s, not %s'
                             % (', '.join(COMPILABLE), name))
        self.ocp, self.name = ocp, name
        self.rti = name == 'sqp_rti'
        self.compiled = bool(compiled)
        self.tol, self.max_iter = float(tol), int(max_iter)
        self.built = False
        self.kernel = None
        self.fn = None
        self.deadline = None
        self._time_limit = float(time_limit)
        self._advanced_step = bool(advanced_step)
        if self.compiled:
            self._load_kernel(cache_dir, progress)
        else:
            if not self.rti:
                self.deadline = Deadline(ocp, time_limit)
            self.fn = build_nlpsol(ocp, name, max_iter, tol, time_limit, self.deadline)
        Builds.count += 1
        self.reset()

    # ---------------------------------------------------------------- compiled kernel
    def _load_kernel(self, cache_dir, progress):
        ocp = self.ocp
        say = progress or (lambda msg: None)
        started = time.monotonic()
        key = structure_key(ocp)
        path = library_path(key, cache_dir)
        if path.exists():
            try:
                self.kernel = Kernel(path, ocp.nw, ocp.n_p, len(ocp.terms))
            except (OSError, RuntimeError):
                path.unlink()   # a damaged or foreign file: build it again
        if self.kernel is None:
            say('building the compiled %s solver for %s (N = %d)'
                % (self.name, ocp.model.name, ocp.N))
            source = KernelSource(ocp, say=say)
            path, self.built = build_library(source.generate, key, cache_dir, progress)
            self.kernel = Kernel(path, ocp.nw, ocp.n_p, len(ocp.terms))
            say('built the compiled %s solver in %.1f s (cached as %s)'
                % (self.name, time.monotonic() - started, path))
        else:
            say('loaded the compiled %s solver from the cache in %.2f s (%s)'
                % (self.name, time.monotonic() - started, path))
        self._apply_settings()
        self._x0 = ocp.blocks['x0'].slice
        self._u_prev = ocp.blocks['u_prev'].slice
        self._names = [t.name for t in ocp.terms]
        self._task = [i for i, t in enumerate(ocp.terms) if t.kind == 'task']
        self._energy = [i for i, t in enumerate(ocp.terms) if t.kind == 'energy']

    def _apply_settings(self):
        if self.kernel is not None:
            # RTI keeps its iterate where the last QP put it (initial-value embedding); the
            # converged mode starts from the shifted solution. QPs are solved to 1e-8 in RTI,
            # to a tenth of the tolerance when iterating (the QP's multipliers enter the test)
            qp_tol = 1e-8 if self.rti else min(1e-8, max(1e-12, 0.1 * self.tol))
            self.kernel.settings(self.max_iter, self.tol, self.tol, self._time_limit,
                                 rti=int(self.rti), shift=int(not self.rti), qp_tol=qp_tol,
                                 advanced=int(self._advanced_step))

    @property
    def time_limit(self):
        return self._time_limit

    @time_limit.setter
    def time_limit(self, value):
        self._time_limit = float(value)
        if self.deadline is not None:
            self.deadline.limit = self._time_limit
        self._apply_settings()

    @property
    def advanced_step(self):
        """Compiled RTI: ``prepare`` also solves the QP for the predicted state, so the
        feedback only corrects it (the least latency); off, ``prepare`` only linearizes and the
        feedback solves the QP (one factorization less per step: the most throughput)."""
        return self._advanced_step

    @advanced_step.setter
    def advanced_step(self, value):
        self._advanced_step = bool(value)
        self._apply_settings()

    def reset(self):
        self.w, self.lam_g, self.lam_x = None, None, None
        self._p_last = None

    def prepare(self):
        """Prepare the next step now (compiled RTI): linearize at the current iterate and solve
        that QP for the predicted next state, so the next ``solve`` only corrects the prepared
        solution for the actual state (the same QP solution, to the QP tolerance, as without
        preparing). Optional: ``solve`` does all the work itself when it was not prepared, or
        when the parameters or bounds changed since."""
        if self.kernel is None or self.w is None or self._p_last is None:
            return
        p = self._p_last.copy()
        p[self._u_prev] = self.w[self.ocp.u_index[0]]
        self.kernel.prepare(p)

    def solve(self, p, bounds, guess=None):
        """Solve for parameters ``p`` and ``bounds`` = (lbw, ubw, lbg, ubg). Never raises."""
        if self.kernel is not None:
            return self._solve_kernel(p, bounds, guess)
        return self._solve_nlpsol(p, bounds, guess)

    def _solve_kernel(self, p, bounds, guess):
        ocp, kernel = self.ocp, self.kernel
        try:
            kernel.load(p, *bounds)
        except (TypeError, ValueError) as exc:
            return failure('error', 'bad solve arguments: %s' % exc)
        if self.w is None or guess is not None:
            kernel.set_guess(guess if guess is not None else ocp.guess(p[self._x0]))
        started = time.perf_counter()
        code = kernel.solve()
        elapsed = time.perf_counter() - started
        kernel.costs()
        out, nw = kernel.out, ocp.nw
        w = out[:nw].copy()
        status = KERNEL_STATUS.get(code, 'error')
        if status == 'max_iter' and out[nw + 3] < max(1e-4, 100 * self.tol):
            status = 'max_iter_feasible'
        if status in OK and elapsed > self._time_limit:
            status = 'timeout'
        ok = status in OK
        if ok:
            self.w, self._p_last = w, kernel.buffers[0].copy()
        else:
            self.reset()   # a failed iterate is no warm start: the next solve starts cold
        terms = out[nw + 7:].tolist()
        split = dict(zip(self._names, terms))
        split['task'] = sum(terms[i] for i in self._task)
        split['energy'] = sum(terms[i] for i in self._energy)
        xs, us = w[ocp.x_index], w[ocp.u_index]
        return SolveResult(status=status, success=ok, u0=us[0].copy() if ok else None,
                           x_pred=xs, u_pred=us, iterations=int(out[nw + 2]),
                           solve_time=elapsed, cost=float(out[nw]), cost_terms=split,
                           message='' if ok else 'solver status %s' % status)

    # ---------------------------------------------------------------- CasADi nlpsol
    def _solve_nlpsol(self, p, bounds, guess):
        ocp = self.ocp
        if self.w is None or guess is not None:
            w0 = guess if guess is not None else ocp.guess(p[ocp.blocks['x0'].slice])
            lam_g, lam_x = np.zeros(ocp.ng), np.zeros(ocp.nw)
        elif self.rti:
            # real-time iteration: continue from the last iterate, as the compiled kernel (and
            # acados) do, so RTI settles exactly where the converged solver does. qrqp gets
            # the bound multipliers as its active-set guess, not the constraint multipliers:
            # given both, it fails on the 7-DOF arm
            w0, lam_g, lam_x = self.w, np.zeros(ocp.ng), self.lam_x
        else:
            w0, lam_g, lam_x = ocp.shift(self.w), ocp.shift_duals(self.lam_g), self.lam_x
        lbw, ubw, lbg, ubg = bounds
        started = time.perf_counter()
        if self.deadline is not None:
            self.deadline.start()
        try:
            out = self.fn(x0=w0, p=p, lbx=lbw, ubx=ubw, lbg=lbg, ubg=ubg,
                          lam_x0=lam_x, lam_g0=lam_g)
        except Exception as exc:   # noqa: B902 - a solver must never raise into the loop
            return failure('error', str(exc), time.perf_counter() - started)
        elapsed = time.perf_counter() - started
        w = np.asarray(out['x'], float).ravel()
        status, iterations = self._status(out, w, lbg, ubg)
        if self.deadline is not None and self.deadline.expired or \
                status in OK and elapsed > self._time_limit:
            status = 'timeout'
        ok = status in OK
        if not np.all(np.isfinite(w)):
            status, ok = 'error', False
        if ok:
            self.w = w
            self.lam_g = np.asarray(out['lam_g'], float).ravel()
            self.lam_x = np.asarray(out['lam_x'], float).ravel()
        else:
            self.reset()   # a failed iterate is no warm start: the next solve starts cold
        xs, us = ocp.unpack(w)
        terms = np.asarray(ocp.term_costs(w, p), float).ravel()
        split = {name: float(v) for name, v in zip(ocp.term_names, terms)}
        for kind in ('task', 'energy'):
            split[kind] = float(sum(v for t, v in zip(ocp.terms, terms) if t.kind == kind))
        return SolveResult(status=status, success=ok, u0=us[0].copy() if ok else None,
                           x_pred=xs, u_pred=us, iterations=iterations, solve_time=elapsed,
                           cost=float(out['f']), cost_terms=split,
                           message='' if ok else 'solver status %s' % status)

    def _status(self, out, w, lbg, ubg):
        g = np.asarray(out['g'], float).ravel()
        violation = float(np.max(np.maximum(np.maximum(lbg - g, g - ubg), 0.0), initial=0.0))
        feasible = np.isfinite(violation) and violation < max(1e-4, 100 * self.tol)
        stats = self.fn.stats()
        iterations = int(stats.get('iter_count', 0))
        if self.rti:
            return ('rti' if np.isfinite(violation) else 'error'), max(iterations, 1)
        raw = stats.get('return_status', 'unknown')
        status = SUCCESS.get(raw, 'optimal' if stats.get('success') else str(raw).lower())
        if status in FEASIBLE_ENOUGH and feasible:
            status += '_feasible'
        return status, iterations


__all__ = ['Solver', 'SolveResult', 'failure', 'BACKENDS', 'COMPILABLE', 'Builds', 'Counter',
           'structure_key']
