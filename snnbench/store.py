"""The results store: JSON lines, one record per line, appended atomically.

    results/runs.jsonl          one record per measured run (ok or failed)
    results/validations.jsonl   one record per validation
    results/data/               spikes and v of each run, in the chosen format
    results/logs/               the output of each run's child process
    results/claims/             one file per sweep point being run now (see `ResultStore.claim`)

Writing. An append takes an exclusive lock, writes the whole line and fsyncs. If a previous
writer died mid-line, the torn tail is closed with a newline first, so a new record never fuses
with it. A write that fails or comes up short (a full disk, a quota) is undone under the lock:
the file is truncated back to its size before the append and `StoreError` is raised, so the
file is exactly as it was and the caller knows. Data files are written under a temporary name
(`data/.partial-RUN_ID/`) and renamed into `data/` only when complete; the partial folder is
removed on failure. Records already written are never rewritten.

Reading. Any byte sequence is accepted: a line that is not a valid record (not UTF-8, not
JSON, not an object, NUL bytes from a crash, or a record whose fields have the wrong type for
the readers) is skipped with one warning naming the file and line.
"""

from __future__ import annotations

import errno
import fcntl
import hashlib
import json
import math
import os
import shutil
import socket
import threading
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Literal

import numpy as np
from pydantic import ValidationError

from .interrupts import deferred
from .record import RecordPart, RunRecord, ValidationRecord, describe_problem

STAGING_PREFIX = ".partial-"


class StoreError(OSError):
    """A record or data file could not be written; the store is as it was before."""


class StoreWarning(UserWarning):
    """A line of a store that is not a valid record (skipped)."""


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


def dumps(record: dict[str, Any] | RecordPart) -> str:
    if isinstance(record, RecordPart):
        record = record.to_dict()
    return json.dumps(_finite(record), default=_default, allow_nan=False, separators=(",", ":"))


def append_jsonl(path: Path, record: dict[str, Any]) -> None:
    """Append one record as one line, atomically with respect to other writers and crashes.

    Raises StoreError (the file unchanged) if the line cannot be written whole.
    """
    path = Path(path)
    line = (dumps(record) + "\n").encode()
    with deferred():
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o644)
        except OSError as exc:
            raise StoreError(exc.errno, f"cannot write a record to {path}: {exc.strerror or exc}") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            size = os.fstat(fd).st_size
            if size and os.pread(fd, 1, size - 1) != b"\n":
                line = b"\n" + line  # close a line torn by a crashed writer
            try:
                written = 0
                while written < len(line):  # os.write may write less than asked (a signal, a quota)
                    n = os.write(fd, line[written:])
                    if n == 0:
                        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
                    written += n
                os.fsync(fd)
            except OSError as exc:
                os.ftruncate(fd, size)  # undo the partial line: the file is as it was
                try:
                    os.fsync(fd)
                except OSError:
                    pass
                raise StoreError(exc.errno, f"cannot write a record to {path}: {exc.strerror or exc}; "
                                 "the file is unchanged") from None
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)


def _objects(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, object) for every line of `path` that is a JSON object; others warned about."""
    path = Path(path)
    try:
        fh = open(path, "rb")
    except FileNotFoundError:
        return
    except OSError as exc:
        warnings.warn(f"{path}: cannot be read ({exc.strerror or exc}); no records from it", StoreWarning, stacklevel=3)
        return
    with fh:
        for number, raw in enumerate(fh, 1):
            raw = raw.strip()
            if not raw:
                continue
            why = None
            try:
                value = json.loads(raw.decode("utf-8"))
            except UnicodeDecodeError:
                why = "not UTF-8 text (a crash or disk fault?)"
            except (json.JSONDecodeError, RecursionError):
                why = "not valid JSON (a torn write?)" if b"\x00" not in raw else "NUL bytes (a crash or power loss?)"
            else:
                if not isinstance(value, dict):
                    why = f"a JSON {type(value).__name__}, not a record (an object)"
            if why:
                warnings.warn(f"{path}:{number}: skipped a line: {why}", StoreWarning, stacklevel=3)
                continue
            yield number, value


def read_jsonl(path: Path) -> Iterator[dict[str, Any]]:
    """Every line of `path` that is a JSON object; any other line is skipped with a warning."""
    for _, value in _objects(path):
        yield value


# ------------------------------------------------------------------ record shapes
# What the readers (table, fit, report, validate, sweep resume) rely on is the record model
# itself (snnbench.record): fields that must be there, and the types of fields that may be.
# Unknown fields pass; strict: "1.5" is not a number.


def read_records(path: Path, kind: Literal["run", "validation"]) -> list[RunRecord] | list[ValidationRecord]:
    """The valid records of `path` as typed records; every other line is skipped with one warning (file:line, why)."""
    out = []
    path = Path(path)
    model = ValidationRecord if kind == "validation" else RunRecord
    for number, value in _objects(path):
        try:
            out.append(model.model_validate(value))
        except ValidationError as exc:
            warnings.warn(f"{path}:{number}: skipped a {kind} record with a wrong shape ({describe_problem(exc)})",
                          StoreWarning, stacklevel=2)
    return out


# ------------------------------------------------------------------ data files


def staging_dir(data_dir: Path, run_id: str) -> Path:
    """Where a run's data files are written before they are complete."""
    return Path(data_dir) / f"{STAGING_PREFIX}{run_id}"


