/*
 * Structured SQP kernel, compiled together with the generated problem functions; each QP is
 * solved by HPIPM through stage_qp.c.
 *
 * The generated header before it holds the interface structs (interface.py: cmpc_settings_t,
 * cmpc_stats_t, cmpc_io_t, cmpc_dims_t, status and path codes), the dimensions (NX, NU, NV, N,
 * NP, PM0, X0OFF, NT, NHNZ, NGT, EXACT), the Hessian scatter tables, and declares the
 * CasADi-generated functions cmpc_dyn (x, u, pm -> x+, A, B), cmpc_dyn0 (x, u, pm -> x+),
 * cmpc_dynh (x, u, pm, nu -> x+, A, B, d2(nu' x+)/d(x,u)2; only if EXACT), cmpc_obj (w, p -> f,
 * grad f, Gauss-Newton Hessian nonzeros, terminal constraint value and Jacobian), cmpc_obj0
 * (w, p -> f, terminal value) and cmpc_terms (w, p -> f, cost per term).
 *
 * Algorithm: SQP on the multiple-shooting NLP. Each QP is posed on the stages (stage_qp.h): the
 * state of the QP is (x_k, v_k), v_k = u_{k-1} when the cost couples neighbouring inputs (NV =
 * NU, else NV = 0), the initial value is eliminated, the terminal constraint is general rows of
 * the last stage. The QPs are hot-started from the last QP's multipliers.
 *
 * Converged mode: the Hessian is the objective's Gauss-Newton Hessian plus, when EXACT, the
 * constraint curvature -nu' F'' (the exact Hessian of the Lagrangian for quadratic costs:
 * quadratic instead of linear convergence); an iteration whose reduced Hessian is then not
 * positive definite takes the Gauss-Newton Hessian. l1-merit backtracking line search; stop
 * when the constraint violation and the Lagrangian gradient are below the tolerances, or at the
 * iteration or time limit (checked per iteration). RTI mode: one full Gauss-Newton step from the
 * last iterate (no shift, as acados); the linearization can be prepared before the new state is
 * known (cmpc_prepare), so the feedback is the QP solve alone.
 *
 * Advanced step (RTI, prepared): cmpc_prepare also solves the QP for the predicted initial state
 * x0_pred = F(x_0, u_0) of the current iterate and the bounds of the last solve; HPIPM keeps the
 * factorization at that solution. The feedback corrects it for the actual state (stage_qp.c:
 * nothing when it still meets the tolerance, else the tangential predictor and, on an
 * active-set change, interior-point iterations from there), and falls back to the ordinary
 * hot-started solve when that does not converge. The result solves the actual QP to qp_tol
 * either way. Bounds or parameters other than x0 changed since the prepare: the ordinary solve.
 *
 * Multipliers are kept and returned in CasADi's nlpsol convention for the flat NLP (w, g):
 * g = [gap_0, x_0 - x0, gap_1, ..., gap_{N-1}, terminal], gap_k = x_{k+1} - F(x_k, u_k).
 *
 * The QP layer's general rows per stage take the terminal constraint now; path constraints
 * h_k(x_k, u_k, p) <= 0 with an L1/L2 slack penalty map onto its soft rows (the first nsoft[k]
 * rows of stage k: C_k, D_k the Jacobians of h_k at the iterate, ug = -h_k, zu = rho1,
 * Zu = 2 rho2).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "stage_qp.h"

#define NS (NX + NV)
#define NZ (NS + NU)
#define NXU (NX + NU)
#define NW (N * NXU + NX)
#define NG ((N + 1) * NX + NGT)
#define INIT NX                               /* offset of x_0 - x0 in g */
#define TERM ((N + 1) * NX)                   /* offset of the terminal rows in g */
#define GAP(k) ((k) == 0 ? 0 : ((k) + 1) * NX) /* offset of gap k in g */
#define BIG 1e19

