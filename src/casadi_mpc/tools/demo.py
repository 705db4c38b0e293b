"""`casadi-mpc demo`: the simulated robot and its controller over ROS 2, with a report.

Starts sim_node + mpc_node through the runner (headless, simulated time on /clock, faster than
real time), sends a goal, waits until the controller reports it reached, prints a summary and
writes a PNG (path with predicted horizons, commands, solve times). Exit status 0 only if the
goal was reached.
"""
import argparse
import os
import sys
import tempfile
import time

import numpy as np

from .. import bringup
from ..core import closed_loop, sim_config
from ..core.config import ConfigError, load
from ..core.models import ModelError, build
from ..loopback import LOOPBACK
from ..runner import NodeDied, System


def parse_args(argv):
    ap = argparse.ArgumentParser(prog='casadi-mpc demo', description=__doc__.split('\n\n')[0])
    ap.add_argument('--robot', default='diff_drive', help='a built-in model (%s), or '
                    "another model's name with --params-file" % ', '.join(bringup.robots()))
    ap.add_argument('--params-file', default='', help="default: the package's "
                    'config/<robot>.yaml')
    ap.add_argument('--goal', type=float, nargs='+', help='goal state (default: the goal in '
                    'the parameter file)')
    ap.add_argument('--out', default='demo_report.png', help='PNG report path')
    ap.add_argument('--timeout', type=float, default=120.0, help='wall-clock limit [s]')
    ap.add_argument('--real-time-factor', type=float, default=4.0,
                    help='simulated seconds per wall-clock second')
    ap.add_argument('--verbose', action='store_true', help="show the nodes' output")
    return ap.parse_args(argv)


def ros_environment():
    """Loopback-only DDS, a domain of our own, logs in a temporary ROS_HOME."""
    os.environ.update(LOOPBACK)
    os.environ.setdefault('ROS_DOMAIN_ID', str(5 + os.getpid() % 90))
    os.environ.setdefault('ROS_HOME', tempfile.mkdtemp(prefix='casadi_mpc_demo_'))
    return int(os.environ['ROS_DOMAIN_ID'])


def run(args, out=sys.stdout):
    params_file = args.params_file or bringup.default_params_file(args.robot)
    cfg, sim = load(params_file), sim_config.load(params_file)
    try:
        model = build(cfg.model)
    except ModelError as err:
        raise ConfigError(str(err)) from None
    x0 = sim_config.initial_state(sim, model)
    goal = np.asarray(args.goal or cfg.goal, float)
    if goal.shape != (model.nx,):
        raise ConfigError('goal: %d values needed (%s)' % (model.nx, ', '.join(
            model.state_names)))
    domain = ros_environment()
    from .observer import Observer
    launch_args = {'robot': args.robot, 'params_file': params_file,
                   'real_time_factor': str(args.real_time_factor)}
    # the controller holds the start until the demo sends its goal over the topic
    overrides = {'mpc_node': {'goal': x0.tolist()}}
    deadline = time.monotonic() + args.timeout
    echo = out if args.verbose else None
    with System.of('sim', launch_args, overrides, echo=echo) as system:
        observer = Observer(model, domain)

        def left():
            return max(1.0, deadline - time.monotonic())
        try:
            observer.wait_for(lambda: observer.value('mode') == 'NORMAL', left(),
                              'running controller', system.check)
            first = observer.send_goal(goal, min(20.0, left()), system.check)
            reached = True
            try:
                observer.wait_for(lambda: observer.value('goal_reached') == 'true', left(),
                                  'goal reached', system.check)
            except TimeoutError:
                reached = False
            steps = observer.steps[first:]
        finally:
            observer.close()
    return report(cfg, model, goal, steps, reached, args, params_file, out)


def _number(values, key):
    """A telemetry value as a float; nan when missing or not a number."""
    try:
        return float(values.get(key, 'nan'))
    except (TypeError, ValueError):
        return float('nan')


def _growth(v, key):
    """How much a telemetry counter grew over the steps (0 without numbers)."""
    first, last = _number(v[0], key), _number(v[-1], key)
    return int(last - first) if np.isfinite(first) and np.isfinite(last) else 0


