"""Where models come from: built-in modules, installed packages, or a file.

A model module (one file) defines ``Options`` (a subclass of ``ModelOptions`` whose ``name``
is a Literal of the model's name) and ``build(options) -> Model``. It is found

- as a built-in: a module of this package that defines both (adding a file adds the model);
- installed by another package: an entry point in the group ``casadi_mpc.models`` whose name
  is the model's name and whose value is the module (``my_robot = my_pkg.my_robot_model``);
- from a file: ``model.file: /path/to/my_robot.py``.

Every model, whatever its source, goes through the same load check (``check.py``); problems
are one-line :class:`ModelError` messages, never tracebacks.
"""
import hashlib
import importlib
import importlib.metadata
import importlib.util
import os
import pkgutil
import sys
from functools import lru_cache
from pathlib import Path

from pydantic import ValidationError

from .check import ModelError, check
from .options import ModelOptions

GROUP = 'casadi_mpc.models'
_files = {}   # resolved path -> (modification time, module)


@lru_cache(maxsize=None)
def builtin_names():
    """Names of the built-in models: modules of this package with Options and build."""
    names = []
    for info in pkgutil.iter_modules([str(Path(__file__).parent)]):
        module = importlib.import_module('%s.%s' % (__package__, info.name))
        if _is_model_module(module):
            names.append(info.name)
    return tuple(sorted(names))


def installed():
    """Entry points of other packages in the group ``casadi_mpc.models``, by name."""
    return {ep.name: ep for ep in importlib.metadata.entry_points(group=GROUP)}


def known_names():
    """Built-in and installed model names."""
    return tuple(builtin_names()) + tuple(n for n in sorted(installed())
                                          if n not in builtin_names())


def _is_model_module(module):
    options = getattr(module, 'Options', None)
    return callable(getattr(module, 'build', None)) and isinstance(options, type) and \
        issubclass(options, ModelOptions)


def _contract(module, source):
    """Raise ModelError unless ``module`` defines the model contract; returns its name."""
    options = getattr(module, 'Options', None)
    if not (isinstance(options, type) and issubclass(options, ModelOptions)):
        raise ModelError('%s: no Options class (a subclass of '
                         'casadi_mpc.core.models.ModelOptions)' % source)
    if not callable(getattr(module, 'build', None)):
        raise ModelError('%s: no build(options) function' % source)
    name = options.declared_name()
    if not isinstance(name, str) or not name:
        raise ModelError("%s: Options.name needs its model's name as default, e.g. "
                         "name: Literal['my_robot'] = 'my_robot'" % source)
    return name


def load_file(path):
    """The module of a model file (loaded once per modification)."""
    resolved = Path(os.path.expanduser(str(path))).resolve()
    source = 'model.file %s' % path
    try:
        mtime = resolved.stat().st_mtime_ns
    except OSError as err:
        raise ModelError('%s: %s' % (source, err.strerror)) from None
    if not resolved.is_file():
        raise ModelError('%s: not a file' % source)
    cached = _files.get(resolved)
    if cached is not None and cached[0] == mtime:
        return cached[1]
    name = 'casadi_mpc_user_model_%s_%s' % (
        resolved.stem, hashlib.sha1(str(resolved).encode()).hexdigest()[:8])
    spec = importlib.util.spec_from_file_location(name, resolved)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except SyntaxError as err:
        sys.modules.pop(name, None)
        raise ModelError('%s: line %s: syntax error: %s' % (source, err.lineno, err.msg)) \
            from None
    except Exception as err:   # noqa: B902 - a user's file may raise anything
        sys.modules.pop(name, None)
        raise ModelError('%s: import failed: %s: %s'
                         % (source, type(err).__name__, _line(err))) from None
    _files[resolved] = (mtime, module)
    return module


def module_for(name='', file=''):
    """(module, source) of the model ``name`` or of the model ``file`` declares."""
    if file:
        module = load_file(file)
        declared = _contract(module, 'model.file %s' % file)
        if name and name != declared:
            raise ModelError('model.name %r, but model.file %s declares %r'
                             % (name, file, declared))
        return module, 'model.file %s' % file
    if name in builtin_names():
        return importlib.import_module('%s.%s' % (__package__, name)), 'built-in'
    entry = installed().get(name)
    if entry is None:
        raise ModelError('unknown model %r; built-in: %s; installed: %s; or give model.file '
                         '(a Python file that declares the model)'
                         % (name, ', '.join(builtin_names()),
                            ', '.join(sorted(installed())) or 'none'))
    source = 'entry point %s = %s' % (name, entry.value)
    try:
        module = entry.load()
    except Exception as err:   # noqa: B902 - another package's module may raise anything
        raise ModelError('%s: import failed: %s: %s'
                         % (source, type(err).__name__, _line(err))) from None
    declared = _contract(module, source)
    if declared != name:
        raise ModelError('%s declares model %r' % (source, declared))
    return module, source


def options_class(name='', file=''):
    """The Options class of a model (by name, or of the model a file declares)."""
    return module_for(name, file)[0].Options


def build(options):
    """Build and check the model ``options`` (a validated Options instance) names."""
    module, source = module_for(options.name, options.file)
    name = module.Options.declared_name()
    try:
        model = module.build(options)
    except ModelError:
        raise
    except (ValueError, KeyError, OSError, TypeError) as err:
        raise ModelError('model %s: %s' % (name, _line(err))) from None
    except Exception as err:   # noqa: B902 - a user's build may raise anything
        raise ModelError('model %s (%s): build failed: %s: %s'
                         % (name, source, type(err).__name__, _line(err))) from None
    return check(model, name, source)


def options(name='', file='', **values):
    """Validated Options for a model from plain values (one-line ModelError otherwise)."""
    cls = options_class(name, file)
    data = dict(values, name=name or cls.declared_name(), file=file)
    try:
        return cls.model_validate(data)
    except ValidationError as err:
        first = err.errors()[0]
        key = '.'.join(str(k) for k in first['loc'])
        raise ModelError('model %s: option %s = %r: %s'
                         % (data['name'], key, first.get('input'), first['msg'])) from None


def build_model(name='', file='', **values):
    """Build a model from its name (or file) and options given as keywords."""
    return build(options(name, file, **values))


def _line(err):
    text = str(err).strip()
    if isinstance(err, KeyError) and err.args:
        text = str(err.args[0])
    return text.splitlines()[0] if text else type(err).__name__
