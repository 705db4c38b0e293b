"""Loop latency across processes: state message -> command publish, and peak memory per node.

sim_node publishes odometry at 100 Hz; mpc_node (the standard unicycle problem, compiled sqp_rti,
100 Hz, solving as each state arrives or on its timer: ``--trigger``) publishes a TwistStamped;
this script listens. For every control step the controller's telemetry (``mpc_node/telemetry``)
names the header stamp of the state it used, and the command carries the step's stamp, so (all
on one machine clock):

  state sent -> command published = command stamp - state stamp (with --trigger timer this
                                    includes waiting for the tick)
  state sent -> command received  = arrival here - state stamp (the round trip through DDS to
                                    the controller and on to a third process)
  command published -> received   = arrival here - command stamp (DDS delivery alone)

Deadline misses are the controller's counter (compute time over one period, or a solve over
its time limit) during the window. Peak memory is VmHWM from /proc/<pid>/status of each node
process. Then, unless ``--no-floor``, ``transport_floor.py`` measures the same state message
between two bare processes with nothing else running: the floor under the first row on this
machine. Not a test: it prints.

    python bench/loop_latency.py [--seconds 10] [--rate 100] [--solver sqp_rti]
                                 [--trigger state|timer] [--no-compiled] [--no-floor]
                                 [--realtime PRIORITY]

``--realtime`` runs both nodes (and the floor's two processes) at that SCHED_FIFO priority
(``realtime_priority``); it needs CAP_SYS_NICE or an rtprio limit.
"""
import argparse
import os
import tempfile
import time

import numpy as np
import yaml

from casadi_mpc.loopback import LOOPBACK
import transport_floor
from casadi_mpc.tools.problems import get as problem

UNICYCLE = problem('unicycle').config


def parameter_file(directory, rate, solver, trigger, compiled, realtime=0):
    mpc = dict(UNICYCLE, solver={'name': solver, 'max_iter': 1, 'time_limit': 0.5 / rate,
                                 'compiled': compiled},
               rate_hz=float(rate), twist_stamped=True, state_timeout=0.5,
               control_trigger=trigger, realtime_priority=realtime)
    sim = {'model': {'name': 'diff_drive'}, 'sim_rate_hz': float(rate), 'twist_stamped': True,
           'publish_clock': False, 'real_time_factor': 1.0, 'realtime_priority': realtime}
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
    """Commands and the controller's per-step telemetry, keyed by the step stamp.

    While recording it keeps the serialized messages with their arrival times and decodes them
    afterwards: a listener decoding at 100 Hz would take CPU from the processes it measures."""

    def __init__(self, domain):
        from diagnostic_msgs.msg import DiagnosticArray
        from geometry_msgs.msg import TwistStamped
        from nav_msgs.msg import Odometry
        from casadi_mpc.ros import qos
        from casadi_mpc.tools.probe import Probe
        self.probe = Probe(domain, 'loop_latency')
        self.node = self.probe.node
        self.arrivals, self.steps, self.recording, self.mode = {}, {}, False, None
        self.states = 0
        self.raw = {'cmd': [], 'diag': []}
        self.node.create_subscription(TwistStamped, 'cmd_vel', self._on_cmd, qos.COMMAND,
                                      raw=True)
        self.node.create_subscription(Odometry, 'odom', self._on_state, qos.STATE, raw=True)
        self.node.create_subscription(DiagnosticArray, 'mpc_node/telemetry', self._on_diag,
                                      qos.DIAGNOSTICS, raw=True)

    def _on_cmd(self, buf):
        if self.recording:
            self.raw['cmd'].append((time.clock_gettime_ns(time.CLOCK_REALTIME), buf))

    def _on_state(self, buf):
        if self.recording:
            self.states += 1

    def _on_diag(self, buf):
        if self.recording:
            self.raw['diag'].append(buf)
        else:
            self._decode_diag(buf, keep=False)

    def _decode_diag(self, buf, keep):
        from diagnostic_msgs.msg import DiagnosticArray
        from rclpy.serialization import deserialize_message
        from casadi_mpc.ros.diagnostics import values_of
        msg = deserialize_message(buf, DiagnosticArray)
        for name, values in values_of(msg).items():
            if 'mpc_node' in name:
                self.mode = values.get('mode')
                if keep:
                    self.steps[(msg.header.stamp.sec, msg.header.stamp.nanosec)] = values

    def record(self, seconds, check):
        """Keep what arrives during ``seconds`` (the measurement window), then decode it."""
        import struct
        self.recording = True
        end = time.monotonic() + seconds
        self.probe.wait_for(lambda: time.monotonic() >= end, seconds + 1.0, 'the window', check)
        self.recording = False
        for buf in list(self.raw['diag']):
            self._decode_diag(buf, keep=True)
        for arrived, buf in list(self.raw['cmd']):   # TwistStamped: the header stamp first
            self.arrivals[struct.unpack_from('<iI', buf, 4)] = arrived


