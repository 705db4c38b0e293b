"""Small problem configurations for the core tests."""
import copy

import numpy as np

UNICYCLE = {
    'model': {'name': 'diff_drive'}, 'horizon': 15, 'dt': 0.1,
    'goal': [1.0, 0.5, np.pi / 2], 'goal_tolerance': 0.1,
    'costs': {'goal_tracking': {'weight': [1.0, 1.0, 0.1]}, 'effort': {'weight': [0.1, 0.1]},
              'terminal': {'weight': [10.0, 10.0, 10.0]}},
    'bounds': {'u_min': [-1.0, -2.0], 'u_max': [1.0, 2.0]},
}


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
