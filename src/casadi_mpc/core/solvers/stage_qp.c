/*
 * Stage-structured QPs solved by HPIPM (see stage_qp.h): packing into HPIPM's OCP-QP form,
 * warm and cold starts, regularization, the advanced-step correction, and the multipliers in
 * the NLP's sign convention. HPIPM does the numerics; this file only translates.
 *
 * HPIPM's form per stage is over (u_k, x_k) with x_{k+1} = A x + B u + b; here its state is
 * s_k = (x_k, v_k) for k >= 1 and nothing at stage 0 (the initial value is eliminated: s0 enters
 * the stage-0 gradient, dynamics offset and general-constraint bounds).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <hpipm_d_ocp_qp.h>
#include <hpipm_d_ocp_qp_dim.h>
#include <hpipm_d_ocp_qp_ipm.h>
#include <hpipm_d_ocp_qp_res.h>
#include <hpipm_d_ocp_qp_sol.h>

#include "stage_qp.h"

#define QP_BIG 1e19          /* a bound beyond this is no bound */
#define QP_AS_FLOOR 1e-2     /* advanced step: restart of pairs the predictor moved out */
#define QP_REG_FIRST 1e-8    /* regularization: first shift, relative to the Hessian's scale */
#define QP_REG_LAST 1e4      /* ... and the last one tried */
#define QP_PIVOT_MIN 1e-12   /* a squared pivot below this is singular (HPIPM's own shift of the
                                Hessian, 1e-15, leaves 1e-15 where it would be zero) */
#define QP_EPS_STAT 1e-13    /* stationarity cannot be met below this times the Hessian's scale */

/* HPIPM's interior point in three set-ups, each with its own arguments and workspace (HPIPM
   fixes the Riccati algorithm and the factorization variant of a workspace when it creates it):
   IPM_FAST, the square-root Riccati in HPIPM's speed mode, for positive semidefinite Hessians (the
   Gauss-Newton ones); IPM_CURVED, the classic Riccati, which only needs the reduced Hessians to be
   positive definite (an exact Hessian of the Lagrangian); IPM_ROBUST, HPIPM's robust mode (iterative
   refinement, LQ factorization when Cholesky loses accuracy), for a QP the fast one could not
   solve. */
enum { IPM_FAST = 0, IPM_CURVED = 1, IPM_ROBUST = 2, NSOLVERS = 3 };

typedef struct {
    struct d_ocp_qp_ipm_arg arg;
    struct d_ocp_qp_ipm_ws ws;
    void *raw_arg, *raw_ws;
} ipm_t;

struct cmpc_qp_mem {
    struct d_ocp_qp_dim dim;
    struct d_ocp_qp qp;
    struct d_ocp_qp_sol sol;
    ipm_t ipm[NSOLVERS];
    int last;                                   /* the set-up of the last solve */
    void *raw[3];                               /* dim, qp, sol */
    int *hnx, *hnu, *hnbx, *hnbu, *hng, *hns;   /* HPIPM's dimensions per stage */
    int *idxbx, *idxbu, *idxs;
    double *work, *work2, *mask;
    double **pi_keep, **lam_keep;
    int kept;
    double *s0_solved;
    double hscale;                              /* largest Hessian diagonal of the last pack */
    double *block;                              /* the stage arrays of cmpc_qp_t */
    double res_stat, res_lin;                   /* residuals of the last solution */
};

static void *qp_alloc(size_t size) {
    void *p = 0;
    if (posix_memalign(&p, 64, size ? size : 64)) return 0;
    memset(p, 0, size ? size : 64);
    return p;
}

double cmpc_amax(const double *a, int n) {
    double m = 0.0;
    for (int i = 0; i < n; ++i) {
        double v = fabs(a[i]);
        if (!(v <= m)) m = v;   /* NaN propagates */
    }
    return m;
}

/* per-stage arrays of n[k] doubles carved from one block: returns the pointer table */
static double **stage_arrays(int N, const int *n, double **cursor) {
    double **out = (double **)calloc(N + 1, sizeof(double *));
    if (!out) return 0;
    for (int k = 0; k <= N; ++k) {
        out[k] = *cursor;
        *cursor += n[k];
    }
    return out;
}

