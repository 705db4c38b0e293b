"""Energy: effort beyond the holding torque, (u - G(x))' diag(w) (u - G(x)), for arms.

Plain effort u'Ru also charges the torque that merely holds the arm against gravity, so an arm
with a goal away from the vertical settles short of it; this term charges only what moves it.
"""
from .base import CostTerm, weighted_square


class HoldingEffort(CostTerm):
    name = 'effort_above_holding'
    kind = 'energy'
    weights_per = 'input'

    def default_weight(self, model):
        return [0.001] * model.nu

    def check(self, model):
        if model.holding is None:
            raise ValueError('cost term effort_above_holding needs a model with a holding '
                             'torque (planar_arm, urdf_arm); %s has none' % model.name)

    def stage(self, s):
        return weighted_square(s.u - s.model.holding(s.x, s.p), s.weight)
