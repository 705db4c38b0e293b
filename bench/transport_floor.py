"""The floor under the loop latency: one state message across two processes, no controller.

A publisher process stamps an Odometry at the control rate and publishes it as sim_node does
(stamp, serialize, publish, with the same QoS); a subscriber process takes it the fastest way
rclpy offers (the same state thread the controller uses: a wait set on that one subscription,
serialized bytes) and records arrival - stamp; the publisher records how long serializing and
the ``publish`` call took. No node can react to a state sooner than this on the same machine,
middleware and rate; the controller's own share of its latency is what lies above it. Not a
test: it prints.

    python bench/transport_floor.py [--seconds 10] [--rate 100] [--realtime PRIORITY]

Run alone it starts both processes itself (loopback, its own ROS domain).
"""
import argparse
import json
import os
import struct
import subprocess
import sys
import tempfile
import time

import numpy as np

from casadi_mpc.loopback import LOOPBACK

TOPIC = 'floor_odom'
SETTLE = 1.0   # [s] left out at the start (discovery, first allocations)


def _now_ns():
    return time.clock_gettime_ns(time.CLOCK_REALTIME)


def scheduling(priority):
    return 'SCHED_FIFO %d' % priority if priority else 'normal scheduling'


def _realtime(priority):
    from casadi_mpc.ros.runtime import set_realtime
    failed = set_realtime(priority)
    if failed:
        print('transport_floor: SCHED_FIFO %d not applied: %s' % (priority, failed),
              file=sys.stderr)


def publish(seconds, rate, realtime=0):
    """Publisher role: wait for the subscriber, then publish for ``seconds``; prints the
    publish-call durations [ns] as JSON."""
    import rclpy
    from nav_msgs.msg import Odometry
    from rclpy.node import Node
    from casadi_mpc.ros import cdr, qos
    rclpy.init()
    node = Node('floor_publisher', start_parameter_services=False)
    _realtime(realtime)
    pub = node.create_publisher(Odometry, TOPIC, qos.STATE_OUT)
    deadline = time.monotonic() + 30.0
    while pub.get_subscription_count() < 1:
        if time.monotonic() > deadline:
            raise SystemExit('transport_floor: no subscriber within 30 s')
        time.sleep(0.01)
    period, calls = 1.0 / rate, []
    end = time.monotonic() + seconds
    next_at = time.monotonic()
    while time.monotonic() < end:
        next_at += period
        time.sleep(max(0.0, next_at - time.monotonic()))
        stamp = _now_ns()
        pub.publish(cdr.odometry(divmod(stamp, 1_000_000_000), 'odom', 'base_link', (0, 0, 0),
                                 (0, 0, 0, 1), (0, 0, 0), (0, 0, 0)))
        calls.append(_now_ns() - stamp)
    print(json.dumps(calls))
    node.destroy_node()
    rclpy.shutdown()


def subscribe(seconds, realtime=0):
    """Subscriber role: record arrival - stamp [ns] for ``seconds`` after the first message;
    prints them as JSON."""
    import rclpy
    from nav_msgs.msg import Odometry
    from rclpy.node import Node
    from casadi_mpc.ros import qos
    from casadi_mpc.ros.intake import StateIntake
    rclpy.init()
    node = Node('floor_subscriber', start_parameter_services=False)
    _realtime(realtime)
    latencies, first = [], []

    def on_state(buf):
        arrived = _now_ns()
        sec, nanosec = struct.unpack_from('<iI', buf, 4)
        latencies.append(arrived - (sec * 1_000_000_000 + nanosec))
        if not first:
            first.append(time.monotonic())
    intake = StateIntake(node, Odometry, TOPIC, qos.STATE, on_state, print)
    deadline = time.monotonic() + 30.0 + seconds
    while time.monotonic() < deadline and not (first and time.monotonic() > first[0] + seconds):
        time.sleep(0.05)
    intake.close()
    print(json.dumps(latencies))
    node.destroy_node()
    rclpy.shutdown()


def measure(seconds, rate, env=None, realtime=0):
    """Run both roles as processes (at SCHED_FIFO ``realtime`` unless 0); returns (latencies,
    publish calls) in ms, settling left out."""
    env = dict(os.environ if env is None else env, **LOOPBACK)
    env.setdefault('ROS_DOMAIN_ID', str(5 + os.getpid() % 90))
    env.setdefault('ROS_HOME', tempfile.mkdtemp(prefix='casadi_mpc_floor_'))
    me = [sys.executable, os.path.abspath(__file__), '--realtime', str(realtime)]
    sub = subprocess.Popen(me + ['--role', 'subscribe', '--seconds', str(seconds + SETTLE)],
                           env=env, stdout=subprocess.PIPE, text=True)
    pub = subprocess.Popen(me + ['--role', 'publish', '--seconds', str(seconds + SETTLE + 0.5),
                                 '--rate', str(rate)], env=env, stdout=subprocess.PIPE,
                           text=True)
    timeout = seconds + SETTLE + 60.0
    got_sub, got_pub = sub.communicate(timeout=timeout)[0], pub.communicate(timeout=timeout)[0]
    skip = int(SETTLE * rate)
    latencies = np.array(json.loads(got_sub.strip().splitlines()[-1]))[skip:] * 1e-6
    calls = np.array(json.loads(got_pub.strip().splitlines()[-1]))[skip:] * 1e-6
    return latencies, calls


def row(label, values):
    if not len(values):
        return '  %-34s no samples' % label
    return '  %-34s median %7.3f ms   p99 %7.3f ms   max %7.3f ms   (n=%d)' % (
        label, np.median(values), np.percentile(values, 99), np.max(values), len(values))


def report(latencies, calls):
    return [row('stamp -> taken by the subscriber', latencies),
            row('serialize + publish (publisher side)', calls)]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('--seconds', type=float, default=10.0)
    ap.add_argument('--rate', type=float, default=100.0)
    ap.add_argument('--realtime', type=int, default=0, metavar='PRIORITY',
                    help='SCHED_FIFO priority of both processes (0: off)')
    ap.add_argument('--role', choices=('publish', 'subscribe'), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.role == 'publish':
        return publish(args.seconds, args.rate, args.realtime)
    if args.role == 'subscribe':
        return subscribe(args.seconds, args.realtime)
    latencies, calls = measure(args.seconds, args.rate, realtime=args.realtime)
    print('transport floor: Odometry at %.0f Hz between two processes (Fast DDS, loopback), '
          'no controller, %.0f s, %s' % (args.rate, args.seconds, scheduling(args.realtime)))
    print('\n'.join(report(latencies, calls)))


if __name__ == '__main__':
    main()
