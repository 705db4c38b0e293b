"""Recordings: MCAP files with the real ROS 2 message schemas, written with mcap-ros2-support.

Foxglove, PlotJuggler, ``ros2 bag play`` and rosbags read them. Each channel's schema is the
message definition as rosbag2 stores it (``ros2msg``: the type's .msg file, then every type it
uses after a line of 80 '=' and ``MSG: pkg/Name``), read from the installed interface packages;
messages are CDR. The log time of a message is when it was received (ns since the epoch, wall
clock, as rosbag2 logs it); its header stamps are kept as published (simulated time under
/clock).

- :class:`Recording`: write rclpy message objects to a file (the offline ``simulate --record``).
- :class:`Recorder`: subscribe a node to every topic of the graph as it appears (or to given
  topics) and write what arrives: ``casadi-mpc record FILE.mcap``, the runner's
  ``record:=true``, the demo's ``--record``.

The file's ``casadi_mpc`` metadata holds the parameter file of the run (``parameters``, YAML
text), so ``casadi-mpc report FILE.mcap`` knows the model.
"""
import argparse
import importlib
import sys
import threading
import time
from pathlib import Path

from mcap_ros2.writer import Writer

from ..bringup import recording_path

EXCLUDED = ('/rosout', '/parameter_events')
SEPARATOR = '=' * 80
METADATA = 'casadi_mpc'


# ---------------------------------------------------------------------------- schemas
def type_name(msg_or_class):
    """'pkg/msg/Name' of an rclpy message (or its class)."""
    cls = msg_or_class if isinstance(msg_or_class, type) else type(msg_or_class)
    return '%s/msg/%s' % (cls.__module__.split('.')[0], cls.__name__)


def message_class(name):
    """The rclpy class of 'pkg/msg/Name'."""
    pkg, _, cls = name.replace('/msg/', '/').partition('/')
    return getattr(importlib.import_module(pkg + '.msg'), cls)


def _share(pkg):
    """The share directory of an interface package: the ament index, else next to its Python
    module (<prefix>/lib/pythonX.Y/site-packages/<pkg> -> <prefix>/share/<pkg>)."""
    try:
        from ament_index_python.packages import get_package_share_directory
        return Path(get_package_share_directory(pkg))
    except (ImportError, LookupError, OSError, ValueError):
        module = importlib.import_module(pkg)
        return Path(module.__file__).resolve().parents[4] / 'share' / pkg


def _msg_text(pkg, name):
    path = _share(pkg) / 'msg' / ('%s.msg' % name)
    try:
        return path.read_text()
    except OSError as err:
        raise LookupError('no message definition for %s/%s (%s)' % (pkg, name, err)) from None


def definition(name):
    """The full ros2msg definition of 'pkg/msg/Name': its own text, then each type it uses
    (depth first, each once)."""
    from rosidl_adapter.parser import parse_message_string
    pkg, _, base = name.replace('/msg/', '/').partition('/')
    text = _msg_text(pkg, base)
    parts, seen = [text.rstrip('\n')], set()

    def depend(pkg, base, text):
        for field in parse_message_string(pkg, base, text).fields:
            t = field.type
            if t.is_primitive_type():
                continue
            key = '%s/%s' % (t.pkg_name or pkg, t.type)
            if key in seen:
                continue
            seen.add(key)
            sub = _msg_text(t.pkg_name or pkg, t.type)
            parts.append('%s\nMSG: %s\n%s' % (SEPARATOR, key, sub.rstrip('\n')))
            depend(t.pkg_name or pkg, t.type, sub)
    depend(pkg, base, text)
    return '\n'.join(parts) + '\n'


# ---------------------------------------------------------------------------- writing
def plain(value):
    """An rclpy message as the dicts and lists mcap-ros2-support encodes: nested messages
    become dicts, numpy and array.array sequences lists, a byte field its integer."""
    if hasattr(value, 'get_fields_and_field_types'):
        return {name: plain(getattr(value, name)) for name in value.get_fields_and_field_types()}
    if isinstance(value, (bytes, bytearray)):
        return value[0] if len(value) == 1 else list(value)
    if hasattr(value, 'tolist'):
        return value.tolist()
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    return value


