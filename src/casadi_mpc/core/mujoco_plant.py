"""The simulated robot on a physics engine (MuJoCo) rather than the controller's own model.

Same interface as plant.Plant (``x``, ``p``, ``noise``, ``step(u, dt)``), built from the body
the model declares (``model.meta['physics']``, core/models/bodies.py):

- joints (arms, the point mass): the same URDF the controller's model is built from, with joint
  damping, armature and gravity from the model's parameters, joint friction loss, and effort
  limits on the motors; the joints' range limits act as in the URDF. The state is read from the
  joints exactly.
- wheeled bases: a chassis on its wheels on a floor with tyre friction; the command's body twist
  becomes wheel speed (and steering) set points of servos with limited torque, and the state is
  the odometry a driver integrates from the wheel encoders, so it drifts from the true pose
  (``truth()``) whenever the wheels slip.
"""
import math

import mujoco
import numpy as np

from . import mjcf
from .config import ConfigError
from .models.bodies import JointBody, WheeledBody, physics_of
from .sim_config import MujocoConfig, per_joint


class MujocoPlant:
    """``options``: the simulator's ``mujoco`` section (MujocoConfig)."""

    def __init__(self, model, x0, params=None, options=None, noise_std=0.0, seed=0):
        self.model = model
        self._options = options if options is not None else MujocoConfig()
        x0 = np.asarray(x0, dtype=float).ravel()
        if x0.shape != (model.nx,):
            raise ValueError('initial state needs %d values (%s)'
                             % (model.nx, ', '.join(model.state_names)))
        self.noise = np.broadcast_to(np.asarray(noise_std, float), (model.nx,)).copy()
        self.rng = np.random.default_rng(seed)
        body = physics_of(model)
        if isinstance(body, JointBody):
            self.drive = _Joints(model, self._options)
        elif isinstance(body, WheeledBody):
            self.drive = _Wheels(model, self._options)
        else:
            raise ConfigError('model %s declares no body a physics engine can build (engine: '
                              'mujoco needs a JointBody or WheeledBody)' % model.name)
        self._p = model.param_vector(params)
        self.drive.build(self._p, x0)
        self.x = self.drive.state()
        self.applied = np.zeros(model.nu)   # efforts of the motors (arms), else the command

    @property
    def p(self):
        return self._p

    @p.setter
    def p(self, value):
        """New model parameters: rebuilt when they change the robot's geometry or masses,
        otherwise applied in place."""
        self._p = np.asarray(value, float)
        self.drive.configure(self._p, self._options)

    @property
    def options(self):
        return self._options

    @options.setter
    def options(self, value):
        """A changed ``mujoco`` section: its fields that are not structural apply at once."""
        self._options = value
        self.drive.configure(self._p, value)

    @property
    def time(self):
        return float(self.drive.data.time)

    def step(self, u, dt):
        u = np.clip(np.asarray(u, dtype=float).ravel(), self.model.u_lb, self.model.u_ub)
        self.drive.command(self.x, u, self._p)
        # whole physics steps of at most the configured length per call
        n = max(1, int(math.ceil(dt / self._options.timestep - 1e-9)))
        self.drive.mj.opt.timestep = dt / n
        mujoco.mj_step(self.drive.mj, self.drive.data, nstep=n)
        effort = self.drive.effort()
        self.applied = u if effort is None else effort
        x = self.drive.sense()
        if np.any(self.noise > 0):
            x = self.drive.perturb(self.noise * np.sqrt(dt) * self.rng.standard_normal(x.size))
        self.x = x
        return x.copy()

    def truth(self):
        """The true state where it differs from the reported one (bases: the pose from the
        engine, not the odometry); None when the state is measured exactly."""
        return self.drive.truth()


