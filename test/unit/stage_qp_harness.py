"""Test support for the QP layer of the compiled kernel (core/solvers/stage_qp.c): the layer built
alone as a shared library, a ctypes view of its data, random stage-structured QPs, the same QP
as one flat QP for a reference solver (casadi.conic), and a KKT check of a solution.
"""
import ctypes
import hashlib
import os
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import casadi as ca
import numpy as np

from casadi_mpc.core.solvers import compiled, structured

C_D = ctypes.c_double
PD, PI = ctypes.POINTER(C_D), ctypes.POINTER(ctypes.c_int)
PPD = ctypes.POINTER(PD)
INF = np.inf
QP_OK, QP_NONCONVEX, QP_NAN, QP_FAIL = 0, 1, 2, 3
PATHS = {1: 'prepared', 2: 'predictor', 3: 'continued'}
STAGE_ARRAYS = ('H', 'g', 'A', 'B', 'b')
DATA = ('lbx', 'ubx', 'lbu', 'ubu', 'C', 'D', 'lg', 'ug', 'zl', 'zu', 'Zl', 'Zu')
SOLUTION = ('z', 'y', 'lam_lx', 'lam_ux', 'lam_lu', 'lam_uu', 'lam_lg', 'lam_ug', 'sl', 'su')


class QPStruct(ctypes.Structure):
    """cmpc_qp_t (stage_qp.h), field by field."""

    _fields_ = ([(n, ctypes.c_int) for n in ('N', 'nx', 'nv', 'nu', 'ns', 'nz')] +
                [('ng', PI), ('nsoft', PI)] +
                [(n, PPD) for n in STAGE_ARRAYS] + [('s0', PD)] +
                [(n, PPD) for n in DATA + SOLUTION] +
                [(n, ctypes.c_int)
                 for n in ('iter', 'cold_retries', 'regularized', 'robust', 'path')] +
                [('reg', C_D), ('res', C_D), ('mem', ctypes.c_void_p)])


class Opts(ctypes.Structure):
    """cmpc_qp_opts_t."""

    _fields_ = [('tol', C_D), ('max_iter', ctypes.c_int), ('warm', ctypes.c_int),
                ('strict', ctypes.c_int), ('wfloor', C_D), ('mu0', C_D)]


_LIB = None


def library():
    """stage_qp.c as a shared library, built once per source version."""
    global _LIB
    if _LIB is not None:
        return _LIB
    sources = structured.QP_SOURCES
    key = hashlib.sha256(b''.join(s.read_bytes() for s in sources)).hexdigest()[:16]
    path = Path(tempfile.gettempdir()) / ('casadi_mpc_stage_qp_%s_%d.so' % (key, os.getuid()))
    if not path.exists():
        include, link = compiled.hpipm()
        partial = path.with_suffix('.%d' % os.getpid())
        subprocess.run([compiled.COMPILER, '-O2', '-fPIC', '-shared', *include,
                        str(sources[0]), '-o', str(partial), *link], check=True)
        os.replace(partial, path)
    lib = ctypes.CDLL(str(path))
    lib.cmpc_qp_create.restype = ctypes.POINTER(QPStruct)
    lib.cmpc_qp_create.argtypes = [ctypes.c_int] * 4 + [PI, PI]
    lib.cmpc_qp_free.argtypes = [ctypes.POINTER(QPStruct)]
    for name in ('cmpc_qp_pack', 'cmpc_qp_pack_s0', 'cmpc_qp_keep', 'cmpc_qp_forget'):
        getattr(lib, name).argtypes = [ctypes.POINTER(QPStruct)]
    lib.cmpc_qp_solve.argtypes = [ctypes.POINTER(QPStruct), ctypes.POINTER(Opts)]
    lib.cmpc_qp_advance.argtypes = [ctypes.POINTER(QPStruct), ctypes.POINTER(Opts),
                                    ctypes.c_int]
    lib.cmpc_qp_struct_size.restype = ctypes.c_size_t
    assert lib.cmpc_qp_struct_size() == ctypes.sizeof(QPStruct) + ctypes.sizeof(Opts)
    _LIB = lib
    return lib


