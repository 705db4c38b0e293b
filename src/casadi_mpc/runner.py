"""`casadi-mpc launch sim|robot [arg:=value ...]`: start the system like ros2 launch.

Where ``launch`` is importable and the package is in the ament index, the launch file runs in a
LaunchService. Otherwise the same nodes (bringup.NodeSpec) start as processes
(``python -m casadi_mpc.ros.<node> --ros-args ...``) with their output prefixed by the node
name; Ctrl-C / SIGTERM stops them cleanly (SIGINT, then SIGTERM, then SIGKILL, each with a time
limit), controller first. The exit status is non-zero when a node dies on its own.

:class:`System` is the reusable part: a context manager for pytest fixtures and the demo.
"""
import argparse
import collections
import ctypes
import importlib.util
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

from . import bringup

STOP_LIMITS = ((signal.SIGINT, 8.0), (signal.SIGTERM, 4.0), (signal.SIGKILL, 2.0))
PR_SET_PDEATHSIG = 1


try:
    _PRCTL = ctypes.CDLL(None, use_errno=True).prctl   # resolved before any fork
except (OSError, AttributeError):
    _PRCTL = None


def _die_with_parent():
    """Child side (Linux): get SIGTERM when the runner dies, so no node outlives it."""
    if _PRCTL is not None:
        _PRCTL(PR_SET_PDEATHSIG, signal.SIGTERM)


class NodeDied(RuntimeError):
    """A node exited while the system was supposed to run."""


class Process:
    """One node process and the last lines of its output."""

    def __init__(self, spec, env, echo, keep=4000):
        self.spec, self.name = spec, spec.name
        self.lines = collections.deque(maxlen=keep)
        self.echo = echo
        self.popen = subprocess.Popen(
            spec.command(), env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, start_new_session=True, preexec_fn=_die_with_parent)
        self.reader = threading.Thread(target=self._read, name='out-' + self.name, daemon=True)
        self.reader.start()

    def _read(self):
        prefix = '[%s] ' % self.name
        for raw in iter(self.popen.stdout.readline, b''):
            line = raw.decode('utf-8', 'replace').rstrip('\n')
            self.lines.append(line)
            if self.echo is not None:
                self.echo.write(prefix + line + '\n')
                self.echo.flush()
        self.popen.stdout.close()

    @property
    def pid(self):
        return self.popen.pid

    @property
    def returncode(self):
        return self.popen.poll()

    def signal(self, sig):
        if self.popen.poll() is None:
            try:
                os.kill(self.popen.pid, sig)
            except ProcessLookupError:
                pass

    def output(self):
        return '\n'.join(self.lines)


class System:
    """Start NodeSpecs as processes; stop them all on exit. Usable as a context manager."""

    def __init__(self, specs, env=None, echo=sys.stdout):
        self.specs = list(specs)
        self.env = child_env(env)
        self.echo = echo
        self.processes = {}
        self.stopping = False

    @classmethod
    def of(cls, mode, args=None, overrides=None, env=None, echo=sys.stdout):
        return cls(bringup.system(mode, args, overrides), env, echo)

    def start(self):
        for spec in self.specs:
            self.processes[spec.name] = Process(spec, self.env, self.echo)
        return self

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def __getitem__(self, name):
        return self.processes[name]

    def dead(self):
        """Names and exit codes of nodes that are no longer running."""
        return {n: p.returncode for n, p in self.processes.items() if p.returncode is not None}

    def check(self):
        """Raise NodeDied (with the node's last output) if any node has exited."""
        dead = self.dead()
        if dead and not self.stopping:
            name, code = next(iter(dead.items()))
            tail = '\n'.join(list(self[name].lines)[-30:])
            raise NodeDied('%s exited with status %s; last output:\n%s' % (name, code, tail))

    def kill(self, name, sig=signal.SIGKILL):
        self[name].signal(sig)

    def wait_exit(self, name, timeout):
        try:
            return self[name].popen.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    def stop(self, limits=STOP_LIMITS):
        """Stop all nodes, last started first (the controller sends its stop command while the
        robot still listens). Returns {name: exit code}."""
        self.stopping = True
        for proc in reversed(list(self.processes.values())):
            for sig, limit in limits:
                if proc.returncode is not None:
                    break
                proc.signal(sig)
                try:
                    proc.popen.wait(limit)
                except subprocess.TimeoutExpired:
                    continue
        for proc in self.processes.values():
            proc.reader.join(timeout=2.0)
        return {n: p.returncode for n, p in self.processes.items()}


