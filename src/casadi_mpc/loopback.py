"""The one home of the loopback ROS environment: every ROS participant the package starts for
tests, the demo and the benchmarks stays on this machine, each run in a domain of its own.

ROS-free (no rclpy import): the runner, the demo, the test fixtures and the benchmarks use it.
"""
import fcntl
import os
import tempfile

# every ROS participant of a test run (the test process and its children) stays on loopback
LOOPBACK = {'ROS_AUTOMATIC_DISCOVERY_RANGE': 'LOCALHOST', 'ROS_STATIC_PEERS': '127.0.0.1',
            'PYTHONUNBUFFERED': '1', 'MPLBACKEND': 'Agg'}


# ROS domain ids whose Fast DDS ports are valid (7400 + 250 * id < 65536)
DOMAINS = range(1, 233)
LOCKS = os.path.join(tempfile.gettempdir(), 'casadi_mpc_domains')


class Domain:
    """A ROS domain id held for one test, machine-wide: a lock file per id, taken with flock, so
    concurrent test runs never share a domain (the lock goes with the process that held it).
    The search starts after the ROS_DOMAIN_ID of the environment (the run's own), so the ids a
    run uses follow the one it was given."""

    def __init__(self, base=None):
        if base is None:
            base = int(os.environ.get('ROS_DOMAIN_ID', '0') or 0)
        os.makedirs(LOCKS, exist_ok=True)
        start = DOMAINS.index(base + 1) if base + 1 in DOMAINS else 0
        for k in range(len(DOMAINS)):
            candidate = DOMAINS[(start + k) % len(DOMAINS)]
            handle = open(os.path.join(LOCKS, '%d.lock' % candidate), 'w')
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                handle.close()
                continue
            self.id, self._handle = candidate, handle
            return
        raise RuntimeError('every ROS domain id of %d..%d is in use on this machine'
                           % (DOMAINS[0], DOMAINS[-1]))

    def release(self):
        if self._handle is not None:
            self._handle.close()
            self._handle = None


_held = []


def domain_id():
    """A domain id of its own for the caller, held until the process ends (see Domain)."""
    _held.append(Domain())
    return _held[-1].id
