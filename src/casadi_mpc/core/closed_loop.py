"""Offline closed loop: controller.step / plant.step, logged as arrays.

Used by the `simulate` command, the tests and the benchmarks. The energy figure is the model's
mechanical work where it has one (arms, point mass: sum |power| dt) and the input effort
integral sum ||u||^2 dt for kinematic models.
"""
from dataclasses import dataclass, field

import numpy as np

from .plant import Plant


@dataclass
class Log:
    t: list = field(default_factory=list)
    x: list = field(default_factory=list)
    u: list = field(default_factory=list)
    solve_time: list = field(default_factory=list)
    iterations: list = field(default_factory=list)
    status: list = field(default_factory=list)
    success: list = field(default_factory=list)
    task_cost: list = field(default_factory=list)
    energy_cost: list = field(default_factory=list)
    predictions: list = field(default_factory=list)

    def arrays(self):
        return {k: np.asarray(v) for k, v in self.__dict__.items() if k != 'status'}


def energy_rate(model, x, u, p):
    if model.power is not None:
        return float(np.sum(np.abs(np.asarray(model.power(x, u, p), float))))
    return float(np.sum(np.asarray(u, float) ** 2))


def energy_unit(model):
    return 'J' if model.kind == 'arm' else ('J/kg' if model.power is not None else
                                            '(SI input)^2*s')


def run(controller, x0, steps, plant_params=None, noise_std=0.0, seed=0, progress=None,
        stop_at_goal=False, keep_predictions=False):
    """Run ``steps`` control steps from ``x0``; returns (Log, summary dict)."""
    model = controller.model
    dt = controller.cfg.dt
    plant = Plant(model, x0, plant_params if plant_params is not None else
                  controller.cfg.model.params, max_step=min(dt, 0.01), noise_std=noise_std,
                  seed=seed)
    log, energy, failures = Log(), 0.0, 0
    x = plant.x.copy()
    for k in range(steps):
        u, result = controller.act(x)
        failures += not result.success
        log.t.append(k * dt)
        log.x.append(x)
        log.u.append(u)
        log.solve_time.append(result.solve_time)
        log.iterations.append(result.iterations)
        log.status.append(result.status)
        log.success.append(bool(result.success))
        log.task_cost.append(result.task_cost)
        log.energy_cost.append(result.energy_cost)
        if keep_predictions and result.x_pred is not None:
            log.predictions.append(result.x_pred)
        energy += energy_rate(model, x, u, plant.p) * dt
        x = plant.step(u, dt)
        if progress:
            progress(k, steps, controller.goal_error(x))
        if stop_at_goal and controller.goal_error(x) < controller.cfg.goal_tolerance:
            break
    log.t.append(len(log.u) * dt)
    log.x.append(x)
    return log, summarize(controller, log, energy, failures)


def summarize(controller, log, energy, failures):
    st = np.asarray(log.solve_time) * 1e3
    failed = [status for status, ok in zip(log.status, log.success) if not ok]
    it = np.asarray(log.iterations)
    final_error = controller.goal_error(log.x[-1])
    errors = [controller.goal_error(x) for x in log.x]
    reached = [i for i, e in enumerate(errors) if e < controller.cfg.goal_tolerance]
    return {
        'model': controller.model.name,
        'solver': controller.cfg.solver.name,
        'compiled': controller.cfg.solver.compiled,
        'goal': controller.goal.tolist(),
        'goal_reached': bool(final_error < controller.cfg.goal_tolerance),
        'time_to_goal': float(log.t[reached[0]]) if reached else None,
        'final_error': final_error,
        'energy': energy,
        'energy_unit': energy_unit(controller.model),
        'task_cost': float(np.nansum(log.task_cost)),
        'energy_cost': float(np.nansum(log.energy_cost)),
        'solve_time_ms': {'median': float(np.median(st)), 'p99': float(np.percentile(st, 99)),
                          'max': float(np.max(st))},
        'iterations': {'median': float(np.median(it)), 'max': int(np.max(it))},
        'failures': int(failures),
        'failure_status': {k: failed.count(k) for k in sorted(set(failed))},
        'steps': len(log.u),
    }
