"""The system as data: which nodes run, with which parameters and remappings.

``sim``: sim_node + mpc_node (the simulator publishes /clock, the controller runs on it).
``robot``: mpc_node alone, remapped onto a real driver (ros2_control controllers by default).
``estimator:=true`` adds estimator_node on the robot's state and commands; mpc_node follows the
estimated parameters, and takes the estimated state (``estimated/odom`` or
``estimated/joint_states``) when remapped onto it. ``safety_filter:=true`` puts safety_filter_node
between mpc_node and the robot: mpc_node commands ``cmd_vel_in`` (``commands_in``), the filter
sends the closest safe command on.

The launch files (launch/*.launch.py) turn these NodeSpecs into launch_ros Nodes; the runner
(``casadi-mpc launch``) starts the same specs as processes where ``launch`` is not installed.
"""
import os
import re
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Tuple

import yaml

PACKAGE = 'casadi_mpc'
MODES = ('sim', 'robot')
ROBOTS = ('diff_drive', 'double_integrator', 'planar_arm', 'urdf_arm')
# how each robot is commanded: base velocities (cmd_vel), base accelerations or joint torques
# (commands)
INTERFACE = {'diff_drive': 'twist', 'double_integrator': 'inputs', 'planar_arm': 'arm',
             'urdf_arm': 'arm'}
# default remappings of ``robot`` mode onto ros2_control controllers
DRIVER_REMAPS = {
    'twist': [('cmd_vel', '/diff_drive_controller/cmd_vel'),
              ('odom', '/diff_drive_controller/odom')],
    'inputs': [('commands', '/forward_acceleration_controller/commands'),
               ('odom', '/odometry/filtered')],
    'arm': [('commands', '/forward_effort_controller/commands'),
            ('joint_states', '/joint_states')],
}

# launch argument -> (default, description); defaults of '' are filled per mode below
ARGUMENTS = {
    'robot': ('diff_drive', 'robot model and parameter set: ' + ' | '.join(ROBOTS)),
    'params_file': ('', 'ROS 2 parameter file with mpc_node (and sim_node) sections; default: '
                    "the package's config/<robot>.yaml"),
    'use_sim_time': ('', 'run mpc_node on /clock (default: true for sim, false for robot)'),
    'namespace': ('', 'namespace for all nodes (topics are relative, so they follow)'),
    'remaps': ('', 'extra mpc_node remappings "from:=to", comma separated; robot mode adds '
               'the ros2_control defaults (e.g. cmd_vel:=/diff_drive_controller/cmd_vel)'),
    'real_time_factor': ('1.0', 'sim: simulated seconds per wall-clock second'),
    'engine': ('', "sim: what plays the robot: model (the controller's own model) | mujoco "
               '(the MuJoCo physics engine); default: the engine in the parameter file'),
    'log_level': ('info', 'log level of all nodes: debug | info | warn | error'),
    'record': ('false', 'record every topic to an MCAP file (ROS 2 schemas): true (file '
               'casadi_mpc_<robot>_<date>_<time>.mcap in the working directory), false, or the '
               'file path'),
    'managed': ('false', 'mpc_node as a lifecycle node: it waits for configure and activate '
                '(e.g. from a lifecycle manager); false: it starts controlling by itself'),
    'estimator': ('false', 'also run estimator_node (moving horizon estimation) on the '
                  "robot's state and commands; mpc_node follows its estimated model parameters "
                  '(remaps:=odom:=estimated/odom, or joint_states:=estimated/joint_states, '
                  'also feeds it the estimated state); the parameter file needs an '
                  'estimator_node section'),
    'safety_filter': ('false', 'also run safety_filter_node between mpc_node and the robot: '
                      'mpc_node commands cmd_vel_in (commands_in), the filter sends the closest '
                      'safe command on; the parameter file needs a safety_filter_node section'),
}


# arguments that only one mode uses: given to the other, they would be silently ignored
MODE_ONLY = {'real_time_factor': ('sim',), 'engine': ('sim',)}
ENGINES = ('model', 'mujoco')


@dataclass
class NodeSpec:
    """One node: what to run and how to configure it."""

    executable: str
    module: str
    name: str
    package: str = PACKAGE
    namespace: str = ''
    params_files: List[str] = field(default_factory=list)
    parameters: Dict[str, object] = field(default_factory=dict)
    remappings: List[Tuple[str, str]] = field(default_factory=list)
    log_level: str = 'info'

    def ros_args(self):
        """The command-line form: --ros-args -r __node:=... --params-file ... -p ... -r ..."""
        args = ['--ros-args', '-r', '__node:=' + self.name]
        if self.namespace:
            args += ['-r', '__ns:=' + absolute(self.namespace)]
        for path in self.params_files:
            args += ['--params-file', str(path)]
        for key, value in self.parameters.items():
            args += ['-p', '%s:=%s' % (key, yaml_value(value))]
        for src, dst in self.remappings:
            args += ['-r', '%s:=%s' % (src, dst)]
        args += ['--log-level', '%s:=%s' % (self.logger_name(), self.log_level)]
        return args

    def logger_name(self):
        """The node's logger (its fully qualified name with dots): ``log_level`` sets the
        package's log lines, not rcl's and the middleware's."""
        return '.'.join([p for p in self.namespace.split('/') if p] + [self.name])

    def command(self, python=None):
        return [python or sys.executable, '-m', self.module] + self.ros_args()


