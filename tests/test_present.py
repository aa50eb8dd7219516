"""What the commands print, asserted on the lines the formatting functions return (no stdout capture)."""

from __future__ import annotations

import copy

import pytest

from snnbench import present
from snnbench.record import RunRecord
from snnbench.store import ResultStore

from .conftest import ROOT

PD_POPULATIONS = ["L23E", "L23I", "L4E", "L4I", "L5E", "L5I", "L6E", "L6I"]


def _run(run_id="r1", backend="numba", sim=0.1, rate_e=10.0, **changes) -> dict:
    record = {
        "schema": 2, "kind": "run", "run_id": run_id, "timestamp": "2026-01-01T00:00:00+00:00", "status": "ok",
        "scenario": "vogels-abbott-coba", "scenario_title": "VA COBA", "scenario_hash": "abc", "overrides": {},
        "backend": backend, "backend_version": "1.0", "connectivity": "native", "threads": 1, "format": "pickle",
        "options": {}, "machine_id": "m1", "neurons": 4000, "sources": 20, "synapses": 320000,
        "phases": {"import": {"wall_s": 0.3}, "build": {"wall_s": 0.02}, "sim": {"wall_s": sim}, "write": {"wall_s": 0.4}},
        "populations": {
            "E": {"cell_type": "IF_cond_exp", "size": 3200, "spikes": 100, "recorded": 3200, "rate_hz": rate_e,
                  "rate_hz_after_transient": rate_e - 1},
            "I": {"cell_type": "IF_cond_exp", "size": 800, "spikes": 50, "recorded": 800, "rate_hz": 12.0,
                  "rate_hz_after_transient": 11.0},
            "kick": {"cell_type": "SpikeSourcePoisson", "size": 20, "spikes": 5, "recorded": 20, "rate_hz": 50.0},
        },
        "resolved": {"N_pop": 4000, "simtime": 1000.0, "transient": 200.0, "seed": 1},
        "peak_rss_bytes": 231 * 2**20, "realtime_factor": sim, "data": {"format": "pickle", "files": [f"/d/{run_id}.pkl"]},
        "translations": [{"what": "delay", "detail": f"line {i}"} for i in range(5)],
    }
    record.update(changes)
    return record


def test_run_summary_lists_rates_phases_medians_and_records():
    records = [RunRecord.from_json(_run("a", sim=0.1, rate_e=10.0)), RunRecord.from_json(_run("b", sim=0.3, rate_e=14.0))]
    lines = present.run_summary_lines(records, "res/runs.jsonl")
    assert lines[1] == "--- VA COBA ---"
    assert "Number of Neurons      : 4000 (E 3200, I 800) + 20 sources" in lines
    assert "E rate                 : 12.00 Hz  (11.00 Hz after the 200 ms transient)" in lines  # median of 10 and 14
    assert "Simulation time        : 0.200 s  [0.100-0.300, n=2]" in lines
    assert not any(line.startswith("kick rate") for line in lines)  # sources have no rate line
    assert "Peak memory            : 231 MiB" in lines
    translations = [line for line in lines if line.startswith("Translation")]
    assert len(translations) == 4 and "2 more of this kind" in translations[-1]  # at most 3 of a kind
    assert lines[-2] == "Records                : res/runs.jsonl (a, b)"
    assert lines[-1] == "Data                   : /d/a.pkl (+1 more)"


def test_run_summary_of_failed_runs_names_kind_and_message():
    failed = _run("f", status="failed", failure={"kind": "timeout", "message": "no result after 8 s"})
    for key in ("populations", "resolved", "synapses"):
        failed.pop(key)
    lines = present.run_summary_lines([RunRecord.from_json(failed)], "runs.jsonl")
    assert lines[-1] == "FAILED run f  : [timeout] no result after 8 s"


def test_rates_that_did_not_come_back_say_why():
    record = _run(backend_info={"spike_data": "none: virtual board"})
    for pop in record["populations"].values():
        pop["rate_hz"] = pop["rate_hz_after_transient"] = None
    lines = present.run_summary_lines([RunRecord.from_json(record)], "runs.jsonl")
    assert "E rate                 : n/a (virtual board)" in lines


def test_table_groups_repeats_of_one_configuration_with_median_and_range():
    records = [_run("a", sim=0.1), _run("b", sim=0.3), _run("c", sim=0.2), _run("d", backend="nest", sim=6.0)]
    header, rows = present.results_table(records)
    assert header[-2:] == ["E rate (Hz)", "I rate (Hz)"]
    by_backend = {row[3]: row for row in rows}
    assert set(by_backend) == {"numba 1.0", "nest 1.0"}
    assert by_backend["numba 1.0"][5] == "3" and by_backend["numba 1.0"][8] == "0.2 [0.1-0.3]"
    assert by_backend["nest 1.0"][5] == "1" and by_backend["nest 1.0"][8] == "6"
    assert by_backend["numba 1.0"][9] == "0.4 [0.4-0.4] pickle"


def test_table_keeps_configurations_apart_and_says_what_differs():
    records = [_run("a"), _run("b", machine_id="m2"), _run("c", overrides={"seed": 2})]
    _, rows = present.results_table(records)
    assert len(rows) == 3  # another machine, another seed: other configurations
    names = sorted(row[3] for row in rows)
    assert any("[machine: m2]" in n for n in names) and any("seed=2" in n for n in names)


