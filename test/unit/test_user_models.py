"""User models: from a file, from another package's entry point, and broken ones refused with
one line naming the problem."""
import re
from pathlib import Path

import numpy as np
import pytest

from casadi_mpc.core import closed_loop
from casadi_mpc.core.config import ConfigError, parse
from casadi_mpc.core.controller import MPCController
from casadi_mpc.core.models import ModelError, build, build_model, known_names

EXAMPLES = Path(__file__).resolve().parents[2] / 'examples' / 'models'
TEMPLATE = (EXAMPLES / 'template.py').read_text()
COSTS = {'goal_tracking': {}, 'effort': {}, 'terminal': {}}


def write_model(directory, text, name='robot.py'):
    path = Path(directory) / name
    path.write_text(text)
    return str(path)


def test_the_template_from_a_file_reaches_its_goal(tmp_path):
    path = write_model(tmp_path, TEMPLATE)
    cfg = parse({'model': {'file': path, 'params': {'speed_gain': 0.9}}, 'costs': COSTS,
                 'goal': [1.0, 0.5, 0.5], 'goal_tolerance': 0.05,
                 'solver': {'name': 'sqp', 'time_limit': 10.0}})
    assert cfg.model.name == 'my_robot' and cfg.model.v_max == 1.0
    controller = MPCController(cfg)
    assert controller.model.param_vector(cfg.model.params).tolist() == [0.9, 1.0]
    # the plant's gains are off: the controller still gets there
    _, summary = closed_loop.run(controller, np.zeros(3), 80, {'speed_gain': 1.1},
                                 stop_at_goal=True)
    assert summary['goal_reached'], summary


def test_a_file_model_takes_its_options_and_checks_its_name(tmp_path):
    path = write_model(tmp_path, TEMPLATE)
    cfg = parse({'model': {'name': 'my_robot', 'file': path, 'v_max': 2.0}, 'costs': COSTS})
    assert build(cfg.model).u_ub.tolist() == [2.0, 2.0]
    with pytest.raises(ConfigError, match='v_max = 20.0: Input should be less than or equal'):
        parse({'model': {'file': path, 'v_max': 20.0}, 'costs': COSTS})
    with pytest.raises(ConfigError, match="model.name 'diff_drive', but model.file .* declares "
                                          "'my_robot'"):
        parse({'model': {'name': 'diff_drive', 'file': path}, 'costs': COSTS})


def test_a_model_from_another_package(model_package, monkeypatch):
    monkeypatch.syspath_prepend(model_package('rover'))
    assert 'rover' in known_names()
    model = build_model('rover')
    assert model.name == 'rover' and model.state_names == ['x', 'y', 'theta']
    cfg = parse({'model': {'name': 'rover', 'v_max': 0.5}, 'costs': COSTS})
    assert build(cfg.model).u_ub.tolist() == [0.5, 2.0]


def test_the_built_ins_are_found_by_their_files():
    assert {'ackermann', 'cart_pole', 'diff_drive', 'double_integrator', 'omni', 'planar_arm',
            'urdf_arm'} <= set(known_names())


# ---------------------------------------------------------------------------- broken models
BROKEN = [
    ('syntax', ('def build(options: Options) -> Model:', 'def build(options: Options) -> Model'),
     r'line \d+: syntax error'),
    ('import', ('from typing import Literal', 'from typing import Literal\nraise OSError("disk")'),
     'import failed: OSError: disk'),
    ('no build', ('def build(options: Options) -> Model:', 'def make(options: Options):'),
     r'no build\(options\) function'),
    ('no options', ('class Options(ModelOptions):', 'class Options:'), 'no Options class'),
    ('not a model', ('    return Model(\n', '    return dict(\n'),
     'build\\(\\) returned dict, not a casadi_mpc Model'),
    ('rhs shape', ("[xdot], ['x', 'u', 'p']", "[xdot[:2]], ['x', 'u', 'p']"),
     'rhs returns shape 2x1, expected 3 values'),
    ('non-finite f', ('xdot = ca.vertcat(v * ca.cos(x[2])', 'xdot = ca.vertcat(v / x[0]'),
     'rhs is not finite at the nominal point .*: d/dt of x'),
    ('bounds', ("Signal('omega', 'rad/s', lower=-2.0, upper=2.0)",
                "Signal('omega', 'rad/s', lower=2.0, upper=-2.0)"),
     'inputs: omega has lower bound 2 above upper bound -2'),
    ('interface kind', ("state=itf.odometry(x='position.x', y='position.y', theta='yaw')",
                        "state=itf.StateMessage('imu', {'x': 'position.x'})"),
     "interface.state: unknown interface kind 'imu'; known: odometry, joint_state"),
    ('field', ("theta='yaw')", "heading='yaw')"),
     'interface.state.fields: heading is not a state'),
    ('channel', ("theta='yaw')", "theta='roll')"),
     "interface.state.fields: unknown channel theta: 'roll'"),
    ('missing input', ("command=itf.twist(linear_x='v', angular_z='omega')",
                       "command=itf.twist(linear_x='v')"),
     'a Twist must carry every input once'),
    ('unbounded input', ("Signal('omega', 'rad/s', lower=-2.0, upper=2.0)",
                         "Signal('omega', 'rad/s')"),
     'inputs: omega needs finite bounds'),
    ('names', ("Signal('y', 'm')", "Signal('x', 'm')"), 'states: x named twice'),
    ('name', ("name='my_robot', kind='base'", "name='robot', kind='base'"),
     "the Model is named 'robot'; its options declare 'my_robot'"),
]


@pytest.mark.parametrize('case, change, message', BROKEN, ids=[b[0] for b in BROKEN])
def test_a_broken_model_is_refused_in_one_line(tmp_path, case, change, message):
    old, new = change
    assert old in TEMPLATE, case
    path = write_model(tmp_path, TEMPLATE.replace(old, new, 1), 'broken_%d.py' % len(case))
    with pytest.raises(ModelError) as err:
        build_model(file=path)
    text = str(err.value)
    assert '\n' not in text and 'Traceback' not in text
    assert re.search(message, text), text
    # the configuration and the controller say the same, as a ConfigError
    with pytest.raises(ConfigError) as again:
        MPCController({'model': {'file': path}, 'costs': COSTS})
    assert '\n' not in str(again.value)


def test_a_missing_model_file_is_named(tmp_path):
    with pytest.raises(ConfigError, match=r"model.file = '.*nowhere.py': .*No such file"):
        parse({'model': {'file': str(tmp_path / 'nowhere.py')}, 'costs': COSTS})


def test_the_example_parameter_file_runs_offline(monkeypatch, capsys):
    from casadi_mpc.tools import simulate
    monkeypatch.chdir(EXAMPLES.parents[1])   # model.file is relative to the repository
    assert simulate.main(['--config', 'examples/my_robot.yaml', '--steps', '60', '--quiet',
                          '--mismatch', 'speed_gain=0.9', 'turn_gain=1.1']) == 0
    assert 'my_robot' in capsys.readouterr().out


def test_a_model_without_an_interface_runs_offline(tmp_path):
    text = TEMPLATE.replace('        interface=itf.Interface(', '        meta=dict(')
    controller = MPCController({'model': {'file': write_model(tmp_path, text)}, 'costs': COSTS,
                                'goal': [0.5, 0.0, 0.0], 'solver': {'name': 'sqp'}})
    assert controller.model.interface is None
    _, summary = closed_loop.run(controller, np.zeros(3), 40, stop_at_goal=True)
    assert summary['goal_reached']
