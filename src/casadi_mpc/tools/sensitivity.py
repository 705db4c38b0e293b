"""`casadi-mpc sensitivity`: which weight to change, and which way.

For every tuned weight (the loss file's ``tune.weights``, default every weight > 0) it prints
dL/dw of the closed-loop loss (forward sensitivities through the rollouts), the direction that
lowers the loss ("raise" or "lower"), the change of L predicted for a 10 % nudge that way
(dL/dw * 0.1 w) and the change measured by rolling out again with the nudged weight. Rows are
sorted by the predicted gain. Writes ``<config>.sensitivity.json`` in ``--output-dir``.
"""
import json
import time

import numpy as np

from .tuning import output_path, parser, Problem, run_command
from ..core.config import ConfigError

AGREE = 0.25     # predicted and measured changes agree within this fraction (or both tiny)


def parse_args(argv):
    ap = parser('casadi-mpc sensitivity', __doc__.splitlines()[0])
    ap.add_argument('--nudge', type=float, default=0.1,
                    help='relative nudge of each weight (default 0.1: 10 %%)')
    return ap.parse_args(argv)


@run_command
def main(argv=None):
    args = parse_args(argv)
    if not 0 < args.nudge < 1:
        raise ConfigError('--nudge = %g: expected a fraction between 0 and 1' % args.nudge)
    problem = Problem(args)
    json_path = output_path(args, problem, '.sensitivity.json')
    started = time.perf_counter()
    with problem.runner(args, 'sensitivity', gradients=True) as runner:
        base = problem.point(np.log(problem.w0),
                             problem.rollouts(runner, [problem.w0], gradient=True)[0])
        if base.error:
            raise ConfigError('no loss gradient at the configured weights: %s' % base.error)
        dldw = base.gradient / problem.w0
        sign = np.where(dldw > 0, -1.0, 1.0)
        nudged = []
        for i, s in enumerate(sign):
            w = problem.w0.copy()
            w[i] *= 1.0 + s * args.nudge
            nudged.append(w)
        runner.say('measuring: %d rollouts' % (len(nudged) * len(problem.spec.scenarios)))
        outcomes = problem.rollouts(runner, nudged)
        rollouts = runner.rollouts
    rows = []
    for i, label in enumerate(problem.labels):
        loss = float(np.mean([o.loss for o in outcomes[i]]))
        failures = int(sum(o.failures for o in outcomes[i]))
        predicted = float(dldw[i] * sign[i] * args.nudge * problem.w0[i])
        measured = loss - base.loss
        rows.append({'weight': label, 'value': float(problem.w0[i]), 'dL_dw': float(dldw[i]),
                     'direction': 'raise' if sign[i] > 0 else 'lower',
                     'predicted': predicted, 'measured': measured, 'failures': failures,
                     'note': note(predicted, measured, base.loss, failures)})
    rows.sort(key=lambda r: r['predicted'])
    print_table(rows, base.loss, args.nudge)
    print('%d rollouts in %.1f s' % (rollouts, time.perf_counter() - started))
    json_path.write_text(json.dumps({'config': str(problem.path), 'loss': base.loss,
                                     'nudge': args.nudge, 'rows': rows,
                                     'metrics': base.details['metrics'], 'rollouts': rollouts},
                                    indent=1))
    print('wrote %s' % json_path)
    return 0


def note(predicted, measured, loss, failures):
    if failures:
        return '%d solver failures' % failures
    tiny = 1e-6 * max(abs(loss), 1e-12)
    if abs(predicted) < tiny and abs(measured) < tiny:
        return 'no effect'
    if abs(measured - predicted) <= AGREE * max(abs(predicted), abs(measured)):
        return 'agrees'
    if measured * predicted < 0:
        return 'the loss turns within the nudge'
    return 'nonlinear over the nudge'


def print_table(rows, loss, nudge):
    print('loss L = %.6g; a %g %% nudge of each weight the way that lowers L:'
          % (loss, 100 * nudge))
    head = '%-34s %11s %12s %-9s %13s %13s  %s' % ('weight', 'value', 'dL/dw', 'direction',
                                                   'predicted dL', 'measured dL', 'note')
    print(head)
    print('-' * len(head))
    for r in rows:
        print('%-34s %11.4g %12.4g %-9s %13.4g %13.4g  %s' % (
            r['weight'], r['value'], r['dL_dw'], r['direction'], r['predicted'], r['measured'],
            r['note']))
