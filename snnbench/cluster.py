"""Sweeps on Dask distributed: a local cluster of processes, an existing scheduler, or Slurm.

    snnbench sweep vogels-abbott-coba --backends numba,nest --N-pop 500:4000:4 --cluster local:2
    snnbench sweep study.toml --cluster tcp://head:8786
    snnbench sweep study.toml --cluster slurm:8 --cluster-cores 4 --cluster-memory 16GiB --slurm-walltime 04:00:00

What stays: every point is one isolated, measured child process (`snnbench.runner.run_isolated`),
now started by a Dask worker; the child gathers its provenance where it runs, so a record's
`machine_id` is the machine that measured it.

Slots. Every worker declares the Dask resource `cores` (the cores it owns) and every point asks
for `cores = threads / pack`: with `pack = 1` (the default) no two timed runs share a core;
`pack = k` lets k runs share each core, and the record says so (`record["cluster"]["pack"]`).

One writer. A worker measures into a scratch directory and returns the record with the bytes of
the run's data files and log; the client writes those into the store, then appends the record,
as each future completes (distributed's `as_completed`). Only the client touches the store, so
its guarantees (one atomic line per record, never rewritten) hold, and resuming works as for a
sequential sweep. No shared file system is needed for results.

Lost workers. A point whose worker died (killed, out of memory, node lost) is run again by the
scheduler once (`allowed-failures = 1`, for schedulers this module starts); if its second worker
dies too, distributed raises `KilledWorker` and the point is recorded as failed, kind
`worker-lost`. An exception in the task itself (not in the measured run, which records its own
failures) is retried once (`retries=1`), then recorded as kind `exception`.

Dask is imported only when a cluster is used: without `--cluster` nothing here runs.
"""

from __future__ import annotations

import importlib.util
import logging
import math
import os
import re
import secrets
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from .interrupts import deferred
from .record import RunRecord
from .scenario import find_scenario
from .store import ResultStore

if TYPE_CHECKING:  # pragma: no cover
    from .sweep import Point

# A point whose worker dies is run once more; a second death records it as "worker-lost".
ALLOWED_FAILURES = 1
DASHBOARD_ADDRESS = ":8787"
# Points submitted and not yet recorded, at most: the scheduler holds few, claims stay few, order holds.
MAX_IN_FLIGHT = 256
_SPEC_HELP = "expected local[:workers], tcp://host:port, slurm[:jobs] or none"
_SLURM_KEYS = ("queue", "account", "walltime", "interface", "job_extra_directives")


class ClusterError(ValueError):
    """A cluster that cannot be used as asked: bad input, nothing was run (exit status 2)."""


@dataclass(frozen=True)
class Target:
    """What a cluster spec names: kind is none, local, scheduler or slurm."""

    kind: str
    count: int | None = None  # local: worker processes; slurm: jobs (one worker each)
    address: str | None = None


def parse_spec(spec: str) -> Target:
    """'local', 'local:2', 'tcp://host:8786', 'slurm', 'slurm:4' or 'none' -> Target."""
    text = spec.strip()
    if text == "none":
        return Target("none")
    m = re.fullmatch(r"(local|slurm)(?::(\d+))?", text)
    if m:
        count = int(m.group(2)) if m.group(2) is not None else None
        if count == 0:
            raise ValueError(f"the number after {m.group(1)}: must be >= 1, got {spec!r}")
        return Target(m.group(1), count=count)
    m = re.fullmatch(r"tcp://([A-Za-z0-9_.-]+|\[[0-9A-Fa-f:]+\]):(\d+)", text)
    if m:
        if not 0 < int(m.group(2)) < 65536:
            raise ValueError(f"port out of range in {spec!r}")
        return Target("scheduler", address=text)
    raise ValueError(f"{_SPEC_HELP}, got {spec!r}")


