"""Process hygiene: a killed or interrupted `snnbench` leaves no worker, no temp dir and a valid
store (with an `interrupted` record when it could write one); two sweeps on one store never run
the same point twice."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from snnbench.store import ResultStore, read_jsonl

from .conftest import ROOT

SMALL = ["--N-pop", "200", "--simtime", "50"]


def _gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE  # dead, waiting to be reaped
    except psutil.NoSuchProcess:
        return True


def _wait(condition, timeout: float, step: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(step)
    return condition()


def _default_signals() -> None:
    """In the child, before exec: SIGINT and SIGHUP back to their defaults. snnbench leaves a signal
    its parent ignores ignored (nohup, a background job of a script), so a test suite started that
    way would otherwise send signals its child never sees."""
    for signum in (signal.SIGINT, signal.SIGHUP):
        signal.signal(signum, signal.SIG_DFL)


def _start_hanging_run(results: Path) -> tuple[subprocess.Popen, psutil.Process, psutil.Process | None, Path]:
    """`snnbench run` on fault.hang, returned once its worker is in the sim phase (hanging)."""
    parent = subprocess.Popen([sys.executable, "-m", "snnbench", "run", "vogels-abbott-cuba", *SMALL, "--backend",
                               "fault.hang", "--format", "pickle", "--results", str(results), "--timeout", "300"],
                              cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, preexec_fn=_default_signals)
    handle = psutil.Process(parent.pid)

    def worker() -> psutil.Process | None:
        for p in handle.children():
            try:
                if "snnbench.worker" in " ".join(p.cmdline()):
                    return p
            except psutil.NoSuchProcess:
                pass
        return None

    assert _wait(lambda: worker() is not None, 60), parent.communicate(timeout=5)
    child = worker()
    progress = Path(child.cmdline()[-1])
    assert _wait(lambda: progress.exists() and json.loads(progress.read_text() or "{}").get("phase") == "sim", 120)
    return parent, child, _guard_of(child.pid), progress.parent


def _guard_of(worker_pid: int) -> psutil.Process | None:
    """The orphan guard watching `worker_pid` (nobody's child: found by its command line)."""
    for p in psutil.process_iter(["cmdline"]):
        cmd = p.info["cmdline"] or []
        if "snnbench.orphan_guard" in cmd and str(worker_pid) in cmd:
            return p
    return None


def _no_leftovers(results: Path, work_dir: Path, worker: psutil.Process, guard: psutil.Process | None) -> None:
    assert _wait(lambda: _gone(worker.pid), 5), "the worker outlived its parent by more than 5 s"
    if guard is not None:
        assert _wait(lambda: _gone(guard.pid), 5), "the orphan guard did not exit"
    assert _wait(lambda: not work_dir.exists(), 5), f"{work_dir} was left behind"
    data = results / "data"
    assert not data.exists() or not [p for p in data.iterdir() if p.name.startswith(".partial-")]


@pytest.mark.parametrize("reaped", [True, False], ids=["parent-reaped", "parent-left-a-zombie"])
def test_a_parent_killed_with_sigkill_takes_its_worker_and_temp_dir_with_it(tmp_path, fault_backends, reaped):
    # A parent nobody reaps at once (e.g. orphaned to an init that reaps late) stays a zombie:
    # still "there" for kill(pid, 0), so the guard must not take it for a living parent.
    results = tmp_path / "results"
    parent, worker, guard, work_dir = _start_hanging_run(results)
    assert guard is not None  # the worker started its guard
    parent.kill()
    if reaped:
        parent.wait(timeout=10)
    _no_leftovers(results, work_dir, worker, guard)
    parent.wait(timeout=10)
    assert list(read_jsonl(results / "runs.jsonl")) == []  # nobody could record it: no record, no torn line


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP], ids=["SIGINT", "SIGTERM", "SIGHUP"])
def test_an_interrupted_run_is_recorded_and_exits_130(tmp_path, fault_backends, signum):
    results = tmp_path / "results"
    parent, worker, guard, work_dir = _start_hanging_run(results)
    assert guard is not None and guard.pid not in [c.pid for c in worker.children(recursive=True)]  # not measured
    parent.send_signal(signum)
    out, err = parent.communicate(timeout=30)
    assert parent.returncode == 130, err
    assert "Traceback" not in err and "KeyboardInterrupt" not in err
    last = err.strip().splitlines()[-1]
    assert last.startswith(f"snnbench: interrupted by {signal.Signals(signum).name}; run ") and "recorded" in last
    _no_leftovers(results, work_dir, worker, guard)
    records = ResultStore(results).runs()
    assert len(records) == 1
    failure = records[0]["failure"]
    assert records[0]["status"] == "failed" and failure["kind"] == "interrupted" and failure["phase"] == "sim"
    assert {"import", "compile", "build"} <= set(records[0]["phases"])  # the phases measured before


