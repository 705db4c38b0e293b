"""Ours against the peers: the standard problems with do-mpc and acados, then acados' own
reference problems (pendulum-on-cart swing-up, chain of masses with 3 to 8 masses) posed to
acados too, side by side.

Everything bench/solve_times.py runs on the standard problems, plus acados SQP-RTI (HPIPM),
which runs in its own venv and process through bench/peers/run_acados.sh (set up on first use by
setup_acados.sh). The reference problems are casadi_mpc user models under examples/models,
loaded through model.file like any user's; acados gets the same f(x, u), RK4 steps, weights,
bounds, horizon, start and plant (casadi_mpc.tools.problems). For each it prints the solve time
(ours: the solver call; acados: solve() on the wall clock and its own time_tot), the closed-loop
cost sum (x - g)' Q (x - g) + u' R u of each closed loop, and per chain size how the time grows
with nx. If acados cannot run, the tables say why and keep the rest.

Ratios are ours / peer: step / do-mpc's make_step, and solve (+ prep) / acados' solve().

    python bench/peers.py [--problem unicycle,arm2] [--steps K] [--repeat R] [--quick]
                          [--reference-only | --standard-only] [--chains 3,4,5,6,7,8]
                          [--wall]
"""
import argparse
import sys

import numpy as np

import solve_times
from casadi_mpc.tools import problems

# ours on the reference problems: compiled RTI everywhere, compiled SQP on the swing-up
RTI = ('sqp_rti-c', 'sqp_rti', True, False, False)
SQP = ('sqp-c', 'sqp', True, False, False)
REFERENCE = {'pendulum': ((SQP, RTI), ('sqp', 'rti'))}


def reference_args(argv):
    ap = argparse.ArgumentParser(add_help=False)
    ap.add_argument('--reference-only', action='store_true')
    ap.add_argument('--standard-only', action='store_true')
    ap.add_argument('--chains', default=','.join(str(n) for n in problems.CHAIN_SIZES))
    ap.add_argument('--wall', action='store_true', help='the chains with the wall as a hard '
                    'state bound on both sides')
    return ap.parse_known_args(argv)


def progress(msg):
    print('  build: ' + msg, file=sys.stderr, flush=True)


def compare(name, repeat, steps=None):
    """Our rows and acados' for one reference problem: {label: figures or reason}."""
    backends, variants = REFERENCE.get(name, ((RTI,), ('rti',)))
    prob = problems.get(name)
    steps = steps or prob.steps
    print('%s: ours (%d steps x %d runs)' % (name, steps, repeat), file=sys.stderr, flush=True)
    rows = solve_times.ours(name, steps, repeat, progress=progress, backends=backends)
    for variant in variants:
        print('%s: acados %s' % (name, variant), file=sys.stderr, flush=True)
        rows['acados-' + variant] = solve_times.acados(name, steps, repeat, variant)
    return rows


def _ours(row):
    return {'ms': row['solve_median'], 'p99': row['solve_p99'], 'own': None,
            'cost': row['cost'], 'error': row['final_error'], 'failures': row['failures']}


def _theirs(row):
    return {'ms': row['median_ms'], 'p99': row['p99_ms'], 'own': row.get('own_median_ms'),
            'cost': row['cost'], 'error': row['final_error'], 'failures': row['failures']}


def problem_table(name, rows):
    prob = problems.get(name)
    head = '%-12s %9s %9s %10s %14s %10s %5s %9s %9s' % (
        'backend', 'solve ms', 'p99 ms', 'own ms', 'loop cost', 'final err', 'fail', '/acados',
        'cost diff')
    lines = ['%s: %s (nx = %d, N = %d, dt = %g s, %d steps)' % (
        name, prob.notes, prob.model.nx, prob.N, prob.dt, prob.steps), head, '-' * len(head)]
    for label, row in rows.items():
        if isinstance(row, str):
            lines.append('%-12s skipped: %s' % (label, row))
            continue
        r = (_theirs if label.startswith('acados') else _ours)(row)
        peer = rows.get('acados-' + ('rti' if 'rti' in label else 'sqp'))
        ratio = diff = '-'
        if not label.startswith('acados') and isinstance(peer, dict):
            ratio = '%.3f' % (r['ms'] / peer['median_ms'])
            diff = '%+.1e' % ((r['cost'] - peer['cost']) / abs(peer['cost']))
        lines.append('%-12s %9.4f %9.4f %10s %14.6g %10.2e %5d %9s %9s' % (
            label, r['ms'], r['p99'], '%.4f' % r['own'] if r['own'] else '-', r['cost'],
            r['error'], r['failures'], ratio, diff))
    return '\n'.join(lines)


