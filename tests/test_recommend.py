"""`snnbench recommend` on small synthetic stores whose costs are known: ranking, intervals,
extrapolation warnings, what is listed apart and why, memory budgets, --json and bad input."""

from __future__ import annotations

import json

import numpy as np
import pytest

from snnbench.fit import fit_report, frame, holds, model_points
from snnbench.present import recommend_lines
from snnbench.record import RunRecord, ValidationRecord, as_run_records
from snnbench.recommend import NoRuns, recommend
from snnbench.store import append_jsonl

from .conftest import ROOT
from .test_fit import _records

GiB = 2**30


def _validation(candidate: str, passed: bool = True, timestamp: str = "2026-01-02T00:00:00+00:00") -> dict:
    return {"kind": "validation", "scenario": "synthetic", "candidate": candidate, "reference": "ref", "tier": "statistical",
            "passed": passed, "verdict": "PASS" if passed else "FAIL", "timestamp": timestamp, "N_pop": 4000, "simtime": 1000.0}


def _store() -> tuple[list[RunRecord], list[ValidationRecord]]:
    """fast: 1e-5 N T ms; slow: 2e-4 N T; ref (the validations' reference): 1e-3 N T;
    unchecked: the cheapest, never validated; broken: cheap, failed its validation."""
    runs = (_records("fast", lambda N, T: 1e-5 * N * T, seed=1) + _records("slow", lambda N, T: 2e-4 * N * T, seed=2)
            + _records("ref", lambda N, T: 1e-3 * N * T, seed=3) + _records("unchecked", lambda N, T: 1e-6 * N * T, seed=4)
            + _records("broken", lambda N, T: 2e-6 * N * T, seed=5))
    validations = [_validation("fast"), _validation("slow"), _validation("broken", passed=True, timestamp="2026-01-01T00:00:00+00:00"),
                   _validation("broken", passed=False)]  # the latest verdict counts
    return as_run_records(runs), [ValidationRecord.model_validate(v) for v in validations]


def _recommend(N_pop=4000, simtime=1000.0, budget=64 * GiB, runs=None, validations=None):
    stored_runs, stored_validations = _store()
    return recommend(runs if runs is not None else stored_runs,
                     validations if validations is not None else stored_validations,
                     "synthetic", N_pop, simtime, memory_budget_bytes=budget, memory_source="test")


def test_validated_backends_ranked_by_predicted_total_with_intervals_around_the_truth():
    rec = _recommend()
    assert [o.configuration for o in rec.by_total] == ["fast", "slow", "ref"]
    assert [o.configuration for o in rec.by_sim] == ["fast", "slow", "ref"]
    for option, per_ms in zip(rec.by_total, (1e-5, 2e-4, 1e-3)):
        sim = option.predictions["sim"]
        truth = per_ms * 4000 * 1000
        assert sim.low < truth < sim.high and sim.holds
        # total = sim + build (0.01 N ms in the synthetic runs)
        total = option.predictions["total"]
        assert total.low < truth + 0.01 * 4000 < total.high
    assert rec.by_total[2].verdict.state == "reference"
    assert rec.answer.startswith("fast: predicted total") and "less than slow" in rec.answer
    assert not any("extrapolation" in n for n in rec.notes)


def test_never_validated_and_failed_validation_are_listed_apart_with_the_reason():
    rec = _recommend()
    apart = {o.configuration: o for o in rec.apart}
    assert set(apart) == {"unchecked", "broken"}  # both cheaper than every ranked backend, neither ranked
    assert apart["unchecked"].apart == "never validated on this scenario"
    assert apart["broken"].apart.startswith("failed its latest validation (statistical tier against ref")
    assert "total" in apart["unchecked"].predictions  # its prediction is still shown
    text = "\n".join(recommend_lines(rec))
    assert "Listed apart (not ranked), with the reason" in text
    assert "never validated on this scenario" in text and "unchecked" in text


def test_a_size_outside_the_measured_range_says_so_and_by_how_much():
    rec = _recommend(N_pop=20000)
    best = rec.by_total[0]
    assert best.outside_range == [
        "no runs of fast above N_pop 8,000: 20,000 is 2.5x the largest measured; the prediction is an extrapolation"]
    assert best.outside_range[0] in rec.notes
    rec = _recommend(N_pop=4000, simtime=100.0)
    assert any("below simtime 250 ms" in n and "2.5x smaller" in n for n in rec.by_total[0].outside_range)


