"""`snnbench validate`: does backend X reproduce reference Y on a scenario?

Every run the protocol needs is an ordinary isolated, measured run (recorded in runs.jsonl,
spikes written as Parquet). Runs already in the store of the same configuration
(`RunRecord.configuration_key`: scenario content, overrides with the seed, backend and its
version, machine, threads, connectivity, format and options), whose data files can still be
read, are reused, so that a reference computed once serves every candidate.

- Scenarios without recurrent connections between neurons (e.g. `single-neuron`): the exact
  tier, both backends in exact connectivity mode at the scenario's seed.
- Networks: the statistical tier over reference seeds 1..M and candidate seeds 101..100+N (in
  the chosen connectivity mode, native by default, so each backend builds its own networks),
  plus, for information, the time at which the rasters of one exact-mode pair first diverge.
  Every run of a scenario with plastic projections records their final weights
  (`Overrides.final_weights`), whose distributions are compared as one more statistic.
"""

from __future__ import annotations

import datetime as _dt
import os
from dataclasses import replace
from pathlib import Path
from typing import Any, Callable

from . import io as snnio
from .analysis.protocol import InsufficientReference, compare_exact, compare_statistical
from .analysis.statistics import run_statistics, run_weight_statistics
from .backends import backend_class
from .provenance import machine, provenance
from .record import RunRecord, configuration_key
from .runner import RunSpec, check_memory, run_isolated
from .scenario import Overrides, load_scenario, resolve
from .store import ResultStore

REFERENCE_SEED_BASE = 1
CANDIDATE_SEED_BASE = 101


class ValidationError(RuntimeError):
    """The validation could not be carried out (a run failed, a backend is unavailable)."""


def has_recurrence(scenario) -> bool:
    """True if any projection connects neurons to neurons."""
    cells = scenario.cell_populations
    return any(p.pre in cells and p.post in cells for p in scenario.projections)


