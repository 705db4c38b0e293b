"""The simulated robot: integrates the same model the controller uses (one truth)."""
import numpy as np

from . import sim_config
from .integrators import rk4_step, rk4_step_jacobian


def make_plant(cfg, model):
    """The simulator's plant for a SimConfig ``cfg``: the controller's model integrated by RK4
    (engine: model) or the physics engine (engine: mujoco, imported only then)."""
    x0, noise = sim_config.initial_state(cfg, model), sim_config.noise(cfg, model)
    if cfg.engine == 'mujoco':
        from .mujoco_plant import MujocoPlant
        return MujocoPlant(model, x0, cfg.model.params, cfg.mujoco, noise, cfg.seed)
    return Plant(model, x0, cfg.model.params, max_step=cfg.max_step, noise_std=noise,
                 seed=cfg.seed)


class Plant:
    """RK4 integration of ``model`` with its own (possibly mismatched) parameters.

    ``step(u, dt)`` advances the state by ``dt`` seconds in sub-steps no longer than
    ``max_step``, clips the input to the model's bounds and adds optional process noise
    (standard deviation per state, scaled with sqrt(dt)). ``step(u, dt, jacobian=True)`` also
    returns the step's Jacobians with respect to the state and the input (zero columns for
    clipped inputs; the noise is additive and does not enter them).
    """

    def __init__(self, model, x0, params=None, max_step=0.01, noise_std=0.0, seed=0):
        self.model = model
        self.x = np.asarray(x0, dtype=float).ravel().copy()
        if self.x.shape != (model.nx,):
            raise ValueError('initial state needs %d values (%s)'
                             % (model.nx, ', '.join(model.state_names)))
        self.p = model.param_vector(params)
        self.max_step = float(max_step)
        self.noise = np.broadcast_to(np.asarray(noise_std, float), (model.nx,)).copy()
        self.rng = np.random.default_rng(seed)
        self.applied = np.zeros(model.nu)    # the input as applied (within the bounds)

    def _integrator(self, h, jacobian=False):
        # kept with the model: plants of the same model (one per rollout) share them
        steps = self.model.meta.setdefault('_plant_steps', {})
        key = (round(h, 12), jacobian)
        if key not in steps:
            steps[key] = (rk4_step_jacobian if jacobian else rk4_step)(self.model, h)
        return steps[key]

    def step(self, u, dt, jacobian=False):
        raw = np.asarray(u, dtype=float).ravel()
        u = np.clip(raw, self.model.u_lb, self.model.u_ub)
        self.applied = u
        n = max(1, int(np.ceil(dt / self.max_step - 1e-9)))
        F = self._integrator(dt / n, jacobian)
        x = self.x
        if jacobian:
            A, B = np.eye(self.model.nx), np.zeros((self.model.nx, self.model.nu))
            for _ in range(n):
                xf, a, b = F(x, u, self.p)
                x = np.asarray(xf, dtype=float).ravel()
                a, b = np.asarray(a, float), np.asarray(b, float)
                A, B = a @ A, a @ B + b
            B[:, raw != u] = 0.0
        else:
            for _ in range(n):
                x = np.asarray(F(x, u, self.p), dtype=float).ravel()
        if np.any(self.noise > 0):
            x = x + self.noise * np.sqrt(dt) * self.rng.standard_normal(self.model.nx)
        self.x = x
        return (x.copy(), A, B) if jacobian else x.copy()

    def truth(self):
        """The true state where it differs from ``x``: never, the state is the model's."""
        return None
