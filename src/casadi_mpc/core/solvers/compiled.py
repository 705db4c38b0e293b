"""Compiled solvers: generated C built with the system compiler, cached on disk.

The cache key is a hash of everything that fixes the generated code (the problem's expressions,
the parameter layout, the kernel source, the CasADi version and the compiler flags), so changing
weights, goals, bounds or iteration limits (all parameters or run-time arguments) always hits
the cache. A hit loads the shared library and builds nothing.
"""
import ctypes
import logging
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)
COMPILER = os.environ.get('CC', 'gcc')
FLAGS = ['-fPIC', '-fno-math-errno']
# optimization by C file size: -O3 for the kernel and small generated files (about 20 % faster
# than -O2), -O1 for huge straight-line generated code (nearly as fast at run time, compiles
# several times faster)
SMALL_SOURCE = 500_000
LARGE_SOURCE = 2_000_000
HEARTBEAT = 10.0   # [s] between progress messages while the compiler runs
# how an RTI feedback got its QP solution (kernel.c FB_*)
PATHS = {0: 'solve', 1: 'prepared', 2: 'predictor', 3: 'continued', 4: 'fallback'}


def cache_dir(configured=''):
    root = configured or os.environ.get('CASADI_MPC_CACHE') or os.path.join(
        os.environ.get('XDG_CACHE_HOME', os.path.expanduser('~/.cache')), 'casadi_mpc')
    path = Path(root)
    path.mkdir(parents=True, exist_ok=True)
    return path


class Counter:
    """Counts builds, so tests can prove that tuning never rebuilds."""

    builds = 0


def library_path(key, directory=''):
    return cache_dir(directory) / ('mpc_%s.so' % key)


def build_library(sources, key, directory='', progress=None):
    """Return (path, built): the cached library for ``key``, compiling it if missing.

    ``sources`` is a callable writing the C files into a directory and returning their paths;
    it is only called on a cache miss.
    """
    say = progress or log.info
    path = library_path(key, directory)
    if path.exists():
        return path, False
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix='casadi_mpc_build_') as tmp:
        say('generating C (cache key %s)' % key)
        files = sources(Path(tmp))
        jobs = []
        for source in files:
            size = os.path.getsize(source)
            level = ['-O1' if size > LARGE_SOURCE else '-O2' if size > SMALL_SOURCE else '-O3']
            obj = source[:-2] + '.o'
            cmd = [COMPILER, *FLAGS, *level, '-c', source, '-o', obj]
            say('compiling %s (%.0f kB)' % (os.path.basename(source), size / 1024))
            with open(obj + '.log', 'w') as messages:   # a file: a full pipe would block
                try:
                    proc = subprocess.Popen(cmd, stdout=messages, stderr=subprocess.STDOUT)
                except OSError as err:
                    for other, _, _ in jobs:
                        other.kill()
                    raise RuntimeError('compiled solvers need a C compiler: cannot run %r (%s); '
                                       'install gcc or set CC' % (COMPILER, err)) from None
                jobs.append((proc, obj, source))
        _wait(jobs, say, started)
        built = os.path.join(tmp, 'out.so')
        subprocess.run([COMPILER, '-shared', *[obj for _, obj, _ in jobs], '-o', built, '-lm'],
                       check=True, capture_output=True, text=True)
        partial = path.with_suffix('.so.%d' % os.getpid())
        shutil.copyfile(built, partial)
        os.replace(partial, path)   # atomic: concurrent builders never load a half file
    Counter.builds += 1
    say('built %s in %.1f s' % (path.name, time.monotonic() - started))
    return path, True


def _wait(jobs, say, started):
    pending = list(jobs)
    last = time.monotonic()
    while pending:
        time.sleep(0.05)
        for job in list(pending):
            proc, _, source = job
            if proc.poll() is None:
                continue
            pending.remove(job)
            if proc.returncode:
                with open(job[1] + '.log') as messages:
                    err = messages.read()
                for other, _, _ in pending:
                    other.kill()
                raise RuntimeError('compiling %s failed: %s' % (source, err[-2000:]))
        if pending and time.monotonic() - last >= HEARTBEAT:
            last = time.monotonic()
            say('still compiling %s (%.0f s)' % (
                ', '.join(os.path.basename(s) for _, _, s in pending), last - started))


