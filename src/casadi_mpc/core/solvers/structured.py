"""The structured SQP kernel: stage-wise QP data as generated C, the SQP loop in C (kernel.c),
each QP solved by HPIPM (stage_qp.c).

This module turns an OCP into C sources: it checks that the transcription has the stage
structure the kernel assumes, generates the CasADi functions the kernel calls (one stage's
dynamics and its Jacobians, called N times; objective derivatives; cost per term), and writes a
header with the interface structs (interface.py), the dimensions and the table that scatters
Hessian nonzeros into stage blocks.
"""
import hashlib
from pathlib import Path

import casadi as ca
import numpy as np

from . import compiled, interface
from .. import integrators
from ..integrators import rhs_jacobian, rk4_step_jacobian

PREFIX = 'cmpc_'
HERE = Path(__file__).parent
KERNEL = HERE / 'kernel.c'   # shipped as package data, with the QP layer:
QP_SOURCES = (HERE / 'stage_qp.c', HERE / 'stage_qp.h')
# largest stage function (operations) for which the converged mode uses the exact Hessian of the
# Lagrangian (quadratic convergence) rather than Gauss-Newton (linear)
CURVATURE_LIMIT = 40000


class StructureError(ValueError):
    """The problem does not have the stage structure the kernel exploits."""


def _var(ocp, j):
    """(stage, 'x' or 'u', index) of decision variable j."""
    m = ocp.model
    k, r = divmod(j, m.nx + m.nu)
    return (k, 'x', r) if r < m.nx else (k, 'u', r - m.nx)


def hessian_layout(ocp, hess):
    """Scatter table of the lower-triangular Hessian nonzeros into stage blocks.

    Returns (nv, dst, dst2): nv = nu when the cost couples u_{k-1} with (x_k, u_k), else 0;
    dst/dst2 = flat positions in the (N+1) column-major NZ x NZ stage blocks (dst2 the mirror,
    -1 on the diagonal).
    """
    m = ocp.model
    nx, nu = m.nx, m.nu
    rows, cols = hess.sparsity().get_triplet()
    pairs = []
    coupled = False
    for r, c in zip(rows, cols):
        a, b = _var(ocp, r), _var(ocp, c)
        if a[0] < b[0]:
            a, b = b, a
        if a[0] == b[0]:
            pairs.append((a, b, False))
        elif a[0] == b[0] + 1 and b[1] == 'u':
            coupled = True
            pairs.append((a, b, True))
        else:
            raise StructureError('the cost couples %s%d of stage %d with %s%d of stage %d; the '
                                 'structured solver handles couplings of u_{k-1} with stage k '
                                 'only' % (a[1], a[2], a[0], b[1], b[2], b[0]))
    nv = nu if coupled else 0
    ns = nx + nv
    nz = ns + nu
    dst, dst2 = [], []
    for a, b, cross in pairs:
        k = a[0]

        def pos(v, as_previous):
            if as_previous:
                return nx + v[2]               # u_{k-1} lives in v_k
            return v[2] if v[1] == 'x' else ns + v[2]
        i, j = pos(a, False), pos(b, cross)
        base = k * nz * nz
        dst.append(base + j * nz + i)
        dst2.append(base + i * nz + j if i != j else -1)
    return nv, dst, dst2


def _check_transcription(ocp):
    """Verify numerically that ocp.g has the layout the kernel rebuilds from the step F."""
    m, N = ocp.model, ocp.N
    rng = np.random.default_rng(1)
    w = rng.uniform(-1, 1, ocp.nw)
    p = rng.uniform(0.5, 1.5, ocp.n_p)
    g = np.asarray(ca.Function('g', [ocp.w, ocp.p], [ocp.g])(w, p), float).ravel()
    xs, us = ocp.unpack(w)
    pm = p[ocp.blocks['model'].slice]
    rebuilt = []
    for k in range(N):
        rebuilt.append(xs[k + 1] - np.asarray(ocp.step(xs[k], us[k], pm), float).ravel())
        if k == 0:
            rebuilt.append(xs[0] - p[ocp.blocks['x0'].slice])
    rebuilt = np.concatenate(rebuilt)
    n = rebuilt.size
    if g.size != n + m.nx or not np.allclose(g[:n], rebuilt, rtol=1e-9, atol=1e-9):
        raise StructureError('the transcription does not have the gap/initial-value layout the '
                             'structured solver expects')


def curvature_function(ocp, limit=CURVATURE_LIMIT):
    """(x, u, p, nu) -> (x+, A, B, d2(nu' x+)/d(x, u)2), or None when it would exceed ``limit``
    operations: the exact Hessian of the Lagrangian then is not worth its evaluation."""
    m = ocp.model
    x, u = ca.SX.sym('x', m.nx), ca.SX.sym('u', m.nu)
    p, lam = ca.SX.sym('p', m.n_params), ca.SX.sym('nu', m.nx)
    xf = ocp.step(x, u, p)
    z = ca.vertcat(x, u)
    if 30 * ocp.step.n_instructions() > 4 * limit:
        return None     # a cheap early estimate: forward over reverse costs ~20x the step
    jac = ca.densify(ca.jacobian(xf, z))
    hess = ca.densify(ca.hessian(ca.dot(lam, xf), z)[0])
    fn = ca.Function(PREFIX + 'dynh', [x, u, p, lam], [xf, jac[:, :m.nx], jac[:, m.nx:], hess],
                     {'cse': True})
    return fn if fn.n_instructions() <= limit else None