cmpc_qp_t *cmpc_qp_create(int N, int nx, int nv, int nu, const int *ng, const int *nsoft) {
    cmpc_qp_t *qp = (cmpc_qp_t *)calloc(1, sizeof(cmpc_qp_t));
    cmpc_qp_mem_t *m = (cmpc_qp_mem_t *)calloc(1, sizeof(cmpc_qp_mem_t));
    if (!qp || !m) {
        free(qp);
        free(m);
        return 0;
    }
    qp->mem = m;
    qp->N = N;
    qp->nx = nx;
    qp->nv = nv;
    qp->nu = nu;
    qp->ns = nx + nv;
    qp->nz = qp->ns + nu;
    int ns = qp->ns, nz = qp->nz, K = N + 1, ngmax = 0;
    qp->ng = (int *)calloc(K, sizeof(int));
    qp->nsoft = (int *)calloc(K, sizeof(int));
    int *n1 = (int *)calloc(K, sizeof(int)), *n2 = (int *)calloc(K, sizeof(int));
    m->hnx = (int *)calloc(K, sizeof(int));
    m->hnu = (int *)calloc(K, sizeof(int));
    m->hnbx = (int *)calloc(K, sizeof(int));
    m->hnbu = (int *)calloc(K, sizeof(int));
    m->hng = (int *)calloc(K, sizeof(int));
    m->hns = (int *)calloc(K, sizeof(int));
    long total = ns;   /* s0, then the stage arrays below */
    for (int k = 0; k <= N; ++k) {
        int last = k == N;
        qp->ng[k] = ng[k];
        qp->nsoft[k] = nsoft[k];
        if (ng[k] > ngmax) ngmax = ng[k];
        m->hnx[k] = k ? ns : 0;
        m->hnu[k] = last ? 0 : nu;
        m->hnbx[k] = k ? nx : 0;
        m->hnbu[k] = last ? 0 : nu;
        m->hng[k] = ng[k];
        m->hns[k] = nsoft[k];
        /* H g z; y; x bounds and multipliers; general rows (C, bounds, multipliers); soft
           rows (costs, slacks); k < N: A B b, u bounds and multipliers, D */
        total += nz * nz + 2 * nz + ns + 4 * nx + ng[k] * nx + 4 * ng[k] + 6 * nsoft[k];
        if (!last) total += nx * nx + nx * nu + nx + 4 * nu + ng[k] * nu;
    }
    double *c = (double *)calloc(total + 1, sizeof(double));
    m->block = c;
#define CARVE(field, expr)                                              \
    do {                                                                \
        for (int k = 0; k <= N; ++k) n1[k] = (expr);                    \
        qp->field = stage_arrays(N, n1, &c);                            \
    } while (0)
    CARVE(H, nz * nz);
    CARVE(g, nz);
    CARVE(z, nz);
    CARVE(y, ns);
    CARVE(A, k < N ? nx * nx : 0);
    CARVE(B, k < N ? nx * nu : 0);
    CARVE(b, k < N ? nx : 0);
    CARVE(lbx, nx);
    CARVE(ubx, nx);
    CARVE(lam_lx, nx);
    CARVE(lam_ux, nx);
    CARVE(lbu, k < N ? nu : 0);
    CARVE(ubu, k < N ? nu : 0);
    CARVE(lam_lu, k < N ? nu : 0);
    CARVE(lam_uu, k < N ? nu : 0);
    CARVE(C, ng[k] * nx);
    CARVE(D, k < N ? ng[k] * nu : 0);
    CARVE(lg, ng[k]);
    CARVE(ug, ng[k]);
    CARVE(lam_lg, ng[k]);
    CARVE(lam_ug, ng[k]);
    CARVE(zl, nsoft[k]);
    CARVE(zu, nsoft[k]);
    CARVE(Zl, nsoft[k]);
    CARVE(Zu, nsoft[k]);
    CARVE(sl, nsoft[k]);
    CARVE(su, nsoft[k]);
#undef CARVE
    qp->s0 = c;
    /* HPIPM */
    struct d_ocp_qp_dim *dim = &m->dim;
    m->raw[0] = qp_alloc(d_ocp_qp_dim_memsize(N));
    d_ocp_qp_dim_create(N, dim, m->raw[0]);
    d_ocp_qp_dim_set_all(m->hnx, m->hnu, m->hnbx, m->hnbu, m->hng, m->hns, dim);
    m->raw[1] = qp_alloc(d_ocp_qp_memsize(dim));
    d_ocp_qp_create(dim, &m->qp, m->raw[1]);
    m->raw[2] = qp_alloc(d_ocp_qp_sol_memsize(dim));
    d_ocp_qp_sol_create(dim, &m->sol, m->raw[2]);
    for (int i = 0; i < NSOLVERS; ++i) {
        ipm_t *h = m->ipm + i;
        /* the first pivots per stage of either Riccati algorithm are those of the reduced
           Hessian (the convexity test); the exit factorization is the advanced step's */
        int ric = i == IPM_CURVED ? 0 : 1, one = 1;
        h->raw_arg = qp_alloc(d_ocp_qp_ipm_arg_memsize(dim));
        d_ocp_qp_ipm_arg_create(dim, &h->arg, h->raw_arg);
        d_ocp_qp_ipm_arg_set_default(i == IPM_ROBUST ? ROBUST : SPEED, &h->arg);
        d_ocp_qp_ipm_arg_set_ric_alg(&ric, &h->arg);
        d_ocp_qp_ipm_arg_set_update_fact_exit(&one, &h->arg);
        d_ocp_qp_ipm_arg_set_comp_res_pred(&one, &h->arg);
        d_ocp_qp_ipm_arg_set_comp_res_exit(&one, &h->arg);
        h->raw_ws = qp_alloc(d_ocp_qp_ipm_ws_memsize(dim, &h->arg));
        d_ocp_qp_ipm_ws_create(dim, &h->arg, &h->ws, h->raw_ws);
    }
    int wsize = (nz + ngmax + 1) * (nz + ngmax + 1);
    m->work = (double *)calloc(wsize, sizeof(double));
    m->work2 = (double *)calloc(wsize, sizeof(double));
    m->mask = (double *)calloc(2 * (nz + ngmax + 1), sizeof(double));
    m->idxbx = (int *)calloc(nx + 1, sizeof(int));
    m->idxbu = (int *)calloc(nu + 1, sizeof(int));
    m->idxs = (int *)calloc(ngmax + 1, sizeof(int));
    for (int i = 0; i < nx; ++i) m->idxbx[i] = i;
    for (int i = 0; i < nu; ++i) m->idxbu[i] = i;
    for (int k = 0; k <= N; ++k) {
        n1[k] = m->hnx[k + (k < N)];   /* pi_k has the size of the next stage's state */
        n2[k] = 2 * (m->hnbx[k] + m->hnbu[k]) + 2 * ng[k] + 2 * nsoft[k];
    }
    n1[N] = 0;
    long keep = 0;
    for (int k = 0; k <= N; ++k) keep += n1[k] + n2[k];
    m->s0_solved = (double *)calloc(ns + 1 + keep, sizeof(double));
    double *kc = m->s0_solved + ns + 1;
    m->pi_keep = stage_arrays(N, n1, &kc);
    m->lam_keep = stage_arrays(N, n2, &kc);
    free(n1);
    free(n2);
    /* fixed data: box indices, soft rows, the identity rows of the input memory */
    for (int k = 0; k <= N; ++k) {
        if (m->hnbu[k]) d_ocp_qp_set_idxbu(k, m->idxbu, &m->qp);
        if (m->hnbx[k]) d_ocp_qp_set_idxbx(k, m->idxbx, &m->qp);
        if (nsoft[k]) {
            int nb = m->hnbx[k] + m->hnbu[k];
            for (int j = 0; j < nsoft[k]; ++j) m->idxs[j] = nb + j;
            d_ocp_qp_set_idxs(k, m->idxs, &m->qp);
        }
    }
    for (int k = 0; k <= N; ++k) {
        for (int i = 0; i < nx; ++i) {
            qp->lbx[k][i] = -INFINITY;
            qp->ubx[k][i] = INFINITY;
        }
        for (int i = 0; i < ng[k]; ++i) {
            qp->lg[k][i] = -INFINITY;
            qp->ug[k][i] = INFINITY;
        }
        if (k < N)
            for (int i = 0; i < nu; ++i) {
                qp->lbu[k][i] = -INFINITY;
                qp->ubu[k][i] = INFINITY;
            }
    }
    qp->iter = 0;
    return qp;
}

