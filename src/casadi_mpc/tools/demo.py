"""`casadi-mpc demo`: the simulated robot and its controller over ROS 2, with a report.

Starts sim_node + mpc_node through the runner (headless, simulated time on /clock, faster than
real time), sends a goal, waits until the controller reports it reached, prints a summary and
writes a PNG (path with predicted horizons, commands, solve times) and an MCAP recording of
every topic. With ``--engine mujoco`` the robot is simulated by MuJoCo, and the same run on the
controller's own model comes first, so the summary sets the two side by side (time to goal,
final error, energy; for bases the odometry's drift from the true pose). Exit status 0 only if
the goal was reached (on every engine run).
"""
import argparse
import os
import sys
import tempfile
import time

import numpy as np

from .. import bringup
from ..core import sim_config
from ..core.config import ConfigError, load
from ..core.models import ModelError, build
from ..loopback import LOOPBACK, domain_id
from ..runner import NodeDied, System
from .report import plot_steps, print_summary, summarize


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
    ap.add_argument('--engine', choices=bringup.ENGINES, default='model',
                    help="what plays the robot: the controller's own model, or MuJoCo (then "
                    'the run on the model comes first, for the comparison)')
    ap.add_argument('--no-compare', action='store_true', help='with --engine mujoco: skip the '
                    'run on the model')
    ap.add_argument('--record', default='demo.mcap', help="MCAP recording of the run's topics "
                    "('' for none); casadi-mpc report draws its PNG")
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
    engines = [args.engine] if args.engine == 'model' or args.no_compare else \
        ['model', args.engine]
    runs = {}
    for engine in engines:
        main = engine == args.engine
        runs[engine] = run_once(args, engine, params_file, model, x0, goal,
                                domain if main else domain_id(), args.record if main else '')
        runs[engine]['summary'] = summarize(cfg, model, goal, runs[engine]['steps'],
                                            runs[engine]['reached'])
    code = report(cfg, model, goal, runs[args.engine]['steps'], runs[args.engine]['reached'],
                  args, params_file, out, runs)
    return code if all(r['reached'] for r in runs.values()) else 1


def run_once(args, engine, params_file, model, x0, goal, domain, record):
    """One run of the system on ``engine``: the steps after the goal, whether it was reached,
    and the simulator's true state at the end where it has one (MuJoCo bases)."""
    from ..ros import conversions as conv, qos
    from .observer import Observer
    from .record import Recorder, Recording, parameters_metadata
    launch_args = {'robot': args.robot, 'params_file': params_file,
                   'real_time_factor': str(args.real_time_factor), 'engine': engine}
    # the controller holds the start until the demo sends its goal over the topic
    overrides = {'mpc_node': {'goal': x0.tolist()}}
    deadline = time.monotonic() + args.timeout
    echo = sys.stdout if args.verbose else None
    env = {'ROS_DOMAIN_ID': str(domain)}
    with System.of('sim', launch_args, overrides, env=env, echo=echo) as system:
        observer = Observer(model, domain)
        recorder = Recorder(observer.node, Recording(record, parameters_metadata(
            params_file))) if record else None
        truth = observer.probe.record(conv.Odometry, 'sim_node/ground_truth', qos.STATE)

        def left():
            return max(1.0, deadline - time.monotonic())
        try:
            observer.wait_for(lambda: observer.value('mode') == 'NORMAL', left(),
                              'running controller', system.check)
            if recorder is not None:   # the goal this process sends, from its first message
                msg_type, topic, _ = conv.goal_message(goal, model)
                recorder.add(topic, msg_type)
                observer.wait_for(lambda: recorder.covers(('sim_node', 'mpc_node')), left(),
                                  "the recorder on the nodes' topics", system.check)
            # the simulator's true state, where it publishes one (a base on MuJoCo)
            observer.wait_for(lambda: len(truth) or publishes(
                observer.node, 'sim_node', '/sim_node/ground_truth') is False, left(),
                'the true state', system.check)
            first = observer.send_goal(goal, min(20.0, left()), system.check)
            reached = True
            try:
                observer.wait_for(lambda: observer.value('goal_reached') == 'true', left(),
                                  'goal reached', system.check)
            except TimeoutError:
                reached = False
            steps = observer.steps[first:]
            if recorder is not None:
                # the recorder takes the same telemetry through a callback of its own: one
                # more message after the one that said 'reached' means it has that one too
                telemetry = observer.node.resolve_topic_name('mpc_node/telemetry')
                seen = recorder.recording.counts.get(telemetry, 0)
                observer.wait_for(lambda: recorder.recording.counts.get(telemetry, 0) > seen,
                                  min(10.0, left()), 'the recording of the last step',
                                  system.check)
        finally:
            if recorder is not None:
                recorder.close()
            observer.close()
    last = truth.last()
    return {'steps': steps, 'reached': reached, 'record': record,
            'truth': None if last is None else conv.odometry_to_state(last, model)}


