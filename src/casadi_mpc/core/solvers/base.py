"""The result every backend returns, the interface every backend implements, and the registry.

A backend is a class in a module of this package: it names itself (``name``, also the
section ``solver.<name>`` of the configuration), says which values of ``solver.name`` it serves
and whether it is the compiled variant, declares its options (a pydantic model) and maps its
raw statuses to ours; ``builds()`` counts what the backends built. ``@register`` puts a backend
in ``REGISTRY``; the package imports every module, so adding a backend is adding its file.

One meaning of "build": work done to make a solver for a problem structure (CasADi constructing
an nlpsol, the compiler building a kernel). Loading a cached kernel is no build.
"""
from dataclasses import dataclass, field
import time
from typing import ClassVar, Optional

import numpy as np
from pydantic import BaseModel, ConfigDict

# result statuses that mean "apply u0"
OK = ('optimal', 'acceptable', 'rti', 'max_iter_feasible', 'small_step_feasible')
# statuses that count as converged when the iterate is primal feasible: the iteration limit,
# and an SQP step too small to change the iterate (e.g. a robot at rest, whose warm start is
# already the solution to the last digits)
FEASIBLE_ENOUGH = ('max_iter', 'small_step')
STRUCTURAL = {'structural': True}


@dataclass
class SolveResult:
    """What one solve produced. ``success`` False means: do not apply ``u0``.

    ``w``, ``lam_g`` and ``lam_x`` are the decision vector and the multipliers of the flat NLP
    ``ocp.nlp`` (w, g) in the layout and sign convention of CasADi's nlpsol: the Lagrangian is
    f + lam_g' g + lam_x' w, so a multiplier is positive at an active upper bound.
    """

    status: str                     # optimal | max_iter | timeout | infeasible | error | ...
    success: bool
    u0: Optional[np.ndarray]
    x_pred: Optional[np.ndarray]    # (N+1, nx)
    u_pred: Optional[np.ndarray]    # (N, nu)
    iterations: int
    solve_time: float               # [s], wall time of the solver call
    cost: float = float('nan')
    cost_terms: dict = field(default_factory=dict)
    message: str = ''
    w: Optional[np.ndarray] = None
    lam_g: Optional[np.ndarray] = None
    lam_x: Optional[np.ndarray] = None
    stats: dict = field(default_factory=dict)   # backend figures (QP iterations, paths, ...)
    sensitivity: Optional[object] = None   # core.sensitivity.SolveSensitivity, when asked

    @property
    def task_cost(self):
        return self.cost_terms.get('task', float('nan'))

    @property
    def energy_cost(self):
        return self.cost_terms.get('energy', float('nan'))


def failure(status, message, solve_time=0.0, iterations=0):
    return SolveResult(status=status, success=False, u0=None, x_pred=None, u_pred=None,
                       iterations=iterations, solve_time=solve_time, message=message)


class Options(BaseModel):
    """Base of a backend's options (``solver.<backend>.*``); a field with
    ``json_schema_extra=STRUCTURAL`` is fixed at construction, the others change at run time."""

    model_config = ConfigDict(extra='forbid', validate_assignment=True)


REGISTRY = {}
BUILDS = {}   # backend name -> builds


def register(cls):
    """Class decorator: make a backend available by its name."""
    if cls.name in REGISTRY and REGISTRY[cls.name] is not cls:
        raise ValueError('two solver backends are named %r' % cls.name)
    REGISTRY[cls.name] = cls
    return cls


def backends():
    """The registered backend classes, in the order they are listed to users."""
    return sorted(REGISTRY.values(), key=lambda cls: (cls.rank, cls.name))


def methods():
    """The values of ``solver.name``."""
    out = []
    for cls in backends():
        out += [m for m in cls.methods or (cls.name,) if m not in out]
    return tuple(out)


def compilable():
    """The values of ``solver.name`` that a compiled backend serves."""
    return tuple(m for cls in backends() if cls.compiled
                 for m in cls.methods or (cls.name,))


