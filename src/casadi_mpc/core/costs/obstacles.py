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

    def convex_parts(self, s, terminal=False):
        px, py = s.x[s.model.position[0]], s.x[s.model.position[1]]
        dx = px - s.obstacles[0, :].T
        dy = py - s.obstacles[1, :].T
        intrusion = ca.fmax(0, s.obstacles[2, :].T - ca.sqrt(dx ** 2 + dy ** 2 + 1e-9))
        w = s.weight[0]
        return [(lambda r: w * r ** 2, intrusion)]

    def stage(self, s):
        (phi, r), = self.convex_parts(s)
        return ca.sum1(phi(r))

    def terminal(self, s):
        return self.stage(s)
