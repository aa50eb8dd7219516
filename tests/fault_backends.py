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
        self.weights = np.where(self.receptor == 1, self.weights * 0.5, self.weights)
