"""Why mpc_node takes its state on a wait set of its own: the cost of rclpy's executor.

One process publishes an Odometry every few milliseconds; the same state message reaches a
handler two ways, measured in the same run and printed side by side (publish -> handler,
median and p99):

- ``intake``: ``ros/intake.py``, the state thread of mpc_node: a wait set on the one
  subscription, the message taken as bytes (rclpy's implementation module, as rclpy's own
  ``wait_for_message`` does);
- ``executor``: rclpy's public API only: a dedicated node holding the one subscription (no
  parameter services, no rosout), spun by a SingleThreadedExecutor on a thread.

The difference is the executor's per-message overhead (its wait set rebuilt from the node's
entities, a task per callback), which the controller would pay on every state. Not a test.

    python bench/intake.py [--messages 3000] [--period 0.002]
"""
import argparse
import os
import subprocess
import sys
import tempfile
import threading
import time

import numpy as np

from casadi_mpc.loopback import Domain, LOOPBACK

WARMUP = 100   # messages left out at the start (discovery, first allocations)


def measure(mode, messages, period):
    import rclpy
    from nav_msgs.msg import Odometry
    from rclpy.executors import SingleThreadedExecutor
    from rclpy.parameter import Parameter

    from casadi_mpc.ros import qos
    from casadi_mpc.ros.intake import StateIntake

    rclpy.init()
    node = rclpy.create_node('intake_bench')
    pub = node.create_publisher(Odometry, 'intake_odom', qos.STATE_OUT)
    sent, latency = [0], []

    def handler(_):
        latency.append(time.perf_counter_ns() - sent[0])
    stop = threading.Event()
    if mode == 'intake':
        intake = StateIntake(node, Odometry, 'intake_odom', qos.STATE, handler, print)
    else:
        side = rclpy.create_node('intake_bench_state', start_parameter_services=False,
                                 enable_rosout=False, parameter_overrides=[
                                     Parameter('start_type_description_service', value=False)])
        side.create_subscription(Odometry, 'intake_odom', handler, qos.STATE, raw=True)
        executor = SingleThreadedExecutor()
        executor.add_node(side)

        def spin():
            while not stop.is_set():
                executor.spin_once(timeout_sec=0.1)
        threading.Thread(target=spin, daemon=True).start()
    deadline = time.monotonic() + 10.0
    while pub.get_subscription_count() == 0 and time.monotonic() < deadline:
        time.sleep(0.01)   # discovery (the same process: usually at once)
    msg = Odometry()
    for _ in range(messages):
        sent[0] = time.perf_counter_ns()
        pub.publish(msg)
        time.sleep(period)
    stop.set()
    if mode == 'intake':
        intake.close()
    us = np.asarray(latency[WARMUP:], float) / 1e3
    print('%s %d %.1f %.1f' % (mode, len(latency), np.median(us), np.percentile(us, 99)),
          flush=True)
    os._exit(0)   # no teardown race between the spinning thread and rclpy's shutdown


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('--messages', type=int, default=3000)
    ap.add_argument('--period', type=float, default=0.002, help='[s] between messages')
    ap.add_argument('--mode', choices=('intake', 'executor'), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.mode:
        measure(args.mode, args.messages, args.period)
        return
    domain = Domain()
    env = dict(os.environ, **LOOPBACK, ROS_DOMAIN_ID=str(domain.id),
               ROS_HOME=tempfile.mkdtemp(prefix='casadi_mpc_intake_'))
    rows = {}
    for mode in ('intake', 'executor'):   # one process each: nothing shared between them
        out = subprocess.run([sys.executable, __file__, '--mode', mode, '--messages',
                              str(args.messages), '--period', str(args.period)], env=env,
                             capture_output=True, text=True, check=True).stdout.split()
        rows[mode] = (int(out[1]), float(out[2]), float(out[3]))
    print('publish -> handler, same process, %d messages %.1f ms apart'
          % (args.messages, args.period * 1e3))
    print('%-10s %9s %12s %10s' % ('path', 'received', 'median us', 'p99 us'))
    for mode, (count, median, p99) in rows.items():
        print('%-10s %9d %12.1f %10.1f' % (mode, count, median, p99))
    print('executor / intake: median %.2fx, p99 %.2fx' % (
        rows['executor'][1] / rows['intake'][1], rows['executor'][2] / rows['intake'][2]))


if __name__ == '__main__':
    main()