size_t cmpc_qp_struct_size(void) { return sizeof(cmpc_qp_t) + sizeof(cmpc_qp_opts_t); }

void cmpc_qp_free(cmpc_qp_t *qp) {
    if (!qp) return;
    cmpc_qp_mem_t *m = qp->mem;
    if (m) {
        for (int i = 0; i < 3; ++i) free(m->raw[i]);
        for (int i = 0; i < NSOLVERS; ++i) {
            free(m->ipm[i].raw_arg);
            free(m->ipm[i].raw_ws);
        }
        free(m->hnx); free(m->hnu); free(m->hnbx); free(m->hnbu); free(m->hng); free(m->hns);
        free(m->idxbx); free(m->idxbu); free(m->idxs);
        free(m->work); free(m->work2); free(m->mask);
        free(m->pi_keep); free(m->lam_keep); free(m->s0_solved);
        free(m->block);
        free(m);
    }
    double ***tables[] = {&qp->H, &qp->g, &qp->z, &qp->y, &qp->A, &qp->B, &qp->b, &qp->lbx,
                          &qp->ubx, &qp->lam_lx, &qp->lam_ux, &qp->lbu, &qp->ubu, &qp->lam_lu,
                          &qp->lam_uu, &qp->C, &qp->D, &qp->lg, &qp->ug, &qp->lam_lg,
                          &qp->lam_ug, &qp->zl, &qp->zu, &qp->Zl, &qp->Zu, &qp->sl, &qp->su};
    for (unsigned i = 0; i < sizeof(tables) / sizeof(tables[0]); ++i) free(*tables[i]);
    free(qp->ng);
    free(qp->nsoft);
    free(qp);
}

