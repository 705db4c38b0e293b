"""Cost terms, one per file, looked up by name."""
from .effort import Effort
from .goal_tracking import GoalTracking
from .holding_effort import HoldingEffort
from .input_rate import InputRate
from .next_state import NextState
from .obstacles import Obstacles
from .power import Power
from .progress import Progress
from .reference_tracking import ReferenceTracking
from .terminal import Terminal

TERMS = {cls.name: cls for cls in (GoalTracking, Terminal, ReferenceTracking, Progress,
                                   Effort, HoldingEffort, Power, InputRate, Obstacles,
                                   NextState)}


def make_term(name):
    if name not in TERMS:
        raise ValueError('unknown cost term %r; choose from %s' % (name, ', '.join(TERMS)))
    return TERMS[name]()
