"""Sensitivities of one solve: how the optimal cost and the first command move when a weight,
the goal, the state or a bound is nudged.

Works on the flat NLP the OCP exposes (``ocp.nlp``: w, p, f, g; bounds from ``ocp.bounds``), so
the result does not depend on which backend found the solution. At a solution w* the active set
is read from the primal (entries within a tolerance of a bound), the multipliers are recovered
from the stationarity condition grad f + J' lam_g + lam_x = 0 by least squares (nlpsol sign
convention: lam > 0 at an upper bound, < 0 at a lower one), and with that active set fixed the
KKT conditions are differentiated (implicit function theorem):

    [ H_FF  J_AF' ] [ dw_F ]     [ d(grad_w L)_F/dp ]
    [ J_AF   0    ] [ dlam ] = - [ dg_A/dp          ]

with H the exact Hessian of the Lagrangian, F the entries off their bounds and A the equality
and active inequality constraints. dV*/dp = dL/dp (envelope theorem), dV*/d(bound) = -lam.

Active-set changes are reported, not hidden: bounds touched with a vanishing multiplier are
*weakly active* (the derivative is one-sided there), and for every direction the result holds
the largest decrease and increase of the parameter before a free entry reaches a bound or an
active multiplier reaches zero (``margin``): beyond it the first-order prediction no longer
describes the solution.

The Hessian's dynamics part is evaluated per shooting interval (``integrators.
rk4_step_second_order``, mapped over the horizon) rather than from the flat graph, whose exact
Hessian grows past millions of operations for a 7-DOF arm; the layout this relies on (gap rows
x_{k+1} - F(x_k, u_k, p) at ``ocp.gap_index``) is checked numerically once, and without it the
flat Hessian is used.
"""
import time
from dataclasses import dataclass, field

import casadi as ca
import numpy as np
import scipy.sparse as sp
from scipy.sparse.linalg import splu

from .integrators import rk4_step_jacobian, rk4_step_second_order

ACTIVE_TOL = 1e-6    # [SI] an entry this close to a bound (relative above 1) may be active
MULTIPLIER_TOL = 1e-7  # relative to max(1, |grad f|): smaller multipliers are weakly active
# parameter blocks the dynamics depend on: no directions there (the dynamics' mixed second
# derivatives are not formed)
DYNAMICS_BLOCKS = ('model',)


