"""The `snnbench` command as a user and a script see it."""

from __future__ import annotations

import importlib.metadata
import json
import subprocess
import sys

import pytest

SMALL = ["--N-pop", "400", "--simtime", "100"]


def snnbench(*args, cwd):
    return subprocess.run([sys.executable, "-m", "snnbench", *args], capture_output=True, text=True, cwd=cwd, timeout=600)


def test_console_script_is_declared():
    scripts = {ep.name: ep.value for ep in importlib.metadata.entry_points(group="console_scripts")}
    assert scripts.get("snnbench") == "snnbench.cli:main"


def test_run_json_record_has_the_documented_fields(tmp_path):
    proc = snnbench("run", "vogels-abbott-cuba", *SMALL, "--json", "--results", "res", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    record = json.loads(proc.stdout)
    assert record["scenario"] == "vogels-abbott-cuba" and record["backend"] == "numba" and record["status"] == "ok"
    assert record["synapses"] > 0
    assert set(record["populations"]) == {"E", "I"}
    for pop in record["populations"].values():
        assert pop["size"] > 0 and pop["rate_hz"] is not None and pop["rate_hz"] >= 0
    for phase in ("compile", "build", "sim", "write"):
        assert set(record["phases"][phase]) >= {"wall_s", "cpu_s", "peak_rss_bytes"}
    stored = [json.loads(line) for line in (tmp_path / "res" / "runs.jsonl").read_text().splitlines()]
    assert [r["run_id"] for r in stored] == [record["run_id"]]
    assert (tmp_path / "res" / "data" / f"{record['run_id']}.pkl").exists()


def test_run_summary_reads_like_pynn_va_benchmark(tmp_path):
    proc = snnbench("run", "vogels-abbott-coba", *SMALL, "--repeat", "2", "--format", "parquet", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    for line in ("Number of Neurons      : 400", "Number of Synapses", "E rate", "I rate", "Build time",
                 "Simulation time", "Writing time (parquet)", "Peak memory", "Records", "Data"):
        assert line in out, out
    assert "n=2]" in out  # medians with their range over the two repeats
    records = [json.loads(line) for line in (tmp_path / "results" / "runs.jsonl").read_text().splitlines()]
    assert len(records) == 2 and records[0]["repeat"]["group"] == records[1]["repeat"]["group"]


def test_failed_run_exits_1_and_is_recorded(tmp_path, fault_backends):
    proc = snnbench("run", "vogels-abbott-cuba", *SMALL, "--backend", "fault.raise", cwd=tmp_path)
    assert proc.returncode == 1
    assert "FAILED" in proc.stdout and "deliberate failure in build" in proc.stdout
    record = json.loads((tmp_path / "results" / "runs.jsonl").read_text())
    assert record["status"] == "failed"


def test_list_shows_scenarios_and_backend_availability(tmp_path):
    proc = snnbench("list", cwd=tmp_path)
    assert proc.returncode == 0
    assert "vogels-abbott-coba" in proc.stdout and "single-neuron" in proc.stdout
    numba_line = next(line for line in proc.stdout.splitlines() if line.strip().startswith("numba"))
    assert "available" in numba_line and "numba 0." in numba_line


def test_a_source_beyond_what_the_backend_delivers_is_refused_with_the_scenario(tmp_path):
    # rate x dt = 2 needs several spikes per step, which BindsNET's boolean inputs cannot carry:
    # bad input (exit 2, one line), before any process starts
    from .conftest import MINIMAL

    (tmp_path / "fast.toml").write_text(MINIMAL.replace("rate = 50.0", "rate = 20000.0"))
    proc = snnbench("run", str(tmp_path / "fast.toml"), "--backend", "bindsnet", cwd=tmp_path)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    (line,) = proc.stderr.strip().splitlines()
    assert line.startswith("snnbench: ") and "fast.toml" in line and "population src" in line and "rate x dt = 2 > 1" in line
    assert not (tmp_path / "results" / "runs.jsonl").exists()  # nothing ran


@pytest.mark.parametrize("bad", [["--repeat", "0"], ["--threads", "0"], ["--backend", "nope"]])
def test_bad_arguments_exit_2(tmp_path, bad):
    proc = snnbench("run", "vogels-abbott-cuba", *bad, cwd=tmp_path)
    assert proc.returncode == 2
