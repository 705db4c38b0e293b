"""A model's ROS interface, as data (no rclpy here: ``ros/conversions.py`` reads it).

The interface says which message carries the robot's state and which state entry each of its
fields carries, how a goal arrives, what the controller publishes, the safe command, and the
ros2_control topics that robot mode maps onto. Everything in ``ros/`` (the controller node, the
simulator, conversions, predicted paths) is driven by it, so a new robot needs no code outside
its model file.

State messages and their channels (``fields`` maps a state name to the channel it is read from;
states no field carries are not measured by that message):

- ``odometry`` (nav_msgs/Odometry, topic ``odom``): ``position.x|y|z`` and ``yaw`` of the pose
  in the odometry frame; ``velocity.x|y|z``, the linear twist turned into that frame;
  ``twist.linear.x|y|z`` and ``twist.angular.z``, the twist in the body (child) frame.
- ``joint_state`` (sensor_msgs/JointState, topic ``joint_states``): ``position.<joint>`` and
  ``velocity.<joint>`` for each name in ``joints``, matched by name in the message.

Goals: ``pose`` (geometry_msgs/PoseStamped on ``goal_pose``: ``position.x|y|z``, ``yaw``) or
``joint_state`` (on ``goal_joints``: positions by name, velocities when given); a state entry
the goal does not carry is 0 (at rest). Without a goal declaration the goal follows the state
message (its pose channels, or its joints).

Commands: ``twist`` (geometry_msgs/Twist or TwistStamped on ``cmd_vel``; ``fields`` names the
Twist field of each command value: ``linear.x|y|z``, ``angular.x|y|z``) or ``array``
(std_msgs/Float64MultiArray on ``commands``: the inputs in model order). Command values are the
inputs named in ``inputs`` unless the model gives ``command`` = f(x, u, p) (a CasADi Function),
then ``to_input`` = g(command, x, p) is its inverse, for the simulator.

A reader of part of the state (an estimator taking the odometry pose only, or joint positions
only) declares a StateMessage with just those fields: ``dataclasses.replace(model,
interface=dataclasses.replace(model.interface, state=partial))`` is a model that the
conversions read that way (the entries not carried come back NaN; ``carried`` lists the rest).
"""
from dataclasses import dataclass, field
from typing import Mapping, Optional, Tuple

import casadi as ca

ODOMETRY, JOINT_STATE, POSE, TWIST, ARRAY = ('odometry', 'joint_state', 'pose', 'twist',
                                             'array')
STATE_KINDS = (ODOMETRY, JOINT_STATE)
GOAL_KINDS = (POSE, JOINT_STATE)
COMMAND_KINDS = (TWIST, ARRAY)
POSE_CHANNELS = ('position.x', 'position.y', 'position.z', 'yaw')
ODOMETRY_CHANNELS = POSE_CHANNELS + ('velocity.x', 'velocity.y', 'velocity.z',
                                     'twist.linear.x', 'twist.linear.y', 'twist.linear.z',
                                     'twist.angular.z')
TWIST_FIELDS = ('linear.x', 'linear.y', 'linear.z', 'angular.x', 'angular.y', 'angular.z')
JOINT_QUANTITIES = ('position', 'velocity')
TOPICS = {ODOMETRY: 'odom', JOINT_STATE: 'joint_states', POSE: 'goal_pose',
          TWIST: 'cmd_vel', ARRAY: 'commands'}
GOAL_TOPICS = {POSE: 'goal_pose', JOINT_STATE: 'goal_joints'}


@dataclass(frozen=True)
class StateMessage:
    """The message that carries the robot's state: ``fields`` maps state name -> channel."""

    kind: str
    fields: Mapping[str, str]
    joints: Tuple[str, ...] = ()

    @property
    def topic(self):
        return TOPICS.get(self.kind, '')

    def carried(self, state_names):
        """Indices of the states this message carries, in state order."""
        return tuple(i for i, n in enumerate(state_names) if n in self.fields)


