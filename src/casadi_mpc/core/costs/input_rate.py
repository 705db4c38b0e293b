"""Energy/smoothness: ||u_k - u_{k-1}||^2_w, the first stage against the last applied command."""
from .base import CostTerm, weighted_square


class InputRate(CostTerm):
    name = 'input_rate'
    kind = 'energy'
    weights_per = 'input'

    def default_weight(self, model):
        return [0.01] * model.nu

    def stage(self, s):
        return weighted_square(s.u - s.u_prev, s.weight)