def stamp_ns(key):
    return key[0] * 1_000_000_000 + key[1]


def figures(listener):
    """Per NORMAL step [ms]: state -> published, state -> received, published -> received,
    solve time, step time."""
    out = [[], [], [], [], []]
    for key, values in listener.steps.items():
        if values.get('mode') != 'NORMAL' or 'state_stamp' not in values:
            continue
        sec, nsec = values['state_stamp'].split('.')
        state = int(sec) * 1_000_000_000 + int(nsec)
        out[0].append((stamp_ns(key) - state) * 1e-6)
        if key in listener.arrivals:
            out[1].append((listener.arrivals[key] - state) * 1e-6)
            out[2].append((listener.arrivals[key] - stamp_ns(key)) * 1e-6)
        out[3].append(float(values['solve_time_ms']))
        out[4].append(float(values['step_time_ms']))
    return [np.array(v) for v in out]


def counter_change(listener, name):
    """How much a telemetry counter grew during the window (None without samples)."""
    keys = sorted(listener.steps)
    values = [listener.steps[k].get(name) for k in (keys[0], keys[-1])] if keys else [None]
    if None in values:
        return None
    return int(values[1]) - int(values[0])


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
    ap.add_argument('--trigger', choices=('state', 'timer'), default='state',
                    help='control_trigger of mpc_node')
    ap.add_argument('--compiled', action=argparse.BooleanOptionalAction, default=None,
                    help='compiled solver (default: on for sqp and sqp_rti)')
    ap.add_argument('--no-floor', action='store_true',
                    help='skip the transport floor measurement')
    ap.add_argument('--realtime', type=int, default=0, metavar='PRIORITY',
                    help='SCHED_FIFO priority of the nodes and the floor processes (0: off)')
    args = ap.parse_args()
    if args.compiled is None:
        args.compiled = args.solver in ('sqp', 'sqp_rti')
    os.environ.update(LOOPBACK)
    os.environ.setdefault('ROS_DOMAIN_ID', str(5 + os.getpid() % 90))
    os.environ.setdefault('ROS_HOME', tempfile.mkdtemp(prefix='casadi_mpc_bench_'))
    from casadi_mpc import bringup
    from casadi_mpc.runner import System
    with tempfile.TemporaryDirectory() as tmp:
        path = parameter_file(tmp, args.rate, args.solver, args.trigger, args.compiled,
                              args.realtime)
        specs = bringup.system('sim', {'robot': 'diff_drive', 'params_file': path,
                                       'use_sim_time': 'false'})
        with System(specs, echo=None) as system:
            listener = Listener(int(os.environ['ROS_DOMAIN_ID']))
            try:
                # the first run of a compiled solver builds it (cached afterwards)
                listener.probe.wait_for(lambda: listener.mode == 'NORMAL', 300,
                                        'the controller running', system.check)
                listener.record(args.seconds, system.check)
                memory = {name: vm_hwm_mb(p.pid) for name, p in system.processes.items()}
            finally:
                listener.probe.close()
    published, received, delivery, solve, step = figures(listener)
    change = {name: counter_change(listener, name) for name in
              ('steps', 'solves', 'deadline_misses', 'fallbacks', 'failures', 'stale_steps')}
    print('loop latency: unicycle (N=%d, dt=%.2g s), %s%s, trigger %s, %.0f Hz state and '
          'control, %.0f s, %s' % (UNICYCLE['horizon'], UNICYCLE['dt'], args.solver,
                                   ' compiled' if args.compiled else '', args.trigger, args.rate,
                                   args.seconds, transport_floor.scheduling(args.realtime)))
    print(row('state sent -> command published', published))
    print(row('state sent -> command received', received))
    print(row('command published -> received', delivery))
    print(row('solve time (in the controller)', solve))
    print(row('step time (in the controller)', step))
    print('  in the window: %s steps (%s solves) for %d states received here; deadline misses '
          '%s, fallbacks %s, failures %s, stale steps %s' % (
              change['steps'], change['solves'], listener.states, change['deadline_misses'],
              change['fallbacks'], change['failures'], change['stale_steps']))
    for name, mb in memory.items():
        print('  peak memory %-10s VmHWM %7.1f MB' % (name, mb))
    if args.no_floor:
        return
    floor, calls = transport_floor.measure(args.seconds, args.rate, realtime=args.realtime)
    print('transport floor: the same Odometry between two bare processes, no controller')
    print('\n'.join(transport_floor.report(floor, calls)))
    if len(published) and len(floor):
        print('  above the floor (state sent -> command published): median %.3f ms, p99 %.3f '
              'ms' % (np.median(published) - np.median(floor),
                      np.percentile(published, 99) - np.percentile(floor, 99)))


if __name__ == '__main__':
    main()
