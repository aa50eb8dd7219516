"""The memory of a process tree: each page counted once, whatever way a child was started."""

from __future__ import annotations

import subprocess
import sys
import time

import psutil

from snnbench.measure import descendants_memory_bytes

MiB = 2**20

# Holds 256 MiB, then starts short programs as Python's subprocess does (vfork, then exec):
# until its exec each child shows the parent's whole address space as its own.
SPAWNER = """
import subprocess, sys, time
import numpy as np
ballast = np.ones(2**25)
print("ready", flush=True)
deadline = time.monotonic() + 1.0
while time.monotonic() < deadline:
    subprocess.run(["uname", "-p"], capture_output=True)
"""


def test_a_child_sharing_the_parents_address_space_counts_nothing():
    proc = subprocess.Popen([sys.executable, "-c", SPAWNER], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "ready"
        parent = psutil.Process(proc.pid)
        naive_peak = counted_peak = 0
        while proc.poll() is None:
            naive = 0
            for child in parent.children(recursive=True):
                try:
                    naive += child.memory_info().rss
                except psutil.Error:
                    pass
            naive_peak = max(naive_peak, naive)
            counted_peak = max(counted_peak, descendants_memory_bytes(parent))
            time.sleep(0.001)
    finally:
        proc.kill()
        proc.wait()
    assert naive_peak > 256 * MiB, "a child was never seen in its shared moment: the test saw nothing"
    assert counted_peak < 32 * MiB