typedef struct {
    cmpc_settings_t set;
    cmpc_qp_opts_t qo;
    cmpc_qp_t *qp;
    /* iterate, its multipliers, the last QP's step and multipliers */
    double w[NW], wt[NW], dw[NW];
    double lam_g[NG], lam_x[NW], qlam_g[NG], qlam_x[NW];
    double p[NP], p_prep[NP];
    int prepared, exact, curv;
    /* function values and derivatives at w (A, B live in the QP) */
    double f, grad[NW], hnz[NHNZ + 1], e[NGT + 1], De[NGT * NX + 1];
    double xn[N * NX];
    double Hl[EXACT ? N * NXU * NXU : 1];   /* curvature of nu' F per stage over (x, u) */
    /* bounds the QP was built with (lbw, ubw, terminal lbt, ubt) */
    int bounds_ok;
    double blbw[NW], bubw[NW], blbt[NGT + 1], bubt[NGT + 1];
    /* advanced step: the prepared QP is solved for x0_pred */
    int as_ready;
    double x0_pred[NX];
    /* statistics of the current solve and of the last prepare */
    cmpc_stats_t st;
    /* CasADi work */
    const double *arg[CA_ARG + 1];
    double *res[CA_RES + 1];
    long long iw[CA_IW + 1];
    double cw[CA_W + 1];
} ws_t;

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

/* ------------------------------------------------------------------ CasADi calls */

static void eval_dyn(ws_t *s, int k, int with_jac, double *xn) {
    const double *x = s->w + k * NXU;
    s->arg[0] = x;
    s->arg[1] = x + NX;
    s->arg[2] = s->p + PM0;
    s->res[0] = xn;
#if EXACT
    if (with_jac == 2) {
        s->arg[3] = s->lam_g + GAP(k);
        s->res[1] = s->qp->A[k];
        s->res[2] = s->qp->B[k];
        s->res[3] = s->Hl + k * NXU * NXU;
        cmpc_dynh(s->arg, s->res, s->iw, s->cw, 0);
        return;
    }
#endif
    if (with_jac) {
        s->res[1] = s->qp->A[k];
        s->res[2] = s->qp->B[k];
        cmpc_dyn(s->arg, s->res, s->iw, s->cw, 0);
    } else {
        cmpc_dyn0(s->arg, s->res, s->iw, s->cw, 0);
    }
}

/* all derivatives at s->w; with the constraint curvature (exact Hessian) if s->curv */
static void evaluate(ws_t *s) {
    for (int k = 0; k < N; ++k) eval_dyn(s, k, s->curv ? 2 : 1, s->xn + k * NX);
    s->arg[0] = s->w;
    s->arg[1] = s->p;
    s->res[0] = &s->f;
    s->res[1] = s->grad;
    s->res[2] = s->hnz;
    s->res[3] = s->e;
    s->res[4] = s->De;
    cmpc_obj(s->arg, s->res, s->iw, s->cw, 0);
}

/* ------------------------------------------------------------------ QP data */

/* the initial value step: the only QP data that depends on the new state */
static void build_s0(ws_t *s, const double *x0) {
    for (int i = 0; i < NX; ++i) s->qp->s0[i] = x0[i] - s->w[i];
    for (int i = NX; i < NS; ++i) s->qp->s0[i] = 0.0;
}

/* the QP at s->w: Hessian (Gauss-Newton, plus the constraint curvature if s->curv), gradient,
   dynamics offsets, bounds as steps, terminal rows; the initial value from s->p */