/* bounds as HPIPM takes them: values (0 where there is none) and masks */
static void bounds(int n, const double *lo, const double *hi, double *lv, double *hv, double *lm,
                   double *hm) {
    for (int i = 0; i < n; ++i) {
        lm[i] = lo[i] > -QP_BIG ? 1.0 : 0.0;
        hm[i] = hi[i] < QP_BIG ? 1.0 : 0.0;
        lv[i] = lm[i] != 0.0 ? lo[i] : 0.0;
        hv[i] = hm[i] != 0.0 ? hi[i] : 0.0;
    }
}

typedef void (*setter_t)(int, double *, struct d_ocp_qp *);

/* box bounds of stage k through HPIPM's setters for values and masks */
static void pack_box(cmpc_qp_mem_t *m, int k, int n, const double *lo, const double *hi,
                     setter_t set_lo, setter_t set_hi, setter_t mask_lo, setter_t mask_hi) {
    double *lv = m->work2, *hv = m->work2 + n, *lm = m->mask, *hm = m->mask + n;
    bounds(n, lo, hi, lv, hv, lm, hm);
    set_lo(k, lv, &m->qp);
    set_hi(k, hv, &m->qp);
    mask_lo(k, lm, &m->qp);
    mask_hi(k, hm, &m->qp);
}

/* the general-constraint bounds of stage k, shifted by -C s0 at stage 0 */
static void pack_general_bounds(cmpc_qp_t *qp, int k) {
    cmpc_qp_mem_t *m = qp->mem;
    int ng = qp->ng[k], nx = qp->nx;
    if (!ng) return;
    double *lo = m->work, *hi = m->work + ng;
    for (int r = 0; r < ng; ++r) {
        double shift = 0.0;
        if (k == 0)
            for (int j = 0; j < nx; ++j) shift += qp->C[0][r + j * ng] * qp->s0[j];
        lo[r] = qp->lg[k][r] - shift;
        hi[r] = qp->ug[k][r] - shift;
    }
    pack_box(m, k, ng, lo, hi, d_ocp_qp_set_lg, d_ocp_qp_set_ug, d_ocp_qp_set_lg_mask,
             d_ocp_qp_set_ug_mask);
}

/* stage 0's gradient and dynamics offset with the initial value folded in */
static void pack_stage0_rhs(cmpc_qp_t *qp) {
    cmpc_qp_mem_t *m = qp->mem;
    int nx = qp->nx, nu = qp->nu, ns = qp->ns, nz = qp->nz;
    const double *H = qp->H[0], *s0 = qp->s0;
    double *r = m->work, *b = m->work + nu;
    for (int i = 0; i < nu; ++i) {
        double v = qp->g[0][ns + i];
        for (int j = 0; j < ns; ++j) v += H[(ns + i) + j * nz] * s0[j];
        r[i] = v;
    }
    if (qp->N > 0) {
        for (int i = 0; i < ns; ++i) {
            double v = 0.0;
            if (i < nx) {
                v = qp->b[0][i];
                for (int j = 0; j < nx; ++j) v += qp->A[0][i + j * nx] * s0[j];
            }
            b[i] = v;
        }
        d_ocp_qp_set_b(0, b, &m->qp);
    }
    d_ocp_qp_set_r(0, r, &m->qp);
    pack_general_bounds(qp, 0);
}

