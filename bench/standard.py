"""The two standard problems of the benchmarks, as casadi_mpc configurations.

They are the same problems as bench/peers/problems.py defines for the peers (do-mpc, acados):
unicycle N=20 dt=0.1 and a 2-link arm N=30 dt=0.02, RK4, same weights, bounds, start and goal.
"""
import numpy as np

UNICYCLE = {
    'model': {'name': 'diff_drive'},
    'horizon': 20, 'dt': 0.1, 'goal': [2.0, 1.0, np.pi / 2], 'goal_tolerance': 0.1,
    'costs': {'goal_tracking': {'weight': [1.0, 1.0, 0.1]},
              'effort': {'weight': [0.1, 0.1]},
              'terminal': {'weight': [10.0, 10.0, 10.0]}},
    'bounds': {'u_min': [-1.0, -2.0], 'u_max': [1.0, 2.0]},
}
ARM2 = {
    'model': {'name': 'planar_arm', 'links': 2},
    'horizon': 30, 'dt': 0.02, 'goal': [np.pi / 2, 0.0, 0.0, 0.0], 'goal_tolerance': 0.1,
    'costs': {'goal_tracking': {'weight': [10.0, 10.0, 0.1, 0.1]},
              'effort': {'weight': [0.001, 0.001]},
              'terminal': {'weight': [100.0, 100.0, 0.0, 0.0]}},
    'bounds': {'u_min': [-20.0, -20.0], 'u_max': [20.0, 20.0]},
}
PROBLEMS = {'unicycle': (UNICYCLE, 100), 'arm2': (ARM2, 200)}


def config(problem, solver, compiled=False, max_iter=200, tol=1e-8, time_limit=10.0):
    """The problem's config dict with a backend chosen."""
    cfg, _ = PROBLEMS[problem]
    return dict(cfg, solver={'name': solver, 'compiled': compiled, 'max_iter': max_iter,
                             'tol': tol, 'time_limit': time_limit})


def initial_state(problem):
    cfg, _ = PROBLEMS[problem]
    return np.zeros(len(cfg['goal']))
