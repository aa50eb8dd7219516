"""Brian2, runtime (Cython) and C++ standalone devices: the exact tier against numba, whole networks
through the isolated runner, the compile phase and its cache, and what the adapter refuses.

Brian2 compiles generated code: with an empty cache (snnbench's, ~/.cache/snnbench/brian2) the
first run of this file compiles for several minutes; later runs reuse the cache.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from snnbench.backends import backend_class
from snnbench.runner import RunSpec, run_in_process, run_isolated
from snnbench.scenario import Overrides, load_scenario, realise, resolve
from snnbench.store import ResultStore

from .conftest import requires

pytestmark = [
    requires("brian2", "brian2"),
    # Brian2 2.9 calls pyparsing's camelCase names, deprecated in pyparsing 3.3.
    pytest.mark.filterwarnings(r"ignore:'\w+'( argument is)? deprecated[ ,-]+use:DeprecationWarning"),
]

DEVICES = ["brian2", "brian2.standalone"]
NETWORKS = ["vogels-abbott-coba", "vogels-abbott-cuba"]


# ----------------------------------------------------------------------------- exact tier


@pytest.fixture(scope="module")
def single_neuron():
    r = resolve(load_scenario("single-neuron"), Overrides(simtime=1000.0))
    network = realise(r)
    outputs = {b: run_in_process(r, b, connectivity="exact", network=network) for b in ["numba"] + DEVICES}
    return outputs


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("cell", ["cond", "curr"])
def test_exact_tier_spike_times_within_one_dt(single_neuron, device, cell):
    ref, out = single_neuron["numba"].populations[cell], single_neuron[device].populations[cell]
    assert ref.n_spikes >= 5, "the input must make the cell fire for this test to mean anything"
    assert out.n_spikes == ref.n_spikes
    assert np.max(np.abs(np.sort(out.spike_time) - np.sort(ref.spike_time))) <= 0.1 + 1e-9


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("cell", ["cond", "curr"])
def test_exact_tier_v_rms_below_0_05_mV(single_neuron, device, cell):
    ref, out = single_neuron["numba"].populations[cell], single_neuron[device].populations[cell]
    assert out.v.shape == ref.v.shape == (10000, 1)
    np.testing.assert_allclose(out.v_times, ref.v_times)
    assert out.v_times[0] == pytest.approx(0.1) and out.v_times[-1] == pytest.approx(1000.0)
    rms = float(np.sqrt(np.mean((out.v - ref.v) ** 2)))
    assert rms < 0.05


@pytest.mark.parametrize("device", DEVICES)
def test_exact_tier_same_input_and_synapses(single_neuron, device):
    ref, out = single_neuron["numba"], single_neuron[device]
    for pop in ("exc", "inh"):
        np.testing.assert_array_equal(np.sort(out.populations[pop].spike_time), np.sort(ref.populations[pop].spike_time))
    assert out.synapses == ref.synapses


# ----------------------------------------------------------------------------- networks


@pytest.fixture(scope="module")
def records(tmp_path_factory):
    store = ResultStore(tmp_path_factory.mktemp("results"))
    return {
        (scenario, device): run_isolated(RunSpec(scenario=scenario, backend=device, timeout=900), store)
        for scenario in NETWORKS for device in DEVICES
    }


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("scenario", NETWORKS)
def test_network_rates_in_the_published_range(records, scenario, device):
    record = records[scenario, device]
    assert record["status"] == "ok", record.get("failure")
    assert record["neurons"] == 4000
    r = resolve(load_scenario(scenario), Overrides())
    expected = r.expected_synapses()
    assert abs(record["synapses"] - expected) < 5 * expected**0.5  # fixed_probability: binomial
    for name, (low, high) in load_scenario(scenario).expected.rate_hz.items():
        pop = record["populations"][name]
        assert low <= pop["rate_hz"] <= high, (name, pop["rate_hz"])
        assert low <= pop["rate_hz_after_transient"] <= high, (name, pop["rate_hz_after_transient"])


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("scenario", NETWORKS)
def test_record_has_the_compile_phase_and_cache_state(records, scenario, device):
    record = records[scenario, device]
    assert record["status"] == "ok", record.get("failure")
    for phase in ("import", "compile", "build", "sim", "collect", "write"):
        assert record["phases"][phase]["wall_s"] >= 0
    info = record["backend_info"]
    assert info["compile_cache"] in ("cold", "warm", "partial")
    compiled = info["modules_compiled"] if device == "brian2" else info["objects_compiled"]
    assert (info["compile_cache"] == "warm") == (compiled == 0)
    assert info["sim_loop_s"] <= record["phases"]["sim"]["wall_s"]
    assert record["backend_version"] == record["provenance"]["software"]["brian2"]
    whats = {t["what"] for t in record["translations"]}
    assert {"spike times", "refractory", "v sampling"} <= whats
    if device == "brian2.standalone":
        assert "children_peak_rss_bytes" in record["phases"]["sim"]  # the binary's memory is measured


def test_the_two_devices_draw_the_same_network(records):
    """Native mode, same seed: Brian2's own connect() and random numbers on both devices."""
    for scenario in NETWORKS:
        a, b = records[scenario, "brian2"], records[scenario, "brian2.standalone"]
        assert a["synapses_per_projection"] == b["synapses_per_projection"]