def _sweep(results: Path, *extra: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "snnbench", "sweep", "vogels-abbott-cuba", "--backends", "numba",
                             "--N-pop", "100,150,200", "--simtime", "20", "--repeat", "2", "--format", "none",
                             "--results", str(results), "--json", *extra],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_two_concurrent_sweeps_run_each_point_exactly_once(tmp_path):
    results = tmp_path / "results"
    first, second = _sweep(results), _sweep(results)
    outcomes = []
    for proc in (first, second):
        out, err = proc.communicate(timeout=600)
        assert proc.returncode == 0, err
        outcomes.append(json.loads(out))
    records = ResultStore(results).runs()
    points = sorted((r["resolved"]["N_pop"], r["repeat"]["index"]) for r in records)
    assert points == sorted((n, rep) for n in (100, 150, 200) for rep in (0, 1))  # 6 planned, 6 run, none twice
    assert sum(o["ok"] for o in outcomes) == 6
    assert not list((results / "claims").glob("*.json"))  # every claim released


def test_an_interrupted_sweep_resumes_with_the_points_left(tmp_path, fault_backends):
    results = tmp_path / "results"
    sweep = subprocess.Popen([sys.executable, "-m", "snnbench", "sweep", "vogels-abbott-cuba", "--backends", "numba,fault.hang",
                              "--N-pop", "100", "--simtime", "20", "--repeat", "1", "--format", "none", "--timeout", "300",
                              "--results", str(results)], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             preexec_fn=_default_signals)
    runs = results / "runs.jsonl"
    assert _wait(lambda: runs.exists() and len(list(read_jsonl(runs))) == 1, 120)  # numba done; fault.hang hangs
    time.sleep(1.0)
    sweep.send_signal(signal.SIGINT)
    _, err = sweep.communicate(timeout=30)
    assert sweep.returncode == 130 and "Traceback" not in err
    assert "1 points run now" in err and "the same command resumes" in err
    kinds = [(r["backend"], r["status"], (r.get("failure") or {}).get("kind")) for r in ResultStore(results).runs()]
    assert kinds == [("numba", "ok", None), ("fault.hang", "failed", "interrupted")]

    from snnbench.sweep import Design, expand, plan

    todo, done = plan(expand([Design(scenario="vogels-abbott-cuba", backends=["numba", "fault.hang"], N_pop="100",
                                     simtime="20", repeat=1, format="none", timeout=300)]), ResultStore(results))
    assert [p.backend for p in done] == ["numba"] and [p.backend for p in todo] == ["fault.hang"]


def test_the_guard_takes_a_zombie_parent_for_dead():
    # A parent killed with SIGKILL and not yet reaped is a zombie: kill(pid, 0) still succeeds.
    # Seen here: the worker's death (PR_SET_PDEATHSIG) reached the guard first, the guard took the
    # zombie parent for a living one and left the work dir behind.
    from snnbench.orphan_guard import _alive

    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        assert _alive(child.pid)
        child.kill()
        assert _wait(lambda: psutil.Process(child.pid).status() == psutil.STATUS_ZOMBIE, 5)
        assert not _alive(child.pid)
    finally:
        child.kill()
        child.wait(timeout=10)