class _Joints:
    """A JointBody: motors on the actuated joints; state = joint positions and velocities."""

    def __init__(self, model, options):
        self.body, self.options = physics_of(model), options
        self.model, self.n = model, len(self.body.joints)
        self.urdf = None

    def _limits(self, options):
        model, body = self.model, self.body
        bound = np.maximum(np.abs(model.u_lb), np.abs(model.u_ub))
        bound = np.where(np.isfinite(bound), bound, 1e9)
        return per_joint(options.torque_limit, len(body.actuated), 'torque_limit', bound)

    def build(self, p, x0):
        self.urdf = self.body.urdf(p)
        spec = mjcf.joint_spec(self.body, p, self.options, self._limits(self.options))
        self.mj = spec.compile()
        self.data = mujoco.MjData(self.mj)
        ids = [self.mj.joint(name).id for name in self.body.joints]
        self.qi = self.mj.jnt_qposadr[ids]
        self.vi = self.mj.jnt_dofadr[ids]
        self.ai = [self.mj.actuator('motor_' + name).id for name in self.body.actuated]
        self.configure(p, self.options)
        self.data.qpos[self.qi] = x0[:self.n]
        self.data.qvel[self.vi] = x0[self.n:2 * self.n]
        mujoco.mj_forward(self.mj, self.data)

    def configure(self, p, options):
        if self.body.urdf(p) != self.urdf:      # masses or lengths changed: a new robot
            self.options = options
            self.build(p, self.sense())
            return
        terms, n = self.body.terms(p), self.n
        damping = per_joint(options.damping, n, 'damping', terms.damping)
        armature = per_joint(options.armature, n, 'armature', terms.armature)
        friction = per_joint(options.frictionloss, n, 'frictionloss', 0.0)
        limits = self._limits(options)
        self.options = options
        self.mj.dof_damping[self.vi], self.mj.dof_armature[self.vi] = damping, armature
        self.mj.dof_frictionloss[self.vi] = friction
        self.mj.opt.gravity[:] = (0.0, 0.0, -terms.gravity)
        self.mj.actuator_forcerange[self.ai] = np.column_stack([-limits, limits])

    def command(self, x, u, p):
        self.data.ctrl[self.ai] = u

    def sense(self):
        return np.concatenate([self.data.qpos[self.qi], self.data.qvel[self.vi]])

    state = sense

    def perturb(self, delta):
        self.data.qpos[self.qi] += delta[:self.n]
        self.data.qvel[self.vi] += delta[self.n:]
        mujoco.mj_forward(self.mj, self.data)
        return self.sense()

    def effort(self):
        return self.data.actuator_force[self.ai].copy()

    def truth(self):
        return None


