"""Over DDS: a robot at rest at its goal stays NORMAL; a robot faster than its bounds is brought
back inside them, not declared infeasible for good."""
import time

import numpy as np
from lifecycle_msgs.msg import Transition


def test_at_rest_at_the_goal_every_step_succeeds(systems, probe):
    """The reported case: the diff-drive at rest at its goal fell to SAFE on most steps
    (sqpmethod's step too small at an already optimal warm start counted as a failure)."""
    system, cmd, diag = systems.diff_drive_to_goal(probe)
    failures = int(diag.value('failures'))
    t0 = time.monotonic()
    probe.wait_for(lambda: len(diag.since(t0)) >= 150, 60, '150 steps at rest', system.check)
    modes = {v['mode'] for v in diag.since(t0)}
    assert modes == {'NORMAL'}, [(v['mode'], v['reason']) for v in diag.since(t0)
                                 if v['mode'] != 'NORMAL'][:3]
    assert int(diag.value('failures')) == failures


def speed(values):
    state = np.array([float(v) for v in values['state'].split()])
    return float(np.hypot(state[2], state[3]))


def test_a_state_beyond_the_speed_bound_is_steered_back(systems, probe):
    """The point mass starts at 1.3 m/s, above its bound of 1.0 m/s: the commands brake it
    back inside the bound within a second, and it then reaches its goal. The controller is
    managed, so that control starts only once this test hears its telemetry (the simulator
    holds the start until the first command)."""
    system = systems.sim('double_integrator', real_time_factor=2.0, mpc={'managed': True},
                         sim={'initial_state': [0.0, 0.0, 0.0, -1.3]})
    diag = probe.diagnostics()
    assert probe.change_state('mpc_node', Transition.TRANSITION_CONFIGURE)
    probe.wait_for(lambda: diag.subscription.get_publisher_count() > 0, 30,
                   'the telemetry matched', system.check)
    assert probe.change_state('mpc_node', Transition.TRANSITION_ACTIVATE)
    probe.wait_for(lambda: any(v.get('state') not in (None, 'nan') for v in diag.msgs), 30,
                   'the controller seeing the state', system.check)
    first = next(v for v in diag.msgs if v.get('state') not in (None, 'nan'))
    assert speed(first) > 1.2
    probe.wait_for(lambda: speed(diag.last()) < 1.0, 10, 'the speed back inside its bound',
                   system.check)
    probe.wait_for(lambda: diag.value('goal_reached') == 'true', 60, 'the goal reached',
                   system.check)
    assert diag.value('mode') == 'NORMAL'