@dataclass
class StageQP:
    """One QP in the layer's terms (stage_qp.h); arrays per stage k = 0..N."""

    N: int
    nx: int
    nv: int
    nu: int
    H: list
    g: list
    A: list
    B: list
    b: list
    s0: np.ndarray
    lbx: list
    ubx: list
    lbu: list
    ubu: list
    C: list
    D: list
    lg: list
    ug: list
    nsoft: list
    zl: list = field(default_factory=list)
    zu: list = field(default_factory=list)
    Zl: list = field(default_factory=list)
    Zu: list = field(default_factory=list)

    @property
    def ns(self):
        return self.nx + self.nv

    @property
    def nz(self):
        return self.ns + self.nu

    @property
    def ng(self):
        return [c.shape[0] for c in self.C]


class Layer:
    """A QP workspace of the layer with the QP's data copied in."""

    def __init__(self, qp):
        self.lib = library()
        self.qp = qp
        ng = (ctypes.c_int * (qp.N + 1))(*qp.ng)
        nsoft = (ctypes.c_int * (qp.N + 1))(*qp.nsoft)
        self.ptr = self.lib.cmpc_qp_create(qp.N, qp.nx, qp.nv, qp.nu, ng, nsoft)
        self.s = self.ptr.contents
        self.load(qp)

    def __del__(self):
        if getattr(self, 'ptr', None):
            self.lib.cmpc_qp_free(self.ptr)
            self.ptr = None

    def view(self, name, k, n):
        return np.ctypeslib.as_array(getattr(self.s, name)[k], shape=(n,))

    def load(self, qp):
        """Copy every array of ``qp`` into the workspace (column-major)."""
        self.qp = qp
        for k in range(qp.N + 1):
            last = k == qp.N
            arrays = {'H': qp.H[k], 'g': qp.g[k], 'lbx': qp.lbx[k], 'ubx': qp.ubx[k],
                      'C': qp.C[k], 'lg': qp.lg[k], 'ug': qp.ug[k]}
            if not last:
                arrays.update(A=qp.A[k], B=qp.B[k], b=qp.b[k], lbu=qp.lbu[k], ubu=qp.ubu[k],
                              D=qp.D[k])
            if qp.nsoft[k]:
                arrays.update(zl=qp.zl[k], zu=qp.zu[k], Zl=qp.Zl[k], Zu=qp.Zu[k])
            for name, value in arrays.items():
                flat = np.asarray(value, float).reshape(-1, order='F')
                if flat.size:
                    self.view(name, k, flat.size)[:] = flat
        np.ctypeslib.as_array(self.s.s0, shape=(qp.ns,))[:] = qp.s0
        self.lib.cmpc_qp_pack(self.ptr)

    def set_s0(self, s0):
        np.ctypeslib.as_array(self.s.s0, shape=(self.qp.ns,))[:] = s0
        self.qp.s0 = np.array(s0, float)
        self.lib.cmpc_qp_pack_s0(self.ptr)

    def solve(self, tol=1e-10, max_iter=50, warm=False, strict=False):
        rc = self.lib.cmpc_qp_solve(self.ptr, ctypes.byref(opts(tol, max_iter, warm, strict)))
        if rc == QP_OK:
            self.lib.cmpc_qp_keep(self.ptr)
        return rc

    def advance(self, tol=1e-10, max_iter=8):
        return self.lib.cmpc_qp_advance(self.ptr, ctypes.byref(opts(tol, 50, True, False)),
                                        max_iter)

    def solution(self):
        """The solution: dict of per-stage arrays."""
        qp, out = self.qp, {}
        sizes = {'z': lambda k: qp.nz, 'y': lambda k: qp.ns, 'lam_lx': lambda k: qp.nx,
                 'lam_ux': lambda k: qp.nx, 'lam_lu': lambda k: qp.nu if k < qp.N else 0,
                 'lam_uu': lambda k: qp.nu if k < qp.N else 0,
                 'lam_lg': lambda k: qp.ng[k], 'lam_ug': lambda k: qp.ng[k],
                 'sl': lambda k: qp.nsoft[k], 'su': lambda k: qp.nsoft[k]}
        for name, size in sizes.items():
            out[name] = [self.view(name, k, size(k)).copy() if size(k) else np.zeros(0)
                         for k in range(qp.N + 1)]
        return out

    @property
    def stats(self):
        return {'iter': self.s.iter, 'cold_retries': self.s.cold_retries,
                'regularized': self.s.regularized, 'robust': self.s.robust,
                'path': PATHS.get(self.s.path, 'solve'), 'reg': self.s.reg}


