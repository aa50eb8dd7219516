"""The store under faults: short and failed writes leave it as it was; a full disk is an error,
not a lost record; every reader survives any byte sequence; claims keep two sweeps apart."""

from __future__ import annotations

import errno
import json
import os
import shutil
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from snnbench import store as store_module
from snnbench.cli import main
from snnbench.store import ResultStore, StoreError, append_jsonl, publish_staged, read_jsonl, staging_dir

from .conftest import ROOT


def _ok_record(backend: str, n: int, simtime: float, rep: int = 0) -> dict:
    """A complete ok run record as the runner writes it (figures made up)."""
    return {
        "schema": 1, "kind": "run", "run_id": f"{backend}-{n}-{simtime}-{rep}", "timestamp": "2026-01-01T00:00:00+00:00",
        "scenario": "synthetic", "scenario_title": "synthetic", "scenario_hash": "h", "overrides": {"N_pop": n},
        "backend": backend, "backend_version": "1.0", "connectivity": "native", "threads": 1, "format": "none",
        "options": {}, "status": "ok", "failure": None, "machine_id": "m", "repeat": {"index": rep},
        "resolved": {"N_pop": n, "simtime": simtime, "dt": 0.1, "seed": 1, "scale": 1.0, "transient": 0.0},
        "synapses": 80 * n, "peak_rss_bytes": int((100 + 0.01 * n) * 2**20) + 4096 * ((n + rep) % 7),
        "populations": {"E": {"size": n, "cell_type": "IF_cond_exp", "recorded": n, "spikes": 5 * n, "rate_hz": 5.0,
                              "rate_hz_after_transient": 5.0}},
        "phases": {"build": {"wall_s": 1e-4 * n * (1 + 0.02 * ((n + rep) % 3)), "cpu_s": 1e-4 * n, "peak_rss_bytes": 2**20},
                   "sim": {"wall_s": 2e-6 * n * simtime * (1 + 0.02 * ((n + 3 * rep) % 5)), "cpu_s": 0.1,
                           "peak_rss_bytes": 2**20}},
        "data": {"format": "none", "files": []}, "realtime_factor": 0.1,
    }


def _good_records() -> list[dict]:
    return [_ok_record(b, int(n), t, rep) for b in ("numba", "nest") for n in np.geomspace(500, 8000, 4).round()
            for t in (250.0, 1000.0) for rep in range(2)]


GARBAGE_LINES = [
    b"[1]", b"42", b"null", b'"a string"', b"true", b"{}",
    b'{"kind": "run", "status": "ok"}',  # a record missing what readers need
    b'{"kind": "run", "status": "ok", "run_id": 1, "timestamp": "t", "scenario": "synthetic", "backend": "numba", "phases": 5}',
    json.dumps({**_ok_record("numba", 500, 250.0), "resolved": {"N_pop": "500", "simtime": 250}}).encode(),
    json.dumps({**_ok_record("numba", 500, 250.0), "populations": {"E": []}}).encode(),
    json.dumps({**_ok_record("numba", 500, 250.0), "phases": {"sim": {"wall_s": None}}}).encode(),
    json.dumps({**_ok_record("numba", 500, 250.0), "options": "cache=cold"}).encode(),
    json.dumps({**_ok_record("numba", 500, 250.0), "data": {"format": "pickle", "files": "x.pkl"}}).encode(),
    b'{"kind": "validation", "scenario": "synthetic", "candidate": 3}',
    b"\x00" * 300,  # what a crash leaves where a line was being written
    b"\xff\xfe\xfd not utf-8 \x80",
    b'{"run_id": "torn", "phases": {',
    b"[" * 100_000,  # deeper than json can recurse
]


def _garbage_store(tmp_path: Path, extra: list[bytes] = GARBAGE_LINES) -> ResultStore:
    store = ResultStore(tmp_path / "results")
    good = _good_records()
    for i, r in enumerate(good):
        append_jsonl(store.runs_file, r)
        if i % 8 == 0:  # garbage between good records, and after the last
            with open(store.runs_file, "ab") as fh:
                fh.write(b"\n".join(extra) + b"\n")
    with open(store.runs_file, "ab") as fh:
        fh.write(b"\n".join(extra))  # no final newline: a torn tail
    with open(store.validations_file, "wb") as fh:
        fh.write(b"\n".join(extra) + b"\n")
    return store


def test_every_garbage_line_is_skipped_with_one_warning_naming_file_and_line(tmp_path):
    store = _garbage_store(tmp_path)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        runs = store.runs()
    assert [r["run_id"] for r in runs] == [r["run_id"] for r in _good_records()]
    messages = [str(w.message) for w in caught]
    n_garbage_runs = sum(1 for line in GARBAGE_LINES if b'"kind": "validation"' not in line)
    assert len(messages) >= n_garbage_runs * 5  # every copy of every garbage line, once each
    assert all(str(store.runs_file) in m and ": skipped" in m for m in messages)
    assert any("NUL bytes" in m for m in messages) and any("not UTF-8" in m for m in messages)
    assert any("wrong shape" in m and "resolved.N_pop" in m for m in messages)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert store.validations() == []


