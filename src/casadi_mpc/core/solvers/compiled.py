"""Compiled solvers: CasADi C code generation built with the system compiler, cached on disk.

The cache key is a hash of everything that fixes the generated code (the problem's expressions,
the solver and its options, the CasADi version), so changing weights, goals or bounds (all
parameters or solve-time arguments) always hits the cache.
"""
import hashlib
import logging
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import casadi as ca

log = logging.getLogger(__name__)
COMPILER = os.environ.get('CC', 'gcc')
FLAGS = ['-O2', '-fPIC', '-shared', '-fno-math-errno']


def cache_dir(configured=''):
    root = configured or os.environ.get('CASADI_MPC_CACHE') or os.path.join(
        os.environ.get('XDG_CACHE_HOME', os.path.expanduser('~/.cache')), 'casadi_mpc')
    path = Path(root)
    path.mkdir(parents=True, exist_ok=True)
    return path


def structure_key(ocp, name, options):
    nlp = ca.Function('nlp', [ocp.w, ocp.p], [ocp.f, ocp.g])
    digest = hashlib.sha256()
    plain = sorted((k, repr(v)) for k, v in options.items() if not isinstance(v, ca.Function))
    functions = [v.serialize() for _, v in sorted(options.items())
                 if isinstance(v, ca.Function)]
    for part in (ca.__version__, name, repr(plain), nlp.serialize(), *functions,
                 ' '.join(FLAGS)):
        digest.update(part.encode())
    return digest.hexdigest()[:20]


class Counter:
    """Counts builds, so tests can prove that tuning never rebuilds."""

    builds = 0


def compile_solver(solver, key, directory='', progress=None):
    """Return (external Function, built) for ``solver``, building it unless cached."""
    say = progress or log.info
    path = cache_dir(directory) / ('mpc_%s.so' % key)
    if path.exists():
        return ca.external(solver.name(), str(path)), False
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix='casadi_mpc_build_') as tmp:
        source = os.path.join(tmp, 'mpc_%s.c' % key)
        say('generating C for %s (cache key %s)' % (solver.name(), key))
        cwd = os.getcwd()
        try:
            os.chdir(tmp)
            solver.generate(os.path.basename(source), {'with_header': False})
        finally:
            os.chdir(cwd)
        size_kb = os.path.getsize(source) / 1024
        say('compiling %.0f kB of C with %s %s' % (size_kb, COMPILER, ' '.join(FLAGS)))
        built = os.path.join(tmp, 'out.so')
        subprocess.run([COMPILER, *FLAGS, source, '-o', built, '-lm'], check=True,
                       capture_output=True, text=True)
        partial = path.with_suffix('.so.%d' % os.getpid())
        shutil.copyfile(built, partial)
        os.replace(partial, path)   # atomic: concurrent builders never load a half file
    Counter.builds += 1
    say('built %s in %.1f s' % (path.name, time.monotonic() - started))
    return ca.external(solver.name(), str(path)), True
