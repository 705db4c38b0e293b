"""The sim system through launch/sim.launch.py, as launch_pytest tests.

The same scenarios as test/ros (which drive the runner) but through the launch file, for
machines with a ROS 2 install. Skipped where launch_pytest is missing (pip-only ROS).
"""
import os
import signal
import tempfile
import time

import pytest

launch_pytest = pytest.importorskip(
    'launch_pytest', reason='launch_pytest is not installed; test/ros runs these scenarios '
    'through the runner instead')

from geometry_msgs.msg import PoseStamped, Twist  # noqa: E402
from launch import LaunchDescription  # noqa: E402
from launch.actions import IncludeLaunchDescription, SetEnvironmentVariable  # noqa: E402
from launch.launch_description_sources import PythonLaunchDescriptionSource  # noqa: E402

from casadi_mpc import bringup  # noqa: E402
from casadi_mpc.core.config import load  # noqa: E402
from casadi_mpc.ros.conversions import planar_pose  # noqa: E402
from casadi_mpc.loopback import domain_id, LOOPBACK  # noqa: E402
from casadi_mpc.tools.probe import Probe  # noqa: E402
from casadi_mpc.runner import launch_available  # noqa: E402

pytestmark = pytest.mark.skipif(not launch_available(), reason='casadi_mpc is not installed '
                                'in an ament prefix (launch_ros cannot find its executables)')


@pytest.fixture
def domain():
    return domain_id()


@pytest.fixture
def probe(domain):
    p = Probe(domain)
    yield p
    p.close()


@launch_pytest.fixture
def sim_system(domain):
    env = dict(LOOPBACK, ROS_DOMAIN_ID=str(domain),
               ROS_HOME=tempfile.mkdtemp(prefix='casadi_mpc_launch_test_'))
    return LaunchDescription(
        [SetEnvironmentVariable(k, v) for k, v in env.items()] + [
            IncludeLaunchDescription(
                PythonLaunchDescriptionSource(bringup.launch_file('sim')),
                launch_arguments={'robot': 'diff_drive', 'real_time_factor': '3.0'}.items()),
            launch_pytest.actions.ReadyToTest()])


def node_pid(name, domain):
    """The pid of the node process ``name`` started for this test's domain (from /proc)."""
    for pid in filter(str.isdigit, os.listdir('/proc')):
        try:
            with open('/proc/%s/cmdline' % pid, 'rb') as f:
                cmdline = f.read().split(b'\0')
            with open('/proc/%s/environ' % pid, 'rb') as f:
                environ = f.read().split(b'\0')
        except OSError:
            continue
        if b'__node:=' + name.encode() in cmdline and \
                b'ROS_DOMAIN_ID=%d' % domain in environ:
            return int(pid)
    return None


@pytest.mark.launch(fixture=sim_system)
def test_closed_loop_reaches_goal(probe):
    cmd = probe.record(Twist, 'cmd_vel')
    diag = probe.diagnostics()
    probe.wait_for(lambda: diag.value('mode') == 'NORMAL', 60, 'the controller running')
    pub = probe.publisher(PoseStamped, 'goal_pose')
    probe.publish_until(pub, planar_pose(1.0, 0.5, 0.0), lambda: diag.value('goal') == '1 0.5 0',
                        20, 'the goal accepted')
    probe.wait_for(lambda: diag.value('goal_reached') == 'true', 30, 'the goal reached')
    assert all(abs(m.linear.x) <= 1.0 and abs(m.angular.z) <= 2.0 for m in cmd.msgs)


@pytest.mark.launch(fixture=sim_system)
def test_stale_state_stops_the_robot(probe, domain):
    cfg = load(bringup.default_params_file('diff_drive'))
    cmd = probe.record(Twist, 'cmd_vel')
    diag = probe.diagnostics()
    probe.wait_for(lambda: diag.value('mode') == 'NORMAL', 60, 'the controller running')
    pub = probe.publisher(PoseStamped, 'goal_pose')
    probe.publish_until(pub, planar_pose(3.0, 0.0, 0.0), lambda: cmd.last() is not None and
                        cmd.last().linear.x > 0.3, 20, 'the robot moving')
    pid = node_pid('sim_node', domain)
    assert pid is not None
    t0 = time.monotonic()
    os.kill(pid, signal.SIGKILL)
    probe.wait_for(lambda: any(m.linear.x == 0.0 and m.angular.z == 0.0
                               for m in cmd.since(t0)), 5, 'a zero command')
    assert time.monotonic() - t0 <= cfg.state_timeout + 1.0 / cfg.rate_hz + 0.5
    probe.wait_for(lambda: diag.value('mode') == 'STALE', 2, 'mode STALE')
