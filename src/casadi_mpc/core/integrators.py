"""Explicit Runge-Kutta discretization shared by the transcription and the plant."""
import casadi as ca

# Above this many operations in four right-hand-side Jacobians, the step's Jacobian is chained
# from calls to one compiled right-hand-side Jacobian instead of being expanded into one graph:
# the expanded graph of a 7-DOF arm is 240k operations and takes minutes to compile.
EXPAND_LIMIT = 20000


def rk4(model, x, u, p, dt, substeps=1):
    """The state ``dt`` seconds after ``x`` under ``u``, with ``substeps`` RK4 steps, as an
    expression (``dt`` may be a number or a symbol)."""
    h = dt / substeps
    xk = x
    for _ in range(substeps):
        k1 = model.rhs(xk, u, p)
        k2 = model.rhs(xk + h / 2 * k1, u, p)
        k3 = model.rhs(xk + h / 2 * k2, u, p)
        k4 = model.rhs(xk + h * k3, u, p)
        xk = xk + h / 6 * (k1 + 2 * k2 + 2 * k3 + k4)
    return xk


def rk4_step(model, dt, substeps=1):
    """Return F(x, u, p) -> x after ``dt`` seconds, with ``substeps`` RK4 steps."""
    x = ca.SX.sym('x', model.nx)
    u = ca.SX.sym('u', model.nu)
    p = ca.SX.sym('p', model.n_params)
    return ca.Function('F', [x, u, p], [rk4(model, x, u, p, dt, substeps)], ['x', 'u', 'p'],
                       ['xf'])


def rhs_jacobian(model, name='rhs_jac'):
    """(x, u, p) -> (xdot, d xdot / d(x, u)), dense."""
    x = ca.SX.sym('x', model.nx)
    u = ca.SX.sym('u', model.nu)
    p = ca.SX.sym('p', model.n_params)
    xdot = model.rhs(x, u, p)
    return ca.Function(name, [x, u, p], [xdot, ca.densify(ca.jacobian(xdot, ca.vertcat(x, u)))],
                       {'cse': True})


def rk4_step_jacobian(model, dt, substeps=1, name='F_jac'):
    """Return (x, u, p) -> (x+, dx+/dx, dx+/du), dense, for the same step as :func:`rk4_step`.

    Small models get one SX graph (common subexpressions shared); large ones an MX graph that
    calls the right-hand side's Jacobian four times per substep and chains the sensitivities.
    """
    nx, nu = model.nx, model.nu
    x = ca.SX.sym('x', nx)
    u = ca.SX.sym('u', nu)
    p = ca.SX.sym('p', model.n_params)
    z = ca.vertcat(x, u)
    rhs_jac = rhs_jacobian(model, name + '_rhs')
    if 4 * rhs_jac.n_instructions() <= EXPAND_LIMIT:
        xf = rk4_step(model, dt, substeps)(x, u, p)
        jac = ca.densify(ca.jacobian(xf, z))
        return ca.Function(name, [x, u, p], [xf, jac[:, :nx], jac[:, nx:]],
                           ['x', 'u', 'p'], ['xf', 'A', 'B'], {'cse': True})
    xm, um, pm = ca.MX.sym('x', nx), ca.MX.sym('u', nu), ca.MX.sym('p', model.n_params)
    h = dt / substeps
    lift = ca.DM.eye(nx + nu)[:nx, :]        # d x / d (x, u)
    dudz = ca.DM.eye(nx + nu)[nx:, :]        # d u / d (x, u)
    xk, sk = xm, ca.MX(lift)
    for _ in range(substeps):
        slopes, sens = [], []
        for c, prev in ((0.0, None), (h / 2, 0), (h / 2, 1), (h, 2)):
            xs = xk if prev is None else xk + c * slopes[prev]
            ss = sk if prev is None else sk + c * sens[prev]
            f, jf = rhs_jac(xs, um, pm)
            slopes.append(f)
            sens.append(ca.mtimes(jf[:, :nx], ss) + ca.mtimes(jf[:, nx:], ca.MX(dudz)))
        xk = xk + h / 6 * (slopes[0] + 2 * slopes[1] + 2 * slopes[2] + slopes[3])
        sk = sk + h / 6 * (sens[0] + 2 * sens[1] + 2 * sens[2] + sens[3])
    return ca.Function(name, [xm, um, pm], [xk, sk[:, :nx], sk[:, nx:]],
                       ['x', 'u', 'p'], ['xf', 'A', 'B'])