def test_every_reader_survives_a_store_full_of_garbage(tmp_path, capsys):
    store = _garbage_store(tmp_path)
    results = str(store.root)
    assert main(["table", "--results", results]) == 0
    out, err = capsys.readouterr()
    assert "numba 1.0" in out and "nest 1.0" in out and "Traceback" not in err
    assert "snnbench: warning:" in err and "runs.jsonl:" in err  # skipped lines are reported, one line each
    assert main(["fit", "--results", results, "--json"]) == 0
    fitted = json.loads(capsys.readouterr().out)
    assert {m["backend"] for m in fitted["models"]} == {"numba", "nest"}
    assert main(["report", "--results", results, "--out", str(tmp_path / "report")]) == 0
    assert (tmp_path / "report" / "index.html").stat().st_size > 1000
    capsys.readouterr()
    assert main(["recommend", "synthetic", "--N-pop", "1000", "--simtime", "500", "--results", results]) == 0
    out, err = capsys.readouterr()
    assert "The stored runs cannot answer" in out and "never validated on this scenario" in out and "Traceback" not in err

    from snnbench.runner import RunSpec
    from snnbench.sweep import Design, expand, plan
    from snnbench.validate import _reusable

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert _reusable(store, RunSpec(scenario="vogels-abbott-cuba"), "h", "1.0") is None  # no data files: none reusable
        todo, done = plan(expand([Design(scenario="vogels-abbott-cuba", backends=["numba"], N_pop="200", repeat=1)]), store)
    assert len(todo) == 1 and not done


@settings(max_examples=30, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(lines=st.lists(st.binary(max_size=200), min_size=1, max_size=8))
def test_fuzz_any_bytes_in_a_store_never_crash_a_reader(tmp_path_factory, capsys, lines):
    store = _garbage_store(tmp_path_factory.mktemp("fuzz"), extra=lines)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert len(store.runs()) >= len(_good_records())
        store.validations()
        assert main(["table", "--results", str(store.root)]) == 0
        assert main(["fit", "--results", str(store.root), "--phase", "sim", "--json"]) == 0
    capsys.readouterr()


# ------------------------------------------------------------------ writes


def test_a_short_write_is_undone_and_raised(tmp_path, monkeypatch):
    path = tmp_path / "runs.jsonl"
    append_jsonl(path, {"run_id": "a"})
    before = path.read_bytes()
    real_write = os.write

    def short(fd, data):  # the disk fills after half the line
        if len(data) > 10:
            return real_write(fd, data[: len(data) // 2])
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(store_module.os, "write", short)
    with pytest.raises(StoreError, match="No space left on device; the file is unchanged"):
        append_jsonl(path, {"run_id": "b", "payload": "x" * 100})
    monkeypatch.undo()
    assert path.read_bytes() == before
    append_jsonl(path, {"run_id": "c"})
    assert [r["run_id"] for r in read_jsonl(path)] == ["a", "c"]


def test_a_failed_fsync_is_undone_and_raised(tmp_path, monkeypatch):
    path = tmp_path / "runs.jsonl"
    append_jsonl(path, {"run_id": "a"})
    before = path.read_bytes()

    def failing_fsync(fd):
        raise OSError(errno.EIO, os.strerror(errno.EIO))

    monkeypatch.setattr(store_module.os, "fsync", failing_fsync)
    with pytest.raises(StoreError):
        append_jsonl(path, {"run_id": "b"})
    monkeypatch.undo()
    assert path.read_bytes() == before


def test_data_files_are_published_whole_or_not_at_all(tmp_path, monkeypatch):
    data = tmp_path / "data"
    staged = staging_dir(data, "r1")
    staged.mkdir(parents=True)
    files = [staged / "r1.spikes.parquet", staged / "r1.v.parquet"]
    for f in files:
        f.write_bytes(b"x")
    assert publish_staged(staged, [str(f) for f in files]) == [str(data / f.name) for f in files]
    assert not staged.exists()

    staged = staging_dir(data, "r2")
    staged.mkdir()
    files = [staged / "r2.spikes.parquet", staged / "r2.v.parquet"]
    for f in files:
        f.write_bytes(b"x")
    real_replace, calls = os.replace, []

    def second_fails(src, dst):
        calls.append(src)
        if len(calls) == 2:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        real_replace(src, dst)

    monkeypatch.setattr(store_module.os, "replace", second_fails)
    with pytest.raises(StoreError):
        publish_staged(staged, [str(f) for f in files])
    assert not staged.exists() and not list(data.glob("r2*"))


@pytest.fixture
def full_filesystem(tmp_path):
    """A 2 MiB tmpfs, filled to the last byte (root only: mounting needs it)."""
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("mounting a small tmpfs to fill needs root (and mount); not running as root here")
    mnt = tmp_path / "full"
    mnt.mkdir()
    proc = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mnt)], capture_output=True, text=True)
    if proc.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {proc.stderr.strip()}")
    try:
        results = mnt / "results"
        record = _ok_record("numba", 500, 250.0)
        line = len(json.dumps(record, separators=(",", ":"))) + len(',"padding":""') + 1
        append_jsonl(results / "runs.jsonl", {**record, "padding": "x" * (4096 - line)})
        assert (results / "runs.jsonl").stat().st_size == 4096  # one whole page: any append needs a new one
        fd = os.open(mnt / "filler", os.O_WRONLY | os.O_CREAT)
        try:  # fill every free block, down to single bytes
            for chunk in (65536, 4096, 1):
                try:
                    while os.write(fd, b"\0" * chunk):
                        pass
                except OSError:
                    pass
        finally:
            os.close(fd)
        yield results
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)