class _Wheels:
    """A WheeledBody: wheel servos follow the command's twist; state = encoder odometry."""

    def __init__(self, model, options):
        self.body, self.options, self.model = physics_of(model), options, model
        self.at = mjcf.check_wheels(self.body)      # (x, y) of each wheel [m]
        if model.position[:3] != (0, 1, 2) and self.body.state is None:
            raise ConfigError('model %s: a wheeled body reports the pose (x, y, yaw): its '
                              'state must start with them or the body must map them (state)'
                              % model.name)

    def build(self, p, x0):
        self.mj = mujoco.MjModel.from_xml_string(mjcf.wheeled_mjcf(self.body, self.options))
        self.data = mujoco.MjData(self.mj)
        wheels = range(len(self.body.wheels))
        self.spin = np.array([self.mj.jnt_qposadr[self.mj.joint('spin%d' % i).id]
                              for i in wheels])
        self.steer = {i: self.mj.jnt_qposadr[self.mj.joint('steer%d' % i).id]
                      for i, w in enumerate(self.body.wheels) if w.steered}
        self.drive_ids = {i: self.mj.actuator('drive%d' % i).id
                          for i, w in enumerate(self.body.wheels) if w.driven}
        self.steer_ids = {i: self.mj.actuator('steer%d' % i).id for i in self.steer}
        x, y, yaw = (float(v) for v in np.asarray(x0, float)[:3])
        self.data.qpos[:7] = [x, y, self.body.wheel_radius, math.cos(yaw / 2), 0.0, 0.0,
                              math.sin(yaw / 2)]
        mujoco.mj_forward(self.mj, self.data)
        self.pose = np.array([x, y, yaw])         # the odometry
        self.twist = np.zeros(3)
        self.angles = self._encoders()
        self.last_time = self.data.time
        self.configure(p, self.options)

    def configure(self, p, options):
        self.options = options
        friction = np.asarray(options.tyre_friction, float)
        for i in range(len(self.body.wheels)):
            self.mj.geom_friction[self.mj.geom('tyre%d' % i).id] = friction
        self.mj.geom_friction[self.mj.geom('floor').id] = friction
        for i, a in self.drive_ids.items():
            self.mj.actuator_gainprm[a, 0] = options.wheel_kv
            self.mj.actuator_biasprm[a, 2] = -options.wheel_kv
            limit = options.wheel_torque_limit
            self.mj.actuator_forcerange[a] = (-limit, limit)
        for i, a in self.steer_ids.items():
            self.mj.actuator_gainprm[a, 0] = options.steer_kp
            self.mj.actuator_biasprm[a, 1] = -options.steer_kp

    def _encoders(self):
        """Wheel angles as the encoders count them [rad]."""
        angles = self.data.qpos[self.spin].copy()
        ticks = self.options.encoder_ticks
        if ticks:
            step = 2 * math.pi / ticks
            angles = np.floor(angles / step) * step
        return angles

    def _headings(self):
        return np.array([self.data.qpos[self.steer[i]] if i in self.steer else 0.0
                         for i in range(len(self.body.wheels))])

    def command(self, x, u, p):
        vx, vy, wz = (float(v) for v in np.asarray(self.body.twist(x, u, p), float).ravel())
        r = self.body.wheel_radius
        headings = self._headings()
        for i, (wx, wy) in enumerate(self.at):
            cx, cy = vx - wz * wy, vy + wz * wx    # velocity of the wheel's axle centre
            heading = headings[i]
            if i in self.steer:
                if math.hypot(cx, cy) > 1e-6:
                    heading = math.atan2(cy, cx)
                    if heading > math.pi / 2:       # roll backwards rather than turn around
                        heading -= math.pi
                    elif heading < -math.pi / 2:
                        heading += math.pi
                self.data.ctrl[self.steer_ids[i]] = heading
            if i in self.drive_ids:
                self.data.ctrl[self.drive_ids[i]] = (cx * math.cos(heading)
                                                     + cy * math.sin(heading)) / r

    def sense(self):
        """Dead reckoning from the encoders since the last call: each wheel rolls
        r * dphi along its heading; the body displacement is the least-squares solution of
        those rolling constraints, integrated at the mid-interval heading."""
        angles = self._encoders()
        rolled = (angles - self.angles) * self.body.wheel_radius
        self.angles = angles
        h = self._headings()
        wx, wy = self.at[:, 0], self.at[:, 1]
        rows = np.column_stack([np.cos(h), np.sin(h), wx * np.sin(h) - wy * np.cos(h)])
        dx, dy, dyaw = np.linalg.lstsq(rows, rolled, rcond=None)[0]
        mid = self.pose[2] + dyaw / 2
        self.pose = self.pose + [dx * math.cos(mid) - dy * math.sin(mid),
                                 dx * math.sin(mid) + dy * math.cos(mid), dyaw]
        self.pose[2] = math.atan2(math.sin(self.pose[2]), math.cos(self.pose[2]))
        elapsed = self.data.time - self.last_time
        self.last_time = self.data.time
        self.twist = np.array([dx, dy, dyaw]) / elapsed if elapsed > 0 else np.zeros(3)
        return self._state(self.pose, self.twist)

    def state(self):
        return self._state(self.pose, self.twist)

    def _state(self, pose, twist):
        if self.body.state is not None:
            return np.asarray(self.body.state(pose, twist), float).ravel()
        x = np.zeros(self.model.nx)
        x[:3] = pose
        return x

    def perturb(self, delta):
        self.pose = self.pose + delta[:3]
        return self._state(self.pose, self.twist)

    def effort(self):
        return None

    def truth(self):
        q = self.data.qpos
        yaw = math.atan2(2 * (q[3] * q[6] + q[4] * q[5]), 1 - 2 * (q[5] ** 2 + q[6] ** 2))
        v = self.data.qvel      # free joint: world linear, body angular velocity
        c, s = math.cos(yaw), math.sin(yaw)
        twist = np.array([c * v[0] + s * v[1], -s * v[0] + c * v[1], v[5]])
        return self._state(np.array([q[0], q[1], yaw]), twist)
