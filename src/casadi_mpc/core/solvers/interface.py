"""The compiled kernel's C interface, declared once: C structs for the generated header and
the matching ctypes structures, so settings, statistics and buffers cross by name, never by
position.

Each struct is a list of (field, type, meaning); ``header()`` writes the C typedefs and
``Struct`` builds the ctypes class, both from that list. The kernel reports the sizes of its
structs (``cmpc_dims``), and ``Library`` refuses a library whose sizes differ.
"""
import ctypes

import numpy as np

C_TYPES = {'int': ('int', ctypes.c_int), 'double': ('double', ctypes.c_double),
           'in': ('const double *', ctypes.POINTER(ctypes.c_double)),
           'out': ('double *', ctypes.POINTER(ctypes.c_double))}

SETTINGS = (
    ('max_iter', 'int', 'SQP iterations per solve (converged mode)'),
    ('rti', 'int', 'one SQP step per solve from the last iterate (real-time iteration)'),
    ('shift', 'int', 'after a solve, shift the solution one stage as the next warm start'),
    ('exact', 'int', 'exact Hessian of the Lagrangian where generated (converged mode)'),
    ('advanced', 'int', 'RTI: prepare also solves the QP for the predicted state'),
    ('warm', 'int', 'hot-start each QP from the last QP multipliers'),
    ('verbose', 'int', 'print iterations to stderr (1 SQP, 2 also QP status)'),
    ('qp_max_iter', 'int', 'interior-point iterations per QP attempt'),
    ('as_max_iter', 'int', 'advanced step: interior-point iterations after the predictor'),
    ('tol_pr', 'double', 'primal feasibility tolerance of the NLP'),
    ('tol_du', 'double', 'stationarity tolerance of the NLP'),
    ('time_limit', 'double', 'wall time per solve [s], checked per SQP iteration'),
    ('qp_tol', 'double', 'QP residual tolerance'),
    ('wfloor', 'double', 'floor of slacks and multipliers at a hot start'),
    ('mu0', 'double', 'initial barrier parameter of a cold QP start'),
)

STATS = (
    ('status', 'int', 'STATUS code of the solve'),
    ('iter', 'int', 'SQP iterations'),
    ('qp_iter', 'int', 'interior-point iterations of this solve (not of a prepare before it)'),
    ('prep_qp_iter', 'int', 'interior-point iterations of the last prepare'),
    ('prep_status', 'int', 'last prepare: 0 solved, -1 no QP prepared, else the QP result'),
    ('path', 'int', 'PATHS code: how the last RTI feedback got its QP solution'),
    ('ls_backtracks', 'int', 'line-search step halvings'),
    ('hess_fallbacks', 'int', 'iterations whose exact Hessian was not convex (Gauss-Newton)'),
    ('regularized', 'int', 'QP re-solves with a shifted Hessian (singular reduced Hessian)'),
    ('cold_retries', 'int', 'QP re-solves from a cold start after a failed hot start'),
    ('robust_retries', 'int', "QP re-solves in HPIPM's robust mode after a failed cold start"),
    ('f', 'double', 'objective at the solution (filled by cmpc_costs)'),
    ('pr', 'double', 'constraint violation at the last linearization'),
    ('du', 'double', 'stationarity at the last linearization'),
    ('seconds', 'double', 'wall time inside the solve [s]'),
    ('dx0', 'double', 'RTI feedback: largest difference of the state from the predicted one'),
)

IO = (
    ('p', 'in', 'parameters (np)'),
    ('lbw', 'in', 'lower bounds of w (nw)'),
    ('ubw', 'in', 'upper bounds of w (nw)'),
    ('lbg', 'in', 'lower bounds of g (ng)'),
    ('ubg', 'in', 'upper bounds of g (ng)'),
    ('w', 'out', 'solution (nw)'),
    ('lam_g', 'out', 'multipliers of g (ng), CasADi nlpsol convention'),
    ('lam_x', 'out', 'multipliers of the bounds of w (nw), CasADi nlpsol convention'),
)

