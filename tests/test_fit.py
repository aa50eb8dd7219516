"""Cost models on synthetic data with known coefficients, and crossovers where they are known."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from snnbench.fit import fit_phase, fit_report
from snnbench.store import append_jsonl


def _records(backend, sim_ms, seed=1, noise=0.03, build_ms=None):
    """Runs over N 500-8000 (6 log-spaced) x simtime 250-2000 x 3 repeats, with multiplicative noise."""
    rng = np.random.default_rng(seed)
    out = []
    for rep in range(3):
        for T in (250.0, 500.0, 1000.0, 2000.0):
            for N in np.geomspace(500, 8000, 6).round():
                sim = sim_ms(N, T) * (1 + noise * rng.standard_normal())
                build = (build_ms(N, T) if build_ms else 0.01 * N) * (1 + noise * rng.standard_normal())
                out.append({
                    "kind": "run", "status": "ok", "backend": backend, "scenario": "synthetic", "machine_id": "m",
                    "run_id": f"{backend}-{rep}-{T}-{N}", "timestamp": "2026-01-01T00:00:00+00:00",
                    "resolved": {"N_pop": int(N), "simtime": T}, "synapses": int(80 * N),
                    "populations": {"E": {"spikes": 10 * N * T / 1000, "size": int(N), "recorded": int(N), "cell_type": "IF_cond_exp"}},
                    "phases": {"sim": {"wall_s": sim / 1000}, "build": {"wall_s": build / 1000}},
                    "peak_rss_bytes": int((120 + 0.004 * N) * 2**20),
                })
    return out


def test_seed_model_coefficients_are_recovered_within_their_intervals():
    a, b = 0.0125, 2.84e-4  # T = a N + b N simtime  (OpSNN's NEST sim fit, per ms of simtime)
    model = fit_phase(_records("x", lambda N, T: a * N + b * N * T), "x", "sim")
    assert model.name == "seed (a N + b N T)"  # the generating model wins on AIC
    coef = {c.term: c for c in model.coefficients}
    assert coef["N"].ci_low <= a <= coef["N"].ci_high
    assert coef["N*simtime"].ci_low <= b <= coef["N*simtime"].ci_high
    assert coef["N*simtime"].value == pytest.approx(b, rel=0.02)
    assert model.r2 > 0.99 and model.n == 72
    assert model.formula().startswith("sim time (ms) = 0.01")
    assert "* N_pop * simtime" in model.formula()
    prediction = model.predict(4000, 1000.0)
    truth = a * 4000 + b * 4000 * 1000
    assert prediction["low"][0] < truth < prediction["high"][0]


def test_a_constant_term_is_found_when_there_is_one():
    model = fit_phase(_records("x", lambda N, T: 2.0e-4 * N * T,
                               build_ms=lambda N, T: 300.0 + 0.05 * N), "x", "build")
    coef = {c.term: c for c in model.coefficients}
    assert "const" in coef and coef["const"].ci_low <= 300.0 <= coef["const"].ci_high
    assert coef["N"].ci_low <= 0.05 <= coef["N"].ci_high
    assert "Jarque-Bera normality p" in model.checks


def test_memory_model_in_mib():
    model = fit_phase(_records("x", lambda N, T: 1e-4 * N * T), "x", "memory")
    coef = {c.term: c for c in model.coefficients}
    assert coef["const"].value == pytest.approx(120, rel=0.01) and coef["N"].value == pytest.approx(0.004, rel=0.01)
    assert model.unit == "MiB"


def test_crossover_where_the_costs_meet():
    # A: 500 ms overhead + 1e-4 N T; B: 1e-3 N T. They meet where 500 = 9e-4 N T: at T = 1000, N = 555.6.
    records = _records("A", lambda N, T: 500.0 + 1e-4 * N * T) + _records("B", lambda N, T: 1e-3 * N * T, seed=2)
    report = fit_report(records, phases=("sim",))
    crossing = [c for c in report["crossovers"] if c.simtime == 1000.0]
    assert len(crossing) == 1
    assert crossing[0].N == pytest.approx(555.6, rel=0.1)
    assert crossing[0].cheaper_above == "A" and "above N =" in crossing[0].note


def test_fit_cli_json_has_r2_for_every_model(tmp_path):
    for r in _records("numba", lambda N, T: 1.5e-5 * N * T) + _records("nest", lambda N, T: 2e-3 * N * T, seed=3):
        append_jsonl(tmp_path / "runs.jsonl", r)
    proc = subprocess.run([sys.executable, "-m", "snnbench", "fit", "--results", str(tmp_path), "--json",
                           "--predict", "77169,1000"], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert {(m["backend"], m["phase"]) for m in out["models"]} >= {("numba", "sim"), ("nest", "sim")}
    assert all(0 <= m["r2"] <= 1 for m in out["models"])
    assert any(c["phase"] == "sim" for c in out["crossovers"])
    assert any(p["N_pop"] == 77169 and p["phase"] == "memory" for p in out["predictions"])
    text = subprocess.run([sys.executable, "-m", "snnbench", "fit", "--results", str(tmp_path)], capture_output=True, text=True)
    assert "sim time (ms) = " in text.stdout and "Crossovers" in text.stdout


def test_one_simtime_fits_build_per_synapse_and_sim_per_synaptic_event():
    """A microcircuit-like sweep: one simtime, synapses ~ N^1.3, events varying with the rate;
    build = 500 ms + 40 ns per synapse, sim = 2 us per cell-ms + 10 ns per synaptic event."""
    rng = np.random.default_rng(3)
    runs = []
    for rep in range(3):
        for i, N in enumerate((3858, 7717, 15434, 38585, 77169)):
            synapses = int(60 * N**1.3)
            events = synapses * (4.0 + (-1) ** i * 1.5) * 1.5  # rate x out-degree x simtime (s)
            sim = 2e-3 * N * 1500.0 + 1e-5 * events
            build = 500.0 + 4e-5 * synapses
            r = _records("x", lambda N, T: 1.0)[0]
            r.update({"run_id": f"pd-{rep}-{N}", "resolved": {"N_pop": N, "simtime": 1500.0}, "synapses": synapses,
                      "synaptic_events": events,
                      "phases": {"sim": {"wall_s": sim * (1 + 0.01 * rng.standard_normal()) / 1000},
                                 "build": {"wall_s": build * (1 + 0.01 * rng.standard_normal()) / 1000}}})
            runs.append(r)
    build = fit_phase(runs, "x", "build")
    assert build is not None and "synapses" in build.terms and "simtime" not in build.name
    coef = {c.term: c for c in build.coefficients}
    assert coef["synapses"].ci_low <= 4e-5 <= coef["synapses"].ci_high
    sim = fit_phase(runs, "x", "sim")
    assert sim is not None and "events" in sim.terms
    coef = {c.term: c for c in sim.coefficients}
    assert coef["events"].value == pytest.approx(1e-5, rel=0.1)
    assert "synaptic events" in sim.formula()


def _plastic_and_static_runs(plastic_ns=40.0, seed=4, repeats=2):
    """An hpc-benchmark-like sweep: one simtime, three sizes, each run with plasticity on and off
    (--static-synapses); the rates differ between the two and with size (as the network's do).
    sim = 50 ms + 2 us per cell-ms + 10 ns per synaptic event + `plastic_ns` per plastic event."""
    rng = np.random.default_rng(seed)
    runs = []
    for rep in range(repeats):
        for N, rate_on, rate_off in ((225, 9.0, 6.0), (338, 7.0, 5.5), (563, 12.0, 5.0)):
            for plasticity, rate in (("on", rate_on), ("off", rate_off)):
                events = rate * N * 11250 * 0.3  # rate x N x in-degree x simtime (s)
                plastic = 0.64 * events if plasticity == "on" else 0.0  # E->E's share
                sim = 50.0 + 2e-3 * N * 300.0 + 1e-5 * events + plastic_ns * 1e-6 * plastic
                r = _records("numba", lambda N, T: 1.0)[0]
                r.update({"run_id": f"hpc-{rep}-{N}-{plasticity}", "resolved": {"N_pop": N, "simtime": 300.0},
                          "overrides": {"N_pop": N, "simtime": 300.0, **({"plasticity": "off"} if plasticity == "off" else {})},
                          "synapses": 11250 * N, "synaptic_events": events, "plastic_synaptic_events": plastic,
                          "phases": {"sim": {"wall_s": sim * (1 + 0.01 * rng.standard_normal()) / 1000},
                                     "build": {"wall_s": 1.0}}})
                runs.append(r)
    return runs


def test_plastic_and_static_runs_together_give_the_cost_per_plastic_event():
    """Static runs have no plastic events: fitted with the plastic runs of the same sizes, the
    plastic-events term is identifiable and recovers the cost put in (40 ns per plastic event)."""
    from collections import Counter

    from snnbench.fit import plastic_event_cost
    from snnbench.recommend import MeasuredPoint
    from snnbench.report.answer import paragraph

    report = fit_report(_plastic_and_static_runs(), phases=("sim",))
    # the plastic and the static runs are configurations of their own, each with its own model...
    assert {m.backend for m in report["models"]} <= {"numba", "numba static synapses"}
    assert all("plastic events" not in m.terms for m in report["models"])
    # ...and fitted together for plasticity's cost
    (model,) = report["plasticity"]
    assert model.backend == "numba" and model.phase == "sim" and "plastic events" in model.terms
    assert "plastic runs (6) and static runs (6" in model.note
    cost = plastic_event_cost(model)
    assert cost is not None and cost.ci_low <= 40e-6 <= cost.ci_high
    assert cost.value == pytest.approx(40e-6, rel=0.15)
    assert "plastic synaptic events" in model.formula()
    # the report's answer quotes it (in ns), for a measured winner
    point = MeasuredPoint(N_pop=563, simtime=300.0, cheaper_unvalidated=[],
                          ranking=[{"configuration": "numba", "backend": "numba", "median": 1.0, "min": 1.0, "max": 1.0,
                                    "n": 2, "verdict": "PASS"}])
    text = paragraph([point], report["models"], {"numba": "PASS"}, 0, Counter(), "v.jsonl", report["plasticity"])
    assert f"Plasticity costs per plastic synaptic event numba {cost.value * 1e6:.2g} ns" in text


def test_no_plastic_cost_without_static_runs():
    """Plastic runs alone: plastic events are a near-fixed share of all events, the term is not fitted."""
    runs = [r for r in _plastic_and_static_runs() if "plasticity" not in r["overrides"]]
    report = fit_report(runs, phases=("sim",))
    assert report["plasticity"] == [] and all("plastic events" not in m.terms for m in report["models"])


def test_fit_cli_prints_what_plasticity_costs_when_it_is_the_only_model(tmp_path):
    """One run per size and plasticity (as a first look at a sweep): too few for a model per
    configuration, enough for plastic and static runs together; `snnbench fit` shows that one."""
    for r in _plastic_and_static_runs(repeats=1):
        append_jsonl(tmp_path / "runs.jsonl", r)
    proc = subprocess.run([sys.executable, "-m", "snnbench", "fit", "--results", str(tmp_path), "--phase", "sim"],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert "What plasticity costs" in proc.stdout and "per plastic synaptic event" in proc.stdout
    out = json.loads(subprocess.run([sys.executable, "-m", "snnbench", "fit", "--results", str(tmp_path), "--phase", "sim",
                                     "--json"], capture_output=True, text=True).stdout)
    assert out["models"] == [] and [m["backend"] for m in out["plasticity"]] == ["numba"]
