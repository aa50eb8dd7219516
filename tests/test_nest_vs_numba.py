"""numba and NEST on the same explicit input: the exact tier (no recurrence, so no chaos)."""

from __future__ import annotations

import numpy as np
import pytest

from snnbench.runner import run_in_process
from snnbench.scenario import Overrides, load_scenario, realise, resolve

from .conftest import in_fresh_process, requires_nest

pytestmark = requires_nest


@pytest.fixture(scope="module")
def outputs():
    r = resolve(load_scenario("single-neuron"), Overrides(simtime=1000.0))
    network = realise(r)
    return {b: in_fresh_process(run_in_process, r, b, connectivity="exact", network=network) for b in ("numba", "nest")}


@pytest.mark.parametrize("cell", ["cond", "curr"])
def test_spike_times_agree_within_one_dt(outputs, cell):
    a, b = outputs["numba"].populations[cell], outputs["nest"].populations[cell]
    assert a.n_spikes >= 5, "the input must make the cell fire for this test to mean anything"
    assert a.n_spikes == b.n_spikes
    assert np.max(np.abs(np.sort(a.spike_time) - np.sort(b.spike_time))) <= 0.1 + 1e-9


@pytest.mark.parametrize("cell", ["cond", "curr"])
def test_membrane_potential_rms_below_0_05_mV(outputs, cell):
    a, b = outputs["numba"].populations[cell], outputs["nest"].populations[cell]
    np.testing.assert_allclose(a.v_times, b.v_times)
    assert a.v.shape == b.v.shape == (10000, 1)
    rms = float(np.sqrt(np.mean((a.v - b.v) ** 2)))
    assert rms < 0.05


def test_the_input_spikes_are_the_same(outputs):
    for pop in ("exc", "inh"):
        a, b = outputs["numba"].populations[pop], outputs["nest"].populations[pop]
        assert a.n_spikes > 300
        np.testing.assert_array_equal(np.sort(a.spike_time), np.sort(b.spike_time))


def test_exact_mode_builds_the_same_network_in_nest():
    r = resolve(load_scenario("vogels-abbott-cuba"), Overrides(N_pop=1000, simtime=100.0))
    network = realise(r)
    out = in_fresh_process(run_in_process, r, "nest", connectivity="exact", network=network)
    assert out.synapses == {p.label: p.size for p in network.projections}