DIMS = (
    ('nx', 'int', 'states'), ('nu', 'int', 'inputs'), ('nv', 'int', 'remembered inputs'),
    ('horizon', 'int', 'shooting intervals'), ('np', 'int', 'parameters'),
    ('nw', 'int', 'decision variables'), ('ng', 'int', 'constraints'),
    ('nt', 'int', 'cost terms'),
    ('settings_size', 'int', 'sizeof(cmpc_settings_t)'),
    ('stats_size', 'int', 'sizeof(cmpc_stats_t)'), ('io_size', 'int', 'sizeof(cmpc_io_t)'),
)

STRUCTS = {'settings': SETTINGS, 'stats': STATS, 'io': IO, 'dims': DIMS}

# kernel status codes, the meaning of STATS.status
STATUS = {0: 'optimal', 1: 'max_iter', 2: 'timeout', 3: 'infeasible', 4: 'error', 5: 'rti'}
# how an RTI feedback got its QP solution (STATS.path)
PATHS = {0: 'solve', 1: 'prepared', 2: 'predictor', 3: 'continued', 4: 'fallback'}


# the kernel's functions (kernel.c defines them)
FUNCTIONS = (
    'void *cmpc_create(void)',
    'void cmpc_free(void *ws)',
    'void cmpc_dims(cmpc_dims_t *dims)',
    'void cmpc_settings(void *ws, const cmpc_settings_t *settings)',
    'void cmpc_set_guess(void *ws, const double *w0)',
    'void cmpc_prepare(void *ws, const double *p, cmpc_stats_t *stats)',
    'int cmpc_solve(void *ws, const cmpc_io_t *io, cmpc_stats_t *stats)',
    'void cmpc_costs(void *ws, const double *p, const double *w, cmpc_stats_t *stats, '
    'double *terms)',
)


def header():
    """The C typedefs (cmpc_<name>_t), the status and path codes and the kernel's functions."""
    lines = ['/* compiled kernel interface (generated from interface.py) */',
             '#ifndef CMPC_INTERFACE_H', '#define CMPC_INTERFACE_H']
    for name, fields in STRUCTS.items():
        lines.append('typedef struct {')
        for field, kind, meaning in fields:
            lines.append('    %s %s;   /* %s */' % (C_TYPES[kind][0], field, meaning))
        lines.append('} cmpc_%s_t;' % name)
    lines.append('enum { %s };' % ', '.join(
        'ST_%s = %d' % (v.upper(), k) for k, v in STATUS.items()))
    lines.append('enum { %s };' % ', '.join(
        'FB_%s = %d' % (v.upper(), k) for k, v in PATHS.items()))
    lines += ['%s;' % f for f in FUNCTIONS]
    lines.append('#endif')
    return '\n'.join(lines) + '\n'


def _struct(name, fields):
    return type(name, (ctypes.Structure,), {
        '_fields_': [(f, C_TYPES[kind][1]) for f, kind, _ in fields],
        '__doc__': 'cmpc_%s_t' % name.lower()})


Settings = _struct('Settings', SETTINGS)
Stats = _struct('Stats', STATS)
IOBuffers = _struct('IOBuffers', IO)
Dims = _struct('Dims', DIMS)


def as_dict(struct):
    """A ctypes structure's fields by name."""
    return {name: getattr(struct, name) for name, _ in struct._fields_}


