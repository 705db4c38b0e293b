"""Task: the state after the first interval at the goal, and only there: (x_1 - g)' Q (x_1 - g).

A one-step target, the rest of the horizon left free: the safety filter puts the desired
command into the goal of its command states, so the command that goes out is the closest to the
desired one, while the rest of the horizon only has to stay safe.
"""
from .base import CostTerm, weighted_square


class NextState(CostTerm):
    name = 'next_state'
    kind = 'task'
    weights_per = 'state'

    def stage(self, s):
        return self._first(s)

    def terminal(self, s):
        return self._first(s)

    @staticmethod
    def _first(s):
        if s.k != 1:
            return 0
        return weighted_square(s.model.state_error(s.x, s.goal), s.weight)
