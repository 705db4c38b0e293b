"""do-mpc's MHE (IPOPT) on the standard estimation problem; prints one JSON line.

The model is discrete (one RK4 step of dt) with additive process noise on every state; the pose
is measured with noise and the commands exactly (measurements of u without noise pin them); the
gains are the estimated parameters. Default objective: arrival cost with fixed weights P_x, P_p
(do-mpc puts the previous solution's x_1 and estimate in as the prior), stage cost v'P_v v +
w'P_w w. Each window gets the same measurements as ours through a y_fun; make_step is timed.
"""
import argparse
import logging
import os
import sys
import time
import warnings

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.dont_write_bytecode = True  # keep the source tree clean
import problems as P  # noqa: E402


def build(prob, horizon):
    import do_mpc

    model = do_mpc.model.Model('discrete', 'SX')
    x = model.set_variable('_x', 'x', shape=(3, 1))
    u = model.set_variable('_u', 'u', shape=(2, 1))
    gains = model.set_variable('_p', 'gains', shape=(2, 1))
    model.set_rhs('x', P.rk4_step(lambda a, b: P.unicycle_gains_ode(a, b, gains), x, u,
                                  prob.dt), process_noise=True)
    model.set_meas('pose', x, meas_noise=True)
    model.set_meas('command', u, meas_noise=False)
    model.setup()

    mhe = do_mpc.estimator.MHE(model, p_est_list=['gains'])
    mhe.settings.n_horizon = horizon
    mhe.settings.t_step = prob.dt
    mhe.settings.store_full_solution = False
    mhe.settings.nlpsol_opts = {'ipopt.print_level': 0, 'ipopt.sb': 'yes', 'print_time': 0,
                                'ipopt.tol': 1e-8}
    eye = np.eye(3)
    mhe.set_default_objective(P_x=eye / prob.state_prior_std ** 2,
                              P_v=eye / prob.meas_std ** 2,
                              P_p=np.eye(2) / prob.gain_prior_std ** 2,
                              P_w=eye / (prob.process_std ** 2 * prob.dt))
    mhe.bounds['lower', '_p_est', 'gains'] = 0.5 * np.array(prob.prior)
    mhe.bounds['upper', '_p_est', 'gains'] = 2.0 * np.array(prob.prior)
    return mhe


def run(prob, horizon):
    ys, us, _ = P.mhe_data(prob)
    mhe = build(prob, horizon)
    window = {'end': horizon}      # the window ends at measurement ``end``

    def y_fun(t_now):
        template = mhe.get_y_template()
        end = window['end']
        for k in range(horizon):   # measurement k of the window: x_{k+1} and u_k
            i = end - horizon + k
            template['y_meas', k] = np.concatenate([ys[i + 1], us[i]])
        return template
    mhe.set_y_fun(y_fun)
    mhe.setup()
    mhe.x0 = ys[0]
    mhe.p_est0 = np.array(prob.prior)
    mhe.set_initial_guess()
    times, iters, estimates = [], [], []
    for end in range(horizon, prob.steps + 1):
        window['end'] = end
        started = time.perf_counter()
        x = mhe.make_step(np.concatenate([ys[end], us[end - 1]]))
        times.append(time.perf_counter() - started)
        iters.append(int(mhe.solver_stats.get('iter_count', 0)))
        estimates.append(np.concatenate([np.asarray(x).ravel(),
                                         np.asarray(mhe.p_est0.cat).ravel()]).tolist())
    ms = 1e3 * np.asarray(times)
    return {'median_ms': float(np.median(ms)), 'p99_ms': float(np.percentile(ms, 99)),
            'iterations': float(np.median(iters)), 'windows': len(times),
            'estimates': estimates}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('--horizons', default='10,20,50')
    args = ap.parse_args()
    warnings.filterwarnings('ignore')
    logging.disable(logging.WARNING)
    with P.json_stdout() as emit:
        out = {'tool': 'do-mpc', 'horizons': {}}
        for horizon in (int(h) for h in args.horizons.split(',')):
            try:
                out['horizons'][str(horizon)] = run(P.MHE, horizon)
            except Exception as exc:   # report, keep going with the other windows
                reason = '%s: %s' % (type(exc).__name__, exc)
                out['horizons'][str(horizon)] = {'error': reason}
        emit(out)


if __name__ == '__main__':
    main()
