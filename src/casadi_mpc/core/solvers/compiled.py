"""Compiled solvers: generated C built with the system compiler, cached on disk.

The cache key is a hash of everything that fixes the generated code (the problem's expressions,
the parameter layout, the kernel source, the CasADi version and the compiler flags), so changing
weights, goals, bounds or iteration limits (all parameters or run-time arguments) always hits
the cache. A hit loads the shared library and builds nothing.

The QPs go to HPIPM, which the casadi wheel ships (libhpipm, libblasfeo and their headers): the
include and library paths come from the installed casadi package.
"""
import logging
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import casadi

log = logging.getLogger(__name__)
COMPILER = os.environ.get('CC', 'gcc')
FLAGS = ['-fPIC', '-fno-math-errno']
# optimization by C file size: -O3 for the kernel and small generated files (about 20 % faster
# than -O2), -O1 for huge straight-line generated code (nearly as fast at run time, compiles
# several times faster)
SMALL_SOURCE = 500_000
LARGE_SOURCE = 2_000_000
HEARTBEAT = 10.0   # [s] between progress messages while the compiler runs


def cache_dir(configured=''):
    root = configured or os.environ.get('CASADI_MPC_CACHE') or os.path.join(
        os.environ.get('XDG_CACHE_HOME', os.path.expanduser('~/.cache')), 'casadi_mpc')
    path = Path(root)
    path.mkdir(parents=True, exist_ok=True)
    return path


def hpipm():
    """(compile flags, link flags) for HPIPM and BLASFEO from the installed casadi package."""
    root = Path(casadi.__file__).resolve().parent
    include = root / 'include'
    missing = [str(f) for f in (include / 'hpipm_d_ocp_qp_ipm.h', include / 'blasfeo.h')
               if not f.exists()]
    missing += [str(root / lib) for lib in ('libhpipm.so', 'libblasfeo.so')
                if not (root / lib).exists()]
    if missing:
        raise RuntimeError('compiled solvers need HPIPM from the casadi wheel; missing: %s'
                           % ', '.join(missing))
    return (['-I%s' % include],
            ['-L%s' % root, '-lhpipm', '-lblasfeo', '-Wl,-rpath,%s' % root, '-lm'])


def library_path(key, directory=''):
    return cache_dir(directory) / ('mpc_%s.so' % key)


def build_library(sources, key, directory='', progress=None):
    """Return (path, built): the cached library for ``key``, compiling it if missing.

    ``sources`` is a callable writing the C files into a directory and returning their paths;
    it is only called on a cache miss. The files are compiled with the directory and HPIPM's
    headers on the include path, and linked against HPIPM.
    """
    say = progress or log.info
    path = library_path(key, directory)
    if path.exists():
        return path, False
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix='casadi_mpc_build_') as tmp:
        say('generating C (cache key %s)' % key)
        files = sources(Path(tmp))
        include, link = hpipm()
        jobs = []
        for source in files:
            size = os.path.getsize(source)
            level = ['-O1' if size > LARGE_SOURCE else '-O2' if size > SMALL_SOURCE else '-O3']
            obj = source[:-2] + '.o'
            cmd = [COMPILER, *FLAGS, *level, '-I%s' % tmp, *include, '-c', source, '-o', obj]
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
        subprocess.run([COMPILER, '-shared', *[obj for _, obj, _ in jobs], '-o', built, *link],
                       check=True, capture_output=True, text=True)
        partial = path.with_suffix('.so.%d' % os.getpid())
        shutil.copyfile(built, partial)
        os.replace(partial, path)   # atomic: concurrent builders never load a half file
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