def absolute(namespace):
    return '/' + namespace.strip('/') if namespace.strip('/') else ''


def yaml_value(value):
    """A parameter value as the YAML text ``-p name:=value`` expects."""
    if isinstance(value, bool):
        return 'true' if value else 'false'
    if isinstance(value, (list, tuple)):
        return '[%s]' % ', '.join(yaml_value(v) for v in value)
    if isinstance(value, float):
        return repr(value)
    return str(value)


def truthy(text):
    value = str(text).strip().lower()
    if value in ('true', '1', 'yes', 'on'):
        return True
    if value in ('false', '0', 'no', 'off', ''):
        return False
    raise ValueError('expected true or false, got %r' % text)


def parse_remaps(text):
    """'a:=b, c:=d' (or a=b) -> [(a, b), (c, d)]."""
    out = []
    for item in re.split(r'[,\s]+', str(text).strip()):
        if not item:
            continue
        src, sep, dst = item.partition(':=') if ':=' in item else item.partition('=')
        if not sep or not src or not dst:
            raise ValueError('remap %r: expected from:=to' % item)
        out.append((src, dst))
    return out


def share_dir():
    """The package's share directory: ament index, else the source tree or the install."""
    try:
        from ament_index_python.packages import get_package_share_directory
        path = Path(get_package_share_directory(PACKAGE, print_warning=False))
        if path.is_dir():
            return path
    except (ImportError, LookupError, OSError, ValueError):
        pass
    source = Path(__file__).resolve().parents[2]
    if (source / 'config').is_dir() and (source / 'package.xml').is_file():
        return source
    return Path(sys.prefix) / 'share' / PACKAGE


def default_params_file(robot):
    return str(share_dir() / 'config' / ('%s.yaml' % robot))


def namespaced_params_file(path, namespace):
    """A copy of a parameter file whose node sections also match inside ``namespace``.

    rcl matches a section key like ``mpc_node`` only to the node ``/mpc_node``; under a
    namespace the key must be ``/<namespace>/mpc_node``. Wildcard and absolute keys are kept.
    """
    ns = absolute(namespace)
    if not ns:
        return path
    with open(path) as f:
        document = yaml.safe_load(f) or {}
    rewritten = {(k if str(k).startswith('/') or str(k) == '**' else '%s/%s' % (ns, k)): v
                 for k, v in document.items()}
    handle, out = tempfile.mkstemp(prefix='casadi_mpc_%s_' % ns.strip('/').replace('/', '_'),
                                   suffix='.yaml')
    with os.fdopen(handle, 'w') as f:
        yaml.dump(rewritten, f, Dumper=_RclDumper)
    return out


# words rcl's parameter parser reads as booleans when unquoted (YAML 1.1), beyond PyYAML's
RCL_BOOLEANS = {'y', 'Y', 'n', 'N', 'yes', 'Yes', 'YES', 'no', 'No', 'NO', 'on', 'On', 'ON',
                'off', 'Off', 'OFF', 'true', 'True', 'TRUE', 'false', 'False', 'FALSE'}


class _RclDumper(yaml.SafeDumper):
    """Writes strings rcl would read as booleans (a state named y) quoted."""

    def represent_str(self, data):
        style = "'" if data in RCL_BOOLEANS else None
        return self.represent_scalar('tag:yaml.org,2002:str', data, style=style)


_RclDumper.add_representer(str, _RclDumper.represent_str)


def recording_path(value, robot):
    """The MCAP file of the ``record`` argument (absolute), or '' for no recording."""
    text = str(value).strip()
    try:
        if not truthy(text):
            return ''
        text = 'casadi_mpc_%s_%s.mcap' % (robot, time.strftime('%Y%m%d_%H%M%S'))
    except ValueError:     # not true/false: a path
        pass
    return os.path.abspath(os.path.expanduser(text))


def launch_file(mode):
    return str(share_dir() / 'launch' / ('%s.launch.py' % mode))


