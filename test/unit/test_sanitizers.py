"""The compiled kernel (SQP, QP layer, generated functions) in a standalone C driver built with
AddressSanitizer and UndefinedBehaviorSanitizer: any out-of-bounds access, use after free,
leak or undefined operation ends the run with a report."""
import os
import subprocess
from pathlib import Path

import numpy as np
import pytest

from casadi_mpc.core.controller import MPCController
from casadi_mpc.core.solvers import compiled, interface
from casadi_mpc.core.solvers.structured import KernelSource

from .problems import config

DRIVER = Path(__file__).with_name('sanitizer_driver.c')
SANITIZE = ['-fsanitize=address,undefined', '-fno-omit-frame-pointer', '-fno-sanitize-recover',
            '-g', '-O1']
ENV = {'ASAN_OPTIONS': 'detect_leaks=1:abort_on_error=0:exitcode=23',
       'UBSAN_OPTIONS': 'print_stacktrace=1:halt_on_error=1:exitcode=24'}


def sanitizers_missing(tmp_path):
    """Why the compiler cannot build with the sanitizers, or '' when it can."""
    probe = tmp_path / 'probe.c'
    probe.write_text('int main(void) { return 0; }\n')
    try:
        built = subprocess.run([compiled.COMPILER, *SANITIZE, str(probe), '-o',
                                str(tmp_path / 'probe')], capture_output=True, text=True)
    except OSError as err:
        return 'no C compiler (%s)' % err
    if built.returncode:
        return '%s lacks the sanitizers: %s' % (compiled.COMPILER, built.stderr.strip()[-300:])
    ran = subprocess.run([str(tmp_path / 'probe')], capture_output=True, text=True,
                         env=dict(os.environ, **ENV))
    if ran.returncode:
        return 'sanitized programs do not run here: %s' % ran.stderr.strip()[-300:]
    return ''


def c_array(name, values):
    body = ', '.join('INFINITY' if v == np.inf else '-INFINITY' if v == -np.inf else repr(float(v))
                     for v in values)
    return 'static double %s[%d] = {%s};' % (name, max(1, len(values)), body)


def test_the_kernel_runs_clean_under_the_sanitizers(tmp_path):
    missing = sanitizers_missing(tmp_path)
    if missing:
        pytest.skip(missing)
    # inputs coupled across stages (input_rate) and state bounds: every part of the QP layer
    cfg = config(costs__input_rate={'weight': [0.5, 0.5]},
                 bounds={'u_min': [-1.0, -2.0], 'u_max': [1.0, 2.0],
                         'x_min': [-1.0, -1.0, -10.0], 'x_max': [2.0, 1.0, 10.0]})
    ctrl = MPCController(cfg)
    ocp = ctrl.ocp
    x0 = np.array([0.1, -0.2, 0.3])
    p = ctrl.params(x0)
    lbw, ubw, lbg, ubg = ctrl.bounds()
    sources = KernelSource(ocp).generate(tmp_path)
    (tmp_path / 'cmpc_interface.h').write_text(interface.header())
    m = ocp.model
    defines = {'NX_': m.nx, 'NU_': m.nu, 'NW_': ocp.nw, 'NG_': ocp.ng, 'NP_': ocp.n_p,
               'NT_': len(ocp.terms), 'X0OFF_': ocp.blocks['x0'].start,
               'UPREVOFF_': ocp.blocks['u_prev'].start, 'GOALOFF_': ocp.blocks['goal'].start}
    data = ['#include <math.h>'] + ['#define %s %d' % kv for kv in defines.items()]
    data += [c_array(n, v) for n, v in (('P', p), ('LBW', lbw), ('UBW', ubw), ('LBG', lbg),
                                        ('UBG', ubg), ('W0', ocp.guess(x0)))]
    (tmp_path / 'driver_data.h').write_text('\n'.join(data) + '\n')
    include, link = compiled.hpipm()
    exe = tmp_path / 'driver'
    built = subprocess.run([compiled.COMPILER, *SANITIZE, '-I%s' % tmp_path, *include,
                            str(DRIVER), *sources, '-o', str(exe), *link],
                           capture_output=True, text=True)
    assert built.returncode == 0, built.stderr[-3000:]
    ran = subprocess.run([str(exe)], capture_output=True, text=True, timeout=600,
                         env=dict(os.environ, **ENV))
    assert ran.returncode == 0, ran.stderr[-5000:]
    assert 'runtime error' not in ran.stderr and 'Sanitizer' not in ran.stderr, ran.stderr
