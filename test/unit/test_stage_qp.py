"""The compiled kernel's QP layer (stage_qp.c, HPIPM underneath) on random stage-structured QPs,
against casadi.conic with qpOASES on the same QP written flat: well-conditioned, degenerate,
infeasible and active-set-switching QPs, and every fallback of the layer forced (regularization
of a singular or indefinite reduced Hessian, a failed hot start retried cold, NaN data, the
advanced-step correction).

Stated tolerances: primal solutions to 1e-7, multipliers to 1e-6 (unique only for strictly
convex, non-degenerate QPs: degenerate ones are checked by their objective and KKT conditions).
"""
import numpy as np
import pytest

from .stage_qp_harness import Flat, Layer, QP_FAIL, QP_NAN, QP_NONCONVEX, QP_OK, random_qp

PRIMAL, DUAL, KKT = 1e-7, 1e-6, 1e-7


def solve_both(qp, **kwargs):
    layer = Layer(qp)
    rc = layer.solve(**kwargs)
    flat = Flat(qp)
    return layer, rc, flat, flat.solve()


def assert_matches(layer, flat, reference, duals=True):
    ok, v, lam_a, lam_v, cost = reference
    assert ok
    mine = flat.pack(layer.solution())
    np.testing.assert_allclose(mine[0], v, atol=PRIMAL)
    assert flat.objective(mine[0]) == pytest.approx(cost, rel=1e-9, abs=1e-9)
    assert flat.kkt(*mine) < KKT
    if duals:
        np.testing.assert_allclose(mine[1], lam_a, atol=DUAL)
        np.testing.assert_allclose(mine[2], lam_v, atol=DUAL)
    return mine


@pytest.mark.parametrize('seed', range(8))
def test_well_conditioned_qps_match_the_reference(seed):
    rng = np.random.default_rng(seed)
    qp = random_qp(rng, N=4 + seed % 4, nx=2 + seed % 3, nu=1 + seed % 2,
                   nv=(1 + seed % 2) if seed % 2 else 0, ng=2, nsoft=seed % 3,
                   terminal_rows=seed % 2)
    layer, rc, flat, reference = solve_both(qp)
    assert rc == QP_OK
    assert_matches(layer, flat, reference)
    assert layer.stats['regularized'] == 0 and layer.stats['cold_retries'] == 0


def degenerate(rng, kind):
    qp = random_qp(rng, N=5, nx=3, nu=2, ng=2, nsoft=1, terminal_rows=1,
                   hessian='psd' if kind == 'psd' else 'pd')
    if kind == 'duplicate-rows':
        for k in range(qp.N + 1):   # every general row twice: dependent constraints
            qp.C[k] = np.vstack([qp.C[k], qp.C[k]])
            qp.D[k] = np.vstack([qp.D[k], qp.D[k]])
            qp.lg[k] = np.concatenate([qp.lg[k], qp.lg[k]])
            qp.ug[k] = np.concatenate([qp.ug[k], qp.ug[k]])
    if kind in ('weakly-active', 'equality-bounds'):
        # bounds exactly at the solution of the QP without them: active with zero multiplier;
        # or lower = upper (an equality written as two bounds)
        free = Layer(qp)
        assert free.solve() == QP_OK
        z = free.solution()['z']
        for k in range(1, qp.N + 1):
            i = k % qp.nx
            if kind == 'weakly-active':
                qp.ubx[k][i] = z[k][i]
            else:
                qp.lbx[k][i] = qp.ubx[k][i] = z[k][i]
    return qp


@pytest.mark.parametrize('kind', ['psd', 'duplicate-rows', 'weakly-active', 'equality-bounds'])
@pytest.mark.parametrize('seed', range(3))
def test_degenerate_qps_reach_the_reference_optimum(kind, seed):
    qp = degenerate(np.random.default_rng(100 + seed), kind)
    layer, rc, flat, reference = solve_both(qp)
    assert rc == QP_OK
    ok, v, _, _, cost = reference
    assert ok
    mine = flat.pack(layer.solution())
    # multipliers (and for a singular Hessian the primal) need not be unique: the optimum is
    assert flat.objective(mine[0]) == pytest.approx(cost, rel=1e-7, abs=1e-8)
    assert flat.kkt(*mine) < 1e-6
    if kind != 'psd':
        np.testing.assert_allclose(mine[0], v, atol=1e-6)


