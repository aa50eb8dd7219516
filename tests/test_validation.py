"""The equivalence protocol: statistics, the statistical and exact tiers, and `snnbench validate`."""

from __future__ import annotations

import json
import subprocess
import sys

import neo
import numpy as np
import pytest
import quantities as pq

from snnbench.analysis import compare_exact, compare_statistical, ks_distance, population_statistics
from snnbench.analysis.protocol import InsufficientReference
from snnbench.analysis.statistics import (
    WEIGHT_SAMPLE,
    PopulationStatistics,
    ProjectionStatistics,
    projection_statistics,
    run_weight_statistics,
)
from snnbench.backends import REGISTRY
from snnbench.output import PopulationOutput, SimulationOutput, WeightSamples
from snnbench.scenario import load_scenario, Overrides, resolve
from snnbench.scenario.resolve import EVERY_SYNAPSE
from snnbench.validate import validate

from .conftest import requires_nest

# ------------------------------------------------------------------------------ statistics


def _poisson_trains(rng, n, rate_hz, t_stop_ms):
    return [np.sort(rng.uniform(0, t_stop_ms, rng.poisson(rate_hz * t_stop_ms / 1000))) for _ in range(n)]


def test_rates_and_cv_agree_with_elephant():
    from elephant.statistics import cv, isi, mean_firing_rate

    trains = _poisson_trains(np.random.default_rng(1), 40, 20.0, 2000.0)
    stats = population_statistics(trains, 200.0, 2000.0)
    for train, rate in zip(trains, stats.rate):
        st = neo.SpikeTrain(train[train >= 200.0], units="ms", t_start=200.0, t_stop=2000.0)
        assert rate == pytest.approx(float(mean_firing_rate(st).rescale("Hz").magnitude))
    expected_cv = [cv(isi(t[t >= 200.0])) for t in trains if (t >= 200.0).sum() >= 3]
    np.testing.assert_allclose(np.sort(stats.cv_isi), np.sort(expected_cv))
    assert abs(np.mean(stats.cv_isi) - 1.0) < 0.15  # Poisson trains: CV close to 1


def test_correlation_of_identical_trains_is_one_and_of_independent_near_zero():
    rng = np.random.default_rng(2)
    base = _poisson_trains(rng, 1, 50.0, 1000.0)[0]
    same = population_statistics([base, base, base], 0.0, 1000.0)
    np.testing.assert_allclose(same.correlation, 1.0)
    indep = population_statistics(_poisson_trains(rng, 50, 50.0, 5000.0), 0.0, 5000.0)
    assert indep.correlation.size == 50 * 49 // 2
    assert abs(indep.correlation.mean()) < 0.01


def test_correlation_sample_is_at_most_200_active_cells():
    trains = _poisson_trains(np.random.default_rng(3), 300, 5.0, 1000.0) + [np.empty(0)] * 50
    stats = population_statistics(trains, 0.0, 1000.0)
    assert stats.correlation.size <= 200 * 199 // 2
    assert stats.n_cells == 350 and stats.fraction_silent >= 50 / 350


# ------------------------------------------------------------------------------ statistical tier


