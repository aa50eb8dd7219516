"""Sweeps on Dask distributed: a LocalCluster, lost workers, a killed client, and a real local Slurm."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter

import psutil
import pytest

from snnbench.cluster import ClusterConfig, ClusterError, config_from_options, parse_spec
from snnbench.provenance import machine
from snnbench.store import ResultStore
from snnbench.sweep import Design, expand, plan, run_sweep

from .conftest import FAULT_BACKENDS, ROOT, requires
from .local_slurm import LocalSlurm, SlurmUnavailable, why_not

requires_dask = requires("distributed", "distributed")
requires_jobqueue = requires("dask_jobqueue", "dask-jobqueue")

CLUSTER_FAULTS = FAULT_BACKENDS + (",fault.killworker=tests.fault_backends:KillDaskWorkerOnce"
                                   ",fault.killworker.always=tests.fault_backends:KillDaskWorkerAlways")
# Small enough for a shared 2-core machine: numba's VA COBA at N_pop 200-400 for 50 ms.
SMALL = dict(scenario="vogels-abbott-coba", simtime="50", timeout=300)


def configuration(record: dict) -> tuple:
    """What a point is (not where or when it ran): two sweeps of one design give the same set."""
    return (record["scenario_hash"], record["backend"], record["backend_version"], record["threads"],
            record["connectivity"], record["format"], tuple(sorted(record["overrides"].items())),
            tuple(sorted(record["options"].items())), record["repeat"]["index"])


@pytest.fixture
def cluster_faults(monkeypatch, tmp_path):
    """Fault backends visible to Dask workers (they inherit this environment) and their marker file."""
    monkeypatch.setenv("SNNBENCH_EXTRA_BACKENDS", CLUSTER_FAULTS)
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
    marker = tmp_path / "killed-workers"
    monkeypatch.setenv("SNNBENCH_TEST_KILL_MARKER", str(marker))
    return marker


# ------------------------------------------------------------------------------ specs and options


def test_cluster_specs():
    assert parse_spec("local").kind == "local" and parse_spec("local").count is None
    assert parse_spec("local:2").count == 2 and parse_spec("slurm:8").count == 8
    assert parse_spec("tcp://head-node.example:8786").address == "tcp://head-node.example:8786"
    assert parse_spec("none").kind == "none"
    for bad in ("local:0", "local:x", "tcp://head", "tcp://head:99999", "slurm:", "ray", ""):
        with pytest.raises(ValueError):
            parse_spec(bad)


def test_cluster_options_are_checked_and_named():
    assert config_from_options({"cluster": None}, None) is None  # without --cluster nothing changes
    config = config_from_options({"cluster": "slurm:4", "cluster_cores": 4, "cluster_memory": "16GiB",
                                  "slurm_walltime": "04:00:00", "slurm_directive": ["--constraint=cpu"]}, None)
    assert (config.target.count, config.cores, config.memory, config.job_extra_directives) == (4, 4, "16GiB", ["--constraint=cpu"])
    table = ClusterConfig(spec="slurm", queue="short", cores=2, memory="4GiB")
    merged = config_from_options({"cluster": "slurm:3", "slurm_queue": "long"}, table)
    assert (merged.spec, merged.queue, merged.cores) == ("slurm:3", "long", 2)  # options over the file's table
    assert config_from_options({"cluster": "none"}, table) is None
    cases = {
        ("cluster", "tcp://x"): "--cluster: expected local",
        ("slurm_walltime", "3h"): "--slurm-walltime: expected [D-]HH:MM",
        ("cluster_memory", "lots"): "--cluster-memory: expected a size",
        ("pack", 0): "--pack:",
    }
    for (option, value), message in cases.items():
        with pytest.raises(ClusterError, match=message.replace("[", r"\[")):
            config_from_options({"cluster": "slurm", option: value}, None)
    with pytest.raises(ClusterError, match="--slurm-queue: not an option of --cluster local:2"):
        config_from_options({"cluster": "local:2", "slurm_queue": "q"}, None)
    with pytest.raises(ClusterError, match="--pack needs --cluster"):
        config_from_options({"pack": 2}, None)


def test_cluster_table_in_a_sweep_file_is_validated(tmp_path):
    sweep_file = tmp_path / "study.toml"
    sweep_file.write_text('[[design]]\nscenario = "vogels-abbott-coba"\nbackends = ["numba"]\nN_pop = "200,400"\n'
                          'simtime = "50"\n\n[cluster]\nspec = "local:2"\nwaltime = "01:00:00"\n')
    proc = subprocess.run([sys.executable, "-m", "snnbench", "sweep", str(sweep_file), "--dry-run", "--results", str(tmp_path)],
                          capture_output=True, text=True)
    assert proc.returncode == 2 and "study.toml: cluster.waltime" in proc.stderr
    sweep_file.write_text(sweep_file.read_text().replace("waltime", "walltime"))
    proc = subprocess.run([sys.executable, "-m", "snnbench", "sweep", str(sweep_file), "--dry-run", "--results", str(tmp_path)],
                          capture_output=True, text=True)
    assert proc.returncode == 2 and "walltime: only for spec = slurm" in proc.stderr
    sweep_file.write_text(sweep_file.read_text().replace('walltime = "01:00:00"\n', ""))
    proc = subprocess.run([sys.executable, "-m", "snnbench", "sweep", str(sweep_file), "--dry-run", "--results", str(tmp_path)],
                          capture_output=True, text=True)
    assert proc.returncode == 0 and "6 to run on local:2" in proc.stdout  # 2 sizes x 3 repeats (the default)


@requires_dask
def test_a_run_larger_than_a_worker_is_refused_before_anything_runs(tmp_path):
    sweep = expand([Design(backends=["numba"], N_pop="200", repeat=1, threads=64, **SMALL)])
    with pytest.raises(ClusterError, match="needs 64 cores"):
        run_sweep(sweep, ResultStore(tmp_path), show_progress=False, cluster=ClusterConfig(spec="local:1"))
    assert not ResultStore(tmp_path).runs()


def test_resume_runs_the_repeats_not_recorded_when_they_completed_out_of_order(tmp_path):
    design = [Design(backends=["numba"], N_pop="200", repeat=3, **SMALL)]
    first = ResultStore(tmp_path / "first")
    run_sweep(expand([Design(backends=["numba"], N_pop="200", repeat=1, **SMALL)]), first, show_progress=False)
    record = first.runs()[0].to_dict()
    store = ResultStore(tmp_path / "store")  # as if a cluster had finished repeat #3 before #1 and #2
    store.append_run({**record, "repeat": {"index": 2}})
    todo, done = plan(expand(design), store, any_machine=True)
    assert [p.repeat for p in todo] == [0, 1] and [p.repeat for p in done] == [2]
    store.append_run({**record, "repeat": {"index": 0}})
    todo, _ = plan(expand(design), store)
    assert [p.repeat for p in todo] == [1]


# ------------------------------------------------------------------------------ LocalCluster


@requires_dask
def test_local_cluster_gives_the_records_of_the_sequential_sweep(tmp_path):
    design = [Design(backends=["numba"], N_pop="200,400", repeat=2, **SMALL)]
    sequential, local = ResultStore(tmp_path / "sequential"), ResultStore(tmp_path / "local")
    assert run_sweep(expand(design), sequential, show_progress=False)["ok"] == 4
    outcome = run_sweep(expand(design), local, show_progress=False, cluster=ClusterConfig(spec="local:2"))
    assert (outcome["ok"], outcome["failed"]) == (4, 0)
    records = local.runs()
    assert Counter(map(configuration, records)) == Counter(map(configuration, sequential.runs()))
    here = machine()["machine_id"]
    for r in records:
        assert r["status"] == "ok" and r["machine_id"] == here == r["provenance"]["machine"]["machine_id"]
        assert r["phases"]["sim"]["wall_s"] > 0 and r["peak_rss_bytes"] > 0
        assert r["cluster"]["spec"] == "local:2" and r["cluster"]["pack"] == 1 and r["cluster"]["cores_reserved"] == 1
        assert r["cluster"]["worker"].startswith("tcp://")
        assert r["data"]["files"] and all(f.startswith(str(local.data_dir.resolve())) and os.path.getsize(f) > 0
                                          for f in r["data"]["files"])
    assert len({r["cluster"]["worker"] for r in records}) == 2  # both workers measured
    again = run_sweep(expand(design), local, show_progress=False, cluster=ClusterConfig(spec="local:2"))
    assert (again["ok"], again["skipped"]) == (0, 4) and len(local.runs()) == 4  # resumes as a sequential sweep does


@requires_dask
def test_points_are_acquired_one_window_at_a_time_and_released_once_recorded(tmp_path, monkeypatch):
    import snnbench.cluster as cluster

    monkeypatch.setattr(cluster, "MAX_IN_FLIGHT", 1)  # one point in flight: they complete in sweep order
    points = expand([Design(backends=["numba"], N_pop="200,300,400", repeat=1, **SMALL)]).points
    events: list[tuple[str, int]] = []

    def acquire(point):
        if point.N_pop == 300:
            return None  # e.g. claimed by another sweep
        events.append(("acquired", point.N_pop))
        return lambda: events.append(("released", point.N_pop))

    recorded, skipped = [], []
    cluster.run_points(points, ResultStore(tmp_path), "window", ClusterConfig(spec="local:1"),
                       on_record=lambda p, r: recorded.append((p.N_pop, r["status"])), say=lambda _: None,
                       acquire=acquire, on_skipped=lambda p: skipped.append(p.N_pop))
    assert recorded == [(200, "ok"), (400, "ok")] and skipped == [300]
    assert events == [("acquired", 200), ("released", 200), ("acquired", 400), ("released", 400)]
    assert [r["resolved"]["N_pop"] for r in ResultStore(tmp_path).runs()] == [200, 400]


@requires_dask
def test_packing_is_asked_for_and_recorded(tmp_path):
    store = ResultStore(tmp_path)
    sweep = expand([Design(backends=["numba"], N_pop="200,400", repeat=1, **SMALL)])
    outcome = run_sweep(sweep, store, show_progress=False, cluster=ClusterConfig(spec="local:1", cores=1, pack=2))
    assert (outcome["ok"], outcome["failed"]) == (2, 0)
    for r in store.runs():  # two 1-thread runs may share the worker's one core, and the records say so
        assert (r["cluster"]["pack"], r["cluster"]["cores_reserved"], r["cluster"]["worker_cores"]) == (2, 0.5, 1.0)


@requires_dask
def test_a_running_scheduler_is_used_through_its_address(tmp_path):
    import logging

    from distributed import LocalCluster

    sweep = expand([Design(backends=["numba"], N_pop="200,400", repeat=1, **SMALL)])
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=False, protocol="tcp", dashboard_address=None,
                      silence_logs=logging.ERROR) as plain:  # workers without the 'cores' resource
        with pytest.raises(ClusterError, match="declare no 'cores' resource"):
            run_sweep(sweep, ResultStore(tmp_path), show_progress=False, cluster=ClusterConfig(spec=plain.scheduler_address))
    with LocalCluster(n_workers=1, threads_per_worker=2, processes=False, protocol="tcp", resources={"cores": 2},
                      dashboard_address=None, silence_logs=logging.ERROR) as scheduler:
        config = ClusterConfig(spec=scheduler.scheduler_address)
        outcome = run_sweep(sweep, ResultStore(tmp_path), show_progress=False, cluster=config)
    assert (outcome["ok"], outcome["failed"]) == (2, 0)
    assert {r["cluster"]["spec"] for r in ResultStore(tmp_path).runs()} == {config.spec}
    assert {r["cluster"]["worker_cores"] for r in ResultStore(tmp_path).runs()} == {2.0}


@requires_dask
def test_a_killed_worker_is_survived(tmp_path, cluster_faults):
    store = ResultStore(tmp_path)
    sweep = expand([Design(backends=["numba", "fault.killworker"], N_pop="200,400", repeat=1, **SMALL)])
    outcome = run_sweep(sweep, store, show_progress=False, cluster=ClusterConfig(spec="local:2"))
    assert len(cluster_faults.read_text().split()) == 1  # one worker was killed mid-run...
    assert (outcome["ok"], outcome["failed"]) == (4, 0)  # ...and its point was run again, elsewhere or later
    records = store.runs()
    assert sorted(Counter(map(configuration, records)).values()) == [1, 1, 1, 1]  # none lost, none twice
    todo, done = plan(sweep, store, any_machine=True)
    assert not todo and len(done) == 4


@requires_dask
def test_a_point_whose_workers_keep_dying_is_recorded_as_worker_lost(tmp_path, cluster_faults):
    store = ResultStore(tmp_path)
    sweep = expand([Design(backends=["fault.killworker.always"], N_pop="200", repeat=1, **SMALL)])
    outcome = run_sweep(sweep, store, show_progress=False, cluster=ClusterConfig(spec="local:2"))
    assert len(cluster_faults.read_text().split()) == 2  # first try and one retry, each killed its worker
    assert (outcome["ok"], outcome["failed"]) == (0, 1)
    (record,) = store.runs()
    assert record["status"] == "failed" and record["failure"]["kind"] == "worker-lost"
    assert record["machine_id"] == machine()["machine_id"]  # the client had heard from that host
    assert record["cluster"]["spec"] == "local:2" and record["cluster"]["worker"].startswith("tcp://")


@requires_dask
def test_the_sweep_resumes_after_the_client_is_stopped_or_killed(tmp_path):
    store = ResultStore(tmp_path)
    cmd = [sys.executable, "-m", "snnbench", "sweep", "vogels-abbott-coba", "--backends", "numba", "--N-pop", "200,300,400",
           "--simtime", "50", "--repeat", "2", "--results", str(tmp_path), "--cluster", "local:2", "--json"]

    def stop_after_a_record(sig: int) -> tuple[int, int, str]:
        before = len(store.runs())
        client = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline and len(store.runs()) <= before:
            time.sleep(0.2)
        family = psutil.Process(client.pid).children(recursive=True)
        client.send_signal(sig)
        _, err = client.communicate(timeout=120)
        _, still = psutil.wait_procs(family, timeout=60)  # the client's Dask workers and runs end with it
        assert not still, f"left behind by the client stopped with {sig}: {[p.pid for p in still]}"
        return client.returncode, len(store.runs()), err

    rc, first, err = stop_after_a_record(signal.SIGTERM)  # an orderly stop: exit 130, claims released
    assert rc == 130 and "the same command resumes" in err and 1 <= first < 6
    assert not [p for p in store.claims_dir.glob("*") if p.name != ".lock"]
    rc, second, _ = stop_after_a_record(signal.SIGKILL)  # no chance to tidy up: what was appended stays
    assert rc == -signal.SIGKILL and first < second <= 6
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    outcome = json.loads(proc.stdout)
    assert outcome["skipped"] == second and outcome["ok"] == 6 - second  # claims of the killed client were taken over
    records = store.runs()
    assert len(records) == 6 and sorted(Counter(map(configuration, records)).values()) == [1] * 6


# ------------------------------------------------------------------------------ a real Slurm


@pytest.fixture(scope="session")
def local_slurm(tmp_path_factory):
    """slurmctld + slurmd (+ munged) on this machine for the session; stopped, and checked gone, after."""
    reason = why_not()
    if reason:
        pytest.skip(f"no local Slurm: {reason}")
    slurm = LocalSlurm(tmp_path_factory.mktemp("slurm"))
    try:
        slurm.start()
    except SlurmUnavailable as exc:
        pytest.skip(f"no local Slurm: {exc}")
    previous = os.environ.get("SLURM_CONF")
    os.environ["SLURM_CONF"] = str(slurm.conf)  # sbatch, squeue and scancel (dask-jobqueue) read it
    # Slurm's commands need lazy binding for their plugins; a Brian2 standalone run earlier in
    # this process leaves LD_BIND_NOW=1 in os.environ (see LocalSlurm.env).
    bind_now = os.environ.pop("LD_BIND_NOW", None)
    yield slurm
    if bind_now is not None:
        os.environ["LD_BIND_NOW"] = bind_now
    if previous is None:
        os.environ.pop("SLURM_CONF", None)
    else:
        os.environ["SLURM_CONF"] = previous
    left = slurm.stop()
    assert not left, f"still running after the local Slurm stopped: {left}"


@requires_dask
@requires_jobqueue
def test_a_sweep_through_a_real_slurm(tmp_path, local_slurm):
    store = ResultStore(tmp_path)
    sweep = expand([Design(backends=["numba"], N_pop="200,400", repeat=1, **SMALL)])
    config = ClusterConfig(spec="slurm:2", cores=1, memory="2GiB", walltime="00:10:00")
    outcome = run_sweep(sweep, store, show_progress=False, cluster=config)
    assert (outcome["ok"], outcome["failed"]) == (2, 0)
    here = machine()["machine_id"]
    for r in store.runs():
        assert r["status"] == "ok" and r["machine_id"] == here and r["phases"]["sim"]["wall_s"] > 0
        assert r["cluster"]["spec"] == "slurm:2" and r["cluster"]["worker_cores"] == 1
        assert r["cluster"]["memory_limit_bytes"] == 2 * 2**30  # the run's share of its job's --mem
    job_logs = list((store.logs_dir / "slurm").glob("*.err"))
    assert job_logs and any("Starting established connection" in p.read_text() or "Registered to" in p.read_text()
                            for p in job_logs)
    deadline = time.monotonic() + 60  # the client cancelled its jobs when it closed (they may take a moment to end)
    while True:
        queue = subprocess.run(["squeue", "-h", "-o", "%i %T"], capture_output=True, text=True, env=local_slurm.env)
        if queue.returncode != 0 or not queue.stdout.strip() or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert queue.returncode == 0 and not queue.stdout.strip(), queue.stdout


@requires_dask
def test_two_cluster_sweeps_on_one_store_run_each_point_once(tmp_path):
    cmd = [sys.executable, "-m", "snnbench", "sweep", "vogels-abbott-coba", "--backends", "numba", "--N-pop", "200,300,400",
           "--simtime", "50", "--repeat", "1", "--results", str(tmp_path), "--cluster", "local:1", "--json"]
    sweeps = [subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outcomes = []
    for proc in sweeps:
        out, err = proc.communicate(timeout=600)
        assert proc.returncode == 0, err[-2000:]
        outcomes.append(json.loads(out))
    records = ResultStore(tmp_path).runs()
    assert sorted(Counter(map(configuration, records)).values()) == [1, 1, 1]  # each point once, by one of them
    assert sum(o["ok"] for o in outcomes) == 3
    assert sum(o["ok"] + o["skipped"] + o["claimed_elsewhere"] for o in outcomes) == 6
