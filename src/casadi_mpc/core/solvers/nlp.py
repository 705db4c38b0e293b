"""Backends built on CasADi's nlpsol: ipopt, fatrop, sqp (Gauss-Newton SQP) and sqp_rti.

The Gauss-Newton Hessian (OCP.gauss_newton_hessian) drops constraint curvature and the
non-convex inner curvature of terms written as convex functions of residuals, so the QPs stay
convex without regularization.
"""
import casadi as ca

BACKENDS = ('ipopt', 'fatrop', 'sqp', 'sqp_rti')


def gauss_newton_hessian(ocp):
    lam_f = ca.SX.sym('lam_f')
    lam_g = ca.SX.sym('lam_g', ocp.ng)
    hess = lam_f * ocp.gauss_newton_hessian()
    return ca.Function('nlp_hess_l', [ocp.w, ocp.p, lam_f, lam_g], [hess],
                       ['x', 'p', 'lam_f', 'lam_g'], ['hess_gamma_x_x'])


def solver_options(ocp, name, max_iter, tol, time_limit):
    quiet = {'print_time': False, 'error_on_fail': False}
    if name == 'ipopt':
        return dict(quiet, **{
            'ipopt.print_level': 0, 'ipopt.sb': 'yes', 'ipopt.max_iter': max_iter,
            'ipopt.tol': tol, 'ipopt.max_wall_time': time_limit,
            'ipopt.warm_start_init_point': 'yes', 'ipopt.mu_init': 1e-3,
            'ipopt.warm_start_bound_push': 1e-6, 'ipopt.warm_start_mult_bound_push': 1e-6})
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
        return options
    raise ValueError('unknown solver %r; choose one of %s' % (name, ', '.join(BACKENDS)))


def plugin(name):
    return 'sqpmethod' if name in ('sqp', 'sqp_rti') else name


def build_nlpsol(ocp, name, max_iter=100, tol=1e-6, time_limit=1.0):
    return ca.nlpsol('mpc_' + name, plugin(name), ocp.nlp,
                     solver_options(ocp, name, max_iter, tol, time_limit))
