"""launch_description's wiring, with small stand-ins for launch and launch_ros (not installable
from the package registries): every node gets an exit handler that ends the launch with an
error, and the log level is the node's own."""
import sys
import types
from dataclasses import dataclass

import pytest


class Recorded:
    """A launch action stand-in that keeps its keyword arguments."""

    def __init__(self, *args, **kwargs):
        self.args, self.kwargs = args, kwargs


@pytest.fixture
def launch_description(monkeypatch):
    modules = {}
    for name in ('launch', 'launch.actions', 'launch.substitutions', 'launch_ros',
                 'launch_ros.actions'):
        modules[name] = types.ModuleType(name)
        monkeypatch.setitem(sys.modules, name, modules[name])
    modules['launch'].LaunchDescription = Recorded
    modules['launch.actions'].DeclareLaunchArgument = Recorded
    modules['launch.actions'].OpaqueFunction = Recorded
    modules['launch.substitutions'].LaunchConfiguration = Recorded
    modules['launch_ros.actions'].Node = Recorded
    monkeypatch.delitem(sys.modules, 'casadi_mpc.launch_description', raising=False)
    import casadi_mpc.launch_description as ld
    yield ld
    sys.modules.pop('casadi_mpc.launch_description', None)


@dataclass
class Context:
    is_shutdown: bool


@dataclass
class Exited:
    action: object
    returncode: int


def test_every_node_ends_the_launch_when_it_exits(launch_description):
    from casadi_mpc import bringup
    for spec in bringup.system('sim', {'robot': 'diff_drive', 'log_level': 'debug'}):
        node = launch_description.to_node(spec)
        handler = node.kwargs['on_exit']
        assert node.kwargs['ros_arguments'] == ['--log-level', '%s:=debug' % spec.name]
        died = Exited(types.SimpleNamespace(name=spec.name), -9)
        with pytest.raises(launch_description.NodeExited, match='%s exited with status -9'
                           % spec.name):
            handler(died, Context(is_shutdown=False))
        # while the launch shuts down (Ctrl-C), nodes ending is what was asked for
        assert handler(died, Context(is_shutdown=True)) is None


def test_the_description_declares_every_argument(launch_description):
    from casadi_mpc import bringup
    description = launch_description.generate('robot')
    declared = [a.args[0] for a in description.args[0][:-1]]
    assert declared == list(bringup.ARGUMENTS)
