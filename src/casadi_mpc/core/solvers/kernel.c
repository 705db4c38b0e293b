/*
 * Structured SQP kernel, compiled together with the generated problem functions.
 *
 * The generated header before it defines the dimensions (NX, NU, NV, N, NP, PM0, X0OFF, NT, NHNZ,
 * NGT, EXACT) and the Hessian scatter tables, and declares the CasADi-generated functions
 * cmpc_dyn (x, u, pm -> x+, A, B), cmpc_dyn0 (x, u, pm -> x+), cmpc_dynh (x, u, pm, nu -> x+, A,
 * B, d2(nu' x+)/d(x,u)2; only if EXACT), cmpc_obj (w, p -> f, grad f, Gauss-Newton Hessian
 * nonzeros, terminal constraint value and Jacobian), cmpc_obj0 (w, p -> f, terminal value) and
 * cmpc_terms (w, p -> f, cost per term).
 *
 * Algorithm: SQP on the multiple-shooting NLP. Each QP is posed in stage form on the augmented
 * state s_k = (x_k, v_k), v_k = u_{k-1} (only when the cost couples neighbouring inputs, NV = NU;
 * else NV = 0), and solved by a primal-dual interior point method (Mehrotra predictor-corrector)
 * whose Newton systems are solved by a Riccati recursion: O(N) in the horizon, dense and tiny per
 * stage. The IP warm starts from the last QP's multipliers when the inequality layout is unchanged
 * (RTI steps, SQP iterations).
 *
 * Converged mode: the Hessian is the objective's Gauss-Newton Hessian plus, when EXACT, the
 * constraint curvature -nu' F'' (exact Hessian of the Lagrangian for quadratic costs: quadratic
 * instead of linear convergence); an iteration whose exact Hessian is not convex on the
 * constraints' null space (the Riccati recursion meets a non-positive pivot) falls back to
 * Gauss-Newton. l1-merit backtracking line search; stop when the constraint violation and the
 * Lagrangian gradient are below the tolerances. RTI mode: one full Gauss-Newton step from the
 * last iterate (no shift, as acados); the linearization can be prepared before the new state is
 * known (cmpc_prepare), so the feedback is the QP solve alone.
 *
 * Advanced step (RTI, prepared): cmpc_prepare also solves the QP for the predicted initial state
 * x0_pred = F(x_0, u_0) of the current iterate and the bounds of the last solve, and factorizes
 * the Newton system at that solution. The feedback then only corrects it for the actual state:
 * nothing when the prepared solution meets the QP's termination test for it as well; else the
 * tangential predictor (one back-substitution with that factorization), IP iterations from
 * there while the residuals are above qp_tol (an active-set change), and the ordinary
 * warm-started solve if those do not converge within AS_MAX_ITER. The result is a solution of
 * the actual QP to qp_tol either way. Bounds or parameters other than x0 changed since the
 * prepare: the ordinary solve, warm started as without the prepared QP.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define NS (NX + NV)
#define NZ (NS + NU)
#define NXU (NX + NU)
#define NW (N * NXU + NX)
#define NI (2 * NW + 2 * NGT)
#define BIG 1e19
/* advanced step: IP iterations after the tangential predictor before the ordinary solve takes
   over (about what a warm-started solve needs in a transient), and the floor of the
   slack/multiplier pairs whose active status the predictor changes */
#define AS_MAX_ITER 8
#define AS_FLOOR 1e-2

enum { ST_OPTIMAL = 0, ST_MAX_ITER = 1, ST_TIMEOUT = 2, ST_QP_FAIL = 3, ST_NAN = 4,
       ST_RTI = 5 };
/* how the last feedback got its QP solution (cmpc_prep_stats) */
enum { FB_SOLVE = 0, FB_PREPARED = 1, FB_PREDICTOR = 2, FB_CONTINUED = 3, FB_FALLBACK = 4 };

/* a solved QP's inequality layout and multipliers, to warm start the next one */
typedef struct {
    int ok, n, stage[NI], comp[NI];
    double sg[NI], lam[NI];
} warm_t;

