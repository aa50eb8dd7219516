"""The expected activity of the V1 sheet and the Potjans-Diesmann microcircuit, at small scale."""

from __future__ import annotations

import pytest

from snnbench.analysis import run_statistics
from snnbench.runner import run_in_process
from snnbench.scenario import Overrides, load_scenario, resolve

from .conftest import in_fresh_process, requires_nest

BACKENDS = ["numba", pytest.param("nest", marks=requires_nest)]
# NEST on the microcircuit takes tens of seconds even at N_s = 0.02: the slow tier; numba's run of
# the same check stays in the fast tier.
BACKENDS_NEST_SLOW = ["numba", pytest.param("nest", marks=[requires_nest, pytest.mark.slow])]


@pytest.mark.parametrize("backend", BACKENDS)
def test_v1_sheet_rates_at_n_30(backend):
    """n = 30 (K fixed, so the activity is that of n = 60); the band is the measured one (see the file)."""
    scenario = load_scenario("v1-sheet")
    r = resolve(scenario, Overrides(N_pop=1125, simtime=600.0))
    stats = run_statistics(in_fresh_process(run_in_process, r, backend, threads=2 if backend == "nest" else 1), scenario.run.transient)
    for name, (low, high) in scenario.expected.rate_hz.items():
        assert low <= stats[name].mean_rate <= high, (name, stats[name].mean_rate)


@pytest.mark.slow
def test_potjans_diesmann_rates_within_a_factor_of_two_of_nest_reference():
    """N_s = 0.2 with the full in-degrees (K_s = 1): every population within a factor of two of
    the NEST reference rates (docs/scenarios.md), measured after the 500 ms transient.

    Why 0.2: with K kept and N shrunk, neurons share most of their inputs and the DC-driven
    network synchronises; L2/3E fires at 12.5 / 5.9 / 2.2 / 1.4 Hz at N_s = 0.02 / 0.05 / 0.1 / 0.2
    (numba, seed 55; NEST at 0.02 gives 9.6 Hz). 0.2 is the smallest scale inside the band; numba
    runs it in about a minute, NEST in several, so NEST's check is the CLI run in docs/results.md.

    The harness's realisation of seed 55 (exact mode): at this scale one realisation's L2/3E rate
    varies widely with the network drawn (seeds 55-57: 1.4-1.8 Hz from the harness, 1.3-2.6 Hz from
    numba's native connectors, whose degree, weight and delay statistics match the harness's)."""
    scenario = load_scenario("potjans-diesmann")
    r = resolve(scenario, Overrides(scale=0.2, simtime=1500.0))
    stats = run_statistics(run_in_process(r, "numba", connectivity="exact"), scenario.run.transient)
    for name, (low, high) in scenario.expected.rate_hz.items():
        assert low <= stats[name].mean_rate <= high, (name, stats[name].mean_rate)


@pytest.mark.parametrize("backend", BACKENDS_NEST_SLOW)
def test_potjans_diesmann_small_scale_is_active_and_asynchronous_across_layers(backend):
    """N_s = 0.02: every population fires, and L4E and L6E (the least synchronised at this scale)
    are within a factor of two of the reference, on both backends."""
    scenario = load_scenario("potjans-diesmann")
    r = resolve(scenario, Overrides(scale=0.02, simtime=1000.0))
    stats = run_statistics(in_fresh_process(run_in_process, r, backend, threads=2 if backend == "nest" else 1), scenario.run.transient)
    assert all(s.mean_rate > 0.5 for s in stats.values()), {k: s.mean_rate for k, s in stats.items()}
    for name in ("L4E", "L6E"):
        low, high = scenario.expected.rate_hz[name]
        assert low <= stats[name].mean_rate <= high, (name, stats[name].mean_rate)


@pytest.mark.parametrize("backend", BACKENDS)
def test_v1_sheet_dots_runs_with_the_event_stream_wired_to_the_sheet(backend):
    """The retina (spike arrays on a 32 x 32 grid) reaches every E cell with its 8 Gaussian inputs,
    on NEST too, where spike_generators have no positions (built from the harness's lists, recorded)."""
    scenario = load_scenario("v1-sheet-dots")
    r = resolve(scenario, Overrides(N_pop=1125, simtime=300.0))
    out = in_fresh_process(run_in_process, r, backend, threads=2 if backend == "nest" else 1)
    retina = next(p for p in r.projections if p.pre == "retina")
    assert out.synapses[retina.label] == retina.connector.n * r.populations[retina.post].size
    stats = run_statistics(out, scenario.run.transient)
    assert stats["E"].mean_rate > 1.0
