"""snnbench's cache directory for the code a simulator generates and compiles, and its cold variant.

Every code-generating adapter keeps its compiled code under one root, so that a warm run finds it
and `rm -rf` of one directory empties them all: $SNNBENCH_CACHE_DIR, else
$XDG_CACHE_HOME/snnbench, else ~/.cache/snnbench; one subdirectory per simulator. A cold run
(option cache="cold") compiles into a fresh, empty directory under `<simulator>/cold`, which the
adapter removes when it closes (`ProjectDirectory`).
"""

from __future__ import annotations

import fcntl
import os
import shutil
import tempfile
import time
from pathlib import Path


def cache_root(simulator: str) -> Path:
    """snnbench's cache directory for one simulator's generated code (not created here)."""
    base = os.environ.get("SNNBENCH_CACHE_DIR")
    if not base:
        base = os.path.join(os.environ.get("XDG_CACHE_HOME") or os.path.join("~", ".cache"), "snnbench")
    return Path(base).expanduser() / simulator


def fresh_cache_dir(simulator: str, prefix: str) -> Path:
    """A new, empty directory for one cold run (the caller removes it)."""
    parent = cache_root(simulator) / "cold"
    parent.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=f"{prefix}-", dir=parent))


class ColdDirectories:
    """The fresh directories of one adapter's cold runs (`fresh_cache_dir`), removed together when
    it closes: for simulators that compile into a directory of their own choosing (Brian2's
    Cython modules and standalone projects, JAX's compilation cache) rather than a project."""

    def __init__(self, simulator: str):
        self.simulator = simulator
        self._paths: list[Path] = []

    def new(self, prefix: str) -> Path:
        path = fresh_cache_dir(self.simulator, prefix)
        self._paths.append(path)
        return path

    def remove(self) -> None:
        for path in self._paths:
            shutil.rmtree(path, ignore_errors=True)
        self._paths = []


class ProjectDirectory:
    """The directory one run compiles into: `cache_root(simulator)/key`, held with a lock until
    `release()` (a warm project is rebuilt in place and loaded from there: one run at a time), or,
    cold, a fresh directory that `release()` removes."""

    def __init__(self, simulator: str, key: str, cold: bool):
        self.cold = cold
        self.lock_wait_s = 0.0
        self._lock = None
        if cold:
            self.path = fresh_cache_dir(simulator, key.split("/")[0])
            return
        self.path = cache_root(simulator) / key
        self.path.mkdir(parents=True, exist_ok=True)
        self._lock = open(self.path.with_name(self.path.name + ".lock"), "w")
        t0 = time.perf_counter()
        fcntl.flock(self._lock, fcntl.LOCK_EX)
        self.lock_wait_s = time.perf_counter() - t0

    def release(self) -> None:
        if self._lock is not None:
            fcntl.flock(self._lock, fcntl.LOCK_UN)
            self._lock.close()
            self._lock = None
        if self.cold:
            shutil.rmtree(self.path, ignore_errors=True)
