/*
 * A standalone driver of one compiled kernel, built with the sanitizers by
 * test_sanitizers.py: real-time iterations with and without the advanced step, converged SQP
 * with the exact Hessian, NaN parameters, infeasible bounds and recovery, the cost per term.
 * driver_data.h (written by the test) holds the problem's parameters, bounds and cold guess.
 * Exit 0 when every solve ends with the expected status.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmpc_interface.h"
#include "driver_data.h"

static int failures = 0;

static void expect(int got, int want, const char *what) {
    if (got != want) {
        fprintf(stderr, "%s: status %d, expected %d\n", what, got, want);
        failures++;
    }
}

static int solve(void *ws, double *p, double *w, double *lam_g, double *lam_x,
                 cmpc_stats_t *st) {
    cmpc_io_t io = {p, LBW, UBW, LBG, UBG, w, lam_g, lam_x};
    return cmpc_solve(ws, &io, st);
}

int main(void) {
    cmpc_dims_t d;
    cmpc_dims(&d);
    if (d.nw != NW_ || d.ng != NG_ || d.np != NP_ || d.settings_size != sizeof(cmpc_settings_t)) {
        fprintf(stderr, "dimensions do not match the data\n");
        return 1;
    }
    void *ws = cmpc_create();
    if (!ws) return 1;
    double p[NP_], w[NW_], lam_g[NG_], lam_x[NW_], terms[NT_ + 1];
    cmpc_stats_t st;
    memset(&st, 0, sizeof(st));
    cmpc_settings_t set = {0};
    set.max_iter = 50;
    set.rti = 1;
    set.warm = 1;
    set.advanced = 1;
    set.qp_max_iter = 50;
    set.as_max_iter = 8;
    set.tol_pr = set.tol_du = 1e-8;
    set.time_limit = 10.0;
    set.qp_tol = 1e-8;
    set.wfloor = 1e-3;
    set.mu0 = 1.0;
    set.exact = 1;
    /* real-time iterations, advanced step on, then off; the "plant" is the predicted state,
       moved a little so that the feedback has to correct */
    for (int advanced = 1; advanced >= 0; --advanced) {
        set.advanced = advanced;
        cmpc_settings(ws, &set);
        memcpy(p, P, sizeof(p));
        cmpc_set_guess(ws, W0);
        for (int step = 0; step < 25; ++step) {
            expect(solve(ws, p, w, lam_g, lam_x, &st), ST_RTI, "rti");
            for (int i = 0; i < NX_; ++i)
                p[X0OFF_ + i] = w[NX_ + NU_ + i] + (step % 3 == 0 ? 1e-3 : 0.0);
            for (int i = 0; i < NU_; ++i) p[UPREVOFF_ + i] = w[NX_ + i];
            cmpc_prepare(ws, p, &st);
        }
        cmpc_costs(ws, p, w, &st, terms);
        if (!(st.f == st.f)) failures++;
    }
    /* converged SQP with the exact Hessian, warm started by the shift */
    set.rti = 0;
    set.shift = 1;
    set.max_iter = 100;
    cmpc_settings(ws, &set);
    memcpy(p, P, sizeof(p));
    cmpc_set_guess(ws, W0);
    for (int step = 0; step < 5; ++step) {
        expect(solve(ws, p, w, lam_g, lam_x, &st), ST_OPTIMAL, "sqp");
        for (int i = 0; i < NX_; ++i) p[X0OFF_ + i] = w[NX_ + NU_ + i];
    }
    /* NaN in the parameters: an error, then a clean cold start */
    p[GOALOFF_] = NAN;
    expect(solve(ws, p, w, lam_g, lam_x, &st), ST_ERROR, "nan");
    memcpy(p, P, sizeof(p));
    cmpc_set_guess(ws, W0);
    expect(solve(ws, p, w, lam_g, lam_x, &st), ST_OPTIMAL, "after nan");
    /* bounds no state can meet: infeasible, then recovery */
    double keep = UBW[NX_ + NU_];
    LBW[NX_ + NU_] = UBW[NX_ + NU_] = P[X0OFF_] + 100.0;
    cmpc_set_guess(ws, W0);
    int status = solve(ws, p, w, lam_g, lam_x, &st);
    if (status != ST_INFEASIBLE && status != ST_MAX_ITER) expect(status, ST_INFEASIBLE, "bounds");
    LBW[NX_ + NU_] = -INFINITY;
    UBW[NX_ + NU_] = keep;
    cmpc_set_guess(ws, W0);
    expect(solve(ws, p, w, lam_g, lam_x, &st), ST_OPTIMAL, "after infeasible");
    cmpc_free(ws);
    if (failures) fprintf(stderr, "%d unexpected statuses\n", failures);
    return failures ? 1 : 0;
}
