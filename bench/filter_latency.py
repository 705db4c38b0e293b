"""Safety-filter latency across processes next to the transport floor, and memory per node.

A teleop in this process sends TwistStamped desired commands (stamped as they leave) on
``cmd_vel_in`` at ``--rate`` to safety_filter_node (the diff-drive filter of
config/diff_drive.yaml, compiled, on wall time), which filters each one at once and publishes
``cmd_vel``; sim_node plays the robot (odometry at the same rate). The filter's telemetry names
the stamp of the desired command each step used and carries the step's stamp, the one its
command went out with, so (one machine clock):

  desired sent -> safe command published   = command stamp - desired stamp (one hop through
                                             DDS to the filter, and the filter's step)
  safe command published -> received here  = arrival - command stamp (DDS delivery alone)

Then ``transport_floor.py`` sends a stamped message between two bare processes at the same rate
(the fastest way rclpy takes it): the floor under the first row; the difference of the p99s is
the filter's own share. Desired commands are safe (free space, within the rate limits), so the
filter solves and passes them unchanged, the common case. Last, the whole system (sim_node,
estimator_node, safety_filter_node, mpc_node) runs for a few seconds and the peak memory of each
node process (VmHWM) is printed. Not a test: it prints.

    python bench/filter_latency.py [--seconds 10] [--rate 100] [--no-floor] [--no-memory]
"""
import argparse
import os
import struct
import tempfile
import threading
import time

import numpy as np
import yaml

from casadi_mpc.loopback import LOOPBACK
from loop_latency import row, vm_hwm_mb
import transport_floor

HERE = os.path.dirname(os.path.abspath(__file__))
CONFIG = os.path.join(HERE, '..', 'config', 'diff_drive.yaml')


def parameter_file(directory, rate):
    with open(CONFIG) as f:
        document = yaml.safe_load(f)
    sections = {k: document[k] for k in ('safety_filter_node', 'sim_node')}
    sections['safety_filter_node']['ros__parameters']['twist_stamped'] = True
    sim = sections['sim_node']['ros__parameters']
    sim.update({'sim_rate_hz': float(rate), 'twist_stamped': True, 'publish_clock': False})
    path = os.path.join(directory, 'filter_latency.yaml')
    with open(path, 'w') as f:
        yaml.safe_dump(sections, f)
    return path


class Teleop:
    """Desired commands at ``rate`` from a thread of this process, each stamped as it leaves;
    the filter's telemetry and commands kept raw while recording, decoded afterwards."""

    def __init__(self, domain, rate):
        from diagnostic_msgs.msg import DiagnosticArray
        from geometry_msgs.msg import TwistStamped
        from casadi_mpc.ros import qos
        from casadi_mpc.tools.probe import Probe
        self.probe = Probe(domain, 'filter_latency')
        self.rate, self.recording, self.mode = rate, False, None
        self.raw = {'cmd': [], 'diag': []}
        self.pub = self.probe.node.create_publisher(TwistStamped, 'cmd_vel_in', qos.COMMAND)
        self.probe.node.create_subscription(TwistStamped, 'cmd_vel', self._on_cmd, qos.COMMAND,
                                            raw=True)
        self.probe.node.create_subscription(DiagnosticArray, 'safety_filter_node/telemetry',
                                            self._on_diag, qos.DIAGNOSTICS, raw=True)
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._send, daemon=True)
        self.thread.start()

    def _send(self):
        from casadi_mpc.ros import cdr
        period, next_at = 1.0 / self.rate, time.monotonic()
        while not self._stop.is_set():
            next_at += period
            time.sleep(max(0.0, next_at - time.monotonic()))
            now = time.clock_gettime_ns(time.CLOCK_REALTIME)
            self.pub.publish(cdr.twist((0.3, 0.0, 0.0), (0.0, 0.0, 0.1),
                                       divmod(now, 1_000_000_000), 'base_link'))

    def _on_cmd(self, buf):
        if self.recording:
            self.raw['cmd'].append((time.clock_gettime_ns(time.CLOCK_REALTIME), buf))

    def _on_diag(self, buf):
        if self.recording:
            self.raw['diag'].append(buf)
        else:
            self.mode = self._values(buf)[1].get('mode')

    @staticmethod
    def _values(buf):
        from diagnostic_msgs.msg import DiagnosticArray
        from rclpy.serialization import deserialize_message
        from casadi_mpc.ros.diagnostics import values_of
        msg = deserialize_message(buf, DiagnosticArray)
        stamp = msg.header.stamp.sec * 1_000_000_000 + msg.header.stamp.nanosec
        values = next(iter(values_of(msg).values()), {})
        return stamp, values

    def record(self, seconds, check):
        self.recording = True
        end = time.monotonic() + seconds
        self.probe.wait_for(lambda: time.monotonic() >= end, seconds + 1.0, 'the window', check)
        self.recording = False

    def figures(self):
        """[ms] desired sent -> command published, published -> received; solve, step; and
        the share of steps that passed the desired command unchanged."""
        arrivals = {struct.unpack_from('<iI', buf, 4): t for t, buf in self.raw['cmd']}
        published, delivery, solve, step, passed = [], [], [], [], []
        for buf in self.raw['diag']:
            stamp, v = self._values(buf)
            if v.get('mode') != 'NORMAL' or 'desired_stamp' not in v:
                continue
            sec, nsec = v['desired_stamp'].split('.')
            published.append((stamp - int(sec) * 1_000_000_000 - int(nsec)) * 1e-6)
            arrival = arrivals.get(divmod(stamp, 1_000_000_000))
            if arrival is not None:
                delivery.append((arrival - stamp) * 1e-6)
            solve.append(float(v.get('solve_time_ms', 'nan')))
            step.append(float(v['step_time_ms']))
            passed.append(float(v['intervention']) == 0.0)
        return [np.array(a) for a in (published, delivery, solve, step)], \
            float(np.mean(passed)) if passed else float('nan')

    def close(self):
        self._stop.set()
        self.thread.join(timeout=1.0)
        self.probe.close()


