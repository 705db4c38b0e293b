"""Task/safety: soft avoidance of circular obstacles for bases.

Penalty w * max(0, r - d)^2 per obstacle, d the distance of the base's (x, y) to the centre and r
the radius plus margin. Unused obstacle slots carry a negative radius and cost nothing.
"""
import casadi as ca

from .base import CostTerm


class Obstacles(CostTerm):
    name = 'obstacles'
    kind = 'task'
    uses_obstacles = True

    def default_weight(self, model):
        return [100.0]

    def check(self, model):
        if model.kind != 'base' or len(model.position) < 2:
            raise ValueError('cost term obstacles needs a planar base model, not %s' % model.name)

    def _penalty(self, s):
        px, py = s.x[s.model.position[0]], s.x[s.model.position[1]]
        total = 0
        for j in range(s.obstacles.shape[1]):
            d = ca.sqrt((px - s.obstacles[0, j]) ** 2 + (py - s.obstacles[1, j]) ** 2 + 1e-9)
            total = total + ca.fmax(0, s.obstacles[2, j] - d) ** 2
        return s.weight[0] * total

    def stage(self, s):
        return self._penalty(s)

    def terminal(self, s):
        return self._penalty(s)