void cmpc_qp_pack(cmpc_qp_t *qp) {
    cmpc_qp_mem_t *m = qp->mem;
    struct d_ocp_qp *h = &m->qp;
    int N = qp->N, nx = qp->nx, nu = qp->nu, ns = qp->ns, nz = qp->nz;
    double *w = m->work, hscale = 0.0;
    for (int k = 0; k <= N; ++k) {
        const double *H = qp->H[k];
        int hx = m->hnx[k], hu = m->hnu[k], ng = qp->ng[k];
        for (int i = 0; i < nz; ++i) {
            double d = fabs(H[i * (nz + 1)]);
            if (d > hscale) hscale = d;
        }
        if (hu) {
            for (int j = 0; j < nu; ++j)
                for (int i = 0; i < nu; ++i) w[i + j * nu] = H[(ns + i) + (ns + j) * nz];
            d_ocp_qp_set_R(k, w, h);
        }
        if (hx) {
            for (int j = 0; j < ns; ++j)
                for (int i = 0; i < ns; ++i) w[i + j * ns] = H[i + j * nz];
            d_ocp_qp_set_Q(k, w, h);
            d_ocp_qp_set_q(k, qp->g[k], h);
            if (hu) {
                for (int j = 0; j < ns; ++j)
                    for (int i = 0; i < nu; ++i) w[i + j * nu] = H[(ns + i) + j * nz];
                d_ocp_qp_set_S(k, w, h);
                d_ocp_qp_set_r(k, qp->g[k] + ns, h);
            }
        }
        if (k < N) {
            /* B of the state (x, v): [B; I], A: [A 0; 0 0] */
            for (int j = 0; j < nu; ++j)
                for (int i = 0; i < ns; ++i)
                    w[i + j * ns] = i < nx ? qp->B[k][i + j * nx] : (i - nx == j ? 1.0 : 0.0);
            d_ocp_qp_set_B(k, w, h);
            if (hx) {
                for (int j = 0; j < ns; ++j)
                    for (int i = 0; i < ns; ++i)
                        w[i + j * ns] = i < nx && j < nx ? qp->A[k][i + j * nx] : 0.0;
                d_ocp_qp_set_A(k, w, h);
                for (int i = 0; i < ns; ++i) w[i] = i < nx ? qp->b[k][i] : 0.0;
                d_ocp_qp_set_b(k, w, h);
            }
        }
        if (m->hnbu[k])
            pack_box(m, k, nu, qp->lbu[k], qp->ubu[k], d_ocp_qp_set_lbu, d_ocp_qp_set_ubu,
                     d_ocp_qp_set_lbu_mask, d_ocp_qp_set_ubu_mask);
        if (m->hnbx[k])
            pack_box(m, k, nx, qp->lbx[k], qp->ubx[k], d_ocp_qp_set_lbx, d_ocp_qp_set_ubx,
                     d_ocp_qp_set_lbx_mask, d_ocp_qp_set_ubx_mask);
        if (ng) {
            if (hx) {
                for (int j = 0; j < ns; ++j)
                    for (int r = 0; r < ng; ++r) w[r + j * ng] = j < nx ? qp->C[k][r + j * ng] : 0.0;
                d_ocp_qp_set_C(k, w, h);
            }
            if (hu) d_ocp_qp_set_D(k, qp->D[k], h);
            if (k) pack_general_bounds(qp, k);
        }
        if (qp->nsoft[k]) {
            d_ocp_qp_set_Zl(k, qp->Zl[k], h);
            d_ocp_qp_set_Zu(k, qp->Zu[k], h);
            d_ocp_qp_set_zl(k, qp->zl[k], h);
            d_ocp_qp_set_zu(k, qp->zu[k], h);
        }
    }
    m->hscale = hscale;
    pack_stage0_rhs(qp);
}

void cmpc_qp_pack_s0(cmpc_qp_t *qp) { pack_stage0_rhs(qp); }

void cmpc_qp_keep(cmpc_qp_t *qp) {
    cmpc_qp_mem_t *m = qp->mem;
    for (int k = 0; k <= qp->N; ++k) {
        int np = k < qp->N ? m->hnx[k + 1] : 0;
        int nc = 2 * (m->hnbx[k] + m->hnbu[k]) + 2 * qp->ng[k] + 2 * qp->nsoft[k];
        memcpy(m->pi_keep[k], m->sol.pi[k].pa, sizeof(double) * np);
        memcpy(m->lam_keep[k], m->sol.lam[k].pa, sizeof(double) * nc);
    }
    m->kept = 1;
}

void cmpc_qp_forget(cmpc_qp_t *qp) { qp->mem->kept = 0; }

/* hot start: the step 0 (slacks of the current point: t = -d), the kept multipliers */
static void hot_start(cmpc_qp_t *qp) {
    cmpc_qp_mem_t *m = qp->mem;
    for (int k = 0; k <= qp->N; ++k) {
        int nv = m->hnu[k] + m->hnx[k] + 2 * qp->nsoft[k];
        int np = k < qp->N ? m->hnx[k + 1] : 0;
        int nc = 2 * (m->hnbx[k] + m->hnbu[k]) + 2 * qp->ng[k] + 2 * qp->nsoft[k];
        memset(m->sol.ux[k].pa, 0, sizeof(double) * nv);
        memcpy(m->sol.pi[k].pa, m->pi_keep[k], sizeof(double) * np);
        memcpy(m->sol.lam[k].pa, m->lam_keep[k], sizeof(double) * nc);
        const double *d = m->qp.d[k].pa;
        double *t = m->sol.t[k].pa;
        for (int i = 0; i < nc; ++i) t[i] = -d[i];
    }
}

/* the reduced Hessians of the last factorization: 1 when a pivot is zero (BLASFEO zeroes a
   non-positive one) or at the level of HPIPM's own tiny regularization (a singular one) */
static int singular(cmpc_qp_t *qp) {
    cmpc_qp_mem_t *m = qp->mem;
    int nu = qp->nu;
    double tiny = QP_PIVOT_MIN;
    for (int k = 0; k < qp->N; ++k) {
        ipm_t *h = m->ipm + m->last;
        d_ocp_qp_ipm_get_ric_Lr(&m->qp, &h->arg, &h->ws, k, m->work);
        for (int i = 0; i < nu; ++i) {
            double p = m->work[i * (nu + 1)];
            if (!(p * p > tiny)) return 1;
        }
    }
    return 0;
}

