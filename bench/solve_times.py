"""Solve times on the two standard problems: every backend of ours, and do-mpc, in one run.

Closed loop as the peers run it (casadi_mpc.tools.problems, the one home of the problems): the
plant is the model's RK4 step of dt, from the standard start to the standard goal. Per control
step it records

  solve  the solver call alone (Solver.solve's solve_time), the scope acados times
  step   the whole MPCController.step (parameters, bounds, solve, result): our per-step cost,
         the scope do-mpc's make_step has
  prep   compiled RTI with preparation: the linearization and the QP for the predicted state
         done after the plant step, off the critical path (Solver.prepare); that row's solve
         and step are the feedback alone (the prepared solution corrected for the actual state)
  qp it  compiled RTI: QP iterations of the feedback (median / max over the steps, the cold
         first step excluded) and of the prepare

Rows marked 'mismatch' run the compiled RTI against a plant that differs from the model (the
arm's first link 15 % heavier; the unicycle's forward speed 15 % below the command): the state
then never is the predicted one and the prepared solution has to be corrected at every step.

Ratios are ours / peer (below 1: we are faster): step / do-mpc's make_step and solve (plus
prep) / acados' solve. Timings are noisy on shared machines: --repeat runs every closed loop
several times and reports the medians of the per-run figures. Not a test: it prints.

    python bench/solve_times.py [--problem unicycle,arm2] [--steps K] [--repeat R]
                                [--quick] [--only sqp,sqp_rti-c] [--json FILE]
"""
import argparse
import importlib.util
import json
import os
import subprocess
import sys
import time

import numpy as np

from casadi_mpc.core.controller import MPCController
from casadi_mpc.core.integrators import rk4_step
from casadi_mpc.tools import problems

HERE = os.path.dirname(os.path.abspath(__file__))
REQUIREMENTS = os.path.join(HERE, 'requirements.txt')
# (label, solver, compiled, prepare between steps, plant differs from the model)
BACKENDS = [('ipopt', 'ipopt', False, False, False), ('fatrop', 'fatrop', False, False, False),
            ('sqp', 'sqp', False, False, False), ('sqp_rti', 'sqp_rti', False, False, False),
            ('sqp-c', 'sqp', True, False, False), ('sqp_rti-c', 'sqp_rti', True, False, False),
            ('sqp_rti-c+prep', 'sqp_rti', True, True, False),
            ('sqp_rti-c mismatch', 'sqp_rti', True, False, True),
            ('sqp_rti-c+prep mismatch', 'sqp_rti', True, True, True)]
# the plant of the mismatch rows: model parameters scaled (name -> factor), input gains
MISMATCH = {'arm2': ({'mass1': 1.15}, None), 'unicycle': ({}, [0.85, 1.0])}
QUICK_STEPS = {'unicycle': 40, 'arm2': 80}
STANDARD = ('unicycle', 'arm2')


def plant_of(problem, controller, mismatch):
    """(plant parameters, input gain) of the simulated plant."""
    model = controller.model
    if not mismatch:
        return controller.tuning.model_p, np.ones(model.nu)
    scale, gain = MISMATCH[problem]
    p = np.array(controller.tuning.model_p, float)
    for name, factor in scale.items():
        p[model.param_names.index(name)] *= factor
    return p, np.ones(model.nu) if gain is None else np.asarray(gain, float)


def closed_loop(problem, solver, compiled, prepare, steps, progress=None, mismatch=False):
    """One closed loop of ours; returns the figures of this run."""
    prob = problems.get(problem)
    cfg = prob.mpc_config(solver, compiled)
    started = time.perf_counter()
    controller = MPCController(cfg, progress=progress)
    build = time.perf_counter() - started
    model = controller.model
    plant = rk4_step(model, controller.cfg.dt, prob.substeps)
    p, gain = plant_of(problem, controller, mismatch)
    x = prob.x0.copy()
    solve, step, prep, iters, failures = [], [], [], [], 0
    qp_fb, qp_prep, xs, us = [], [], [], []
    for _ in range(steps):
        t0 = time.perf_counter()
        u, result = controller.act(x)
        step.append(time.perf_counter() - t0)
        solve.append(result.solve_time)
        iters.append(result.iterations)
        failures += not result.success
        if 'qp_iter' in result.stats:
            qp_fb.append(result.stats['qp_iter'])
        xs.append(x)
        us.append(u)
        x = np.asarray(plant(x, u * gain, p), float).ravel()
        if prepare:
            t0 = time.perf_counter()
            figures = controller.solver.prepare()
            prep.append(time.perf_counter() - t0)
            qp_prep.append(figures['prep_qp_iter'] if figures else 0)
    ms = {name: 1e3 * np.asarray(v) for name, v in
          (('solve', solve), ('step', step), ('prep', prep or [0.0]))}
    qp_fb = qp_fb[1:] or [0.0]   # the cold first step apart
    return {
        'solve_median': float(np.median(ms['solve'])),
        'solve_p99': float(np.percentile(ms['solve'], 99)),
        'step_median': float(np.median(ms['step'])),
        'step_p99': float(np.percentile(ms['step'], 99)),
        'prep_median': float(np.median(ms['prep'])),
        'final_error': float(np.linalg.norm(x - prob.goal)),
        'cost': prob.closed_loop_cost(xs, us),
        'iterations': float(np.median(iters)),
        'qp_median': float(np.median(qp_fb)), 'qp_max': float(np.max(qp_fb)),
        'qp_prep_median': float(np.median(qp_prep or [0.0])),
        'failures': failures, 'build_s': build, 'steps': steps,
    }