@pytest.mark.parametrize('seed', range(3))
def test_an_infeasible_qp_is_reported(seed):
    rng = np.random.default_rng(200 + seed)
    qp = random_qp(rng, N=4, nx=3, nu=2, ng=1, nsoft=0)
    # the second state can only be reached within the input bounds: ask for more
    k, i = 1, 0
    reach = qp.A[0][i] @ qp.s0[:qp.nx] + qp.b[0][i] + np.sum(
        np.abs(qp.B[0][i]) * np.maximum(np.abs(qp.lbu[0]), np.abs(qp.ubu[0])))
    qp.lbx[k][i], qp.ubx[k][i] = reach + 1.0, reach + 2.0
    layer, rc, flat, reference = solve_both(qp)
    assert rc == QP_FAIL
    assert not reference[0]


def test_soft_rows_take_the_violation_that_hard_rows_cannot():
    rng = np.random.default_rng(7)
    qp = random_qp(rng, N=4, nx=2, nu=1, ng=1, nsoft=1)
    # a soft row that cannot be met at stage 2: its slack carries the difference, at the
    # price of its penalty, and the QP stays feasible
    qp.lg[2][0], qp.ug[2][0] = 50.0, 60.0
    layer, rc, flat, reference = solve_both(qp)
    assert rc == QP_OK
    assert_matches(layer, flat, reference)
    assert layer.solution()['sl'][2][0] > 1.0


def test_active_set_switching_under_hot_starts():
    """A sequence of QPs whose input gradient sweeps the solution across its bounds; each is
    hot-started from the last one's multipliers and must equal the reference."""
    rng = np.random.default_rng(11)
    base = random_qp(rng, N=6, nx=3, nu=2, nv=2, ng=1, nsoft=1, terminal_rows=1)
    layer = Layer(base)
    active = []
    for shift in np.linspace(-6.0, 6.0, 9):
        qp = random_qp(np.random.default_rng(11), N=6, nx=3, nu=2, nv=2, ng=1, nsoft=1,
                       terminal_rows=1)
        for k in range(qp.N):
            qp.g[k][qp.ns:] += shift
        layer.load(qp)
        assert layer.solve(warm=True) == QP_OK
        flat = Flat(qp)
        assert_matches(layer, flat, flat.solve())
        sol = layer.solution()
        active.append(tuple(bool(lam[0] > 1e-6) for lam in sol['lam_uu'][:qp.N]) +
                      tuple(bool(lam[0] > 1e-6) for lam in sol['lam_lu'][:qp.N]))
    assert len(set(active)) >= 3   # the active set changed along the sweep


def singular_qp(indefinite=False):
    """No curvature in the second input, which no state, cost or bound sees: the reduced
    Hessian is singular (or, with ``indefinite``, negative in that input)."""
    rng = np.random.default_rng(5)
    qp = random_qp(rng, N=4, nx=2, nu=2, ng=0, nsoft=0)
    for k in range(qp.N + 1):
        H = np.zeros((qp.nz, qp.nz))
        H[:qp.nx, :qp.nx] = np.eye(qp.nx)
        H[qp.nx, qp.nx] = 0.1
        if indefinite and k < qp.N:
            H[qp.nx + 1, qp.nx + 1] = -1.0
        qp.H[k] = H
        qp.g[k][qp.nx + 1:] = 0.0
        qp.lbx[k][:] = -np.inf
        qp.ubx[k][:] = np.inf
        if k < qp.N:
            qp.B[k][:, 1] = 0.0
            qp.lbu[k][:] = -np.inf
            qp.ubu[k][:] = np.inf
    return qp


def test_a_singular_reduced_hessian_is_regularized():
    qp = singular_qp()
    layer, rc, flat, _ = solve_both(qp)
    assert rc == QP_OK
    assert layer.stats['regularized'] >= 1 and layer.stats['reg'] > 0
    # the optimum of the QP (the free input changes nothing): the reference gets a tiny shift
    ok, v, _, _, cost = flat.solve(regularize=1e-9)
    assert ok
    mine = flat.pack(layer.solution())
    assert flat.objective(mine[0]) == pytest.approx(cost, rel=1e-6, abs=1e-6)
    nx, ns = qp.nx, qp.ns
    for k in range(qp.N + 1):
        np.testing.assert_allclose(layer.solution()['z'][k][:nx], v[flat.off[k]:][:nx],
                                   atol=1e-5)
        if k < qp.N:
            assert abs(layer.solution()['z'][k][ns + 1]) < 1e-3   # the shift keeps it small


def test_an_indefinite_reduced_hessian_is_reported_in_strict_mode_else_regularized():
    qp = singular_qp(indefinite=True)
    layer = Layer(qp)
    assert layer.solve(strict=True) == QP_NONCONVEX
    assert layer.solve() == QP_OK
    assert layer.stats['regularized'] >= 1 and layer.stats['reg'] > 1.0


