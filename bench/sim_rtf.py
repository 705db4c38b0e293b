"""The simulator's real-time factor per robot, on one core: the robot on MuJoCo next to the
controller's own model (RK4), in the same run.

For each shipped robot (config/<robot>.yaml, its sim_node section) both plants step for
``--seconds`` of simulated time at the simulator's publish rate under a moving command (arms:
the holding torque plus a slow sine; bases: a sine on every input), and the state message
``sim_node`` publishes per step is built too. Real-time factor = simulated seconds per second
of CPU time of this process (what one core achieves, unlike wall time, whatever else runs on
the machine), and per wall-clock second for the whole loop (the command it computes
included); MuJoCo's physics runs at ``--physics-hz`` (default 1 kHz, its time step 1 ms).
The process is pinned to one core.

    PYTHONPATH=src python bench/sim_rtf.py [--seconds 20] [--physics-hz 1000]
"""
import argparse
import os
import time

import numpy as np
from builtin_interfaces.msg import Time

from casadi_mpc.bringup import ROBOTS, default_params_file
from casadi_mpc.core import sim_config
from casadi_mpc.core.models import build_model
from casadi_mpc.core.plant import make_plant
from casadi_mpc.ros import conversions as conv


def command(model, plant, t):
    scale = np.where(np.isfinite(model.u_ub), model.u_ub, 1.0)
    wave = 0.2 * scale * np.sin(2 * np.pi * 0.5 * t + np.arange(model.nu))
    if model.holding is not None:
        return np.asarray(model.holding(plant.x, plant.p), float).ravel() + wave
    return wave


def publish_work(model, x, u, stamp):
    if model.kind == 'arm':
        return conv.state_to_joint_state(x, model, stamp, u)
    return conv.state_to_odometry_bytes(x, u, model, stamp, 'odom', 'base_link')


def measure(cfg, model, seconds):
    """Real-time factors of the plant alone and with the state message (CPU time), of the
    whole loop (wall time), and the final state."""
    plant = make_plant(cfg, model)
    dt = 1.0 / cfg.sim_rate_hz
    steps = int(round(seconds / dt))
    stamp = Time()
    physics = messages = 0.0
    wall = time.perf_counter()
    for k in range(steps):
        u = command(model, plant, k * dt)
        t0 = time.thread_time()
        x = plant.step(u, dt)
        t1 = time.thread_time()
        publish_work(model, x, plant.applied, stamp)
        messages += time.thread_time() - t1
        physics += t1 - t0
    wall = time.perf_counter() - wall
    sim = steps * dt
    return sim / physics, sim / (physics + messages), sim / wall, x


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('--seconds', type=float, default=20.0, help='simulated time per run [s]')
    ap.add_argument('--physics-hz', type=float, default=1000.0, help='MuJoCo physics rate')
    ap.add_argument('--robots', nargs='*', default=list(ROBOTS))
    args = ap.parse_args()
    if hasattr(os, 'sched_setaffinity'):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
    print('simulator real-time factor (simulated s per s of CPU or wall time), one core, %.0f s '
          'simulated'
          % args.seconds)
    print('%-18s %-8s %10s %10s %12s %14s %10s' % (
        'robot', 'engine', 'physics', 'publish', 'plant (cpu)', 'with msg (cpu)',
        'all (wall)'))
    for robot in args.robots:
        path = default_params_file(robot)
        base = sim_config.load(path)
        model = build_model(base.model.name, **base.model.options())
        for engine in ('model', 'mujoco'):
            changes = {'engine': engine, 'mujoco.timestep': 1.0 / args.physics_hz,
                       'noise_std': []}
            cfg = sim_config.parse({**base.model_dump(), **changes}, path)
            rate = (1.0 / cfg.mujoco.timestep if engine == 'mujoco' else
                    max(cfg.sim_rate_hz, 1.0 / cfg.max_step))
            alone, with_msg, wall, x = measure(cfg, model, args.seconds)
            ok = np.all(np.isfinite(x))
            print('%-18s %-8s %7.0f Hz %7.0f Hz %11.1fx %13.1fx %9.1fx%s'
                  % (robot, engine, rate, cfg.sim_rate_hz, alone, with_msg, wall,
                     '' if ok else '  (state not finite)'))
    print('target: >= 10x real time for the 7-DOF arm (urdf_arm) on MuJoCo at 1 kHz physics; '
          'load average now %.1f on %d cores' % (os.getloadavg()[0], os.cpu_count()))


if __name__ == '__main__':
    main()