def test_table_lines_markdown_and_aligned():
    header, rows = ["a", "bb"], [["1", "2"], ["333", "4"]]
    assert present.table_lines(header, rows, markdown=True) == ["| a | bb |", "|---|---|", "| 1 | 2 |", "| 333 | 4 |"]
    assert present.table_lines(header, rows) == ["a    bb", "1    2 ", "333  4 "]


def test_table_of_the_stored_potjans_diesmann_runs_has_every_population():
    header, rows = present.results_table(ResultStore(ROOT / "results" / "pd").runs())
    assert header[-8:] == [f"{name} rate (Hz)" for name in PD_POPULATIONS]
    assert rows and all(cell != "-" for row in rows for cell in row[-8:])


def test_median_spread():
    assert present.median_spread([]) == "-"
    assert present.median_spread([None, 0.5]) == "0.500 s"
    assert present.median_spread([1.0, 3.0, 2.0]) == "2.000 s  [1.000-3.000, n=3]"


def test_validation_lines_of_a_stored_statistical_validation():
    (record, *_) = [v for v in ResultStore(ROOT / "results" / "validation").validations() if v.tier == "statistical"]
    lines = present.validation_lines(record)
    assert lines[1].startswith(f"Validation of {record.candidate} ")
    assert lines[-1] == f"Verdict: {record.verdict}"
    assert sum(1 for line in lines if line.rstrip().endswith(("PASS", "FAIL"))) >= len(record.statistical.statistics)


def test_validation_lines_of_the_exact_tier():
    record = {"candidate": "numba", "candidate_version": "1", "reference": "nest", "reference_version": "3", "scenario": "single-neuron",
              "N_pop": 2, "simtime": 1000.0, "tier": "exact", "verdict": "FAIL",
              "exact": {"dt": 0.1, "cells": [{"population": "cond", "index": 0, "spikes_x": 10, "spikes_y": 11,
                                               "max_shift_ms": None, "v_rms_mv": 0.2, "passed": False}]}}
    lines = present.validation_lines(record)
    assert lines[-2].split() == ["cond", "0", "10", "11", "-", "2.00e-01", "FAIL"]
    assert lines[-1] == "Verdict: FAIL"


def test_fit_lines_show_each_model_and_predictions():
    from snnbench.fit import fit_report

    report = fit_report(ResultStore(ROOT / "results" / "pd").runs(), "potjans-diesmann", phases=("memory",))
    lines = present.fit_lines(report, [(77169.0, 1500.0)])
    assert lines[0].startswith("Cost models for potjans-diesmann from 8 runs on 1 machine(s)")
    assert any(line.startswith("numba") and "peak memory (MiB) =" in line for line in lines)
    predictions = lines[lines.index("Predictions at N_pop = 77,169, simtime = 1500 ms (95 % prediction interval)") + 1:]
    assert {line.split()[0] for line in predictions} == {m.backend for m in report["models"]}
    assert all(line.endswith("(extrapolated)") for line in predictions)


def test_sweep_outcome_line():
    outcome = {"name": "s", "ok": 3, "failed": 1, "skipped": 2, "points": 6, "claimed_elsewhere": 0}
    assert present.sweep_outcome_line(outcome, "r/runs.jsonl") == (
        "sweep s: 3 ok, 1 failed, 2 skipped (already recorded) of 6 points; records in r/runs.jsonl")


def test_a_summary_does_not_change_its_records():
    records = [RunRecord.from_json(_run("a")), RunRecord.from_json(_run("b"))]
    before = copy.deepcopy([r.to_dict() for r in records])
    present.run_summary_lines(records, "runs.jsonl")
    present.results_table(records)
    assert [r.to_dict() for r in records] == before


@pytest.mark.parametrize("value, text", [(None, "-"), (512 * 2**20, "512 MiB"), (3 * 2**30, "3.00 GiB")])
def test_fmt_bytes(value, text):
    assert present.fmt_bytes(value) == text


def test_simulator_stages_and_board_estimates_are_shown_apart_from_measured_phases():
    stages = {"Mapping Stage": {"wall_s": 1.3, "steps": {"placer": 0.9, "router": 0.2, "tiny": 0.0001}}}
    estimates = {"label": "ESTIMATE, not measured", "phases": {"load_s": 180.0, "run_s": 10.0, "extract_s": 48.0, "on_board_s": 238.0},
                 "constants": {"a_load_s_per_neuron": 0.045, "time_scale_factor": 10.0, "b_extract_s_per_neuron_per_s": 0.012},
                 "calibration": {"source": "one board figure"}, "sim_phase_with_board_s": 247.3}
    record = _run(sim=9.3, estimates=estimates, backend_info={"machine": "virtual board"},
                  phases={"build": {"wall_s": 0.3}, "sim": {"wall_s": 9.3, "stages": stages}, "write": {"wall_s": 0.1}})
    lines = present.run_summary_lines([RunRecord.from_json(record)], "runs.jsonl")
    sim = lines.index("Simulation time        : 9.300 s  (measured; virtual board: host-side mapping + data generation only)")
    assert lines[sim + 1] == "  Mapping Stage        : 1.300 s  (placer 0.900 s, router 0.200 s)"
    board = lines.index("Board phases           : ESTIMATE, not measured")
    assert lines[board + 1] == "  on-board load         : ~180.0 s  (a N, a = 45.0 ms/neuron)"
    assert "sim phase with a board ~247.3 s" in lines[board + 4]
    assert "Real-time factor       : 9.300  (host side only: not a board figure)" in lines
