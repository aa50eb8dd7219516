"""The memory of a process tree: each page counted once, whatever way a child was started."""

from __future__ import annotations

import subprocess
import sys
import time

import psutil

from snnbench.measure import PhaseMeter, descendants_memory_bytes

MiB = 2**20

# Holds 256 MiB, then starts a short program again and again, as Python's subprocess does (vfork,
# then exec): until its exec the child shows the parent's whole address space as its own. A PATH
# of missing folders before the real ones makes that moment last (one failed exec per folder).
SPAWNER = """
import os, subprocess, sys
import numpy as np
ballast = np.ones(2**25)
path = os.pathsep.join([f"/nonexistent/snnbench-{k}" for k in range(2000)] + ["/usr/bin", "/bin"])
print("ready", flush=True)
while not sys.stdin.closed:
    subprocess.run(["true"], env={"PATH": path})
"""


def test_a_child_sharing_the_parents_address_space_counts_nothing():
    proc = subprocess.Popen([sys.executable, "-c", SPAWNER], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    seen_shared = 0  # samples in which a child showed the parent's pages (its resident set)
    counted_peak = 0
    try:
        assert proc.stdout.readline().strip() == "ready"
        parent = psutil.Process(proc.pid)
        deadline = time.monotonic() + 120.0  # a busy machine schedules the sampler seldom
        while seen_shared < 5 and time.monotonic() < deadline:
            naive = 0
            for child in parent.children(recursive=True):
                try:
                    naive += child.memory_info().rss
                except psutil.Error:
                    pass
            seen_shared += naive > 256 * MiB
            # sampled as often as the sum of resident sets, which saw the parent 5 times
            counted_peak = max(counted_peak, descendants_memory_bytes(parent))
    finally:
        proc.kill()
        proc.wait()
    assert seen_shared >= 5, "no child was seen in its shared moment: the test saw nothing"
    assert counted_peak < 32 * MiB


def test_the_memory_samplers_cpu_time_is_not_the_phases():
    # A phase that only waits for a sleeping child: what the process tree spent is almost
    # nothing, while the thread sampling the child's memory (every 5 ms) spends a fair share of
    # a core; that share is reported beside cpu_s, not inside it.
    meter = PhaseMeter(sample_children=True)
    with meter.phase("wait"):
        subprocess.run(["sleep", "0.5"], check=True)
    phase = meter.phases["wait"]
    sampler = phase.extra["sampler_cpu_s"]
    assert sampler > 0.0
    assert 0.0 <= phase.cpu_s < sampler
    assert "sampler_cpu_s" in phase.as_dict()
    # without children to sample, a sampler runs only where the kernel's high-water mark cannot be reset
    meter = PhaseMeter(sample_children=False)
    with meter.phase("wait"):
        subprocess.run(["sleep", "0.1"], check=True)
    assert ("sampler_cpu_s" in meter.phases["wait"].extra) == (not meter.use_hwm)