class ClusterConfig(BaseModel):
    """Where a sweep runs: the `[cluster]` table of a sweep file, or the --cluster options."""

    model_config = ConfigDict(extra="forbid")

    spec: str
    pack: int = Field(default=1, ge=1)                  # runs per core; 1: timed runs never share a core
    cores: int | None = Field(default=None, ge=1)       # per worker (local) or per job (slurm)
    memory: str | None = None                           # per worker (local) or per job (slurm), e.g. "16GiB"
    queue: str | None = None                            # slurm partition
    account: str | None = None
    walltime: str | None = None                         # [D-]HH:MM:SS
    job_extra_directives: list[str] = Field(default_factory=list)  # more #SBATCH lines
    interface: str | None = None                        # network interface the scheduler and workers use (slurm)

    @field_validator("spec")
    @classmethod
    def _spec(cls, v: str) -> str:
        parse_spec(v)
        return v.strip()

    @field_validator("walltime")
    @classmethod
    def _walltime(cls, v: str | None) -> str | None:
        if v is not None and not re.fullmatch(r"(\d+-)?\d{1,3}:\d{2}(:\d{2})?", v):
            raise ValueError(f"expected [D-]HH:MM[:SS], got {v!r}")
        return v

    @field_validator("memory")
    @classmethod
    def _memory(cls, v: str | None) -> str | None:
        if v is not None:
            _parse_bytes(v)
        return v

    @model_validator(mode="after")
    def _keys_fit_the_kind(self) -> "ClusterConfig":
        kind = self.target.kind
        slurm_only = [k for k in _SLURM_KEYS[:4] if getattr(self, k) is not None]
        if self.job_extra_directives:
            slurm_only.append("job_extra_directives")
        if slurm_only and kind != "slurm":
            raise ValueError(f"{', '.join(slurm_only)}: only for spec = slurm (spec is {self.spec!r})")
        if kind == "scheduler" and (self.cores is not None or self.memory is not None):
            raise ValueError("cores and memory are the workers' own settings on an existing scheduler "
                             "(dask worker --resources cores=N --nthreads N --memory-limit ...)")
        return self

    @property
    def target(self) -> Target:
        return parse_spec(self.spec)


# Command-line options and the [cluster] keys they set, for merging and for naming the option in errors.
CLI_KEYS = {"cluster": "spec", "pack": "pack", "cluster_cores": "cores", "cluster_memory": "memory",
            "slurm_queue": "queue", "slurm_account": "account", "slurm_walltime": "walltime",
            "slurm_directive": "job_extra_directives", "cluster_interface": "interface"}


def config_from_options(options: dict[str, Any], table: ClusterConfig | None) -> ClusterConfig | None:
    """The sweep file's [cluster] table (or None) with the command-line options laid over it.

    Raises ClusterError naming the option. Returns None for a sequential sweep.
    """
    given = {CLI_KEYS[k]: v for k, v in options.items() if k in CLI_KEYS and v is not None and v != []}
    for key, value in given.items():
        try:
            ClusterConfig.model_validate({"spec": "slurm", key: value} if key != "spec" else {"spec": value})
        except ValidationError as exc:
            option = "--" + next(k for k, v in CLI_KEYS.items() if v == key).replace("_", "-")
            raise ClusterError(f"{option}: {_first_error(exc)}") from None
    merged = {**(table.model_dump(exclude_unset=True) if table is not None else {}), **given}
    if not merged or parse_spec(merged.get("spec", "local")).kind == "none":
        return None  # sequential: --cluster none overrides the file's table
    if "spec" not in merged:
        options = _options_for(given)
        raise ClusterError(f"{', '.join(options)} {'needs' if len(options) == 1 else 'need'} --cluster "
                           "(or a [cluster] table in the sweep file)")
    kind = parse_spec(merged["spec"]).kind
    for key in given:  # an option that does not apply to this kind of cluster, named as typed
        if (key in _SLURM_KEYS and kind != "slurm") or (key in ("cores", "memory") and kind == "scheduler"):
            raise ClusterError(f"{_options_for({key: 1})[0]}: not an option of --cluster {merged['spec']}")
    try:
        config = ClusterConfig.model_validate(merged)
    except ValidationError as exc:
        raise ClusterError(f"--cluster {merged['spec']}: {_first_error(exc)}") from None
    return config


