"""Whole networks on numba and NEST, measured through the isolated runner: rates and records."""

from __future__ import annotations

import importlib.util

import pytest

from snnbench.runner import RunSpec, run_isolated
from snnbench.scenario import Overrides, load_scenario, resolve
from snnbench.store import ResultStore

BACKENDS = ["numba"] + (["nest"] if importlib.util.find_spec("nest") else [])
CASES = [(scenario, backend) for scenario in ("vogels-abbott-coba", "vogels-abbott-cuba") for backend in BACKENDS]
REQUIRED_PHASES = ("compile", "build", "sim", "write")


@pytest.fixture(scope="module")
def records(tmp_path_factory):
    store = ResultStore(tmp_path_factory.mktemp("results"))
    out = {}
    for scenario, backend in CASES:
        spec = RunSpec(scenario=scenario, backend=backend, threads=2 if backend == "nest" else 1, timeout=600)
        out[scenario, backend] = run_isolated(spec, store)
    return out


def test_nest_is_tested_here():
    """NEST is part of the README's install: its absence would silently halve these tests."""
    if "nest" not in BACKENDS:
        pytest.skip("the Python package 'nest-simulator' is not installed (the README's install command installs it)")
    assert "nest" in BACKENDS


@pytest.mark.parametrize("scenario,backend", CASES)
def test_rates_in_the_published_range(records, scenario, backend):
    record = records[scenario, backend]
    assert record["status"] == "ok", record.get("failure")
    expected = load_scenario(scenario).expected.rate_hz
    for name, (low, high) in expected.items():
        pop = record["populations"][name]
        assert low <= pop["rate_hz"] <= high, (name, pop["rate_hz"])
        assert low <= pop["rate_hz_after_transient"] <= high, (name, pop["rate_hz_after_transient"])


@pytest.mark.parametrize("scenario,backend", CASES)
def test_record_carries_the_contract(records, scenario, backend):
    record = records[scenario, backend]
    r = resolve(load_scenario(scenario), Overrides())
    assert record["scenario"] == scenario and record["backend"] == backend and record["status"] == "ok"
    assert record["scenario_hash"] == r.hash
    assert record["neurons"] == 4000
    # fixed_probability: the count is binomial around p * pairs (5 sd)
    expected = r.expected_synapses()
    assert abs(record["synapses"] - expected) < 5 * expected**0.5
    assert record["populations"]["E"]["size"] == 3200 and record["populations"]["I"]["size"] == 800
    for phase in REQUIRED_PHASES:
        figures = record["phases"][phase]
        assert figures["wall_s"] >= 0 and figures["cpu_s"] >= 0
        assert figures["peak_rss_bytes"] > 10 * 2**20  # a Python process with numpy: > 10 MiB
    assert record["phases"]["sim"]["wall_s"] > 0
    assert record["realtime_factor"] == pytest.approx(record["phases"]["sim"]["wall_s"])  # simtime is 1 s
    prov = record["provenance"]
    assert prov["machine"]["cores_logical"] >= 1 and prov["machine"]["ram_bytes"] > 0
    assert prov["software"]["numpy"] and prov["machine"]["python"].startswith("3.")
    assert record["backend_version"] == prov["software"][{"numba": "numba", "nest": "nest-simulator"}[backend]]
    assert record["data"]["format"] == "pickle" and len(record["data"]["files"]) == 1


def test_synaptic_events_follow_spikes_and_out_degree(records):
    record = records["vogels-abbott-cuba", "numba"]
    spikes = record["populations"]["E"]["spikes"] + record["populations"]["I"]["spikes"]
    # every cell has ~80 targets (p = 0.02 of 4000)
    assert record["synaptic_events"] == pytest.approx(spikes * 80, rel=0.05)