def memory(seconds=15.0):
    """Peak memory (VmHWM, MB) of every node of the full simulated system after ``seconds``
    of running (start-up included)."""
    from casadi_mpc import bringup
    from casadi_mpc.runner import System
    specs = bringup.system('sim', {'robot': 'diff_drive', 'estimator': 'true',
                                   'safety_filter': 'true'})
    with System(specs, echo=None) as system:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            system.check()
            time.sleep(0.2)
        return {name: vm_hwm_mb(p.pid) for name, p in system.processes.items()}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('--seconds', type=float, default=10.0, help='recording time [s]')
    ap.add_argument('--rate', type=float, default=100.0, help='desired commands per second')
    ap.add_argument('--no-floor', action='store_true')
    ap.add_argument('--no-memory', action='store_true')
    args = ap.parse_args()
    os.environ.update(LOOPBACK)
    os.environ.setdefault('ROS_DOMAIN_ID', str(5 + os.getpid() % 90))
    os.environ.setdefault('ROS_HOME', tempfile.mkdtemp(prefix='casadi_mpc_bench_'))
    from casadi_mpc import bringup
    from casadi_mpc.core.safety_filter import SafetyFilter
    from casadi_mpc.core.safety_filter_config import load
    from casadi_mpc.runner import System
    SafetyFilter(load(CONFIG), progress=lambda msg: None)   # the compiled solver, cached
    with tempfile.TemporaryDirectory() as tmp:
        path = parameter_file(tmp, args.rate)
        specs = [s for s in bringup.system('sim', {'robot': 'diff_drive', 'params_file': path,
                                                   'use_sim_time': 'false',
                                                   'safety_filter': 'true'})
                 if s.name != 'mpc_node']
        with System(specs, echo=None) as system:
            teleop = Teleop(int(os.environ['ROS_DOMAIN_ID']), args.rate)
            try:
                teleop.probe.wait_for(lambda: teleop.mode == 'NORMAL', 120,
                                      'the filter running', system.check)
                teleop.record(args.seconds, system.check)
            finally:
                teleop.close()
    (published, delivery, solve, step), passed = teleop.figures()
    print('safety filter latency: diff-drive filter (N=%d, dt=%.3g s, compiled sqp), desired '
          'TwistStamped at %.0f Hz from another process, %.0f s; %.0f %% passed unchanged'
          % (load(CONFIG).horizon, load(CONFIG).dt, args.rate, args.seconds, 100 * passed))
    print(row('desired sent -> command published', published))
    print(row('command published -> received', delivery))
    print(row('solve time (in the filter)', solve))
    print(row('step time (in the filter)', step))
    if not args.no_floor:
        floor, _ = transport_floor.measure(args.seconds, args.rate)
        print('transport floor: a stamped message between two bare processes, same rate')
        print(row('stamp -> taken by the subscriber', floor))
        if len(published) and len(floor):
            print('  above the floor (desired sent -> command published): median %.3f ms, '
                  'p99 %.3f ms' % (np.median(published) - np.median(floor),
                                   np.percentile(published, 99) - np.percentile(floor, 99)))
    if not args.no_memory:
        print('peak memory per node (sim, estimator, safety filter and controller running)')
        for name, mb in memory().items():
            print('  %-20s VmHWM %7.1f MB' % (name, mb))


if __name__ == '__main__':
    main()
