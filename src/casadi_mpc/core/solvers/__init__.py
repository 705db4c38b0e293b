"""Solver backends behind one interface: every call returns a SolveResult and never raises."""
import time

import numpy as np

from .base import SolveResult, failure
from .compiled import Counter, compile_solver, structure_key
from .nlp import BACKENDS, build_nlpsol, solver_options

COMPILABLE = ('sqp', 'sqp_rti')
SUCCESS = {'Solve_Succeeded': 'optimal', 'Solved_To_Acceptable_Level': 'acceptable',
           'SUCCESS': 'optimal', 'Maximum_Iterations_Exceeded': 'max_iter',
           'Maximum_WallTime_Exceeded': 'timeout', 'Infeasible_Problem_Detected': 'infeasible',
           'MAX_ITER': 'max_iter'}


class Builds:
    """Counts every solver construction (symbolic or compiled)."""

    count = 0


class Solver:
    """One backend for one OCP; warm starts itself from the shifted previous solution."""

    def __init__(self, ocp, name='ipopt', max_iter=100, tol=1e-6, time_limit=1.0,
                 compiled=False, cache_dir='', progress=None):
        if name not in BACKENDS:
            raise ValueError('unknown solver %r; choose one of %s' % (name, ', '.join(BACKENDS)))
        if compiled and name not in COMPILABLE:
            raise ValueError('compiled mode is available for %s, not %s'
                             % (', '.join(COMPILABLE), name))
        self.ocp, self.name, self.time_limit = ocp, name, float(time_limit)
        self.rti = name == 'sqp_rti'
        options = solver_options(ocp, name, max_iter, tol, time_limit)
        self.fn = build_nlpsol(ocp, name, max_iter, tol, time_limit)
        self.compiled = bool(compiled)
        self.built = False
        if self.compiled:
            key = structure_key(ocp, name, options)
            self.fn, self.built = compile_solver(self.fn, key, cache_dir, progress)
        Builds.count += 1
        self.tol = tol
        self.reset()

    def reset(self):
        self.w, self.lam_g, self.lam_x = None, None, None

    def solve(self, p, bounds, guess=None):
        """Solve for parameters ``p`` and ``bounds`` = (lbw, ubw, lbg, ubg). Never raises."""
        ocp = self.ocp
        if self.w is None or guess is not None:
            w0 = guess if guess is not None else ocp.guess(p[ocp.blocks['x0'].slice])
            lam_g, lam_x = np.zeros(ocp.ng), np.zeros(ocp.nw)
        else:
            w0, lam_g, lam_x = ocp.shift(self.w), ocp.shift_duals(self.lam_g), self.lam_x
        lbw, ubw, lbg, ubg = bounds
        started = time.perf_counter()
        try:
            out = self.fn(x0=w0, p=p, lbx=lbw, ubx=ubw, lbg=lbg, ubg=ubg,
                          lam_x0=lam_x, lam_g0=lam_g)
        except Exception as exc:   # noqa: B902 - a solver must never raise into the loop
            return failure('error', str(exc), time.perf_counter() - started)
        elapsed = time.perf_counter() - started
        w = np.asarray(out['x'], float).ravel()
        status, iterations = self._status(out, w, lbg, ubg)
        if status in ('optimal', 'acceptable', 'rti', 'max_iter_feasible') and elapsed > \
                self.time_limit:
            status = 'timeout'
        ok = status in ('optimal', 'acceptable', 'rti', 'max_iter_feasible')
        if not np.all(np.isfinite(w)):
            status, ok = 'error', False
        if np.all(np.isfinite(w)):
            # keep even an unconverged iterate: the next solve continues from it
            self.w = w
            self.lam_g = np.asarray(out['lam_g'], float).ravel()
            self.lam_x = np.asarray(out['lam_x'], float).ravel()
        else:
            self.reset()
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
        if self.compiled:
            # generated code carries no statistics; judge by the iterate itself
            if self.rti:
                return ('rti' if np.isfinite(violation) else 'error'), 1
            return ('optimal' if feasible else 'infeasible'), -1
        stats = self.fn.stats()
        iterations = int(stats.get('iter_count', 0))
        if self.rti:
            return 'rti', max(iterations, 1)
        raw = stats.get('return_status', 'unknown')
        status = SUCCESS.get(raw, 'optimal' if stats.get('success') else str(raw).lower())
        if status == 'max_iter' and feasible:
            status = 'max_iter_feasible'
        return status, iterations


__all__ = ['Solver', 'SolveResult', 'failure', 'BACKENDS', 'COMPILABLE', 'Builds', 'Counter',
           'structure_key']