def test_memory_budget_skips_a_faster_backend_that_does_not_fit():
    # every synthetic run peaks at 120 MiB + 0.004 MiB per neuron: ~136 MiB at N 4000
    rec = _recommend(budget=100 * 2**20)
    assert all(o.memory == "does not fit" for o in rec.by_total)
    assert rec.answer.startswith("No validated configuration fits the memory budget")
    rec = _recommend(budget=200 * 2**20)
    assert rec.by_total[0].memory == "fits"


def test_failed_runs_are_reported_and_a_backend_without_successful_runs_is_apart():
    runs, validations = _store()
    failed = []
    for i, N in enumerate((16000, 16000, 32000)):
        failed.append(RunRecord.model_validate({
            "kind": "run", "status": "failed", "backend": "crashy", "scenario": "synthetic", "machine_id": "m",
            "run_id": f"crashy-{i}", "timestamp": "2026-01-01T00:00:00+00:00", "overrides": {"N_pop": N, "simtime": 1000.0},
            "phases": {}, "failure": {"kind": "oom", "phase": "build", "message": "killed"}}))
    rec = _recommend(runs=runs + failed, validations=validations + [ValidationRecord.model_validate(_validation("crashy"))])
    crashy = next(o for o in rec.apart if o.backend == "crashy")
    assert crashy.apart == "no successful run"
    assert crashy.failures == ["oom in build at N_pop 16000, 1000 ms (2 runs)", "oom in build at N_pop 32000, 1000 ms"]
    # the recommended backend's own failures are said with the answer
    fast_failed = failed[0].model_copy(update={"backend": "fast", "run_id": "fast-failed"})
    rec = _recommend(runs=runs + [fast_failed])
    assert "fast also has failed runs: oom in build at N_pop 16000, 1000 ms" in rec.notes


def test_no_validated_backend_the_data_cannot_answer():
    rec = _recommend(validations=[])
    assert rec.by_total == [] and rec.answer.startswith("The stored runs cannot answer")
    assert any("unvalidated, the lowest predicted total time is unchecked's" in n for n in rec.notes)
    with pytest.raises(NoRuns, match="no runs of scenario synthetic"):
        recommend([], [], "synthetic", 1000, 1000.0, memory_budget_bytes=GiB, memory_source="test")


def test_holds_refuses_a_model_that_misses_its_data():
    # a cost growing as N^2 has no candidate term: the linear models miss the medians at the ends
    records = as_run_records(_records("curved", lambda N, T: 2e-4 * N**2 * (1 + T / 1000), noise=0.01))
    model = next(m for m in fit_report(records, phases=("sim",))["models"])
    ok, why = holds(model, model_points(frame(records), model))
    assert not ok and "more than 1.5x off" in why  # the small end, where the costs are small
    # points 30 % above a model fitted with 1 % noise: within 1.5x, but outside its prediction intervals
    records = as_run_records(_records("x", lambda N, T: 1e4 + 1e-3 * N * T, noise=0.01))
    model = next(m for m in fit_report(records, phases=("sim",))["models"])
    higher = as_run_records(_records("x", lambda N, T: 1.3 * (1e4 + 1e-3 * N * T), noise=0.01))
    ok, why = holds(model, model_points(frame(higher), model))
    assert not ok and "24 of 24 measured medians outside its 95 % prediction interval" in why
    records = as_run_records(_records("linear", lambda N, T: 1e-4 * N * T))
    model = next(m for m in fit_report(records, phases=("sim",))["models"])
    assert holds(model, model_points(frame(records), model)) == (True, "")


def test_without_warm_runs_the_partial_cache_runs_are_fitted_and_said_so():
    records = _records("standalone", lambda N, T: 1e-4 * N * T, build_ms=lambda N, T: 2000.0 + 0.01 * N)
    for i, r in enumerate(records):
        r["backend_info"] = {"compile_cache": "cold" if i < 6 else "partial"}
    model = next(m for m in fit_report(records, phases=("total",))["models"])
    assert model.selection == "partial" and model.n == len(records) - 6
    assert "fitted on the 66 runs that regenerated part of their code" in model.note


@pytest.fixture
def synthetic_results(tmp_path):
    runs, validations = _store()
    for r in runs:
        append_jsonl(tmp_path / "runs.jsonl", r.to_dict())
    for v in validations:
        append_jsonl(tmp_path / "validations.jsonl", v.to_dict())
    return tmp_path


