"""`casadi-mpc simulate`: the offline closed loop from the command line (no ROS)."""
import argparse
import json
import sys

import numpy as np

from ..core import closed_loop
from ..core.config import ConfigError, load, with_changes
from ..core.controller import MPCController
from ..core.solvers import COMPILABLE


def parse_args(argv):
    ap = argparse.ArgumentParser(prog='casadi-mpc simulate', description=__doc__)
    ap.add_argument('--config', required=True, help='parameter file, e.g. config/diff_drive.yaml')
    ap.add_argument('--goal', type=float, nargs='+', help='goal state (overrides the file)')
    ap.add_argument('--x0', type=float, nargs='+', help='initial state (default: zeros)')
    ap.add_argument('--steps', type=int, default=100, help='control steps (default 100)')
    ap.add_argument('--solver', help='backend: ipopt, fatrop, sqp, sqp_rti')
    ap.add_argument('--compiled', action='store_true', help='generated C (sqp, sqp_rti)')
    ap.add_argument('--time-limit', type=float, help='solver.time_limit [s] (a solve that '
                    'takes longer counts as failed, as in the node)')
    ap.add_argument('--mismatch', nargs='*', default=[], metavar='NAME=VALUE',
                    help="plant model parameters that differ from the controller's")
    ap.add_argument('--noise', type=float, default=0.0, help='process noise std [SI/sqrt(s)]')
    ap.add_argument('--json', help='write the summary to this file')
    ap.add_argument('--plot', help='write a PNG of states, inputs and solve times')
    ap.add_argument('--record', help='write the run as an MCAP recording with the topics and '
                    'ROS 2 message types of the system (state, command, predictions, '
                    'telemetry, /clock): casadi-mpc report draws it')
    ap.add_argument('--quiet', action='store_true', help='no progress line')
    return ap.parse_args(argv)


def build(args):
    cfg = load(args.config)
    changes = {}
    if args.goal:
        changes['goal'] = args.goal
    if args.solver:
        changes['solver.name'] = args.solver
        if cfg.solver.compiled and args.solver not in COMPILABLE and not args.compiled:
            print('note: --solver %s runs uncompiled (compiled mode is for %s)'
                  % (args.solver, ', '.join(COMPILABLE)), file=sys.stderr)
            changes['solver.compiled'] = False
    if args.compiled:
        changes['solver.compiled'] = True
    if args.time_limit is not None:
        changes['solver.time_limit'] = args.time_limit
    return with_changes(cfg, changes, 'command line') if changes else cfg


def mismatch(pairs):
    out = {}
    for pair in pairs:
        name, sep, value = pair.partition('=')
        if not sep:
            raise ConfigError('--mismatch %s: expected NAME=VALUE' % pair)
        out[name] = float(value)
    return out


def main(argv=None):
    args = parse_args(argv)
    try:
        cfg = build(args)
        controller = MPCController(cfg, progress=lambda m: print('[build] ' + m, file=sys.stderr))
        plant_params = dict(cfg.model.params, **mismatch(args.mismatch))
        x0 = np.array(args.x0 if args.x0 else np.zeros(controller.model.nx))
        if x0.shape != (controller.model.nx,):
            raise ConfigError('--x0: expected %d values (%s)' % (
                controller.model.nx, ', '.join(controller.model.state_names)))
        controller.model.param_vector(plant_params)
    except (ConfigError, KeyError) as err:
        print('error: %s' % (err.args[0] if err.args else err), file=sys.stderr)
        return 2

    def progress(k, n, err):
        if not args.quiet and (k % 10 == 0 or k == n - 1):
            print('\rstep %4d/%d  error %.4f' % (k + 1, n, err), end='', file=sys.stderr)
    log, summary = closed_loop.run(controller, x0, args.steps, plant_params, args.noise,
                                   progress=progress,
                                   keep_predictions=bool(args.plot or args.record))
    if not args.quiet:
        print(file=sys.stderr)
    print_summary(summary, cfg.solver.time_limit)
    if args.json:
        with open(args.json, 'w') as f:
            json.dump(summary, f, indent=2)
    if args.record:
        record(args.record, controller, log, plant_params, args.config)
        print('recording written to %s' % args.record)
    if args.plot:
        from .report import plot_closed_loop
        plot_closed_loop(controller.model, log, summary, args.plot)
        print('plot written to %s' % args.plot)
    return 0 if summary['goal_reached'] else 1


