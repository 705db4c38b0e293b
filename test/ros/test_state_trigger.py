"""control_trigger 'state': each state message is solved at once, at most rate_hz, and the timer
still stops the robot when the state goes stale."""
import time

from geometry_msgs.msg import Twist
from nav_msgs.msg import Odometry

from casadi_mpc.bringup import default_params_file
from casadi_mpc.core.config import load
from casadi_mpc.ros import qos

TRANSPORT_SLACK = 0.2   # [s] scheduling and delivery on a loaded 2-core machine
STATE = {'control_trigger': 'state'}


def odometry(probe, offset=0.0):
    """A state at the origin stamped now (+ ``offset`` s), as a driver stamps it."""
    msg = Odometry()
    msg.header.frame_id = 'odom'
    msg.pose.pose.orientation.w = 1.0
    return probe.stamped(msg, offset)


def stamp_text(msg):
    return '%d.%09d' % (msg.header.stamp.sec, msg.header.stamp.nanosec)


def is_zero(m):
    return m.linear.x == 0.0 and m.angular.z == 0.0


def test_state_trigger_reaches_goal_and_stops_when_the_simulator_dies(systems, probe):
    cfg = load(default_params_file('diff_drive'))
    system, cmd, diag = systems.diff_drive_to_goal(probe, STATE)
    assert any(abs(m.linear.x) > 0.1 for m in cmd.msgs)
    assert diag.value('rejected_messages') == '0'
    t0 = time.monotonic()
    system.kill('sim_node')
    probe.wait_for(lambda: any(is_zero(m) for m in cmd.since(t0)) and
                   diag.value('mode') == 'STALE', 5, 'the safe command after the simulator died')
    # sim time stops with the simulator: the steady-clock watchdog sends the safe command
    assert 'state' in diag.value('reason')
    zero = next(t for t, m in cmd.items if t >= t0 and is_zero(m))
    limit = max(cfg.state_timeout, 2.0 / cfg.rate_hz) + 1.0 / cfg.rate_hz + TRANSPORT_SLACK
    assert zero - t0 <= limit, zero - t0


def test_one_step_per_state_message_then_safe_command_on_stale_state(systems, probe):
    rate, timeout, count = 20.0, 0.5, 12
    system = systems.controller_only('diff_drive', mpc=dict(
        STATE, rate_hz=rate, state_timeout=timeout, goal=[3.0, 0.0, 0.0]))
    cmd = probe.record(Twist, 'cmd_vel')
    diag = probe.diagnostics()
    odom = probe.publisher(Odometry, 'odom', qos.STATE)
    probe.publish_until(odom, lambda: odometry(probe), lambda: diag.value('mode') == 'NORMAL',
                        30,
                        'the controller running', system.check)
    before = {d.get('state_stamp') for d in diag.msgs}   # the states of the start-up
    sent = []   # (publish time, stamp) of the states that must each be solved once

    def send():
        if len(sent) < count:
            msg = odometry(probe)
            odom.publish(msg)
            sent.append((time.monotonic(), stamp_text(msg)))
            # a second state right behind it: at most rate_hz, so it must not be solved
            odom.publish(odometry(probe, 1e-4))
    timer = probe.node.create_timer(5.0 / rate, send)   # states well apart: 5 periods

    def solved():
        return [d['state_stamp'] for d in diag.since(sent[0][0])
                if d.get('mode') == 'NORMAL' and d['state_stamp'] not in before]

    def commands():
        return cmd.since(sent[0][0]) if sent else []
    probe.wait_for(lambda: len(sent) == count and set(solved()) >= {s for _, s in sent} and
                   len(commands()) >= count, 15, 'a command for each state', system.check)
    probe.node.destroy_timer(timer)
    assert sorted(solved()) == sorted(s for _, s in sent)   # each once, none of the bursts
    assert len(commands()) == count                        # no timer commands in between
    assert all(m.linear.x > 0.1 for m in commands())
    # the states stop: the timer sends the safe command within state_timeout + one period
    t_last = sent[-1][0]
    probe.wait_for(lambda: any(is_zero(m) for m in cmd.since(t_last)), 5,
                   'the safe command on stale state', system.check)
    zero = next(t for t, m in cmd.items if t >= t_last and is_zero(m))
    assert zero - t_last <= timeout + 1.0 / rate + TRANSPORT_SLACK, zero - t_last
    probe.wait_for(lambda: diag.value('mode') == 'STALE', 2, 'mode STALE', system.check)


def test_bad_state_messages_are_counted_and_the_next_good_one_is_solved(systems, probe):
    system = systems.controller_only('diff_drive', mpc=dict(STATE, goal=[1.0, 0.0, 0.0]))
    cmd = probe.record(Twist, 'cmd_vel')
    diag = probe.diagnostics()
    odom = probe.publisher(Odometry, 'odom', qos.STATE)
    probe.publish_until(odom, lambda: odometry(probe), lambda: diag.value('mode') == 'NORMAL',
                        30,
                        'the controller running', system.check)
    bad = odometry(probe)
    bad.pose.pose.position.x = float('nan')
    zero_rotation = odometry(probe)
    zero_rotation.pose.pose.orientation.w = 0.0
    for msg in (bad, zero_rotation):
        odom.publish(msg)
    probe.wait_for(lambda: diag.value('rejected_messages') == '2', 10,
                   'both bad states rejected', system.check)
    assert 'odometry' in diag.value('last_rejection')
    t0 = time.monotonic()
    good = odometry(probe)
    odom.publish(good)
    probe.wait_for(lambda: any(d.get('state_stamp') == stamp_text(good) and
                               d.get('mode') == 'NORMAL' for d in diag.since(t0)), 10,
                   'the next good state solved', system.check)
    assert all(abs(m.linear.x) <= 1.0 for m in cmd.msgs)
    assert system.processes['mpc_node'].returncode is None
