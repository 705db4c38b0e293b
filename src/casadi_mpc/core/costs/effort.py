"""Energy: input effort u' diag(w) u."""
from .base import CostTerm, weighted_square


class Effort(CostTerm):
    name = 'effort'
    kind = 'energy'
    weights_per = 'input'

    def default_weight(self, model):
        return [0.1] * model.nu

    def stage(self, s):
        return weighted_square(s.u, s.weight)