def _options_for(keys: dict[str, Any]) -> list[str]:
    return ["--" + next(k for k, v in CLI_KEYS.items() if v == key).replace("_", "-") for key in keys]


def _first_error(exc: ValidationError) -> str:
    err = exc.errors()[0]
    msg = err["msg"].removeprefix("Value error, ")
    return msg if err["type"] == "value_error" else f"{msg}, got {err.get('input')!r}"


def _parse_bytes(text: str) -> int:
    """'16GiB', '16 GB', '512MB' -> bytes (dask's parser when dask is there)."""
    if importlib.util.find_spec("dask") is not None:
        from dask.utils import parse_bytes

        try:
            return int(parse_bytes(text))
        except (ValueError, TypeError):
            raise ValueError(f"expected a size such as 16GiB or 512MB, got {text!r}") from None
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([KMGT]i?B)\s*", text, re.IGNORECASE)
    if not m:
        raise ValueError(f"expected a size such as 16GiB or 512MB, got {text!r}")
    unit = m.group(2).upper()
    base = 1024 if "I" in unit else 1000
    return int(float(m.group(1)) * base ** "KMGT".index(unit[0]) * base)


# ------------------------------------------------------------------------------ the worker side


class _ScratchStore(ResultStore):
    """A store in the worker's scratch directory: data and log land there, the record goes back."""

    def append_run(self, record: dict[str, Any]) -> None:  # the client is the one writer
        pass


def measure_point(spec, repeat: dict[str, Any], tags: dict[str, Any], cluster_info: dict[str, Any]) -> dict[str, Any]:
    """Dask task: one isolated, measured run on this worker; returns the record and its files."""
    from distributed import get_worker

    from .runner import default_memory_limit, run_isolated

    worker = get_worker()
    worker_cores = float(worker.state.total_resources.get("cores", 0)) or None
    reserved = cluster_info["cores_reserved"]
    # The run's memory limit is its share of the worker's (a Slurm job's --mem, a local worker's part of RAM).
    worker_memory = worker.memory_manager.memory_limit
    if spec.memory_limit_bytes is None and worker_memory and worker_cores:
        spec.memory_limit_bytes = min(default_memory_limit(), int(worker_memory * min(1.0, reserved / worker_cores)))
    scratch = Path(tempfile.mkdtemp(prefix="snnbench-point-", dir=worker.local_directory))
    try:
        store = _ScratchStore(scratch)
        record = run_isolated(spec, store, repeat=repeat, tags=tags).to_dict()  # its JSON form travels
        data_root = store.data_dir.resolve()
        files = [(_relative_name(Path(f), data_root), Path(f).read_bytes())
                 for f in (record.get("data") or {}).get("files") or []]
        log = Path(record["log"]) if record.get("log") else None
        log_bytes = (log.name, log.read_bytes()) if log is not None and log.exists() else None
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    record["cluster"] = {**cluster_info, "worker": worker.address, "worker_cores": worker_cores,
                         "memory_limit_bytes": spec.memory_limit_bytes}
    return {"record": record, "files": files, "log": log_bytes}


def _relative_name(path: Path, root: Path) -> str:
    """Where a data file goes in the client's data directory: as under the worker's, else by its name."""
    try:
        return str(path.resolve().relative_to(root))
    except ValueError:
        return path.name


def _machine_of_worker() -> dict[str, Any]:
    from .provenance import machine

    return machine()


# ------------------------------------------------------------------------------ the client side