class Recording:
    """An MCAP file being written; thread safe. ``metadata``: {key: text} under
    ``casadi_mpc``."""

    def __init__(self, path, metadata=None):
        self.path = str(path)
        self._file = open(self.path, 'wb')
        self._writer = Writer(self._file)
        self._schemas = {}
        self._lock = threading.Lock()
        self.counts = {}
        if metadata:
            self._writer.add_metadata(METADATA, {k: str(v) for k, v in metadata.items()})

    def write(self, topic, msg, log_time_ns=None):
        """Write an rclpy message on ``topic`` (log time: now, unless given)."""
        name = type_name(msg)
        with self._lock:
            if self._file is None:
                return
            schema = self._schemas.get(name)
            if schema is None:
                schema = self._schemas[name] = self._writer.register_msgdef(
                    name, definition(name))
            stamp = time.time_ns() if log_time_ns is None else int(log_time_ns)
            self._writer.write_message(topic, schema, plain(msg), log_time=stamp,
                                       publish_time=stamp)
            self.counts[topic] = self.counts.get(topic, 0) + 1

    def close(self):
        with self._lock:
            if self._file is None:
                return
            self._writer.finish()
            self._file.close()
            self._file = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def parameters_metadata(params_file):
    """The metadata of a run from its parameter file (the report builds the model from it)."""
    return {'parameters': Path(params_file).read_text()} if params_file else {}


class Recorder:
    """Subscribes ``node`` to the topics of the graph and writes them to ``recording``.

    ``topics``: names to record (relative names resolve in the node's namespace); empty: every
    topic but /rosout and /parameter_events. The graph is looked at every ``period`` s, so topics
    that appear later are recorded from then on. Each subscription is reliable unless a
    publisher of the topic is best effort (then best effort), depth 100.
    """

    def __init__(self, node, recording, topics=(), period=0.5):
        self.node, self.recording = node, recording
        self.wanted = {node.resolve_topic_name(t) for t in topics}
        self.subscriptions = {}
        self.skipped = {}
        self.scan()
        self.timer = node.create_timer(period, self.scan)

    def scan(self):
        for topic, types in self.node.get_topic_names_and_types():
            if topic in self.subscriptions or topic in self.skipped:
                continue
            if (self.wanted and topic not in self.wanted) or (not self.wanted and
                                                              topic in EXCLUDED):
                continue
            try:
                cls = message_class(types[0])
                definition(types[0])
            except (ImportError, AttributeError, LookupError) as err:
                self.skipped[topic] = str(err)
                self.node.get_logger().warning('not recording %s: %s' % (topic, err))
                continue
            self.add(topic, cls)

    def add(self, topic, cls):
        """Record ``topic`` (of message class ``cls``) from now on, before the graph shows it
        (e.g. a topic this node is about to publish on)."""
        topic = self.node.resolve_topic_name(topic)
        if topic not in self.subscriptions:
            self.subscriptions[topic] = self.node.create_subscription(
                cls, topic, self._writer_of(topic), self._qos(topic))
            self.node.get_logger().debug('recording %s (%s)' % (topic, type_name(cls)))

    def covers(self, nodes):
        """True once the graph knows the ``nodes`` (names in this node's namespace) and every
        topic they publish is being recorded."""
        from rclpy.node import NodeNameNonExistentError
        ns = self.node.get_namespace()
        self.scan()
        for name in nodes:
            try:
                topics = self.node.get_publisher_names_and_types_by_node(name, ns)
            except NodeNameNonExistentError:   # not discovered yet
                return False
            topics = [t for t, _ in topics if t not in EXCLUDED]
            if not topics or any(t not in self.subscriptions for t in topics):
                return False
        return True

    def _qos(self, topic):
        from rclpy.qos import QoSProfile, ReliabilityPolicy
        best_effort = any(info.qos_profile.reliability == ReliabilityPolicy.BEST_EFFORT
                          for info in self.node.get_publishers_info_by_topic(topic))
        return QoSProfile(depth=100, reliability=ReliabilityPolicy.BEST_EFFORT if best_effort
                          else ReliabilityPolicy.RELIABLE)

    def _writer_of(self, topic):
        def write(msg):
            self.recording.write(topic, msg)
        return write

    def close(self):
        self.node.destroy_timer(self.timer)
        for sub in self.subscriptions.values():
            self.node.destroy_subscription(sub)
        self.subscriptions.clear()
        self.recording.close()