def child_env(extra=None):
    """The environment of the nodes: ours, the package importable, unbuffered output."""
    env = dict(os.environ)
    env.update(extra or {})
    source = str(Path(__file__).resolve().parents[1])
    paths = [p for p in env.get('PYTHONPATH', '').split(os.pathsep) if p]
    if source not in paths:
        env['PYTHONPATH'] = os.pathsep.join([source] + paths)
    env['PYTHONUNBUFFERED'] = '1'
    return env


# ---------------------------------------------------------------------------- command line
def parse_args(argv):
    parser = argparse.ArgumentParser(
        prog='casadi-mpc launch', description=__doc__.split('\n\n')[0],
        epilog='arguments: ' + '; '.join('%s (default %r): %s' % (k, d, t) for k, (d, t)
                                         in bringup.ARGUMENTS.items()))
    parser.add_argument('mode', choices=bringup.MODES)
    parser.add_argument('arguments', nargs='*', metavar='arg:=value')
    parser.add_argument('--processes', action='store_true',
                        help='start processes even where launch is installed')
    ns = parser.parse_args(argv)
    args = {}
    for item in ns.arguments:
        key, sep, value = item.partition(':=')
        if not sep:
            parser.error('argument %r: expected name:=value' % item)
        args[key] = value
    return ns, args


def launch_available():
    if importlib.util.find_spec('launch') is None or importlib.util.find_spec('launch_ros') \
            is None:
        return False
    try:
        from ament_index_python.packages import get_package_share_directory
        get_package_share_directory(bringup.PACKAGE, print_warning=False)
    except (ImportError, LookupError, OSError, ValueError):
        return False
    return True


def run_launch(mode, args):
    from launch import LaunchDescription, LaunchService
    from launch.actions import IncludeLaunchDescription
    from launch.launch_description_sources import PythonLaunchDescriptionSource
    service = LaunchService()
    service.include_launch_description(LaunchDescription([IncludeLaunchDescription(
        PythonLaunchDescriptionSource(bringup.launch_file(mode)),
        launch_arguments=list(args.items()))]))
    return service.run()


def run_processes(mode, args, out=sys.stdout):
    try:
        specs = bringup.system(mode, args)
    except ValueError as err:
        out.write('casadi-mpc launch: %s\n' % err)
        return 2
    stop = threading.Event()
    previous = {s: signal.signal(s, lambda *_: stop.set()) for s in (signal.SIGINT,
                                                                     signal.SIGTERM)}
    system = System(specs, echo=out)
    code = 0
    try:
        system.start()
        out.write('[launch] started %s\n' % ', '.join(
            '%s (pid %d)' % (n, p.pid) for n, p in system.processes.items()))
        while not stop.wait(0.2):
            dead = system.dead()
            if dead:
                for name, rc in dead.items():
                    out.write('[launch] %s died (exit status %s); stopping\n' % (name, rc))
                rc = next(iter(dead.values()))
                code = rc if rc and rc > 0 else 1
                break
    finally:
        codes = system.stop()
        for s, handler in previous.items():
            signal.signal(s, handler)
    out.write('[launch] stopped: %s\n' % ', '.join('%s=%s' % kv for kv in codes.items()))
    return code


def main(argv=None):
    ns, args = parse_args(list(sys.argv[1:] if argv is None else argv))
    if not ns.processes and launch_available():
        return run_launch(ns.mode, args)
    return run_processes(ns.mode, args)


if __name__ == '__main__':
    sys.exit(main())
