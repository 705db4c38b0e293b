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
        power = s.model.power(s.x, s.u, s.p)
        return s.weight[0] * ca.sum1(ca.sqrt(power ** 2 + SMOOTHING ** 2) - SMOOTHING)
