"""casadi_mpc: optimization nodes for robots, built on CasADi."""

__version__ = '0.1.0'
