"""Sensitivities of one solve: how the optimal cost and the first command move when a weight,
the goal, the state or a bound is nudged.

Works on the flat NLP the OCP exposes (``ocp.nlp``: w, p, f, g; bounds from ``ocp.bounds``), so
the result does not depend on which backend found the solution. At a solution w* the active set
is read from the primal (entries within a tolerance of a bound); the multipliers are the
backend's where it gives them, else recovered from the stationarity condition grad f + J' lam_g
+ lam_x = 0 by least squares (nlpsol sign convention: lam > 0 at an upper bound, < 0 at a lower
one); with that active set fixed the KKT conditions are differentiated (implicit function
theorem):

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
flat Hessian is used. For small problems the functions are compiled (generated C, cached on disk
like the compiled solvers, when the controller's solver is compiled) and the KKT matrix is
factorized densely; large ones stay in CasADi's virtual machine with a sparse LU.

Deviation from reusing the solver's factorization: the compiled solver factorizes its QPs with
a Gauss-Newton Hessian, whose derivatives would miss the dynamics' curvature; the exact KKT
matrix here gives the derivatives of the solution itself, the same for every backend.
"""
import hashlib
import time
import warnings
from dataclasses import dataclass, field

import casadi as ca
import numpy as np
import scipy.sparse as sp
from scipy.linalg import LinAlgWarning, lu_factor, lu_solve
from scipy.sparse.linalg import splu

from .integrators import rk4_step_jacobian, rk4_step_second_order
from .solvers.compiled import build_library

COMPILE_LIMIT = 400000   # operations: above, generated C takes minutes to build; run in the VM
DENSE_LIMIT = 250        # KKT rows up to which a dense LU is faster than a sparse one
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
    to dV*/d(bound) (the bound of every stage moved together). ``dw``, ``margin``, ``active``
    and ``dV_bounds`` are only filled by a full computation. ``status`` is 'ok', or why there
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
class DenseLU:
    """LU factorization of a dense matrix with the ``solve`` of scipy's sparse one; a zero
    pivot raises RuntimeError as a singular sparse factorization does."""

    def __init__(self, matrix):
        with warnings.catch_warnings():
            warnings.simplefilter('ignore', LinAlgWarning)   # a zero pivot: raised below
            self.lu = lu_factor(matrix, check_finite=False)
        if not np.all(np.diag(self.lu[0])):
            raise RuntimeError('Factor is exactly singular')

    def solve(self, rhs):
        return lu_solve(self.lu, rhs, check_finite=False)


class Buffered:
    """A CasADi Function called through preallocated numpy buffers (no conversions): inputs
    dense (matrices column-major), outputs as arrays of their nonzeros, with each output's
    (rows, cols) triplets."""

    def __init__(self, fn):
        self.fn = fn
        self.buffer, self.trigger = fn.buffer()
        self.args = [np.zeros(fn.nnz_in(i)) for i in range(fn.n_in())]
        self.res = [np.zeros(fn.nnz_out(i)) for i in range(fn.n_out())]
        for i, a in enumerate(self.args):
            self.buffer.set_arg(i, memoryview(a))
        for i, r in enumerate(self.res):
            self.buffer.set_res(i, memoryview(r))
        self.triplets = [tuple(np.asarray(t, int) for t in fn.sparsity_out(i).get_triplet())
                         for i in range(fn.n_out())]

    def __call__(self, *args):
        for buf, value in zip(self.args, args):
            buf[:] = np.asarray(value, float).ravel(order='F')
        self.trigger()
        return [r.copy() for r in self.res]

    def dense(self, i, values):
        """Output ``i`` as a dense array from its nonzeros."""
        out = np.zeros(self.fn.size_out(i))
        rows, cols = self.triplets[i]
        out[rows, cols] = values
        return out