def opts(tol=1e-10, max_iter=50, warm=False, strict=False):
    return Opts(tol=tol, max_iter=max_iter, warm=int(warm), strict=int(strict), wfloor=1e-3,
                mu0=1.0)


# ---------------------------------------------------------------------- random QPs
def random_qp(rng, N=6, nx=3, nu=2, nv=0, ng=1, nsoft=1, terminal_rows=0, spread=1.0,
              hessian='pd'):
    """A random stage-structured QP that is feasible by construction: bounds and general rows
    lie around a trajectory of the dynamics. ``hessian``: 'pd' (positive definite blocks) or
    'psd' (singular blocks, some directions carried by the bounds alone)."""
    ns, nz = nx + nv, nx + nv + nu
    A = [np.eye(nx) + 0.2 * rng.standard_normal((nx, nx)) for _ in range(N)]
    B = [0.5 * rng.standard_normal((nx, nu)) for _ in range(N)]
    b = [0.1 * rng.standard_normal(nx) for _ in range(N)]
    s0 = np.concatenate([rng.standard_normal(nx), 0.1 * rng.standard_normal(nv)])
    xs, us = [s0[:nx]], []
    for k in range(N):
        us.append(rng.standard_normal(nu))
        xs.append(A[k] @ xs[k] + B[k] @ us[k] + b[k])
    H, g = [], []
    for k in range(N + 1):
        M = rng.standard_normal((nz, nz))
        if hessian == 'psd':
            M[:, rng.integers(nz)] = 0.0          # a direction without curvature
            Hk = M.T @ M * 0.5
        else:
            Hk = M.T @ M / nz + 0.1 * np.eye(nz)
        if k == N:
            Hk[ns:, :] = 0.0
            Hk[:, ns:] = 0.0
        H.append(Hk)
        gk = rng.standard_normal(nz)
        if k == N:
            gk[ns:] = 0.0
        g.append(gk)
    lbx, ubx, lbu, ubu, C, D, lg, ug = [], [], [], [], [], [], [], []
    soft = []
    for k in range(N + 1):
        lo = xs[k] - spread * rng.uniform(0.1, 1.0, nx)
        hi = xs[k] + spread * rng.uniform(0.1, 1.0, nx)
        free = rng.random(nx) < 0.3
        lo[free], hi[free] = -INF, INF
        lbx.append(lo)
        ubx.append(hi)
        if k < N:
            lbu.append(us[k] - spread * rng.uniform(0.1, 1.0, nu))
            ubu.append(us[k] + spread * rng.uniform(0.1, 1.0, nu))
        rows = ng + (terminal_rows if k == N else 0)
        Ck = rng.standard_normal((rows, nx))
        Dk = rng.standard_normal((rows, nu)) if k < N else np.zeros((rows, 0))
        value = Ck @ xs[k] + (Dk @ us[k] if k < N else 0.0)
        lgk = value - spread * rng.uniform(0.1, 1.0, rows)
        ugk = value + spread * rng.uniform(0.1, 1.0, rows)
        one_sided = rng.random(rows) < 0.5
        lgk[one_sided] = -INF
        C.append(Ck)
        D.append(Dk)
        lg.append(lgk)
        ug.append(ugk)
        soft.append(min(nsoft, ng))
    return StageQP(N=N, nx=nx, nv=nv, nu=nu, H=H, g=g, A=A, B=B, b=b, s0=s0, lbx=lbx,
                   ubx=ubx, lbu=lbu, ubu=ubu, C=C, D=D, lg=lg, ug=ug, nsoft=soft,
                   zl=[rng.uniform(0.5, 2.0, n) for n in soft],
                   zu=[rng.uniform(0.5, 2.0, n) for n in soft],
                   Zl=[rng.uniform(0.5, 2.0, n) for n in soft],
                   Zu=[rng.uniform(0.5, 2.0, n) for n in soft])


