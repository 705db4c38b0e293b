"""Robot models, one per file, that declare themselves (see ``base.py`` and ``interface.py``).

Built-in models are the modules of this package that define ``Options`` and ``build``; other
packages add models through the entry-point group ``casadi_mpc.models``; a user's model is a
file (``model.file``). ``examples/models/template.py`` is the contract in one file.
"""
from .base import Model, SafeCommand, Signal, signals
from .check import ModelError
from .options import STRUCTURAL, ModelOptions
from .registry import build, build_model, builtin_names, known_names, options, options_class

__all__ = ['Model', 'ModelError', 'ModelOptions', 'SafeCommand', 'STRUCTURAL', 'Signal',
           'build', 'build_model', 'builtin_names', 'known_names', 'options', 'options_class',
           'signals']