def _seed(rng, rate, n=400, cv_scale=1.0):
    rates = rng.gamma(4.0, rate / 4.0, n)
    return {"E": PopulationStatistics("E", n, (0, 1000), rates, rng.gamma(9.0, cv_scale / 9.0, n // 2),
                                      rng.normal(0.01, 0.02, 1000))}


def test_same_distribution_passes_and_a_shifted_one_fails():
    rng = np.random.default_rng(4)
    reference = [_seed(rng, 10.0) for _ in range(10)]
    same = compare_statistical(reference, [_seed(rng, 10.0) for _ in range(5)])
    assert same.passed, [(c.statistic, c.d_xy_mean, c.limit) for c in same.statistics]
    shifted = compare_statistical(reference, [_seed(rng, 13.0) for _ in range(5)])
    assert not shifted.passed
    by_stat = {c.statistic: c for c in shifted.statistics}
    assert not by_stat["rate"].passed and by_stat["cv_isi"].passed  # only the rates were changed
    assert not shifted.rates[0].passed and shifted.rates[0].difference == pytest.approx(3.0, abs=0.5)
    assert by_stat["rate"].kl_xy > by_stat["cv_isi"].kl_xy  # KL is reported beside the verdict


def test_silent_seeds_are_counted_and_set_aside():
    rng = np.random.default_rng(5)
    silent = {"E": PopulationStatistics("E", 400, (0, 1000), np.zeros(400), np.empty(0), np.empty(0))}
    reference = [_seed(rng, 10.0) for _ in range(4)] + [silent]
    result = compare_statistical(reference, [_seed(rng, 10.0) for _ in range(3)])
    assert result.passed and result.reference_silent == 1 and "activity died in 1 of 5" in result.notes[0]
    assert all(c.limit < 1 for c in result.statistics)
    dead = compare_statistical(reference, [silent, silent])
    assert not dead.passed and dead.candidate_silent == 2
    with pytest.raises(InsufficientReference):
        compare_statistical([silent, silent, _seed(rng, 10.0)], [_seed(rng, 10.0)])


def test_ks_distance_of_empty_samples():
    assert ks_distance(np.empty(0), np.empty(0)) == 0.0
    assert ks_distance(np.empty(0), np.ones(3)) == 1.0


# ------------------------------------------------------------------------------ final weights of plastic projections


def _weights(rng, mean, n=5000):
    """One seed's final E->E weights (uS): a tenth never moved (the initial 4 nS), the rest spread."""
    moved = rng.normal(mean, 0.0008, n - n // 10)
    return {"EE": ProjectionStatistics("EE", n, 1000.0, np.concatenate([np.full(n // 10, 0.004), moved]))}


def test_final_weights_of_the_same_distribution_pass_and_shifted_ones_fail():
    rng = np.random.default_rng(6)
    populations = [_seed(rng, 10.0) for _ in range(15)]
    reference, candidate = populations[:10], populations[10:]
    weights = [_weights(rng, 0.0045) for _ in range(10)]
    same = compare_statistical(reference, candidate, weights, [_weights(rng, 0.0045) for _ in range(5)])
    assert same.passed and [(p.projection, p.statistic) for p in same.projections] == [("EE", "final_weight")]
    assert same.projections[0].n_x == 5 * 5000 and same.projections[0].limit < 0.1
    shifted = compare_statistical(reference, candidate, weights, [_weights(rng, 0.0047) for _ in range(5)])
    assert not shifted.passed and not shifted.projections[0].passed  # 0.25 sd of the moved weights
    assert all(s.passed for s in shifted.statistics) and all(r.passed for r in shifted.rates)  # only the weights changed
    record = shifted.as_dict()
    assert record["projections"][0]["projection"] == "EE" and record["projections"][0]["passed"] is False
    missing = compare_statistical(reference, candidate, weights, [{} for _ in range(5)])
    assert not missing.passed and "not recorded by 5 of 5" in missing.projections[0].note


def test_weights_an_ulp_apart_are_the_same_weight():
    """A synapse no spike moved keeps the initial weight through two unit conversions, which may
    differ by an ulp between backends: on the comparison's grid it is the same weight."""
    rng = np.random.default_rng(7)
    reference = [_weights(rng, 0.0045) for _ in range(6)]
    candidate = [{"EE": ProjectionStatistics("EE", s["EE"].n_synapses, 1000.0, np.where(s["EE"].final_weight == 0.004,
                                             np.nextafter(0.004, 1.0), s["EE"].final_weight))}
                 for s in (_weights(rng, 0.0045) for _ in range(3))]
    populations = [_seed(rng, 10.0) for _ in range(9)]
    result = compare_statistical(populations[:6], populations[6:], reference, candidate)
    assert result.projections[0].passed, result.projections[0]


def test_final_weight_statistics_of_a_run():
    """The last recording, if at simtime and of every synapse; a fixed sample of WEIGHT_SAMPLE above it."""
    n = WEIGHT_SAMPLE + 5000
    values = np.stack([np.full(n, 0.004), np.random.default_rng(8).normal(0.0045, 0.0008, n)])
    at_end = WeightSamples(times=np.array([0.0, 1000.0]), chosen=np.zeros((0, 2), np.int64), trajectory=np.zeros((2, 0)), values=values)
    early = WeightSamples(times=np.array([0.0, 500.0]), chosen=np.zeros((0, 2), np.int64), trajectory=np.zeros((2, 0)), values=values)
    out = SimulationOutput(simtime=1000.0, dt=0.1, populations={}, synapses={}, weights={"EE": at_end, "EI": early})
    stats = run_weight_statistics(out)
    assert list(stats) == ["EE"] and stats["EE"].n_synapses == n and stats["EE"].time_ms == 1000.0
    sample = stats["EE"].final_weight
    assert sample.size == WEIGHT_SAMPLE and np.isin(sample, values[1]).all()
    np.testing.assert_array_equal(run_weight_statistics(out)["EE"].final_weight, sample)  # reproducible
    assert stats["EE"].summary()["mean_weight"] == pytest.approx(0.0045, rel=0.01)
    binned = WeightSamples(times=np.array([1000.0]), chosen=np.zeros((0, 2), np.int64), trajectory=np.zeros((1, 0)),
                           counts=np.ones((1, 3), np.int64), bin_edges=np.linspace(0, 0.008, 4))
    with pytest.raises(ValueError, match="histogram"):
        projection_statistics(binned, "EE")


def test_final_weights_override_records_every_plastic_synapse_at_simtime():
    hpc = resolve(load_scenario("hpc-benchmark"), Overrides(scale=0.02, simtime=300.0, final_weights=True))
    records = {p.label: p.spec.record.weights for p in hpc.projections}
    assert records["EE"].times == [300.0] and records["EE"].max_synapses == EVERY_SYNAPSE
    assert all(rec is None for label, rec in records.items() if label != "EE")  # static projections record nothing
    assert resolve(load_scenario("hpc-benchmark"), Overrides(scale=0.02)).projections[0].spec.record.weights is None
    # its own recording times after simtime dropped (without the override, 500 and 1000 ms > 300 ms are refused)
    stdp = resolve(load_scenario("vogels-abbott-coba-stdp"), Overrides(simtime=300.0, final_weights=True))
    (e2e,) = [p.spec.record.weights for p in stdp.projections if p.spec.plastic]
    assert e2e.times == [0.0, 300.0] and e2e.synapses == 5 and e2e.max_synapses == EVERY_SYNAPSE


# ------------------------------------------------------------------------------ exact tier


def _output(times, v):
    pop = PopulationOutput("N", 1, "IF_curr_exp", np.array([0]), np.zeros(len(times), np.int64), np.asarray(times, float),
                           v_index=np.array([0]), v_times=np.arange(1, len(v) + 1) * 0.1, v=np.asarray(v, float)[:, None])
    return SimulationOutput(simtime=100.0, dt=0.1, populations={"N": pop}, synapses={})


def test_exact_tier_tolerates_one_dt_and_not_more():
    v = np.linspace(-65, -55, 1000)
    reference = _output([10.0, 20.0, 30.0], v)
    assert compare_exact(_output([10.1, 20.0, 29.9], v + 0.01), reference).passed
    late = compare_exact(_output([10.0, 20.3, 30.0], v), reference)
    assert not late.passed and late.first_divergence_ms == pytest.approx(20.0)
    assert not compare_exact(_output([10.0, 20.0], v), reference).passed  # a missing spike
    assert not compare_exact(_output([10.0, 20.0, 30.0], v + 0.06), reference).passed  # v off by 0.06 mV


# ------------------------------------------------------------------------------ end to end


@requires_nest
def test_validate_exact_tier_numba_against_nest(validation_store):
    record = validate("single-neuron", "numba", "nest", store=validation_store, overrides=Overrides(simtime=1000.0))
    assert record["tier"] == "exact" and record["verdict"] == "PASS"
    # every cell population of single-neuron: numba runs each of its cell types
    cells = {name for name, pop in load_scenario("single-neuron").populations.items() if not pop.is_source}
    assert {c["population"] for c in record["exact"]["cells"]} == cells and {"cond", "curr"} <= cells
    assert validation_store.validations()[-1]["verdict"] == "PASS"


# The fast tier checks the protocol end to end at N = 1000 (K = 80 kept, so the activity is the
# N = 4000 network's), 10 NEST and 5 numba seeds, one thread each so that every machine draws the
# same networks; the reference runs are made once per session and shared by the tests below. The
# full protocol at N = 4000 for every CPU backend is the slow tier (docs/testing.md).
SMALL = Overrides(N_pop=1000, simtime=1000.0)


@requires_nest
def test_validate_numba_against_nest_at_small_size(validation_store):
    record = validate("vogels-abbott-cuba", "numba", "nest", seeds=5, reference_seeds=10, overrides=SMALL,
                      threads=1, reference_threads=1, store=validation_store)
    assert record["tier"] == "statistical" and record["N_pop"] == 1000
    assert record["verdict"] == "PASS", json.dumps(record["statistical"], indent=1)
    assert len(record["runs"]["reference"]) == 10 and len(record["runs"]["candidate"]) == 5


@requires_nest
def test_a_backend_that_simulates_another_network_fails(validation_store, fault_backends):
    record = validate("vogels-abbott-cuba", "fault.wrong", "nest", seeds=3, reference_seeds=10, overrides=SMALL,
                      threads=1, reference_threads=1, store=validation_store)
    assert record["verdict"] == "FAIL"
    assert not all(r["passed"] for r in record["statistical"]["rates"])


def test_cli_validate_exit_status_and_table(validation_store, tmp_path):
    """numba against itself through the command line: the candidate runs are those of the test
    above (seeds 101-105, one thread), the reference runs are made here once on one thread, so the
    command, given `--reference-threads 1`, reuses everything (made here if this test runs alone)."""
    validate("vogels-abbott-cuba", "numba", "numba", seeds=5, reference_seeds=5, overrides=SMALL, threads=1,
             reference_threads=1, store=validation_store)
    proc = subprocess.run([sys.executable, "-m", "snnbench", "validate", "vogels-abbott-cuba", "--backend", "numba",
                           "--reference", "numba", "--quick", "--N-pop", "1000", "--simtime", "1000", "--threads", "1", "--reference-threads", "1",
                           "--results", str(validation_store.root)], capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Verdict: PASS" in proc.stdout and "reuse" in proc.stderr and "  run " not in proc.stderr  # all reused
    for word in ("rate", "cv_isi", "correlation", "D_XY", "KL(X||Y)"):
        assert word in proc.stdout
    bad = subprocess.run([sys.executable, "-m", "snnbench", "validate", "vogels-abbott-cuba", "--backend", "numba",
                          "--results", str(tmp_path), "--simtime", "100.05"], capture_output=True, text=True)
    assert bad.returncode == 2 and "not a multiple of dt" in bad.stderr


def _check_final_weights(record, simtime):
    """The verdict of a vogels-abbott-coba-stdp validation has `e2e: final weight`, on every synapse
    at simtime (a fixed sample of WEIGHT_SAMPLE per seed above it)."""
    from snnbench import present

    assert record["final_weights"] == ["e2e"] and record["overrides"]["simtime"] == simtime
    (weights,) = record["statistical"]["projections"]
    assert (weights["projection"], weights["statistic"]) == ("e2e", "final_weight")
    synapses = [s["e2e"]["n_synapses"] for s in record["weight_summaries"]["candidate"]]
    assert min(synapses) > 50_000 and weights["n_x"] == sum(min(n, WEIGHT_SAMPLE) for n in synapses)
    assert all(s["e2e"]["time_ms"] == simtime for s in record["weight_summaries"]["reference"])
    assert 0.0 <= weights["d_xy_mean"] < 1.0 and weights["passed"] == (weights["d_xy_mean"] <= weights["limit"] + 1e-12)
    assert any(line.split()[:3] == ["e2e:", "final", "weight"] for line in present.validation_lines(record))


def test_validation_of_a_plastic_scenario_compares_its_final_weights(validation_store):
    """vogels-abbott-coba-stdp, short (300 ms; numba against itself, 1 and 2 seeds, one thread, so
    the same networks on every machine; at N 2000 one of the two reference seeds falls silent
    after the kick): every run records every E->E weight at simtime, and the verdict has
    `e2e: final weight`."""
    record = validate("vogels-abbott-coba-stdp", "numba", "numba", seeds=1, reference_seeds=2,
                      overrides=Overrides(simtime=300.0), threads=1, reference_threads=1, store=validation_store)
    _check_final_weights(record, 300.0)


@pytest.mark.slow
@requires_nest
def test_validation_of_a_plastic_scenario_against_nest_compares_its_final_weights(validation_store):
    """The same against NEST (N 4000: NEST's activity dies after the kick at N 2000; 300 ms, 2 numba
    against 3 NEST seeds, one thread; 3 min on the shared 2-core VM)."""
    record = validate("vogels-abbott-coba-stdp", "numba", "nest", seeds=2, reference_seeds=3,
                      overrides=Overrides(simtime=300.0), threads=1, reference_threads=1, store=validation_store)
    _check_final_weights(record, 300.0)


@pytest.mark.slow
@requires_nest
@pytest.mark.parametrize("scenario", ["vogels-abbott-cuba", "vogels-abbott-coba"])
def test_validate_numba_against_nest(validation_store, scenario):
    """The full protocol at N = 4000, 1000 ms: 5 numba seeds against 10 NEST seeds."""
    record = validate(scenario, "numba", "nest", seeds=5, reference_seeds=10, store=validation_store)
    assert record["tier"] == "statistical"
    assert record["verdict"] == "PASS", json.dumps(record["statistical"], indent=1)
    assert len(record["runs"]["reference"]) == 10 and len(record["runs"]["candidate"]) == 5


# Every registered CPU backend but numba (tested above) and the reference, from the registry.
OTHER_BACKENDS = [
    pytest.param(name, marks=pytest.mark.skipif(
        __import__("importlib").util.find_spec(cls.module) is None,
        reason=f"the Python package {cls.distribution!r} is not installed ({cls.install_hint})"))
    for name, cls in REGISTRY.items() if "CPU" in cls.runs_on and name not in ("numba", "nest")
]


@pytest.mark.slow
@requires_nest
@pytest.mark.parametrize("scenario", ["vogels-abbott-cuba", "vogels-abbott-coba"])
@pytest.mark.parametrize("backend", OTHER_BACKENDS)
def test_every_cpu_backend_passes_against_nest(validation_store, backend, scenario):
    """Issue 3's acceptance at N = 4000, 1000 ms: 5 candidate seeds against the protocol's 10 NEST
    reference seeds (made once per session and shared). With only 5 reference seeds, of which
    COBA may lose one to silence, D_YY of the correlation statistic is too poorly estimated for a
    stable verdict (docs/validation.md asks for >= 10)."""
    record = validate(scenario, backend, "nest", seeds=5, reference_seeds=10, store=validation_store)
    assert record["verdict"] == "PASS", json.dumps(record["statistical"], indent=1)
    assert record["N_pop"] == 4000 and record["simtime"] == 1000.0
