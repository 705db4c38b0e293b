"""Shared test setup: the compiled-solver cache lives in a temp dir per test session; a model
package installed for a test."""
import importlib
import os
import sys
import tempfile
from pathlib import Path

import pytest

os.environ.setdefault('CASADI_MPC_CACHE', tempfile.mkdtemp(prefix='casadi_mpc_test_cache_'))
os.environ.setdefault('MPLBACKEND', 'Agg')


@pytest.fixture
def model_package(tmp_path):
    """Installs, in a directory of its own, a small package that ships the template model
    (examples/models/template.py) renamed ``name`` through the entry-point group
    casadi_mpc.models. Returns that directory (for sys.path or PYTHONPATH)."""
    site = tmp_path / 'site'
    template = Path(__file__).resolve().parents[1] / 'examples' / 'models' / 'template.py'

    def install(name):
        package = site / ('%s_pkg' % name)
        package.mkdir(parents=True)
        (package / '__init__.py').write_text('')
        (package / ('%s.py' % name)).write_text(template.read_text().replace('my_robot', name))
        info = site / ('%s_pkg-0.1.dist-info' % name)
        info.mkdir()
        (info / 'METADATA').write_text('Metadata-Version: 2.1\nName: %s-pkg\nVersion: 0.1\n'
                                       % name)
        (info / 'entry_points.txt').write_text('[casadi_mpc.models]\n%s = %s_pkg.%s\n'
                                               % (name, name, name))
        importlib.invalidate_caches()
        return str(site)
    yield install
    for module in [m for m in sys.modules if m.endswith('_pkg') or '_pkg.' in m]:
        sys.modules.pop(module, None)
