/*
 * Stage-structured QPs of the SQP kernel, solved by HPIPM's OCP-QP interior point method.
 *
 * The QP, for stages k = 0..N over z_k = (x_k, v_k, u_k) (no u at stage N):
 *
 *   min  sum_k 1/2 z_k' H_k z_k + g_k' z_k + sum over soft rows (zl sl + 1/2 Zl sl^2 + zu su
 *        + 1/2 Zu su^2)
 *   s.t. (x_0, v_0) = s0                                  (fixed: the initial value)
 *        x_{k+1} = A_k x_k + B_k u_k + b_k,  v_{k+1} = u_k (v: the last input, nv = nu, when the
 *                                                          cost couples neighbouring inputs;
 *                                                          else nv = 0)
 *        lbx_k <= x_k <= ubx_k (k >= 1), lbu_k <= u_k <= ubu_k (k < N)
 *        lg_k - sl <= C_k x_k + D_k u_k <= ug_k + su,  sl, su >= 0 on the first nsoft[k] rows,
 *        sl = su = 0 on the others
 *
 * Infinite bounds are no constraints (masked in HPIPM). The initial value is eliminated: HPIPM
 * sees no state at stage 0, and s0 enters the stage-0 data. Multipliers are returned in the sign
 * convention of CasADi's nlpsol: y_0 of the initial value (x_0, v_0) - s0 = 0, y_{k+1} of
 * (x_{k+1}, v_{k+1}) - dynamics = 0, and the bound multipliers as lam_lower, lam_upper >= 0.
 */
#ifndef CMPC_STAGE_QP_H
#define CMPC_STAGE_QP_H

#include <stddef.h>

/* solve results */
enum { QP_OK = 0, QP_NONCONVEX = 1, QP_NAN = 2, QP_FAIL = 3 };
/* how an advanced (predicted) solve got its solution */
enum { QP_PATH_PREPARED = 1, QP_PATH_PREDICTOR = 2, QP_PATH_CONTINUED = 3 };

typedef struct {
    double tol;        /* stationarity, equality, inequality and complementarity residuals */
    int max_iter;      /* interior-point iterations per attempt */
    int warm;          /* hot start from the kept multipliers (cmpc_qp_keep) when there are any */
    int strict;        /* report a reduced Hessian that is not positive definite as QP_NONCONVEX
                          rather than regularizing it */
    double wfloor;     /* floor of slacks and multipliers at a hot start */
    double mu0;        /* initial barrier parameter of a cold start */
} cmpc_qp_opts_t;

typedef struct cmpc_qp_mem cmpc_qp_mem_t;

typedef struct {
    int N, nx, nv, nu, ns, nz;     /* ns = nx + nv (state of the QP), nz = ns + nu */
    int *ng, *nsoft;               /* per stage: general rows, the first nsoft of them soft */
    /* data (per stage k, column-major) */
    double **H;                    /* nz x nz over (x, v, u) */
    double **g;                    /* nz */
    double **A, **B, **b;          /* nx x nx, nx x nu, nx (k < N) */
    double *s0;                    /* ns */
    double **lbx, **ubx;           /* nx (k >= 1) */
    double **lbu, **ubu;           /* nu (k < N) */
    double **C, **D, **lg, **ug;   /* ng x nx, ng x nu (k < N), ng, ng */
    double **zl, **zu, **Zl, **Zu; /* nsoft */
    /* solution */
    double **z;                    /* nz: the step (x_0, v_0 = s0) */
    double **y;                    /* ns */
    double **lam_lx, **lam_ux, **lam_lu, **lam_uu, **lam_lg, **lam_ug;
    double **sl, **su;             /* nsoft */
    /* statistics of the last call */
    int iter, cold_retries, regularized, robust, path;
    double reg, res;               /* regularization used; largest residual of stationarity,
                                      equalities and inequalities at the solution */
    cmpc_qp_mem_t *mem;
} cmpc_qp_t;

cmpc_qp_t *cmpc_qp_create(int N, int nx, int nv, int nu, const int *ng, const int *nsoft);
/* sizeof(cmpc_qp_t) + sizeof(cmpc_qp_opts_t), for bindings to check their layout */
size_t cmpc_qp_struct_size(void);
void cmpc_qp_free(cmpc_qp_t *qp);
/* hand all data to HPIPM (after any change of matrices, gradients, bounds or s0) */
void cmpc_qp_pack(cmpc_qp_t *qp);
/* hand over a new s0 alone (the rest unchanged since cmpc_qp_pack) */
void cmpc_qp_pack_s0(cmpc_qp_t *qp);
/* solve the packed QP: a hot start when allowed, a cold one after a failed hot start, HPIPM's
   robust mode after a failed cold one, a regularized Hessian when the reduced Hessian is
   singular or indefinite (unless strict: then QP_NONCONVEX, also when it does not converge) */
int cmpc_qp_solve(cmpc_qp_t *qp, const cmpc_qp_opts_t *opts);
/* correct the last solution for a new s0 (packed since): nothing when it still meets the
   tolerance, else the tangential predictor from the factorization at that solution, then at
   most max_iter interior-point iterations; QP_OK with qp->path set, else QP_FAIL */
int cmpc_qp_advance(cmpc_qp_t *qp, const cmpc_qp_opts_t *opts, int max_iter);
/* the largest absolute value of a[0..n), NaN when there is one */
double cmpc_amax(const double *a, int n);
/* keep the multipliers of the current solution for the next hot start; forget them */
void cmpc_qp_keep(cmpc_qp_t *qp);
void cmpc_qp_forget(cmpc_qp_t *qp);

#endif
