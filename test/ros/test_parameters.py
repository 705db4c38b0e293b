"""Parameters over DDS: invalid sets are rejected with their reason; live tuning never
rebuilds the solver and changes the behaviour on the next goal."""
from geometry_msgs.msg import PoseStamped
from nav_msgs.msg import Odometry

from casadi_mpc.ros import qos
from casadi_mpc.ros.conversions import planar_pose


def test_invalid_parameter_sets_are_rejected_with_reason(systems, probe):
    system = systems.controller_only('diff_drive')
    diag = probe.diagnostics()
    odom = probe.publisher(Odometry, 'odom', qos.STATE)
    state = Odometry()
    state.header.frame_id = 'odom'
    state.pose.pose.orientation.w = 1.0
    probe.node.create_timer(0.05, lambda: odom.publish(probe.stamped(state)))   # the robot
    probe.wait_for(lambda: diag.value('mode') == 'NORMAL', 30, 'the controller running',
                   system.check)
    builds = diag.value('solver_builds')
    cases = {
        'costs.effort.weight': ([1.0], 'expected 2 values'),
        'costs.goal_tracking.weight': ([1.0, -1.0, 0.0], '>= 0'),
        'bounds.u_min': ([2.0, 2.0], 'must not exceed'),
        'horizon': (5, 'read-only'),
        'rate_hz': (-1.0, 'out of range'),
        'solver.name': ('ipopt', 'read-only'),
    }
    for name, (value, reason) in cases.items():
        result, = probe.set_parameters('mpc_node', {name: value})
        assert not result.successful, name
        assert reason in result.reason, (name, result.reason)
    # nothing was applied: the old values are still there
    weight, horizon = probe.get_parameters('mpc_node', ['costs.effort.weight', 'horizon'])
    assert list(weight) == [0.1, 0.1] and horizon == 20
    # a valid change goes through
    result, = probe.set_parameters('mpc_node', {'goal_tolerance': 0.2})
    assert result.successful, result.reason
    probe.wait_for(lambda: diag.value('mode') == 'NORMAL', 5, 'still running', system.check)
    assert diag.value('solver_builds') == builds


def reach(probe, diag, pub, goal, system):
    """Send ``goal``; return the energy used until it is reached."""
    expected = ' '.join('%.4g' % g for g in goal)
    probe.publish_until(pub, planar_pose(*goal), lambda: diag.value('goal') == expected, 10,
                        'goal %s accepted' % expected, system.check)
    start = diag.number('energy_used')
    probe.wait_for(lambda: diag.value('goal') == expected and
                   diag.value('goal_reached') == 'true', 30, 'goal %s reached' % expected,
                   system.check)
    return diag.number('energy_used') - start


def test_more_effort_weight_uses_less_energy_without_rebuild(systems, probe):
    # start at rest, then straight ahead: the same manoeuvre twice, only the weight differs
    system = systems.sim('diff_drive', real_time_factor=3.0, mpc={'goal': [0.0, 0.0, 0.0]})
    diag = probe.diagnostics()
    probe.wait_for(lambda: diag.value('mode') == 'NORMAL', 30, 'the controller running',
                   system.check)
    builds = diag.value('solver_builds')
    pub = probe.publisher(PoseStamped, 'goal_pose')
    first = reach(probe, diag, pub, (1.0, 0.0, 0.0), system)
    result, = probe.set_parameters('mpc_node', {'costs.effort.weight': [5.0, 5.0]})
    assert result.successful, result.reason
    seen = len(diag)
    probe.wait_for(lambda: len(diag) > seen + 2, 5, 'steps after the change', system.check)
    assert diag.value('goal') == '1 0 0'   # tuning keeps the goal sent over the topic
    second = reach(probe, diag, pub, (2.0, 0.0, 0.0), system)
    print('energy to the goal: %.3f before, %.3f after the effort weight change' % (first, second))
    assert second < 0.8 * first, (first, second)
    assert diag.value('solver_builds') == builds
