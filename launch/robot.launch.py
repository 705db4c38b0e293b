"""The controller on a real robot: mpc_node remapped onto the ros2_control controllers.

ros2 launch casadi_mpc robot.launch.py robot:=diff_drive remaps:=odom:=/odometry/filtered
"""
from casadi_mpc.launch_description import generate


def generate_launch_description():
    return generate('robot')