class Library:
    """ctypes binding of one compiled kernel library; one workspace per instance.

    Inputs are copied into buffers owned here (their addresses are fixed once), outputs are read
    from numpy arrays that the kernel writes into.
    """

    def __init__(self, path, nw, ng, np_, nt):
        lib = ctypes.CDLL(str(path))
        vp = ctypes.c_void_p
        lib.cmpc_create.restype = vp
        lib.cmpc_free.argtypes = [vp]
        lib.cmpc_dims.argtypes = [ctypes.POINTER(Dims)]
        lib.cmpc_settings.argtypes = [vp, ctypes.POINTER(Settings)]
        lib.cmpc_set_guess.argtypes = [vp, vp]
        lib.cmpc_prepare.argtypes = [vp, vp, ctypes.POINTER(Stats)]
        lib.cmpc_solve.argtypes = [vp, ctypes.POINTER(IOBuffers), ctypes.POINTER(Stats)]
        lib.cmpc_solve.restype = ctypes.c_int
        lib.cmpc_costs.argtypes = [vp, vp, vp, ctypes.POINTER(Stats), vp]
        dims = Dims()
        lib.cmpc_dims(ctypes.byref(dims))
        expected = {'nw': nw, 'ng': ng, 'np': np_, 'nt': nt,
                    'settings_size': ctypes.sizeof(Settings),
                    'stats_size': ctypes.sizeof(Stats), 'io_size': ctypes.sizeof(IOBuffers)}
        wrong = {k: (getattr(dims, k), v) for k, v in expected.items() if getattr(dims, k) != v}
        if wrong:
            raise RuntimeError('compiled kernel %s does not match the problem: %s' % (path, wrong))
        self.lib, self.dims = lib, dims
        self.ws = lib.cmpc_create()
        if not self.ws:
            raise RuntimeError('compiled kernel %s: out of memory' % path)
        self.stats = Stats()
        self.inputs = {name: np.zeros(n) for name, n in
                       (('p', np_), ('lbw', nw), ('ubw', nw), ('lbg', ng), ('ubg', ng))}
        self.outputs = {name: np.zeros(n) for name, n in
                        (('w', nw), ('lam_g', ng), ('lam_x', nw))}
        self.terms = np.zeros(max(nt, 1))
        buffers = dict(self.inputs, **self.outputs)
        self.io = IOBuffers(**{name: buffers[name].ctypes.data_as(C_TYPES[kind][1])
                               for name, kind, _ in IO})
        self._solve_args = (self.ws, ctypes.byref(self.io), ctypes.byref(self.stats))
        self._free = lib.cmpc_free

    def settings(self, settings):
        self.lib.cmpc_settings(self.ws, ctypes.byref(settings))

    def set_guess(self, w0):
        w0 = np.ascontiguousarray(w0, dtype=float)
        self.lib.cmpc_set_guess(self.ws, w0.ctypes.data)

    def prepare(self, p):
        """Prepare the next solve for parameters ``p``; returns the prepare's figures."""
        p = np.ascontiguousarray(p, dtype=float)
        self.lib.cmpc_prepare(self.ws, p.ctypes.data, ctypes.byref(self.stats))
        return {'prep_qp_iter': self.stats.prep_qp_iter, 'prep_status': self.stats.prep_status}

    def load(self, p, lbw, ubw, lbg, ubg):
        """Copy a solve's inputs into the kernel's buffers."""
        for name, value in zip(('p', 'lbw', 'ubw', 'lbg', 'ubg'), (p, lbw, ubw, lbg, ubg)):
            np.copyto(self.inputs[name], value)

    def solve(self):
        """Run the kernel on the loaded inputs; returns the status code, ``stats`` and the
        output arrays hold the rest."""
        return self.lib.cmpc_solve(*self._solve_args)

    def costs(self):
        """The objective (into ``stats.f``) and the cost per term (``terms``) at the last
        solution for the loaded parameters: kept apart from ``solve``, off the solver's time."""
        self.lib.cmpc_costs(self.ws, self.inputs['p'].ctypes.data,
                            self.outputs['w'].ctypes.data, ctypes.byref(self.stats),
                            self.terms.ctypes.data)

    def __del__(self):
        ws, self.ws = getattr(self, 'ws', None), None
        if ws:
            self._free(ws)
