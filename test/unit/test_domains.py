"""Per-test ROS domains: distinct across concurrent test runs, following the run's own id."""
import subprocess
import sys

from casadi_mpc.loopback import Domain, DOMAINS


def test_domains_follow_the_base_and_are_never_shared():
    # (another test run on the machine may hold some ids: only relations are asserted)
    a, b = Domain(base=200), Domain(base=200)
    assert 200 < a.id < b.id
    # another process (a second test run) skips the ids this one holds
    other = subprocess.run([sys.executable, '-c', 'from casadi_mpc.loopback import Domain; '
                            'print(Domain(base=200).id)'], capture_output=True, text=True,
                           check=True)
    assert int(other.stdout) not in (a.id, b.id)
    a.release()
    c = Domain(base=a.id - 1)
    assert c.id == a.id or c.id > b.id   # a's id is free again (unless taken meanwhile)
    b.release()
    c.release()


def test_the_search_wraps_within_the_valid_ids():
    d = Domain(base=DOMAINS[-1])
    assert d.id in DOMAINS
    d.release()
