"""Solver backends behind one interface (base.Backend): every solve returns a SolveResult and
never raises.

Each backend is one module of this package, registered by name (base.register); this package
imports them all, and the configuration schema takes ``solver.<backend>.*`` from their option
models. Symbolic backends run CasADi's nlpsol (ipopt.py, fatrop.py, sqpmethod.py); the compiled
one (kernel.py) runs the structured SQP with HPIPM QPs in generated C, cached on disk.
"""
import importlib
import pkgutil

from .base import (Backend, backends, builds, compilable, failure, FEASIBLE_ENOUGH, methods, OK,
                   REGISTRY, select, SolveResult)

for _module in pkgutil.iter_modules(__path__):
    importlib.import_module('%s.%s' % (__name__, _module.name))

BACKENDS = methods()        # the values of solver.name
COMPILABLE = compilable()   # ... that have a compiled backend


def make_solver(ocp, settings, progress=None):
    """The backend for the ``solver`` section ``settings`` (config.SolverConfig)."""
    return select(settings.name, settings.compiled)(ocp, settings, progress)


def Solver(ocp, name='ipopt', max_iter=100, tol=1e-6, time_limit=1.0, compiled=False,
           cache_dir='', progress=None, advanced_step=True):
    """A backend from keyword settings rather than a configuration section."""
    from ..config import SolverConfig
    settings = SolverConfig(name=name, max_iter=max_iter, tol=tol, time_limit=time_limit,
                            compiled=compiled,
                            kernel={'cache_dir': cache_dir, 'advanced_step': advanced_step})
    return make_solver(ocp, settings, progress)


__all__ = ['Backend', 'BACKENDS', 'backends', 'builds', 'COMPILABLE', 'failure', 'FEASIBLE_ENOUGH',
           'make_solver', 'OK', 'REGISTRY', 'Solver', 'SolveResult']
