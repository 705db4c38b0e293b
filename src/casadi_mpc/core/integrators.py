"""Explicit Runge-Kutta discretization shared by the transcription and the plant."""
import casadi as ca


def rk4_step(model, dt, substeps=1):
    """Return F(x, u, p) -> x after ``dt`` seconds, with ``substeps`` RK4 steps."""
    x = ca.SX.sym('x', model.nx)
    u = ca.SX.sym('u', model.nu)
    p = ca.SX.sym('p', model.n_params)
    h = dt / substeps
    xk = x
    for _ in range(substeps):
        k1 = model.rhs(xk, u, p)
        k2 = model.rhs(xk + h / 2 * k1, u, p)
        k3 = model.rhs(xk + h / 2 * k2, u, p)
        k4 = model.rhs(xk + h * k3, u, p)
        xk = xk + h / 6 * (k1 + 2 * k2 + 2 * k3 + k4)
    return ca.Function('F', [x, u, p], [xk], ['x', 'u', 'p'], ['xf'])