class Differentiator:
    """Builds the derivative functions of one OCP once; ``compute`` differentiates a solve.

    ``compiled``: generate C for them and build it once with the system compiler, cached on
    disk by structure (as the compiled solvers are), instead of running CasADi's virtual
    machine."""

    def __init__(self, ocp, chain=None, compiled=False, cache_dir='', progress=None):
        self.ocp = ocp
        m = ocp.model
        w, p, f, g = ocp.w, ocp.p, ocp.f, ocp.g
        self.labels = parameter_labels(ocp)
        self.var_labels = variable_labels(ocp)
        dynamic = {i for name in DYNAMICS_BLOCKS if name in ocp.blocks
                   for i in range(ocp.blocks[name].start,
                                  ocp.blocks[name].start + ocp.blocks[name].size)}
        self.directions = np.array([i for i in range(ocp.n_p) if i not in dynamic], int)
        self.gap_rows = self._gap_rows()
        staged = self.gap_rows is not None
        rest = np.setdiff1d(np.arange(ocp.ng), self.gap_rows) if staged else np.arange(ocp.ng)
        self.rest_rows = rest
        g_rest = g[rest.tolist()]
        lam = ca.SX.sym('lam', len(rest))
        lagrangian = f + ca.dot(lam, g_rest)
        self._first = Buffered(ca.Function('sens_first', [w, p], [
            ca.densify(g_rest), ca.densify(ca.gradient(f, w)), ca.jacobian(g_rest, w),
            ca.densify(ca.gradient(f, p)), ca.jacobian(g_rest, p)], {'cse': True}))
        self._second = Buffered(ca.Function('sens_second', [w, p, lam], [
            ca.hessian(lagrangian, w)[0], ca.jacobian(ca.gradient(lagrangian, w), p)],
            {'cse': True}))
        self._stage_ops = 0
        rows, cols = self._first.triplets[2]
        self._j_rows, self._j_cols = [rest[rows]], [cols]
        self._h_rows, self._h_cols = [self._second.triplets[0][0]], [self._second.triplets[0][1]]
        if staged:
            second = rk4_step_second_order(m, ocp.dt, ocp.substeps, 'sens_stage', chain=chain)
            # a chained stage function stands for a model too large to expand: never compiled
            self._stage_ops = second.n_instructions() if second.is_a('SXFunction') else \
                COMPILE_LIMIT + 1
            args = second.mx_in()
            self._curvature = Buffered(ca.Function(
                'sens_curv', args, [ca.densify(second.call(args)[2])]).map(ocp.N))
            dyn = rk4_step_jacobian(m, ocp.dt, ocp.substeps, 'sens_dyn')
            args = dyn.mx_in()
            self._dynamics = Buffered(ca.Function(
                'sens_dyn_dense', args, [ca.densify(v) for v in dyn.call(args)]).map(ocp.N))
            N, nx, nz = ocp.N, m.nx, m.nx + m.nu
            idx = np.hstack([ocp.x_index[:-1], ocp.u_index])            # (N, nz)
            # curvature blocks (k, i, j) on (idx[k, i], idx[k, j])
            self._h_rows.append(np.repeat(idx, nz, axis=1).ravel())
            self._h_cols.append(np.tile(idx, (1, nz)).ravel())
            # gap k: +I on x_{k+1}, -[A_k B_k] (row i, column j) on idx[k, j]
            gaps = self.gap_rows.reshape(N, nx)
            self._j_rows += [gaps.ravel(), np.repeat(gaps, nz, axis=1).ravel()]
            self._j_cols += [ocp.x_index[1:].ravel(), np.tile(idx, (1, nx)).ravel()]
        self._j_rows, self._j_cols = np.concatenate(self._j_rows), np.concatenate(self._j_cols)
        self._h_rows, self._h_cols = np.concatenate(self._h_rows), np.concatenate(self._h_cols)
        self.compiled = False
        if compiled:
            self._compile(cache_dir, progress)

    def _compile(self, cache_dir, progress):
        """Swap the functions for their generated C, built once and cached by structure."""
        names = ['_first', '_second'] + (['_curvature', '_dynamics']
                                         if self.gap_rows is not None else [])
        fns = [getattr(self, n).fn for n in names]
        say = progress or (lambda msg: None)
        ops = self._first.fn.n_instructions() + self._second.fn.n_instructions() + \
            self.ocp.N * self._stage_ops
        if ops > COMPILE_LIMIT:
            say('sensitivities run in the virtual machine: %d operations would take minutes to '
                'compile (limit %d)' % (ops, COMPILE_LIMIT))
            return
        digest = hashlib.sha256(ca.__version__.encode())
        for fn in fns:
            digest.update(fn.serialize().encode())
        key = 'sens_' + digest.hexdigest()[:20]

        def sources(directory):
            cg = ca.CodeGenerator('sensitivity.c', {'with_header': False})
            for fn in fns:
                cg.add(fn)
            cg.generate(str(directory) + '/')
            return [str(directory) + '/sensitivity.c']
        started = time.perf_counter()
        path, built = build_library(sources, key, cache_dir, progress)
        say('%s the compiled sensitivities in %.1f s (%s)' % (
            'built' if built else 'loaded', time.perf_counter() - started, path))
        for name, fn in zip(names, fns):
            setattr(self, name, Buffered(ca.external(fn.name(), str(path))))
        self.compiled = True

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

    def columns(self, prefixes):
        """Indices into p of the directions whose labels start with one of ``prefixes``."""
        return np.array([i for i in self.directions if self.labels[i].startswith(
            tuple(prefixes))], int)

    # ------------------------------------------------------------------ evaluation
    def _first_order(self, w, p):
        """g's Jacobian (values on the fixed triplets), the objective's gradients, g (its gap
        rows zero), dg/dp (dense) and the stage arguments."""
        ocp = self.ocp
        g_rest, gw, j_rest, gp, jp_rest = self._first(w, p)
        g = np.zeros(ocp.ng)
        g[self.rest_rows] = g_rest
        jp = np.zeros((ocp.ng, ocp.n_p))
        jp[self.rest_rows] = self._first.dense(4, jp_rest)
        values, stage = [j_rest], None
        if self.gap_rows is not None:
            xs, us = ocp.unpack(w)
            pm = p[ocp.blocks['model'].slice]
            stage = [xs[:-1].T, us.T, np.tile(pm[:, None], (1, ocp.N))]
            _, a, b = self._dynamics(*stage)
            nx, nu, N = ocp.model.nx, ocp.model.nu, ocp.N
            ab = np.concatenate([a.reshape(N, nx, nx).transpose(0, 2, 1),
                                 b.reshape(N, nu, nx).transpose(0, 2, 1)], axis=2)
            values += [np.ones(N * nx), -ab.ravel()]
        return np.concatenate(values), gw, g, gp, jp, stage

    def _second_order(self, w, p, lam_g, stage):
        """The Lagrangian's Hessian (values on the fixed triplets) and d(grad_w L)/dp."""
        ocp = self.ocp
        hess, hp = self._second(w, p, lam_g[self.rest_rows])
        values = [hess]
        if stage is not None:
            nx, nz, N = ocp.model.nx, ocp.model.nx + ocp.model.nu, ocp.N
            # gap rows enter the Lagrangian as lam' (x_{k+1} - F): curvature of -lam' F
            lam = -lam_g[self.gap_rows].reshape(N, nx).T
            blocks = self._curvature(*stage, lam)[0].reshape(N, nz, nz).transpose(0, 2, 1)
            values.append(blocks.ravel())
        return np.concatenate(values), self._second.dense(1, hp)

    def _jt(self, jac, lam):
        """J' lam from the triplets."""
        return np.bincount(self._j_cols, jac * lam[self._j_rows], minlength=self.ocp.nw)

    def _jmat(self, jac):
        return sp.csc_matrix((jac, (self._j_rows, self._j_cols)),
                             shape=(self.ocp.ng, self.ocp.nw))

    def _factor(self, hess, jac, bound, rows):
        """Factorize the KKT matrix [H_FF J_AF'; J_AF 0] for free entries F and active rows A
        (``hess`` None puts the identity in place of H): dense LU up to DENSE_LIMIT rows, sparse
        LU above. Returns (factorization with ``solve``, F, A); RuntimeError when singular."""
        free, act = np.flatnonzero(~bound), np.flatnonzero(rows)
        nf = len(free)
        at_w = np.full(self.ocp.nw, -1)
        at_w[free] = np.arange(nf)
        at_g = np.full(self.ocp.ng, -1)
        at_g[act] = nf + np.arange(len(act))
        r, c = at_g[self._j_rows], at_w[self._j_cols]
        keep = (r >= 0) & (c >= 0)
        jr, jc, jv = r[keep], c[keep], jac[keep]
        if hess is None:
            hr = hc = np.arange(nf)
            hv = np.ones(nf)
        else:
            hr, hc = at_w[self._h_rows], at_w[self._h_cols]
            keep = (hr >= 0) & (hc >= 0)
            hr, hc, hv = hr[keep], hc[keep], hess[keep]
        n = nf + len(act)
        rr, cc = np.concatenate([hr, jr, jc]), np.concatenate([hc, jc, jr])
        vals = np.concatenate([hv, jv, jv])
        if n <= DENSE_LIMIT:
            return DenseLU(np.bincount(rr * n + cc, vals, minlength=n * n).reshape(n, n)), \
                free, act
        return splu(sp.csc_matrix((vals, (rr, cc)), shape=(n, n))), free, act

    # ------------------------------------------------------------------ the derivative
    def compute(self, w, p, bounds, columns=None, full=True, multipliers=None,
                active_tol=ACTIVE_TOL):
        """Differentiate the solution ``w`` of the problem with parameters ``p`` and
        ``bounds`` = (lbw, ubw, lbg, ubg) along the parameter entries ``columns`` (indices into
        p; default every entry the dynamics do not depend on). ``full`` False: du0 and dV only
        (one adjoint solve per input instead of one solve per column: what a rollout needs),
        no dw, margins or multiplier derivatives. ``multipliers``: the solver's (lam_g, lam_x)
        at ``w`` (nlpsol convention), which spares their recovery. Never raises on numeric
        trouble: the result's status says what went wrong."""
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
        jac, gw, g, gp, jp, stage = self._first_order(w, p)
        try:
            if multipliers is not None and not all(
                    m is not None and np.all(np.isfinite(m)) for m in multipliers):
                multipliers = None
            sets, lam_g, lam_x, residual, weak = self._active_set(
                w, g, jac, gw, (lbw, ubw, lbg, ubg), active_tol, multipliers)
            at_lo, at_hi, g_lo, g_hi = sets
            bound, rows = at_lo | at_hi, (lbg == ubg) | g_lo | g_hi
            hess, hp = self._second_order(w, p, lam_g, stage)
            lu, free, act = self._factor(hess, jac, bound, rows)
            rhs = np.vstack([hp[free][:, cols], jp[act][:, cols]])
            if full:
                dw, dlam_g, dlam_x = self._solve(lu, free, act, rhs, hess, hp[:, cols], jac,
                                                 bound)
                du0 = dw[ocp.u_index[0]]
            else:
                du0 = self._solve_u0(lu, free, rhs)
        except RuntimeError as err:   # a singular matrix
            return failed('singular', 'the KKT matrix is singular at this active set (%s): '
                          'active constraints that depend on each other, or variables the '
                          'cost does not decide' % err)
        if not (np.all(np.isfinite(du0)) and np.all(np.isfinite(lam_g))):
            return failed('not_finite', 'the derivatives are not finite')
        dV = gp[cols] + jp[:, cols].T @ lam_g
        out = SolveSensitivity(
            status='ok', labels=[self.labels[c] for c in cols], index=cols, dV=dV, du0=du0,
            weakly_active=weak, kkt_residual=residual, lam_g=lam_g, lam_x=lam_x)
        if full:
            out.active = [self.var_labels[i] + (' lower' if at_lo[i] else ' upper')
                          for i in np.flatnonzero(bound)]
            out.active += ['g[%d] %s' % (i, 'lower' if g_lo[i] else 'upper')
                           for i in np.flatnonzero(g_lo | g_hi)]
            out.dV_bounds = self._bound_derivatives(lam_x)
            out.dw = dw
            out.margin = self._margins(w, g, dw, self._jmat(jac), jp, cols,
                                       (lbw, ubw, lbg, ubg), sets, (lam_x, lam_g),
                                       (dlam_x, dlam_g))
        out.seconds = time.perf_counter() - started
        return out

    def _active_set(self, w, g, jac, gw, bounds, active_tol, multipliers=None):
        """The active bounds and inequality rows with their multipliers: entries within
        ``active_tol`` of a bound are candidates; a candidate whose multiplier (the solver's
        ``multipliers`` = (lam_g, lam_x), else recovered) is too small or of the wrong sign
        is weakly active and left free. Returns ((at_lo, at_hi, g_lo, g_hi), lam_g, lam_x,
        stationarity residual, weakly active labels)."""
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
            if multipliers is None:
                lam_g, lam_x, residual = self._multipliers(jac, gw, at_lo | at_hi,
                                                           equality | g_lo | g_hi)
            else:
                lam_g, lam_x = (np.array(m, float) for m in multipliers)
                lam_g[~(equality | g_lo | g_hi)] = 0.0
                lam_x[~(at_lo | at_hi)] = 0.0
                stationarity = gw + self._jt(jac, lam_g) + lam_x
                residual = float(np.max(np.abs(stationarity), initial=0.0))
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
        lu, free, act = self._factor(None, jac, bound, rows)
        nf = len(free)
        sol = lu.solve(np.concatenate([-gw[free], np.zeros(len(act))]))
        lam_g = np.zeros(self.ocp.ng)
        lam_g[act] = sol[nf:]
        lam_x = -(gw + self._jt(jac, lam_g))
        lam_x[free] = 0.0
        residual = float(np.max(np.abs(sol[:nf]), initial=0.0))
        return lam_g, lam_x, residual

    def _solve(self, lu, free, act, rhs, hess, hp, jac, bound):
        """The tangent of (w, lam) along the parameter columns, active set fixed."""
        ocp = self.ocp
        sol = -lu.solve(rhs)
        nf = len(free)
        dw = np.zeros((ocp.nw, rhs.shape[1]))
        dw[free] = sol[:nf]
        dlam_g = np.zeros((ocp.ng, rhs.shape[1]))
        dlam_g[act] = sol[nf:]
        dlam_x = np.zeros_like(dw)
        fixed = np.flatnonzero(bound)
        if len(fixed):
            h = sp.csr_matrix((hess, (self._h_rows, self._h_cols)), shape=(ocp.nw, ocp.nw))
            dlam_x[fixed] = -(h[fixed] @ dw + hp[fixed] + (self._jmat(jac).T @ dlam_g)[fixed])
        return dw, dlam_g, dlam_x

    def _solve_u0(self, lu, free, rhs):
        """du0/dp along the columns by the adjoint: one solve per input with the (symmetric)
        KKT matrix, then one product with the right-hand sides."""
        u0 = self.ocp.u_index[0]
        where = {j: i for i, j in enumerate(free)}
        seeds = np.zeros((rhs.shape[0], len(u0)))
        for i, j in enumerate(u0):
            if j in where:      # an input at an active bound does not move
                seeds[where[j], i] = 1.0
        return -lu.solve(seeds).T @ rhs

    def _margins(self, w, g, dw, jac, jp, cols, bounds, sets, lams, dlams):
        """(2, n): the largest decrease / increase of each parameter that keeps the active set
        (first order: a free entry or inactive row reaching its bound, or an active multiplier
        reaching zero)."""
        lbw, ubw, lbg, ubg = bounds
        at_lo, at_hi, g_lo, g_hi = sets
        dg = jac @ dw + jp[:, cols]
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
