"""Task, as a reward: distance to the goal gained over each stage counts negatively.

Reward r_k = d(x_k) - d(x_{k+1}) with d the smoothed Euclidean distance of the configuration to
the goal's; the stage cost is -w r_k. Summed over the horizon it rewards the distance gained.
"""
import casadi as ca

from .base import CostTerm

SMOOTHING = 1e-3   # [m or rad], keeps the distance differentiable at the goal


def distance(model, x, goal):
    e = model.state_error(x, goal)
    idx = list(model.position)
    pos = ca.vertcat(*[e[i] for i in idx])
    return ca.sqrt(ca.sumsqr(pos) + SMOOTHING ** 2)


class Progress(CostTerm):
    name = 'progress'
    kind = 'task'

    def stage(self, s):
        gained = distance(s.model, s.x, s.goal) - distance(s.model, s.x_next, s.goal)
        return -s.weight[0] * gained

    def convex_parts(self, s, terminal=False):
        # linear in the distances: a Gauss-Newton model keeps its gradient, adds no curvature
        return []
