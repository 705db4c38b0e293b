"""mpc_node managed: the lifecycle transitions over DDS, and the unmanaged node's own ones."""
import time

from geometry_msgs.msg import Twist
from lifecycle_msgs.msg import Transition


def state_of(probe):
    return probe.lifecycle_state('mpc_node')


def change(probe, transition):
    return probe.change_state('mpc_node', transition)


def test_managed_node_controls_only_while_active(systems, probe):
    system = systems.controller_only('diff_drive', mpc={'managed': True})
    cmd = probe.record(Twist, 'cmd_vel')
    diag = probe.diagnostics()
    assert state_of(probe) == 'unconfigured'
    assert change(probe, Transition.TRANSITION_CONFIGURE)
    assert state_of(probe) == 'inactive'
    assert 'control active' not in system['mpc_node'].output()
    assert len(diag) == 0 and len(cmd) == 0   # configured, nothing controls yet

    assert change(probe, Transition.TRANSITION_ACTIVATE)
    assert state_of(probe) == 'active'
    # no state yet: the safe (zero) command at the control rate
    probe.wait_for(lambda: len(diag) >= 5, 10, 'control steps while active', system.check)
    assert diag.value('mode') == 'NO_STATE'

    assert change(probe, Transition.TRANSITION_DEACTIVATE)
    assert state_of(probe) == 'inactive'
    probe.wait_for(lambda: 'control inactive: sent the safe command' in
                   system['mpc_node'].output(), 5, 'the deactivation logged', system.check)
    last = cmd.last()
    assert last is not None and last.linear.x == 0.0 and last.angular.z == 0.0
    steps = len(diag)
    t0 = time.monotonic()
    probe.wait_for(lambda: time.monotonic() - t0 > 1.0, 2, 'a second inactive')
    assert len(diag) <= steps + 1   # at most one in flight when it stopped

    assert change(probe, Transition.TRANSITION_CLEANUP)
    assert state_of(probe) == 'unconfigured'
    # configure again (from the on-disk solver cache) and control again
    assert change(probe, Transition.TRANSITION_CONFIGURE)
    assert change(probe, Transition.TRANSITION_ACTIVATE)
    more = len(diag)
    probe.wait_for(lambda: len(diag) >= more + 5, 10, 'control after a new configure',
                   system.check)
    assert system.dead() == {}


def test_unmanaged_node_runs_its_own_transitions(systems, probe):
    system = systems.controller_only('diff_drive')
    diag = probe.diagnostics()
    probe.wait_for(lambda: len(diag) >= 3, 30, 'control steps', system.check)
    assert state_of(probe) == 'active'