def print_summary(s, time_limit=None):
    st, it = s['solve_time_ms'], s['iterations']
    why = ', '.join('%s %d' % kv for kv in s.get('failure_status', {}).items())
    if s.get('failure_status', {}).get('timeout') and time_limit is not None:
        why += ': solves longer than solver.time_limit %g s (--time-limit)' % time_limit
    rows = [
        ('model / solver', '%s / %s%s' % (s['model'], s['solver'],
                                          ' (compiled)' if s['compiled'] else '')),
        ('goal reached', '%s (time to goal %s)' % (
            'yes' if s['goal_reached'] else 'NO',
            '%.2f s' % s['time_to_goal'] if s['time_to_goal'] is not None else '-')),
        ('final error', '%.4g' % s['final_error']),
        ('energy used', '%.4g %s' % (s['energy'], s['energy_unit'])),
        ('task / energy cost', '%.4g / %.4g' % (s['task_cost'], s['energy_cost'])),
        ('solve time ms', 'median %.3f  p99 %.3f  max %.3f' % (
            st['median'], st['p99'], st['max'])),
        ('iterations', 'median %g  max %d' % (it['median'], it['max'])),
        ('failures / steps', '%d / %d%s' % (s['failures'], s['steps'],
                                            ' (%s)' % why if why else '')),
    ]
    for name, value in rows:
        print('%-20s %s' % (name, value))


def record(path, controller, log, plant_params, params_file):
    """The run as the system would have published it, stamped with the simulated time: the
    state (``/odom`` or ``/joint_states``), the command (``/cmd_vel`` or ``/commands``), the
    predicted horizon and the telemetry of ``/mpc_node``, and ``/clock``."""
    from builtin_interfaces.msg import Time
    from rosgraph_msgs.msg import Clock
    from ..ros import conversions as conv, diagnostics
    from .record import Recording, parameters_metadata
    model, cfg = controller.model, controller.cfg
    p = model.param_vector(plant_params)
    unit, energy = closed_loop.energy_unit(model), 0.0
    arm = model.kind == 'arm'
    goal = ' '.join('%.4g' % g for g in controller.goal)
    with Recording(path, parameters_metadata(params_file)) as rec:
        for k, (t, x, u) in enumerate(zip(log.t, log.x, log.u)):
            ns = int(round(t * 1e9))
            stamp = Time(sec=ns // 1_000_000_000, nanosec=ns % 1_000_000_000)
            rec.write('/clock', Clock(clock=stamp), ns)
            if arm:
                rec.write('/joint_states', conv.state_to_joint_state(x, model, stamp, u), ns)
            else:
                rec.write('/odom', conv.state_to_odometry(x, u, model, stamp, cfg.frame_id,
                                                          'base_link'), ns)
            if conv.twist_commanded(model):
                rec.write('/cmd_vel', conv.to_twist(u), ns)
            else:
                rec.write('/commands', conv.to_float_array(u, 'joints' if arm else 'inputs'),
                          ns)
            if k < len(log.predictions):
                pred = log.predictions[k]
                if arm:
                    rec.write('/mpc_node/predicted_trajectory',
                              conv.to_joint_trajectory(pred, None, model, stamp, cfg.dt), ns)
                else:
                    rec.write('/mpc_node/predicted_path',
                              conv.to_path(pred, model, stamp, cfg.frame_id), ns)
            error = controller.goal_error(x)
            values = {'mode': 'NORMAL', 'solver_status': log.status[k],
                      'solve_time_ms': log.solve_time[k] * 1e3,
                      'iterations': int(log.iterations[k]),
                      'cost.task': float(log.task_cost[k]),
                      'cost.energy': float(log.energy_cost[k]), 'goal': goal,
                      'goal_error': error, 'goal_reached': bool(error < cfg.goal_tolerance),
                      'energy_used': energy, 'energy_unit': unit, 'model': model.name,
                      'solver': cfg.solver.name, 'state': diagnostics.numbers(x),
                      'command': diagnostics.numbers(u)}
            energy += closed_loop.energy_rate(model, x, u, p) * cfg.dt
            rec.write('/mpc_node/telemetry', diagnostics.array(stamp, diagnostics.status(
                '/mpc_node: model predictive control', model.name, 'NORMAL', '', values)), ns)
