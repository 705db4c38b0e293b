"""Simulated robot and controller: sim_node + mpc_node on simulated time.

ros2 launch casadi_mpc sim.launch.py robot:=diff_drive real_time_factor:=2.0
"""
from casadi_mpc.launch_description import generate


def generate_launch_description():
    return generate('sim')
