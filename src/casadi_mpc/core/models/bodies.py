"""What a physics engine builds for a model, declared by the model itself in
``model.meta['physics']`` (:func:`physics_of`).

Plain data and small functions, no engine import: ``core/mujoco_plant.py`` reads them. Two kinds:

- :class:`JointBody`: a robot whose state is the positions then the velocities of its joints and
  whose inputs are the efforts (torques, forces) of some of them: arms, the point mass. The
  engine loads its URDF (fixed to the world at its root link).
- :class:`WheeledBody`: a mobile base on a floor, driven by wheel velocity commands; its state
  is the pose (x, y, yaw) that the wheel encoders integrate, as a driver reports it.
"""
from dataclasses import dataclass
from typing import Callable, Optional, Tuple

import numpy as np


@dataclass(frozen=True)
class JointTerms:
    """Joint terms of the controller's model for a parameter vector: viscous damping and
    armature per joint (SI: N*m*s/rad or N*s/m, kg*m^2 or kg) and the gravity [m/s^2]."""

    damping: np.ndarray
    armature: np.ndarray
    gravity: float


@dataclass(frozen=True)
class JointBody:
    """``urdf(p)`` is the URDF text for the parameter vector ``p`` (the same robot the
    controller's model describes); ``joints`` are the state's joints in state order,
    ``actuated`` the joints whose efforts are the inputs, in input order; ``terms(p)`` gives
    the model's damping, armature and gravity for ``p``."""

    urdf: Callable[[np.ndarray], str]
    joints: Tuple[str, ...]
    actuated: Tuple[str, ...]
    terms: Callable[[np.ndarray], JointTerms]


@dataclass(frozen=True)
class Wheel:
    """One wheel: its axle centre in the base frame [m] (x forward, y left), whether it is
    steered about the vertical axis and whether a motor drives it (else it rolls freely; every
    wheel has an encoder)."""

    x: float
    y: float
    steered: bool = False
    driven: bool = True


@dataclass(frozen=True)
class WheeledBody:
    """A base: a box chassis of ``size`` (length, width, height) [m] and ``mass`` [kg] on
    ``wheels`` of ``wheel_radius`` and ``wheel_width`` [m], with frictionless ball casters
    at ``casters`` ((x, y) [m]) where the wheels alone would not hold it up.

    ``twist(x, u, p)`` is the body twist (vx [m/s], vy [m/s], wz [rad/s]) the command ``u``
    asks for in state ``x`` with parameters ``p``; the engine turns it into wheel speeds (and
    steering angles) by the rolling constraint of each wheel, as a base's driver does.
    ``state(pose, twist)`` maps the odometry (x, y, yaw) and body twist to the model's state
    (None: the pose is the state).
    """

    wheels: Tuple[Wheel, ...]
    wheel_radius: float
    wheel_width: float
    size: Tuple[float, float, float]
    mass: float
    twist: Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]
    casters: Tuple[Tuple[float, float], ...] = ()
    state: Optional[Callable[[np.ndarray, np.ndarray], np.ndarray]] = None


def physics_of(model):
    """The body ``model`` declares for a physics engine (JointBody, WheeledBody), or None."""
    return model.meta.get('physics')
