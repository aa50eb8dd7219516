"""The child side of an isolated run: `python -m snnbench.worker SPEC RESULT PROGRESS`.

Runs the phases of one measured run in this fresh process and writes the run record to RESULT
(atomically). Before each phase it writes PROGRESS, so that if the process dies (segfault,
out-of-memory kill, timeout) the parent still knows which phase it died in and what the
earlier phases measured.
"""

from __future__ import annotations

import json
import os
import sys
import traceback
from pathlib import Path
from typing import Any

from . import io as snnio
from .summary import summarise
from .backends import backend_class
from .measure import PhaseMeter
from .provenance import provenance
from .scenario import Overrides, load_scenario, realise, resolve
from .store import dumps


def _write_atomic(path: Path, payload: dict[str, Any]) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(dumps(payload))
    os.replace(tmp, path)


def execute(spec: dict[str, Any], progress: Path | None = None) -> dict[str, Any]:
    """Run one measured run as described by `spec`; always returns a record (ok or failed)."""
    record: dict[str, Any] = {"status": "failed", "failure": None, "phases": {}, "translations": [], "backend_info": {}}
    backend = None
    cls = backend_class(spec["backend"])
    meter = PhaseMeter(sample_children=getattr(cls, "uses_child_processes", False))

    entered: list[str] = []  # the phase a failure happened in is the last one entered

    def enter(phase: str) -> Any:
        entered.append(phase)
        if progress is not None:
            _write_atomic(progress, {"phase": phase, "phases": meter.as_dict()})
        return meter.phase(phase)

    try:
        scenario = load_scenario(spec["scenario_file"])
        resolved = resolve(scenario, Overrides(**spec["overrides"]))
        ok, why = cls.available()
        if not ok:
            record["failure"] = {"kind": "unavailable", "message": why, "phase": None}
            return record
        backend = cls(threads=spec["threads"], options=spec.get("options"))
        problems = backend.supports(resolved, spec["connectivity"])
        if problems:
            record["failure"] = {"kind": "unsupported", "message": "; ".join(problems), "phase": None}
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
        with enter("write") as extra:
            files = backend.write_native(spec["format"], spec["data_stem"], annotations)
            extra["writer"] = "snnbench" if files is None else backend.name
            if files is None:
                files = snnio.write(output, spec["format"], spec["data_stem"], annotations)
            extra["bytes_written"] = sum(Path(f).stat().st_size for f in files)
        record.update(summarise(output, resolved))
        record["data"] = {"format": spec["format"], "files": files}
        record["status"] = "ok"
    except MemoryError:
        record["failure"] = {"kind": "oom", "message": "MemoryError: the backend ran out of memory", "phase": entered[-1] if entered else None,
                             "traceback": traceback.format_exc(limit=20)}
    except Exception as exc:  # noqa: BLE001 - every failure becomes a record
        record["failure"] = {"kind": "exception", "message": f"{type(exc).__name__}: {exc}", "phase": entered[-1] if entered else None,
                             "traceback": traceback.format_exc(limit=30)}
    finally:
        record["phases"] = meter.as_dict()
        if backend is not None:
            record["translations"] = backend.translations
            record["backend_info"] = backend.info
            for phase, stages in backend.phase_stages.items():
                if phase in record["phases"]:
                    record["phases"][phase]["stages"] = stages
            if backend.estimates:
                record["estimates"] = backend.estimates
            if backend.validation is not None:
                record["validation"] = backend.validation
            try:
                backend.close()
            except Exception:  # noqa: BLE001 - closing must not hide the run's own outcome
                pass
        record["provenance"] = provenance(spec["backend"])
    return record


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    spec_path, result_path, progress_path = (Path(a) for a in argv)
    spec = json.loads(spec_path.read_text())
    record = execute(spec, progress_path)
    _write_atomic(result_path, record)
    return 0 if record["status"] == "ok" else 1


if __name__ == "__main__":
    sys.exit(main())