static int finite_solution(cmpc_qp_t *qp) {
    cmpc_qp_mem_t *m = qp->mem;
    for (int k = 0; k <= qp->N; ++k) {
        int nv = m->hnu[k] + m->hnx[k] + 2 * qp->nsoft[k];
        const double *ux = m->sol.ux[k].pa;
        for (int i = 0; i < nv; ++i)
            if (!(fabs(ux[i]) <= 1e300)) return 0;
    }
    return 1;
}

/* the stationarity tolerance: rounding bounds the stationarity residual by the Hessian's
   scale, so ask no less than that */
static double stationarity_tol(const cmpc_qp_t *qp, double tol) {
    double reachable = QP_EPS_STAT * (1.0 + qp->mem->hscale);
    return tol > reachable ? tol : reachable;
}

/* the residuals of the last solution or prediction (HPIPM computes them on exit) measured
   against the tolerance: the largest of stationarity (relative to its own tolerance),
   equalities and inequalities, in units of tol (<= 1: met) */
static double residual_ratio(cmpc_qp_t *qp, double tol) {
    const double *r = qp->mem->ipm[qp->mem->last].ws.res->res_max;
    double stat = r[0] / stationarity_tol(qp, tol), lin = cmpc_amax(r + 1, 2) / tol;
    return stat > lin || stat != stat ? stat : lin;
}

/* mean complementarity t lam over the constraints that are not masked out */
static double complementarity(cmpc_qp_t *qp) {
    cmpc_qp_mem_t *m = qp->mem;
    double sum = 0.0;
    int count = 0;
    for (int k = 0; k <= qp->N; ++k) {
        int nc = 2 * (m->hnbx[k] + m->hnbu[k]) + 2 * qp->ng[k] + 2 * qp->nsoft[k];
        const double *t = m->sol.t[k].pa, *lam = m->sol.lam[k].pa, *mask = m->qp.d_mask[k].pa;
        for (int i = 0; i < nc; ++i)
            if (mask[i] != 0.0) {
                sum += t[i] * lam[i];
                count++;
            }
    }
    return count ? sum / count : 0.0;
}

/* HPIPM's solution in the QP's terms (see stage_qp.h) */
static void extract(cmpc_qp_t *qp) {
    cmpc_qp_mem_t *m = qp->mem;
    int N = qp->N, nx = qp->nx, nu = qp->nu, ns = qp->ns, nz = qp->nz;
    for (int k = 0; k <= N; ++k) {
        const double *ux = m->sol.ux[k].pa, *lam = m->sol.lam[k].pa;
        int hu = m->hnu[k], hx = m->hnx[k], nbu = m->hnbu[k], nbx = m->hnbx[k];
        int nb = nbu + nbx, ng = qp->ng[k], so = qp->nsoft[k];
        double *z = qp->z[k];
        for (int i = 0; i < ns; ++i) z[i] = k ? ux[hu + i] : qp->s0[i];
        for (int i = 0; i < nu; ++i) z[ns + i] = hu ? ux[i] : 0.0;
        for (int i = 0; i < so; ++i) {
            qp->sl[k][i] = ux[hu + hx + i];
            qp->su[k][i] = ux[hu + hx + so + i];
        }
        for (int i = 0; i < nbu; ++i) {
            qp->lam_lu[k][i] = lam[i];
            qp->lam_uu[k][i] = lam[nb + ng + i];
        }
        for (int i = 0; i < nx; ++i) {
            qp->lam_lx[k][i] = i < nbx ? lam[nbu + i] : 0.0;
            qp->lam_ux[k][i] = i < nbx ? lam[nb + ng + nbu + i] : 0.0;
        }
        for (int r = 0; r < ng; ++r) {
            qp->lam_lg[k][r] = lam[nb + r];
            qp->lam_ug[k][r] = lam[2 * nb + ng + r];
        }
        if (k < N) {
            /* HPIPM's pi_k multiplies A s_k + B u_k + b - s_{k+1}: the opposite sign */
            const double *pi = m->sol.pi[k].pa;
            for (int i = 0; i < ns; ++i) qp->y[k + 1][i] = -pi[i];
        }
    }
    /* y_0 from stationarity in s_0: H s-rows z_0 + g_s + y_0 - A' y_1 + C' (lam_ug - lam_lg) */
    const double *H = qp->H[0], *z0 = qp->z[0];
    int ng0 = qp->ng[0];
    for (int i = 0; i < ns; ++i) {
        double v = -qp->g[0][i];
        for (int j = 0; j < nz; ++j) v -= H[i + j * nz] * z0[j];
        if (i < nx) {
            if (N > 0)
                for (int q = 0; q < nx; ++q) v += qp->A[0][q + i * nx] * qp->y[1][q];
            for (int r = 0; r < ng0; ++r)
                v -= qp->C[0][r + i * ng0] * (qp->lam_ug[0][r] - qp->lam_lg[0][r]);
        }
        qp->y[0][i] = v;
    }
    const double *r = m->ipm[m->last].ws.res->res_max;
    m->res_stat = r[0];
    m->res_lin = cmpc_amax(r + 1, 2);
    qp->res = cmpc_amax(r, 3);
    memcpy(m->s0_solved, qp->s0, sizeof(double) * ns);
}

