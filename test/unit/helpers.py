"""Numeric helpers for the core tests."""
import casadi as ca
import numpy as np


def central_jacobian(fn, z, h=1e-6):
    """Central finite-difference Jacobian of a numpy function at z."""
    z = np.asarray(z, dtype=float)
    f0 = np.atleast_1d(fn(z))
    jac = np.zeros((f0.size, z.size))
    for i in range(z.size):
        dz = np.zeros_like(z)
        dz[i] = h
        jac[:, i] = (np.atleast_1d(fn(z + dz)) - np.atleast_1d(fn(z - dz))) / (2 * h)
    return jac


def check_jacobian(expr, syms, values, rtol=1e-5, atol=1e-6):
    """CasADi's Jacobian of expr w.r.t. the stacked syms equals central differences."""
    z = ca.vertcat(*syms)
    sizes = [s.shape[0] for s in syms]
    f = ca.Function('f', syms, [expr])
    jac = ca.Function('j', syms, [ca.jacobian(expr, z)])

    def split(v):
        return np.split(v, np.cumsum(sizes)[:-1])
    z0 = np.concatenate([np.atleast_1d(np.asarray(v, float)) for v in values])
    exact = np.asarray(jac(*split(z0)), float)
    approx = central_jacobian(lambda v: np.asarray(f(*split(v)), float).ravel(), z0)
    np.testing.assert_allclose(exact, approx, rtol=rtol, atol=atol)
    return exact
