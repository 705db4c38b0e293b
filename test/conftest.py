"""Shared test setup: the compiled-solver cache lives in a temp dir per test session."""
import os
import tempfile

os.environ.setdefault('CASADI_MPC_CACHE', tempfile.mkdtemp(prefix='casadi_mpc_test_cache_'))
os.environ.setdefault('MPLBACKEND', 'Agg')
