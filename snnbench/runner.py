"""Isolated, measured runs: each in a fresh Python process, watched for time and memory.

NEST's kernel, Brian2's device, numba's threads, CUDA contexts and the allocator all carry
state from one run to the next, so every measured run happens in a new child process
(`snnbench.worker`). The parent validates the scenario first (bad input fails here, before
anything runs), then starts the child in its own session, and waits:

- past `timeout` seconds the whole process group is killed: a failed run, kind "timeout";
- above `memory_limit_bytes` of resident memory (the child and its descendants, each page once:
  `measure.tree_memory_bytes`) likewise: "oom";
- a child that dies on a signal (SIGKILL from the kernel's OOM killer, SIGSEGV, ...) or exits
  without writing its result: "crash" or "oom", with the phase it was in and its log's tail.

- SIGINT, SIGTERM or SIGHUP to snnbench (with `interrupts.handling_interrupts` active, as the command
  has it): the child's group is killed and the run recorded as failed, kind "interrupted",
  with the phases measured so far; then `Interrupted` is raised to the caller.

Every outcome, ok or failed, is appended to the store as one record; records already written
are untouched whatever happens to this run. Before any process starts, a network whose
estimated memory (`estimate_memory`) exceeds the memory limit or the machine's RAM is refused
(`RunRefused`), unless `force`. If snnbench itself dies, the child dies with it and leaves no
work dir or partial data (see `snnbench.worker` and `snnbench.orphan_guard`).
"""

from __future__ import annotations

import datetime as _dt
import json
import math
import os
import secrets
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable

import psutil

import snnbench

from .backends import backend_class
from .interrupts import Interrupted, deferred, take_pending
from .measure import tree_memory_bytes
from .provenance import provenance
from .record import ChildResult, Failure, RunRecord, ValidationError, describe_problem, new_timestamp
from .scenario import Overrides, ResolvedScenario, find_scenario, load_scenario, resolve
from .store import ResultStore, StoreError, discard_staged

DEFAULT_TIMEOUT_S = 3600.0
_LOG_TAIL_CHARS = 3000


def default_memory_limit() -> int:
    """90 % of physical memory: the run is stopped and recorded before the machine starts swapping."""
    return int(0.9 * psutil.virtual_memory().total)


class RunRefused(ValueError):
    """A run that is not started: bad settings, or a network too large for the memory limit."""


# The memory estimate is a floor, not a forecast: it refuses only networks that cannot fit.
# Measured here (docs/results.md): NEST about 57 and numba about 85 bytes per synapse, 92-230 MiB for an
# interpreter with a simulator loaded; every simulator stores at least a target index, a
# weight and a delay per synapse.
ESTIMATE_BASE_BYTES = 64 * 2**20
ESTIMATE_BYTES_PER_NEURON = 256
ESTIMATE_BYTES_PER_SYNAPSE = 40
ESTIMATE_BYTES_PER_V_SAMPLE = 8


@dataclass(frozen=True)
class MemoryEstimate:
    neurons: int
    sources: int
    synapses: float
    v_samples: float  # recorded membrane potential values (cells x steps)
    bytes: float

    def describe(self) -> str:
        return (f"{self.bytes / 2**30:.3g} GiB ({self.neurons:,} neurons, {self.sources:,} sources, "
                f"{self.synapses:.3g} synapses x {ESTIMATE_BYTES_PER_SYNAPSE} B, {self.v_samples:.3g} v samples)")


def estimate_memory(resolved: ResolvedScenario) -> MemoryEstimate:
    """A lower bound of the memory a run of `resolved` needs, from its sizes and synapse counts.

    bytes = 64 MiB + 256 B per neuron or source + 40 B per expected synapse + 8 B per recorded
    v sample (cells with v recorded x time steps). Spike recordings are not counted (they depend
    on the activity).
    """
    neurons = sum(p.size for p in resolved.cells.values())
    sources = sum(p.size for p in resolved.sources.values())
    synapses = float(resolved.expected_synapses())
    v_samples = float(sum(p.n_record_v for p in resolved.cells.values())) * resolved.n_steps
    total = (ESTIMATE_BASE_BYTES + ESTIMATE_BYTES_PER_NEURON * (neurons + sources)
             + ESTIMATE_BYTES_PER_SYNAPSE * synapses + ESTIMATE_BYTES_PER_V_SAMPLE * v_samples)
    return MemoryEstimate(neurons, sources, synapses, v_samples, total)