class KernelSource:
    """The C sources of one problem's kernel and the facts the Python side needs."""

    def __init__(self, ocp, say=None):
        say = say or (lambda msg: None)
        m, N = ocp.model, ocp.N
        self.ocp = ocp
        self.nx, self.nu, self.N = m.nx, m.nu, N
        self.nw, self.np, self.nt = ocp.nw, ocp.n_p, len(ocp.terms)
        _check_transcription(ocp)
        w, p = ocp.w, ocp.p
        hess = ca.tril(ocp.gauss_newton_hessian())
        self.nv, dst, dst2 = hessian_layout(ocp, hess)
        xN = w[ocp.x_index[N].tolist()]
        gT = ocp.g[ocp.ng - m.nx:]
        dyn = rk4_step_jacobian(m, ocp.dt, ocp.substeps, name=PREFIX + 'dyn')
        dyn0 = ca.Function(PREFIX + 'dyn0', ocp.step.sx_in(), ocp.step.call(ocp.step.sx_in()))
        dynh = curvature_function(ocp)
        self.exact = dynh is not None
        grad = ca.densify(ca.gradient(ocp.f, w))
        obj = ca.Function(PREFIX + 'obj', [w, p],
                          [ocp.f, grad, hess, gT, ca.densify(ca.jacobian(gT, xN))],
                          {'cse': True})
        obj0 = ca.Function(PREFIX + 'obj0', [w, p], [ocp.f, gT], {'cse': True})
        terms = ca.Function(PREFIX + 'terms', [w, p], [ocp.f, ocp.term_costs(w, p)],
                            {'cse': True})
        self.functions = {'dyn': [dyn, dyn0] + ([dynh] if dynh is not None else []),
                          'cost': [obj, obj0, terms]}
        if dyn.is_a('SXFunction'):
            ops = 'one %d-op function' % dyn.n_instructions()
        else:
            ops = '%d calls of a %d-op right-hand-side Jacobian' % (
                4 * ocp.substeps, rhs_jacobian(m).n_instructions())
        say('stage functions: dynamics and Jacobians %s%s; objective derivatives %d ops '
            '(N = %d, nx = %d, nu = %d%s)' % (
                ops, ', exact Hessian %d ops' % dynh.n_instructions() if dynh else '',
                obj.n_instructions(), N, m.nx, m.nu,
                ', inputs coupled across stages' if self.nv else ''))
        fns = [f for fs in self.functions.values() for f in fs]
        blocks = ocp.blocks
        defines = {
            'NX': m.nx, 'NU': m.nu, 'NV': self.nv, 'N': N, 'NP': ocp.n_p,
            'PM0': blocks['model'].start, 'X0OFF': blocks['x0'].start, 'NT': self.nt,
            'NHNZ': len(dst), 'NGT': m.nx, 'EXACT': int(self.exact),
            'CA_ARG': max(f.sz_arg() for f in fns), 'CA_RES': max(f.sz_res() for f in fns),
            'CA_IW': max(f.sz_iw() for f in fns), 'CA_W': max(f.sz_w() for f in fns),
        }
        # the QP layer's declarations come before the dimension macros (N, NX, ...)
        lines = ['#include "stage_qp.h"', interface.header(),
                 '/* structured SQP kernel: problem definitions */']
        lines += ['#define %s %d' % kv for kv in defines.items()]
        lines.append(_table('HDST', dst))
        lines.append(_table('HDST2', dst2))
        for f in fns:
            lines.append('int %s(const double **arg, double **res, long long *iw, double *w, '
                         'int mem);' % f.name())
        self.header = '\n'.join(lines) + '\n'
        self.kernel = self.header + KERNEL.read_text()

    @property
    def dims(self):
        return {'nw': self.nw, 'ng': self.ocp.ng, 'np': self.np, 'nt': self.nt}

    def generate(self, directory):
        """Write the C files into ``directory``; returns their paths, largest first."""
        opts = {'with_header': False, 'casadi_real': 'double', 'casadi_int': 'long long int'}
        paths = []
        for part, fns in self.functions.items():
            cg = ca.CodeGenerator(PREFIX + part + '.c', opts)
            for f in fns:
                cg.add(f)
            cg.generate(str(directory) + '/')
            paths.append(str(directory) + '/' + PREFIX + part + '.c')
        kernel = str(directory) + '/' + PREFIX + 'kernel.c'
        with open(kernel, 'w') as out:
            out.write(self.kernel)
        paths.append(kernel)
        for source in QP_SOURCES:
            copy = Path(directory) / source.name
            copy.write_text(source.read_text())
            if copy.suffix == '.c':
                paths.append(str(copy))
        return paths


def _table(name, values):
    body = ', '.join(str(int(v)) for v in values) or '0'
    return 'static const int %s[%d] = {%s};' % (name, max(1, len(values)), body)


def structure_digest(ocp, extra=''):
    """Hash of everything that fixes a kernel's code, cheap enough for every construction.

    The step function, the objective, its Gauss-Newton Hessian and the terminal constraint as
    functions of (w, p), the parameter layout, the CasADi version and the sources of the code
    generators; weights, goals, bounds and limits are run-time values and do not enter.
    """
    m = ocp.model
    digest = hashlib.sha256()
    cost = ca.Function('c', [ocp.w, ocp.p], [ocp.f, ocp.g[ocp.ng - m.nx:],
                                             ca.tril(ocp.gauss_newton_hessian())])
    layout = sorted((b.name, b.start, b.size) for b in ocp.blocks.values())
    generators = [f.read_text() for f in (KERNEL, *QP_SOURCES)]
    generators += [Path(mod.__file__).read_text() for mod in (integrators, interface, compiled)]
    generators.append(Path(__file__).read_text())
    generators.append(repr(compiled.hpipm()))
    for part in (ca.__version__, *generators, repr(layout),
                 repr((ocp.N, ocp.dt, ocp.substeps, m.nx, m.nu)), ocp.step.serialize(),
                 cost.serialize(), extra):
        digest.update(part.encode())
    return digest.hexdigest()[:20]
