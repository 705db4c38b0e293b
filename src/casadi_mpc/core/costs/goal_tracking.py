"""Task: stage cost on the distance to the goal, (x - g)' diag(w) (x - g), angles wrapped."""
from .base import CostTerm, weighted_square


class GoalTracking(CostTerm):
    name = 'goal_tracking'
    kind = 'task'
    weights_per = 'state'

    def stage(self, s):
        return weighted_square(s.model.state_error(s.x, s.goal), s.weight)
