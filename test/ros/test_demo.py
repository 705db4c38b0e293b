"""`casadi-mpc demo`, end to end: goal reached, summary printed, PNG written, exit 0."""
import os
import subprocess
import sys
from pathlib import Path

SRC = str(Path(__file__).resolve().parents[2] / 'src')


def test_demo_reaches_the_goal_and_writes_the_report(ros_env, tmp_path):
    env = dict(os.environ, **ros_env)
    env['PYTHONPATH'] = os.pathsep.join([SRC, env.get('PYTHONPATH', '')])
    out = tmp_path / 'report.png'
    run = subprocess.run([sys.executable, '-m', 'casadi_mpc.cli', 'demo', '--out', str(out),
                          '--timeout', '90'], env=env, capture_output=True, text=True,
                         timeout=150)
    assert run.returncode == 0, run.stdout + run.stderr
    for line in ('goal reached      yes', 'time to goal', 'energy used', 'solve time',
                 'deadline misses', 'fallbacks'):
        assert line in run.stdout
    assert out.stat().st_size > 10000
