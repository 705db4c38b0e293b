"""Loop latency across processes: state message -> command publish, and peak memory per node.

sim_node publishes odometry at 100 Hz; mpc_node (the standard unicycle problem, sqp_rti, 100 Hz
timer) solves from the latest state and publishes a TwistStamped; this script listens. For every
control step the controller's diagnostics name the header stamp of the state it used, and the
command carries the step's stamp, so (all on one machine clock):

  state -> command published  = command stamp - state stamp  (includes waiting for the tick)
  command published -> here   = arrival time - command stamp (DDS delivery to a third process)

Peak memory is VmHWM from /proc/<pid>/status of each node process. Not a test: it prints.

    python bench/loop_latency.py [--seconds 10] [--rate 100] [--solver sqp_rti]
"""
import argparse
import os
import tempfile
import time

import numpy as np
import yaml

from standard import UNICYCLE

LOOPBACK = {'ROS_AUTOMATIC_DISCOVERY_RANGE': 'LOCALHOST', 'ROS_STATIC_PEERS': '127.0.0.1',
            'PYTHONUNBUFFERED': '1'}


def parameter_file(directory, rate, solver):
    mpc = dict(UNICYCLE, solver={'name': solver, 'max_iter': 1, 'time_limit': 0.5 / rate},
               rate_hz=float(rate), twist_stamped=True, state_timeout=0.5)
    sim = {'model': {'name': 'diff_drive'}, 'sim_rate_hz': float(rate), 'twist_stamped': True,
           'publish_clock': False, 'real_time_factor': 1.0}
    path = os.path.join(directory, 'loop_latency.yaml')
    with open(path, 'w') as f:
        yaml.safe_dump({'mpc_node': {'ros__parameters': _plain(mpc)},
                        'sim_node': {'ros__parameters': sim}}, f)
    return path


def _plain(value):
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return float(value) if isinstance(value, (float, np.floating)) else value


def vm_hwm_mb(pid):
    with open('/proc/%d/status' % pid) as f:
        for line in f:
            if line.startswith('VmHWM:'):
                return int(line.split()[1]) / 1024.0
    return float('nan')


class Listener:
    """Commands and the controller's diagnostics, keyed by the step stamp."""

    def __init__(self, domain):
        from diagnostic_msgs.msg import DiagnosticArray
        from geometry_msgs.msg import TwistStamped
        from casadi_mpc.ros import qos
        from casadi_mpc.ros.probe import Probe
        self.probe = Probe(domain, 'loop_latency')
        self.node = self.probe.node
        self.arrivals, self.steps, self.recording, self.mode = {}, {}, False, None
        self.node.create_subscription(TwistStamped, 'cmd_vel', self._on_cmd, qos.COMMAND)
        self.node.create_subscription(DiagnosticArray, '/diagnostics', self._on_diag,
                                      qos.DIAGNOSTICS)

    def _on_cmd(self, msg):
        if self.recording:
            now = self.node.get_clock().now().nanoseconds
            self.arrivals[(msg.header.stamp.sec, msg.header.stamp.nanosec)] = now

    def _on_diag(self, msg):
        from casadi_mpc.ros.diagnostics import values_of
        for name, values in values_of(msg).items():
            if 'mpc_node' in name:
                self.mode = values.get('mode')
                if self.recording:
                    self.steps[(msg.header.stamp.sec, msg.header.stamp.nanosec)] = values

    def record(self, seconds, check):
        """Keep what arrives during ``seconds`` (the measurement window)."""
        self.recording = True
        end = time.monotonic() + seconds
        self.probe.wait_for(lambda: time.monotonic() >= end, seconds + 1.0, 'the window', check)
        self.recording = False


def stamp_ns(key):
    return key[0] * 1_000_000_000 + key[1]


def figures(listener):
    to_publish, delivery, solve = [], [], []
    for key, values in listener.steps.items():
        if values.get('mode') != 'NORMAL' or 'state_stamp' not in values:
            continue
        sec, nsec = values['state_stamp'].split('.')
        to_publish.append((stamp_ns(key) - (int(sec) * 1_000_000_000 + int(nsec))) * 1e-6)
        solve.append(float(values['solve_time_ms']))
        if key in listener.arrivals:
            delivery.append((listener.arrivals[key] - stamp_ns(key)) * 1e-6)
    return np.array(to_publish), np.array(delivery), np.array(solve)


def row(label, values):
    if not len(values):
        return '  %-34s no samples' % label
    return '  %-34s median %7.3f ms   p99 %7.3f ms   max %7.3f ms   (n=%d)' % (
        label, np.median(values), np.percentile(values, 99), np.max(values), len(values))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('--seconds', type=float, default=10.0, help='recording time [s]')
    ap.add_argument('--rate', type=float, default=100.0, help='control and state rate [Hz]')
    ap.add_argument('--solver', default='sqp_rti')
    args = ap.parse_args()
    os.environ.update(LOOPBACK)
    os.environ.setdefault('ROS_DOMAIN_ID', str(5 + os.getpid() % 90))
    os.environ.setdefault('ROS_HOME', tempfile.mkdtemp(prefix='casadi_mpc_bench_'))
    from casadi_mpc import bringup
    from casadi_mpc.runner import System
    with tempfile.TemporaryDirectory() as tmp:
        path = parameter_file(tmp, args.rate, args.solver)
        specs = bringup.system('sim', {'robot': 'diff_drive', 'params_file': path,
                                       'use_sim_time': 'false'})
        with System(specs, echo=None) as system:
            listener = Listener(int(os.environ['ROS_DOMAIN_ID']))
            try:
                listener.probe.wait_for(lambda: listener.mode == 'NORMAL', 60,
                                        'the controller running', system.check)
                listener.record(args.seconds, system.check)
                memory = {name: vm_hwm_mb(p.pid) for name, p in system.processes.items()}
                last = dict(listener.steps[max(listener.steps)]) if listener.steps else {}
            finally:
                listener.probe.close()
    to_publish, delivery, solve = figures(listener)
    print('loop latency: unicycle (N=%d, dt=%.2g s), %s, %.0f Hz state and control, %.0f s'
          % (UNICYCLE['horizon'], UNICYCLE['dt'], args.solver, args.rate, args.seconds))
    print(row('state sent -> command published', to_publish))
    print(row('command published -> received', delivery))
    print(row('solve time (in the controller)', solve))
    print('  deadline misses %s, fallbacks %s, failures %s over %s steps' % (
        last.get('deadline_misses'), last.get('fallbacks'), last.get('failures'),
        last.get('steps')))
    for name, mb in memory.items():
        print('  peak memory %-10s VmHWM %7.1f MB' % (name, mb))


if __name__ == '__main__':
    main()
