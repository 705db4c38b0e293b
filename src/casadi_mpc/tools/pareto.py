"""`casadi-mpc pareto`: the task-energy front over a sweep of the energy weights.

Every weight entry of the config's energy terms (kind 'energy': effort, power, input rate, ...)
is scaled by one factor, swept log-uniformly (``--scales MIN MAX``, ``--points``); each point
rolls out every scenario. The energy axis is the ``energy`` metric (the robot's work, mean over
scenarios), the task axis the loss without its energy-like metrics (``energy``, ``peak_input``,
``input_rate``). The front is the set of points no other point beats on both; its knee, the
front point farthest from the line through the front's ends (axes normalized), is written as a
parameter file. Writes ``<config>.pareto.png``, ``<config>.knee.yaml`` and
``<config>.pareto.json`` in ``--output-dir``.
"""
import json

import numpy as np

from . import param_file
from .tuning import changed_keys, output_path, parser, Problem, run_command
from ..core.config import ConfigError
from ..core.costs import make_term
from ..core.rollout import weight_key

ENERGY_LIKE = ('energy', 'peak_input', 'input_rate')


def parse_args(argv):
    ap = parser('casadi-mpc pareto', __doc__.splitlines()[0])
    ap.add_argument('--scales', type=float, nargs=2, default=[0.01, 100.0], metavar=('MIN', 'MAX'),
                    help='range of the factor on the energy weights (default 0.01 100)')
    ap.add_argument('--points', type=int, default=9, help='points of the sweep (default 9)')
    return ap.parse_args(argv)


def energy_labels(problem):
    kinds = {name: make_term(name).kind for name in problem.cfg.costs}
    return [label for label, value in problem.weights.items()
            if kinds[weight_key(label)[0].split('.')[1]] == 'energy' and value > 0]


def front_and_knee(energy, task):
    """Indices of the non-dominated points (lower is better on both) and of the knee."""
    energy, task = np.asarray(energy, float), np.asarray(task, float)
    n = len(energy)
    front = [i for i in range(n) if not any(
        energy[j] <= energy[i] and task[j] <= task[i] and
        (energy[j] < energy[i] or task[j] < task[i]) for j in range(n))]
    order = sorted(front, key=lambda i: energy[i])
    if len(order) < 3:
        return order, order[0]
    e = (energy[order] - energy[order].min()) / max(np.ptp(energy[order]), 1e-300)
    t = (task[order] - task[order].min()) / max(np.ptp(task[order]), 1e-300)
    a, b = np.array([e[0], t[0]]), np.array([e[-1], t[-1]])
    chord = (b - a) / max(np.linalg.norm(b - a), 1e-300)
    dist = [abs(chord[0] * (ti - a[1]) - chord[1] * (ei - a[0])) for ei, ti in zip(e, t)]
    return order, order[int(np.argmax(dist))]


@run_command
def main(argv=None):
    args = parse_args(argv)
    lo, hi = args.scales
    if not (0 < lo < hi and np.isfinite(hi)) or args.points < 2:
        raise ConfigError('--scales %g %g --points %d: expected 0 < MIN < MAX and at least 2 '
                          'points' % (lo, hi, args.points))
    problem = Problem(args)
    labels = energy_labels(problem)
    if not labels:
        raise ConfigError('%s has no energy term with a weight > 0 to sweep' % problem.path)
    paths = [output_path(args, problem, s) for s in ('.pareto.png', '.knee.yaml',
                                                     '.pareto.json')]
    problem.labels = labels
    problem.w0 = np.array([problem.weights[label] for label in labels])
    scales = np.geomspace(lo, hi, args.points)
    with problem.runner(args, 'pareto, %d scales of the energy weights' % len(scales)) as runner:
        batches = problem.rollouts(runner, [problem.w0 * s for s in scales])
        rollouts = runner.rollouts
    weights = problem.metric_weights
    points = []
    for s, outcomes in zip(scales, batches):
        task = np.mean([sum(weights.get(k, 0.0) * v for k, v in o.metrics.items()
                            if k not in ENERGY_LIKE) for o in outcomes])
        points.append({'scale': float(s), 'task': float(task),
                       'energy': float(np.mean([o.metrics['energy'] for o in outcomes])),
                       'loss': float(np.mean([o.loss for o in outcomes])),
                       'failures': int(sum(o.failures for o in outcomes))})
    front, knee = front_and_knee([p['energy'] for p in points], [p['task'] for p in points])
    from .tuning_plots import plot_front
    plot_front(points, front, knee, paths[0], 'task (loss without energy-like metrics)',
               'energy [mean over scenarios]')
    param_file.write(problem.path, paths[1],
                     changed_keys(problem.weights, problem.weights_at(problem.w0 * scales[knee])))
    paths[2].write_text(json.dumps({'config': str(problem.path), 'labels': labels,
                                    'points': points, 'front': front, 'knee': knee,
                                    'rollouts': rollouts}, indent=1))
    print('%-10s %14s %14s %12s  %s' % ('scale', 'energy', 'task', 'loss', ''))
    for i, p in enumerate(points):
        mark = 'knee' if i == knee else ('front' if i in front else '')
        if p['failures']:
            mark += '  (%d failures)' % p['failures']
        print('%-10.4g %14.6g %14.6g %12.6g  %s'
              % (p['scale'], p['energy'], p['task'], p['loss'], mark))
    print('%d rollouts; wrote %s' % (rollouts, ', '.join(str(p) for p in paths)))
    return 0
