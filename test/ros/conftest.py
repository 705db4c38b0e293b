"""Fixtures for tests of the nodes over real DDS on loopback.

Each test gets its own ROS domain and ROS_HOME; the system under test runs as processes through
the runner (the same NodeSpecs the launch files use); a probe node in the test process
publishes, records and calls services. Waiting is always on a condition with a deadline.
"""
import os
import tempfile

import pytest

rclpy = pytest.importorskip('rclpy')

from geometry_msgs.msg import PoseStamped, Twist  # noqa: E402

from casadi_mpc import bringup  # noqa: E402
from casadi_mpc.ros.conversions import planar_pose  # noqa: E402
from casadi_mpc.loopback import Domain, LOOPBACK  # noqa: E402
from casadi_mpc.tools.probe import Probe  # noqa: E402
from casadi_mpc.runner import System  # noqa: E402

# every ROS participant of the test run (this process and its children) stays on loopback
os.environ.update(LOOPBACK)
os.environ['ROS_HOME'] = tempfile.mkdtemp(prefix='casadi_mpc_test_ros_')


@pytest.fixture
def ros_env(tmp_path):
    home = tmp_path / 'ros_home'
    home.mkdir()
    domain = Domain()
    yield dict(LOOPBACK, ROS_DOMAIN_ID=str(domain.id), ROS_HOME=str(home))
    domain.release()


@pytest.fixture
def probe(ros_env):
    p = Probe(int(ros_env['ROS_DOMAIN_ID']))
    yield p
    p.close()


class Systems:
    """Starts systems for a test and stops them all at its end."""

    def __init__(self, env):
        self.env, self.started = env, []

    def sim(self, robot='diff_drive', real_time_factor=2.0, mpc=None, sim=None, **args):
        args = dict(args, robot=robot, real_time_factor=str(real_time_factor))
        overrides = {'mpc_node': dict(mpc or {}), 'sim_node': dict(sim or {})}
        return self.start(bringup.system('sim', args, overrides))

    def diff_drive_to_goal(self, probe, mpc=None):
        """Start the simulated diff-drive system holding its start, send the goal
        (1, 0.5, 0.4636) over the topic and wait until it is reached. Returns the system and
        the recorders of cmd_vel and diagnostics."""
        system = self.sim('diff_drive', real_time_factor=3.0,
                          mpc=dict(mpc or {}, goal=[0.0, 0.0, 0.0]))
        cmd = probe.record(Twist, 'cmd_vel')
        diag = probe.diagnostics()
        probe.wait_for(lambda: diag.value('mode') == 'NORMAL', 30, 'the controller running',
                       system.check)
        goal = probe.publisher(PoseStamped, 'goal_pose')
        probe.publish_until(goal, planar_pose(1.0, 0.5, 0.4636), lambda: diag.value('goal') ==
                            '1 0.5 0.4636', 10, 'the goal accepted', system.check)
        probe.wait_for(lambda: diag.value('goal_reached') == 'true', 30, 'the goal reached',
                       system.check)
        return system, cmd, diag

    def controller_only(self, robot='diff_drive', mpc=None):
        """mpc_node alone on wall time: the test plays the robot."""
        specs = bringup.system('sim', {'robot': robot, 'use_sim_time': 'false'},
                               {'mpc_node': dict(mpc or {})})
        return self.start([s for s in specs if s.name == 'mpc_node'])

    def start(self, specs):
        system = System(specs, env=self.env, echo=None).start()
        self.started.append(system)
        return system

    def stop(self):
        """Stop everything; the node output goes to stdout (pytest shows it on failure)."""
        for system in self.started:
            codes = system.stop()
            for name, proc in system.processes.items():
                print('----- %s (exit %s) -----\n%s' % (name, codes[name], proc.output()))


@pytest.fixture
def systems(ros_env):
    s = Systems(ros_env)
    yield s
    s.stop()
