"""SpikeSourceArray times on the dt grid: each time is stamped where NEST's spike_generator stamps
it (the end of the step that holds it, in NEST's own tic arithmetic), and two times of one source
in one step are two spikes, as NEST's spike_generator (and so bmtk's pointnet) delivers them
(snnbench used to merge them, and its runs then differed from bmtk's spike by spike). Here: the
rounding against NEST on near-grid times, a bmtk-built GLIF
circuit whose input file has pairs of spikes in one step run by numba and NEST (the same spikes)
and by bmtk's pointnet (the same spikes as the nest backend, slow tier) and Brian2's standalone
device (a layer of the source per spike of a step: the same spikes as numba, slow tier), and the
refusal of the backends that deliver one spike per source and step."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pytest

from snnbench.backends import backend_class
from snnbench.runner import run_in_process
from snnbench.scenario import load_scenario, realise, resolve
from snnbench.scenario.realise import nest_step, step_multiplicity

from .conftest import in_fresh_process, requires_nest

DT, TSTOP = 0.1, 300.0


def _near_grid_times() -> np.ndarray:
    """Times on the grid, an ulp either side of it, within a tic of it, and anywhere in a step."""
    rng = np.random.default_rng(7)
    k = rng.integers(1, 400, 400)
    grid = k * DT
    return np.sort(np.concatenate([grid, k / 10, np.nextafter(grid, 99.0), np.nextafter(grid, 0.0), grid + 1e-7,
                                   grid - 1e-7, grid + 4e-4, grid + 6e-4, rng.uniform(0.01, 40.0, 400)]))


def _nest_stamps(times: np.ndarray, precise: bool) -> np.ndarray:
    """The steps at which a parrot_neuron behind NEST's spike_generator receives `times`."""
    import nest

    nest.ResetKernel()
    nest.resolution = DT
    gen = nest.Create("spike_generator", params={"spike_times": times, "precise_times": precise})
    parrot, rec = nest.Create("parrot_neuron"), nest.Create("spike_recorder")
    nest.Connect(gen, parrot, syn_spec={"delay": DT})
    nest.Connect(parrot, rec)
    nest.Simulate(float(np.ceil(times.max())) + 1.0)
    return np.sort(np.rint(rec.events["times"] / DT).astype(np.int64) - 1)  # less the hop's delay


@requires_nest
def test_times_land_in_the_step_nest_stamps_them_with():
    times = _near_grid_times()
    ours = np.sort(nest_step(times, DT))
    # precise_times (bmtk's pointnet and pyNN.nest): every time, repeats included, at its stamp
    assert np.array_equal(in_fresh_process(_nest_stamps, times, True), ours)
    # the nest backend gives the grid times back with precise_times off: the same steps
    assert np.array_equal(in_fresh_process(_nest_stamps, ours * DT, False), ours)
    # a naive ceil(t / dt) misses some of them: this is the case the arithmetic is for
    assert not np.array_equal(np.sort(np.ceil(times / DT).astype(np.int64)), ours)


def test_spike_times_in_one_step_are_each_kept(tmp_path):
    path = tmp_path / "pairs.toml"
    path.write_text('[scenario]\ntitle = "pairs"\nsource = "test"\n[run]\ndt = 0.1\nsimtime = 10.0\n'
                    '[populations.src]\ncell_type = "SpikeSourceArray"\nsize = 2\n'
                    'parameters.spike_times = [[1.0, 1.02, 1.05, 2.0, 2.0, 3.01], [0.04, 5.0]]\n'
                    '[populations.cells]\ncell_type = "IF_curr_exp"\nsize = 1\n'
                    '[[projections]]\nname = "in"\npre = "src"\npost = "cells"\nreceptor = "excitatory"\n'
                    'connector = { type = "all_to_all" }\nweight = 0.5\ndelay = 1.0\n')
    r = resolve(load_scenario(path))
    steps = realise(r).populations["src"].spike_steps
    assert steps[0].tolist() == [10, 11, 11, 20, 20, 31] and steps[1].tolist() == [1, 50]
    assert backend_class("nest").multiplicity_problems(r) == [] == backend_class("numba").multiplicity_problems(r)
    (problem,) = backend_class("bindsnet").multiplicity_problems(r)
    assert "population src: SpikeSourceArray gives one source 2 spikes in the 0.1 ms step ending at 1.1 ms" in problem


# ------------------------------------------------------------------ a SONATA circuit with pairs


def _pairs_input(path: Path, n: int) -> None:
    """A SONATA spike file: per source, 30 times anywhere in their steps and 8 pairs sharing a step."""
    rng = np.random.default_rng(11)
    ids, times = [], []
    for node in range(n):
        single = rng.uniform(1.0, TSTOP - 1.0, 30)
        first = rng.uniform(1.0, TSTOP - 1.0, 8)
        second = (np.ceil(first / DT - 1e-6) - rng.uniform(0.0, 0.9, 8)) * DT  # later in the same step
        t = np.concatenate([single, first, np.maximum(first, second)])
        ids.append(np.full(t.size, node))
        times.append(t)
    ids, times = np.concatenate(ids), np.concatenate(times)
    order = np.argsort(times, kind="stable")
    with h5py.File(path, "w") as h5:
        group = h5.create_group("spikes/lgn")
        group.create_dataset("timestamps", data=times[order])
        group.create_dataset("node_ids", data=ids[order].astype(np.uint64))