/* a NaN leaves HPIPM's workspace and solution poisoned (later solves start from it): create
   them afresh, which zeroes their memory */
static void renew(cmpc_qp_t *qp) {
    cmpc_qp_mem_t *m = qp->mem;
    ipm_t *h = m->ipm + m->last;
    d_ocp_qp_sol_create(&m->dim, &m->sol, m->raw[2]);
    /* the workspace's size follows the arguments (statistics per iteration): size it anew */
    void *raw = qp_alloc(d_ocp_qp_ipm_ws_memsize(&m->dim, &h->arg));
    if (!raw) return;
    free(h->raw_ws);
    h->raw_ws = raw;
    d_ocp_qp_ipm_ws_create(&m->dim, &h->arg, &h->ws, h->raw_ws);
    m->kept = 0;
}

static void set_arg(cmpc_qp_t *qp, const cmpc_qp_opts_t *o, int max_iter, int warm,
                    double floor, double reg) {
    struct d_ocp_qp_ipm_arg *a = &qp->mem->ipm[qp->mem->last].arg;
    double tol = o->tol, mu0 = o->mu0, tol_stat = stationarity_tol(qp, tol);
    int hot = warm ? 3 : 0;
    d_ocp_qp_ipm_arg_set_iter_max(&max_iter, a);
    d_ocp_qp_ipm_arg_set_tol_stat(&tol_stat, a);
    d_ocp_qp_ipm_arg_set_tol_eq(&tol, a);
    d_ocp_qp_ipm_arg_set_tol_ineq(&tol, a);
    d_ocp_qp_ipm_arg_set_tol_comp(&tol, a);
    d_ocp_qp_ipm_arg_set_mu0(&mu0, a);
    d_ocp_qp_ipm_arg_set_warm_start(&hot, a);
    d_ocp_qp_ipm_arg_set_lam0_min(&floor, a);
    d_ocp_qp_ipm_arg_set_t0_min(&floor, a);
    d_ocp_qp_ipm_arg_set_reg_prim(&reg, a);
}

/* one attempt with set-up ``which``; returns HPIPM's status (NAN_SOL also for a solution that
   is not finite). ``probe``: stop after the first iteration when its factorization shows a
   singular reduced Hessian (returns MIN_STEP then), else go on from there */
static int attempt(cmpc_qp_t *qp, const cmpc_qp_opts_t *o, int which, int warm, double reg,
                   int probe) {
    cmpc_qp_mem_t *m = qp->mem;
    m->last = which;
    ipm_t *h = m->ipm + which;
    double tiny = reg > 0.0 ? reg : 1e-15;
    set_arg(qp, o, probe ? 1 : o->max_iter, warm, o->wfloor, tiny);
    if (warm) hot_start(qp);
    d_ocp_qp_ipm_solve(&m->qp, &m->sol, &h->arg, &h->ws);
    qp->iter += h->ws.iter;
    if (probe && h->ws.status == MAX_ITER && finite_solution(qp)) {
        if (singular(qp)) return MIN_STEP;
        /* convex at the first iterate: the remaining iterations from where it stopped */
        set_arg(qp, o, o->max_iter - 1, 1, 1e-300, tiny);
        d_ocp_qp_ipm_solve(&m->qp, &m->sol, &h->arg, &h->ws);
        qp->iter += h->ws.iter;
    }
    if (h->ws.status == NAN_SOL || !finite_solution(qp)) {
        renew(qp);
        return NAN_SOL;
    }
    return h->ws.status;
}

