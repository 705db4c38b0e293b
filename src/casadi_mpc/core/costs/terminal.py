"""Task: terminal cost on the last predicted state's distance to the goal (angles wrapped)."""
from .base import CostTerm, weighted_square


class Terminal(CostTerm):
    name = 'terminal'
    kind = 'task'
    weights_per = 'state'

    def default_weight(self, model):
        return [10.0] * model.nx

    def terminal(self, s):
        return weighted_square(s.model.state_error(s.x, s.goal), s.weight)
