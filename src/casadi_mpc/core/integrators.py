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


def rk4_step_second_order(model, dt, substeps=1, name='F_2nd', chain=None):
    """Return (x, u, p, lam) -> (dx+/dx, dx+/du, d2(lam' x+)/d(x, u)2), dense, for the step of
    :func:`rk4_step`: the step's Jacobians and the second-order term of the dynamics in the
    Hessian of a Lagrangian.

    Small models get one SX graph. Large ones (or ``chain`` True) sum, over the right-hand-side
    calls of the step, T' d2(omega' f)/dy2 T, with T the tangent of the call's input y = (x, u)
    and omega the adjoint of its output (the linear combinations of RK4 add no curvature): the
    right-hand side's Hessian is built once and the step's graph is never expanded.
    """
    nx, nu = model.nx, model.nu
    rhs_jac = rhs_jacobian(model, name + '_rhs')
    if chain is None:
        chain = 4 * rhs_jac.n_instructions() > EXPAND_LIMIT
    names = (['x', 'u', 'p', 'lam'], ['A', 'B', 'hess'])
    if not chain:
        x, u = ca.SX.sym('x', nx), ca.SX.sym('u', nu)
        p, lam = ca.SX.sym('p', model.n_params), ca.SX.sym('lam', nx)
        z = ca.vertcat(x, u)
        xf = rk4_step(model, dt, substeps)(x, u, p)
        jac = ca.densify(ca.jacobian(xf, z))
        hess = ca.densify(ca.hessian(ca.dot(lam, xf), z)[0])
        return ca.Function(name, [x, u, p, lam], [jac[:, :nx], jac[:, nx:], hess], *names,
                           {'cse': True})
    xs, us = ca.SX.sym('x', nx), ca.SX.sym('u', nu)
    ps, omega = ca.SX.sym('p', model.n_params), ca.SX.sym('omega', nx)
    rhs_hess = ca.Function(name + '_rhs_hess', [xs, us, ps, omega], [ca.densify(
        ca.hessian(ca.dot(omega, model.rhs(xs, us, ps)), ca.vertcat(xs, us))[0])],
        {'cse': True})
    xm, um, pm = ca.MX.sym('x', nx), ca.MX.sym('u', nu), ca.MX.sym('p', model.n_params)
    lam = ca.MX.sym('lam', nx)
    h = dt / substeps
    coeff = (0.0, h / 2, h / 2, h)     # stage input: x + coeff * previous slope
    weight = (h / 6, h / 3, h / 3, h / 6)
    dudz = ca.MX(ca.DM.eye(nx + nu)[nx:, :])
    # forward sweep: each call's input, its tangent and the right-hand side's Jacobian
    calls, xk, sk = [], xm, ca.MX(ca.DM.eye(nx + nu)[:nx, :])
    for _ in range(substeps):
        slopes, tangents, stages = [], [], []
        for j in range(4):
            xi = xk if j == 0 else xk + coeff[j] * slopes[-1]
            si = sk if j == 0 else sk + coeff[j] * tangents[-1]
            f, jf = rhs_jac(xi, um, pm)
            slopes.append(f)
            tangents.append(ca.mtimes(jf[:, :nx], si) + ca.mtimes(jf[:, nx:], dudz))
            stages.append((xi, ca.vertcat(si, dudz), jf[:, :nx]))
        calls.append(stages)
        xk = xk + sum(wt * s for wt, s in zip(weight, slopes))
        sk = sk + sum(wt * t for wt, t in zip(weight, tangents))
    # reverse sweep: the adjoint of each call's output, and the curvature it weights
    hess, adj = 0, lam
    for stages in reversed(calls):
        through, back = 0, adj    # through: adjoint of the next call's input (state part)
        for j in reversed(range(4)):
            xi, ti, ax = stages[j]
            out = weight[j] * adj + (coeff[j + 1] * through if j < 3 else 0)
            hess = hess + ca.mtimes([ti.T, rhs_hess(xi, um, pm, out), ti])
            through = ca.mtimes(ax.T, out)
            back = back + through
        adj = back
    return ca.Function(name, [xm, um, pm, lam], [sk[:, :nx], sk[:, nx:], hess], *names)
