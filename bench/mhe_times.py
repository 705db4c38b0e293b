"""Moving horizon estimation per window size: ours next to do-mpc's MHE, on the same problem.

The standard estimation problem (bench/peers/problems.py, MHE): a unicycle whose velocity and
turn-rate gains are 0.9 and 1.1, driven by smooth commands for 200 steps of 0.1 s, its pose
measured with noise (0.01); the estimator knows the commands, starts from the gains 1 and
estimates the pose and both gains. Both solve the same problem in every window: process noise
on every state, the measurements of the window, an arrival cost with fixed weights whose prior
is the previous window's solution (do-mpc's default objective; ours with ``arrival: fixed``).
For every full window it records

  solve   ours: the solver call alone (Gauss-Newton SQP, core.solvers)
  step    ours: the whole MovingHorizonEstimator.add_measurement (window, solve, spreads);
          do-mpc: make_step (IPOPT), its per-window cost
  it      iterations per window (median)
  diff    the largest difference of the two estimates (pose, angles wrapped, and gains) over
          all windows: the same estimate

``do-mpc / ours`` is do-mpc's make_step over our step (above 1: we are faster). Not a test: it
prints.

    python bench/mhe_times.py [--horizons 10,20,50] [--no-peer]
"""
import argparse
import json
import os
import subprocess
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, 'peers'))
sys.dont_write_bytecode = True
import problems  # noqa: E402

from casadi_mpc.core.estimation import MovingHorizonEstimator  # noqa: E402


def config(prob, horizon):
    """Our estimator on the standard problem (the same weights as do-mpc's objective)."""
    prior = np.array(prob.prior)
    return {'model': {'name': 'diff_drive'}, 'horizon': horizon, 'rate_hz': 1.0 / prob.dt,
            'measurement_std': [prob.meas_std] * 3, 'process_std': [prob.process_std] * 3,
            'state_prior_std': [prob.state_prior_std] * 3,
            'estimate': ['v_gain', 'omega_gain'], 'estimate_min': (0.5 * prior).tolist(),
            'estimate_max': (2.0 * prior).tolist(), 'estimate_prior': prior.tolist(),
            'estimate_prior_std': [prob.gain_prior_std] * 2, 'arrival': 'fixed',
            'max_gap': 10.0, 'command_timeout': 10.0,
            'solver': {'name': 'sqp', 'tol': 1e-8, 'max_iter': 50, 'time_limit': 1.0}}


def ours(prob, horizon):
    ys, us, truth = problems.mhe_data(prob)
    est = MovingHorizonEstimator(config(prob, horizon))
    solve, step, iters, estimates = [], [], [], []
    for k in range(prob.steps + 1):
        t = k * prob.dt
        if k < prob.steps:
            est.add_command(t, us[k])
        started = time.perf_counter()
        e = est.add_measurement(t, ys[k])
        elapsed = time.perf_counter() - started
        if k >= horizon:   # full windows, as do-mpc's
            assert e.success, e.status
            solve.append(e.solve_time)
            step.append(elapsed)
            iters.append(e.iterations)
            estimates.append(np.concatenate([e.x, e.theta]))
    return {'solve': 1e3 * np.array(solve), 'step': 1e3 * np.array(step),
            'iterations': float(np.median(iters)), 'estimates': np.array(estimates),
            'truth': truth}


def peer(horizons):
    cmd = [sys.executable, os.path.join(HERE, 'peers', 'dompc_mhe_peer.py'), '--horizons',
           ','.join(map(str, horizons))]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=3600)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return 'do-mpc: %s' % exc
    lines = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith('{')]
    if not lines:
        tail = ' / '.join(proc.stderr.strip().splitlines()[-3:])
        return 'do-mpc gave no result (exit %d): %s (pip install -r bench/requirements.txt)' % (
            proc.returncode, tail)
    return lines[0]['horizons']


def difference(a, b):
    """Largest difference of two estimate sequences (angles wrapped)."""
    d = np.asarray(a) - np.asarray(b)
    d[:, 2] = np.arctan2(np.sin(d[:, 2]), np.cos(d[:, 2]))
    return float(np.max(np.abs(d)))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('--horizons', default='10,20,50')
    ap.add_argument('--no-peer', action='store_true', help='ours only')
    args = ap.parse_args()
    horizons = [int(h) for h in args.horizons.split(',')]
    prob = problems.MHE
    figures = {h: ours(prob, h) for h in horizons}
    theirs = {} if args.no_peer else peer(horizons)
    print('MHE: unicycle pose and velocity/turn-rate gains (true %s, prior %s), pose noise %g, '
          '%d measurements every %g s; ours: sqp (Gauss-Newton), do-mpc: IPOPT'
          % (prob.gains, prob.prior, prob.meas_std, prob.steps, prob.dt))
    if isinstance(theirs, str):
        print('  ' + theirs)
        theirs = {}
    print('  %-4s %18s %18s %5s %18s %5s %8s %9s  %s' % (
        'M', 'ours solve ms', 'ours step ms', 'it', 'do-mpc step ms', 'it', 'do-mpc/',
        'diff', 'final gains ours | do-mpc'))
    print('  %-4s %18s %18s %5s %18s %5s %8s %9s' % (
        '', 'median / p99', 'median / p99', '', 'median / p99', '', 'ours', ''))
    for h in horizons:
        f = figures[h]
        row = '  %-4d %8.3f / %7.3f %8.3f / %7.3f %5.0f' % (
            h, np.median(f['solve']), np.percentile(f['solve'], 99), np.median(f['step']),
            np.percentile(f['step'], 99), f['iterations'])
        gains = '%.4f %.4f' % tuple(f['estimates'][-1][3:])
        other = theirs.get(str(h))
        if other is None or 'error' in other:
            print(row + '   %s' % (other or {}).get('error', '(no peer)') + '  ' + gains)
            continue
        est = np.array(other['estimates'])
        print(row + ' %8.3f / %7.3f %5.0f %7.1fx %9.2g  %s | %.4f %.4f' % (
            other['median_ms'], other['p99_ms'], other['iterations'],
            other['median_ms'] / np.median(f['step']), difference(f['estimates'], est), gains,
            est[-1][3], est[-1][4]))
    final = figures[horizons[-1]]
    error = final['estimates'][-1][:3] - final['truth'][-1]
    print('  ours, M = %d, last window: pose error %s, gains %s (true %s)' % (
        horizons[-1], np.round(error, 4).tolist(),
        np.round(final['estimates'][-1][3:], 4).tolist(), list(prob.gains)))


if __name__ == '__main__':
    main()
