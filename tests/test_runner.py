"""Isolation: every failure becomes a record with its reason, and nothing written is lost."""

from __future__ import annotations

import json
import warnings

import pytest

from snnbench.runner import RunSpec, run_isolated
from snnbench.scenario import Overrides
from snnbench.store import ResultStore, append_jsonl, read_jsonl

SMALL = Overrides(N_pop=200, simtime=50.0)


def _run(store, backend, **kw):
    spec = RunSpec(scenario="vogels-abbott-cuba", backend=backend, overrides=SMALL, **kw)
    return run_isolated(spec, store)


def test_a_good_run_then_failures_all_recorded_and_nothing_lost(tmp_path, fault_backends):
    store = ResultStore(tmp_path)
    good = _run(store, "numba")
    assert good["status"] == "ok"
    first_line = store.runs_file.read_text().splitlines()[0]

    raised = _run(store, "fault.raise")
    assert raised["status"] == "failed"
    assert raised["failure"]["kind"] == "exception" and raised["failure"]["phase"] == "build"
    assert "deliberate failure in build" in raised["failure"]["message"]
    assert {"import", "compile"} <= set(raised["phases"])  # what was measured before the failure

    killed = _run(store, "fault.kill")
    assert killed["status"] == "failed" and killed["failure"]["kind"] == "oom"
    assert "SIGKILL" in killed["failure"]["message"] and killed["failure"]["phase"] == "sim"
    assert "build" in killed["phases"]  # the phases measured before the kill survive

    segv = _run(store, "fault.segv")
    assert segv["failure"]["kind"] == "crash" and "SIGSEGV" in segv["failure"]["message"]

    exited = _run(store, "fault.exit")
    assert exited["failure"]["kind"] == "crash" and "status 3" in exited["failure"]["message"]
    assert "about to exit without a result" in exited["failure"]["log_tail"]

    lines = store.runs_file.read_text().splitlines()
    assert lines[0] == first_line
    records = store.runs()
    assert [r["run_id"] for r in records] == [good["run_id"], raised["run_id"], killed["run_id"], segv["run_id"], exited["run_id"]]
    assert [r["status"] for r in records] == ["ok", "failed", "failed", "failed", "failed"]


def test_a_hung_run_is_killed_at_its_timeout(tmp_path, fault_backends):
    store = ResultStore(tmp_path)
    record = _run(store, "fault.hang", timeout=8.0)
    assert record["status"] == "failed" and record["failure"]["kind"] == "timeout"
    assert "8 s timeout" in record["failure"]["message"] and record["failure"]["phase"] == "sim"
    assert store.runs()[-1]["run_id"] == record["run_id"]


def test_a_run_over_its_memory_limit_is_killed(tmp_path, fault_backends):
    store = ResultStore(tmp_path)
    record = _run(store, "fault.hog", memory_limit_bytes=1 * 2**30, timeout=120)
    assert record["status"] == "failed" and record["failure"]["kind"] == "oom"
    assert "exceeded the limit of 1.00 GiB" in record["failure"]["message"]
    assert record["process_tree_peak_rss_bytes"] > 2**30


def test_a_forked_child_is_counted_by_its_own_memory_not_its_parents(tmp_path, fault_backends):
    """A forked child shares its parent's pages until it writes them: summing resident sets
    counted the worker twice (a full-scale run: 6.39 GiB for a 3.25 GiB worker)."""
    record = _run(ResultStore(tmp_path), "fault.fork")
    assert record["status"] == "ok"
    sim, MiB = record["phases"]["sim"], 2**20
    assert sim["peak_rss_bytes"] > 256 * MiB  # the worker's ballast
    assert 30 * MiB < sim["children_peak_rss_bytes"] < 96 * MiB  # the child's own 32 MiB, not the worker's pages
    tree = record["process_tree_peak_rss_bytes"]
    assert sim["peak_rss_bytes"] + 16 * MiB < tree < sim["peak_rss_bytes"] + 96 * MiB  # seen, and counted once


def test_unavailable_and_unsupported_are_recorded_with_the_reason(tmp_path, monkeypatch):
    monkeypatch.setenv("SNNBENCH_EXTRA_BACKENDS", "ghost=tests.missing_module:Nothing")
    store = ResultStore(tmp_path)
    with pytest.raises(ModuleNotFoundError):
        _run(store, "ghost")
    record = _run(store, "numba", connectivity="telepathic")
    assert record["status"] == "failed" and record["failure"]["kind"] == "unsupported"
    assert "connectivity mode 'telepathic'" in record["failure"]["message"]


def test_a_torn_line_is_skipped_and_the_next_record_is_whole(tmp_path):
    path = tmp_path / "runs.jsonl"
    append_jsonl(path, {"run_id": "a"})
    with open(path, "a") as fh:
        fh.write('{"run_id": "torn", "phases": {')  # a writer died here
    append_jsonl(path, {"run_id": "b"})
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ids = [r["run_id"] for r in read_jsonl(path)]
    assert ids == ["a", "b"]
    assert any("not valid JSON" in str(w.message) for w in caught)
    assert json.loads(path.read_text().splitlines()[-1]) == {"run_id": "b"}


def test_non_finite_numbers_are_written_as_null(tmp_path):
    path = tmp_path / "x.jsonl"
    append_jsonl(path, {"a": float("inf"), "b": [float("nan"), 1.0]})
    assert list(read_jsonl(path)) == [{"a": None, "b": [None, 1.0]}]