class Kernel:
    """ctypes binding of one compiled kernel library; one workspace per instance."""

    def __init__(self, path, nw, np_, nt):
        lib = ctypes.CDLL(str(path))
        vp, dp = ctypes.c_void_p, ctypes.c_void_p
        lib.cmpc_create.restype = vp
        lib.cmpc_free.argtypes = [vp]
        lib.cmpc_dims.argtypes = [vp]
        lib.cmpc_settings.argtypes = [vp, dp]
        lib.cmpc_set_guess.argtypes = [vp, dp]
        lib.cmpc_prepare.argtypes = [vp, dp]
        lib.cmpc_prep_stats.argtypes = [vp, dp]
        lib.cmpc_prep_stats.restype = ctypes.c_int
        lib.cmpc_costs.argtypes = [vp, dp, dp]
        lib.cmpc_solve.argtypes = [vp, dp, dp, dp, dp, dp, dp]
        lib.cmpc_solve.restype = ctypes.c_int
        dims = np.zeros(8, dtype=np.int32)
        lib.cmpc_dims(dims.ctypes.data)
        if dims[5] != nw or dims[4] != np_ or dims[6] != nt:
            raise RuntimeError('compiled kernel %s does not match the problem' % path)
        self.lib = lib
        self.ws = lib.cmpc_create()
        self.out = np.zeros(nw + 7 + nt)
        self._prep = np.zeros(4)
        self.nw = nw
        # inputs are copied into fixed buffers: their addresses are computed once
        ng = (dims[3] + 2) * dims[0]
        self.buffers = [np.zeros(n) for n in (np_, nw, nw, ng, ng)]
        self._args = [self.ws] + [b.ctypes.data for b in self.buffers] + [self.out.ctypes.data]
        self._costs_args = [self.ws, self.buffers[0].ctypes.data, self.out.ctypes.data]
        self._solve = lib.cmpc_solve
        self._costs = lib.cmpc_costs
        self._free = lib.cmpc_free

    def settings(self, max_iter, tol_pr, tol_du, time_limit, rti, shift, qp_tol=1e-10,
                 qp_max_iter=50, reg=0.0, verbose=0, exact=1, mu0=1.0, t0=1.0, warm=1,
                 wfloor=1e-3, advanced=1):
        v = np.array([max_iter, tol_pr, tol_du, time_limit, rti, shift, qp_tol, qp_max_iter,
                      reg, verbose, exact, mu0, t0, warm, wfloor, advanced], dtype=float)
        self.lib.cmpc_settings(self.ws, v.ctypes.data)

    def set_guess(self, w0):
        w0 = np.ascontiguousarray(w0, dtype=float)
        self.lib.cmpc_set_guess(self.ws, w0.ctypes.data)

    def prepare(self, p):
        p = np.ascontiguousarray(p, dtype=float)
        self.lib.cmpc_prepare(self.ws, p.ctypes.data)

    def prep_stats(self):
        """Statistics of the last prepare and feedback (RTI): a dict with ``prep_qp_iter``
        (IP iterations of the QP solved for the predicted state in ``prepare``), ``prep_status``
        (0 solved, -1 no QP prepared, else the IP's failure code), ``path`` (how the last solve
        got its QP solution: 'solve' without a prepared QP, 'prepared' when the state was the
        predicted one, 'predictor' for the correction step alone, 'continued' when IP iterations
        followed it, 'fallback' for the ordinary warm-started solve) and ``dx0`` (max
        difference of the state from the predicted one)."""
        self.lib.cmpc_prep_stats(self.ws, self._prep.ctypes.data)
        v = self._prep
        return {'prep_qp_iter': int(v[0]), 'prep_status': int(v[1]),
                'path': PATHS.get(int(v[2]), 'solve'), 'dx0': float(v[3])}

    def load(self, p, lbw, ubw, lbg, ubg):
        """Copy the solve's inputs into the kernel's buffers."""
        for buf, value in zip(self.buffers, (p, lbw, ubw, lbg, ubg)):
            np.copyto(buf, value)

    def solve(self):
        """Run the kernel on the loaded inputs; ``self.out`` = w, f, status, iterations, pr,
        du, QP iterations (of this call only, not of a prepare before it), seconds, cost per
        term, where f and the cost per term are stale until ``costs()``. Returns the status
        code."""
        return self._solve(*self._args)

    def costs(self):
        """Fill f and the cost per term of ``self.out`` for the last solve's solution and
        parameters (kept apart from ``solve``: not part of the solver's time)."""
        self._costs(*self._costs_args)

    def __del__(self):
        ws, self.ws = getattr(self, 'ws', None), None
        if ws:
            self._free(ws)