# ---------------------------------------------------------------------- the flat QP
class Flat:
    """The stage QP as one QP min 1/2 v'Hv + g'v s.t. lba <= A v <= uba, lbv <= v <= ubv over
    v = per stage (x, v, u, sl, su), with the index maps to read solutions back."""

    def __init__(self, qp):
        self.qp = qp
        N, nx, nu, ns, nz = qp.N, qp.nx, qp.nu, qp.ns, qp.nz
        self.off = []
        n = 0
        for k in range(N + 1):
            self.off.append(n)
            n += (nz if k < N else ns) + 2 * qp.nsoft[k]
        self.n = n
        H, g = np.zeros((n, n)), np.zeros(n)
        lbv, ubv = np.full(n, -INF), np.full(n, INF)
        rows, lba, uba, self.tag = [], [], [], []

        def row(coeffs, lo, hi, tag):
            r = np.zeros(n)
            for idx, c in coeffs:
                r[idx] += c
            rows.append(r)
            lba.append(lo)
            uba.append(hi)
            self.tag.append(tag)
        for k in range(N + 1):
            o, m = self.off[k], (nz if k < N else ns)
            H[o:o + m, o:o + m] = qp.H[k][:m, :m]
            g[o:o + m] = qp.g[k][:m]
            so = qp.nsoft[k]
            sl, su = o + m, o + m + so
            for j in range(so):
                H[sl + j, sl + j], g[sl + j] = qp.Zl[k][j], qp.zl[k][j]
                H[su + j, su + j], g[su + j] = qp.Zu[k][j], qp.zu[k][j]
                lbv[sl + j] = lbv[su + j] = 0.0
            if k > 0:
                lbv[o:o + nx], ubv[o:o + nx] = qp.lbx[k], qp.ubx[k]
            if k < N:
                lbv[o + ns:o + nz], ubv[o + ns:o + nz] = qp.lbu[k], qp.ubu[k]
            for r in range(qp.ng[k]):
                coeffs = [(o + i, qp.C[k][r, i]) for i in range(nx)]
                if k < N:
                    coeffs += [(o + ns + i, qp.D[k][r, i]) for i in range(nu)]
                if r < so:
                    row(coeffs + [(sl + r, 1.0)], qp.lg[k][r], INF, ('lg', k, r))
                    row(coeffs + [(su + r, -1.0)], -INF, qp.ug[k][r], ('ug', k, r))
                else:
                    row(coeffs, qp.lg[k][r], qp.ug[k][r], ('g', k, r))
        for i in range(ns):
            row([(i, 1.0)], qp.s0[i], qp.s0[i], ('y', 0, i))
        for k in range(N):
            o, o1 = self.off[k], self.off[k + 1]
            for i in range(nx):
                coeffs = [(o1 + i, 1.0)] + [(o + j, -qp.A[k][i, j]) for j in range(nx)]
                coeffs += [(o + ns + j, -qp.B[k][i, j]) for j in range(nu)]
                row(coeffs, qp.b[k][i], qp.b[k][i], ('y', k + 1, i))
            for i in range(qp.nv):
                row([(o1 + nx + i, 1.0), (o + ns + i, -1.0)], 0.0, 0.0, ('y', k + 1, nx + i))
        self.H, self.g, self.lbv, self.ubv = H, g, lbv, ubv
        self.A = np.array(rows)
        self.lba, self.uba = np.array(lba), np.array(uba)

    def solve(self, solver='qpoases', regularize=0.0):
        """(status ok, v, lam_a, lam_v, objective) from casadi.conic."""
        H = self.H + regularize * np.eye(self.n)
        prob = {'h': ca.DM(H).sparsity(), 'a': ca.DM(self.A).sparsity()}
        options = {'printLevel': 'none', 'error_on_fail': False} if solver == 'qpoases' else \
            {'error_on_fail': False}
        S = ca.conic('reference', solver, prob, options)
        out = S(h=H, g=self.g, a=self.A, lba=self.lba, uba=self.uba, lbx=self.lbv,
                ubx=self.ubv)
        v = np.asarray(out['x'], float).ravel()
        return (bool(S.stats()['success']), v, np.asarray(out['lam_a'], float).ravel(),
                np.asarray(out['lam_x'], float).ravel(), float(out['cost']))

    def pack(self, sol):
        """A layer solution as the flat vector v and multipliers (lam_a, lam_v)."""
        qp = self.qp
        v, lam_v = np.zeros(self.n), np.zeros(self.n)
        for k in range(qp.N + 1):
            o, m = self.off[k], (qp.nz if k < qp.N else qp.ns)
            v[o:o + m] = sol['z'][k][:m]
            so = qp.nsoft[k]
            v[o + m:o + m + so] = sol['sl'][k]
            v[o + m + so:o + m + 2 * so] = sol['su'][k]
            if k > 0:
                lam_v[o:o + qp.nx] = sol['lam_ux'][k] - sol['lam_lx'][k]
            if k < qp.N:
                lam_v[o + qp.ns:o + qp.nz] = sol['lam_uu'][k] - sol['lam_lu'][k]
        lam_a = np.zeros(len(self.tag))
        for i, (kind, k, r) in enumerate(self.tag):
            if kind == 'y':
                lam_a[i] = sol['y'][k][r]
            elif kind == 'g':
                lam_a[i] = sol['lam_ug'][k][r] - sol['lam_lg'][k][r]
            elif kind == 'lg':
                lam_a[i] = -sol['lam_lg'][k][r]
            else:
                lam_a[i] = sol['lam_ug'][k][r]
        # slack bounds (s >= 0) carry the rest of the slacks' stationarity
        grad = self.H @ v + self.g + self.A.T @ lam_a
        for k in range(qp.N + 1):
            o = self.off[k] + (qp.nz if k < qp.N else qp.ns)
            for j in range(2 * qp.nsoft[k]):
                lam_v[o + j] = -grad[o + j]
        return v, lam_a, lam_v

    def objective(self, v):
        return float(0.5 * v @ self.H @ v + self.g @ v)

    def kkt(self, v, lam_a, lam_v):
        """Largest violation of the KKT conditions (CasADi's sign convention)."""
        stat = self.H @ v + self.g + self.A.T @ lam_a + lam_v
        a = self.A @ v
        primal = max(np.max(np.maximum(self.lba - a, 0)), np.max(np.maximum(a - self.uba, 0)),
                     np.max(np.maximum(self.lbv - v, 0)), np.max(np.maximum(v - self.ubv, 0)))
        comp = 0.0
        for val, lo, hi, lam in ((a, self.lba, self.uba, lam_a), (v, self.lbv, self.ubv, lam_v)):
            # a positive multiplier needs the upper bound active, a negative one the lower;
            # at an infinite bound the multiplier itself is the violation
            up = np.where(lam > 0, lam * np.where(np.isfinite(hi), hi - val, 1.0), 0.0)
            down = np.where(lam < 0, -lam * np.where(np.isfinite(lo), val - lo, 1.0), 0.0)
            comp = max(comp, np.max(np.abs(up), initial=0.0), np.max(np.abs(down), initial=0.0))
        return max(np.max(np.abs(stat)), primal, comp)
