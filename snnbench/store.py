"""The results store: JSON lines, one record per line, appended atomically.

    results/runs.jsonl          one record per measured run (ok or failed)
    results/validations.jsonl   one record per validation
    results/data/               spikes and v of each run, in the chosen format
    results/logs/               the output of each run's child process

An append takes an exclusive lock, writes the whole line with one write() and fsyncs. If a
previous writer died mid-line, the torn tail is closed with a newline first, so a new record
never fuses with it; readers skip (and report) lines that are not valid JSON. Records already
written are never rewritten.
"""

from __future__ import annotations

import fcntl
import json
import math
import os
import warnings
from pathlib import Path
from typing import Any, Iterator

import numpy as np


def _default(obj: Any) -> Any:
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, np.floating):
        return float(obj)
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


def _finite(obj: Any) -> Any:
    """JSON has no inf/nan: write them as null."""
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_finite(v) for v in obj]
    return obj


def dumps(record: dict[str, Any]) -> str:
    return json.dumps(_finite(record), default=_default, allow_nan=False, separators=(",", ":"))


def append_jsonl(path: Path, record: dict[str, Any]) -> None:
    """Append one record as one line, atomically with respect to other writers and crashes."""
    path.parent.mkdir(parents=True, exist_ok=True)
    line = (dumps(record) + "\n").encode()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        size = os.fstat(fd).st_size
        if size:
            with open(path, "rb") as fh:
                fh.seek(size - 1)
                if fh.read(1) != b"\n":
                    line = b"\n" + line  # close a line torn by a crashed writer
        os.write(fd, line)
        os.fsync(fd)
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def read_jsonl(path: Path) -> Iterator[dict[str, Any]]:
    if not path.exists():
        return
    with open(path, "rb") as fh:
        for number, raw in enumerate(fh, 1):
            raw = raw.strip()
            if not raw:
                continue
            try:
                yield json.loads(raw)
            except json.JSONDecodeError:
                warnings.warn(f"{path}:{number}: skipped a line that is not valid JSON (a torn write?)", stacklevel=2)


class ResultStore:
    def __init__(self, root: str | Path = "results"):
        self.root = Path(root)

    @property
    def runs_file(self) -> Path:
        return self.root / "runs.jsonl"

    @property
    def validations_file(self) -> Path:
        return self.root / "validations.jsonl"

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    @property
    def logs_dir(self) -> Path:
        return self.root / "logs"

    def append_run(self, record: dict[str, Any]) -> None:
        append_jsonl(self.runs_file, record)

    def append_validation(self, record: dict[str, Any]) -> None:
        append_jsonl(self.validations_file, record)

    def runs(self) -> list[dict[str, Any]]:
        return list(read_jsonl(self.runs_file))

    def validations(self) -> list[dict[str, Any]]:
        return list(read_jsonl(self.validations_file))
