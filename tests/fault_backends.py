"""Backends that fail on purpose, to test that failures are recorded and nothing is lost."""

from __future__ import annotations

import os
import signal
import sys
import time

import numpy as np

from snnbench.backends.numba_native import NumbaBackend


class RaiseInBuild(NumbaBackend):
    name = "fault.raise"

    def build(self, resolved, mode, network):
        raise RuntimeError("deliberate failure in build")


class KillSelfInSim(NumbaBackend):
    name = "fault.kill"

    def run(self):
        os.kill(os.getpid(), signal.SIGKILL)


class SegfaultInSim(NumbaBackend):
    name = "fault.segv"

    def run(self):
        os.kill(os.getpid(), signal.SIGSEGV)


class HangInSim(NumbaBackend):
    name = "fault.hang"

    def run(self):
        time.sleep(600)


class MemoryHogInSim(NumbaBackend):
    name = "fault.hog"

    def run(self):
        hog = []
        for _ in range(64):  # up to 8 GiB, touched so that it is resident
            hog.append(np.ones(2**24))
            time.sleep(0.05)


class ForkInSim(NumbaBackend):
    """After its sim, holds 256 MiB and forks a child that allocates 32 MiB of its own and touches
    none of its parent's: what a tool started with fork (git, a compiler) looks like to the sampler."""

    name = "fault.fork"
    uses_child_processes = True  # the worker samples its descendants too

    def run(self):
        super().run()
        self.ballast = np.ones(2**25)  # 256 MiB, resident
        pid = os.fork()
        if pid == 0:
            own = np.ones(2**22)  # 32 MiB
            time.sleep(1.5 + 0 * own[0])
            os._exit(0)
        os.waitpid(pid, 0)


class ExitInSim(NumbaBackend):
    name = "fault.exit"

    def run(self):
        sys.stdout.write("about to exit without a result\n")
        sys.stdout.flush()
        os._exit(3)


class WrongWeights(NumbaBackend):
    """Simulates a different network (inhibition halved): validation must catch it."""

    name = "fault.wrong"

    def build(self, resolved, mode, network):
        super().build(resolved, mode, network)
        self.layout.scale_weights(1, 0.5)


class KillDaskWorkerOnce(NumbaBackend):
    """Kills the Dask worker that started this run (its parent), once: the marker file remembers.

    The marker is $SNNBENCH_TEST_KILL_MARKER; with no marker file yet, the run creates it, kills
    its parent with SIGKILL and exits; afterwards it runs as numba does.
    """

    name = "fault.killworker"
    always = False

    def run(self):
        marker = os.environ["SNNBENCH_TEST_KILL_MARKER"]
        if self.always or not os.path.exists(marker):
            with open(marker, "a") as fh:
                fh.write(f"{os.getppid()}\n")
            os.kill(os.getppid(), signal.SIGKILL)
            os._exit(9)
        super().run()


class KillDaskWorkerAlways(KillDaskWorkerOnce):
    """Kills every Dask worker that runs it: the point must end as a 'worker-lost' failure."""

    name = "fault.killworker.always"
    always = True
