"""Task: track a reference path or trajectory, one reference state per stage."""
from .base import CostTerm, weighted_square


class ReferenceTracking(CostTerm):
    name = 'reference_tracking'
    kind = 'task'
    weights_per = 'state'
    uses_reference = True

    def stage(self, s):
        return weighted_square(s.model.state_error(s.x, s.ref), s.weight)

    def terminal(self, s):
        return weighted_square(s.model.state_error(s.x, s.ref), s.weight)