# ---------------------------------------------------------------------------- labels
def parameter_labels(ocp):
    """One label per entry of the parameter vector, as a user names it in the parameter file:
    ``costs.effort.weight[1]``, ``goal[2]``, ``x0[0]`` (the state a solve starts from),
    ``u_prev[0]`` (the last command), ``model.params.<name>``, ``ref[k][i]``,
    ``obstacles[j].x|y|radius``."""
    labels = [''] * ocp.n_p
    model = ocp.model
    for name, block in ocp.blocks.items():
        idx = range(block.start, block.start + block.size)
        if name.startswith('w_'):
            names = ['costs.%s.weight[%d]' % (name[2:], i) for i in range(block.size)]
        elif name == 'model':
            names = ['model.params.%s' % n for n in model.param_names]
        elif name == 'ref':
            names = ['ref[%d][%d]' % divmod(i, model.nx) for i in range(block.size)]
        elif name == 'obstacles':
            names = ['obstacles[%d].%s' % (i // 3, ('x', 'y', 'radius')[i % 3])
                     for i in range(block.size)]
        else:
            names = ['%s[%d]' % (name, i) for i in range(block.size)]
        for i, label in zip(idx, names):
            labels[i] = label
    return labels


def weight_entries(ocp):
    """(label, index into p) of every cost-weight entry, in parameter order."""
    labels = parameter_labels(ocp)
    return [(labels[i], i) for name, b in ocp.blocks.items() if name.startswith('w_')
            for i in range(b.start, b.start + b.size)]


def variable_labels(ocp):
    """One label per decision variable: ``x[k][name]`` / ``u[k][name]``."""
    labels = ['w[%d]' % i for i in range(ocp.nw)]
    m = ocp.model
    for k, row in enumerate(ocp.x_index):
        for i, j in enumerate(row):
            labels[j] = 'x[%d][%s]' % (k, m.state_names[i])
    for k, row in enumerate(ocp.u_index):
        for i, j in enumerate(row):
            labels[j] = 'u[%d][%s]' % (k, m.input_names[i])
    return labels


# ---------------------------------------------------------------------------- result
@dataclass
class SolveSensitivity:
    """Derivatives of one solve with respect to the parameter entries ``labels``.

    ``dV[j]`` = dV*/dp_j, ``du0[:, j]`` = du0*/dp_j, ``dw[:, j]`` = dw*/dp_j; ``margin[0, j]``
    and ``margin[1, j]`` are how far p_j may decrease and increase before the active set
    changes (inf: never within the linearization). ``dV_bounds`` maps ``bounds.u_max[i]`` etc.
    to dV*/d(bound) (the bound of every stage moved together). ``status`` is 'ok', or why there
    is no derivative ('singular': the KKT matrix is singular at this active set,
    'not_finite').
    """

    status: str
    message: str = ''
    labels: list = field(default_factory=list)
    index: np.ndarray = None
    dV: np.ndarray = None
    du0: np.ndarray = None
    dw: np.ndarray = None
    margin: np.ndarray = None
    dV_bounds: dict = field(default_factory=dict)
    active: list = field(default_factory=list)
    weakly_active: list = field(default_factory=list)
    kkt_residual: float = float('nan')
    lam_g: np.ndarray = None
    lam_x: np.ndarray = None
    seconds: float = 0.0          # [s] spent computing them

    @property
    def ok(self):
        return self.status == 'ok'

    def columns(self, prefix):
        """Column indices whose label starts with ``prefix`` (e.g. 'x0[', 'costs.')."""
        return [j for j, label in enumerate(self.labels) if label.startswith(prefix)]

    @property
    def du0_dx0(self):
        return self.du0[:, self.columns('x0[')]

    @property
    def du0_du_prev(self):
        return self.du0[:, self.columns('u_prev[')]


def failed(status, message):
    return SolveSensitivity(status=status, message=message)


# ---------------------------------------------------------------------------- differentiator
class Differentiator:
    """Builds the derivative functions of one OCP once; ``compute`` differentiates a solve."""

    def __init__(self, ocp, chain=None):
        self.ocp = ocp
        m = ocp.model
        w, p, f, g = ocp.w, ocp.p, ocp.f, ocp.g
        self.labels = parameter_labels(ocp)
        self.var_labels = variable_labels(ocp)
        dyn_cols = [i for name in DYNAMICS_BLOCKS if name in ocp.blocks
                    for i in range(ocp.blocks[name].start,
                                   ocp.blocks[name].start + ocp.blocks[name].size)]
        self.directions = np.array([i for i in range(ocp.n_p) if i not in set(dyn_cols)], int)
        self.gap_rows = self._gap_rows()
        staged = self.gap_rows is not None
        rest = np.setdiff1d(np.arange(ocp.ng), self.gap_rows) if staged else np.arange(ocp.ng)
        self.rest_rows = rest
        g_rest = g[rest.tolist()]
        lam = ca.SX.sym('lam', len(rest))
        lagrangian = f + ca.dot(lam, g_rest)
        grad_l = ca.gradient(lagrangian, w)
        self._first = ca.Function('sens_first', [w, p], [
            g_rest, ca.densify(ca.gradient(f, w)), ca.jacobian(g_rest, w),
            ca.densify(ca.gradient(f, p)), ca.jacobian(g_rest, p)], {'cse': True})
        self._second = ca.Function('sens_second', [w, p, lam], [
            ca.hessian(lagrangian, w)[0], ca.jacobian(grad_l, p)], {'cse': True})
        if staged:
            second = rk4_step_second_order(m, ocp.dt, ocp.substeps, 'sens_stage', chain=chain)
            args = second.mx_in()
            self._curvature = ca.Function('sens_curv', args,
                                          [second.call(args)[2]]).map(ocp.N)
            self._dynamics = rk4_step_jacobian(m, ocp.dt, ocp.substeps, 'sens_dyn').map(ocp.N)
            nz = m.nx + m.nu
            idx = np.hstack([ocp.x_index[:-1], ocp.u_index])            # (N, nz)
            self._h_rows = np.repeat(idx, nz, axis=1).ravel()           # block (k, i, j)
            self._h_cols = np.tile(idx, (1, nz)).ravel()
            # gap k: +I on x_{k+1}, -A_k on x_k, -B_k on u_k
            N, nx = ocp.N, m.nx
            rows = self.gap_rows.reshape(N, nx)
            self._j_rows = np.concatenate([
                rows.ravel(), np.repeat(rows, nz, axis=1).ravel()])
            self._j_cols = np.concatenate([
                ocp.x_index[1:].ravel(), np.tile(idx, (1, nx)).ravel()])
        self._x_rows = ocp.x_index[1:].ravel()

    def _gap_rows(self):
        """Rows of g that are the gaps x_{k+1} - F(x_k, u_k, p_model), stage by stage, or None
        when the transcription does not have that layout (checked at random points)."""
        ocp = self.ocp
        rows = getattr(ocp, 'gap_index', None)
        if rows is None or getattr(ocp, 'step', None) is None:
            return None
        rows = np.asarray(rows, int)
        if rows.shape != (ocp.N, ocp.model.nx):
            return None
        g = ca.Function('g', [ocp.w, ocp.p], [ocp.g])
        rng = np.random.default_rng(7)
        pm = ocp.blocks['model'].slice
        for _ in range(2):
            w, p = rng.uniform(-1, 1, ocp.nw), rng.uniform(0.5, 1.5, ocp.n_p)
            gv = np.asarray(g(w, p), float).ravel()
            xs, us = ocp.unpack(w)
            for k in range(ocp.N):
                gap = xs[k + 1] - np.asarray(ocp.step(xs[k], us[k], p[pm]), float).ravel()
                if not np.allclose(gv[rows[k]], gap, rtol=1e-9, atol=1e-9):
                    return None
        return rows.ravel()

    # ------------------------------------------------------------------ evaluation
    def _jacobian(self, w, p):
        """g's Jacobian (csc), the objective gradient, the rest rows' values and p-parts."""
        ocp = self.ocp
        g_rest, gw, j_rest, gp, jp_rest = self._first(w, p)
        g_rest = np.asarray(g_rest, float).ravel()
        gw, gp = np.asarray(gw, float).ravel(), np.asarray(gp, float).ravel()
        j_rest, jp_rest = j_rest.tocsc().tocoo(), jp_rest.tocsc().tocoo()
        rows, cols, vals = [self.rest_rows[j_rest.row]], [j_rest.col], [j_rest.data]
        jp = sp.csr_matrix((jp_rest.data, (self.rest_rows[jp_rest.row], jp_rest.col)),
                           shape=(ocp.ng, ocp.n_p))
        stage = None
        if self.gap_rows is not None:
            xs, us = ocp.unpack(w)
            pm = p[ocp.blocks['model'].slice]
            stage = (xs[:-1].T, us.T, pm)
            _, a, b = self._dynamics(*stage)
            nx, nu, N = ocp.model.nx, ocp.model.nu, ocp.N
            ab = np.concatenate([np.asarray(a, float).reshape(nx, N, nx),
                                 np.asarray(b, float).reshape(nx, N, nu)], axis=2)
            rows.append(self._j_rows)
            cols.append(self._j_cols)
            vals += [np.ones(N * nx), -ab.transpose(1, 0, 2).ravel()]
        jac = sp.csc_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
                            shape=(ocp.ng, ocp.nw))
        g_full = np.zeros(ocp.ng)
        g_full[self.rest_rows] = g_rest
        return jac, gw, gp, jp, g_full, stage

    def _hessian(self, w, p, lam_g, stage):
        ocp = self.ocp
        hess, hp = self._second(w, p, lam_g[self.rest_rows])
        hess = hess.tocsc()
        if stage is not None:
            nx, nz, N = ocp.model.nx, ocp.model.nx + ocp.model.nu, ocp.N
            # gap rows enter the Lagrangian as lam' (x_{k+1} - F): curvature of -lam' F
            lam = -lam_g[self.gap_rows].reshape(N, nx).T
            blocks = np.asarray(self._curvature(*stage, lam), float).reshape(nz, N, nz)
            curv = sp.csc_matrix((blocks.transpose(1, 0, 2).ravel(),
                                  (self._h_rows, self._h_cols)), shape=(ocp.nw, ocp.nw))
            hess = hess + curv
        return hess.tocsc(), hp.tocsc()

    # ------------------------------------------------------------------ the derivative
    def compute(self, w, p, bounds, columns=None, full=True, active_tol=ACTIVE_TOL):
        """Differentiate the solution ``w`` of the problem with parameters ``p`` and
        ``bounds`` = (lbw, ubw, lbg, ubg) along the parameter entries ``columns`` (indices into
        p; default every entry the dynamics do not depend on). ``full`` False: du0 and dV only
        (one adjoint solve per input instead of one solve per column: what a rollout needs),
        no dw, margins or multiplier derivatives. Never raises on numeric trouble: the result's
        status says what went wrong."""
        started = time.perf_counter()
        ocp = self.ocp
        w = np.asarray(w, float).ravel()
        p = np.asarray(p, float).ravel()
        cols = self.directions if columns is None else np.asarray(columns, int)
        bad = [self.labels[c] for c in cols if c not in set(self.directions)]
        if bad:
            raise ValueError('no sensitivities with respect to %s: the dynamics depend on them'
                             % ', '.join(bad))
        if not (np.all(np.isfinite(w)) and np.all(np.isfinite(p))):
            return failed('not_finite', 'the solution or the parameters are not finite')
        lbw, ubw, lbg, ubg = (np.asarray(b, float).ravel() for b in bounds)
        jac, gw, gp, jp, g, stage = self._jacobian(w, p)
        try:
            sets, lam_g, lam_x, residual, weak = self._active_set(
                w, g, jac, gw, (lbw, ubw, lbg, ubg), active_tol)
            at_lo, at_hi, g_lo, g_hi = sets
            bound, rows = at_lo | at_hi, (lbg == ubg) | g_lo | g_hi
            hess, hp = self._hessian(w, p, lam_g, stage)
            if full:
                dw, dlam_g, dlam_x = self._solve(hess, hp, jac, jp, cols, bound, rows)
                du0 = dw[ocp.u_index[0]]
            else:
                du0 = self._solve_u0(hess, hp, jac, jp, cols, bound, rows)
        except RuntimeError as err:   # splu: a singular matrix
            return failed('singular', 'the KKT matrix at this active set is singular (%s)'
                          % err)
        if not (np.all(np.isfinite(du0)) and np.all(np.isfinite(lam_g))):
            return failed('not_finite', 'the derivatives are not finite')
        dV = gp + jp.T @ lam_g
        active = [self.var_labels[i] + (' lower' if at_lo[i] else ' upper')
                  for i in np.flatnonzero(bound)]
        active += ['g[%d] %s' % (i, 'lower' if g_lo[i] else 'upper')
                   for i in np.flatnonzero(g_lo | g_hi)]
        out = SolveSensitivity(
            status='ok', labels=[self.labels[c] for c in cols], index=cols, dV=dV[cols],
            du0=du0, dV_bounds=self._bound_derivatives(lam_x), active=active,
            weakly_active=weak, kkt_residual=residual, lam_g=lam_g, lam_x=lam_x)
        if full:
            out.dw = dw
            out.margin = self._margins(w, g, dw, jac, jp, cols, (lbw, ubw, lbg, ubg), sets,
                                       (lam_x, lam_g), (dlam_x, dlam_g))
        out.seconds = time.perf_counter() - started
        return out

    def _active_set(self, w, g, jac, gw, bounds, active_tol):
        """The active bounds and inequality rows with their multipliers: entries within
        ``active_tol`` of a bound are candidates; a candidate whose recovered multiplier is
        too small or of the wrong sign is weakly active and left free. Returns ((at_lo, at_hi,
        g_lo, g_hi), lam_g, lam_x, stationarity residual, weakly active labels)."""
        lbw, ubw, lbg, ubg = bounds
        scale = max(1.0, float(np.max(np.abs(gw), initial=0.0)))
        tol_lo = active_tol * np.maximum(1.0, np.abs(np.where(np.isfinite(lbw), lbw, 0)))
        tol_hi = active_tol * np.maximum(1.0, np.abs(np.where(np.isfinite(ubw), ubw, 0)))
        at_lo, at_hi = w - lbw <= tol_lo, ubw - w <= tol_hi
        equality = lbg == ubg
        g_tol = active_tol * np.maximum(1.0, np.abs(g))
        g_lo = ~equality & (g - lbg <= g_tol)
        g_hi = ~equality & (ubg - g <= g_tol)
        if self.gap_rows is not None:
            g_lo[self.gap_rows] = g_hi[self.gap_rows] = False
        weak = []
        tol = MULTIPLIER_TOL * scale
        for _ in range(3):
            lam_g, lam_x, residual = self._multipliers(jac, gw, at_lo | at_hi,
                                                       equality | g_lo | g_hi)
            drop_x = (at_lo & (lam_x > -tol)) | (at_hi & (lam_x < tol))
            drop_g = (g_lo & (lam_g > -tol)) | (g_hi & (lam_g < tol))
            if not drop_x.any() and not drop_g.any():
                break
            weak += [self.var_labels[i] for i in np.flatnonzero(drop_x)]
            weak += ['g[%d]' % i for i in np.flatnonzero(drop_g)]
            at_lo, at_hi = at_lo & ~drop_x, at_hi & ~drop_x
            g_lo, g_hi = g_lo & ~drop_g, g_hi & ~drop_g
        lam_x[~(at_lo | at_hi)] = 0.0
        return (at_lo, at_hi, g_lo, g_hi), lam_g, lam_x, residual, sorted(set(weak))

    def _multipliers(self, jac, gw, bound, rows):
        """Least-squares multipliers of stationarity for the given active sets; returns
        (lam_g, lam_x, stationarity residual on the free entries)."""
        free = np.flatnonzero(~bound)
        act = np.flatnonzero(rows)
        j_af = jac[act][:, free]
        nf = len(free)
        kkt = sp.bmat([[sp.identity(nf, format='csc'), j_af.T], [j_af, None]], format='csc')
        sol = splu(kkt).solve(np.concatenate([-gw[free], np.zeros(len(act))]))
        lam_g = np.zeros(jac.shape[0])
        lam_g[act] = sol[nf:]
        lam_x = -(gw + jac.T @ lam_g)
        lam_x[free] = 0.0
        residual = float(np.max(np.abs(sol[:nf]), initial=0.0))
        return lam_g, lam_x, residual

    def _solve(self, hess, hp, jac, jp, cols, bound, rows):
        """The tangent of (w, lam) along the parameter columns, active set fixed."""
        kkt, free, act = self._kkt(hess, jac, bound, rows)
        fixed = np.flatnonzero(bound)
        rhs = -np.vstack([hp[free][:, cols].toarray(), jp[act][:, cols].toarray()])
        sol = splu(kkt).solve(rhs)
        nf = len(free)
        dw = np.zeros((jac.shape[1], len(cols)))
        dw[free] = sol[:nf]
        dlam_g = np.zeros((jac.shape[0], len(cols)))
        dlam_g[act] = sol[nf:]
        dlam_x = np.zeros_like(dw)
        if len(fixed):
            dlam_x[fixed] = -(hess[fixed] @ dw + hp[fixed][:, cols].toarray()
                              + jac[:, fixed].T @ dlam_g)
        return dw, dlam_g, dlam_x

    def _solve_u0(self, hess, hp, jac, jp, cols, bound, rows):
        """du0/dp along ``cols`` by the adjoint: one solve per input with the (symmetric) KKT
        matrix, then one product with the right-hand sides."""
        kkt, free, act = self._kkt(hess, jac, bound, rows)
        u0 = self.ocp.u_index[0]
        where = {j: i for i, j in enumerate(free)}
        seeds = np.zeros((kkt.shape[0], len(u0)))
        for i, j in enumerate(u0):
            if j in where:      # an input at an active bound does not move
                seeds[where[j], i] = 1.0
        adjoint = splu(kkt).solve(seeds)
        rhs = np.vstack([hp[free][:, cols].toarray(), jp[act][:, cols].toarray()])
        return -adjoint.T @ rhs

    def _kkt(self, hess, jac, bound, rows):
        free, act = np.flatnonzero(~bound), np.flatnonzero(rows)
        j_af = jac[act][:, free]
        kkt = sp.bmat([[hess[free][:, free], j_af.T], [j_af, None]], format='csc')
        return kkt, free, act

    def _margins(self, w, g, dw, jac, jp, cols, bounds, sets, lams, dlams):
        """(2, n): the largest decrease / increase of each parameter that keeps the active set
        (first order: a free entry or inactive row reaching its bound, or an active multiplier
        reaching zero)."""
        lbw, ubw, lbg, ubg = bounds
        at_lo, at_hi, g_lo, g_hi = sets
        dg = jac @ dw + jp[:, cols].toarray()
        margin = np.full((2, len(cols)), np.inf)
        with np.errstate(divide='ignore', invalid='ignore'):
            for sign, row in ((-1.0, 0), (1.0, 1)):
                limits = []
                for value, lo, hi, d, a_lo, a_hi, lam, dlam, fixed in (
                        (w, lbw, ubw, dw, at_lo, at_hi, lams[0], dlams[0], lbw == ubw),
                        (g, lbg, ubg, dg, g_lo, g_hi, lams[1], dlams[1], lbg == ubg)):
                    step = sign * d
                    free = ~(a_lo | a_hi | fixed)[:, None]
                    to_lo = np.where(free & (step < 0), (value - lo)[:, None] / -step, np.inf)
                    to_hi = np.where(free & (step > 0), (hi - value)[:, None] / step, np.inf)
                    active = (a_lo | a_hi)[:, None]
                    dl = sign * dlam
                    to_zero = np.where(active & (lam[:, None] * dl < 0),
                                       np.abs(lam)[:, None] / np.abs(dl), np.inf)
                    limits += [np.nanmin(np.maximum(x, 0.0), axis=0, initial=np.inf)
                               for x in (to_lo, to_hi, to_zero)]
                margin[row] = np.min(limits, axis=0)
        return margin

    def _bound_derivatives(self, lam_x):
        """dV*/d(bound) per configured bound entry (every stage's bound moved together)."""
        ocp = self.ocp
        out = {}
        for key, index in (('u', ocp.u_index), ('x', ocp.x_index[1:])):
            lam = lam_x[index]          # (stages, n)
            for i in range(index.shape[1]):
                out['bounds.%s_min[%d]' % (key, i)] = float(-np.sum(np.minimum(lam[:, i], 0)))
                out['bounds.%s_max[%d]' % (key, i)] = float(-np.sum(np.maximum(lam[:, i], 0)))
        return out
