"""A user model in one file: copy it, rename the model, write your robot's dynamics.

Load it with ``model.file: /path/to/this_file.py`` (and ``model.name: my_robot``) in the
mpc_node and sim_node sections of a parameter file, or ship it in your own Python package under
the entry-point group ``casadi_mpc.models`` (``my_robot = my_package.my_robot``) and name it in
``model.name``. On load casadi_mpc checks the declaration and refuses it with one line naming
the problem (shapes, names, bounds, the interface, f not finite at the nominal point).

This one is a unicycle whose wheels are not quite calibrated: the speed and turn rate it
achieves are the commanded ones times two gains, which are parameters (an estimator can fit
them, a simulator can be given other values).
"""
from typing import Literal

import casadi as ca
from pydantic import Field

from casadi_mpc.core.models import Model, ModelOptions, SafeCommand, Signal, STRUCTURAL
from casadi_mpc.core.models import interface as itf


class Options(ModelOptions):
    """The model's options: the ``model`` section of the parameter file (``model.<field>``
    parameters of the node). ``name`` must default to the model's name."""

    name: Literal['my_robot'] = 'my_robot'
    v_max: float = Field(1.0, gt=0, le=10, description='speed limit [m/s]',
                         json_schema_extra=STRUCTURAL)


def build(options: Options) -> Model:
    # states, inputs and parameters: name, unit, nominal value, bounds (inputs need finite
    # bounds that contain 0), angles wrapped
    states = (Signal('x', 'm'), Signal('y', 'm'), Signal('theta', 'rad', angle=True))
    inputs = (Signal('v', 'm/s', lower=-options.v_max, upper=options.v_max),
              Signal('omega', 'rad/s', lower=-2.0, upper=2.0))
    params = (Signal('speed_gain', '1', default=1.0), Signal('turn_gain', '1', default=1.0))

    # dynamics xdot = f(x, u, p) as a CasADi Function of (x, u, p)
    x, u, p = ca.SX.sym('x', 3), ca.SX.sym('u', 2), ca.SX.sym('p', 2)
    v, omega = p[0] * u[0], p[1] * u[1]
    xdot = ca.vertcat(v * ca.cos(x[2]), v * ca.sin(x[2]), omega)

    return Model(
        name='my_robot', kind='base', states=states, inputs=inputs, params=params,
        rhs=ca.Function('my_robot', [x, u, p], [xdot], ['x', 'u', 'p'], ['xdot']),
        position=(0, 1, 2),               # the configuration: x, y, theta
        safe=SafeCommand('zero'),         # stopping a velocity-commanded base: all zero
        interface=itf.Interface(
            # which channel of which message carries each state
            state=itf.odometry(x='position.x', y='position.y', theta='yaw'),
            # the command: a Twist whose linear.x is v and angular.z is omega
            command=itf.twist(linear_x='v', angular_z='omega'),
            # robot mode: our topics onto the driver's (ros2_control's diff_drive_controller)
            driver={'cmd_vel': '/diff_drive_controller/cmd_vel',
                    'odom': '/diff_drive_controller/odom'}),
    )
