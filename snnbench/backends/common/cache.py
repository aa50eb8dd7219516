"""snnbench's cache directory, where simulators keep generated and compiled code between runs."""

from __future__ import annotations

import os
from pathlib import Path


def cache_root(simulator: str) -> Path:
    """$SNNBENCH_CACHE_DIR/<simulator>, else $XDG_CACHE_HOME/snnbench/<simulator> or
    ~/.cache/snnbench/<simulator> (not created here)."""
    base = os.environ.get("SNNBENCH_CACHE_DIR")
    if not base:
        base = os.path.join(os.environ.get("XDG_CACHE_HOME") or os.path.join("~", ".cache"), "snnbench")
    return Path(base).expanduser() / simulator