def chain_table(results):
    """One line per chain size: RTI time and closed-loop cost, ours and acados', and how the
    time grows from the smallest chain."""
    head = '%6s %4s %10s %9s %11s %10s %8s %12s %12s %9s %8s %8s %5s' % (
        'masses', 'nx', 'ours ms', 'p99', 'acados ms', 'own ms', '/acados', 'ours cost',
        'acados cost', 'cost diff', 'growth', 'growth', 'fail')
    sub = '%6s %4s %10s %9s %11s %10s %8s %12s %12s %9s %8s %8s %5s' % (
        '', '', '(RTI)', '', '(SQP-RTI)', '(time_tot)', '', '', '', '', 'ours', 'acados',
        'o/a')
    wall = any(name.endswith('-wall') for name in results)
    lines = ['chain of masses, compiled RTI against acados SQP-RTI (N = 40, Ts = 0.2 s, '
             '25 steps%s)' % (', hard wall' if wall else ', no wall'), head, sub,
             '-' * len(head)]
    base = None
    for name, rows in results.items():
        ours, theirs = rows.get(RTI[0]), rows.get('acados-rti')
        nx = problems.get(name).model.nx
        if not isinstance(ours, dict):
            lines.append('%6s %4d ours: %s' % (name[5:6], nx, ours))
            continue
        o = _ours(ours)
        t = _theirs(theirs) if isinstance(theirs, dict) else None
        if base is None:
            base = (o['ms'], t['ms'] if t else None)
        cells = ['%6s' % name[5:6], '%4d' % nx, '%10.4f' % o['ms'], '%9.4f' % o['p99']]
        if t:
            cells += ['%11.4f' % t['ms'], '%10.4f' % (t['own'] or np.nan),
                      '%8.3f' % (o['ms'] / t['ms']), '%12.6g' % o['cost'],
                      '%12.6g' % t['cost'], '%+9.1e' % ((o['cost'] - t['cost']) / abs(t['cost'])),
                      '%8.2f' % (o['ms'] / base[0]),
                      '%8.2f' % (t['ms'] / base[1]) if base[1] else '%8s' % '-',
                      '%5s' % ('%d/%d' % (o['failures'], t['failures']))]
        else:
            cells += ['%11s' % '-', '%10s' % '-', '%8s' % '-', '%12.6g' % o['cost'],
                      '%12s' % '-', '%9s' % '-', '%8.2f' % (o['ms'] / base[0]), '%8s' % '-',
                      '%5s' % ('%d/-' % o['failures'])]
        lines.append(' '.join(cells))
        if isinstance(theirs, str):
            lines.append('       acados: %s' % theirs)
    return '\n'.join(lines)


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    extra, rest = reference_args(argv)
    results = {}
    if not extra.reference_only:
        results['standard'] = solve_times.main(rest, with_acados=True, description=__doc__)
    if extra.standard_only:
        return results
    args = solve_times.parse_args(__doc__, rest)
    names = ['pendulum'] + ['chain%s%s' % (n, '-wall' if extra.wall else '')
                            for n in extra.chains.split(',') if n]
    reference = {}
    for name in names:
        reference[name] = compare(name, args.repeat, args.steps)
        if name == 'pendulum':
            print(problem_table(name, reference[name]) + '\n', flush=True)
    chains = {k: v for k, v in reference.items() if k.startswith('chain')}
    if chains:
        print(chain_table(chains) + '\n', flush=True)
    results['reference'] = reference
    return results


if __name__ == '__main__':
    main()