def test_nan_data_is_reported_and_the_next_solve_is_clean():
    rng = np.random.default_rng(9)
    qp = random_qp(rng, N=5, nx=3, nu=2, ng=1, nsoft=1)
    good = [g.copy() for g in qp.g]
    qp.g[2][0] = np.nan
    layer = Layer(qp)
    assert layer.solve() == QP_NAN
    qp.g = good
    layer.load(qp)
    assert layer.solve(warm=True) == QP_OK
    flat = Flat(qp)
    assert_matches(layer, flat, flat.solve())


def test_a_failed_hot_start_is_retried_cold():
    import ctypes
    from .stage_qp_harness import opts
    rng = np.random.default_rng(3)
    qp = random_qp(rng, N=5, nx=3, nu=2, ng=2, nsoft=1, terminal_rows=1)
    layer = Layer(qp)
    assert layer.solve() == QP_OK
    # a hot start whose slacks and multipliers may sit on zero cannot move: it fails (here with
    # NaN from 0/0), and the layer solves again from a cold start
    stuck = opts(warm=True)
    stuck.wfloor = 0.0
    assert layer.lib.cmpc_qp_solve(layer.ptr, ctypes.byref(stuck)) == QP_OK
    assert layer.stats['cold_retries'] == 1
    flat = Flat(qp)
    assert_matches(layer, flat, flat.solve())


def test_the_advanced_step_solves_the_qp_of_the_new_initial_value():
    """After a solve, a new initial value: nothing to do when it changes nothing, else the
    tangential predictor and interior-point iterations from there; when those do not converge
    the layer says so (the kernel then solves the QP the ordinary way)."""
    paths = []
    for seed in range(6):
        rng = np.random.default_rng(300 + seed)
        qp = random_qp(rng, N=6, nx=3, nu=2, nv=2 if seed % 2 else 0, ng=1, nsoft=1,
                       terminal_rows=1)
        layer = Layer(qp)
        assert layer.solve() == QP_OK
        for step in (1e-15, 1e-3, 3e-2):
            s0 = qp.s0.copy()
            s0[:qp.nx] += step * rng.standard_normal(qp.nx)
            layer.set_s0(s0)
            rc = layer.advance(max_iter=20)
            flat = Flat(qp)
            if rc == QP_OK:
                paths.append(layer.stats['path'])
                assert_matches(layer, flat, flat.solve(), duals=False)
            else:
                assert rc == QP_FAIL and step > 1e-15
                paths.append('fallback')
            assert layer.solve(warm=True) == QP_OK   # the next advance starts from a solve
            assert_matches(layer, flat, flat.solve())
        assert paths[-3] == 'prepared'
    corrected = [p for i, p in enumerate(paths) if i % 3]
    assert 'continued' in corrected   # a correction across an active-set change


def test_a_qp_the_speed_mode_cannot_finish_goes_to_the_robust_mode():
    # found by search: HPIPM's speed mode stalls above 1e-10 on this one
    qp = random_qp(np.random.default_rng(304), N=6, nx=3, nu=2, ng=1, nsoft=1,
                   terminal_rows=1)
    layer, rc, flat, reference = solve_both(qp, tol=1e-10)
    assert rc == QP_OK
    assert layer.stats['robust'] == 1 and layer.stats['cold_retries'] == 0
    assert_matches(layer, flat, reference)


def test_a_badly_scaled_qp_is_solved_without_regularization():
    """Curvature from 1e-7 (a smoothing weight) to 1e6 (a penalty): small pivots of a positive
    definite reduced Hessian are no singularity, and stationarity is asked to the accuracy
    rounding allows at that scale."""
    qp = random_qp(np.random.default_rng(21), N=8, nx=3, nu=2, ng=0, nsoft=0)
    for k in range(qp.N + 1):
        qp.H[k][:qp.nx, :qp.nx] *= 1e6
        qp.H[k][qp.nx:, :] = 0.0
        qp.H[k][:, qp.nx:] = 0.0
        qp.H[k][qp.nx:, qp.nx:] = 1e-7 * np.eye(qp.nu)
    # nothing weighs or bounds the last state: the last input's pivot is 1e-7
    qp.H[qp.N][:] = 0.0
    qp.lbx[qp.N][:], qp.ubx[qp.N][:] = -np.inf, np.inf
    layer, rc, flat, reference = solve_both(qp, tol=1e-9)
    assert rc == QP_OK
    assert layer.stats['regularized'] == 0
    ok, v, _, _, cost = reference
    mine = flat.pack(layer.solution())
    assert flat.objective(mine[0]) == pytest.approx(cost, rel=1e-9)
    np.testing.assert_allclose(mine[0], v, atol=1e-6)