static void build_qp(ws_t *s) {
    cmpc_qp_t *qp = s->qp;
    for (int k = 0; k <= N; ++k) memset(qp->H[k], 0, sizeof(double) * NZ * NZ);
    for (int i = 0; i < NHNZ; ++i) {
        qp->H[HDST[i] / (NZ * NZ)][HDST[i] % (NZ * NZ)] = s->hnz[i];
        if (HDST2[i] >= 0) qp->H[HDST2[i] / (NZ * NZ)][HDST2[i] % (NZ * NZ)] = s->hnz[i];
    }
#if EXACT
    /* Hessian of the Lagrangian: the gap constraints x+ - F(x, u) add -nu' F'' */
    if (s->curv)
        for (int k = 0; k < N; ++k) {
            const double *hl = s->Hl + k * NXU * NXU;
            double *Hk = qp->H[k];
            for (int j = 0; j < NXU; ++j) {
                int cj = j < NX ? j : NS + j - NX;
                for (int i = 0; i < NXU; ++i) {
                    int ci = i < NX ? i : NS + i - NX;
                    Hk[ci + cj * NZ] -= hl[i + j * NXU];
                }
            }
        }
#endif
    for (int k = 0; k <= N; ++k) {
        double *gk = qp->g[k];
        const double *gr = s->grad + k * NXU, *wk = s->w + k * NXU;
        memset(gk, 0, sizeof(double) * NZ);
        for (int i = 0; i < NX; ++i) gk[i] = gr[i];
        if (k > 0)
            for (int i = 0; i < NX; ++i) {
                qp->lbx[k][i] = s->blbw[k * NXU + i] - wk[i];
                qp->ubx[k][i] = s->bubw[k * NXU + i] - wk[i];
            }
        if (k == N) break;
        for (int i = 0; i < NU; ++i) {
            gk[NS + i] = gr[NX + i];
            qp->lbu[k][i] = s->blbw[k * NXU + NX + i] - wk[NX + i];
            qp->ubu[k][i] = s->bubw[k * NXU + NX + i] - wk[NX + i];
        }
        for (int i = 0; i < NX; ++i) qp->b[k][i] = s->xn[k * NX + i] - s->w[(k + 1) * NXU + i];
    }
    for (int r = 0; r < NGT; ++r) {
        for (int c = 0; c < NX; ++c) qp->C[N][r + c * NGT] = s->De[r + c * NGT];
        qp->lg[N][r] = s->blbt[r] - s->e[r];
        qp->ug[N][r] = s->bubt[r] - s->e[r];
    }
    build_s0(s, s->p + X0OFF);
}

/* the QP's step into dw and its multipliers in NLP terms into qlam_g, qlam_x */
static void qp_extract(ws_t *s) {
    const cmpc_qp_t *qp = s->qp;
    for (int k = 0; k <= N; ++k) {
        double *dw = s->dw + k * NXU, *lx = s->qlam_x + k * NXU;
        for (int i = 0; i < NX; ++i) {
            dw[i] = qp->z[k][i];
            lx[i] = k ? qp->lam_ux[k][i] - qp->lam_lx[k][i] : 0.0;
        }
        if (k < N) {
            for (int i = 0; i < NU; ++i) {
                dw[NX + i] = qp->z[k][NS + i];
                lx[NX + i] = qp->lam_uu[k][i] - qp->lam_lu[k][i];
            }
            for (int i = 0; i < NX; ++i) s->qlam_g[GAP(k) + i] = qp->y[k + 1][i];
        }
    }
    for (int i = 0; i < NX; ++i) s->qlam_g[INIT + i] = qp->y[0][i];
    for (int r = 0; r < NGT; ++r) s->qlam_g[TERM + r] = qp->lam_ug[N][r] - qp->lam_lg[N][r];
}

/* ------------------------------------------------------------------ SQP */

/* constraint violation (l1 and max) of the NLP at wv, from xn(wv) and terminal value e */
static void violation(const ws_t *s, const double *wv, const double *xn, const double *e,
                      const double *lbw, const double *ubw, const double *lbt,
                      const double *ubt, double *l1, double *linf) {
    double a = 0.0, m = 0.0, v;
    for (int i = 0; i < NX; ++i) {
        v = fabs(wv[i] - s->p[X0OFF + i]);
        a += v;
        if (!(v <= m)) m = v;
    }
    for (int k = 0; k < N; ++k)
        for (int i = 0; i < NX; ++i) {
            v = fabs(wv[(k + 1) * NXU + i] - xn[k * NX + i]);
            a += v;
            if (!(v <= m)) m = v;
        }
    for (int r = 0; r < NGT; ++r) {
        v = 0.0;
        if (e[r] < lbt[r]) v = lbt[r] - e[r];
        if (e[r] > ubt[r]) v = e[r] - ubt[r];
        a += v;
        if (!(v <= m)) m = v;
    }
    *l1 = a;
    for (int j = NX; j < NW; ++j) {
        v = 0.0;
        if (wv[j] < lbw[j]) v = lbw[j] - wv[j];
        if (wv[j] > ubw[j]) v = wv[j] - ubw[j];
        if (!(v <= m)) m = v;
    }
    *linf = m;
}