@pytest.fixture(scope="module")
def circuit(tmp_path_factory) -> Path:
    pytest.importorskip("bmtk.builder", reason="bmtk is not installed (extra 'sonata')")
    from .test_sonata_glif import N_LGN, glif_circuit, scenario_file

    folder = tmp_path_factory.mktemp("pairs")
    simulation = glif_circuit(folder / "c", tstop=TSTOP)
    _pairs_input(folder / "c/inputs/lgn.h5", N_LGN)
    return scenario_file(folder, simulation, TSTOP)


def _same_spikes(a, b, name: str) -> None:
    assert a.n_spikes == b.n_spikes > 0, name
    key = lambda p: np.lexsort((p.spike_time, p.spike_index))  # noqa: E731
    np.testing.assert_array_equal(a.spike_index[key(a)], b.spike_index[key(b)])
    np.testing.assert_allclose(a.spike_time[key(a)], b.spike_time[key(b)], atol=1e-9)


@requires_nest
def test_numba_and_nest_deliver_both_spikes_of_a_step(circuit):
    r = resolve(load_scenario(circuit))
    network = realise(r)
    lgn = next(p for p in network.populations.values() if p.cell_type == "SpikeSourceArray")
    assert sum(int((step_multiplicity(s)[1] > 1).sum()) for s in lgn.spike_steps) > 50  # the case is there
    assert sum(s.size for s in lgn.spike_steps) == 12 * 46  # no spike merged or lost
    ref = in_fresh_process(run_in_process, r, "nest", connectivity="exact", network=network)
    out = in_fresh_process(run_in_process, r, "numba", connectivity="exact", network=network)
    for name in ("v1_E", "v1_I"):
        _same_spikes(out.populations[name], ref.populations[name], name)
    for name in ("bindsnet", "annarchy", "brainpy"):  # one spike per source and step: refused
        assert any(" spikes in the 0.1 ms step ending at " in p for p in backend_class(name).multiplicity_problems(r)), name
    assert backend_class("genn").multiplicity_problems(r) == []  # counted (tests/conformance/test_conformance.py)


@requires_nest
@pytest.mark.slow
def test_bmtk_pointnet_and_snnbench_nest_agree_with_pairs_in_a_step(circuit):
    """bmtk gives each node's file times to a spike_generator with precise_times on: the realised
    steps (pairs kept) must give snnbench's nest backend the same spikes, spike for spike."""
    from snnbench.sonata.reference import run_pointnet

    s = load_scenario(circuit)
    ours = in_fresh_process(run_in_process, resolve(s), "nest", connectivity="exact")
    theirs = run_pointnet(Path(circuit).parent / "c/simulation_config.json", s)
    for name in ("v1_E", "v1_I"):
        _same_spikes(ours.populations[name], theirs.populations[name], name)


@pytest.mark.slow  # Brian2 compiles the circuit's code (minutes cold)
@pytest.mark.filterwarnings(r"ignore:'\w+'( argument is)? deprecated[ ,-]+use:DeprecationWarning")  # Brian2 on pyparsing 3.3
def test_brian2_takes_both_spikes_of_a_step_onto_glif_ports(circuit):
    """Brian2 fires a layer of the source per spike of a step, each static projection connected
    once per layer: on the GLIF circuit with pairs, numba's spikes (numba equals NEST: above)."""
    pytest.importorskip("brian2", reason="brian2 is not installed")
    r = resolve(load_scenario(circuit))
    network = realise(r)
    lgn = next(p for p in network.populations.values() if p.cell_type == "SpikeSourceArray")
    assert sum(int((step_multiplicity(s)[1] > 1).sum()) for s in lgn.spike_steps) > 50  # the case is there
    ref = in_fresh_process(run_in_process, r, "numba", connectivity="exact", network=network)
    out = in_fresh_process(run_in_process, r, "brian2.standalone", connectivity="exact", network=network)
    for name in ("v1_E", "v1_I"):
        _same_spikes(out.populations[name], ref.populations[name], name)
    assert out.synapses == ref.synapses


# ------------------------------------------------------------------ a plastic synapse from pairs


@requires_nest
def test_stdp_from_two_spikes_in_one_step_numba_as_nest_brian2_refuses(tmp_path):
    """NEST's parrot passes a step's spikes on as one spike of multiplicity k: stdp_synapse updates
    its weight once and delivers k times it. numba follows it; Brian2's layers would split the
    weight into one synapse per layer, so it refuses the projection."""
    stdp = (Path(__file__).parent / "conformance/stdp.toml").read_text()
    given = "spike_times = [10.0, 18.8, 50.0, 100.0, 150.0"
    assert given in stdp
    path = tmp_path / "stdp-pairs.toml"
    path.write_text(stdp.replace(given, "spike_times = [10.0, 14.0, 14.0, 18.8, 18.8, 40.0, 50.0, 100.0, 150.0"))
    r = resolve(load_scenario(path))
    network = realise(r)
    assert network.populations["pre"].spike_steps[0][:5].tolist() == [100, 140, 140, 188, 188]
    ref = in_fresh_process(run_in_process, r, "nest", connectivity="exact", network=network)
    out = in_fresh_process(run_in_process, r, "numba", connectivity="exact", network=network)
    assert ref.populations["post"].n_spikes > 0
    np.testing.assert_allclose(out.populations["post"].spike_time, ref.populations["post"].spike_time, atol=1e-9)
    np.testing.assert_allclose(out.weights["plastic"].trajectory, ref.weights["plastic"].trajectory, rtol=1e-9)
    for name in ("brian2", "brian2.standalone"):
        assert any("projection plastic: plastic synapse from pre, whose steps carry several spikes" in p
                   for p in backend_class(name)().supports(r, "exact")), name