def publish_staged(staged: Path, files: list[str]) -> list[str]:
    """Move a run's complete files from its staging folder into data/; return their new paths.

    If any move fails, the files already moved go back to being removed with the staging folder,
    and StoreError is raised.
    """
    staged = Path(staged)
    final_dir = staged.parent
    moved: list[Path] = []
    with deferred():
        try:
            for f in files:
                src = Path(f)
                dst = final_dir / src.name
                os.replace(src, dst)
                moved.append(dst)
        except OSError as exc:
            for dst in moved:
                dst.unlink(missing_ok=True)
            raise StoreError(exc.errno, f"cannot move data files into {final_dir}: {exc.strerror or exc}") from None
        finally:
            shutil.rmtree(staged, ignore_errors=True)
    return [str(p) for p in moved]


def discard_staged(data_dir: Path, run_id: str) -> None:
    shutil.rmtree(staging_dir(data_dir, run_id), ignore_errors=True)


# ------------------------------------------------------------------ claims

CLAIM_HEARTBEAT_S = 30.0
CLAIM_STALE_AFTER_S = 300.0  # another host's claim without a heartbeat for this long is taken over


def _process_start(pid: int) -> float | None:
    """The start time of process `pid` (None if there is none): tells a live owner from a reused pid."""
    try:
        import psutil

        return psutil.Process(pid).create_time()
    except Exception:  # noqa: BLE001 - psutil.NoSuchProcess, AccessDenied...
        return None


@dataclass
class Claim:
    """A sweep point reserved by this process; `release()` it after its record is appended."""

    path: Path
    key: str
    info: dict[str, Any]
    _stop: threading.Event = field(default_factory=threading.Event, repr=False)
    _beat: threading.Thread | None = field(default=None, repr=False)

    def _heartbeat(self) -> None:
        while not self._stop.wait(CLAIM_HEARTBEAT_S):
            try:
                os.utime(self.path)
            except OSError:
                return

    def start_heartbeat(self) -> None:
        self._beat = threading.Thread(target=self._heartbeat, name="snnbench-claim-heartbeat", daemon=True)
        self._beat.start()

    def release(self) -> None:
        self._stop.set()
        try:
            current = json.loads(self.path.read_text())
        except (OSError, ValueError):
            return
        if current.get("token") == self.info["token"]:  # still ours (not taken over as stale)
            self.path.unlink(missing_ok=True)

    def __enter__(self) -> Claim:
        return self

    def __exit__(self, *exc) -> None:
        self.release()


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

    @property
    def claims_dir(self) -> Path:
        return self.root / "claims"

    def append_run(self, record: RunRecord | dict[str, Any]) -> None:
        append_jsonl(self.runs_file, record)

    def append_validation(self, record: dict[str, Any]) -> None:
        append_jsonl(self.validations_file, record)

    def runs(self) -> list[RunRecord]:
        """Every valid run record (a line that is not one is skipped with a warning)."""
        return read_records(self.runs_file, "run")

    def validations(self) -> list[ValidationRecord]:
        return read_records(self.validations_file, "validation")

    def claim(self, point_key: str) -> Claim | None:
        """Reserve `point_key` for this process; None if a live owner holds it.

        The claim is a file in claims/ (named by the key's hash) holding the key, host, pid and
        the owner's start time, created under an exclusive lock on claims/.lock. An existing
        claim is taken over when its owner is gone: on this host, when its pid no longer runs
        (or runs a different process: its start time differs); from another host, when its
        heartbeat (the file's mtime, refreshed every CLAIM_HEARTBEAT_S by the owner) is older
        than CLAIM_STALE_AFTER_S. Release the claim after the point's record is appended.
        """
        self.claims_dir.mkdir(parents=True, exist_ok=True)
        path = self.claims_dir / (hashlib.sha256(point_key.encode()).hexdigest()[:32] + ".json")
        host, pid = socket.gethostname(), os.getpid()
        info = {"key": point_key, "host": host, "pid": pid, "process_start": _process_start(pid),
                "claimed_at": time.time(), "token": os.urandom(8).hex()}
        lock_fd = os.open(self.claims_dir / ".lock", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(lock_fd, fcntl.LOCK_EX)
            if path.exists() and not self._claim_is_stale(path):
                return None
            tmp = path.with_name(f"{path.name}.{host}.{pid}.tmp")
            tmp.write_text(json.dumps(info))
            os.replace(tmp, path)
        finally:
            fcntl.flock(lock_fd, fcntl.LOCK_UN)
            os.close(lock_fd)
        claim = Claim(path=path, key=point_key, info=info)
        claim.start_heartbeat()
        return claim

    @staticmethod
    def _claim_is_stale(path: Path) -> bool:
        try:
            owner = json.loads(path.read_text())
            age = time.time() - path.stat().st_mtime
        except FileNotFoundError:
            return True
        except (OSError, ValueError):
            return True  # an unreadable claim (a torn write) cannot be honoured
        if not isinstance(owner, dict):
            return True
        if owner.get("host") == socket.gethostname():
            pid = owner.get("pid")
            if not isinstance(pid, int):
                return True
            started = _process_start(pid)
            if started is None:
                return True
            recorded = owner.get("process_start")
            return isinstance(recorded, (int, float)) and abs(started - recorded) > 1.0
        return age > CLAIM_STALE_AFTER_S