def test_a_full_disk_is_an_error_and_the_store_is_as_it_was(full_filesystem):
    runs = full_filesystem / "runs.jsonl"
    before = runs.read_bytes()
    with pytest.raises(StoreError, match="No space left on device"):
        append_jsonl(runs, {**_ok_record("numba", 1000, 250.0), "padding": "x" * 200_000})
    assert runs.read_bytes() == before


def test_a_run_on_a_full_disk_exits_non_zero_and_loses_nothing(full_filesystem, fault_backends):
    runs = full_filesystem / "runs.jsonl"
    before = runs.read_bytes()
    proc = subprocess.run([sys.executable, "-m", "snnbench", "run", "vogels-abbott-cuba", "--N-pop", "200", "--simtime", "50",
                           "--format", "pickle", "--results", str(full_filesystem)], capture_output=True, text=True,
                          timeout=300, cwd=ROOT)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr and "No space left on device" in proc.stderr
    assert "Records" not in proc.stdout  # no summary claims a record that is not there
    assert runs.read_bytes() == before
    data = full_filesystem / "data"
    assert not data.exists() or not any(data.iterdir())  # no partial data file, no staging folder


# ------------------------------------------------------------------ claims


def test_a_claim_excludes_others_until_released(tmp_path):
    store = ResultStore(tmp_path)
    first = store.claim("point-1")
    assert first is not None
    assert first.info["host"] and first.info["pid"] == os.getpid()
    assert store.claim("point-2") is not None
    live = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        claim_file = first.path
        owner = json.loads(claim_file.read_text())
        from snnbench.store import _process_start

        owner.update(pid=live.pid, process_start=_process_start(live.pid))
        claim_file.write_text(json.dumps(owner))  # now held by another live process on this host
        assert store.claim("point-1") is None
        live.kill()
        live.wait()
        taken = store.claim("point-1")  # its owner is gone: taken over
        assert taken is not None and json.loads(claim_file.read_text())["pid"] == os.getpid()
        taken.release()
        assert not claim_file.exists()
    finally:
        live.kill()


def test_a_claim_from_another_host_is_stale_only_without_heartbeat(tmp_path):
    store = ResultStore(tmp_path)
    claim = store.claim("point")
    owner = json.loads(claim.path.read_text())
    owner["host"] = "some-other-host"
    claim.path.write_text(json.dumps(owner))
    assert store.claim("point") is None  # fresh heartbeat: honoured
    old = time.time() - store_module.CLAIM_STALE_AFTER_S - 5
    os.utime(claim.path, (old, old))
    assert store.claim("point") is not None  # no heartbeat for too long: taken over
    claim.release()  # the old owner's release must not remove the new owner's claim
    assert claim.path.exists()


def test_validation_does_not_reuse_a_run_whose_data_file_is_damaged(tmp_path):
    from snnbench.runner import RunSpec, run_isolated
    from snnbench.scenario import Overrides
    from snnbench.validate import _reusable

    store = ResultStore(tmp_path)
    spec = RunSpec(scenario="vogels-abbott-cuba", overrides=Overrides(N_pop=200, simtime=50.0, seed=3), format="parquet")
    record = run_isolated(spec, store)
    assert record["status"] == "ok"
    assert _reusable(store, spec, record["scenario_hash"], record["backend_version"])["run_id"] == record["run_id"]
    Path(record["data"]["files"][0]).write_bytes(b"PAR1 cut short by a crash")
    assert _reusable(store, spec, record["scenario_hash"], record["backend_version"]) is None  # redone, not a crash
