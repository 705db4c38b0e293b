"""The safe command brings every robot to rest; a solver recovers from bad input at once.

Safe: inside the bounds, no input range may exclude zero, a stale state is braked from the state
the model predicts (never past rest). Recovery: a failed solve is no warm start, a solve stops at
its time limit, and a converged SQP whose step is too small to move the iterate is a success.
"""
import numpy as np
import pytest

from casadi_mpc.core.config import ConfigError, load, with_changes
from casadi_mpc.core.controller import MPCController
from casadi_mpc.core.plant import Plant
from casadi_mpc.core.solvers import FEASIBLE_ENOUGH, OK

CONFIGS = 'config/%s.yaml'


def controller(robot, **changes):
    """The robot's shipped configuration with its real-time limit lifted (the tests assert
    behaviour, and a loaded machine must not turn a slow solve into a failure), and
    ``changes``."""
    cfg = load(CONFIGS % robot)
    return MPCController(with_changes(cfg, {'solver.time_limit': 10.0, **changes}))


def velocities(model, x):
    return np.asarray(x, float)[list(model.velocity)]


@pytest.mark.parametrize('robot, x0', [
    ('double_integrator', [0.0, 0.0, 0.96, -0.4]),
    ('planar_arm', [0.5, 0.2, 1.0, -1.0]),
])
def test_stale_state_safe_command_brakes_to_rest_without_reversing(robot, x0):
    """The same stale state, step after step (as the node sees it while no state arrives):
    the robot under the safe commands comes to rest and stays there, each velocity shrinking
    towards zero without changing sign, every command inside the bounds."""
    c = controller(robot)
    m, t = c.model, c.tuning
    period = 1.0 / c.cfg.rate_hz
    plant = Plant(m, x0, c.cfg.model.params, max_step=0.005)
    stale = np.asarray(x0, float)
    start = velocities(m, stale)
    for _ in range(int(3.0 / period)):
        u = c.safe_input(stale)
        assert np.all(u >= t.u_lb - 1e-12) and np.all(u <= t.u_ub + 1e-12)
        v = velocities(m, plant.step(u, period))
        assert np.all(v * np.sign(start) >= -5e-3), 'braked past rest: %s' % v
    assert np.max(np.abs(v)) < 1e-2   # open loop: the model's prediction, not a measurement
    # and it stays at rest: the held command keeps it there
    for _ in range(20):
        v = velocities(m, plant.step(c.safe_input(stale), period))
    assert np.max(np.abs(v)) < 1e-2   # open loop: the model's prediction, not a measurement


def test_fresh_states_restart_the_braking_from_the_measurement():
    c = controller('double_integrator')
    a = c.safe_input([0.0, 0.0, 0.5, 0.0])
    c.safe_input([0.0, 0.0, 0.5, 0.0])
    b = c.safe_input([0.1, 0.0, 0.5, 0.0])    # a new state: brake from it, not the prediction
    np.testing.assert_allclose(a, b)
    assert a[0] < 0


def test_kinematic_base_safe_command_is_zero():
    c = controller('diff_drive')
    np.testing.assert_array_equal(c.safe_input([1.0, 2.0, 0.3]), [0.0, 0.0])


def test_shutdown_command_holds_without_braking():
    """The last command a driver may keep applying: zero acceleration for the point mass,
    the holding torque for an arm (no braking term that would drive it backwards)."""
    c = controller('double_integrator')
    np.testing.assert_array_equal(c.safe_input([0, 0, 1.0, 0], brake=False), [0.0, 0.0])
    arm = controller('planar_arm')
    x = np.array([0.3, 0.1, 2.0, 0.0])
    hold = np.asarray(arm.model.holding(x, arm.tuning.model_p), float).ravel()
    np.testing.assert_allclose(arm.safe_input(x, brake=False), np.clip(hold, -40, 40))


@pytest.mark.parametrize('u_min, u_max', [([0.5, -2.0], [1.0, 2.0]), ([-1.0, -2.0],
                                                                      [1.0, -0.1])])
def test_bounds_that_exclude_the_safe_command_are_refused(u_min, u_max):
    cfg = load(CONFIGS % 'diff_drive')
    with pytest.raises(ConfigError, match='must contain 0'):
        MPCController(with_changes(cfg, {'bounds.u_min': u_min, 'bounds.u_max': u_max}))
    c = MPCController(cfg)
    with pytest.raises(ConfigError, match='must contain 0'):
        c.update({'bounds.u_min': u_min, 'bounds.u_max': u_max})
    assert c.tuning.u_lb.tolist() == [-1.0, -2.0]   # nothing applied


BACKENDS = [('sqp', False), ('sqp_rti', False), ('ipopt', False), ('sqp', True),
            ('sqp_rti', True)]


@pytest.mark.parametrize('name, compiled', BACKENDS)
@pytest.mark.parametrize('huge', [1e10, 1e300])
def test_a_burst_of_huge_states_leaves_no_trace(name, compiled, huge):
    """After failing (or garbage) solves from absurd states, the first solve from a sane
    state succeeds: the failed iterate is no warm start."""
    c = controller('diff_drive', **{'solver.name': name, 'solver.compiled': compiled})
    x = np.zeros(3)
    assert c.step(x).success
    for _ in range(13):
        c.step(np.array([huge, 0.0, 0.0]))
    r = c.step(x)
    assert r.success, r.status
    assert np.all(np.isfinite(r.u0))


@pytest.mark.parametrize('name', ['sqp', 'ipopt'])
def test_a_solve_stops_at_its_time_limit(name):
    """The limit is checked while iterating, not after: with a limit far below one
    iteration, the solve stops after its first iteration and says timeout."""
    c = controller('diff_drive', **{'solver.name': name, 'solver.max_iter': 1000})
    c.update({'solver.time_limit': 1e-7})
    r = c.step(np.array([5.0, -3.0, 2.0]))
    assert r.status == 'timeout' and not r.success
    assert r.iterations <= 2
    c.update({'solver.time_limit': 10.0})   # a run-time change reaches the running solver
    assert c.step(np.zeros(3)).success


def test_small_step_at_a_feasible_iterate_is_success():
    """sqpmethod ends with Search_Direction_Becomes_Too_Small when its warm start is already
    the solution to the last digits (a robot at rest): feasible, it counts as converged."""
    assert 'small_step' in FEASIBLE_ENOUGH and 'small_step_feasible' in OK
    c = controller('diff_drive', **{'solver.time_limit': 5.0})
    solver = c.solver
    x = np.array(c.cfg.goal) + [0.05, 0.0, 0.0]
    p, bounds = c._problem(x)
    assert solver.solve(p, bounds).success

    class Stats:
        """The solver's own call, with the status CasADi returned in that case."""

        def __init__(self, fn):
            self.fn = fn

        def __call__(self, **kw):
            return self.fn(**kw)

        def stats(self):
            return dict(self.fn.stats(), return_status='Search_Direction_Becomes_Too_Small',
                        success=False)
    solver.fn = Stats(solver.fn)
    r = solver.solve(p, bounds)
    assert r.status == 'small_step_feasible' and r.success
    bad = (bounds[0], bounds[1], bounds[2] + 1.0, bounds[3] + 1.0)   # gaps cannot close
    r = solver.solve(p, bad)
    assert r.status == 'small_step' and not r.success
    assert solver.w is None   # and it is no warm start
