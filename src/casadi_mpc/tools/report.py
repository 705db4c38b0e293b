"""Reports of a closed loop: the summary and the PNG (states, inputs, solve times).

The plot draws whatever the log holds: no steps, a single one, predictions of any length; rows
of the wrong size are left out, and a panel without data says so. A run over ROS 2 is a list of
steps, one per control step of the controller's telemetry (live from the demo's observer, or
read back from a recording); ``casadi-mpc report FILE.mcap`` draws the report of a recording.
"""
import argparse
import sys

import numpy as np
import yaml

from ..core import closed_loop
from ..core.config import ConfigError, load, node_section, parse
from ..core.models import build_model
from ..ros.conversions import seconds
from ..ros.diagnostics import parse_numbers


def _rows(values, size):
    """The entries of ``values`` that are ``size`` finite-or-nan floats, as an (n, size)
    array, with the indices kept."""
    keep, rows = [], []
    for i, v in enumerate(values):
        try:
            a = np.asarray(v, float).ravel()
        except (TypeError, ValueError):
            continue
        if a.size == size:
            keep.append(i)
            rows.append(a)
    return np.array(keep, int), (np.vstack(rows) if rows else np.zeros((0, size)))


def _times(t, index):
    t = np.asarray(t, float).ravel()
    return np.array([t[i] if i < t.size else np.nan for i in index], float)


def _paths(predictions):
    """The predicted horizons that are 2-D with at least two columns (x, y)."""
    out = []
    for p in predictions:
        try:
            a = np.asarray(p, float)
        except (TypeError, ValueError):
            continue
        if a.ndim == 2 and a.shape[0] and a.shape[1] >= 2:
            out.append(a)
    return out


def _no_data(ax, what='no recorded steps'):
    ax.text(0.5, 0.5, what, ha='center', va='center', transform=ax.transAxes, color='gray')


def _legend(ax):
    if ax.get_legend_handles_labels()[0]:
        ax.legend(loc='best', fontsize=8)


