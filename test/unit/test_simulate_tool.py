"""`casadi-mpc simulate`: summary, JSON keys, plot, exit codes."""
import json
from pathlib import Path

from casadi_mpc.cli import main

CONFIG = str(Path(__file__).resolve().parents[2] / 'config' / 'diff_drive.yaml')
KEYS = {'goal_reached', 'final_error', 'energy', 'task_cost', 'energy_cost', 'solve_time_ms',
        'iterations', 'failures', 'steps'}


def test_simulate_writes_json_and_plot(tmp_path, capsys):
    out, png = tmp_path / 's.json', tmp_path / 's.png'
    code = main(['simulate', '--config', CONFIG, '--steps', '60', '--goal', '1', '0.5', '0',
                 '--json', str(out), '--plot', str(png), '--quiet'])
    summary = json.loads(out.read_text())
    assert KEYS <= set(summary)
    assert set(summary['solve_time_ms']) == {'median', 'p99', 'max'}
    assert set(summary['iterations']) == {'median', 'max'}
    assert summary['goal_reached'] is True and code == 0
    assert summary['goal'] == [1.0, 0.5, 0.0]
    assert png.stat().st_size > 10000 and png.read_bytes()[:4] == b'\x89PNG'
    assert 'goal reached' in capsys.readouterr().out


def test_simulate_exit_code_when_goal_not_reached(tmp_path):
    code = main(['simulate', '--config', CONFIG, '--steps', '3', '--quiet', '--solver', 'sqp_rti',
                 '--mismatch'])
    assert code == 1


def test_simulate_reports_config_errors(capsys):
    code = main(['simulate', '--config', CONFIG, '--goal', '1', '--quiet'])
    assert code == 2
    assert 'goal = [1.0]: expected 3 values' in capsys.readouterr().err


def test_simulate_says_why_solves_failed(tmp_path, capsys):
    out = tmp_path / 's.json'
    code = main(['simulate', '--config', CONFIG, '--steps', '4', '--quiet', '--time-limit',
                 '1e-9', '--json', str(out)])
    assert code == 1
    summary = json.loads(out.read_text())
    assert summary['failures'] == 4 and summary['failure_status'] == {'timeout': 4}
    text = capsys.readouterr().out
    assert 'timeout 4: solves longer than solver.time_limit 1e-09 s' in text
