"""Shared machinery of the asv suites: one isolated, measured snnbench run per parameter case.

asv measures one number per benchmark, in a process of its own. A simulator run yields many
(build, compile, sim and write time, peak memory, rates), so each case is run once, in a fresh
child process through snnbench's runner, and its record is cached for the duration of one
`asv run`: `setup_cache` only makes a fresh directory (asv calls it once per suite and run),
`setup` makes the run the first time a case is asked for and stores its record there, and
every `track_*` benchmark reads its figure from that record.

The full run records, with snnbench's provenance (machine, package versions, git revision),
are appended to results/asv/snnbench/runs.jsonl next to asv's own results
($SNNBENCH_ASV_RUN_STORE chooses another directory).
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# Scenario files come from this checkout (asv may run an installed wheel of another commit).
os.environ.setdefault("SNNBENCH_SCENARIOS", str(ROOT / "scenarios"))

RUN_STORE = Path(os.environ.get("SNNBENCH_ASV_RUN_STORE", ROOT / "results" / "asv" / "snnbench"))
SKIP_KINDS = ("unavailable", "unsupported")


def new_cache_dir() -> str:
    return tempfile.mkdtemp(prefix="snnbench-asv-")


def _case_file(cache_dir: str, case: dict) -> Path:
    key = hashlib.sha256(json.dumps(case, sort_keys=True).encode()).hexdigest()[:16]
    return Path(cache_dir) / f"{key}.json"


def measured_run(cache_dir: str, scenario: str, backend: str, n_pop: int | None, simtime: float | None,
                 threads: int = 1, fmt: str = "pickle", timeout: float = 1800.0, scale: float | None = None,
                 options: dict | None = None) -> dict:
    """The record of this case's run: made once per asv run, then read from the cache.
    None (n_pop, simtime): as the scenario says; `scale` is N_s; `options` the backend's."""
    case = dict(scenario=scenario, backend=backend, n_pop=n_pop, simtime=simtime, threads=threads, fmt=fmt,
                scale=scale, options=options or {})
    path = _case_file(cache_dir, case)
    if path.exists():
        record = json.loads(path.read_text())
    else:
        from snnbench.backends import backend_class
        from snnbench.runner import RunSpec, run_isolated
        from snnbench.scenario import Overrides
        from snnbench.store import ResultStore

        try:
            ok, why = backend_class(backend).available()
        except KeyError as exc:  # a backend this commit does not have
            ok, why = False, str(exc.args[0])
        if not ok:
            record = {"status": "failed", "failure": {"kind": "unavailable", "message": why}}
        else:
            spec = RunSpec(scenario=scenario, backend=backend, overrides=Overrides(N_pop=n_pop, scale=scale, simtime=simtime),
                           threads=threads, format=fmt, timeout=timeout, options=dict(options or {}))
            # Tagged, not a backend option: the backend runs exactly as `snnbench run` would.
            record = run_isolated(spec, ResultStore(RUN_STORE), tags={"asv": True}).to_dict()
        path.write_text(json.dumps(record))
    if record["status"] != "ok":
        failure = record.get("failure") or {}
        if failure.get("kind") in SKIP_KINDS:
            raise NotImplementedError(f"{backend} cannot run {scenario}: {failure.get('message')}")
        raise RuntimeError(f"{backend} on {scenario} failed: [{failure.get('kind')}] {failure.get('message')}")
    return record
