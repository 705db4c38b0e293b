"""Energy: mechanical power sum_i |tau_i dq_i|, smoothed so it stays differentiable at zero."""
import casadi as ca

from .base import CostTerm

SMOOTHING = 1e-2   # [W]


class Power(CostTerm):
    name = 'power'
    kind = 'energy'

    def check(self, model):
        if model.power is None:
            raise ValueError('cost term power needs a model with mechanical power '
                             '(planar_arm, urdf_arm, double_integrator); %s has none' % model.name)

    def stage(self, s):
        (phi, r), = self.convex_parts(s)
        return ca.sum1(phi(r))

    def convex_parts(self, s, terminal=False):
        if terminal:
            return []
        w = s.weight[0]
        return [(lambda r: w * (ca.sqrt(r ** 2 + SMOOTHING ** 2) - SMOOTHING),
                 s.model.power(s.x, s.u, s.p))]
