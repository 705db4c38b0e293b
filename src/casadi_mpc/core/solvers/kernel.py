"""The compiled structured SQP (``solver.compiled: true`` with ``sqp`` or ``sqp_rti``): generated C
for the stage functions and the SQP loop (structured.py, kernel.c), each QP solved by HPIPM
(stage_qp.c), in one shared library cached on disk by structure.
"""
import time

import numpy as np
from pydantic import Field

from . import interface
from .base import Backend, failure, Options, register, STRUCTURAL
from .compiled import build_library, library_path
from .structured import KernelSource, structure_digest


class KernelOptions(Options):
    cache_dir: str = Field('', description='cache of compiled kernels (default '
                           '~/.cache/casadi_mpc or $CASADI_MPC_CACHE)',
                           json_schema_extra=STRUCTURAL)
    advanced_step: bool = Field(True, description='sqp_rti: after each command, solve the next '
                                'QP for the predicted state so the next step only corrects it '
                                '(least latency); false: only linearize then (one QP solve '
                                'less per step, most throughput)')
    exact_hessian: bool = Field(True, description='sqp: the exact Hessian of the Lagrangian '
                                'where the stage function is small enough (quadratic '
                                'convergence), Gauss-Newton where it is not convex')
    qp_tol: float = Field(0.0, ge=0, le=1e-3, description='QP residual tolerance (0: 1e-8 for '
                          'sqp_rti; a tenth of solver.tol, at most 1e-8, for sqp)')
    qp_max_iter: int = Field(50, ge=1, le=1000, description='interior-point iterations per QP')
    warm_start: bool = Field(True, description='hot-start each QP from the multipliers of the '
                             'last one (a failed hot start is retried cold)')


@register
class Kernel(Backend):
    name = 'kernel'
    methods = ('sqp', 'sqp_rti')
    compiled = True
    description = 'compiled structured SQP with HPIPM QPs (sqp, sqp_rti)'
    rank = 4
    Options = KernelOptions
    STATUS = dict(interface.STATUS)

    def build(self, say):
        ocp = self.ocp
        started = time.monotonic()
        key = structure_key(ocp)
        path = library_path(key, self.options.cache_dir)
        self.library, built = None, False
        if path.exists():
            try:
                self.library = self._load(path)
                say('loaded the compiled %s solver from the cache in %.2f s (%s)'
                    % (self.method, time.monotonic() - started, path))
            except (OSError, RuntimeError):
                path.unlink()   # a damaged or foreign file: build it again
        if self.library is None:
            say('building the compiled %s solver for %s (N = %d)'
                % (self.method, ocp.model.name, ocp.N))
            source = KernelSource(ocp, say=say)
            path, built = build_library(source.generate, key, self.options.cache_dir, say)
            self.library = self._load(path)
            say('built the compiled %s solver in %.1f s (cached as %s)'
                % (self.method, time.monotonic() - started, path))
        self.path = path
        self._settings = interface.Settings()
        self._apply()
        self._x0 = ocp.blocks['x0'].slice
        self._u_prev = ocp.blocks['u_prev'].slice
        return built

    def _load(self, path):
        ocp = self.ocp
        return interface.Library(path, ocp.nw, ocp.ng, ocp.n_p, len(ocp.terms))

    def _apply(self):
        """Hand the settings to the kernel. RTI keeps its iterate where the last QP put it
        (initial-value embedding); the converged mode starts from the shifted solution. QPs are
        solved to 1e-8 in RTI, to a tenth of the tolerance when iterating (the QP's
        multipliers enter the test)."""
        o, s = self.options, self._settings
        qp_tol = o.qp_tol or (1e-8 if self.rti else min(1e-8, max(1e-12, 0.1 * self.tol)))
        values = dict(max_iter=self.max_iter, rti=int(self.rti), shift=int(not self.rti),
                      exact=int(o.exact_hessian), advanced=int(o.advanced_step),
                      warm=int(o.warm_start), verbose=0, qp_max_iter=o.qp_max_iter,
                      as_max_iter=8, tol_pr=self.tol, tol_du=self.tol,
                      time_limit=self.time_limit, qp_tol=qp_tol, wfloor=1e-3, mu0=1.0)
        for name, value in values.items():
            setattr(s, name, value)
        self.library.settings(s)

    def configure(self, settings):
        super().configure(settings)
        self._apply()

    @Backend.time_limit.setter
    def time_limit(self, value):
        self._time_limit = float(value)
        if getattr(self, 'library', None) is not None:
            self._apply()

    def prepare(self):
        """Prepare the next step now: linearize at the current iterate and (with the advanced
        step) solve that QP for the predicted next state, so the next ``solve`` only corrects
        the prepared solution for the actual state (the same QP solution, to the QP tolerance,
        as without preparing). Optional: ``solve`` does all the work itself when it was not
        prepared, or when the parameters or bounds changed since. Returns the prepare's
        figures: ``prep_qp_iter`` (interior-point iterations of the QP for the predicted
        state) and ``prep_status`` (0 solved, -1 no QP prepared, else the QP's failure)."""
        if self.w is None or self._p_last is None:
            return None
        # the command sent is u_0 within its bounds (what the controller applies and packs)
        u0 = self.ocp.u_index[0]
        p = self._p_last.copy()
        p[self._u_prev] = np.clip(self.w[u0], self.library.inputs['lbw'][u0],
                                  self.library.inputs['ubw'][u0])
        return self.library.prepare(p)

    def reset(self):
        super().reset()
        self._p_last = None

    def solve(self, p, bounds, guess=None):
        ocp, lib = self.ocp, self.library
        try:
            lib.load(p, *bounds)
        except (TypeError, ValueError) as exc:
            return failure('error', 'bad solve arguments: %s' % exc)
        if self.w is None or guess is not None:
            lib.set_guess(guess if guess is not None else ocp.guess(p[self._x0]))
        started = time.perf_counter()
        code = lib.solve()
        elapsed = time.perf_counter() - started
        lib.costs()
        st = interface.as_dict(lib.stats)
        status = self.STATUS.get(code, 'error')
        if status == 'max_iter' and st['pr'] < max(1e-4, 100 * self.tol):
            status = 'max_iter_feasible'
        if status in ('optimal', 'rti', 'max_iter_feasible') and elapsed > self.time_limit:
            status = 'timeout'
        out = lib.outputs
        st['path'] = interface.PATHS.get(st['path'], 'solve')
        result = self.result(status, out['w'].copy(), st['iter'], elapsed, st['f'],
                             lib.terms[:len(ocp.terms)], out['lam_g'].copy(),
                             out['lam_x'].copy(), st)
        self._p_last = lib.inputs['p'].copy() if result.success else None
        return result


def structure_key(ocp):
    """Cache key of the compiled kernel for ``ocp`` (RTI or converged, limits and tolerances
    are run-time settings: one library serves them all)."""
    return structure_digest(ocp)
