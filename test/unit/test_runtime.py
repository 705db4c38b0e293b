"""The node process's real-time scheduling option (in a child process: never the test's)."""
import os
import subprocess
import sys

import pytest

from casadi_mpc.ros.runtime import set_realtime

CHILD = '''
import os, sys, threading
from casadi_mpc.ros.runtime import set_realtime
started = threading.Thread(target=threading.Event().wait, daemon=True)
started.start()
failed = set_realtime(%d)
later = []
t = threading.Thread(target=lambda: later.append(os.sched_getscheduler(0)))
t.start(); t.join()
policies = []
for task in os.listdir('/proc/self/task'):
    try:
        policies.append(os.sched_getscheduler(int(task)))
    except ProcessLookupError:   # a thread that ended since the listing
        pass
print(repr((failed, policies, later[0], os.SCHED_FIFO)))
'''


def test_priority_zero_changes_nothing():
    before = os.sched_getscheduler(0)
    assert set_realtime(0) is None
    assert os.sched_getscheduler(0) == before


@pytest.mark.skipif(not hasattr(os, 'sched_setscheduler'), reason='no SCHED_FIFO here')
def test_all_threads_get_fifo_or_the_reason_why_not():
    out = subprocess.run([sys.executable, '-c', CHILD % 10], capture_output=True, text=True,
                         timeout=30, check=True).stdout
    failed, policies, later, fifo = eval(out)   # noqa: S307 - our own child's repr
    if failed is None:
        assert policies and all(p == fifo for p in policies)   # threads already running
        assert later == fifo                                    # and threads started later
    else:
        assert 'CAP_SYS_NICE' in failed   # not permitted here: the reason says what is missing
