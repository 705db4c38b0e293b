"""`casadi-mpc launch`: prefixed output, clean stop on SIGINT, non-zero exit when a node dies."""
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

SRC = str(Path(__file__).resolve().parents[2] / 'src')


class Launch:
    """`casadi-mpc launch ...` as a child process, its output collected line by line."""

    def __init__(self, env, *args):
        env = dict(os.environ, **env)
        env['PYTHONPATH'] = os.pathsep.join([SRC] + [p for p in env.get('PYTHONPATH', '')
                                                     .split(os.pathsep) if p])
        self.lines = []
        self.proc = subprocess.Popen(
            [sys.executable, '-m', 'casadi_mpc.cli', 'launch', '--processes', *args], env=env,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        for line in self.proc.stdout:
            self.lines.append(line.rstrip('\n'))

    def wait_line(self, pattern, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in list(self.lines):
                m = re.search(pattern, line)
                if m:
                    return m
            if self.proc.poll() is not None:
                break
            time.sleep(0.02)
        raise TimeoutError('no line matching %r in:\n%s' % (pattern, '\n'.join(self.lines)))

    def wait(self, timeout):
        code = self.proc.wait(timeout)
        self.reader.join(timeout=2.0)
        return code

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


@pytest.fixture
def launch(ros_env):
    started = []

    def start(*args):
        started.append(Launch(ros_env, *args))
        return started[-1]
    yield start
    for proc in started:
        proc.kill()


def test_sigint_stops_all_nodes_cleanly_controller_first(launch):
    run = launch('sim', 'robot:=diff_drive', 'real_time_factor:=2.0')
    run.wait_line(r'^\[mpc_node\] .*mode NORMAL', 60)
    run.proc.send_signal(signal.SIGINT)
    assert run.wait(30) == 0
    text = '\n'.join(run.lines)
    assert '[launch] stopped: sim_node=0, mpc_node=0' in text
    # the controller stops (sending its stop command) before the simulator is asked to
    assert text.index('sent the safe command') < text.index('simulation stopped')


def test_a_dying_node_makes_the_launch_fail(launch):
    run = launch('sim', 'robot:=diff_drive', 'real_time_factor:=2.0')
    pid = int(run.wait_line(r'sim_node \(pid (\d+)\)', 60).group(1))
    run.wait_line(r'^\[mpc_node\] .*mode NORMAL', 60)
    os.kill(pid, signal.SIGKILL)
    assert run.wait(30) != 0
    text = '\n'.join(run.lines)
    assert '[launch] sim_node died' in text
    assert 'sent the safe command' in text


def test_misspelt_argument_is_refused(launch):
    for args in (['robto:=planar_arm'], ['robot=planar_arm'], ['--robot', 'planar_arm']):
        run = launch('sim', *args)
        assert run.wait(30) == 2, run.lines
    run = launch('robot', 'real_time_factor:=2.0')
    assert run.wait(30) == 2
    assert any('applies to sim mode only' in line for line in run.lines)


def test_debug_log_level_is_the_packages_not_rcls(launch):
    run = launch('sim', 'robot:=diff_drive', 'real_time_factor:=2.0', 'log_level:=debug')
    run.wait_line(r'^\[mpc_node\] .*mode NORMAL', 60)
    started = len(run.lines)
    t0 = time.monotonic()
    while time.monotonic() - t0 < 3.0:
        time.sleep(0.1)
    run.proc.send_signal(signal.SIGINT)
    assert run.wait(30) == 0
    assert any('DEBUG' in line and '[mpc_node]' in line for line in run.lines)
    # rcl and the middleware at debug write thousands of lines per second
    assert len(run.lines) - started < 300, len(run.lines) - started
    assert not any('[rcl]' in line or '[rcl.' in line for line in run.lines)
