"""launch_ros descriptions built from bringup (imported by launch/*.launch.py only)."""
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, OpaqueFunction
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node

from . import bringup


class NodeExited(RuntimeError):
    """A node of the system ended while the launch was running."""


def node_exited(event, context):
    """on_exit of every node: a node that ends while the launch runs ends the launch with an
    error (launch shuts down on an exception in an event handler and exits non-zero), so a
    controller that died never leaves a launch that looks healthy."""
    if context.is_shutdown:
        return None
    raise NodeExited('%s exited with status %s: stopping the launch'
                     % (event.action.name, event.returncode))


def to_node(spec):
    """A bringup.NodeSpec as a launch_ros Node."""
    return Node(package=spec.package, executable=spec.executable, name=spec.name,
                on_exit=node_exited,
                namespace=spec.namespace or None,
                parameters=list(spec.params_files) + [spec.parameters],
                remappings=list(spec.remappings), output='screen', emulate_tty=True,
                ros_arguments=['--log-level', '%s:=%s' % (spec.logger_name(),
                                                          spec.log_level)])


def _nodes(context, mode):
    args = {name: LaunchConfiguration(name).perform(context) for name in bringup.ARGUMENTS}
    return [to_node(spec) for spec in bringup.system(mode, args)]


def generate(mode):
    """The LaunchDescription of ``mode``: every argument declared, nodes from bringup."""
    declared = [DeclareLaunchArgument(name, default_value=default, description=text)
                for name, (default, text) in bringup.ARGUMENTS.items()]
    return LaunchDescription(declared + [OpaqueFunction(function=_nodes,
                                                        kwargs={'mode': mode})])
