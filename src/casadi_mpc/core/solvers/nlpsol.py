"""What the backends built on CasADi's nlpsol share: the symbolic problem in, warm starts from
the last solution (shifted one stage when iterating to convergence), a time limit, statuses and
multipliers out. Each such backend (ipopt.py, fatrop.py, sqpmethod.py) adds its plugin and
options.

The Gauss-Newton Hessian (OCP.gauss_newton_hessian) drops constraint curvature and the
non-convex inner curvature of terms written as convex functions of residuals, so the QPs of the
SQP backends stay convex without regularization.
"""
import time

import casadi as ca
import numpy as np

from .base import Backend, failure, FEASIBLE_ENOUGH, OK

# a solve that meets NaN or Inf fails with its status; CasADi's own warning per evaluation
# would flood the node's output
QUIET = {'print_time': False, 'error_on_fail': False, 'show_eval_warnings': False}


def gauss_newton_hessian(ocp):
    lam_f = ca.SX.sym('lam_f')
    lam_g = ca.SX.sym('lam_g', ocp.ng)
    hess = lam_f * ocp.gauss_newton_hessian()
    return ca.Function('nlp_hess_l', [ocp.w, ocp.p, lam_f, lam_g], [hess],
                       ['x', 'p', 'lam_f', 'lam_g'], ['hess_gamma_x_x'])


class Deadline(ca.Callback):
    """An nlpsol iteration callback that stops the solver once ``limit`` seconds of wall time
    have passed since ``start()``: sqpmethod has no time limit of its own, and a solve must
    never hold the control loop past its deadline."""

    def __init__(self, ocp, limit):
        ca.Callback.__init__(self)
        self.nw, self.ng, self.n_p = ocp.nw, ocp.ng, ocp.n_p
        self.limit, self.started, self.expired = float(limit), None, False
        self.construct('deadline', {})

    def start(self):
        self.started, self.expired = time.perf_counter(), False

    def get_n_in(self):
        return ca.nlpsol_n_out()

    def get_n_out(self):
        return 1

    def get_name_in(self, i):
        return ca.nlpsol_out(i)

    def get_name_out(self, i):
        return 'ret'

    def get_sparsity_in(self, i):
        sizes = {'x': self.nw, 'f': 1, 'g': self.ng, 'lam_x': self.nw, 'lam_g': self.ng,
                 'lam_p': self.n_p}
        return ca.Sparsity.dense(sizes[ca.nlpsol_out(i)], 1)

    def eval(self, arg):
        if self.started is not None and time.perf_counter() - self.started > self.limit:
            self.expired = True
            return [1]   # non-zero: stop iterating
        return [0]


class NlpsolBackend(Backend):
    """A backend that runs CasADi's nlpsol plugin ``plugin`` with ``plugin_options()``."""

    plugin = ''
    deadline_callback = True   # stop by the iteration callback (plugins without a time limit)

    def build(self, say):
        say('building the %s solver for %s (N = %d)' % (self.method, self.ocp.model.name,
                                                        self.ocp.N))
        self.deadline = Deadline(self.ocp, self.time_limit) if self.deadline_callback else None
        options = dict(QUIET, **self.plugin_options())
        if self.deadline is not None:
            options['iteration_callback'] = self.deadline
        self.fn = ca.nlpsol('mpc_' + self.name, self.plugin, self.ocp.nlp, options)
        return True

    def plugin_options(self):
        raise NotImplementedError

    @Backend.time_limit.setter
    def time_limit(self, value):
        self._time_limit = float(value)
        if getattr(self, 'deadline', None) is not None:
            self.deadline.limit = self._time_limit

    def reset(self):
        super().reset()
        self.lam_g, self.lam_x = None, None

    def warm_start(self, p, guess):
        """(w0, lam_g0, lam_x0) of the next solve."""
        ocp = self.ocp
        if self.w is None or guess is not None:
            w0 = guess if guess is not None else ocp.guess(p[ocp.blocks['x0'].slice])
            return w0, np.zeros(ocp.ng), np.zeros(ocp.nw)
        return ocp.shift(self.w), ocp.shift_duals(self.lam_g), self.lam_x

    def solve(self, p, bounds, guess=None):
        ocp = self.ocp
        w0, lam_g, lam_x = self.warm_start(p, guess)
        lbw, ubw, lbg, ubg = bounds
        started = time.perf_counter()
        if self.deadline is not None:
            self.deadline.start()
        try:
            out = self.fn(x0=w0, p=p, lbx=lbw, ubx=ubw, lbg=lbg, ubg=ubg,
                          lam_x0=lam_x, lam_g0=lam_g)
        except Exception as exc:   # noqa: B902 - a solver must never raise into the loop
            self.reset()
            return failure('error', str(exc), time.perf_counter() - started)
        elapsed = time.perf_counter() - started
        w = np.asarray(out['x'], float).ravel()
        status, iterations = self.outcome(out, lbg, ubg)
        if self.deadline is not None and self.deadline.expired or \
                status in OK and elapsed > self.time_limit:
            status = 'timeout'
        lam_g = np.asarray(out['lam_g'], float).ravel()
        lam_x = np.asarray(out['lam_x'], float).ravel()
        terms = np.asarray(ocp.term_costs(w, p), float).ravel()
        result = self.result(status, w, iterations, elapsed, float(out['f']), terms,
                             lam_g, lam_x)
        if result.success:
            self.lam_g, self.lam_x = lam_g, lam_x
        return result

    def outcome(self, out, lbg, ubg):
        """(status, iterations) of a finished nlpsol call."""
        g = np.asarray(out['g'], float).ravel()
        violation = float(np.max(np.maximum(np.maximum(lbg - g, g - ubg), 0.0), initial=0.0))
        feasible = np.isfinite(violation) and violation < max(1e-4, 100 * self.tol)
        stats = self.fn.stats()
        iterations = int(stats.get('iter_count', 0))
        raw = stats.get('return_status', 'unknown')
        status = self.STATUS.get(raw, 'optimal' if stats.get('success') else str(raw).lower())
        if status in FEASIBLE_ENOUGH and feasible:
            status += '_feasible'
        return status, iterations
