"""Backends built on CasADi's nlpsol: ipopt, fatrop, sqp (Gauss-Newton SQP) and sqp_rti.

The Gauss-Newton Hessian (OCP.gauss_newton_hessian) drops constraint curvature and the
non-convex inner curvature of terms written as convex functions of residuals, so the QPs stay
convex without regularization.
"""
import time

import casadi as ca

BACKENDS = ('ipopt', 'fatrop', 'sqp', 'sqp_rti')


def gauss_newton_hessian(ocp):
    lam_f = ca.SX.sym('lam_f')
    lam_g = ca.SX.sym('lam_g', ocp.ng)
    hess = lam_f * ocp.gauss_newton_hessian()
    return ca.Function('nlp_hess_l', [ocp.w, ocp.p, lam_f, lam_g], [hess],
                       ['x', 'p', 'lam_f', 'lam_g'], ['hess_gamma_x_x'])


class Deadline(ca.Callback):
    """An nlpsol iteration callback that stops the solver once ``limit`` seconds of wall time
    have passed since ``start()``: sqpmethod has no time limit of its own, and a solve must
    never hold the control loop past its deadline."""

    def __init__(self, ocp, limit):
        ca.Callback.__init__(self)
        self.nw, self.ng, self.n_p = ocp.nw, ocp.ng, ocp.n_p
        self.limit, self.started, self.expired = float(limit), None, False
        self.construct('deadline', {})

    def start(self):
        self.started, self.expired = time.perf_counter(), False

    def get_n_in(self):
        return ca.nlpsol_n_out()

    def get_n_out(self):
        return 1

    def get_name_in(self, i):
        return ca.nlpsol_out(i)

    def get_name_out(self, i):
        return 'ret'

    def get_sparsity_in(self, i):
        sizes = {'x': self.nw, 'f': 1, 'g': self.ng, 'lam_x': self.nw, 'lam_g': self.ng,
                 'lam_p': self.n_p}
        return ca.Sparsity.dense(sizes[ca.nlpsol_out(i)], 1)

    def eval(self, arg):
        if self.started is not None and time.perf_counter() - self.started > self.limit:
            self.expired = True
            return [1]   # non-zero: stop iterating
        return [0]


def solver_options(ocp, name, max_iter, tol, time_limit, deadline=None):
    # a solve that meets NaN or Inf fails with its status; CasADi's own warning per evaluation
    # would flood the node's output
    quiet = {'print_time': False, 'error_on_fail': False, 'show_eval_warnings': False}
    if name == 'ipopt':
        return with_deadline(dict(quiet, **{
            'ipopt.print_level': 0, 'ipopt.sb': 'yes', 'ipopt.max_iter': max_iter,
            'ipopt.tol': tol, 'ipopt.max_wall_time': time_limit,
            'ipopt.warm_start_init_point': 'yes', 'ipopt.mu_init': 1e-3,
            'ipopt.warm_start_bound_push': 1e-6, 'ipopt.warm_start_mult_bound_push': 1e-6}),
            deadline)
    if name == 'fatrop':
        return dict(quiet, **{
            'structure_detection': 'auto', 'equality': ocp.equality,
            'fatrop.print_level': 0, 'fatrop.max_iter': max_iter, 'fatrop.tol': tol,
            'fatrop.mu_init': 1e-3})
    if name in ('sqp', 'sqp_rti'):
        options = dict(quiet, **{
            'qpsol': 'qrqp',
            'qpsol_options': {'print_iter': False, 'print_header': False,
                              'print_info': False, 'error_on_fail': False},
            'print_header': False, 'print_iteration': False, 'print_status': False,
            'max_iter': 1 if name == 'sqp_rti' else max_iter,
            'tol_pr': tol, 'tol_du': tol, 'hess_lag': gauss_newton_hessian(ocp),
            'min_step_size': 1e-12, 'max_iter_ls': 0 if name == 'sqp_rti' else 10})
        return with_deadline(options, deadline if name == 'sqp' else None)
    raise ValueError('unknown solver %r; choose one of %s' % (name, ', '.join(BACKENDS)))


def with_deadline(options, deadline):
    if deadline is not None:
        options['iteration_callback'] = deadline
    return options


def plugin(name):
    return 'sqpmethod' if name in ('sqp', 'sqp_rti') else name


def build_nlpsol(ocp, name, max_iter=100, tol=1e-6, time_limit=1.0, deadline=None):
    return ca.nlpsol('mpc_' + name, plugin(name), ocp.nlp,
                     solver_options(ocp, name, max_iter, tol, time_limit, deadline))
