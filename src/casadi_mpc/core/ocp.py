"""Transcription: multiple shooting with RK4 into one parametric NLP.

Decision vector w = [x_0, u_0, x_1, u_1, ..., x_{N-1}, u_{N-1}, x_N] (stage-wise, as structure
exploiting solvers want). Constraints, stage by stage: the gap x_{k+1} - F(x_k, u_k) = 0, after the
first gap the initial condition x_0 - x0 = 0 (the order fatrop's structure detection reads as stage
0's path constraint); last, the optional terminal constraint x_N - goal (its bounds switch it
on or off, so toggling it never rebuilds). Everything that may change at run time (initial state,
last command, goal, reference, model parameters, cost weights, obstacles) is in the parameter
vector p; bounds are solve-time arguments.
"""
from dataclasses import dataclass

import casadi as ca
import numpy as np

from .integrators import rk4_step
from .costs.base import Stage


@dataclass(frozen=True)
class Block:
    """A named slice of the parameter vector."""

    name: str
    start: int
    size: int

    @property
    def slice(self):
        return slice(self.start, self.start + self.size)


class OCP:
    """The parametric optimal control problem for one model, horizon and set of cost terms."""

    def __init__(self, model, horizon, dt, terms, substeps=1, obstacle_slots=0):
        for term in terms:
            term.check(model)
        self.model, self.N, self.dt = model, int(horizon), float(dt)
        self.terms = list(terms)
        self.term_names = [t.name for t in self.terms]
        self.substeps = int(substeps)
        self.uses_reference = any(t.uses_reference for t in self.terms)
        self.obstacle_slots = int(obstacle_slots) if any(t.uses_obstacles for t in terms) else 0
        self.step = rk4_step(model, self.dt, self.substeps)
        self._layout_params()
        self._transcribe()

    # ---------------------------------------------------------------- parameter layout
    def _layout_params(self):
        m, N = self.model, self.N
        sizes = [('x0', m.nx), ('u_prev', m.nu), ('goal', m.nx)]
        if self.uses_reference:
            sizes.append(('ref', (N + 1) * m.nx))
        sizes.append(('model', m.n_params))
        for t in self.terms:
            sizes.append(('w_' + t.name, len(t.weight_labels(m))))
        if self.obstacle_slots:
            sizes.append(('obstacles', 3 * self.obstacle_slots))
        self.blocks, start = {}, 0
        for name, size in sizes:
            self.blocks[name] = Block(name, start, size)
            start += size
        self.n_p = start

    def _transcribe(self):
        m, N = self.model, self.N
        P = ca.SX.sym('p', self.n_p)
        par = {name: P[b.slice] for name, b in self.blocks.items()}
        X = [ca.SX.sym('x%d' % k, m.nx) for k in range(N + 1)]
        U = [ca.SX.sym('u%d' % k, m.nu) for k in range(N)]
        ref = (ca.reshape(par['ref'], m.nx, N + 1) if self.uses_reference
               else ca.repmat(par['goal'], 1, N + 1))
        obstacles = (ca.reshape(par['obstacles'], 3, self.obstacle_slots)
                     if self.obstacle_slots else None)
        term_cost = [0] * len(self.terms)
        curvature = []   # Gauss-Newton pieces: exact expressions or (phi, r) pairs
        w, g = [], []
        for k in range(N + 1):
            last = k == N
            stage_args = dict(model=m, k=k, horizon=N, x=X[k], u=None if last else U[k],
                              u_prev=par['u_prev'] if k == 0 else U[k - 1],
                              x_next=None if last else X[k + 1], goal=par['goal'],
                              ref=ref[:, k], p=par['model'], obstacles=obstacles)
            for i, term in enumerate(self.terms):
                s = Stage(weight=par['w_' + term.name], **stage_args)
                value = term.terminal(s) if last else term.stage(s)
                term_cost[i] = term_cost[i] + value
                parts = term.convex_parts(s, terminal=last)
                curvature.extend(parts if parts is not None else [value])
            w.append(X[k])
            if not last:
                w.append(U[k])
                g.append(X[k + 1] - self.step(X[k], U[k], par['model']))
                if k == 0:
                    g.append(X[0] - par['x0'])
        g.append(m.state_error(X[N], par['goal']))
        self.w, self.g, self.p = ca.vertcat(*w), ca.vertcat(*g), P
        self.f = sum(term_cost[1:], term_cost[0]) if term_cost else ca.SX(0)
        self.nw, self.ng = self.w.shape[0], self.g.shape[0]
        self._curvature = curvature
        self.term_costs = ca.Function('term_costs', [self.w, P], [ca.vertcat(*term_cost)])
        stride = m.nx + m.nu
        self.x_index = np.array([[k * stride + i for i in range(m.nx)] for k in range(N + 1)])
        self.u_index = np.array([[k * stride + m.nx + i for i in range(m.nu)] for k in range(N)])
        nx = m.nx
        gaps = [list(range(nx))] + [list(range((k + 1) * nx, (k + 2) * nx)) for k in range(1, N)]
        self.gap_index = np.array(gaps)
        # per-constraint flags for structure-exploiting solvers: all are equalities except
        # the terminal block, whose bounds decide
        self.equality = [True] * (self.ng - m.nx) + [False] * m.nx

    def gauss_newton_hessian(self):
        """Generalized Gauss-Newton Hessian of the objective: exact for quadratic terms,
        J_r' phi''(r) J_r for terms given as convex functions of residuals, no constraint
        curvature. Positive semidefinite whenever each term's parts are convex."""
        hess = ca.SX(self.nw, self.nw)
        for part in self._curvature:
            if isinstance(part, tuple):
                phi, r = part
                rs = ca.SX.sym('r', r.shape[0])
                d2 = ca.diag(ca.vertcat(*[ca.hessian(phi(rs[i]), rs[i])[0]
                                          for i in range(r.shape[0])]))
                d2 = ca.substitute(d2, rs, r)
                jac = ca.jacobian(r, self.w)
                hess = hess + jac.T @ d2 @ jac
            else:
                hess = hess + ca.hessian(part, self.w)[0]
        return hess

    @property
    def nlp(self):
        return {'x': self.w, 'p': self.p, 'f': self.f, 'g': self.g}

    # ---------------------------------------------------------------- numeric helpers
    def pack(self, x0, u_prev, goal, model_p, weights, ref=None, obstacles=None):
        """Assemble the parameter vector. ``weights`` maps term name -> weight vector."""
        p = np.zeros(self.n_p)
        p[self.blocks['x0'].slice] = x0
        p[self.blocks['u_prev'].slice] = u_prev
        p[self.blocks['goal'].slice] = goal
        p[self.blocks['model'].slice] = model_p
        if self.uses_reference:
            r = np.tile(goal, (self.N + 1, 1)) if ref is None else np.asarray(ref, float)
            p[self.blocks['ref'].slice] = r.reshape(-1)
        for name in self.term_names:
            p[self.blocks['w_' + name].slice] = weights[name]
        if self.obstacle_slots:
            p[self.blocks['obstacles'].slice] = self.obstacle_block(obstacles)
        return p

    def obstacle_block(self, obstacles):
        """(x, y, radius+margin) rows -> the flat slot block; empty slots get radius -1."""
        block = np.tile([0.0, 0.0, -1.0], (self.obstacle_slots, 1))
        if obstacles is not None and len(obstacles):
            obstacles = np.asarray(obstacles, float).reshape(-1, 3)
            block[:len(obstacles)] = obstacles
        return block.reshape(-1)

    def bounds(self, x_lb, x_ub, u_lb, u_ub, terminal_constraint=False, terminal_tol=0.0):
        lbw, ubw = np.empty(self.nw), np.empty(self.nw)
        lbw[self.x_index], ubw[self.x_index] = x_lb, x_ub
        lbw[self.u_index], ubw[self.u_index] = u_lb, u_ub
        # the initial state is fixed by its constraint; bounds on it could make x_0 infeasible
        lbw[self.x_index[0]], ubw[self.x_index[0]] = -np.inf, np.inf
        lbg, ubg = np.zeros(self.ng), np.zeros(self.ng)
        nx = self.model.nx
        if terminal_constraint:
            lbg[-nx:], ubg[-nx:] = -terminal_tol, terminal_tol
        else:
            lbg[-nx:], ubg[-nx:] = -np.inf, np.inf
        return lbw, ubw, lbg, ubg

    def guess(self, x0, u=None):
        """A cold-start guess: the state held, the input ``u`` (zero by default)."""
        w = np.zeros(self.nw)
        w[self.x_index] = x0
        if u is not None:
            w[self.u_index] = u
        return w

    def shift(self, w):
        """Shift a solution one stage forward, repeating the last input and state."""
        stride = self.model.nx + self.model.nu
        out = np.empty_like(w)
        out[:-stride] = w[stride:]
        out[-stride:-self.model.nx] = w[self.u_index[-1]]
        out[-self.model.nx:] = w[self.x_index[-1]]
        return out

    def shift_duals(self, lam_g):
        """Shift constraint multipliers one stage forward (same layout logic as shift)."""
        out = lam_g.copy()
        out[self.gap_index[:-1]] = lam_g[self.gap_index[1:]]
        return out

    def unpack(self, w):
        w = np.asarray(w, float).ravel()
        return w[self.x_index], w[self.u_index]