def select(method, compiled=False):
    """The backend class for ``solver.name`` = ``method`` (compiled or not)."""
    for cls in backends():
        if method in (cls.methods or (cls.name,)) and cls.compiled == bool(compiled):
            return cls
    if method not in methods():
        raise ValueError('unknown solver %r; choose one of %s' % (method, ', '.join(methods())))
    raise ValueError('compiled mode is available for %s, not %s'
                     % (', '.join(compilable()), method))


def builds(name=None):
    """Solver builds so far, of backend ``name`` or of all."""
    return BUILDS.get(name, 0) if name else sum(BUILDS.values())


class Backend:
    """One solver for one OCP behind the common interface; warm starts itself from its last
    solution. ``solve`` never raises."""

    name: ClassVar[str] = ''
    methods: ClassVar[tuple] = ()        # values of solver.name served (default: (name,))
    compiled: ClassVar[bool] = False
    description: ClassVar[str] = ''
    rank: ClassVar[int] = 100            # where it is listed to users (lowest first)
    Options: ClassVar[type] = Options
    STATUS: ClassVar[dict] = {}          # raw status -> result status

    def __init__(self, ocp, settings, progress=None):
        """``settings``: the ``solver`` section of the configuration (config.SolverConfig)."""
        self.ocp = ocp
        self.method = settings.name
        self.rti = self.method == 'sqp_rti'
        self.tol, self.max_iter = float(settings.tol), int(settings.max_iter)
        self.options = getattr(settings, self.name)
        self._time_limit = float(settings.time_limit)
        self.w = None
        started = time.monotonic()
        self.built = bool(self.build(progress or (lambda msg: None)))
        self.build_time = time.monotonic() - started
        if self.built:
            BUILDS[self.name] = BUILDS.get(self.name, 0) + 1
        self.reset()

    # ---------------------------------------------------------------- to implement
    def build(self, say):
        """Make the solver; returns True when that was a build (not a cache load)."""
        raise NotImplementedError

    def solve(self, p, bounds, guess=None):
        """Solve for parameters ``p`` and ``bounds`` = (lbw, ubw, lbg, ubg), from ``guess`` (a
        cold start) or the warm start. Returns a SolveResult; never raises."""
        raise NotImplementedError

    # ---------------------------------------------------------------- common
    def reset(self):
        """Forget the warm start: the next solve starts cold."""
        self.w = None

    def prepare(self):
        """Work for the next solve that can be done before its state is known (compiled RTI);
        returns that work's figures as a dict, or None when there was none (the default)."""
        return None

    def configure(self, settings):
        """Apply the run-time settings of ``settings`` (the solver section); structural ones
        are refused before they get here."""
        self.time_limit = settings.time_limit
        self.options = getattr(settings, self.name)

    @property
    def time_limit(self):
        return self._time_limit

    @time_limit.setter
    def time_limit(self, value):
        self._time_limit = float(value)

    def status_of(self, raw):
        return self.STATUS.get(raw, str(raw).lower())

    def result(self, status, w, iterations, elapsed, cost, terms, lam_g=None, lam_x=None,
               stats=None):
        """The SolveResult of a finished solve; a failed one becomes no warm start."""
        ocp = self.ocp
        ok = status in OK and w is not None and bool(np.isfinite(w).all())
        if status in OK and not ok:
            status = 'error'
        if ok:
            self.w = w
        else:
            self.reset()   # a failed iterate is no warm start: the next solve starts cold
        values = np.asarray(terms, float).ravel().tolist()
        split = dict(zip(ocp.term_names, values))
        for kind in ('task', 'energy'):
            split[kind] = sum(v for t, v in zip(ocp.terms, values) if t.kind == kind)
        xs, us = ocp.unpack(w)
        return SolveResult(status=status, success=ok, u0=us[0].copy() if ok else None,
                           x_pred=xs, u_pred=us, iterations=int(iterations),
                           solve_time=elapsed, cost=float(cost), cost_terms=split,
                           message='' if ok else 'solver status %s' % status, w=w,
                           lam_g=lam_g, lam_x=lam_x, stats=stats or {})