def publishes(node, name, topic):
    """Whether node ``name`` publishes ``topic``, as far as the graph knows: None while it
    knows none of the node's publishers yet."""
    from rclpy.node import NodeNameNonExistentError
    try:
        topics = [t for t, _ in node.get_publisher_names_and_types_by_node(name, '/')]
    except NodeNameNonExistentError:
        return None
    if not topics:
        return None
    return topic in topics


def report(cfg, model, goal, steps, reached, args, params_file, out, runs=None):
    """Print the summary (and the comparison of engines), write the PNG; the exit status
    follows the goal result alone."""
    if not steps:
        out.write('casadi-mpc demo: the controller reported no steps after the goal; the '
                  'report has no data\n')
    summary = summarize(cfg, model, goal, steps, reached)
    engine = getattr(args, 'engine', 'model')
    print_summary(summary, cfg, 'casadi-mpc demo: %s over ROS 2 (sim_node on %s + mpc_node, '
                  '/clock at %.3g x real time)' % (model.name, engine, args.real_time_factor),
                  params_file, out)
    if runs and len(runs) > 1:
        print_comparison(model, goal, runs, out)
    plot_steps(model, steps, summary, args.out)
    out.write('  report            %s\n' % args.out)
    record = (runs or {}).get(engine, {}).get('record')
    if record:
        out.write('  recording         %s (casadi-mpc report %s)\n' % (record, record))
    return 0 if reached else 1


def print_comparison(model, goal, runs, out):
    """The same run on each engine, side by side."""
    names = list(runs)
    rows = [('goal reached', [('yes' if r['summary']['goal_reached'] else 'NO')
                              for r in runs.values()])]

    def figure(key, fmt='%.4g'):
        values = [r['summary'][key] for r in runs.values()]
        return ['-' if v is None or not np.isfinite(v) else fmt % v for v in values]
    rows.append(('time to goal [s]', figure('time_to_goal', '%.2f')))
    rows.append(('final error', figure('final_error')))
    unit = next(iter(runs.values()))['summary']['energy_unit']
    rows.append(('energy [%s]' % unit, figure('energy')))
    truths = [r['truth'] for r in runs.values()]
    if any(t is not None for t in truths):
        rows.append(('true final error', [
            '-' if t is None else '%.4g' % np.linalg.norm(model.state_error(t, goal))
            for t in truths]))
        finals = [r['steps'][-1].get('x') if r['steps'] else None for r in runs.values()]
        rows.append(('odometry drift [m]', [
            '-' if t is None or x is None else '%.4g' % np.linalg.norm(
                np.asarray(x)[:2] - np.asarray(t)[:2]) for t, x in zip(truths, finals)]))
    out.write('  %-26s%s\n' % ('engines', ''.join('%-12s' % n for n in names)))
    for label, values in rows:
        out.write('  %-26s%s\n' % (label, ''.join('%-12s' % v for v in values)))


def main(argv=None):
    args = parse_args(list(sys.argv[1:] if argv is None else argv))
    try:
        return run(args)
    except (ConfigError, ValueError, TimeoutError, NodeDied) as err:
        sys.stderr.write('casadi-mpc demo: %s\n' % err)
        return 1


if __name__ == '__main__':
    sys.exit(main())
