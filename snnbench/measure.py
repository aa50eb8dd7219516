"""Measuring one phase: wall time, CPU time and peak resident memory.

Peak memory per phase: on Linux the kernel's high-water mark (VmHWM) is reset at the start of
each phase by writing 5 to /proc/self/clear_refs, so each phase reports its own peak, not the
run's. Where that is not possible, a thread samples RSS every few milliseconds instead.
Backends that run their simulation in a child process (Brian2 standalone) also get their
children's RSS sampled, and their CPU time counted (RUSAGE_CHILDREN).
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


class _Sampler(threading.Thread):
    """Samples RSS of this process (when HWM cannot be reset) and/or of its children."""

    def __init__(self, sample_self: bool, sample_children: bool, interval: float):
        super().__init__(daemon=True)
        self.proc = psutil.Process()
        self.sample_self, self.sample_children, self.interval = sample_self, sample_children, interval
        self.self_peak = 0
        self.children_peak = 0
        self._halt = threading.Event()

    def sample(self) -> None:
        if self.sample_self:
            self.self_peak = max(self.self_peak, self.proc.memory_info().rss)
        if self.sample_children:
            total = 0
            for child in self.proc.children(recursive=True):
                try:
                    total += child.memory_info().rss
                except psutil.Error:
                    pass
            self.children_peak = max(self.children_peak, total)

    def run(self) -> None:
        while not self._halt.wait(self.interval):
            self.sample()

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
