"""The child side of an isolated run: `python -m snnbench.worker SPEC RESULT PROGRESS`.

Runs the phases of one measured run in this fresh process and writes the run record to RESULT
(atomically). Before each phase it writes PROGRESS, so that if the process dies (segfault,
out-of-memory kill, timeout) the parent still knows which phase it died in and what the
earlier phases measured. A backend that simulates in chunks (numba) adds the simulated ms, the
total and an ETA to PROGRESS through `backend.on_progress`; the parent shows them.

Its data files are written into a staging folder (`data/.partial-RUN_ID/`) and moved into
`data/` only when complete. If the parent `snnbench` dies, the kernel kills this process
(PR_SET_PDEATHSIG) and `snnbench.orphan_guard` kills what it started and removes its work dir
and staging folder: a run nobody will record leaves nothing behind.
"""

from __future__ import annotations

import ctypes
import json
import os
import signal
import subprocess
import sys
import threading
import traceback
from pathlib import Path
from typing import Any

from . import io as snnio
from .summary import summarise
from .backends import backend_class
from .measure import PhaseMeter
from .provenance import provenance
from .record import ChildResult, Data, Failure, Phase
from .scenario import Overrides, load_scenario, realise, resolve
from .store import discard_staged, dumps, publish_staged, staging_dir

_PR_SET_PDEATHSIG = 1


def _write_atomic(path: Path, payload: dict[str, Any] | ChildResult) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(dumps(payload))
    os.replace(tmp, path)


def execute(spec: dict[str, Any], progress: Path | None = None) -> ChildResult:
    """Run one measured run as described by `spec`; always returns its result (ok or failed).

    The runner puts it into the run's record (`RunRecord.assemble`)."""
    record = ChildResult(status="failed")  # until every phase has run
    # Provenance runs git: forked now, while this process is small, not from the full network's
    # pages at the end, where the fork's copy-on-write view of them would be sampled as memory.
    run_provenance = provenance(spec["backend"])
    backend = None
    cls = backend_class(spec["backend"])
    meter = PhaseMeter(sample_children=getattr(cls, "uses_child_processes", False))

    entered: list[str] = []  # the phase a failure happened in is the last one entered
    last: dict[str, Any] = {}  # the last progress written (a report within a phase extends it)

    def enter(phase: str) -> Any:
        entered.append(phase)
        if progress is not None:
            last.clear()
            last.update({"phase": phase, "phases": meter.as_dict()})
            _write_atomic(progress, last)
        return meter.phase(phase)

    def report(done_ms: float, total_ms: float, eta_s: float) -> None:
        """A backend's progress within the sim phase (simulated ms of total, ETA), for the parent to show."""
        if progress is not None:
            last.update({"sim_ms": done_ms, "sim_total_ms": total_ms, "eta_s": eta_s})
            _write_atomic(progress, last)

    try:
        scenario = load_scenario(spec["scenario_file"])
        resolved = resolve(scenario, Overrides(**spec["overrides"]))
        ok, why = cls.available()
        if not ok:
            record.failure = Failure(kind="unavailable", message=why, phase=None)
            return record
        backend = cls(threads=spec["threads"], options=spec.get("options"))
        backend.on_progress = report  # used by backends that can report while they simulate
        problems = backend.supports(resolved, spec["connectivity"])
        if problems:
            record.failure = Failure(kind="unsupported", message="; ".join(problems), phase=None)
            return record
        with enter("import"):
            backend.load()
            snnio.prepare(spec["format"])
        if not cls.compile_after_build:
            with enter("compile"):
                backend.compile(resolved)
        network = None
        if spec["connectivity"] == "exact":
            with enter("realise"):
                network = realise(resolved)
        with enter("build"):
            backend.build(resolved, spec["connectivity"], network)
        if cls.compile_after_build:
            with enter("compile"):
                backend.compile(resolved)
        with enter("sim"):
            backend.run()
        with enter("collect"):
            output = backend.collect()
        annotations = {
            "scenario": resolved.id, "backend": spec["backend"], "run_id": spec["run_id"],
            "scenario_hash": resolved.hash, "seed": resolved.seed, "connectivity": spec["connectivity"],
        }
        final_stem = Path(spec["data_stem"])
        staged = staging_dir(final_stem.parent, spec["run_id"])
        stem = str(staged / final_stem.name)  # complete files are moved next to final_stem
        with enter("write") as extra:
            files = backend.write_native(spec["format"], stem, annotations)
            extra["writer"] = "snnbench" if files is None else backend.name
            if files is None:
                files = snnio.write(output, spec["format"], stem, annotations)
            if spec["format"] != "none":
                files = files + snnio.write_weights(output, stem)
            extra["bytes_written"] = sum(Path(f).stat().st_size for f in files)
            files = publish_staged(staged, files)  # also removes the (empty) staging folder of --format none
        figures = summarise(output, resolved)
        for name in figures.model_fields_set:
            setattr(record, name, getattr(figures, name))
        record.data = Data(format=spec["format"], files=files)
        record.status = "ok"
    except MemoryError:
        record.failure = Failure(kind="oom", message="MemoryError: the backend ran out of memory", phase=entered[-1] if entered else None,
                                 traceback=traceback.format_exc(limit=20))
    except Exception as exc:  # noqa: BLE001 - every failure becomes a record
        record.failure = Failure(kind="exception", message=f"{type(exc).__name__}: {exc}", phase=entered[-1] if entered else None,
                                 traceback=traceback.format_exc(limit=30))
    finally:
        if record.status != "ok" and "data_stem" in spec:
            discard_staged(Path(spec["data_stem"]).parent, spec["run_id"])
        phases = meter.as_dict()
        if backend is not None:
            record.translations = list(backend.translations)
            record.backend_info = dict(backend.info)
            for phase, stages in backend.phase_stages.items():
                if phase in phases:
                    phases[phase]["stages"] = stages
            if backend.estimates:
                record.estimates = backend.estimates
            if backend.validation is not None:
                record.validation = backend.validation
            try:
                backend.close()
            except Exception:  # noqa: BLE001 - closing must not hide the run's own outcome
                pass
        record.phases = {name: Phase.model_validate(figures, strict=False) for name, figures in phases.items()}
        record.provenance = run_provenance
    return record