/* max norm of the gradient of the Lagrangian f + lam_g' g + lam_x' w at s->w */
static double stationarity(const ws_t *s) {
    double m = 0.0;
    for (int k = 0; k <= N; ++k) {
        const double *ln = s->lam_g + GAP(k);
        const double *lp = k ? s->lam_g + GAP(k - 1) : s->lam_g + INIT;
        for (int i = 0; i < NX; ++i) {
            int j = k * NXU + i;
            double v = s->grad[j] + lp[i] + s->lam_x[j];
            if (k < N) {
                const double *A = s->qp->A[k];
                for (int q = 0; q < NX; ++q) v -= A[q + i * NX] * ln[q];
            } else {
                for (int r = 0; r < NGT; ++r) v += s->lam_g[TERM + r] * s->De[r + i * NGT];
            }
            v = fabs(v);
            if (!(v <= m)) m = v;
        }
        if (k == N) break;
        const double *B = s->qp->B[k];
        for (int i = 0; i < NU; ++i) {
            int j = k * NXU + NX + i;
            double v = s->grad[j] + s->lam_x[j];
            for (int q = 0; q < NX; ++q) v -= B[q + i * NX] * ln[q];
            v = fabs(v);
            if (!(v <= m)) m = v;
        }
    }
    return m;
}

static double merit_eval(ws_t *s, const double *wv, const double *lbw, const double *ubw,
                         const double *lbt, const double *ubt, double sigma) {
    double f, e[NGT + 1], xn[N * NX], l1, linf;
    for (int k = 0; k < N; ++k) {
        s->arg[0] = wv + k * NXU;
        s->arg[1] = wv + k * NXU + NX;
        s->arg[2] = s->p + PM0;
        s->res[0] = xn + k * NX;
        cmpc_dyn0(s->arg, s->res, s->iw, s->cw, 0);
    }
    s->arg[0] = wv;
    s->arg[1] = s->p;
    s->res[0] = &f;
    s->res[1] = e;
    cmpc_obj0(s->arg, s->res, s->iw, s->cw, 0);
    violation(s, wv, xn, e, lbw, ubw, lbt, ubt, &l1, &linf);
    return f + sigma * l1;
}

static void forget(ws_t *s) {
    s->prepared = 0;
    s->as_ready = 0;
    cmpc_qp_forget(s->qp);
}

static void shift_iterate(ws_t *s) {
    memmove(s->w, s->w + NXU, sizeof(double) * (NW - NXU));
    /* last input repeated, last state repeated */
    memcpy(s->w + NW - NXU, s->w + NW - NXU - NU, sizeof(double) * NU);
    memcpy(s->w + NW - NX, s->w + NW - NX - NXU, sizeof(double) * NX);
    memmove(s->lam_x, s->lam_x + NXU, sizeof(double) * (NW - NXU));
    for (int k = 0; k + 1 < N; ++k)
        memcpy(s->lam_g + GAP(k), s->lam_g + GAP(k + 1), sizeof(double) * NX);
    forget(s);
}

/* ------------------------------------------------------------------ public API */