def _save(result: dict[str, Any], store: ResultStore) -> dict[str, Any]:
    """Write a returned run's data files and log into the store; return its record, paths rewritten."""
    record = result["record"]
    files = []
    for rel, payload in result["files"]:
        path = store.data_dir / rel
        _write_file(path, payload)
        files.append(str(path.resolve()))
    if record.get("data") is not None:
        record["data"]["files"] = files
    if result["log"] is not None:
        name, payload = result["log"]
        path = store.logs_dir / name
        _write_file(path, payload)
        record["log"] = str(path)
    else:
        record["log"] = None
    return record


def _write_file(path: Path, payload: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".part")
    tmp.write_bytes(payload)
    os.replace(tmp, path)


def failure_record(spec, repeat: dict[str, Any], tags: dict[str, Any], cluster_info: dict[str, Any],
                   kind: str, message: str, machine: dict[str, Any] | None) -> RunRecord:
    """The record of a point that never came back from the cluster (the runner's header, a failed result)."""
    from .backends import backend_class
    from .provenance import git_revision, software
    from .record import ChildResult, Failure, new_timestamp
    from .runner import new_run_id
    from .scenario import find_scenario, load_scenario, resolve

    scenario_file = find_scenario(spec.scenario)
    scenario = load_scenario(scenario_file)
    resolved = resolve(scenario, spec.overrides)
    header = {
        "kind": "run", "run_id": new_run_id(), "timestamp": new_timestamp(),
        "scenario": scenario.id, "scenario_title": scenario.scenario.title, "scenario_file": str(scenario_file),
        "scenario_hash": resolved.hash, "overrides": spec.overrides.as_dict(),
        "backend": spec.backend, "backend_version": backend_class(spec.backend).version(),
        "connectivity": spec.connectivity, "threads": spec.threads, "format": spec.format, "options": spec.options,
        "timeout_s": spec.timeout, "repeat": repeat, "tags": tags, "cluster": cluster_info,
    }
    # The machine is the last worker's, when the client had heard from it; software is the client's.
    result = ChildResult(status="failed", failure=Failure(kind=kind, message=message, phase=None),
                         provenance={"machine": machine or {}, "software": software(spec.backend), "git": git_revision()})
    return RunRecord.assemble(header, result, tree_peak_rss_bytes=None, log=None, simtime_ms=resolved.simtime)


@dataclass
class Session:
    """A running cluster and the client connected to it."""

    client: Any
    cluster: Any  # None for an existing scheduler (not ours to close)
    cores_per_worker: float | None
    description: str

    def close(self) -> None:
        try:
            self.client.close()
        finally:
            if self.cluster is not None:
                self.cluster.close()


def slot_cores(threads: int, pack: int) -> float:
    """The cores a run of `threads` threads reserves on its worker."""
    return threads / pack


def _require_dask() -> None:
    missing = [name for name, mod in (("dask", "dask"), ("distributed", "distributed")) if importlib.util.find_spec(mod) is None]
    if missing:
        raise ClusterError(f"--cluster needs the Python packages {', '.join(missing)} "
                           "(pip install 'snnbench[cluster]'; install.sh installs them)")


def start(config: ClusterConfig, max_threads: int, store: ResultStore) -> Session:
    """Start (or connect to) the cluster `config` names; ClusterError if it cannot run these points."""
    _require_dask()
    import dask

    target = config.target
    need = math.ceil(slot_cores(max_threads, config.pack))
    with dask.config.set({"distributed.scheduler.allowed-failures": ALLOWED_FAILURES}):
        if target.kind == "local":
            return _start_local(config, target, need)
        if target.kind == "slurm":
            return _start_slurm(config, target, need, store)
        return _connect(config, target, need)