def _die_with_parent(parent: int) -> None:
    """Ask the kernel to SIGKILL this process when the thread that started it ends (Linux)."""
    if os.environ.get("SNNBENCH_PDEATHSIG") != "1":
        return  # the parent started us from a thread that may end before it does (see runner)
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):
        return  # not Linux: the guard and the parent watch below still apply


def _watch_parent(parent: int, paths: list[str]) -> None:
    """Start the orphan guard; also end this process from a thread if the parent is gone."""
    try:  # -S: no site-packages scan, a faster start (PYTHONPATH names snnbench, see runner.child_env)
        subprocess.run([sys.executable, "-S", "-m", "snnbench.orphan_guard", str(parent), str(os.getpid()), *paths],
                       stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                       start_new_session=True, close_fds=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        pass  # no guard: the in-process watch still ends the worker

    def watch() -> None:
        while True:
            if os.getppid() != parent:
                os.killpg(os.getpgid(0), signal.SIGKILL)
            threading.Event().wait(0.5)

    threading.Thread(target=watch, name="snnbench-parent-watch", daemon=True).start()


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    spec_path, result_path, progress_path = (Path(a) for a in argv)
    spec = json.loads(spec_path.read_text())
    parent = int(os.environ.get("SNNBENCH_PARENT_PID", "0"))
    if parent:
        _die_with_parent(parent)
        if os.getppid() != parent:  # the parent died before prctl took effect
            return 3
        paths = [str(spec_path.parent)]
        if "data_stem" in spec:
            paths.append(str(staging_dir(Path(spec["data_stem"]).parent, spec["run_id"])))
        _watch_parent(parent, paths)
    record = execute(spec, progress_path)
    _write_atomic(result_path, record)
    return 0 if record.status == "ok" else 1


if __name__ == "__main__":
    sys.exit(main())