def ours(problem, steps, repeat, only=None, progress=None, backends=BACKENDS):
    """Figures per backend label: medians over ``repeat`` runs of each run's figures."""
    rows = {}
    for label, solver, compiled, prepare, mismatch in backends:
        if (only and label not in only) or (mismatch and problem not in MISMATCH):
            continue
        runs = [closed_loop(problem, solver, compiled, prepare, steps, progress, mismatch)
                for _ in range(repeat)]
        row = {k: float(np.median([r[k] for r in runs])) for k in runs[0]}
        row['final_error'] = runs[0]['final_error']
        row['cost'] = runs[0]['cost']
        row['build_s'] = runs[0]['build_s']
        row['mismatch'] = mismatch
        row['compiled_rti'] = compiled and solver == 'sqp_rti'
        rows[label] = row
        print('  %-23s %s' % (label, _short(row)), file=sys.stderr, flush=True)
    return rows


def _short(row):
    return 'solve %.3f ms, step %.3f ms, error %.4f' % (
        row['solve_median'], row['step_median'], row['final_error'])


def have_dompc():
    return importlib.util.find_spec('do_mpc') is not None


def install_hint():
    return '%s -m pip install -r %s' % (sys.executable, os.path.relpath(REQUIREMENTS))


def run_peer(cmd, timeout=1800):
    """Run a peer script; returns its JSON lines, or raises RuntimeError with the reason."""
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise RuntimeError('%s: %s' % (' '.join(cmd[:2]), exc)) from None
    lines = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith('{')]
    if not lines:
        tail = proc.stderr.strip().splitlines()[-3:]
        raise RuntimeError('no result from %s (exit %d): %s' % (
            os.path.basename(cmd[1]), proc.returncode, ' / '.join(tail)))
    return lines


def peer_rows(lines, problem, tool):
    """Peer figures for one problem, or an error string."""
    for line in lines:
        if line.get('tool') != tool:
            continue
        if 'error' in line:
            return line['error']
        res = line.get('problems', {}).get(problem)
        if res is None:
            return 'no result for %s' % problem
        if 'error' in res:
            return res['error']
        return res
    return 'no %s result' % tool


def dompc(problem, steps, repeat):
    """do-mpc's figures (medians over repeats) or a string saying why there are none."""
    if not have_dompc():
        return 'do-mpc is not installed; install it with: %s' % install_hint()
    cmd = [sys.executable, os.path.join(HERE, 'peers', 'dompc_peer.py'), '--problem', problem,
           '--steps', str(steps), '--repeat', str(repeat)]
    return peer(cmd, problem, 'do-mpc')


def acados(problem, steps, repeat, variant='rti'):
    """acados' figures (each a median over ``repeat`` closed loops in one process, one
    build), or a string saying why there are none."""
    cmd = ['bash', os.path.join(HERE, 'peers', 'run_acados.sh'), '--problem', problem,
           '--steps', str(steps), '--variant', variant, '--repeat', str(repeat)]
    return peer(cmd, problem, 'acados-' + variant)


def peer(cmd, problem, tool):
    try:
        return peer_rows(run_peer(cmd), problem, tool)
    except RuntimeError as exc:
        return str(exc)