def _cli(capsys, *args):
    """`snnbench recommend ARGS` in this process (main() as the console script calls it): status, stdout, stderr."""
    from snnbench.cli import main

    code = main(["recommend", *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_json_and_text(synthetic_results, capsys):
    code, out, err = _cli(capsys, "synthetic", "--N-pop", "2000", "--simtime", "500", "--results", str(synthetic_results), "--json")
    assert code == 0, err
    out = json.loads(out)
    assert [o["configuration"] for o in out["by_total"]] == ["fast", "slow", "ref"]
    total = out["by_total"][0]["predictions"]["total"]
    assert total["low"] < total["mean"] < total["high"] and total["unit"] == "ms"
    assert out["validations_file"] == str(synthetic_results / "validations.jsonl")
    assert {o["configuration"]: o["apart"] for o in out["apart"]}["unchecked"] == "never validated on this scenario"
    code, out, _ = _cli(capsys, "synthetic", "--N-pop", "2000", "--simtime", "500", "--results", str(synthetic_results),
                        "--memory", "16")
    assert code == 0 and out.splitlines()[5].startswith("Answer: fast: predicted total")
    assert "16 GiB budget (--memory)" in out


@pytest.mark.parametrize("args, message", [
    (["other", "--N-pop", "10", "--simtime", "10"], "snnbench: no runs of scenario other in"),
    (["synthetic", "--N-pop", "0", "--simtime", "10"], "argument --N-pop: expected an integer >= 1"),
    (["synthetic", "--N-pop", "10", "--simtime", "10", "--memory", "nan"], "argument --memory"),
    (["synthetic", "--N-pop", "10", "--simtime", "10", "--validations", "/nonexistent/v.jsonl"], "--validations /nonexistent"),
])
def test_cli_bad_input_exits_2_with_one_line(synthetic_results, capsys, args, message):
    code, _, err = _cli(capsys, *args, "--results", str(synthetic_results))
    assert code == 2
    assert err.count("\n") == 1 and message in err, err


def test_example_recommendation_numbers_are_finite():
    """The README's example store: every ranked prediction is a finite interval around its mean."""
    from snnbench.store import ResultStore

    results = ROOT / "results"
    store, validations = ResultStore(results / "example"), ResultStore(results / "validation").validations()
    rec = recommend(store.runs(), validations, "vogels-abbott-coba", 6000, 1000.0, memory_budget_bytes=24 * GiB, memory_source="test")
    assert rec.by_total, rec.answer
    for o in rec.by_total:
        p = o.predictions["total"]
        assert np.isfinite([p.low, p.mean, p.high]).all() and p.low <= p.mean <= p.high


def test_one_simtime_only_says_why_there_is_no_time_model_and_still_predicts_memory():
    runs = [r for r in _records("fast", lambda N, T: 1e-5 * N * T) if r["resolved"]["simtime"] == 1000.0]
    rec = _recommend(N_pop=80000, runs=as_run_records(runs), validations=[ValidationRecord.model_validate(_validation("fast"))])
    fast = rec.apart[0]
    assert fast.apart.startswith("no total-time model: measured at one simtime only (1000 ms)")
    assert "memory" in fast.predictions and fast.outside_range[0].startswith("no runs of fast above N_pop 8,000: 80,000 is 10x")
    text = "\n".join(recommend_lines(rec))
    assert "peak memory" in text and "is 10x the largest measured" in text


def test_a_static_synapses_configuration_is_never_ranked():
    """--static-synapses runs of a plastic scenario are cheaper (no weight updates) but not its
    network: listed apart with the reason, left out of the measured winners, however fast."""
    from snnbench.recommend import STATIC_APART, measured_winners

    runs, validations = _store()
    static = [{**r, "overrides": {"plasticity": "off"}, "run_id": r["run_id"] + "-static"}
              for r in _records("fast", lambda N, T: 1e-7 * N * T, seed=6)]
    runs = runs + as_run_records(static)
    rec = _recommend(runs=runs, validations=validations)
    assert [o.configuration for o in rec.by_total] == ["fast", "slow", "ref"]
    (apart,) = [o for o in rec.apart if o.configuration == "fast static synapses"]
    assert apart.apart == STATIC_APART
    points = measured_winners(runs, validations, "synthetic")
    assert points and all(p.winner == "fast" and "fast static synapses" not in p.cheaper_unvalidated for p in points)
