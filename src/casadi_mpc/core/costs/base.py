"""The cost-term contract.

A term has a name, a kind ('task' or 'energy'), a weight vector that is a *parameter* of the
problem (so tuning never rebuilds the solver), and stage and terminal expressions written against
a :class:`Stage` of symbols. ``enabled`` is applied by zeroing the weight parameter.
"""
from dataclasses import dataclass
from typing import Any

import casadi as ca


@dataclass
class Stage:
    """Symbols one stage of the horizon exposes to cost terms."""

    model: Any
    k: int            # stage index, 0..N (N is the terminal stage)
    horizon: int
    x: Any            # state at k
    u: Any            # input at k (None at the terminal stage)
    u_prev: Any       # input at k-1; at k = 0 the last applied command
    x_next: Any       # state at k+1 (None at the terminal stage)
    goal: Any         # goal state
    ref: Any          # reference state at k (the goal when no reference is used)
    weight: Any       # this term's weight vector
    p: Any            # model parameters
    obstacles: Any    # (3, M) matrix: x, y, radius-with-margin per column; None if unused


class CostTerm:
    """Base class: subclasses set ``name``/``kind`` and override the expressions they need."""

    name = ''
    kind = 'task'
    units = ''
    uses_reference = False
    uses_obstacles = False

    weights_per = None   # 'state' or 'input': one weight per state or input, else a scalar

    def weight_labels(self, model):
        """One label per weight entry (its size is the weight vector's)."""
        if self.weights_per == 'state':
            return list(model.state_names)
        if self.weights_per == 'input':
            return list(model.input_names)
        return ['weight']

    def default_weight(self, model):
        return [1.0] * len(self.weight_labels(model))

    def check(self, model):
        """Raise ValueError if the term cannot be used with ``model``."""

    def stage(self, s: Stage):
        return ca.SX(0)

    def convex_parts(self, s: Stage, terminal=False):
        """Optionally the stage (or terminal) cost as a list of (phi, r): cost = sum phi(r),
        phi convex and elementwise. Gauss-Newton solvers then use J_r' phi''(r) J_r, which stays
        positive semidefinite; None means the term's exact Hessian is used (quadratic terms)."""
        return None

    def terminal(self, s: Stage):
        return ca.SX(0)


def weighted_square(e, w):
    """sum_i w_i e_i^2 for a column e and a weight column w of the same size (or a scalar)."""
    return ca.sum1(w * e ** 2)