def resolve(args, mode):
    """Fill defaults and check launch arguments (strings, as ``launch`` gives them)."""
    if mode not in MODES:
        raise ValueError('mode %r: choose one of %s' % (mode, ', '.join(MODES)))
    unknown = sorted(set(args) - set(ARGUMENTS))
    if unknown:
        raise ValueError('unknown argument(s) %s; known: %s' % (unknown, ', '.join(ARGUMENTS)))
    for name, modes in MODE_ONLY.items():
        if mode not in modes and str(args.get(name, '')).strip() not in ('', ARGUMENTS[name][0]):
            raise ValueError('argument %s applies to %s mode only, not %s'
                             % (name, ' and '.join(modes), mode))
    out = {k: str(args.get(k, '') or default) for k, (default, _) in ARGUMENTS.items()}
    if out['robot'] not in ROBOTS:
        raise ValueError('robot %r: choose one of %s' % (out['robot'], ', '.join(ROBOTS)))
    if out['engine'] and out['engine'] not in ENGINES:
        raise ValueError('engine %r: choose one of %s' % (out['engine'], ', '.join(ENGINES)))
    out['params_file'] = os.path.expanduser(out['params_file']) or \
        default_params_file(out['robot'])
    if not os.path.isfile(out['params_file']):
        raise ValueError('params_file %s does not exist' % out['params_file'])
    if not str(args.get('use_sim_time', '')).strip():
        out['use_sim_time'] = 'true' if mode == 'sim' else 'false'
    return out


# the namespace of the estimator's state output (estimated/odom, estimated/joint_states)
ESTIMATED = 'estimated/'
# the command topic of each interface (the safety filter takes <topic>_in)
COMMAND_TOPIC = {'twist': 'cmd_vel', 'inputs': 'commands', 'arm': 'commands'}


def has_section(path, node):
    """True when the parameter file ``path`` has a section for ``node`` (any namespace)."""
    with open(path) as f:
        document = yaml.safe_load(f) or {}
    return any(str(key).rstrip('/').split('/')[-1] == node or str(key) in ('/**', '**')
               for key in document)


def with_defaults(remaps, defaults):
    """``remaps`` and the ``defaults`` for the topics they leave alone."""
    given = {src for src, _ in remaps}
    return list(remaps) + [r for r in defaults if r[0] not in given]


def system(mode, args=None, overrides=None):
    """The NodeSpecs of ``mode`` ('sim' | 'robot') for launch arguments ``args``.

    ``overrides``: extra parameters per node name (programmatic use: tests, the demo).
    """
    a = resolve(dict(args or {}), mode)
    overrides = overrides or {}
    sim_time = truthy(a['use_sim_time'])
    remaps = parse_remaps(a['remaps'])
    params_file = namespaced_params_file(a['params_file'], a['namespace'])
    common = dict(namespace=a['namespace'], params_files=[params_file], log_level=a['log_level'])
    mpc_params = {'use_sim_time': sim_time, 'managed': truthy(a['managed'])}
    interface = INTERFACE[a['robot']]
    estimator = truthy(a['estimator'])
    safety_filter = truthy(a['safety_filter'])
    for on, node in ((estimator, 'estimator_node'), (safety_filter, 'safety_filter_node')):
        if on and not has_section(a['params_file'], node):
            raise ValueError('%s:=true: %s has no %s section'
                             % (node[:-len('_node')], a['params_file'], node))
    nodes, driver = [], []
    record = recording_path(a['record'], a['robot'])
    if record:   # started first and stopped last: it sees the whole run
        nodes.append(NodeSpec('recorder', PACKAGE + '.tools.record', 'recorder',
                              namespace=a['namespace'], log_level=a['log_level'],
                              parameters={'path': record, 'params_file': a['params_file']}))
    if mode == 'sim':
        sim_params = {'publish_clock': sim_time,
                      'real_time_factor': float(a['real_time_factor'])}
        if a['engine']:
            sim_params['engine'] = a['engine']
        sim_params.update(overrides.get('sim_node', {}))
        nodes.append(NodeSpec('sim_node', PACKAGE + '.ros.sim_node', 'sim_node',
                              parameters=sim_params, **common))
    else:
        driver = DRIVER_REMAPS[interface]
        if interface == 'twist':
            mpc_params['twist_stamped'] = True   # diff_drive_controller takes TwistStamped

    def on_the_robot(name):
        """A node on the robot's own topics (every remap but those onto the estimate), on
        the controller's clock and twist type."""
        node_params = {'use_sim_time': sim_time}
        if mpc_params.get('twist_stamped'):
            node_params['twist_stamped'] = True
        node_params.update(overrides.get(name, {}))
        mine = [r for r in remaps if not r[1].strip('/').startswith(ESTIMATED)]
        return NodeSpec(name, '%s.ros.%s' % (PACKAGE, name), name, parameters=node_params,
                        remappings=with_defaults(mine, driver), **common)
    if estimator:
        # it hears the robot's state and the commands the robot gets; the controller follows
        # the estimated parameters
        nodes.append(on_the_robot('estimator_node'))
        mpc_params['follow_estimates'] = True
    if safety_filter:
        # between the controller and the robot: the controller commands it
        nodes.append(on_the_robot('safety_filter_node'))
        command = COMMAND_TOPIC[interface]
        remaps = [r for r in remaps if r[0] != command] + [(command, command + '_in')]
        driver = [r for r in driver if r[0] != command]
    mpc_params.update(overrides.get('mpc_node', {}))
    nodes.append(NodeSpec('mpc_node', PACKAGE + '.ros.mpc_node', 'mpc_node',
                          parameters=mpc_params, remappings=with_defaults(remaps, driver),
                          **common))
    return nodes
