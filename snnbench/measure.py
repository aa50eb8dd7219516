"""Measuring one phase: wall time, CPU time and peak resident memory.

Peak memory per phase: on Linux the kernel's high-water mark (VmHWM) is reset at the start of
each phase by writing 5 to /proc/self/clear_refs, so each phase reports its own peak, not the
run's. Where that is not possible, a thread samples RSS every few milliseconds instead.
Backends that run their simulation in a child process (Brian2 standalone) also get their
children's memory sampled, and their CPU time counted (RUSAGE_CHILDREN). The sampling thread's
own CPU time is not the phase's: it is taken out of `cpu_s` and reported as `sampler_cpu_s`
(about 0.28 s per second of phase when it samples a child here, the /proc reads of each sample;
it was a quarter of Brian2 standalone's sim-phase CPU time on VA COBA).

The memory of a process tree (`tree_memory_bytes`) is the root's resident set plus each
descendant's own memory. A descendant that runs the root's executable may be a fork of it, which
shares every page of the root copy-on-write until it writes one: its resident set would count the
root a second time (a child forked from a 3 GiB worker, to run `git` say, is 3 GiB resident
without a byte of its own), so it counts by its unique set (USS: the pages no other process
maps; /proc/PID/smaps_rollup, about 4 ms to read for 200 MiB here, so only where needed). Any
other program (Brian2's compiled binary, a compiler) has an address space of its own and counts
by its resident set, as before. A vfork()ed child, in the moment before its exec, shares the root's
address space outright (it shows the root's counters): it counts nothing. Python's subprocess
starts every program that way (measured: `uname -p` and `git`, run at the end for the record's
provenance, each showed the whole worker once more when sampled in that moment).
"""

from __future__ import annotations

import os
import resource
import threading
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from typing import Any, Iterator

import psutil

_CLEAR_REFS = "/proc/self/clear_refs"
_STATUS = "/proc/self/status"


def _read_hwm_bytes() -> int | None:
    try:
        with open(_STATUS) as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def _reset_hwm() -> bool:
    try:
        with open(_CLEAR_REFS, "w") as fh:
            fh.write("5")
        return True
    except OSError:
        return False


def hwm_reset_supported() -> bool:
    return _reset_hwm() and _read_hwm_bytes() is not None


@dataclass
class PhaseResult:
    wall_s: float
    cpu_s: float
    peak_rss_bytes: int
    children_peak_rss_bytes: int = 0
    extra: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out.update(out.pop("extra"))
        if not out["children_peak_rss_bytes"]:
            del out["children_peak_rss_bytes"]
        return out


_SAME_SPACE_BYTES = 2**20  # a child whose counters are the root's within this shares its address space


def _own_bytes(proc: psutil.Process, root_exe: str | None, root: Any) -> int:
    """A descendant's own memory: 0 while it shares the root's address space (vfork), its unique
    set when it runs the root's executable (maybe a fork sharing the root's pages), else its
    resident set. `root`: the root's memory_info()."""
    try:
        same_exe = root_exe is not None and proc.exe() == root_exe
    except psutil.AccessDenied:
        same_exe = False
    info = proc.memory_info()
    if not same_exe:
        return int(info.rss)
    if root is not None and info.vms == root.vms and abs(info.rss - root.rss) <= _SAME_SPACE_BYTES:
        return 0
    try:
        return int(proc.memory_full_info().uss)
    except (psutil.AccessDenied, AttributeError, NotImplementedError):
        return int(info.rss)


def descendants_memory_bytes(proc: psutil.Process) -> int:
    """The memory the descendants of `proc` hold on top of it (see the module docstring)."""
    try:
        children = proc.children(recursive=True)
    except psutil.Error:
        return 0
    try:
        root_exe, root = proc.exe(), proc.memory_info()
    except psutil.Error:
        root_exe, root = None, None
    total = 0
    for child in children:
        try:
            total += _own_bytes(child, root_exe, root)
        except psutil.Error:  # ended in between
            pass
    return total


def tree_memory_bytes(proc: psutil.Process) -> int:
    """The memory of `proc` and its descendants, each page counted once (see the module docstring)."""
    try:
        own = proc.memory_info().rss
    except psutil.Error:
        return 0
    return int(own) + descendants_memory_bytes(proc)


class _Sampler(threading.Thread):
    """Samples RSS of this process (when HWM cannot be reset) and/or its descendants' own memory."""

    def __init__(self, sample_self: bool, sample_children: bool, interval: float):
        super().__init__(daemon=True)
        self.proc = psutil.Process()
        self.sample_self, self.sample_children, self.interval = sample_self, sample_children, interval
        self.self_peak = 0
        self.children_peak = 0
        self.cpu_s = 0.0  # this thread's own CPU time, taken out of the phase's (see `PhaseMeter.phase`)
        self._halt = threading.Event()

    def sample(self) -> None:
        if self.sample_self:
            self.self_peak = max(self.self_peak, self.proc.memory_info().rss)
        if self.sample_children:
            self.children_peak = max(self.children_peak, descendants_memory_bytes(self.proc))

    def run(self) -> None:
        t0 = time.thread_time()
        try:
            while not self._halt.wait(self.interval):
                self.sample()
        finally:
            self.cpu_s = time.thread_time() - t0

    def stop(self) -> None:
        self._halt.set()
        self.join()
        self.sample()


class PhaseMeter:
    """Times named phases; `phases` maps each name to its PhaseResult."""

    def __init__(self, sample_children: bool = False, interval: float = 0.005):
        self.phases: dict[str, PhaseResult] = {}
        self.use_hwm = hwm_reset_supported()
        self.sample_children = sample_children
        self.interval = interval

    @contextmanager
    def phase(self, name: str) -> Iterator[dict[str, Any]]:
        """Measure the body as phase `name`; the yielded dict takes extra figures for the record."""
        extra: dict[str, Any] = {}
        sampler = None
        if not self.use_hwm or self.sample_children:
            sampler = _Sampler(not self.use_hwm, self.sample_children, self.interval)
            sampler.sample()
            sampler.start()
        if self.use_hwm:
            _reset_hwm()
        children0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu0, wall0 = time.process_time(), time.perf_counter()
        try:
            yield extra
        finally:
            wall = time.perf_counter() - wall0
            cpu = time.process_time() - cpu0
            children1 = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpu += (children1.ru_utime - children0.ru_utime) + (children1.ru_stime - children0.ru_stime)
            if sampler is not None:
                sampler.stop()
                # The sampler's reads of /proc (a child's smaps_rollup, every few ms) are the
                # measurement's CPU, not the phase's: about 0.28 s per second of a phase here.
                cpu = max(0.0, cpu - sampler.cpu_s)
                extra["sampler_cpu_s"] = sampler.cpu_s
            peak = _read_hwm_bytes() if self.use_hwm else sampler.self_peak
            self.phases[name] = PhaseResult(
                wall_s=wall, cpu_s=cpu, peak_rss_bytes=int(peak or 0),
                children_peak_rss_bytes=int(sampler.children_peak) if sampler is not None else 0, extra=extra,
            )

    def as_dict(self) -> dict[str, dict[str, Any]]:
        return {name: result.as_dict() for name, result in self.phases.items()}

    def peak_rss_bytes(self) -> int:
        return max((r.peak_rss_bytes + r.children_peak_rss_bytes for r in self.phases.values()), default=0)


def current_rss_bytes() -> int:
    return psutil.Process(os.getpid()).memory_info().rss
