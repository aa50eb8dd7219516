"""Ends a measured run whose `snnbench` parent died, and removes what it leaves behind.

`python -m snnbench.orphan_guard PARENT_PID WORKER_PID PATH...` is started by the worker in a
session of its own and forks away at once, so that it is not the worker's child: it is neither
measured with the worker (memory, CPU) nor killed with its process group. It waits for either
process to end:

- the worker ends first: the parent is alive and does its own clean-up; the guard exits;
- the parent ends first (SIGKILL, a crash, a closed terminal): nothing will ever read the
  worker's result, so the guard kills the worker's process group (the worker and anything it
  started, e.g. a compiled simulator), then removes PATH... (the work dir, the data staging
  folder) and exits.

The worker also asks the kernel to SIGKILL it when its parent dies (PR_SET_PDEATHSIG, Linux);
the guard is what cleans up, and the fallback where that is not available. Only the standard
library is imported: the guard must start fast and stay small.
"""

from __future__ import annotations

import os
import select
import shutil
import signal
import sys
import time

_POLL_S = 0.2
_PARENT_GRACE_S = 1.0


def _pidfd(pid: int) -> int | None:
    try:
        return os.pidfd_open(pid)
    except (AttributeError, OSError):
        return None


def _alive(pid: int) -> bool:
    """Running: not gone and not a zombie (a killed parent stays a zombie until it is reaped)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            return fh.read().rsplit(b")", 1)[1].split()[0] != b"Z"
    except (OSError, IndexError):
        return True


def _wait_first(parent: int, worker: int) -> str:
    """'parent' or 'worker': whichever ends first."""
    fds = {fd: who for who, fd in (("parent", _pidfd(parent)), ("worker", _pidfd(worker))) if fd is not None}
    poller = select.poll()
    for fd in fds:
        poller.register(fd, select.POLLIN)
    while True:
        for fd, _ in poller.poll(_POLL_S * 1000):
            return fds[fd]
        # pids without a pidfd (old kernels) are polled
        if "parent" not in fds.values() and not _alive(parent):
            return "parent"
        if "worker" not in fds.values() and not _alive(worker):
            return "worker"


def guard(parent: int, worker: int, paths: list[str]) -> int:
    if _wait_first(parent, worker) == "worker":
        # A parent killed with SIGKILL takes its worker with it (PR_SET_PDEATHSIG): the two
        # deaths race, so the worker's may be seen first. Give the parent a moment to show it.
        deadline = time.monotonic() + _PARENT_GRACE_S
        while _alive(parent):
            if time.monotonic() > deadline:
                return 0  # the parent lives and cleans up after its worker itself
            time.sleep(0.02)
    try:
        os.killpg(worker, signal.SIGKILL)  # the worker leads its own process group
    except (ProcessLookupError, PermissionError):
        pass
    deadline = time.monotonic() + 5.0
    while _alive(worker) and time.monotonic() < deadline:  # until it is really gone (or reaped)
        time.sleep(0.02)
    for path in paths:
        shutil.rmtree(path, ignore_errors=True)
    return 0


def main(argv: list[str]) -> int:
    parent, worker, *paths = argv
    if os.fork() > 0:
        os._exit(0)  # the worker reaps this one at once; the guard lives on as nobody's child
    return guard(int(parent), int(worker), paths)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