def _start_local(config: ClusterConfig, target: Target, need: int) -> Session:
    from distributed import Client, LocalCluster

    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    if target.count is None:
        cores = config.cores or need
        workers = max(1, usable // cores)
    else:
        workers = target.count
        cores = config.cores or max(1, usable // workers)
    if cores < need:
        raise ClusterError(f"--cluster {config.spec}: a run with {need * config.pack} threads needs {need} cores, but each "
                           f"of the {workers} workers has {cores} ({usable} usable cores here); use fewer workers, "
                           f"--cluster-cores or --pack")
    cluster = LocalCluster(n_workers=workers, threads_per_worker=cores * config.pack, processes=True,
                           resources={"cores": cores}, memory_limit=config.memory or "auto",
                           dashboard_address=DASHBOARD_ADDRESS, silence_logs=logging.ERROR)
    client = Client(cluster)
    shared = " (more cores asked than this machine has: timed runs will share cores)" if workers * cores > usable else ""
    return Session(client, cluster, float(cores), f"local cluster: {workers} worker processes x {cores} cores{shared}")


def _start_slurm(config: ClusterConfig, target: Target, need: int, store: ResultStore) -> Session:
    import dask

    if importlib.util.find_spec("dask_jobqueue") is None:
        raise ClusterError("--cluster slurm needs the Python package dask-jobqueue (pip install 'snnbench[cluster]')")
    from dask_jobqueue import SLURMCluster
    from distributed import Client

    if shutil.which("sbatch") is None:
        raise ClusterError("--cluster slurm: sbatch is not on PATH (run the sweep where jobs can be submitted)")
    # Cores and memory per job: the options, else the user's jobqueue config, else one whole node
    # of the partition (its smallest), as sinfo describes it.
    cores = config.cores or dask.config.get("jobqueue.slurm.cores", None)
    memory = config.memory or dask.config.get("jobqueue.slurm.memory", None)
    from_sinfo = [name for name, value in (("cores", cores), ("memory", memory)) if value is None]
    origin = f" ({' and '.join(from_sinfo)} from sinfo: the partition's smallest node)" if from_sinfo else ""
    if from_sinfo:
        queue = config.queue or dask.config.get("jobqueue.slurm.queue", None)
        node = _slurm_node(queue)
        if node is None and queue:
            raise ClusterError(f"--slurm-queue {queue}: sinfo shows no such partition")
        if node is None:
            raise ClusterError("--cluster slurm: cores and memory per job are not set and sinfo does not say: pass "
                               "--cluster-cores and --cluster-memory (or cores/memory in [cluster]), or set "
                               "jobqueue.slurm.cores and jobqueue.slurm.memory in ~/.config/dask/jobqueue.yaml")
        node_cpus, node_mib = node
        cores = int(cores or node_cpus)
        # ~5 % below the node's RealMemory: dask-jobqueue rounds --mem, and asking more than a node has never starts
        memory = memory or f"{int(node_mib * 0.95 * cores / node_cpus)}MiB"
    cores = int(cores)
    if cores < need:
        raise ClusterError(f"--cluster-cores {cores}: a run with {need * config.pack} threads needs {need} cores per job")
    kwargs: dict[str, Any] = {k: v for k, v in (("queue", config.queue), ("account", config.account),
                                                ("walltime", config.walltime), ("interface", config.interface))
                              if v is not None}
    if config.job_extra_directives:
        kwargs["job_extra_directives"] = config.job_extra_directives
    log_dir = store.logs_dir.resolve() / "slurm"
    log_dir.mkdir(parents=True, exist_ok=True)
    try:
        # One worker per job; it runs `cores x pack` tasks in threads but reserves only `cores` CPUs.
        cluster = SLURMCluster(cores=cores * config.pack, job_cpu=cores, processes=1, memory=memory,
                               worker_extra_args=["--resources", f"cores={cores}"], log_directory=str(log_dir),
                               scheduler_options={"dashboard_address": DASHBOARD_ADDRESS}, **kwargs)
    except (ValueError, TypeError) as exc:
        raise ClusterError(f"--cluster slurm: {exc}") from None
    # A job Slurm would refuse (no such partition, too much memory...) must stop us here: once
    # submitted in the background, a refused job would leave the sweep waiting for workers forever.
    check = subprocess.run(["sbatch", "--test-only"], input=cluster.job_script(), capture_output=True, text=True)
    if check.returncode != 0:
        cluster.close()
        raise ClusterError(f"--cluster slurm: Slurm refuses the worker job: {check.stderr.strip() or check.stdout.strip()}")
    cluster.scale(jobs=target.count or 1)
    client = Client(cluster)
    jobs = target.count or 1
    return Session(client, cluster, float(cores),
                   f"Slurm: {jobs} job(s) of {cores} cores and {memory}{origin} (job logs in {log_dir})")


def _slurm_node(queue: str | None) -> tuple[int, int] | None:
    """(CPUs, memory in MiB) of the smallest node of `queue` (default: the default partition), from sinfo."""
    try:
        out = subprocess.run(["sinfo", "-h", "-o", "%P %c %m"], capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    rows = [line.split() for line in out.splitlines() if len(line.split()) == 3]
    chosen = [r for r in rows if (r[0].rstrip("*") == queue if queue else r[0].endswith("*"))] or ([] if queue else rows)
    try:
        return (min(int(r[1].rstrip("+")) for r in chosen), min(int(r[2].rstrip("+")) for r in chosen)) if chosen else None
    except ValueError:
        return None


def _connect(config: ClusterConfig, target: Target, need: int, wait_s: float = 60.0) -> Session:
    from distributed import Client

    try:
        client = Client(target.address, timeout=15)
    except (OSError, TimeoutError) as exc:
        raise ClusterError(f"--cluster {target.address}: no Dask scheduler answered ({exc})") from None
    try:
        client.wait_for_workers(1, timeout=wait_s)
    except TimeoutError:
        client.close()
        raise ClusterError(f"--cluster {target.address}: no worker joined the scheduler within {wait_s:g} s") from None
    workers = client.scheduler_info()["workers"]
    cores = [float((w.get("resources") or {}).get("cores", 0)) for w in workers.values()]
    if not any(cores):
        client.close()
        raise ClusterError(f"--cluster {target.address}: its workers declare no 'cores' resource; start each as "
                           f"`dask worker {target.address} --nthreads N --resources cores=N`")
    if max(cores) < need:
        client.close()
        raise ClusterError(f"--cluster {target.address}: a run needs {need} cores but its largest worker declares {max(cores):g}")
    return Session(client, None, max(cores), f"scheduler {target.address}: {len(workers)} worker(s) now")


def dashboard_line(session: Session) -> str:
    if importlib.util.find_spec("bokeh") is None:
        return "dashboard: unavailable (it needs the Python package bokeh, part of snnbench[cluster])"
    link = session.client.dashboard_link
    return f"dashboard: {link}" if link else "dashboard: unavailable (the scheduler serves none)"


def run_points(points: list["Point"], store: ResultStore, sweep_name: str, config: ClusterConfig,
               on_record: Callable[["Point", dict[str, Any]], None], say: Callable[[str], None] = print,
               acquire: Callable[["Point"], Callable[[], None] | None] | None = None,
               on_skipped: Callable[["Point"], None] | None = None, force: bool = False) -> None:
    """Run `points` on the cluster; append each record to `store` as it arrives, then call on_record.

    At most MAX_IN_FLIGHT points are submitted at a time, in sweep order. `acquire(point)`, if
    given, is asked just before a point is submitted: it returns a function that releases the
    point once its record is appended, or None to leave the point out (on_skipped is told).
    The sweep passes store claims (sweep.claim_for_cluster): two sweeps never run a point twice.
    """
    from distributed import as_completed

    if not points:
        return
    session = start(config, max(p.threads for p in points), store)
    in_flight: dict[Any, tuple[Any, Point, Any, dict[str, Any], Callable[[], None]]] = {}
    try:
        say(f"{session.description}")
        say(dashboard_line(session))
        machines = _known_machines(session.client)
        token = secrets.token_hex(3)
        queue = iter(enumerate(points))
        completed = as_completed()

        def submit_more() -> None:
            while len(in_flight) < MAX_IN_FLIGHT:
                try:
                    i, point = next(queue)
                except StopIteration:
                    return
                release = acquire(point) if acquire is not None else _nothing
                if release is None:
                    if on_skipped is not None:
                        on_skipped(point)
                    continue
                spec = point.spec()
                spec.scenario = _portable_scenario(point.scenario)
                spec.force = force  # run even if the worker's memory estimate says no
                info = {"spec": config.spec, "pack": config.pack, "cores_reserved": slot_cores(point.threads, config.pack)}
                future = session.client.submit(
                    measure_point, spec, {"index": point.repeat}, {"sweep": sweep_name}, info,
                    key=f"snnbench-{token}-{i:05d}-{point.backend}-N{point.N_pop}-T{point.simtime:g}-r{point.repeat}",
                    resources={"cores": info["cores_reserved"]}, retries=1, pure=False,
                    priority=len(points) - i)  # round by round: Dask would otherwise start the latest submitted first
                in_flight[future.key] = (future, point, spec, info, release)
                completed.add(future)

        submit_more()
        for future in completed:
            _, point, spec, info, release = in_flight.pop(future.key)
            try:
                result = future.result()
            except Exception as exc:  # noqa: BLE001 - KilledWorker, or a task that failed outside the measured run
                result = exc
            finally:
                future.release()
            with deferred():  # Ctrl-C waits until the point's files and record are in the store
                try:
                    record = _record_of(result, point, spec, info, sweep_name, store, machines)
                    store.append_run(record)
                finally:
                    release()
            on_record(point, record)
            submit_more()
    finally:
        for entry in in_flight.values():  # points not recorded: free them for the next sweep
            entry[4]()
        session.close()


def _record_of(result: Any, point: "Point", spec, info: dict[str, Any], sweep_name: str, store: ResultStore,
               machines: dict[str, dict[str, Any]]) -> RunRecord:
    """The record to append for a completed future: the run's (its files written first), or a failure."""
    from distributed import KilledWorker

    repeat, tags = {"index": point.repeat}, {"sweep": sweep_name}
    if isinstance(result, KilledWorker):
        worker = getattr(result.last_worker, "address", None) or str(result.last_worker)
        return failure_record(spec, repeat, tags, {**info, "worker": worker}, "worker-lost",
                              f"the worker running this point died {ALLOWED_FAILURES + 1} times (last {worker}); "
                              "the point was not measured", machines.get(_host(worker)))
    if isinstance(result, BaseException):
        return failure_record(spec, repeat, tags, info, "exception",
                              f"on the worker, outside the measured run: {type(result).__name__}: {result}", None)
    record = _save(result, store)
    mach = (record.get("provenance") or {}).get("machine")
    if mach and record.get("cluster", {}).get("worker"):
        machines[_host(record["cluster"]["worker"])] = mach
    return RunRecord.from_json(record)


def _nothing() -> None:
    pass


def _portable_scenario(name: str) -> str:
    """A scenario as a worker can find it: a file by its absolute path (a shared file system), a
    scenario id as it is (each worker looks it up in its own snnbench; the record's scenario_hash
    says which content ran)."""
    path = Path(name)
    return str(find_scenario(name).resolve()) if path.suffix == ".toml" or path.exists() else name


def _host(address: str) -> str:
    return re.sub(r"^\w+://", "", address).rsplit(":", 1)[0]


def _known_machines(client) -> dict[str, dict[str, Any]]:
    """Host -> machine provenance of the workers present now (for records of points lost with a worker)."""
    try:
        return {_host(addr): m for addr, m in client.run(_machine_of_worker).items()}
    except Exception:  # noqa: BLE001 - provenance of lost points only; never stops a sweep
        return {}