def check_memory(resolved: ResolvedScenario, memory_limit_bytes: int | None) -> None:
    """Raise RunRefused if the estimate exceeds the limit (default 90 % of RAM) or the RAM itself."""
    ram = psutil.virtual_memory().total
    limit = memory_limit_bytes if memory_limit_bytes is not None else default_memory_limit()
    estimate = estimate_memory(resolved)
    if estimate.bytes > min(limit, ram):
        which = (f"this machine's RAM ({ram / 2**30:.3g} GiB)" if ram <= limit
                 else f"the memory limit of {limit / 2**30:.3g} GiB")
        raise RunRefused(f"{resolved.id} at N_pop {resolved.N_pop:,} needs an estimated {estimate.describe()}, "
                         f"more than {which}; nothing was run (--force to try anyway, --memory-limit to change the limit)")


def _check_spec(spec: "RunSpec") -> None:
    if not (isinstance(spec.timeout, (int, float)) and math.isfinite(spec.timeout) and spec.timeout > 0):
        raise RunRefused(f"--timeout: expected a finite number of seconds > 0, got {spec.timeout!r}")
    limit = spec.memory_limit_bytes
    if limit is not None and not (isinstance(limit, (int, float)) and math.isfinite(limit) and limit > 0):
        raise RunRefused(f"--memory-limit: expected a finite size > 0, got {limit!r} bytes")
    if not isinstance(spec.threads, int) or spec.threads < 1:
        raise RunRefused(f"--threads: expected an integer >= 1, got {spec.threads!r}")


@dataclass
class RunSpec:
    """One measured run: what to run, where, and how it is written."""

    scenario: str
    backend: str = "numba"
    overrides: Overrides = field(default_factory=Overrides)
    threads: int = 1
    connectivity: str = "native"
    format: str = "pickle"
    options: dict[str, Any] = field(default_factory=dict)
    timeout: float = DEFAULT_TIMEOUT_S
    memory_limit_bytes: int | None = None
    force: bool = False  # run even if the memory estimate exceeds the limit


def new_run_id() -> str:
    now = _dt.datetime.now(_dt.timezone.utc).strftime("%Y%m%dT%H%M%S")
    return f"{now}-{secrets.token_hex(3)}"


