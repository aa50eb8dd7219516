"""pynn.nest: its input spikes on time, the built network, whole networks, PyNN's writers."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from snnbench import io as snnio
from snnbench.backends import backend_class
from snnbench.runner import RunSpec, run_in_process, run_isolated
from snnbench.scenario import Overrides, load_scenario, realise, resolve
from snnbench.store import ResultStore

from .conftest import in_fresh_process, requires

pytestmark = requires("pyNN", "pynn")


# ------------------------------------------------------------------ the input through PyNN's parrots
# (the exact tier against NEST and every feature in both modes: the conformance suite, tests/conformance/)


@pytest.fixture(scope="module")
def single():
    # the LIF populations of single-neuron (the input through PyNN's parrots is what is tested)
    r = resolve(load_scenario("single-neuron").with_cell_types(("IF_cond_exp", "IF_curr_exp")), Overrides(simtime=1000.0))
    network = realise(r)
    return {b: in_fresh_process(run_in_process, r, b, connectivity="exact", network=network) for b in ("numba", "pynn.nest")}


def test_the_input_spikes_arrive_on_time(single):
    """SpikeSourceArray goes through parrots with times shifted by min_delay: none may be a step late."""
    for pop in ("exc", "inh"):
        a, b = single["numba"].populations[pop], single["pynn.nest"].populations[pop]
        assert a.n_spikes == b.n_spikes > 300
        oa, ob = np.lexsort((a.spike_time, a.spike_index)), np.lexsort((b.spike_time, b.spike_index))
        np.testing.assert_array_equal(a.spike_index[oa], b.spike_index[ob])
        np.testing.assert_allclose(a.spike_time[oa], b.spike_time[ob], atol=1e-9)


# ------------------------------------------------------------------ the built network


def _built(scenario: str, overrides: Overrides, mode: str = "native"):
    r = resolve(load_scenario(scenario), overrides)
    backend = backend_class("pynn.nest")(threads=1)
    backend.load()
    backend.build(r, mode, realise(r) if mode == "exact" else None)
    return backend


def test_exact_mode_builds_the_realised_synapses():
    backend = _built("vogels-abbott-coba", Overrides(N_pop=1000, simtime=50.0), mode="exact")
    try:
        expected = {p.label: p.size for p in backend.network.projections}
        assert backend.synapses == expected  # what the record reports (NEST's count per projection)
        assert {label: prj.size() for label, prj in backend.projections.items()} == expected  # PyNN's own count
        # and the same edges, weights (PyNN's units and signs) and delays
        arrays = next(p for p in backend.network.projections if p.label == "i2e")
        got = np.asarray(backend.projections["i2e"].get(["weight", "delay"], format="list"))
        got = got[np.lexsort((got[:, 0], got[:, 1]))]
        order = np.lexsort((arrays.pre_idx, arrays.post_idx))
        np.testing.assert_array_equal(got[:, 0], arrays.pre_idx[order])
        np.testing.assert_array_equal(got[:, 1], arrays.post_idx[order])
        np.testing.assert_allclose(got[:, 2], arrays.weight[order])
        np.testing.assert_allclose(got[:, 3], arrays.delay[order])
    finally:
        backend.close()


def test_native_projections_draw_independent_random_numbers():
    """PyNN 0.13 draws connector maps from a copy of the NumpyRNG it is given: with one shared
    generator, E->E onto the first cells would repeat E->I. The backend gives each item its own."""
    backend = _built("vogels-abbott-coba", Overrides(N_pop=1000, simtime=50.0))
    try:
        n_i = backend.resolved.populations["I"].size

        def pairs(label, below=None):
            rows = np.asarray(backend.projections[label].get("weight", format="list"))[:, :2].astype(int)
            return {(a, b) for a, b in rows if below is None or b < below}

        e2e, e2i = pairs("e2e", below=n_i), pairs("e2i")
        assert len(e2i) > 0.5 * 0.02 * 800 * 200
        assert len(e2e & e2i) < 0.1 * len(e2i)  # independent draws overlap by p = 2 %, a copy by 100 %
        kinds = {t["what"] for t in backend.translations}
        assert {"NumpyRNG", "spike_precision", "SpikeSourcePoisson"} <= kinds
    finally:
        backend.close()


def test_spikes_at_the_first_step_cannot_go_through_pynn_and_are_reported(tmp_path):
    path = tmp_path / "early.toml"
    path.write_text(
        '[scenario]\ntitle = "early"\nsource = "tests"\n[run]\ndt = 0.1\nsimtime = 20.0\n'
        '[populations.N]\ncell_type = "IF_curr_exp"\nsize = 1\n'
        '[populations.src]\ncell_type = "SpikeSourceArray"\nsize = 2\n'
        'parameters = { spike_times = [[0.1, 5.0], [0.2, 7.5]] }\n'
        '[[projections]]\npre = "src"\npost = "N"\nreceptor = "excitatory"\n'
        'connector = { type = "all_to_all" }\nweight = 0.5\ndelay = 1.0\n'
    )
    r = resolve(load_scenario(path))
    backend = backend_class("pynn.nest")(threads=1)
    backend.load()
    try:
        backend.build(r, "native", None)
        backend.run()
        out = backend.collect()
    finally:
        backend.close()
    src = out.populations["src"]
    got = sorted(zip(src.spike_index.tolist(), np.round(src.spike_time, 9).tolist()))
    assert got == [(0, 5.0), (1, 0.2), (1, 7.5)]
    dropped = [t for t in backend.translations if t.get("dropped")]
    assert len(dropped) == 1 and dropped[0]["dropped"] == 1


# ------------------------------------------------------------------ whole networks, isolated


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    return ResultStore(tmp_path_factory.mktemp("results"))


@pytest.fixture(scope="module")
def va_records(store):
    return {
        scenario: run_isolated(RunSpec(scenario=scenario, backend="pynn.nest", timeout=600), store)
        for scenario in ("vogels-abbott-coba", "vogels-abbott-cuba")
    }


@pytest.mark.slow  # a minute of PyNN building at N = 4000; the fast tier keeps the exact-mode checks above
@pytest.mark.parametrize("scenario", ["vogels-abbott-coba", "vogels-abbott-cuba"])
def test_va_rates_in_the_published_range(va_records, scenario):
    record = va_records[scenario]
    assert record["status"] == "ok", record.get("failure")
    assert record["neurons"] == 4000 and record["backend"] == "pynn.nest"
    expected = load_scenario(scenario).expected.rate_hz
    for name, (low, high) in expected.items():
        pop = record["populations"][name]
        assert low <= pop["rate_hz"] <= high, (name, pop["rate_hz"])
        assert low <= pop["rate_hz_after_transient"] <= high, (name, pop["rate_hz_after_transient"])
    r = resolve(load_scenario(scenario), Overrides())
    assert abs(record["synapses"] - r.expected_synapses()) < 5 * r.expected_synapses() ** 0.5
    assert record["backend_version"] == record["provenance"]["software"]["pynn"]
    assert record["phases"]["write"]["writer"] == "pynn.nest"  # pickle, through PyNN's write_data


@pytest.mark.parametrize("fmt", ["pickle", "nix"])
def test_writing_through_pynn(store, fmt):
    spec = RunSpec(scenario="vogels-abbott-coba", backend="pynn.nest", format=fmt, timeout=600,
                   overrides=Overrides(N_pop=400, simtime=100.0))
    record = run_isolated(spec, store)
    assert record["status"] == "ok", record.get("failure")
    write = record["phases"]["write"]
    assert write["writer"] == "pynn.nest"
    # one file per recording population, as PyNN's VAbenchmarks.py writes them
    suffix = {"pickle": ".pkl", "nix": ".nix"}[fmt]
    stem = str(Path(record["data"]["files"][0]).parent / record["run_id"])
    files = [Path(f) for f in record["data"]["files"]]
    assert files == [Path(f"{stem}.{name}{suffix}") for name in ("E", "I", "stim")]
    assert all(f.exists() and f.stat().st_size > 0 for f in files)
    assert write["bytes_written"] == sum(f.stat().st_size for f in files)
    # snnbench's reader understands PyNN's layout (with the annotations the backend adds).
    out = snnio.read_outputs(files)
    assert out.simtime == 100.0 and out.dt == 0.1
    for name, pop in record["populations"].items():
        got = out.populations[name]
        assert got.size == pop["size"] and got.cell_type == pop["cell_type"]
        assert got.recorded.size == pop["recorded"] and got.n_spikes == pop["spikes"]
    assert out.populations["stim"].n_spikes > 0
    e = out.populations["E"]
    assert e.v.shape == (1000, 2) and e.v_times[0] == pytest.approx(0.1) and e.v_index.tolist() == [0, 1]
    assert snnio.read_block(files[0]).annotations["scenario"] == "vogels-abbott-coba"


def test_parquet_uses_snnbench_writer(store):
    spec = RunSpec(scenario="vogels-abbott-cuba", backend="pynn.nest", format="parquet", timeout=600,
                   overrides=Overrides(N_pop=400, simtime=50.0))
    record = run_isolated(spec, store)
    assert record["status"] == "ok", record.get("failure")
    assert record["phases"]["write"]["writer"] == "snnbench"
    assert all(Path(f).exists() for f in record["data"]["files"])