void *cmpc_create(void) {
    ws_t *s = (ws_t *)calloc(1, sizeof(ws_t));
    if (!s) return 0;
    int ng[N + 1], nsoft[N + 1];
    for (int k = 0; k <= N; ++k) {
        ng[k] = k == N ? NGT : 0;
        nsoft[k] = 0;
    }
    s->qp = cmpc_qp_create(N, NX, NV, NU, ng, nsoft);
    if (!s->qp) {
        free(s);
        return 0;
    }
    /* run the generated code once (at w = 0, p = 0, results dropped): the first real solve
       then does not pay for page faults */
    evaluate(s);
    s->set.max_iter = 100;
    s->set.qp_max_iter = 50;
    s->set.as_max_iter = 8;
    s->set.tol_pr = s->set.tol_du = 1e-6;
    s->set.qp_tol = 1e-10;
    s->set.time_limit = 1.0;
    s->set.shift = 1;
    s->set.warm = 1;
    s->set.wfloor = 1e-3;
    s->set.mu0 = 1.0;
    s->st.prep_status = -1;
    return s;
}

void cmpc_free(void *ws) {
    ws_t *s = (ws_t *)ws;
    if (!s) return;
    cmpc_qp_free(s->qp);
    free(s);
}

void cmpc_dims(cmpc_dims_t *d) {
    d->nx = NX;
    d->nu = NU;
    d->nv = NV;
    d->horizon = N;
    d->np = NP;
    d->nw = NW;
    d->ng = NG;
    d->nt = NT;
    d->settings_size = (int)sizeof(cmpc_settings_t);
    d->stats_size = (int)sizeof(cmpc_stats_t);
    d->io_size = (int)sizeof(cmpc_io_t);
}

void cmpc_settings(void *ws, const cmpc_settings_t *set) {
    ws_t *s = (ws_t *)ws;
    s->set = *set;
    s->exact = EXACT && set->exact;
    s->qo.tol = set->qp_tol;
    s->qo.max_iter = set->qp_max_iter;
    s->qo.warm = set->warm;
    s->qo.wfloor = set->wfloor;
    s->qo.mu0 = set->mu0;
    s->qo.strict = 0;
}

/* cold start from w0; multipliers zero */
void cmpc_set_guess(void *ws, const double *w0) {
    ws_t *s = (ws_t *)ws;
    memcpy(s->w, w0, sizeof(s->w));
    memset(s->lam_g, 0, sizeof(s->lam_g));
    memset(s->lam_x, 0, sizeof(s->lam_x));
    forget(s);
}

/* evaluate the linearization at the current iterate for parameters p (x0 entries unused) and
   the bounds of the last solve; in RTI mode with the advanced step, also solve its QP for the
   predicted initial state x0_pred = F(x_0, u_0); its figures into st->prep_qp_iter and
   st->prep_status */
static void prepare(ws_t *s, const double *p);

void cmpc_prepare(void *ws, const double *p, cmpc_stats_t *st) {
    ws_t *s = (ws_t *)ws;
    prepare(s, p);
    st->prep_qp_iter = s->st.prep_qp_iter;
    st->prep_status = s->st.prep_status;
}

static void prepare(ws_t *s, const double *p) {
    s->as_ready = 0;
    s->st.prep_qp_iter = 0;
    s->st.prep_status = -1;
    if (!s->bounds_ok) return;   /* nothing solved yet: no bounds to build the QP with */
    memcpy(s->p, p, sizeof(s->p));
    s->curv = s->exact && !s->set.rti;
    evaluate(s);
    memcpy(s->x0_pred, s->xn, sizeof(s->x0_pred));
    build_qp(s);
    build_s0(s, s->x0_pred);
    cmpc_qp_pack(s->qp);
    memcpy(s->p_prep, p, sizeof(s->p));
    s->prepared = 1;
    if (!s->set.rti || !s->set.warm || !s->set.advanced) return;
    s->qo.strict = 0;
    s->st.prep_status = cmpc_qp_solve(s->qp, &s->qo);
    s->st.prep_qp_iter = s->qp->iter;
    s->as_ready = s->st.prep_status == QP_OK;
}

static int same_bounds(const ws_t *s, const double *lbw, const double *ubw, const double *lbt,
                       const double *ubt) {
    return s->bounds_ok && !memcmp(s->blbw, lbw, sizeof(s->blbw)) &&
           !memcmp(s->bubw, ubw, sizeof(s->bubw)) &&
           !memcmp(s->blbt, lbt, sizeof(double) * NGT) &&
           !memcmp(s->bubt, ubt, sizeof(double) * NGT);
}

