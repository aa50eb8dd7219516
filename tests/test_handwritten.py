"""The issue's check of the scenario format beyond LIF: a network written by hand from
docs/scenario-format.md ("A network by hand"), AdEx populations and an STDP projection, runs on
numba and NEST with agreeing rates. The block is read from the page, so the docs stay runnable."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from snnbench.runner import RunSpec, run_isolated
from snnbench.store import ResultStore

from .conftest import requires_nest

DOC = Path(__file__).parents[1] / "docs" / "scenario-format.md"


def _example() -> str:
    text = DOC.read_text()
    section = text.split("## A network by hand", 1)[1]
    return re.search(r"```toml\n(.*?)```", section, re.S).group(1)


def test_the_example_uses_adex_and_stdp(tmp_path):
    from snnbench.scenario import load_scenario

    path = tmp_path / "adex-stdp.toml"
    path.write_text(_example())
    scenario = load_scenario(path)
    assert {p.cell_type for p in scenario.populations.values()} >= {"EIF_cond_exp_isfa_ista", "SpikeSourcePoisson"}
    assert [p.name for p in scenario.projections if p.synapse is not None] == ["EE"]


@requires_nest
def test_the_hand_written_network_runs_on_numba_and_nest_with_agreeing_rates(tmp_path):
    path = tmp_path / "adex-stdp.toml"
    path.write_text(_example())
    store = ResultStore(tmp_path / "results")
    records = {}
    for backend in ("numba", "nest"):
        record = run_isolated(RunSpec(scenario=str(path), backend=backend, threads=1, format="none", timeout=600), store)
        assert record.status == "ok", record.failure
        records[backend] = record
    rates = {b: {name: p.rate_hz_after_transient for name, p in r.cell_populations.items()} for b, r in records.items()}
    for name in ("E", "I"):
        numba_rate, nest_rate = rates["numba"][name], rates["nest"][name]
        assert nest_rate > 2.0, rates  # the network is active
        assert abs(numba_rate - nest_rate) <= 0.3 * (numba_rate + nest_rate) / 2, rates
    for backend, record in records.items():  # the rule moves the weights on both
        weights = record.weights["EE"]
        assert weights["max"][-1] > weights["max"][0] * 1.05 and weights["min"][-1] < weights["min"][0] * 0.95, (backend, weights)