int cmpc_qp_solve(cmpc_qp_t *qp, const cmpc_qp_opts_t *o) {
    cmpc_qp_mem_t *m = qp->mem;
    int warm = o->warm && m->kept, which = o->strict ? IPM_CURVED : IPM_FAST, rc = QP_FAIL;
    double reg = 0.0, scale = 1.0 + m->hscale;
    qp->iter = qp->cold_retries = qp->regularized = qp->robust = 0;
    qp->path = 0;
    for (;;) {
        int status = attempt(qp, o, which, warm, reg, o->strict && o->max_iter > 1);
        if (status != NAN_SOL && singular(qp)) {
            if (o->strict) {
                rc = QP_NONCONVEX;
                break;
            }
            /* a singular or indefinite reduced Hessian: shift the Hessian's diagonal */
            reg = reg > 0.0 ? 100.0 * reg : QP_REG_FIRST * scale;
            if (reg > QP_REG_LAST * scale) {
                rc = QP_FAIL;
                break;
            }
            qp->regularized++;
            warm = 0;
            continue;
        }
        /* the last resort may end near the tolerance: 1e-6 will do */
        int last = !warm && (o->strict || which == IPM_ROBUST);
        if (status == SUCCESS || (last && status == MAX_ITER && complementarity(qp) <= 1e-6 &&
                                  residual_ratio(qp, 1e-6 * scale) <= 1.0)) {
            rc = QP_OK;
            break;
        }
        rc = status == NAN_SOL ? QP_NAN : QP_FAIL;
        if (o->strict) {
            /* no convergence with the exact Hessian: let the caller take Gauss-Newton */
            rc = QP_NONCONVEX;
            break;
        }
        if (warm) {
            /* multipliers of a rather different QP (a weight changed, say) can stall the
               iteration: once more from a cold start */
            warm = 0;
            qp->cold_retries++;
        } else if (which == IPM_FAST) {
            /* a QP the speed mode cannot bring to the tolerance: HPIPM's robust mode */
            which = IPM_ROBUST;
            qp->robust++;
        } else {
            break;
        }
    }
    qp->reg = reg;
    if (rc == QP_OK) extract(qp);
    return rc;
}

int cmpc_qp_advance(cmpc_qp_t *qp, const cmpc_qp_opts_t *o, int max_iter) {
    cmpc_qp_mem_t *m = qp->mem;
    int nx = qp->nx, nu = qp->nu, ns = qp->ns, nz = qp->nz, ng0 = qp->ng[0];
    double *ds = m->work2, change_stat = 0.0, change = 0.0;
    qp->iter = qp->cold_retries = qp->regularized = qp->robust = 0;
    for (int i = 0; i < ns; ++i) ds[i] = qp->s0[i] - m->s0_solved[i];
    /* how much the new s0 moves the residuals of the last solution (stage-0 data only) */
    for (int i = 0; i < nu; ++i) {
        double v = 0.0;
        for (int j = 0; j < ns; ++j) v += qp->H[0][(ns + i) + j * nz] * ds[j];
        if (!(fabs(v) <= change_stat)) change_stat = fabs(v);
    }
    for (int i = 0; i < nx && qp->N > 0; ++i) {
        double v = 0.0;
        for (int j = 0; j < nx; ++j) v += qp->A[0][i + j * nx] * ds[j];
        if (!(fabs(v) <= change)) change = fabs(v);
    }
    for (int r = 0; r < ng0; ++r) {
        double v = 0.0;
        for (int j = 0; j < nx; ++j) v += qp->C[0][r + j * ng0] * ds[j];
        if (!(fabs(v) <= change)) change = fabs(v);
    }
    if (m->res_stat + change_stat <= stationarity_tol(qp, o->tol) &&
        m->res_lin + change <= o->tol) {
        qp->path = QP_PATH_PREPARED;
        extract(qp);
        return QP_OK;
    }
    /* the tangential predictor: one Newton step with the factorization at the solution */
    ipm_t *h = m->ipm + m->last;
    set_arg(qp, o, max_iter, 1, 1e-300, qp->reg > 0.0 ? qp->reg : 1e-15);
    d_ocp_qp_ipm_predict(&m->qp, &m->sol, &h->arg, &h->ws);
    int inside = 1;
    for (int k = 0; k <= qp->N; ++k) {
        int nc = 2 * (m->hnbx[k] + m->hnbu[k]) + 2 * qp->ng[k] + 2 * qp->nsoft[k];
        double *t = m->sol.t[k].pa, *lam = m->sol.lam[k].pa;
        const double *mask = m->qp.d_mask[k].pa;
        for (int i = 0; i < nc; ++i) {
            if (mask[i] == 0.0 || (t[i] > 0.0 && lam[i] > 0.0)) continue;
            /* a constraint changes its active status: restart the pair off the boundary */
            inside = 0;
            t[i] = t[i] > QP_AS_FLOOR ? t[i] : QP_AS_FLOOR;
            lam[i] = lam[i] > QP_AS_FLOOR ? lam[i] : QP_AS_FLOOR;
        }
    }
    qp->iter = 1;
    if (inside && finite_solution(qp) && residual_ratio(qp, o->tol) <= 1.0 &&
        complementarity(qp) <= o->tol) {
        qp->path = QP_PATH_PREDICTOR;
        extract(qp);
        return QP_OK;
    }
    /* interior-point iterations from the predicted point (hot start keeps it) */
    d_ocp_qp_ipm_solve(&m->qp, &m->sol, &h->arg, &h->ws);
    qp->iter += h->ws.iter;
    if (h->ws.status == NAN_SOL || !finite_solution(qp)) renew(qp);
    if (h->ws.status != SUCCESS || !finite_solution(qp)) return QP_FAIL;
    qp->path = QP_PATH_CONTINUED;
    extract(qp);
    return QP_OK;
}
