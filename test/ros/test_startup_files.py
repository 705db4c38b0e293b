"""Bad parameter files at start-up: one line naming the problem, exit status 2, no traceback."""
import os
import re
import subprocess
import sys

import pytest

from casadi_mpc.bringup import default_params_file

ARM = open(default_params_file('planar_arm')).read()
CASES = {
    'malformed': ('mpc_node:\n  ros__parameters:\n    horizon: [1\n', r'malformed YAML at line'),
    'tabs': ('mpc_node:\n\tros__parameters:\n\t\thorizon: 10\n', 'not tabs'),
    'top-level list': ('- a\n- b\n', 'top level must be a mapping'),
    'no ros__parameters': ('mpc_node:\n  horizon: 10\n', 'must hold a ros__parameters'),
    'mixed-type array': ('mpc_node:\n  ros__parameters:\n    costs:\n      effort:\n'
                         '        weight: [1, 2.5]\n', 'costs.effort.weight = .*one type'),
    'empty file': ('', 'the file is empty'),
    'wrong section': ('controller:\n  ros__parameters:\n    horizon: 10\n',
                      'no section for node mpc_node .*found: controller'),
    'no cost terms': ('mpc_node:\n  ros__parameters:\n    horizon: 10\n',
                      'no cost term configured'),
    'unknown model parameter': (ARM.replace('damping1: 0.1 ', 'dampign1: 0.1 '),
                                'unknown parameter.*dampign1.*known: mass1'),
    'compiled ipopt': (ARM.replace('name: sqp_rti', 'name: ipopt'),
                       'compiled mode is available for sqp, sqp_rti, not ipopt'),
    'safe command outside the bounds': (
        ARM.replace('u_min: [-40.0, -40.0]', 'u_min: [5.0, -40.0]'), 'must contain 0'),
    'rate below the state timeout': (ARM.replace('rate_hz: 50.0', 'rate_hz: 0.05'),
                                     'at most half the state timeout'),
}


def start(ros_env, args, timeout=60):
    return subprocess.run([sys.executable, '-m', 'casadi_mpc.ros.mpc_node'] + args,
                          env=dict(os.environ, **ros_env), capture_output=True,
                          text=True, timeout=timeout)


@pytest.mark.parametrize('case', sorted(CASES))
def test_bad_file_is_one_line_and_exit_2(case, ros_env, tmp_path):
    text, pattern = CASES[case]
    path = tmp_path / 'params.yaml'
    path.write_text(text)
    done = start(ros_env, ['--ros-args', '--params-file', str(path)])
    output = done.stdout + done.stderr
    assert done.returncode == 2, output
    assert 'Traceback' not in output, output
    errors = [line for line in output.splitlines() if 'configuration error' in line]
    assert len(errors) == 1, output
    assert re.search(pattern, errors[0]), errors[0]


def test_no_parameter_file_is_refused(ros_env):
    done = start(ros_env, [])
    assert done.returncode == 2
    assert 'no parameter file' in done.stderr and 'Traceback' not in done.stderr
