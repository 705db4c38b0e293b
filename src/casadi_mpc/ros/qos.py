"""QoS profiles used by the nodes (one place, so publishers and subscribers match)."""
from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy, \
    qos_profile_sensor_data

# robot state (odom, joint_states): subscribed best effort, latest few samples ...
STATE = qos_profile_sensor_data
# ... and published reliable (the simulator), which best-effort and reliable readers both match
STATE_OUT = QoSProfile(depth=5, reliability=ReliabilityPolicy.RELIABLE,
                       history=HistoryPolicy.KEEP_LAST, durability=DurabilityPolicy.VOLATILE)
# commands, goals, references, predictions: reliable, a short queue
COMMAND = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE,
                     history=HistoryPolicy.KEEP_LAST, durability=DurabilityPolicy.VOLATILE)
# /clock: reliable writer, so both best-effort (rclpy's time source) and reliable readers match
CLOCK = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE,
                   history=HistoryPolicy.KEEP_LAST, durability=DurabilityPolicy.VOLATILE)
DIAGNOSTICS = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE,
                         history=HistoryPolicy.KEEP_LAST)
# /clock kept as a log of arrivals (estimator): every tick, even while the executor is busy
CLOCK_LOG = QoSProfile(depth=100, reliability=ReliabilityPolicy.RELIABLE,
                       history=HistoryPolicy.KEEP_LAST, durability=DurabilityPolicy.VOLATILE)
