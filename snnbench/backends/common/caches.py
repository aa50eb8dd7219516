"""snnbench's cache directory for the code a simulator generates and compiles, and its cold variant.

Every code-generating adapter keeps its compiled code under one root, so that a warm run finds it
and `rm -rf` of one directory empties them all: $SNNBENCH_CACHE_DIR, else
$XDG_CACHE_HOME/snnbench, else ~/.cache/snnbench; one subdirectory per simulator. A cold run
(option cache="cold") compiles into a fresh, empty directory under `<simulator>/cold`, which the
adapter removes when it closes.
"""

from __future__ import annotations

import os
import tempfile
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
