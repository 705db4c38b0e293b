"""Built-in robot models, one per file, looked up by name."""
from importlib import import_module

MODELS = ('diff_drive', 'double_integrator', 'planar_arm', 'urdf_arm')


def build_model(name, **options):
    """Build the model ``name`` with model-specific ``options`` (dim, links, urdf, ...)."""
    if name not in MODELS:
        raise ValueError('unknown model %r; choose one of %s' % (name, ', '.join(MODELS)))
    module = import_module('%s.%s' % (__name__, name))
    return module.build(**options)
