"""The result every backend returns, and the solver interface."""
from dataclasses import dataclass, field
from typing import Optional

import numpy as np


@dataclass
class SolveResult:
    """What one solve produced. ``success`` False means: do not apply ``u0``."""

    status: str                     # optimal | max_iter | timeout | infeasible | error | ...
    success: bool
    u0: Optional[np.ndarray]
    x_pred: Optional[np.ndarray]    # (N+1, nx)
    u_pred: Optional[np.ndarray]    # (N, nu)
    iterations: int
    solve_time: float               # [s], wall time of the solver call
    cost: float = float('nan')
    cost_terms: dict = field(default_factory=dict)
    message: str = ''
    sensitivity: Optional[object] = None   # core.sensitivity.SolveSensitivity, when asked

    @property
    def task_cost(self):
        return self.cost_terms.get('task', float('nan'))

    @property
    def energy_cost(self):
        return self.cost_terms.get('energy', float('nan'))


def failure(status, message, solve_time=0.0, iterations=0):
    return SolveResult(status=status, success=False, u0=None, x_pred=None, u_pred=None,
                       iterations=iterations, solve_time=solve_time, message=message)