@dataclass(frozen=True)
class GoalMessage:
    """How a goal arrives: ``fields`` maps state name -> channel (as for the state)."""

    kind: str
    fields: Mapping[str, str]
    joints: Tuple[str, ...] = ()

    @property
    def topic(self):
        return GOAL_TOPICS.get(self.kind, '')


@dataclass(frozen=True)
class CommandMessage:
    """What the controller publishes. ``fields``: the Twist field of each command value (twist
    only). ``inputs``: the input each value is (names), unless ``command`` (x, u, p) -> values
    and its inverse ``to_input`` (values, x, p) -> u are given. ``joints``: the joint each input
    drives (array commands of joint robots; efforts in simulated joint states)."""

    kind: str
    fields: Tuple[str, ...] = ()
    inputs: Tuple[str, ...] = ()
    command: Optional[ca.Function] = None
    to_input: Optional[ca.Function] = None
    joints: Tuple[str, ...] = ()

    @property
    def topic(self):
        return TOPICS.get(self.kind, '')


@dataclass(frozen=True)
class Interface:
    """The whole ROS interface of a model.

    ``driver``: robot mode's remappings onto a ros2_control driver (our topic -> the driver's,
    e.g. ``{'cmd_vel': '/diff_drive_controller/cmd_vel'}``). ``trajectory``: the predicted
    horizon can also be streamed as a JointTrajectory (``publish_joint_trajectory``)."""

    state: StateMessage
    command: CommandMessage
    goal: Optional[GoalMessage] = None
    driver: Mapping[str, str] = field(default_factory=dict)
    trajectory: bool = False

    @property
    def goal_message(self):
        """The goal declaration, or the one that follows the state message."""
        if self.goal is not None:
            return self.goal
        s = self.state
        if s.kind == JOINT_STATE:
            return GoalMessage(JOINT_STATE, dict(s.fields), s.joints)
        return GoalMessage(POSE, {k: v for k, v in s.fields.items() if v in POSE_CHANNELS})


# ---------------------------------------------------------------------------- builders
def odometry(**fields):
    """A state read from Odometry: ``odometry(x='position.x', theta='yaw')``."""
    return StateMessage(ODOMETRY, dict(fields))


def joint_state(joints, positions, velocities=()):
    """A state read from JointState: ``positions[i]`` (a state name) is the position of
    ``joints[i]``, ``velocities[i]`` its velocity (empty: velocities are not read)."""
    fields = {q: 'position.' + j for j, q in zip(joints, positions)}
    fields.update({v: 'velocity.' + j for j, v in zip(joints, velocities)})
    return StateMessage(JOINT_STATE, fields, tuple(joints))


def pose_goal(**fields):
    return GoalMessage(POSE, dict(fields))


def twist(command=None, to_input=None, fields=(), **inputs):
    """A Twist command. By input name, with the Twist field spelled with an underscore:
    ``twist(linear_x='v', angular_z='omega')``; or computed: ``command`` (x, u, p) -> values
    for the Twist ``fields`` (e.g. ``('linear.x', 'angular.z')``) and its inverse
    ``to_input`` (values, x, p) -> u."""
    if command is None:
        return CommandMessage(TWIST, tuple(k.replace('_', '.', 1) for k in inputs),
                              tuple(inputs.values()))
    return CommandMessage(TWIST, tuple(fields), (), command, to_input)


def array(joints=()):
    """The inputs as a Float64MultiArray, in model order."""
    return CommandMessage(ARRAY, joints=tuple(joints))


def arm(joints, positions, velocities):
    """A torque-driven arm: JointState in, efforts out as a Float64MultiArray (ros2_control's
    forward effort controller), the horizon also as a JointTrajectory."""
    return Interface(state=joint_state(joints, positions, velocities), command=array(joints),
                     driver={'commands': '/forward_effort_controller/commands',
                             'joint_states': '/joint_states'},
                     trajectory=True)
