"""The configuration schema: shipped files load, bad files get errors naming key, value, rule."""
from pathlib import Path

import pytest

from casadi_mpc.core.config import ConfigError, load, parse
from casadi_mpc.core.controller import MPCController

from .problems import config

CONFIG_DIR = Path(__file__).resolve().parents[2] / 'config'


@pytest.mark.parametrize('path', sorted(CONFIG_DIR.glob('*.yaml')), ids=lambda p: p.stem)
def test_shipped_configs_are_valid(path):
    cfg = load(path)
    assert cfg.model.name == path.stem
    assert cfg.costs


def build(cfg):
    return MPCController(cfg)


INVALID = [
    ('unknown top-level key', config(horizn=10), r'horizn = 10: unknown key'),
    ('horizon zero', config(horizon=0), r'horizon = 0: .*greater than or equal to 1'),
    ('negative dt', config(dt=-0.1), r'dt = -0\.1: .*greater than 0'),
    ('unknown model', config(model__name='hexapod'), r"model\.name = 'hexapod'"),
    ('unknown solver', config(solver__name='snopt'), r"solver\.name = 'snopt'"),
    ('unknown cost term', config(costs__comfort={}), r'unknown cost term.*comfort'),
    ('negative weight', config(costs__effort__weight=[-1.0, 0.1]),
     r'costs\.effort\.weight = \[-1\.0, 0\.1\]: .*>= 0'),
    ('weight size', config(costs__effort__weight=[0.1, 0.1, 0.1]),
     r'costs\.effort\.weight = \[0\.1, 0\.1, 0\.1\]: expected 2 values \(one per v, omega\)'),
    ('goal size', config(goal=[1.0, 2.0]), r'goal = \[1\.0, 2\.0\]: expected 3 values'),
    ('bounds crossed', config(bounds__u_min=[1.0, -2.0], bounds__u_max=[-1.0, 2.0]),
     r'bounds\.u_min .* must not exceed'),
    ('bounds size', config(bounds__x_max=[1.0]), r'bounds\.x_max = \[1\.0\]: expected 3'),
    ('weight not a number', config(costs__effort__weight=['heavy', 1.0]),
     r"costs\.effort\.weight\.0 = 'heavy'"),
    ('unknown model parameter', config(model__params={'mass': 3.0}),
     r'model\.params: unknown parameter.*mass'),
    ('power on a kinematic base', config(costs__power={}), r'power needs a model'),
    ('obstacle arrays', config(obstacles={'max_count': 2, 'x': [1.0], 'y': [], 'radius': []},
                               costs__obstacles={}),
     r'obstacles\.x/y/radius have lengths 1/0/0'),
    ('too many obstacles', config(obstacles={'max_count': 1, 'x': [1.0, 2.0], 'y': [0, 0],
                                             'radius': [0.1, 0.1]}, costs__obstacles={}),
     r'2 given, obstacles\.max_count = 1'),
    ('compiled ipopt', config(solver__name='ipopt', solver__compiled=True),
     r'compiled mode is available for sqp, sqp_rti'),
    ('no cost terms', config(costs={}), r'no cost term configured'),
    ('realtime priority', config(realtime_priority=120), r'realtime_priority = 120: .*99'),
]


@pytest.mark.parametrize('what,cfg,message', INVALID, ids=[c[0] for c in INVALID])
def test_invalid_config_is_refused_with_a_clear_message(what, cfg, message):
    with pytest.raises((ConfigError, ValueError), match=message):
        build(cfg)


def write(tmp_path, text):
    path = tmp_path / 'params.yaml'
    path.write_text(text)
    return path


def test_malformed_yaml_names_the_file(tmp_path):
    path = write(tmp_path, 'mpc_node:\n  ros__parameters:\n    horizon: [1,\n')
    with pytest.raises(ConfigError, match='params.yaml: malformed YAML'):
        load(path)


def test_missing_node_section_lists_what_is_there(tmp_path):
    path = write(tmp_path, 'other_node:\n  ros__parameters:\n    horizon: 3\n')
    with pytest.raises(ConfigError, match='no section for node mpc_node.*other_node'):
        load(path)


def test_missing_file(tmp_path):
    with pytest.raises(ConfigError, match='cannot read'):
        load(tmp_path / 'nope.yaml')


def test_wildcard_section_and_dotted_keys(tmp_path):
    path = write(tmp_path, '/**:\n  ros__parameters:\n    costs.effort.weight: [0.2, 0.2]\n'
                 '    solver.name: sqp\n')
    cfg = load(path)
    assert cfg.costs['effort'].weight == [0.2, 0.2]
    assert cfg.solver.name == 'sqp'


def test_invalid_update_applies_nothing():
    controller = MPCController(config())
    before = controller.cfg.model_dump()
    with pytest.raises(ConfigError, match='costs.effort.weight'):
        controller.update({'goal': [3.0, 3.0, 0.0], 'costs.effort.weight': [1.0]})
    assert controller.cfg.model_dump() == before


def test_parse_refuses_non_mapping():
    with pytest.raises(ConfigError, match='expected a mapping'):
        parse(['horizon', 3])
