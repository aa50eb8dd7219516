"""The expected activity of the V1 sheet and the Potjans-Diesmann microcircuit, at small scale."""

from __future__ import annotations

import pytest

from snnbench.analysis import run_statistics
from snnbench.runner import run_in_process
from snnbench.scenario import Overrides, load_scenario, resolve

from .conftest import requires_nest

BACKENDS = ["numba", pytest.param("nest", marks=requires_nest)]


@pytest.mark.parametrize("backend", BACKENDS)
def test_v1_sheet_rates_at_n_30(backend):
    """n = 30 (K fixed, so the activity is that of n = 60); the band is the measured one (see the file)."""
    scenario = load_scenario("v1-sheet")
    r = resolve(scenario, Overrides(N_pop=1125, simtime=600.0))
    stats = run_statistics(run_in_process(r, backend, threads=2 if backend == "nest" else 1), scenario.run.transient)
    for name, (low, high) in scenario.expected.rate_hz.items():
        assert low <= stats[name].mean_rate <= high, (name, stats[name].mean_rate)


@pytest.mark.parametrize("backend", BACKENDS)
def test_potjans_diesmann_rates_within_a_factor_of_two_of_nest_reference(backend):
    """N_s = 0.02 with the full in-degrees: every population within a factor of two of SCENARIOS.md's
    NEST reference rates, measured after the 500 ms transient."""
    scenario = load_scenario("potjans-diesmann")
    r = resolve(scenario, Overrides(scale=0.02, simtime=1000.0))
    stats = run_statistics(run_in_process(r, backend, threads=2 if backend == "nest" else 1), scenario.run.transient)
    for name, (low, high) in scenario.expected.rate_hz.items():
        assert low <= stats[name].mean_rate <= high, (name, stats[name].mean_rate)
