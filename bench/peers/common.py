"""What the peer scripts share: the figures of a closed loop and one JSON line on stdout.

The problems themselves come from casadi_mpc.tools.problems (the one home of the standard
problems; it needs casadi, numpy and pydantic only, so the acados venv reads it too).
"""
import json
import os
import sys
from contextlib import contextmanager

import numpy as np


def figures(problem, times_s, xs, us, x_final, failures=0, own_times_s=None):
    """Solve-time figures [ms], the closed-loop cost and the final error of one closed loop;
    ``own_times_s``: the solver's own timing (acados' time_tot) beside the wall clock."""
    ms = 1e3 * np.asarray(times_s)
    lb, ub = problem.x_bounds()
    x = np.asarray(xs, float)
    margin = np.minimum(x - lb, ub - x)[:, np.isfinite(lb) | np.isfinite(ub)]
    out = {
        'median_ms': float(np.median(ms)), 'p99_ms': float(np.percentile(ms, 99)),
        'max_ms': float(np.max(ms)),
        'cost': problem.closed_loop_cost(xs, us),
        'final_error': float(np.linalg.norm(np.asarray(x_final) - problem.goal)),
        'bound_margin': float(margin.min()) if margin.size else float('inf'),
        'failures': int(failures), 'steps': len(us),
    }
    if own_times_s is not None:
        out['own_median_ms'] = float(np.median(1e3 * np.asarray(own_times_s)))
    return out


def median_figures(runs):
    """The median of each figure over several closed loops (costs and errors: the first
    run's; they do not change between runs)."""
    out = dict(runs[0])
    for key in ('median_ms', 'p99_ms', 'max_ms', 'own_median_ms'):
        if key in out:
            out[key] = float(np.median([r[key] for r in runs]))
    out['runs'] = len(runs)
    return out


@contextmanager
def json_stdout():
    """Route everything written to fd 1 (Python and C code) to stderr.

    Yields a writer that emits one JSON line on the real stdout.
    """
    sys.stdout.flush()
    saved = os.dup(1)
    os.dup2(2, 1)
    real = os.fdopen(saved, 'w')

    def emit(obj):
        real.write(json.dumps(obj) + '\n')
        real.flush()
    try:
        yield emit
    finally:
        sys.stdout.flush()
        real.close()