# ----------------------------------------------------------------------------- what is refused


def _resolved(name="vogels-abbott-cuba"):
    return resolve(load_scenario(name), Overrides(N_pop=400, simtime=10.0))


def test_runtime_device_is_single_threaded():
    problems = backend_class("brian2")(threads=2).supports(_resolved(), "native")
    assert len(problems) == 1 and "one thread" in problems[0] and "brian2.standalone" in problems[0]
    assert backend_class("brian2.standalone")(threads=2).supports(_resolved(), "native") == []


@pytest.mark.parametrize("device", DEVICES)
def test_bad_options_are_refused(device):
    cls = backend_class(device)
    assert cls(options={"cache": "cold"}).supports(_resolved(), "exact") == []
    (problem,) = cls(options={"cache": "lukewarm"}).supports(_resolved(), "exact")
    assert "cache='lukewarm'" in problem and "cold" in problem
    (problem,) = cls(options={"turbo": True}).supports(_resolved(), "exact")
    assert "turbo" in problem


def test_an_unsupported_run_is_recorded_with_its_reason(tmp_path):
    record = run_isolated(RunSpec(scenario="vogels-abbott-cuba", backend="brian2", threads=2,
                                  overrides=Overrides(N_pop=400, simtime=10.0)), ResultStore(tmp_path))
    assert record["status"] == "failed"
    assert record["failure"]["kind"] == "unsupported" and "one thread" in record["failure"]["message"]


# ----------------------------------------------------------------------------- caches


def test_cold_option_uses_a_fresh_cache_and_removes_it(monkeypatch, tmp_path):
    monkeypatch.setenv("SNNBENCH_CACHE_DIR", str(tmp_path / "cache"))
    warm = backend_class("brian2")()
    warm.load()
    cold = backend_class("brian2")(options={"cache": "cold"})
    cold.load()
    try:
        warm_dir, cold_dir = Path(warm.info["cache_dir"]), Path(cold.info["cache_dir"])
        assert warm_dir == tmp_path / "cache" / "brian2" / "cython"
        assert cold_dir != warm_dir and cold_dir.is_dir() and not any(cold_dir.iterdir())
        assert tmp_path / "cache" in cold_dir.parents  # snnbench's cache, never ~/.cython
    finally:
        cold.close()
        warm.close()
    assert not cold_dir.exists() and warm_dir.exists()


def test_standalone_project_per_scenario_and_cold_project_removed(monkeypatch, tmp_path):
    monkeypatch.setenv("SNNBENCH_CACHE_DIR", str(tmp_path / "cache"))
    r = _resolved()
    for options in ({}, {"cache": "cold"}):
        backend = backend_class("brian2.standalone")(options=options)
        backend.load()
        try:
            backend.build(r, "native", None)  # writes nothing yet: code is generated in compile
            project = Path(backend.info["project_dir"])
        finally:
            backend.close()
        if options:
            assert not project.exists()
        else:
            assert project == tmp_path / "cache" / "brian2" / "standalone" / f"{r.hash}-native-N{r.N_pop}-t1"
