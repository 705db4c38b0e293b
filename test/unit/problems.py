"""Problem configurations for the core tests: the standard problems (casadi_mpc.tools.problems)
with changes."""
import copy

import numpy as np

from casadi_mpc.tools import problems

# the standard unicycle with a shorter horizon and a nearer goal: quick solves
UNICYCLE = dict(problems.get('unicycle').config, horizon=15, goal=[1.0, 0.5, np.pi / 2])


def config(base=UNICYCLE, **changes):
    """A deep copy of ``base`` with ``changes`` applied; solver__name sets solver.name."""
    cfg = copy.deepcopy(base)
    for key, value in changes.items():
        node, parts = cfg, key.split('__')
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = value
    return cfg


def solver(name, tol=1e-9, max_iter=500):
    return {'name': name, 'tol': tol, 'max_iter': max_iter, 'time_limit': 10.0}
