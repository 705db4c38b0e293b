"""A reference over the `plan` topic drives the reference-tracking cost term."""
import numpy as np
from geometry_msgs.msg import PoseStamped
from nav_msgs.msg import Odometry, Path

from casadi_mpc.ros import conversions as conv, qos

# the diff-drive configuration with a reference-tracking term added from the command line and
# the goal terms switched off: only the plan pulls the robot
TRACKING = {'costs.reference_tracking.weight': [5.0, 5.0, 0.5],
            'costs.goal_tracking.enabled': False, 'costs.terminal.enabled': False}
SPEED, DT, N = 0.4, 0.1, 20     # reference point along y = 0.5; the config's dt and horizon


def plan(points, frame='odom'):
    msg = Path()
    msg.header.frame_id = frame
    for x, y in points:
        ps = PoseStamped()
        ps.header.frame_id = frame
        ps.pose.position.x, ps.pose.position.y = float(x), float(y)
        ps.pose.orientation.w = 1.0
        msg.poses.append(ps)
    return msg


def moving_point(t):
    """The reference from time t on, one pose per shooting interval."""
    return [(SPEED * (t + k * DT), 0.5) for k in range(N + 1)]


def test_robot_tracks_a_moving_plan_and_wrong_frames_are_rejected(systems, probe):
    system = systems.sim('diff_drive', real_time_factor=2.0, mpc=TRACKING)
    odom = probe.record(Odometry, 'odom', qos.STATE)
    diag = probe.diagnostics()
    probe.wait_for(lambda: diag.value('mode') == 'NORMAL' and len(odom) > 0, 30,
                   'the controller running', system.check)
    assert 'cost.reference_tracking' in diag.last()
    pub = probe.publisher(Path, 'plan')
    probe.publish_until(pub, plan(moving_point(0.0), frame='map'),
                        lambda: "frame 'map'" in diag.value('last_rejection'), 10,
                        'the wrong-frame plan rejected', system.check)
    start = conv.seconds(odom.last().header.stamp)
    errors = []

    def publish_plan():   # a planner republishing the reference for the current time
        t = conv.seconds(odom.last().header.stamp) - start
        pub.publish(plan(moving_point(t)))
        p = odom.last().pose.pose.position
        errors.append(np.hypot(p.x - SPEED * t, p.y - 0.5))
    timer = probe.node.create_timer(0.05, publish_plan)
    probe.wait_for(lambda: len(errors) > 60 and max(errors[-20:]) < 0.1, 30,
                   'the robot locked on the moving reference', system.check)
    probe.node.destroy_timer(timer)
    assert errors[0] > 0.3
