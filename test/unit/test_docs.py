"""The README's parameter tables are generated from the schemas and must not go stale."""
import pytest

from casadi_mpc.core.config import MPCConfig
from casadi_mpc.tools import docs


def test_the_readme_parameter_tables_are_current():
    assert docs.main(['--check']) == 0, 'run: ./run docs --write'


def test_every_schema_key_has_a_documented_row():
    keys = [row[0] for row in docs.rows(MPCConfig)]
    generated = docs.render()
    for key in keys:
        assert '`%s`' % key in generated
    for row in docs.rows(MPCConfig):
        assert row[4].strip(), 'field %s has no description' % row[0]
    for key in ('terminal_tolerance', 'solver.max_iter', 'solver.cache_dir', 'twist_stamped',
                'hold_position', 'publish_joint_trajectory', 'frame_id', 'model.root_link',
                'model.tip_link', 'model.joint_names'):
        assert key in keys


def test_a_stale_readme_is_detected_and_rewritten(tmp_path, capsys):
    readme = tmp_path / 'README.md'
    readme.write_text('intro\n%s\nold table\n%s\nrest\n' % (docs.BEGIN, docs.END))
    assert docs.main(['--check', '--readme', str(readme)]) == 1
    assert 'stale' in capsys.readouterr().out
    assert docs.main(['--write', '--readme', str(readme)]) == 0
    text = readme.read_text()
    assert text.startswith('intro\n') and text.endswith('rest\n') and 'old table' not in text
    assert docs.main(['--check', '--readme', str(readme)]) == 0
    readme.write_text('no markers')
    with pytest.raises(ValueError):
        docs.main(['--write', '--readme', str(readme)])
