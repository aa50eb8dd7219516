"""Where a figure was measured: machine, software and source revision."""

from __future__ import annotations

import functools
import hashlib
import importlib.metadata
import os
import platform
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import psutil

# Packages whose versions go into every record (the backend's own are added by the runner).
CORE_PACKAGES = ("snnbench", "numpy", "scipy", "numba", "llvmlite", "neo", "quantities", "psutil", "pydantic")

def package_version(name: str) -> str | None:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


@functools.lru_cache(maxsize=1)
def machine() -> dict[str, Any]:
    info = {
        "hostname": socket.gethostname(),
        "cpu": _cpu_model(),
        "arch": platform.machine(),
        "cores_logical": psutil.cpu_count(logical=True),
        "cores_physical": psutil.cpu_count(logical=False),
        "ram_bytes": psutil.virtual_memory().total,
        "os": platform.platform(),
        "python": sys.version.split()[0],
        "python_implementation": platform.python_implementation(),
    }
    affinity = getattr(os, "sched_getaffinity", None)
    if affinity:
        info["cores_usable"] = len(affinity(0))
    info["machine_id"] = machine_id(info)
    return info


def machine_id(info: dict[str, Any]) -> str:
    """Stable id of a machine for comparing and resuming: host, CPU, cores and memory."""
    key = "|".join(str(info[k]) for k in ("hostname", "cpu", "cores_logical", "ram_bytes"))
    return hashlib.sha256(key.encode()).hexdigest()[:12]


def backend_packages(backend: str | None) -> tuple[str, ...]:
    """The packages behind a backend (its class's `packages`), reported with its runs."""
    if not backend:
        return ()
    from .backends import backend_class

    try:
        return backend_class(backend).provenance_packages()
    except (KeyError, ImportError, AttributeError):  # an extra backend that cannot be imported here
        return ()


def software(backend: str | None = None) -> dict[str, str | None]:
    names = list(CORE_PACKAGES) + list(backend_packages(backend))
    return {name: package_version(name) for name in dict.fromkeys(names)}


@functools.lru_cache(maxsize=1)
def git_revision() -> dict[str, Any]:
    """The snnbench source revision (None outside a git checkout) and whether it had local changes."""
    root = Path(__file__).resolve().parents[1]
    try:
        rev = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10)
        if rev.returncode != 0:
            return {"revision": None, "dirty": None}
        status = subprocess.run(
            ["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"], capture_output=True, text=True, timeout=10
        )
        return {"revision": rev.stdout.strip(), "dirty": bool(status.stdout.strip())}
    except (OSError, subprocess.SubprocessError):
        return {"revision": None, "dirty": None}


def provenance(backend: str | None = None) -> dict[str, Any]:
    return {"machine": machine(), "software": software(backend), "git": git_revision()}