def default_threads(backend: str) -> int:
    """Validation is not a timing: use the machine's cores, within what the backend allows."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    limit = backend_class(backend).max_threads
    return min(cores, limit) if limit else cores


def _reusable(store: ResultStore, spec: RunSpec, scenario_hash: str, version: str) -> RunRecord | None:
    """The latest ok run of the same configuration (`RunRecord.configuration_key`, seed included)
    on this machine whose data file can still be read."""
    wanted = configuration_key(
        scenario_hash=scenario_hash, overrides=spec.overrides.as_dict(), backend=spec.backend, backend_version=version,
        machine_id=machine()["machine_id"], threads=spec.threads, connectivity=spec.connectivity, format=spec.format,
        options=spec.options)
    for record in reversed(store.runs()):
        if (record.ok and record.configuration_key() == wanted and record.data_files and _readable(record.data_files[0])
                and all(Path(f).exists() for f in record.data_files[1:])):  # e.g. the weights' file
            return record
    return None


def _readable(path: str) -> bool:
    """Whether a stored data file can be read back (a damaged one is not reused: the run is redone)."""
    if not Path(path).exists():
        return False
    try:
        snnio.read_output(path)
    except Exception:  # noqa: BLE001 - pyarrow, neo and h5py each raise their own kinds
        return False
    return True


def _run(spec: RunSpec, store: ResultStore, scenario_hash: str, reuse: bool,
         progress: Callable[[str], None]) -> RunRecord:
    version = backend_class(spec.backend).version()
    if reuse:
        found = _reusable(store, spec, scenario_hash, version)
        if found:
            progress(f"  reuse  {spec.backend} seed {spec.overrides.seed}: run {found.run_id}")
            return found
    progress(f"  run    {spec.backend} seed {spec.overrides.seed} ({spec.connectivity}) ...")
    record = run_isolated(spec, store)
    if not record.ok:
        f = record.failure
        raise ValidationError(f"{spec.backend} seed {spec.overrides.seed} failed: [{f.kind if f else None}] {f.message if f else None}")
    return record


def _output(record: RunRecord):
    output = snnio.read_output(record.data_files[0])  # spikes and v
    for path in record.data_files[1:]:  # the recorded weights, where there are some
        if path.endswith(snnio.WEIGHTS_SUFFIX):
            output.weights.update(snnio.read_weights(path))
    return output


def _seed_statistics(record: RunRecord, transient: float):
    """(per population, per projection) statistics of one run."""
    output = _output(record)
    return run_statistics(output, transient), run_weight_statistics(output)


def validate(scenario_name: str, candidate: str, reference: str = "nest", *, seeds: int = 5, reference_seeds: int = 10,
             overrides: Overrides | None = None, threads: int | None = None, reference_threads: int | None = None,
             connectivity: str = "native", store: ResultStore | None = None, reuse: bool = True,
             options: dict[str, Any] | None = None, timeout: float = 3600.0, force: bool = False,
             progress: Callable[[str], None] = lambda msg: None) -> dict[str, Any]:
    """Run the protocol; return the validation record (also appended to the store)."""
    store = store or ResultStore()
    overrides = overrides or Overrides()
    if overrides.seed is not None:
        raise ValidationError("validation chooses its own seeds; do not pass --seed")
    scenario = load_scenario(scenario_name)
    user_overrides = overrides
    plastic = [p.label for p in scenario.projections if p.plastic]
    if plastic:  # every run records the plastic projections' final weights, for their distribution
        overrides = replace(overrides, final_weights=True)
    resolved = resolve(scenario, overrides)  # bad input fails here
    if not force:
        check_memory(resolved, None)  # a network that cannot fit: refused before any run (RunRefused)
    for name in (candidate, reference):
        ok, why = backend_class(name).available()
        if not ok:
            raise ValidationError(f"backend {name} is unavailable: {why}")
        its_options = dict(options or {}) if name == candidate else {}
        ok, why = backend_class(name).validation_possible(its_options)
        if not ok:
            raise ValidationError(f"backend {name}: {why}")
        problems = backend_class(name).scenario_problems(resolved, its_options)
        if problems:
            raise ValidationError(f"backend {name}: {'; '.join(problems)}")
    threads = threads or default_threads(candidate)
    reference_threads = reference_threads or default_threads(reference)
    base = dict(scenario=scenario_name, format="parquet", timeout=timeout, force=force)  # force: past the memory estimate
    cand_spec = RunSpec(backend=candidate, threads=threads, options=dict(options or {}), **base)
    ref_spec = RunSpec(backend=reference, threads=reference_threads, **base)
    record: dict[str, Any] = {
        "kind": "validation",
        "timestamp": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "scenario": scenario.id, "scenario_hash": resolved.hash, "overrides": user_overrides.as_dict(),
        "final_weights": plastic,
        "candidate": candidate, "candidate_version": backend_class(candidate).version(),
        "reference": reference, "reference_version": backend_class(reference).version(),
        "N_pop": resolved.N_pop, "simtime": resolved.simtime, "transient": scenario.run.transient,
        "provenance": provenance(candidate),
    }

    def spec_for(spec: RunSpec, seed: int, mode: str) -> RunSpec:
        return replace(spec, overrides=replace(overrides, seed=seed), connectivity=mode)

    if not has_recurrence(scenario):
        record["tier"] = "exact"
        progress(f"exact tier: {candidate} vs {reference} on {scenario.id} (exact connectivity, seed {resolved.seed})")
        y = _run(spec_for(ref_spec, resolved.seed, "exact"), store, resolved.hash, reuse, progress)
        x = _run(spec_for(cand_spec, resolved.seed, "exact"), store, resolved.hash, reuse, progress)
        result = compare_exact(_output(x), _output(y))
        record.update(runs={"reference": [y.run_id], "candidate": [x.run_id]}, exact=result.as_dict(),
                      passed=result.passed)
    else:
        record["tier"] = "statistical"
        record["connectivity"] = connectivity
        progress(f"statistical tier: {candidate} ({seeds} seeds) vs {reference} ({reference_seeds} seeds) on "
                 f"{scenario.id}, N = {resolved.N_pop}, {resolved.simtime:g} ms, transient {scenario.run.transient:g} ms")
        transient = scenario.run.transient
        ys = [_run(spec_for(ref_spec, REFERENCE_SEED_BASE + i, connectivity), store, resolved.hash, reuse, progress)
              for i in range(reference_seeds)]
        xs = [_run(spec_for(cand_spec, CANDIDATE_SEED_BASE + i, connectivity), store, resolved.hash, reuse, progress)
              for i in range(seeds)]
        y_stats, y_weights = zip(*[_seed_statistics(r, transient) for r in ys])
        x_stats, x_weights = zip(*[_seed_statistics(r, transient) for r in xs])
        try:
            result = compare_statistical(list(y_stats), list(x_stats), list(y_weights), list(x_weights))
        except InsufficientReference as exc:
            raise ValidationError(str(exc)) from None
        progress(f"  exact-mode pair at seed {resolved.seed}, for the raster divergence time (information only)")
        ey = _run(spec_for(ref_spec, resolved.seed, "exact"), store, resolved.hash, reuse, progress)
        ex = _run(spec_for(cand_spec, resolved.seed, "exact"), store, resolved.hash, reuse, progress)
        divergence = compare_exact(_output(ex), _output(ey)).first_divergence_ms
        record.update(
            runs={"reference": [r.run_id for r in ys], "candidate": [r.run_id for r in xs],
                  "divergence_pair": [ey.run_id, ex.run_id]},
            statistical=result.as_dict(), first_divergence_ms=divergence, passed=result.passed,
            summaries={"reference": [{p: s.summary() for p, s in st.items()} for st in y_stats],
                       "candidate": [{p: s.summary() for p, s in st.items()} for st in x_stats]},
            weight_summaries={"reference": [{p: s.summary() for p, s in st.items()} for st in y_weights],
                              "candidate": [{p: s.summary() for p, s in st.items()} for st in x_weights]},
        )
    record["verdict"] = "PASS" if record["passed"] else "FAIL"
    store.append_validation(record)
    return record