typedef struct {
    /* iterate, multipliers (nu: initial condition, then one block per gap) */
    double w[NW], wt[NW], dw[NW];
    double nu[(N + 1) * NX], zl[NW], zu[NW], tl[NGT + 1], tu[NGT + 1];
    double p[NP], p_prep[NP];
    int prepared;
    /* function values and derivatives at w */
    double f, grad[NW], hnz[NHNZ + 1], e[NGT + 1], De[NGT * NX + 1];
    double xn[N * NX], A[N * NX * NX], B[N * NX * NU];
    double Hl[EXACT ? N * NXU * NXU : 1];   /* curvature of nu' F per stage over (x, u) */
    /* stage QP: Hessian blocks over z = (x, v, u), gradients, dynamics offsets */
    double H[(N + 1) * NZ * NZ], g[(N + 1) * NZ], bb[N * NS], s0[NS];
    /* inequalities: stage, component (or terminal row), sign, right-hand side */
    int ni, nb, istage[NI], icomp[NI], igen[NI], iz[NI], ih2[NI];
    double isg[NI], ih[NI];
    /* warm start of the next QP; the feedback's own while a prepared QP has replaced it */
    warm_t pw, pw_fb;
    int pw_saved;
    /* interior point state and directions */
    double z[(N + 1) * NZ], dz[(N + 1) * NZ], y[(N + 1) * NS], dy[(N + 1) * NS];
    double t[NI], lam[NI], dt[NI], dlam[NI], rc[NI], rs[NI];
    double rz[(N + 1) * NZ], re[(N + 1) * NS];
    /* Riccati factors */
    double Hh[(N + 1) * NZ * NZ], P[(N + 1) * NS * NS], L[N * NU * NU], K[N * NU * NS];
    double Hus[N * NU * NS], pv[(N + 1) * NS], kff[N * NU];
    double FA[NS * NS], FB[NS * NU], fv[NS], hu[NU];
    double qq[(N + 1) * NZ], bneg[N * NS + 1], s0n[NS + 1];
    double nuq[(N + 1) * NX], zlq[NW], zuq[NW], tlq[NGT + 1], tuq[NGT + 1];
    /* bounds of the last solve (lbw, ubw, terminal lbt, ubt), for the advanced step */
    int bounds_ok;
    double blbw[NW], bubw[NW], blbt[NGT + 1], bubt[NGT + 1];
    /* advanced step: the prepared QP is solved for the initial state x0_pred and its Newton
       system factorized at the solution (z, y, t, lam, residuals and Riccati factors) */
    int as_ready, prep_qp_iter, prep_rc, fb_path;
    double x0_pred[NX], dx0[NX], as_rest;   /* as_rest: largest residual but re's first NS */
    /* settings */
    int max_iter, shift, rti, qp_max_iter, verbose, exact, curv, strict, advanced;
    double tol_pr, tol_du, time_limit, qp_tol, reg, mu0, t0, wfloor;
    int warm;
    /* statistics of the last solve */
    int qp_iter, qp_iter_total;
    double pr, du;
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

static double amax(const double *a, int n) {
    double m = 0.0;
    for (int i = 0; i < n; ++i) {
        double v = fabs(a[i]);
        if (!(v <= m)) m = v;   /* NaN propagates */
    }
    return m;
}

/* ------------------------------------------------------------------ small dense algebra */
/* column-major: a[i + j * lda] */

static int chol(double *a, int n) {
    for (int j = 0; j < n; ++j) {
        double d = a[j + j * n];
        for (int k = 0; k < j; ++k) d -= a[j + k * n] * a[j + k * n];
        if (!(d > 0.0)) return 1;
        d = sqrt(d);
        a[j + j * n] = d;
        for (int i = j + 1; i < n; ++i) {
            double s = a[i + j * n];
            for (int k = 0; k < j; ++k) s -= a[i + k * n] * a[j + k * n];
            a[i + j * n] = s / d;
        }
    }
    return 0;
}

/* solve (L L') x = b in place, L lower n x n, b n x m */
static void chol_solve(const double *l, int n, double *b, int m) {
    for (int c = 0; c < m; ++c) {
        double *x = b + c * n;
        for (int i = 0; i < n; ++i) {
            double s = x[i];
            for (int k = 0; k < i; ++k) s -= l[i + k * n] * x[k];
            x[i] = s / l[i + i * n];
        }
        for (int i = n - 1; i >= 0; --i) {
            double s = x[i];
            for (int k = i + 1; k < n; ++k) s -= l[k + i * n] * x[k];
            x[i] = s / l[i + i * n];
        }
    }
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
        s->arg[3] = s->nu + (k + 1) * NX;
        s->res[1] = s->A + k * NX * NX;
        s->res[2] = s->B + k * NX * NU;
        s->res[3] = s->Hl + k * NXU * NXU;
        cmpc_dynh(s->arg, s->res, s->iw, s->cw, 0);
        return;
    }
#endif
    if (with_jac) {
        s->res[1] = s->A + k * NX * NX;
        s->res[2] = s->B + k * NX * NU;
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

/* ------------------------------------------------------------------ QP assembly */

static void build_qp(ws_t *s) {
    memset(s->H, 0, sizeof(s->H));
    memset(s->g, 0, sizeof(s->g));
    for (int i = 0; i < NHNZ; ++i) {
        s->H[HDST[i]] = s->hnz[i];
        if (HDST2[i] >= 0) s->H[HDST2[i]] = s->hnz[i];
    }
    for (int k = 0; k <= N; ++k) {
        double *gk = s->g + k * NZ;
        const double *gr = s->grad + k * NXU;
        for (int i = 0; i < NX; ++i) gk[i] = gr[i];
        if (k < N)
            for (int i = 0; i < NU; ++i) gk[NS + i] = gr[NX + i];
    }
#if EXACT
    /* Hessian of the Lagrangian: the gap constraints x+ - F(x, u) add -nu' F'' */
    if (s->curv)
        for (int k = 0; k < N; ++k) {
            const double *hl = s->Hl + k * NXU * NXU;
            double *Hk = s->H + k * NZ * NZ;
            for (int j = 0; j < NXU; ++j) {
                int cj = j < NX ? j : NS + j - NX;
                for (int i = 0; i < NXU; ++i) {
                    int ci = i < NX ? i : NS + i - NX;
                    Hk[ci + cj * NZ] -= hl[i + j * NXU];
                }
            }
        }
#endif
    for (int k = 0; k < N; ++k) {
        double *b = s->bb + k * NS;
        const double *xnext = s->w + (k + 1) * NXU;
        for (int i = 0; i < NX; ++i) b[i] = s->xn[k * NX + i] - xnext[i];
        for (int i = NX; i < NS; ++i) b[i] = 0.0;
    }
}

/* s0 depends on the new initial state only: the feedback part */
static void build_s0(ws_t *s) {
    for (int i = 0; i < NX; ++i) s->s0[i] = s->p[X0OFF + i] - s->w[i];
    for (int i = NX; i < NS; ++i) s->s0[i] = 0.0;
}

static void add_ineq(ws_t *s, int stage, int comp, int gen, double sg, double h) {
    int i = s->ni++;
    s->istage[i] = stage;
    s->icomp[i] = comp;
    s->igen[i] = gen;
    s->iz[i] = stage * NZ + comp;                      /* boxes: entry of z */
    s->ih2[i] = stage * NZ * NZ + comp * (NZ + 1);     /* boxes: diagonal entry of H */
    if (!gen) s->nb = s->ni;
    s->isg[i] = sg;
    s->ih[i] = h;
}

static void build_ineq(ws_t *s, const double *lbw, const double *ubw, const double *lbt,
                       const double *ubt) {
    s->ni = 0;
    s->nb = 0;
    for (int k = 1; k <= N; ++k)
        for (int i = 0; i < NX; ++i) {
            int j = k * NXU + i;
            if (lbw[j] > -BIG) add_ineq(s, k, i, 0, 1.0, lbw[j] - s->w[j]);
            if (ubw[j] < BIG) add_ineq(s, k, i, 0, -1.0, s->w[j] - ubw[j]);
        }
    for (int k = 0; k < N; ++k)
        for (int i = 0; i < NU; ++i) {
            int j = k * NXU + NX + i;
            if (lbw[j] > -BIG) add_ineq(s, k, NS + i, 0, 1.0, lbw[j] - s->w[j]);
            if (ubw[j] < BIG) add_ineq(s, k, NS + i, 0, -1.0, s->w[j] - ubw[j]);
        }
    for (int r = 0; r < NGT; ++r) {
        if (lbt[r] > -BIG) add_ineq(s, N, r, 1, 1.0, lbt[r] - s->e[r]);
        if (ubt[r] < BIG) add_ineq(s, N, r, 1, -1.0, s->e[r] - ubt[r]);
    }
}

/* G z for inequality i (without sign), and adding v * G_i' to a stage vector */
static double ineq_row(const ws_t *s, int i, const double *z) {
    const double *zk = z + s->istage[i] * NZ;
    if (!s->igen[i]) return zk[s->icomp[i]];
    double v = 0.0;
    for (int c = 0; c < NX; ++c) v += s->De[s->icomp[i] + c * NGT] * zk[c];
    return v;
}

static void ineq_add_t(const ws_t *s, int i, double v, double *vec) {
    double *vk = vec + s->istage[i] * NZ;
    if (!s->igen[i]) {
        vk[s->icomp[i]] += v;
        return;
    }
    for (int c = 0; c < NX; ++c) vk[c] += v * s->De[s->icomp[i] + c * NGT];
}

/* ------------------------------------------------------------------ Riccati recursion */
/* stage dynamics: s+ = Ab s + Bb u + b with Ab = [A 0; 0 0], Bb = [B; I] */

static void mul_FA(const double *F, const double *A, double *FA) {
    /* FA = F * Ab, F: NS x NS */
    memset(FA, 0, sizeof(double) * NS * NS);
    for (int j = 0; j < NX; ++j)
        for (int k = 0; k < NX; ++k) {
            double a = A[k + j * NX];
            if (a == 0.0) continue;
            for (int i = 0; i < NS; ++i) FA[i + j * NS] += F[i + k * NS] * a;
        }
}

static void mul_FB(const double *F, const double *B, double *FB) {
    /* FB = F * Bb */
    for (int j = 0; j < NU; ++j)
        for (int i = 0; i < NS; ++i) {
            double v = 0.0;
            for (int k = 0; k < NX; ++k) v += F[i + k * NS] * B[k + j * NX];
            if (NV) v += F[i + (NX + j) * NS];
            FB[i + j * NS] = v;
        }
}

/* y = Ab' x, x of size NS */
static void mul_Abt(const double *A, const double *x, double *y) {
    for (int j = 0; j < NX; ++j) {
        double v = 0.0;
        for (int k = 0; k < NX; ++k) v += A[k + j * NX] * x[k];
        y[j] = v;
    }
    for (int j = NX; j < NS; ++j) y[j] = 0.0;
}

/* y = Bb' x */
static void mul_Bbt(const double *B, const double *x, double *y) {
    for (int j = 0; j < NU; ++j) {
        double v = 0.0;
        for (int k = 0; k < NX; ++k) v += B[k + j * NX] * x[k];
        if (NV) v += x[NX + j];
        y[j] = v;
    }
}

/* y = Ab x + Bb u + b */
static void dyn_apply(const double *A, const double *B, const double *x, const double *u,
                      const double *b, double *y) {
    for (int i = 0; i < NX; ++i) {
        double v = b[i];
        for (int k = 0; k < NX; ++k) v += A[i + k * NX] * x[k];
        for (int k = 0; k < NU; ++k) v += B[i + k * NX] * u[k];
        y[i] = v;
    }
    for (int i = 0; i < NV; ++i) y[NX + i] = b[NX + i] + u[i];
}

static int riccati_factor(ws_t *s) {
    double *PN = s->P + N * NS * NS;
    const double *HN = s->Hh + N * NZ * NZ;
    for (int j = 0; j < NS; ++j)
        for (int i = 0; i < NS; ++i) PN[i + j * NS] = HN[i + j * NZ];
    for (int k = N - 1; k >= 0; --k) {
        const double *F = s->P + (k + 1) * NS * NS;
        const double *A = s->A + k * NX * NX, *B = s->B + k * NX * NU;
        const double *Hk = s->Hh + k * NZ * NZ;
        double *L = s->L + k * NU * NU, *K = s->K + k * NU * NS, *Hus = s->Hus + k * NU * NS;
        double *Pk = s->P + k * NS * NS;
        mul_FA(F, A, s->FA);
        mul_FB(F, B, s->FB);
        /* Huu = R + Bb' F Bb */
        for (int j = 0; j < NU; ++j)
            for (int i = 0; i < NU; ++i) {
                double v = Hk[(NS + i) + (NS + j) * NZ];
                for (int q = 0; q < NX; ++q) v += B[q + i * NX] * s->FB[q + j * NS];
                if (NV) v += s->FB[(NX + i) + j * NS];
                L[i + j * NU] = v;
            }
        /* Hus = S + Bb' F Ab */
        for (int j = 0; j < NS; ++j)
            for (int i = 0; i < NU; ++i) {
                double v = Hk[(NS + i) + j * NZ];
                for (int q = 0; q < NX; ++q) v += B[q + i * NX] * s->FA[q + j * NS];
                if (NV) v += s->FA[(NX + i) + j * NS];
                Hus[i + j * NU] = v;
            }
        double reg = 0.0;
        double Huu[NU * NU];
        memcpy(Huu, L, sizeof(Huu));
        while (chol(L, NU)) {
            if (s->strict) return 1;   /* not convex: the caller falls back to Gauss-Newton */
            reg = reg > 0.0 ? 100.0 * reg : 1e-10 * (1.0 + amax(Huu, NU * NU));
            if (reg > 1e10) return 1;
            memcpy(L, Huu, sizeof(Huu));
            for (int i = 0; i < NU; ++i) L[i + i * NU] += reg;
        }
        /* K = -Huu^-1 Hus */
        for (int q = 0; q < NU * NS; ++q) K[q] = -Hus[q];
        chol_solve(L, NU, K, NS);
        /* P = Q + Ab' F Ab + Hus' K */
        for (int j = 0; j < NS; ++j)
            for (int i = 0; i <= j; ++i) {
                double v = Hk[i + j * NZ];
                if (i < NX)
                    for (int q = 0; q < NX; ++q) v += A[q + i * NX] * s->FA[q + j * NS];
                for (int q = 0; q < NU; ++q) v += Hus[q + i * NU] * K[q + j * NU];
                Pk[i + j * NS] = v;
                Pk[j + i * NS] = v;
            }
    }
    return 0;
}

/* Solve the Newton system with gradient rhs q (per stage, NZ) and dynamics offsets b (NS per
   stage), initial value s0; writes dz (NZ per stage) and dy (equality multipliers, NS each) */
static void riccati_solve(ws_t *s, const double *q, const double *b, const double *s0,
                          double *dz, double *dy) {
    double *pN = s->pv + N * NS;
    for (int i = 0; i < NS; ++i) pN[i] = q[N * NZ + i];
    for (int k = N - 1; k >= 0; --k) {
        const double *F = s->P + (k + 1) * NS * NS, *pn = s->pv + (k + 1) * NS;
        const double *A = s->A + k * NX * NX, *B = s->B + k * NX * NU;
        const double *bk = b + k * NS, *qk = q + k * NZ;
        double *kf = s->kff + k * NU, *pk = s->pv + k * NS;
        const double *Hus = s->Hus + k * NU * NS;
        for (int i = 0; i < NS; ++i) {
            double v = pn[i];
            for (int j = 0; j < NS; ++j) v += F[i + j * NS] * bk[j];
            s->fv[i] = v;
        }
        mul_Bbt(B, s->fv, s->hu);
        for (int i = 0; i < NU; ++i) kf[i] = -(qk[NS + i] + s->hu[i]);
        chol_solve(s->L + k * NU * NU, NU, kf, 1);
        mul_Abt(A, s->fv, pk);
        for (int i = 0; i < NS; ++i) {
            double v = pk[i] + qk[i];
            for (int j = 0; j < NU; ++j) v += Hus[j + i * NU] * kf[j];
            pk[i] = v;
        }
    }
    for (int i = 0; i < NS; ++i) dz[i] = s0[i];
    for (int k = 0; k <= N; ++k) {
        double *zk = dz + k * NZ;
        const double *Pk = s->P + k * NS * NS, *pk = s->pv + k * NS;
        for (int i = 0; i < NS; ++i) {
            double v = pk[i];
            for (int j = 0; j < NS; ++j) v += Pk[i + j * NS] * zk[j];
            dy[k * NS + i] = -v;
        }
        if (k == N) break;
        const double *K = s->K + k * NU * NS, *kf = s->kff + k * NU;
        for (int i = 0; i < NU; ++i) {
            double v = kf[i];
            for (int j = 0; j < NS; ++j) v += K[i + j * NU] * zk[j];
            zk[NS + i] = v;
        }
        dyn_apply(s->A + k * NX * NX, s->B + k * NX * NU, zk, zk + NS, b + k * NS,
                  dz + (k + 1) * NZ);
    }
}

/* ------------------------------------------------------------------ interior point QP */

/* rz = H z + g + E' y - G' lam ; re = E z - e (equalities as s_{k+1} - Ab s - Bb u - b) */
static void qp_residuals(ws_t *s) {
    for (int k = 0; k <= N; ++k) {
        const double *Hk = s->H + k * NZ * NZ, *zk = s->z + k * NZ;
        double *r = s->rz + k * NZ;
        int nz = k < N ? NZ : NS;
        for (int i = 0; i < nz; ++i) {
            double v = s->g[k * NZ + i];
            for (int j = 0; j < nz; ++j) v += Hk[i + j * NZ] * zk[j];
            r[i] = v;
        }
        for (int i = nz; i < NZ; ++i) r[i] = 0.0;
        for (int i = 0; i < NS; ++i) r[i] += s->y[k * NS + i];
        if (k < N) {
            double tv[NS > NU ? NS : NU];
            const double *yn = s->y + (k + 1) * NS;
            mul_Abt(s->A + k * NX * NX, yn, tv);
            for (int i = 0; i < NS; ++i) r[i] -= tv[i];
            mul_Bbt(s->B + k * NX * NU, yn, tv);
            for (int i = 0; i < NU; ++i) r[NS + i] -= tv[i];
        }
    }
    for (int i = 0; i < s->nb; ++i) s->rz[s->iz[i]] -= s->isg[i] * s->lam[i];
    for (int i = s->nb; i < s->ni; ++i) ineq_add_t(s, i, -s->isg[i] * s->lam[i], s->rz);
    for (int i = 0; i < NS; ++i) s->re[i] = s->z[i] - s->s0[i];
    for (int k = 0; k < N; ++k) {
        double nx[NS];
        dyn_apply(s->A + k * NX * NX, s->B + k * NX * NU, s->z + k * NZ, s->z + k * NZ + NS,
                  s->bb + k * NS, nx);
        for (int i = 0; i < NS; ++i) s->re[(k + 1) * NS + i] = s->z[(k + 1) * NZ + i] - nx[i];
    }
    for (int i = 0; i < s->nb; ++i)
        s->rc[i] = s->isg[i] * s->z[s->iz[i]] - s->ih[i] - s->t[i];
    for (int i = s->nb; i < s->ni; ++i)
        s->rc[i] = s->isg[i] * ineq_row(s, i, s->z) - s->ih[i] - s->t[i];
}

/* Newton direction for complementarity residual s->rs; factorization must be current */
static void qp_direction(ws_t *s) {
    /* rhs gradient: rz + G' ((rs + lam rc) / t) */
    memcpy(s->qq, s->rz, sizeof(s->qq));
    for (int i = 0; i < s->nb; ++i)
        s->qq[s->iz[i]] += s->isg[i] * (s->rs[i] + s->lam[i] * s->rc[i]) / s->t[i];
    for (int i = s->nb; i < s->ni; ++i)
        ineq_add_t(s, i, s->isg[i] * (s->rs[i] + s->lam[i] * s->rc[i]) / s->t[i], s->qq);
    for (int i = 0; i < NS; ++i) s->s0n[i] = -s->re[i];
    for (int q = 0; q < N * NS; ++q) s->bneg[q] = -s->re[NS + q];
    riccati_solve(s, s->qq, s->bneg, s->s0n, s->dz, s->dy);
    for (int i = 0; i < s->nb; ++i) s->dt[i] = s->isg[i] * s->dz[s->iz[i]] + s->rc[i];
    for (int i = s->nb; i < s->ni; ++i) s->dt[i] = s->isg[i] * ineq_row(s, i, s->dz) + s->rc[i];
    for (int i = 0; i < s->ni; ++i) s->dlam[i] = -(s->rs[i] + s->lam[i] * s->dt[i]) / s->t[i];
}

static double max_step(const ws_t *s) {
    double a = 1.0;
    for (int i = 0; i < s->ni; ++i) {
        if (s->dt[i] < 0.0 && -s->t[i] / s->dt[i] < a) a = -s->t[i] / s->dt[i];
        if (s->dlam[i] < 0.0 && -s->lam[i] / s->dlam[i] < a) a = -s->lam[i] / s->dlam[i];
    }
    return a;
}

/* solves the stage QP set up in H, g, bb, s0, inequalities; 0 on success */
static int same_layout(const ws_t *s) {
    const warm_t *w = &s->pw;
    if (!w->ok || w->n != s->ni) return 0;
    for (int i = 0; i < s->ni; ++i)
        if (w->stage[i] != s->istage[i] || w->comp[i] != s->icomp[i] || w->sg[i] != s->isg[i])
            return 0;
    return 1;
}

static int qp_solve_inner(ws_t *s, int max_it, int loose);

/* keep the inequality layout and multipliers of a solved QP for the next warm start */
static void qp_remember(ws_t *s) {
    int m = s->ni;
    warm_t *w = &s->pw;
    w->ok = 1;
    w->n = m;
    memcpy(w->stage, s->istage, sizeof(int) * m);
    memcpy(w->comp, s->icomp, sizeof(int) * m);
    memcpy(w->sg, s->isg, sizeof(double) * m);
    memcpy(w->lam, s->lam, sizeof(double) * m);
}

static int qp_solve(ws_t *s) {
    int m = s->ni, warm = s->warm && same_layout(s), iters = 0, rc;
    for (;;) {
        memset(s->z, 0, sizeof(s->z));
        memset(s->y, 0, sizeof(s->y));
        if (warm) {
            /* slacks of the current point, multipliers of the last QP, both kept off zero */
            for (int i = 0; i < m; ++i) {
                double c = -s->ih[i];
                s->t[i] = c > s->wfloor ? c : s->wfloor;
                s->lam[i] = s->pw.lam[i] > s->wfloor ? s->pw.lam[i] : s->wfloor;
            }
        } else {
            for (int i = 0; i < m; ++i) {
                double c = -s->ih[i];
                s->t[i] = c > s->t0 ? c : s->t0;
                s->lam[i] = s->mu0 / s->t[i];
            }
        }
        rc = qp_solve_inner(s, s->qp_max_iter, 1);
        iters += s->qp_iter;
        /* multipliers of a rather different QP (a weight changed, say) can make the
           predictor-corrector cycle without converging: once more from a cold start */
        if (rc != 3 || !warm) break;
        warm = 0;
    }
    s->qp_iter = iters;
    s->pw.ok = 0;
    if (rc == 0) qp_remember(s);
    return rc;
}

/* Hh = H + G' diag(lam / t) G (+ reg I), factorized by the Riccati recursion; 0 on success */
static int qp_factor(ws_t *s) {
    int m = s->ni;
    memcpy(s->Hh, s->H, sizeof(s->H));
    for (int i = 0; i < s->nb; ++i) s->Hh[s->ih2[i]] += s->lam[i] / s->t[i];
    for (int i = s->nb; i < m; ++i) {
        double sg = s->lam[i] / s->t[i];
        double *Hk = s->Hh + s->istage[i] * NZ * NZ;
        const double *d = s->De + s->icomp[i];
        for (int c = 0; c < NX; ++c)
            for (int r = 0; r < NX; ++r) Hk[r + c * NZ] += sg * d[r * NGT] * d[c * NGT];
    }
    if (s->reg > 0.0)
        for (int k = 0; k <= N; ++k)
            for (int i = 0; i < NZ; ++i) s->Hh[k * NZ * NZ + i * (NZ + 1)] += s->reg;
    return riccati_factor(s);
}

/* IP iterations from the current (z, y, t, lam), at most max_it; with loose, a point meeting
   1e-6 after max_it iterations is accepted. 0 converged, 1 factorization failed, 2 NaN, 3 not
   converged; s->qp_iter = iterations taken */
static int qp_solve_inner(ws_t *s, int max_it, int loose) {
    int m = s->ni;
    double gscale = 1.0 + amax(s->g, (N + 1) * NZ);
    s->qp_iter = 0;
    int stalled = 0;
    for (int it = 0; it <= max_it; ++it) {
        qp_residuals(s);
        double mu = 0.0;
        for (int i = 0; i < m; ++i) mu += s->t[i] * s->lam[i];
        mu = m ? mu / m : 0.0;
        double rz = amax(s->rz, (N + 1) * NZ), re = amax(s->re, (N + 1) * NS);
        double rc = amax(s->rc, m);
        if (!(rz == rz && re == re && rc == rc && mu == mu)) return 2;
        if (s->verbose > 1)
            fprintf(stderr, "  qp %2d rz %.2e re %.2e rc %.2e mu %.2e\n", it, rz, re, rc, mu);
        if (rz <= s->qp_tol && re <= s->qp_tol && rc <= s->qp_tol && mu <= s->qp_tol)
            return 0;
        if (it == max_it) {
            if (loose && rz <= 1e-6 * gscale && re <= 1e-6 && rc <= 1e-6 && mu <= 1e-6)
                return 0;
            break;
        }
        s->qp_iter = it + 1;
        if (qp_factor(s)) return 1;
        if (m == 0) {
            memset(s->rs, 0, sizeof(s->rs));
            qp_direction(s);
            for (int q = 0; q < (N + 1) * NZ; ++q) s->z[q] += s->dz[q];
            for (int q = 0; q < (N + 1) * NS; ++q) s->y[q] += s->dy[q];
            continue;
        }
        /* predictor */
        for (int i = 0; i < m; ++i) s->rs[i] = s->t[i] * s->lam[i];
        qp_direction(s);
        double a = max_step(s), mua = 0.0;
        for (int i = 0; i < m; ++i)
            mua += (s->t[i] + a * s->dt[i]) * (s->lam[i] + a * s->dlam[i]);
        mua /= m;
        double sigma = mua / mu;
        sigma = sigma < 1.0 ? sigma * sigma * sigma : 1.0;
        /* corrector */
        for (int i = 0; i < m; ++i)
            s->rs[i] = s->t[i] * s->lam[i] + s->dt[i] * s->dlam[i] - sigma * mu;
        qp_direction(s);
        a = max_step(s);
        double tau = 1.0 - mu < 0.995 ? 0.995 : 1.0 - mu;   /* closer to the edge late on */
        if (tau > 1.0 - 1e-8) tau = 1.0 - 1e-8;
        a = a < 1.0 ? tau * a : 1.0;
        /* no progress: an infeasible (or numerically hopeless) QP, give up early */
        stalled = a < 1e-8 ? stalled + 1 : 0;
        if (stalled >= 5) return 3;
        for (int q = 0; q < (N + 1) * NZ; ++q) s->z[q] += a * s->dz[q];
        for (int q = 0; q < (N + 1) * NS; ++q) s->y[q] += a * s->dy[q];
        for (int i = 0; i < m; ++i) {
            s->t[i] += a * s->dt[i];
            s->lam[i] += a * s->dlam[i];
        }
    }
    return 3;
}

/* Advanced step: the prepared QP's solution (for the initial state x0_pred) corrected for the
   actual one, s0 already rebuilt for it; requires the factorization at that solution. The
   tangential predictor (the Newton step for the changed initial-value residual, products
   t lam kept), then IP iterations until the residuals meet qp_tol, at most AS_MAX_ITER.
   0: the QP is solved to qp_tol; else the caller solves it afresh. s->qp_iter = iterations */
static int qp_advance(ws_t *s) {
    int m = s->ni;
    for (int i = 0; i < NX; ++i) {
        s->dx0[i] = s->p[X0OFF + i] - s->x0_pred[i];
        s->re[i] -= s->dx0[i];   /* re = z - s0, s0 moved by dx0; no other residual moves */
    }
    s->qp_iter = 0;
    s->fb_path = FB_PREPARED;
    /* the prepared solution meets the actual QP's termination test (dx0 = 0, or below
       rounding): it is the answer */
    if (s->as_rest <= s->qp_tol && amax(s->re, NS) <= s->qp_tol) return 0;
    memset(s->rs, 0, sizeof(double) * m);
    qp_direction(s);
    /* the full step; where it would leave the interior (a constraint becomes active or
       inactive: t or lam crosses zero), the pair restarts from AS_FLOOR, so that the IP
       iterations after it can move it (a fraction-to-boundary step would leave it stuck at the
       boundary with a product t lam far below the others) */
    for (int q = 0; q < (N + 1) * NZ; ++q) s->z[q] += s->dz[q];
    for (int q = 0; q < (N + 1) * NS; ++q) s->y[q] += s->dy[q];
    for (int i = 0; i < m; ++i) {
        double t = s->t[i] + s->dt[i], lam = s->lam[i] + s->dlam[i];
        if (!(t > 0.0 && lam > 0.0)) {
            t = t > AS_FLOOR ? t : AS_FLOOR;
            lam = lam > AS_FLOOR ? lam : AS_FLOOR;
        }
        s->t[i] = t;
        s->lam[i] = lam;
    }
    int rc = qp_solve_inner(s, AS_MAX_ITER, 0);
    s->fb_path = s->qp_iter ? FB_CONTINUED : FB_PREDICTOR;
    s->qp_iter += 1;
    if (rc == 0) qp_remember(s);
    return rc;
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

/* max norm of the gradient of the Lagrangian at s->w with the current multipliers */
static double stationarity(ws_t *s) {
    double m = 0.0;
    for (int k = 0; k <= N; ++k) {
        const double *nk = s->nu + k * NX;
        for (int i = 0; i < NX; ++i) {
            int j = k * NXU + i;
            double v = s->grad[j] + nk[i] - s->zl[j] + s->zu[j];
            if (k < N) {
                const double *A = s->A + k * NX * NX, *nn = s->nu + (k + 1) * NX;
                for (int q = 0; q < NX; ++q) v -= A[q + i * NX] * nn[q];
            } else {
                for (int r = 0; r < NGT; ++r) v -= (s->tl[r] - s->tu[r]) * s->De[r + i * NGT];
            }
            v = fabs(v);
            if (!(v <= m)) m = v;
        }
        if (k == N) break;
        const double *B = s->B + k * NX * NU, *nn = s->nu + (k + 1) * NX;
        for (int i = 0; i < NU; ++i) {
            int j = k * NXU + NX + i;
            double v = s->grad[j] - s->zl[j] + s->zu[j];
            for (int q = 0; q < NX; ++q) v -= B[q + i * NX] * nn[q];
            v = fabs(v);
            if (!(v <= m)) m = v;
        }
    }
    return m;
}

/* the QP's step (into dw) and multipliers in NLP terms (into the arrays passed) */
static void qp_extract(ws_t *s, double *nu, double *zl, double *zu, double *tl, double *tu) {
    for (int k = 0; k <= N; ++k) {
        for (int i = 0; i < NX; ++i) s->dw[k * NXU + i] = s->z[k * NZ + i];
        if (k < N)
            for (int i = 0; i < NU; ++i) s->dw[k * NXU + NX + i] = s->z[k * NZ + NS + i];
        for (int i = 0; i < NX; ++i) nu[k * NX + i] = s->y[k * NS + i];
    }
    memset(zl, 0, sizeof(double) * NW);
    memset(zu, 0, sizeof(double) * NW);
    for (int r = 0; r < NGT; ++r) tl[r] = tu[r] = 0.0;
    for (int i = 0; i < s->ni; ++i) {
        int k = s->istage[i], c = s->icomp[i];
        if (s->igen[i]) {
            if (s->isg[i] > 0) tl[c] = s->lam[i]; else tu[c] = s->lam[i];
            continue;
        }
        int j = k * NXU + (c < NS ? c : NX + c - NS);
        if (s->isg[i] > 0) zl[j] = s->lam[i]; else zu[j] = s->lam[i];
    }
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

static void shift_iterate(ws_t *s) {
    memmove(s->w, s->w + NXU, sizeof(double) * (NW - NXU));
    /* last input repeated, last state repeated */
    memcpy(s->w + NW - NXU, s->w + NW - NXU - NU, sizeof(double) * NU);
    memcpy(s->w + NW - NX, s->w + NW - NX - NXU, sizeof(double) * NX);
    memmove(s->nu + NX, s->nu + 2 * NX, sizeof(double) * (N - 1) * NX);
    memmove(s->zl, s->zl + NXU, sizeof(double) * (NW - NXU));
    memmove(s->zu, s->zu + NXU, sizeof(double) * (NW - NXU));
    s->prepared = 0;
    s->as_ready = 0;
    s->pw.ok = 0;
    s->pw_saved = 0;
}

/* ------------------------------------------------------------------ public API */

void *cmpc_create(void) {
    ws_t *s = (ws_t *)calloc(1, sizeof(ws_t));
    if (!s) return 0;
    /* touch the workspace and run the generated code once (at w = 0, p = 0, results dropped):
       the first real solve then does not pay for page faults */
    memset(s, 0, sizeof(ws_t));
    evaluate(s);
    build_qp(s);
    memset(s, 0, sizeof(ws_t));
    s->max_iter = 100;
    s->qp_max_iter = 50;
    s->tol_pr = s->tol_du = 1e-6;
    s->qp_tol = 1e-10;
    s->time_limit = 1.0;
    s->shift = 1;
    return s;
}

void cmpc_free(void *ws) { free(ws); }

int cmpc_dims(int *out) {
    out[0] = NX; out[1] = NU; out[2] = NV; out[3] = N; out[4] = NP; out[5] = NW; out[6] = NT;
    return 7;
}

/* settings: max_iter, tol_pr, tol_du, time_limit, rti, shift, qp_tol, qp_max_iter, reg */
void cmpc_settings(void *ws, const double *v) {
    ws_t *s = (ws_t *)ws;
    s->max_iter = (int)v[0];
    s->tol_pr = v[1];
    s->tol_du = v[2];
    s->time_limit = v[3];
    s->rti = (int)v[4];
    s->shift = (int)v[5];
    s->qp_tol = v[6];
    s->qp_max_iter = (int)v[7];
    s->reg = v[8];
    s->verbose = (int)v[9];
    s->exact = EXACT && (int)v[10];
    s->mu0 = v[11];
    s->t0 = v[12];
    s->warm = (int)v[13];
    s->wfloor = v[14];
    s->advanced = (int)v[15];
}

/* cold start from w0; multipliers zero */
void cmpc_set_guess(void *ws, const double *w0) {
    ws_t *s = (ws_t *)ws;
    memcpy(s->w, w0, sizeof(s->w));
    memset(s->nu, 0, sizeof(s->nu));
    memset(s->zl, 0, sizeof(s->zl));
    memset(s->zu, 0, sizeof(s->zu));
    memset(s->tl, 0, sizeof(s->tl));
    memset(s->tu, 0, sizeof(s->tu));
    s->prepared = 0;
    s->as_ready = 0;
    s->pw.ok = 0;
    s->pw_saved = 0;
}

/* evaluate the linearization at the current iterate for parameters p (x0 entries unused); in
   RTI mode, also solve its QP for the predicted initial state x0_pred = F(x_0, u_0) and the
   bounds of the last solve, and factorize the Newton system at that solution */
void cmpc_prepare(void *ws, const double *p) {
    ws_t *s = (ws_t *)ws;
    memcpy(s->p, p, sizeof(s->p));
    s->curv = s->exact && !s->rti;
    evaluate(s);
    build_qp(s);
    memcpy(s->p_prep, p, sizeof(s->p));
    s->prepared = 1;
    s->as_ready = 0;
    s->prep_qp_iter = 0;
    s->prep_rc = -1;
    if (!s->rti || !s->warm || !s->advanced || !s->bounds_ok) return;
    memcpy(s->x0_pred, s->xn, sizeof(s->x0_pred));
    memcpy(s->p + X0OFF, s->x0_pred, sizeof(s->x0_pred));
    build_s0(s);
    build_ineq(s, s->blbw, s->bubw, s->blbt, s->bubt);
    if (!s->pw_saved) s->pw_fb = s->pw;   /* for a feedback that cannot use this QP */
    s->pw_saved = 1;
    s->prep_rc = qp_solve(s);
    s->prep_qp_iter = s->qp_iter;
    if (s->prep_rc) return;
    /* the residuals of the solution, as the IP's termination test saw them */
    int m = s->ni;
    double mu = 0.0, r;
    for (int i = 0; i < m; ++i) mu += s->t[i] * s->lam[i];
    s->as_rest = m ? mu / m : 0.0;
    r = amax(s->rz, (N + 1) * NZ);
    if (!(r <= s->as_rest)) s->as_rest = r;
    r = amax(s->re + NS, N * NS);
    if (!(r <= s->as_rest)) s->as_rest = r;
    r = amax(s->rc, m);
    if (!(r <= s->as_rest)) s->as_rest = r;
    s->as_ready = !qp_factor(s);
}

/* statistics of the last prepare and feedback: QP iterations of the prepare (its QP for the
   predicted state), its result (0 solved, -1 no QP prepared, else the IP's failure code), the
   feedback's path (FB_*), max |x0 - x0_pred|; returns the count */
int cmpc_prep_stats(void *ws, double *out) {
    ws_t *s = (ws_t *)ws;
    out[0] = s->prep_qp_iter;
    out[1] = s->prep_rc;
    out[2] = s->fb_path;
    out[3] = s->fb_path == FB_SOLVE ? 0.0 : amax(s->dx0, NX);
    return 4;
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

/* out: w (NW), f, status, iterations, pr, du, qp iterations, seconds, term costs (NT); f and
   the term costs are left to cmpc_costs, off the solve's clock */
int cmpc_solve(void *ws, const double *p, const double *lbw, const double *ubw,
               const double *lbg, const double *ubg, double *out) {
    ws_t *s = (ws_t *)ws;
    double started = now();
    const double *lbt = lbg + (N + 1) * NX, *ubt = ubg + (N + 1) * NX;
    int fresh = prepared_for(s, p);
    int advance = fresh && s->as_ready && s->rti && same_bounds(s, lbw, ubw, lbt, ubt);
    memcpy(s->p, p, sizeof(s->p));
    s->as_ready = 0;
    s->fb_path = FB_SOLVE;
    if (!advance && s->pw_saved) {
        /* the prepared QP is of no use: warm start as without it */
        s->pw = s->pw_fb;
        s->pw_saved = 0;
    }
    if (!advance) {
        memcpy(s->blbw, lbw, sizeof(s->blbw));
        memcpy(s->bubw, ubw, sizeof(s->bubw));
        memcpy(s->blbt, lbt, sizeof(double) * NGT);
        memcpy(s->bubt, ubt, sizeof(double) * NGT);
        s->bounds_ok = 1;
    }
    int status = ST_MAX_ITER, iter = 0;
    double sigma = 0.0;   /* l1 merit penalty, raised to the multipliers' size as needed */
    double *nu = s->nuq, *zl = s->zlq, *zu = s->zuq, *tl = s->tlq, *tu = s->tuq;
    s->qp_iter_total = 0;
    s->pr = s->du = 0.0;
    for (;;) {
        if (!fresh) {
            s->curv = s->exact && !s->rti;
            evaluate(s);
            build_qp(s);
        }
        fresh = 0;
        s->prepared = 0;
        if (!s->rti) {
            double l1;
            violation(s, s->w, s->xn, s->e, lbw, ubw, lbt, ubt, &l1, &s->pr);
            s->du = stationarity(s);
            if (s->verbose)
                fprintf(stderr, "sqp %2d f %.10e pr %.2e du %.2e\n", iter, s->f, s->pr, s->du);
            if (!(s->pr == s->pr && s->du == s->du && s->f == s->f)) {
                status = ST_NAN;
                break;
            }
            if (s->pr <= s->tol_pr && s->du <= s->tol_du) {
                status = ST_OPTIMAL;
                break;
            }
            if (iter >= s->max_iter) {
                status = ST_MAX_ITER;
                break;
            }
            if (now() - started > s->time_limit) {
                status = ST_TIMEOUT;
                break;
            }
        }
        build_s0(s);
        int rc = 1;
        if (advance) {
            /* the inequalities are the prepared ones (same bounds, same linearization) */
            advance = 0;
            rc = qp_advance(s);
            if (rc) {
                /* the ordinary solve, warm started as without the prepared QP */
                s->fb_path = FB_FALLBACK;
                s->qp_iter_total += s->qp_iter;
                s->pw = s->pw_fb;
            }
            s->pw_saved = 0;
        }
        if (rc) {
            build_ineq(s, lbw, ubw, lbt, ubt);
            s->strict = s->curv;
            rc = qp_solve(s);
            s->strict = 0;
        }
        if (rc == 1 && s->curv) {
            /* the exact Hessian is not convex on the constraints' null space here: this
               iteration takes the Gauss-Newton Hessian */
            s->qp_iter_total += s->qp_iter;
            s->curv = 0;
            build_qp(s);
            rc = qp_solve(s);
        }
        s->qp_iter_total += s->qp_iter;
        if (rc) {
            status = rc == 2 ? ST_NAN : ST_QP_FAIL;
            break;
        }
        qp_extract(s, nu, zl, zu, tl, tu);
        ++iter;
        if (s->rti) {
            for (int j = 0; j < NW; ++j) s->w[j] += s->dw[j];
            memcpy(s->nu, nu, sizeof(s->nu));
            memcpy(s->zl, zl, sizeof(s->zl));
            memcpy(s->zu, zu, sizeof(s->zu));
            memcpy(s->tl, tl, sizeof(s->tl));
            memcpy(s->tu, tu, sizeof(s->tu));
            status = ST_RTI;
            break;
        }
        /* l1 merit line search */
        double mmax = amax(nu, (N + 1) * NX);
        double tm = amax(tl, NGT), um = amax(tu, NGT);
        if (tm > mmax) mmax = tm;
        if (um > mmax) mmax = um;
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
            }
        }
        for (int j = 0; j < NW; ++j) s->w[j] += alpha * s->dw[j];
        for (int j = 0; j < (N + 1) * NX; ++j) s->nu[j] += alpha * (nu[j] - s->nu[j]);
        for (int j = 0; j < NW; ++j) {
            s->zl[j] += alpha * (zl[j] - s->zl[j]);
            s->zu[j] += alpha * (zu[j] - s->zu[j]);
        }
        for (int r = 0; r < NGT; ++r) {
            s->tl[r] += alpha * (tl[r] - s->tl[r]);
            s->tu[r] += alpha * (tu[r] - s->tu[r]);
        }
    }
    for (int j = 0; j < NW; ++j)
        if (!(fabs(s->w[j]) <= 1e300)) status = ST_NAN;   /* NaN or inf: not usable */
    memcpy(out, s->w, sizeof(s->w));
    double *o = out + NW;
    o[1] = status;
    o[2] = iter;
    o[3] = s->pr;
    o[4] = s->du;
    o[5] = s->qp_iter_total;
    o[6] = now() - started;
    if (status == ST_NAN) {
        s->prepared = 0;
    } else if (s->shift) {
        shift_iterate(s);
    }
    return status;
}

/* the objective and the cost per term at the solution in out (cmpc_solve's), for parameters p:
   into out's f and term-cost slots */
void cmpc_costs(void *ws, const double *p, double *out) {
    ws_t *s = (ws_t *)ws;
    s->arg[0] = out;
    s->arg[1] = p;
    s->res[0] = out + NW;
    s->res[1] = out + NW + 7;
    cmpc_terms(s->arg, s->res, s->iw, s->cw, 0);
}