def report(cfg, model, goal, steps, reached, args, params_file, out):
    """Print the summary and write the PNG; the exit status follows the goal result alone."""
    if not steps:
        out.write('casadi-mpc demo: the controller reported no steps after the goal; the '
                  'report has no data\n')
    v = [s['values'] for s in steps] or [{}]
    solved = [x for x in (_number(d, 'solve_time_ms') for d in v) if np.isfinite(x)]
    t0 = steps[0]['t'] if steps else 0.0
    hit = next((s for s in steps if s['values'].get('goal_reached') == 'true'), None)
    last = v[-1]
    summary = {
        'model': model.name, 'solver': cfg.solver.name, 'goal': goal.tolist(),
        'goal_reached': reached, 'time_to_goal': None if hit is None else hit['t'] - t0,
        'wall_to_goal': None if hit is None else hit['wall'] - steps[0]['wall'],
        'final_error': _number(last, 'goal_error'),
        'energy': _number(last, 'energy_used') - _number(v[0], 'energy_used'),
        'energy_unit': last.get('energy_unit', ''),
        'task_cost': float(np.nansum([_number(d, 'cost.task') for d in v])),
        'energy_cost': float(np.nansum([_number(d, 'cost.energy') for d in v])),
        'solve_ms': (np.median(solved), np.percentile(solved, 99)) if solved else (np.nan,) * 2,
        'deadline_misses': _growth(v, 'deadline_misses'),
        'fallbacks': _growth(v, 'fallbacks'),
        'steps': len(steps),
    }
    print_summary(summary, cfg, args, params_file, out)
    plot(model, steps, summary, args.out)
    out.write('  report            %s\n' % args.out)
    return 0 if reached else 1


def print_summary(s, cfg, args, params_file, out):
    w = out.write
    w('casadi-mpc demo: %s over ROS 2 (sim_node + mpc_node, /clock at %.3g x real time)\n'
      % (s['model'], args.real_time_factor))
    w('  parameters        %s (solver %s, horizon %d x %.3g s, %.3g Hz)\n'
      % (params_file, cfg.solver.name, cfg.horizon, cfg.dt, cfg.rate_hz))
    w('  goal              %s\n' % ' '.join('%.4g' % g for g in s['goal']))
    w('  goal reached      %s\n' % ('yes' if s['goal_reached'] else 'NO'))
    w('  time to goal      %s\n' % ('%.2f s simulated (%.2f s wall clock)'
                                    % (s['time_to_goal'], s['wall_to_goal'])
                                    if s['time_to_goal'] is not None else '-'))
    w('  final error       %.4g (tolerance %.3g)\n' % (s['final_error'], cfg.goal_tolerance))
    w('  energy used       %.4g %s\n' % (s['energy'], s['energy_unit']))
    w('  cost (sum/step)   task %.4g, energy %.4g\n' % (s['task_cost'], s['energy_cost']))
    w('  solve time        median %.3f ms, p99 %.3f ms (%d steps)\n'
      % (s['solve_ms'][0], s['solve_ms'][1], s['steps']))
    w('  deadline misses   %d\n' % s['deadline_misses'])
    w('  fallbacks         %d\n' % s['fallbacks'])


def plot(model, steps, summary, path):
    """The core's closed-loop report, fed from the controller's telemetry: the steps that name
    both their state and their command (any number of them, none included), with the latest
    predicted horizon where one had arrived."""
    from .report import plot_closed_loop
    rows = [s for s in steps if _sized(s.get('x'), model.nx) is not None
            and _sized(s.get('u'), model.nu) is not None]
    log = closed_loop.Log()
    t0 = rows[0]['t'] if rows else 0.0
    for s in rows:
        log.t.append(s['t'] - t0)
        log.x.append(_sized(s['x'], model.nx))
        log.u.append(_sized(s['u'], model.nu))
        log.solve_time.append(_number(s['values'], 'solve_time_ms') * 1e-3)
        pred = s.get('prediction')
        if pred is not None and len(pred):
            log.predictions.append(pred)
    if rows:   # the plot takes one more state than inputs (the final state)
        log.t.append(log.t[-1])
        log.x.append(log.x[-1])
    plot_closed_loop(model, log, summary, path)


def _sized(vector, size):
    """``vector`` as a float array of ``size`` numbers, or None."""
    if vector is None:
        return None
    try:
        v = np.asarray(vector, float).ravel()
    except (TypeError, ValueError):
        return None
    return v if v.size == size else None


def main(argv=None):
    args = parse_args(list(sys.argv[1:] if argv is None else argv))
    try:
        return run(args)
    except (ConfigError, ValueError, TimeoutError, NodeDied) as err:
        sys.stderr.write('casadi-mpc demo: %s\n' % err)
        return 1


if __name__ == '__main__':
    sys.exit(main())