def child_env(threads: int) -> dict[str, str]:
    env = dict(os.environ)
    # The worker dies with this process: by the kernel (PR_SET_PDEATHSIG, which fires when the
    # *thread* that started it ends, so only when that thread is the main one) and by its guard.
    env["SNNBENCH_PARENT_PID"] = str(os.getpid())
    env["SNNBENCH_PDEATHSIG"] = "1" if threading.current_thread() is threading.main_thread() else "0"
    for var in ("OMP_NUM_THREADS", "NUMBA_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        env[var] = str(threads)
    # The child must import this same snnbench, even when it runs from a source tree.
    package_root = str(Path(snnbench.__file__).resolve().parents[1])
    env["PYTHONPATH"] = os.pathsep.join([package_root] + [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p])
    env.setdefault("PYTHONUNBUFFERED", "1")
    return env


def _kill_group(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait()


class ProgressDisplay:
    """Shows where a long run is (phase; simulated ms of total and ETA) on stderr, read from the
    child's progress file: a live line on a terminal, else a plain line at most every
    `every_s` seconds. Runs shorter than `after_s` show nothing."""

    def __init__(self, path: Path, label: str, after_s: float = 5.0, every_s: float = 30.0):
        self.path, self.label, self.after_s, self.every_s = path, label, after_s, every_s
        self.start = time.monotonic()
        self.last_print = 0.0
        self.live = None

    def text(self) -> str | None:
        try:
            now = json.loads(self.path.read_text())
        except (OSError, ValueError):
            return None
        phase = now.get("phase")
        if not phase:
            return None
        line = f"{self.label}: {phase}"
        if phase == "sim" and "sim_ms" in now:
            line += f" {now['sim_ms']:.0f} / {now['sim_total_ms']:.0f} ms simulated, ETA {now['eta_s']:.0f} s"
        return line + f" ({time.monotonic() - self.start:.0f} s elapsed)"

    def update(self) -> None:
        elapsed = time.monotonic() - self.start
        if elapsed < self.after_s:
            return
        line = self.text()
        if line is None:
            return
        if sys.stderr.isatty():
            if self.live is None:
                from rich.console import Console

                self.live = Console(stderr=True).status(line)
                self.live.start()
            self.live.update(line)
        elif elapsed - self.last_print >= self.every_s:
            self.last_print = elapsed
            print(f"snnbench: {line}", file=sys.stderr, flush=True)

    def close(self) -> None:
        if self.live is not None:
            self.live.stop()


def _watch(proc: subprocess.Popen, timeout: float, memory_limit: int | None, poll: float = 0.25,
           display: ProgressDisplay | None = None) -> dict[str, Any]:
    """Wait for the child; kill it past its timeout or memory limit, or when snnbench is interrupted.

    Runs inside interrupts.deferred(): a SIGINT/SIGTERM is noticed here at the next poll.
    `display`, if given, shows the child's progress file at each poll.
    """
    start = time.monotonic()
    handle = psutil.Process(proc.pid)
    peak = 0
    while True:
        try:
            rc = proc.wait(timeout=poll)
            return {"how": "exited", "returncode": rc, "tree_peak_rss_bytes": peak}
        except subprocess.TimeoutExpired:
            pass
        except KeyboardInterrupt:  # a library caller without snnbench's signal handling
            _kill_group(proc)
            return {"how": "interrupted", "signum": signal.SIGINT, "returncode": proc.returncode, "tree_peak_rss_bytes": peak}
        signum = take_pending()
        if signum is not None:
            _kill_group(proc)
            return {"how": "interrupted", "signum": signum, "returncode": proc.returncode, "tree_peak_rss_bytes": peak}
        if display is not None:
            display.update()
        rss = tree_memory_bytes(handle)
        peak = max(peak, rss)
        if time.monotonic() - start > timeout:
            _kill_group(proc)
            return {"how": "timeout", "returncode": proc.returncode, "tree_peak_rss_bytes": peak}
        if memory_limit is not None and rss > memory_limit:
            _kill_group(proc)
            return {"how": "memory", "returncode": proc.returncode, "rss": rss, "tree_peak_rss_bytes": peak}


def _tail(path: Path) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return ""
    return text[-_LOG_TAIL_CHARS:]


def _signal_name(rc: int) -> str:
    try:
        return signal.Signals(-rc).name
    except ValueError:
        return f"signal {-rc}"


def _failure_from_outcome(outcome: dict[str, Any], progress: dict[str, Any], spec: RunSpec, log: Path) -> Failure:
    phase = progress.get("phase")
    where = f" in phase {phase!r}" if phase else ""
    how, rc = outcome["how"], outcome.get("returncode")
    if how == "interrupted":
        kind = "interrupted"
        message = f"snnbench received {signal.Signals(outcome['signum']).name}{where}; the run was stopped"
    elif how == "timeout":
        kind, message = "timeout", f"no result after the {spec.timeout:g} s timeout; killed{where}"
    elif how == "memory":
        kind = "oom"
        message = f"resident memory {outcome['rss'] / 2**30:.2f} GiB exceeded the limit of {spec.memory_limit_bytes / 2**30:.2f} GiB; killed{where}"
    elif rc is not None and rc < 0:
        name = _signal_name(rc)
        if name == "SIGKILL":
            kind, message = "oom", f"killed by SIGKILL{where} (most likely the kernel's out-of-memory killer)"
        else:
            kind, message = "crash", f"the backend process died on {name}{where}"
    else:
        kind, message = "crash", f"the backend process exited with status {rc}{where} without a result"
    return Failure(kind=kind, message=message, phase=phase, log_tail=_tail(log))


def preflight(spec: RunSpec) -> tuple[Path, Any, ResolvedScenario]:
    """Everything checked before a process starts: settings, scenario, overrides, memory.

    Raises RunRefused or ScenarioError (bad input: nothing is run); returns the scenario's
    file, model and resolved form.
    """
    _check_spec(spec)
    scenario_file = find_scenario(spec.scenario)
    scenario = load_scenario(scenario_file)
    resolved = resolve(scenario, spec.overrides)
    cls = backend_class(spec.backend)
    cls.check_options(spec.options)  # an OptionError (a ValueError): bad input
    problems = cls.scenario_problems(resolved, spec.options)
    if problems:  # a property of the scenario, not of a run: refused before anything starts
        raise RunRefused(f"{scenario_file}: {spec.backend} cannot run it: {'; '.join(problems)}")
    if not spec.force:
        check_memory(resolved, spec.memory_limit_bytes)
    return scenario_file, scenario, resolved


def run_isolated(spec: RunSpec, store: ResultStore, repeat: dict[str, Any] | None = None,
                 tags: dict[str, Any] | None = None) -> RunRecord:
    """Run `spec` in a fresh child process and append its record to `store`; return the record.

    `repeat` and `tags` (e.g. the sweep a run belongs to) are stored in the record as they are.
    """
    scenario_file, scenario, resolved = preflight(spec)
    cls = backend_class(spec.backend)
    if spec.memory_limit_bytes is None:
        spec.memory_limit_bytes = default_memory_limit()
    run_id = new_run_id()
    header: dict[str, Any] = {
        "kind": "run",
        "run_id": run_id,
        "timestamp": new_timestamp(),
        "scenario": scenario.id,
        "scenario_title": scenario.scenario.title,
        "scenario_file": str(scenario_file),
        "scenario_hash": resolved.hash,
        "overrides": spec.overrides.as_dict(),
        "backend": spec.backend,
        "backend_version": cls.version(),
        "connectivity": spec.connectivity,
        "threads": spec.threads,
        "format": spec.format,
        "options": spec.options,
        "timeout_s": spec.timeout,
        "repeat": repeat or None,
        "tags": tags or None,
    }
    store.logs_dir.mkdir(parents=True, exist_ok=True)
    log = store.logs_dir / f"{run_id}.log"
    # From here on a SIGINT/SIGTERM is held back: _watch notices it, stops the child, and the
    # run is recorded as interrupted before Interrupted reaches the caller.
    with deferred(), tempfile.TemporaryDirectory(prefix=f"snnbench-{run_id}-") as work:
        work_dir = Path(work)
        payload = {
            "run_id": run_id,
            "scenario_file": str(Path(scenario_file).resolve()),
            "overrides": asdict(spec.overrides),
            "backend": spec.backend,
            "threads": spec.threads,
            "connectivity": spec.connectivity,
            "format": spec.format,
            "options": spec.options,
            "data_stem": str((store.data_dir / run_id).resolve()),
        }
        spec_path, result_path, progress_path = (work_dir / n for n in ("spec.json", "result.json", "progress.json"))
        spec_path.write_text(json.dumps(payload))
        with open(log, "wb") as log_fh:
            proc = subprocess.Popen(
                [sys.executable, "-m", "snnbench.worker", str(spec_path), str(result_path), str(progress_path)],
                cwd=work_dir, env=child_env(spec.threads), stdin=subprocess.DEVNULL,
                stdout=log_fh, stderr=subprocess.STDOUT, start_new_session=True,
            )
            display = ProgressDisplay(progress_path, f"{spec.scenario} on {spec.backend}")
            try:
                outcome = _watch(proc, spec.timeout, spec.memory_limit_bytes, display=display)
            finally:
                display.close()
        discard_staged(store.data_dir, run_id)  # partial data of a child that did not finish
        progress = _read_json(progress_path)
        result = _child_result(_read_json(result_path) if outcome["how"] == "exited" else {}, log)
        if result is None:
            result = ChildResult(status="failed", failure=_failure_from_outcome(outcome, progress, spec, log),
                                 phases=_phases(progress.get("phases")), provenance=provenance(spec.backend))
        if result.status == "failed" and result.failure is not None and result.failure.log_tail is None:
            result.failure.log_tail = _tail(log)
        if result.status == "ok" and log.exists() and log.stat().st_size == 0:
            log.unlink()
        seen = dict(tree_peak_rss_bytes=outcome.get("tree_peak_rss_bytes"), log=str(log) if log.exists() else None,
                    simtime_ms=resolved.simtime)
        try:
            record = RunRecord.assemble(header, result, **seen)
        except ValidationError as exc:  # e.g. an "ok" result without its figures
            record = RunRecord.assemble(header, _wrong_shape(result.to_dict(), exc, log), **seen)
        try:
            store.append_run(record)
        except StoreError:
            # no record, no data: files nobody can find from the store would only mislead
            for f in record.data_files:
                Path(f).unlink(missing_ok=True)
            raise
    if outcome["how"] == "interrupted":
        raise Interrupted(outcome["signum"], f"run {run_id} recorded as failed [interrupted] in {store.runs_file}")
    return record


def _phases(value: Any) -> dict[str, Any]:
    """The phases a child reported in its progress file, those with a valid shape."""
    from .record import Phase

    phases = {}
    for name, figures in (value or {}).items() if isinstance(value, dict) else ():
        try:
            phases[name] = Phase.model_validate(figures, strict=False)
        except ValueError:
            continue
    return phases


def _child_result(value: dict[str, Any], log: Path) -> ChildResult | None:
    """The child's result; None if it wrote none. A result with a wrong shape is a failed run
    whose message says so (it is recorded, not lost)."""
    if value.get("status") not in ("ok", "failed"):
        return None
    try:
        return ChildResult.model_validate(value)
    except ValidationError as exc:
        return _wrong_shape(value, exc, log)


def _wrong_shape(value: dict[str, Any], exc: ValidationError, log: Path) -> ChildResult:
    """A child's result that cannot be a record: a failed run saying why (recorded, not lost)."""
    provenance_ = value.get("provenance")
    return ChildResult(status="failed", phases=_phases(value.get("phases")),
                       provenance=provenance_ if isinstance(provenance_, dict) else None,
                       failure=Failure(kind="exception", message=f"the backend's result has a wrong shape ({describe_problem(exc)})",
                                       phase=None, log_tail=_tail(log)))


def _read_json(path: Path) -> dict[str, Any]:
    """A JSON object the child wrote (atomically), or {} if there is none."""
    try:
        value = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return value if isinstance(value, dict) else {}


def run_repeated(spec: RunSpec, store: ResultStore, repeats: int,
                 before_each: Callable[[int, int], None] | None = None) -> list[RunRecord]:
    """`repeats` isolated runs of the same spec (same seed: the spread is the machine's)."""
    group = secrets.token_hex(4)
    records = []
    for i in range(repeats):
        if before_each:
            before_each(i, repeats)
        repeat = {"group": group, "index": i, "of": repeats} if repeats > 1 else None
        records.append(run_isolated(spec, store, repeat=repeat))
    return records


def run_in_process(resolved, backend: str, threads: int = 1, connectivity: str = "native", network=None,
                   options: dict[str, Any] | None = None):
    """Run `resolved` on `backend` in this process, unmeasured; return its SimulationOutput.

    For tests and analysis that need the arrays, not the figures. Measured runs always go
    through `run_isolated`.
    """
    from .scenario import realise

    instance = backend_class(backend)(threads=threads, options=options)
    problems = instance.supports(resolved, connectivity)
    if problems:
        raise RuntimeError(f"{backend} cannot run {resolved.id}: {'; '.join(problems)}")
    instance.load()
    if not instance.compile_after_build:
        instance.compile(resolved)
    if connectivity == "exact" and network is None:
        network = realise(resolved)
    try:
        instance.build(resolved, connectivity, network if connectivity == "exact" else None)
        if instance.compile_after_build:
            instance.compile(resolved)
        instance.run()
        return instance.collect()
    finally:
        instance.close()
