"""The demo's report from recorded telemetry: it is written whatever was recorded (no steps, a
single one, steps without state, command or prediction, ragged predictions), and the exit
status follows the goal result."""
import io
from types import SimpleNamespace

import numpy as np
import pytest

from casadi_mpc.tools import demo
from casadi_mpc.core.config import parse
from casadi_mpc.core.models import build_model


def telemetry(k, **extra):
    values = {'mode': 'NORMAL', 'goal_error': str(1.0 / (k + 1)), 'energy_used': str(0.1 * k),
              'energy_unit': 'J', 'solve_time_ms': '1.5', 'deadline_misses': '0',
              'fallbacks': '0', 'goal_reached': 'false'}
    values.update(extra)
    return values


def step(k, x=None, u=None, prediction=None, **extra):
    return {'t': 0.1 * k, 'wall': 0.05 * k, 'values': telemetry(k, **extra), 'x': x, 'u': u,
            'prediction': prediction}


def run_report(robot, steps, tmp_path, reached=True):
    model = build_model(robot)
    cfg = parse({'model': {'name': robot}, 'costs': {'effort': {}}})
    args = SimpleNamespace(out=str(tmp_path / 'report.png'), real_time_factor=4.0)
    out = io.StringIO()
    code = demo.report(cfg, model, np.ones(model.nx), steps, reached, args, 'p.yaml', out)
    return code, out.getvalue(), tmp_path / 'report.png'


@pytest.mark.parametrize('robot', ['diff_drive', 'planar_arm'])
def test_steps_without_state_command_or_prediction(robot, tmp_path):
    nx, nu = build_model(robot).nx, build_model(robot).nu
    steps = [step(0), step(1, x=np.zeros(nx)), step(2, u=np.zeros(nu)),
             step(3, x=None, u=np.zeros(nu), prediction=np.zeros((5, 2))),
             step(4, x=np.zeros(nx + 1)),   # the size of another model
             step(5, goal_reached='true')]   # no step has both its state and its command
    code, text, png = run_report(robot, steps, tmp_path)
    assert code == 0 and 'goal reached      yes' in text
    assert png.stat().st_size > 10000


def test_ragged_predictions_and_a_single_step(tmp_path):
    steps = [step(0, x=np.zeros(3), u=np.zeros(2), prediction=np.zeros((6, 2))),
             step(1, x=np.ones(3), u=np.ones(2), prediction=np.zeros(4)),
             step(2, x=np.ones(3), u=np.ones(2), prediction=np.zeros((2, 1))),
             step(3, x=np.ones(3), u=np.ones(2), prediction=[[0, 0], [1, 1, 1]]),
             step(4, x=[1.0, 1.0], u=[0.1], goal_reached='true')]
    code, _, png = run_report('diff_drive', steps, tmp_path)
    assert code == 0 and png.stat().st_size > 10000
    code, _, png = run_report('diff_drive', [step(0, x=np.zeros(3), u=np.zeros(2))], tmp_path,
                              reached=False)
    assert code == 1 and png.exists()


def test_no_steps_still_write_a_report_and_exit_by_the_goal(tmp_path):
    code, text, png = run_report('planar_arm', [], tmp_path, reached=True)
    assert code == 0 and 'no steps' in text and png.exists()
    code, _, _ = run_report('planar_arm', [step(0, solve_time_ms='nan')], tmp_path,
                            reached=False)
    assert code == 1