# ---------------------------------------------------------------------------- command line
def node_class():
    """The ``recorder`` node of the runner and the launch files (read-only parameters
    ``path``, ``topics``, ``params_file``), run by ros.runtime like the other nodes. Built on
    demand: the offline tools that write recordings never import rclpy."""
    from rcl_interfaces.msg import ParameterDescriptor, ParameterType
    from rclpy.node import Node
    from ..core.config import ConfigError

    class RecorderNode(Node):

        def __init__(self, argv=None, **kwargs):
            super().__init__('recorder', **kwargs)   # rcl reads the command line itself
            text = ParameterDescriptor(type=ParameterType.PARAMETER_STRING, read_only=True)
            self.declare_parameter('path', '', text)
            self.declare_parameter('params_file', '', text)
            # rclpy cannot declare a typed empty array: dynamically typed, holding []
            self.declare_parameter('topics', [], ParameterDescriptor(
                dynamic_typing=True, read_only=True, description='topics to record '
                '(empty: every topic but /rosout and /parameter_events)'))
            topics = self.get_parameter('topics').value
            if not isinstance(topics, (list, tuple)) or \
                    not all(isinstance(t, str) for t in topics):
                raise ConfigError('topics = %r: expected a list of topic names' % (topics,))
            self.cfg = argparse.Namespace(realtime_priority=0)
            self.path = self.get_parameter('path').value or recording_path('true', 'run')
            topics = [t for t in topics if t]
            self.recording = Recording(self.path, parameters_metadata(
                self.get_parameter('params_file').value))
            self.recorder = Recorder(self, self.recording, topics)
            self.get_logger().info('recording %s to %s' % (', '.join(topics) or 'every topic',
                                                           self.path))

        def stop(self):
            self.recorder.close()
            counts = self.recording.counts
            self.get_logger().info('recorded %d messages on %d topics to %s'
                                   % (sum(counts.values()), len(counts), self.path))
    return RecorderNode


def main(argv=None):
    """``casadi-mpc record [FILE.mcap] [--topics T ...] [--params-file F]``: a recorder node
    until SIGINT/SIGTERM."""
    from ..ros import runtime
    ap = argparse.ArgumentParser(prog='casadi-mpc record', description=__doc__.split('\n\n')[0])
    ap.add_argument('path', nargs='?', default='', help='MCAP file (default: '
                    'casadi_mpc_run_<date>_<time>.mcap)')
    ap.add_argument('--topics', nargs='*', default=[], help='topics (default: all but '
                    '/rosout and /parameter_events)')
    ap.add_argument('--params-file', default='', help='parameter file of the run, kept in the '
                    "recording's metadata for the report")
    argv = list(sys.argv[1:] if argv is None else argv)
    cut = argv.index('--ros-args') if '--ros-args' in argv else len(argv)
    ns = ap.parse_args(argv[:cut])
    ros_args = ['--ros-args']
    if ns.path:
        ros_args += ['-p', 'path:=' + ns.path]
    if ns.params_file:
        ros_args += ['-p', 'params_file:=' + ns.params_file]
    if ns.topics:
        ros_args += ['-p', 'topics:=[%s]' % ', '.join(ns.topics)]
    return runtime.run(node_class(), ['recorder'] + ros_args + argv[cut + 1:], 'recorder')


if __name__ == '__main__':
    sys.exit(main())