static int prepared_for(const ws_t *s, const double *p) {
    if (!s->prepared) return 0;
    for (int i = 0; i < NP; ++i)
        if ((i < X0OFF || i >= X0OFF + NX) && s->p_prep[i] != p[i]) return 0;
    return 1;
}

/* the QP at the current linearization, packed: the exact Hessian when s->curv and its reduced
   Hessian is positive definite, else Gauss-Newton; returns the QP result */
static void count_qp(ws_t *s) {
    s->st.qp_iter += s->qp->iter;
    s->st.cold_retries += s->qp->cold_retries;
    s->st.regularized += s->qp->regularized;
    s->st.robust_retries += s->qp->robust;
}

static int solve_qp(ws_t *s) {
    cmpc_qp_t *qp = s->qp;
    s->qo.strict = s->curv;
    int rc = cmpc_qp_solve(qp, &s->qo);
    count_qp(s);
    if (rc == QP_NONCONVEX) {
        s->st.hess_fallbacks++;
        s->curv = 0;
        build_qp(s);
        cmpc_qp_pack(qp);
        s->qo.strict = 0;
        rc = cmpc_qp_solve(qp, &s->qo);
        count_qp(s);
    }
    return rc;
}

int cmpc_solve(void *ws, const cmpc_io_t *io, cmpc_stats_t *st) {
    ws_t *s = (ws_t *)ws;
    double started = now();
    const double *lbw = io->lbw, *ubw = io->ubw;
    const double *lbt = io->lbg + TERM, *ubt = io->ubg + TERM;
    int fresh = prepared_for(s, io->p), same = same_bounds(s, lbw, ubw, lbt, ubt);
    int advance = fresh && same && s->as_ready && s->set.rti;
    memcpy(s->p, io->p, sizeof(s->p));
    s->as_ready = 0;
    /* the statistics of this solve (the last prepare's stay) */
    int prep_qp_iter = s->st.prep_qp_iter, prep_status = s->st.prep_status;
    memset(&s->st, 0, sizeof(s->st));
    s->st.prep_qp_iter = prep_qp_iter;
    s->st.prep_status = prep_status;
    s->st.path = FB_SOLVE;
    if (!same) {
        memcpy(s->blbw, lbw, sizeof(s->blbw));
        memcpy(s->bubw, ubw, sizeof(s->bubw));
        memcpy(s->blbt, lbt, sizeof(double) * NGT);
        memcpy(s->bubt, ubt, sizeof(double) * NGT);
        s->bounds_ok = 1;
    }
    int status = ST_MAX_ITER, iter = 0;
    double sigma = 0.0;   /* l1 merit penalty, raised to the multipliers' size as needed */
    for (;;) {
        if (fresh && same) {
            /* the prepared linearization and QP: only the initial value is new */
            build_s0(s, s->p + X0OFF);
            cmpc_qp_pack_s0(s->qp);
        } else {
            if (!fresh) {
                s->curv = s->exact && !s->set.rti;
                evaluate(s);
            }
            build_qp(s);
            cmpc_qp_pack(s->qp);
        }
        fresh = 0;
        s->prepared = 0;
        if (!s->set.rti) {
            double l1;
            violation(s, s->w, s->xn, s->e, lbw, ubw, lbt, ubt, &l1, &s->st.pr);
            s->st.du = stationarity(s);
            if (s->set.verbose)
                fprintf(stderr, "sqp %2d f %.10e pr %.2e du %.2e\n", iter, s->f, s->st.pr,
                        s->st.du);
            if (!(s->st.pr == s->st.pr && s->st.du == s->st.du && s->f == s->f)) {
                status = ST_ERROR;
                break;
            }
            if (s->st.pr <= s->set.tol_pr && s->st.du <= s->set.tol_du) {
                status = ST_OPTIMAL;
                break;
            }
            if (iter >= s->set.max_iter) {
                status = ST_MAX_ITER;
                break;
            }
            if (now() - started > s->set.time_limit) {
                status = ST_TIMEOUT;
                break;
            }
        }
        int rc = QP_FAIL;
        if (advance) {
            advance = 0;
            for (int i = 0; i < NX; ++i) {
                double d = fabs(s->p[X0OFF + i] - s->x0_pred[i]);
                if (!(d <= s->st.dx0)) s->st.dx0 = d;
            }
            rc = cmpc_qp_advance(s->qp, &s->qo, s->set.as_max_iter);
            s->st.qp_iter += s->qp->iter;
            s->st.path = rc == QP_OK ? s->qp->path : FB_FALLBACK;
        }
        if (rc != QP_OK) rc = solve_qp(s);
        if (s->set.verbose > 1) fprintf(stderr, "  qp rc %d iterations %d\n", rc, s->qp->iter);
        if (rc != QP_OK) {
            status = rc == QP_NAN ? ST_ERROR : ST_INFEASIBLE;
            break;
        }
        cmpc_qp_keep(s->qp);
        qp_extract(s);
        ++iter;
        if (s->set.rti) {
            for (int j = 0; j < NW; ++j) s->w[j] += s->dw[j];
            memcpy(s->lam_g, s->qlam_g, sizeof(s->lam_g));
            memcpy(s->lam_x, s->qlam_x, sizeof(s->lam_x));
            status = ST_RTI;
            break;
        }
        /* l1 merit line search */
        double mmax = cmpc_amax(s->qlam_g, NG);
        if (sigma < 1.1 * mmax + 1e-8) sigma = 1.1 * mmax + 1e-8;
        double l1, linf;
        violation(s, s->w, s->xn, s->e, lbw, ubw, lbt, ubt, &l1, &linf);
        double phi0 = s->f + sigma * l1, dphi = -sigma * l1;
        for (int j = 0; j < NW; ++j) dphi += s->grad[j] * s->dw[j];
        double alpha = 1.0;
        if (dphi < 0.0) {
            for (int ls = 0; ls < 20; ++ls) {
                for (int j = 0; j < NW; ++j) s->wt[j] = s->w[j] + alpha * s->dw[j];
                double phi = merit_eval(s, s->wt, lbw, ubw, lbt, ubt, sigma);
                /* the slack term accepts steps whose change is below rounding */
                if (phi <= phi0 + 1e-4 * alpha * dphi + 1e-13 * (1.0 + fabs(phi0))) break;
                alpha *= 0.5;
                s->st.ls_backtracks++;
            }
        }
        for (int j = 0; j < NW; ++j) {
            s->w[j] += alpha * s->dw[j];
            s->lam_x[j] += alpha * (s->qlam_x[j] - s->lam_x[j]);
        }
        for (int j = 0; j < NG; ++j) s->lam_g[j] += alpha * (s->qlam_g[j] - s->lam_g[j]);
    }
    for (int j = 0; j < NW; ++j)
        if (!(fabs(s->w[j]) <= 1e300)) status = ST_ERROR;   /* NaN or inf: not usable */
    memcpy(io->w, s->w, sizeof(s->w));
    memcpy(io->lam_g, s->lam_g, sizeof(s->lam_g));
    memcpy(io->lam_x, s->lam_x, sizeof(s->lam_x));
    if (status == ST_ERROR || status == ST_INFEASIBLE) {
        forget(s);   /* no warm start from a failed solve */
    } else if (s->set.shift) {
        shift_iterate(s);
    }
    s->st.status = status;
    s->st.iter = iter;
    s->st.seconds = now() - started;
    *st = s->st;
    return status;
}

/* the objective (into st->f) and the cost per term at w for parameters p */
void cmpc_costs(void *ws, const double *p, const double *w, cmpc_stats_t *st, double *terms) {
    ws_t *s = (ws_t *)ws;
    s->arg[0] = w;
    s->arg[1] = p;
    s->res[0] = &st->f;
    s->res[1] = terms;
    cmpc_terms(s->arg, s->res, s->iw, s->cw, 0);
}