def plot_closed_loop(model, log, summary, path):
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    ix, x = _rows(log.x, model.nx)
    iu, u = _rows(log.u, model.nu)
    tx, tu = _times(log.t, ix), _times(log.t, iu)
    st = np.asarray(log.solve_time, float).ravel() * 1e3
    ts = _times(log.t, range(st.size))
    solved = np.isfinite(st) & (st > 0)
    goal = np.asarray(summary.get('goal', []), float).ravel()
    planar = model.kind == 'base' and len(model.position) >= 2
    fig, axes = plt.subplots(2, 2, figsize=(12, 8))
    ax = axes[0, 0]
    if planar:
        preds = _paths(log.predictions)
        for pred in preds[::max(1, len(preds) // 15)]:
            ax.plot(pred[:, 0], pred[:, 1], color='tab:orange', alpha=0.35, lw=0.8)
        if len(x):
            ax.plot(x[:, 0], x[:, 1], 'k.-', ms=3, label='path')
        if goal.size >= 2:
            ax.plot(goal[0], goal[1], 'r*', ms=14, label='goal')
        ax.set_xlabel('x [m]')
        ax.set_ylabel('y [m]')
        ax.set_aspect('equal', adjustable='datalim')
        ax.set_title('path (orange: predicted horizons)')
    else:
        for i in model.position:
            if len(x):
                ax.plot(tx, x[:, i], label=model.states[i].name)
            if i < goal.size:
                ax.axhline(goal[i], ls=':', color='gray')
        ax.set_xlabel('t [s]')
        ax.set_title('configuration [%s] (dotted: goal)' % model.states[model.position[0]].unit)
    if not len(x):
        _no_data(ax)
    _legend(ax)
    ax = axes[0, 1]
    for i, s in enumerate(model.states):
        if (planar and i in model.position[:2]) or (not planar and i in model.position):
            continue
        if len(x):
            ax.plot(tx, x[:, i], label='%s [%s]' % (s.name, s.unit))
    if not len(x):
        _no_data(ax)
    ax.set_title('other states')
    ax.set_xlabel('t [s]')
    _legend(ax)
    ax = axes[1, 0]
    for i, s in enumerate(model.inputs):
        if len(u):
            ax.step(tu, u[:, i], where='post', marker='.' if len(u) == 1 else None,
                    label='%s [%s]' % (s.name, s.unit))
    if not len(u):
        _no_data(ax)
    ax.set_title('commands')
    ax.set_xlabel('t [s]')
    _legend(ax)
    ax = axes[1, 1]
    if solved.any():
        median = float(np.median(st[solved]))
        ax.plot(ts[solved], st[solved], '.', ms=3)
        ax.axhline(median, color='k', ls='--', lw=0.8, label='median %.3f ms' % median)
        ax.set_yscale('log')
    else:
        _no_data(ax, 'no solves recorded')
    ax.set_title('solve time per step [ms]')
    ax.set_xlabel('t [s]')
    _legend(ax)
    fig.suptitle('%s / %s: goal %s, final error %.3g, energy %.3g %s' % (
        summary.get('model', model.name), summary.get('solver', ''),
        'reached' if summary.get('goal_reached') else 'NOT reached',
        summary.get('final_error', float('nan')), summary.get('energy', float('nan')),
        summary.get('energy_unit', '')))
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


# ---------------------------------------------------------------------------- runs as steps
def sized(vector, size):
    """``vector`` as a float array of ``size`` numbers, or None."""
    if vector is None:
        return None
    try:
        v = np.asarray(vector, float).ravel()
    except (TypeError, ValueError):
        return None
    return v if v.size == size else None


def telemetry_steps(msg, model, node_name, prediction=None, wall=None):
    """The steps of one telemetry DiagnosticArray (a status per controller whose name holds
    ``node_name``): dicts of 't' (header stamp [s]), 'values' (key -> text), the state 'x'
    and command 'u' it names (None when absent or of the wrong size), the latest predicted
    horizon and the wall time it arrived."""
    out = []
    for status in msg.status:
        if node_name not in status.name:
            continue
        values = {kv.key: kv.value for kv in status.values}
        out.append({'t': seconds(msg.header.stamp), 'values': values,
                    'x': sized(parse_numbers(values.get('state')), model.nx),
                    'u': sized(parse_numbers(values.get('command')), model.nu),
                    'prediction': prediction, 'wall': wall})
    return out


def prediction_of(msg):
    """A predicted horizon: the (x, y) of a Path's poses, or a JointTrajectory's positions."""
    if hasattr(msg, 'poses'):
        return np.array([[p.pose.position.x, p.pose.position.y] for p in msg.poses])
    return np.array([list(p.positions) for p in msg.points])


def number(values, key):
    """A telemetry value as a float; nan when missing or not a number."""
    try:
        return float(values.get(key, 'nan'))
    except (TypeError, ValueError):
        return float('nan')


def _growth(v, key):
    """How much a telemetry counter grew over the steps (0 without numbers)."""
    first, last = number(v[0], key), number(v[-1], key)
    return int(last - first) if np.isfinite(first) and np.isfinite(last) else 0


def summarize(cfg, model, goal, steps, reached):
    """The figures of a run from its steps (after the goal was given)."""
    v = [s['values'] for s in steps] or [{}]
    solved = [x for x in (number(d, 'solve_time_ms') for d in v) if np.isfinite(x)]
    t0 = steps[0]['t'] if steps else 0.0
    hit = next((s for s in steps if s['values'].get('goal_reached') == 'true'), None)
    wall = hit is not None and hit.get('wall') is not None and steps[0].get('wall') is not None
    last = v[-1]
    return {
        'model': model.name, 'solver': cfg.solver.name,
        'goal': np.asarray(goal, float).tolist(),
        'goal_reached': reached, 'time_to_goal': None if hit is None else hit['t'] - t0,
        'wall_to_goal': hit['wall'] - steps[0]['wall'] if wall else None,
        'final_error': number(last, 'goal_error'),
        'energy': number(last, 'energy_used') - number(v[0], 'energy_used'),
        'energy_unit': last.get('energy_unit', ''),
        'task_cost': float(np.nansum([number(d, 'cost.task') for d in v])),
        'energy_cost': float(np.nansum([number(d, 'cost.energy') for d in v])),
        'solve_ms': (np.median(solved), np.percentile(solved, 99)) if solved else (np.nan,) * 2,
        'deadline_misses': _growth(v, 'deadline_misses'),
        'fallbacks': _growth(v, 'fallbacks'),
        'steps': len(steps),
    }


def print_summary(s, cfg, title, params_file, out):
    w = out.write
    w(title + '\n')
    w('  parameters        %s (solver %s, horizon %d x %.3g s, %.3g Hz)\n'
      % (params_file, cfg.solver.name, cfg.horizon, cfg.dt, cfg.rate_hz))
    w('  goal              %s\n' % ' '.join('%.4g' % g for g in s['goal']))
    w('  goal reached      %s\n' % ('yes' if s['goal_reached'] else 'NO'))
    if s['time_to_goal'] is None:
        w('  time to goal      -\n')
    else:
        wall = s.get('wall_to_goal')
        w('  time to goal      %.2f s simulated%s\n' % (
            s['time_to_goal'], '' if wall is None else ' (%.2f s wall clock)' % wall))
    w('  final error       %.4g (tolerance %.3g)\n' % (s['final_error'], cfg.goal_tolerance))
    w('  energy used       %.4g %s\n' % (s['energy'], s['energy_unit']))
    w('  cost (sum/step)   task %.4g, energy %.4g\n' % (s['task_cost'], s['energy_cost']))
    w('  solve time        median %.3f ms, p99 %.3f ms (%d steps)\n'
      % (s['solve_ms'][0], s['solve_ms'][1], s['steps']))
    w('  deadline misses   %d\n' % s['deadline_misses'])
    w('  fallbacks         %d\n' % s['fallbacks'])


def plot_steps(model, steps, summary, path):
    """The closed-loop report of a run's steps: those that name both their state and their
    command (any number of them, none included), with the latest predicted horizon where one
    had arrived."""
    rows = [s for s in steps if sized(s.get('x'), model.nx) is not None
            and sized(s.get('u'), model.nu) is not None]
    log = closed_loop.Log()
    t0 = rows[0]['t'] if rows else 0.0
    for s in rows:
        log.t.append(s['t'] - t0)
        log.x.append(sized(s['x'], model.nx))
        log.u.append(sized(s['u'], model.nu))
        log.solve_time.append(number(s['values'], 'solve_time_ms') * 1e-3)
        pred = s.get('prediction')
        if pred is not None and len(pred):
            log.predictions.append(pred)
    if rows:   # the plot takes one more state than inputs (the final state)
        log.t.append(log.t[-1])
        log.x.append(log.x[-1])
    plot_closed_loop(model, log, summary, path)


# ---------------------------------------------------------------------------- recordings
def read_recording(path):
    """(metadata {name: {key: text}}, messages as (topic, type name, message, log time ns) in
    log-time order) of an MCAP file with ROS 2 messages."""
    from mcap.reader import make_reader
    from mcap_ros2.decoder import DecoderFactory
    with open(path, 'rb') as f:
        reader = make_reader(f, decoder_factories=[DecoderFactory()])
        metadata = {m.name: dict(m.metadata) for m in reader.iter_metadata()}
        messages = [(channel.topic, schema.name, msg, message.log_time)
                    for schema, channel, message, msg in reader.iter_decoded_messages(
                        log_time_order=True)
                    if schema is not None and schema.encoding == 'ros2msg']
    return metadata, messages


TELEMETRY = 'diagnostic_msgs/msg/DiagnosticArray'
PREDICTIONS = ('nav_msgs/msg/Path', 'trajectory_msgs/msg/JointTrajectory')


def recording_steps(messages, model, node_name='mpc_node'):
    """The controller's steps in a recording: its telemetry (``<node>/telemetry``), each with
    the latest predicted horizon (``<node>/predicted_path`` or ``predicted_trajectory``)."""
    steps, prediction = [], None
    for topic, kind, msg, _ in messages:
        if not topic.endswith(node_name + '/telemetry') and \
                not topic.endswith(node_name + '/predicted_path') and \
                not topic.endswith(node_name + '/predicted_trajectory'):
            continue
        if kind in PREDICTIONS:
            prediction = prediction_of(msg)
        elif kind == TELEMETRY:
            steps.extend(telemetry_steps(msg, model, node_name, prediction))
    return steps


def config_of(metadata, params_file):
    """The controller configuration of a recording: ``params_file`` if given, else the
    parameter file kept in the recording's metadata."""
    if params_file:
        return load(params_file), params_file
    text = metadata.get('casadi_mpc', {}).get('parameters')
    if not text:
        raise ConfigError('the recording names no parameter file (no casadi_mpc metadata): '
                          'pass --params-file')
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as err:
        raise ConfigError('the parameter file in the recording is malformed: %s' % err) from None
    return parse(node_section(document, 'mpc_node', 'recording'), 'recording'), 'recording'


def goal_run(steps):
    """The steps from the last goal change on (the run towards the final goal) and that
    goal's numbers (None when the steps name none)."""
    goals = [s['values'].get('goal') for s in steps]
    if not goals or goals[-1] is None:
        return steps, None
    first = next((i for i in range(len(goals) - 1, -1, -1) if goals[i] != goals[-1]), -1) + 1
    return steps[first:], parse_numbers(goals[-1])


def report_recording(path, out_png, params_file='', node_name='mpc_node', out=sys.stdout):
    """Print the summary of a recording and draw its PNG; returns the summary."""
    metadata, messages = read_recording(path)
    cfg, source = config_of(metadata, params_file)
    model = build_model(cfg.model.name, **cfg.model.options())
    steps, goal = goal_run(recording_steps(messages, model, node_name))
    if not steps:
        raise ConfigError('%s holds no telemetry of %s (topic <node>/telemetry)'
                          % (path, node_name))
    goal = goal if goal is not None and len(goal) == model.nx else cfg.goal or \
        np.zeros(model.nx)
    reached = steps[-1]['values'].get('goal_reached') == 'true'
    summary = summarize(cfg, model, goal, steps, reached)
    topics = sorted({m[0] for m in messages})
    print_summary(summary, cfg, 'casadi-mpc report: %s (%d messages on %d topics)'
                  % (path, len(messages), len(topics)), source, out)
    plot_steps(model, steps, summary, out_png)
    out.write('  report            %s\n' % out_png)
    return summary


def main(argv=None):
    ap = argparse.ArgumentParser(prog='casadi-mpc report', description='The summary and PNG '
                                 'report of a recording (MCAP with ROS 2 messages, written by '
                                 'the demo, simulate --record, record:=true or any recorder).')
    ap.add_argument('recording', help='MCAP file')
    ap.add_argument('--out', default='', help='PNG path (default: the recording with .png)')
    ap.add_argument('--params-file', default='', help="the run's parameter file (default: the "
                    'one kept in the recording)')
    ap.add_argument('--node', default='mpc_node', help='name of the controller node')
    args = ap.parse_args(list(sys.argv[1:] if argv is None else argv))
    out = args.out or str(args.recording).rsplit('.', 1)[0] + '.png'
    try:
        report_recording(args.recording, out, args.params_file, args.node)
    except (ConfigError, ValueError, OSError) as err:
        sys.stderr.write('casadi-mpc report: %s\n' % err)
        return 1
    return 0