def table(problem, rows, peers):
    """The printed table for one problem. ``peers``: tool -> figures dict or reason string."""
    dm = peers.get('do-mpc')
    ac = peers.get('acados-rti')
    dm_ms = dm['median_ms'] if isinstance(dm, dict) else None
    ac_ms = ac['median_ms'] if isinstance(ac, dict) else None
    ac_tot = ac.get('own_median_ms') if isinstance(ac, dict) else None   # acados' own timer
    head = ('%-24s %9s %9s %9s %9s %8s %10s %11s %6s %7s %7s' % (
        'backend', 'solve ms', 'p99 ms', 'step ms', 'p99 ms', 'prep ms', 'final err',
        'loop cost', 'iters', 'qp it', 'prep it'))
    if 'do-mpc' in peers:
        head += ' %9s' % '/do-mpc'
    if 'acados-rti' in peers:
        head += ' %9s %9s' % ('/acados', '/ac tot')
    lines = ['%s (N = %d, %d closed-loop steps)' % (
        problem, problems.get(problem).N, _steps(rows)), head,
        '-' * len(head)]
    for label, r in rows.items():
        prepared = bool(r['prep_median'])
        line = '%-24s %9.4f %9.4f %9.4f %9.4f %8s %10.4f %11.5g %6.0f %7s %7s' % (
            label, r['solve_median'], r['solve_p99'], r['step_median'], r['step_p99'],
            '%.4f' % r['prep_median'] if prepared else '-', r['final_error'], r['cost'],
            r['iterations'],
            '%.0f/%.0f' % (r['qp_median'], r['qp_max']) if r.get('compiled_rti') else '-',
            '%.0f' % r['qp_prep_median'] if prepared else '-')
        same = not r.get('mismatch')   # the peers run the model as the plant
        if 'do-mpc' in peers:
            line += ' %9s' % _ratio(r['step_median'], dm_ms if same else None)
        if 'acados-rti' in peers:
            ours_ms = r['solve_median'] + r['prep_median']
            line += ' %9s %9s' % (_ratio(ours_ms, ac_ms if same else None),
                                  _ratio(ours_ms, ac_tot if same else None))
        if r['failures']:
            line += '  (%d failed steps)' % r['failures']
        lines.append(line)
    for tool, res in peers.items():
        if isinstance(res, dict):
            line = '%-24s %9.4f %9.4f %9s %9s %8s %10.4f %11.5g %6s %7s %7s' % (
                tool, res['median_ms'], res['p99_ms'], '-', '-', '-', res['final_error'],
                res['cost'], '-', '-', '-')
            lines.append(line)
            if 'time_tot_median_ms' in res:
                lines.append('%-24s %9.4f %9.4f' % (
                    tool + ' time_tot', res['time_tot_median_ms'], res['time_tot_p99_ms']))
        else:
            lines.append('%-24s skipped: %s' % (tool, res))
    return '\n'.join(lines)


def _steps(rows):
    return int(next(iter(rows.values()))['steps']) if rows else 0


def _ratio(ours_ms, peer_ms):
    return '%.3f' % (ours_ms / peer_ms) if peer_ms else '-'


def parse_args(description, argv=None):
    ap = argparse.ArgumentParser(description=description,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--problem', default=','.join(STANDARD), help='comma-separated, of: %s'
                    % ', '.join(problems.NAMES))
    defaults = ', '.join('%s %d' % (k, problems.get(k).steps) for k in STANDARD)
    ap.add_argument('--steps', type=int, default=None,
                    help="closed-loop steps (default: the problem's, %s)" % defaults)
    ap.add_argument('--repeat', type=int, default=3, help='closed-loop runs per backend')
    ap.add_argument('--quick', action='store_true',
                    help='fewer steps (%s) and one run' % ', '.join(
                        '%s %d' % kv for kv in QUICK_STEPS.items()))
    ap.add_argument('--only', default='', help='comma-separated backend labels (%s)'
                    % ', '.join(b[0] for b in BACKENDS))
    ap.add_argument('--no-peers', action='store_true', help='our backends only')
    ap.add_argument('--json', default='', help='also write all figures to this file')
    args = ap.parse_args(argv)
    if args.quick:
        args.repeat = 1
    return args


def main(argv=None, with_acados=False, description=__doc__):
    args = parse_args(description, argv)
    names = args.problem.split(',')
    unknown = set(names) - set(problems.NAMES)
    if unknown:
        sys.exit('unknown problem(s) %s; known: %s' % (', '.join(sorted(unknown)),
                                                       ', '.join(problems.NAMES)))
    only = set(filter(None, args.only.split(',')))
    unknown = only - {b[0] for b in BACKENDS}
    if unknown:
        sys.exit('unknown backend label(s) %s' % ', '.join(sorted(unknown)))
    if not args.no_peers and not have_dompc():
        print('do-mpc is not installed, its column is skipped; install it with:\n  %s'
              % install_hint(), flush=True)
    results = {}
    for problem in names:
        steps = args.steps or (QUICK_STEPS.get(problem, problems.get(problem).steps)
                               if args.quick else problems.get(problem).steps)
        print('%s: our backends (%d steps x %d runs)' % (problem, steps, args.repeat),
              file=sys.stderr, flush=True)
        rows = ours(problem, steps, args.repeat, only,
                    progress=lambda msg: print('  build: ' + msg, file=sys.stderr, flush=True))
        peers = {}
        if not args.no_peers:
            print('%s: do-mpc' % problem, file=sys.stderr, flush=True)
            peers['do-mpc'] = dompc(problem, steps, args.repeat)
            if with_acados:
                print('%s: acados (its own venv and process)' % problem, file=sys.stderr,
                      flush=True)
                peers['acados-rti'] = acados(problem, steps, args.repeat)
                if isinstance(peers['acados-rti'], str):
                    print('acados failed: %s' % peers['acados-rti'], flush=True)
        results[problem] = {'ours': rows, 'peers': peers}
        print(table(problem, rows, peers) + '\n', flush=True)
    if args.json:
        with open(args.json, 'w') as out:
            json.dump(results, out, indent=1)
    return results


if __name__ == '__main__':
    main()
