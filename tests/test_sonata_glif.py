"""GLIF cells in SONATA: a small circuit of glif_psc node types (the Allen V1 model's form: NEST's
names and units, tau_syn per port, the mechanism flags) built with bmtk's NetworkBuilder in
tmp_path, whose edge types name their receptor port by the synapse's receptor_type. Read as
GLIF_curr_alpha populations and port projections, run by numba and NEST (exact mode, the same
spikes), by Brian2's two devices (the same spikes as numba), and by bmtk's pointnet (the
reference: the same spikes as snnbench's nest backend)."""

from __future__ import annotations

import json
from pathlib import Path

import h5py
import numpy as np
import pytest

from snnbench.runner import run_in_process
from snnbench.scenario import ScenarioError, load_scenario, realise, resolve

from .conftest import in_fresh_process, requires, requires_nest

bmtk_builder = pytest.importorskip("bmtk.builder", reason="bmtk is not installed (extra 'sonata')")

TAU_SYN = [5.5, 8.5, 2.8]
E_GLIF = {"V_m": -79.04, "V_th": -49.64, "g": 3.478, "E_L": -79.04, "C_m": 60.73, "t_ref": 1.45, "V_reset": -79.04,
          "asc_init": [0.0, 0.0], "asc_decay": [0.03, 0.3], "asc_amps": [-23.83, -292.06], "tau_syn": TAU_SYN,
          "spike_dependent_threshold": False, "after_spike_currents": True, "adapting_threshold": False}
I_GLIF = {"V_m": -70.0, "V_th": -48.0, "g": 5.0, "E_L": -70.0, "C_m": 40.0, "t_ref": 2.0, "V_reset": -70.0,
          "tau_syn": TAU_SYN, "spike_dependent_threshold": False, "after_spike_currents": False,
          "adapting_threshold": False}
N_E, N_I, N_LGN = 16, 6, 12
# (pre, post, syn_weight pA, delay ms, synapse file: its receptor_type)
EDGES = (("E", "E", 30.0, 1.5, "e2e.json"), ("E", "I", 40.0, 1.0, "e2i.json"), ("I", "E", -60.0, 1.0, "i2e.json"),
         ("I", "I", -40.0, 0.8, "i2i.json"))
SYNAPSES = {"e2e.json": 1, "e2i.json": 1, "i2e.json": 2, "i2i.json": 2, "lgn.json": 3}


def glif_circuit(folder: Path, e_json: dict | None = None, synapses: dict | None = None, tstop: float = 300.0) -> Path:
    from bmtk.builder import NetworkBuilder

    from snnbench.sonata.column import write_configs

    rng = np.random.default_rng(3)
    for d in ("network", "components/point_neuron_models", "components/synaptic_models", "inputs"):
        (folder / d).mkdir(parents=True, exist_ok=True)
    (folder / "components/point_neuron_models/e.json").write_text(json.dumps(e_json or E_GLIF))
    (folder / "components/point_neuron_models/i.json").write_text(json.dumps(I_GLIF))
    for name, port in (synapses or SYNAPSES).items():
        (folder / "components/synaptic_models" / name).write_text(json.dumps({"receptor_type": port}))
    net = NetworkBuilder("v1")
    net.add_nodes(N=N_E, pop_name="E", model_type="point_neuron", model_template="nest:glif_psc", dynamics_params="e.json")
    net.add_nodes(N=N_I, pop_name="I", model_type="point_neuron", model_template="nest:glif_psc", dynamics_params="i.json")

    def some(source, target, p):
        return 1 if rng.random() < p and source.node_id != target.node_id else 0

    for pre, post, weight, delay, synapse in EDGES:
        net.add_edges(source={"pop_name": pre}, target={"pop_name": post}, connection_rule=some, connection_params={"p": 0.4},
                      syn_weight=weight, delay=delay, dynamics_params=synapse, model_template="static_synapse")
    net.build()
    net.save(output_dir=str(folder / "network"))
    lgn = NetworkBuilder("lgn")
    lgn.add_nodes(N=N_LGN, pop_name="lgn", model_type="virtual")
    lgn.add_edges(source=lgn.nodes(), target=net.nodes(), connection_rule=some, connection_params={"p": 0.6},
                  syn_weight=120.0, delay=1.0, dynamics_params="lgn.json", model_template="static_synapse")
    lgn.build()
    lgn.save(output_dir=str(folder / "network"))
    with h5py.File(folder / "inputs/lgn.h5", "w") as h5:
        # 40 spikes per source, on the grid and at distinct steps (no rounding rule, no multiplicity involved)
        steps = [rng.choice(np.arange(10, int(tstop * 10)), 40, replace=False) for _ in range(N_LGN)]
        ids = np.repeat(np.arange(N_LGN), 40)
        times = np.concatenate(steps) * 0.1
        order = np.argsort(times, kind="stable")
        group = h5.create_group("spikes/lgn")
        group.create_dataset("timestamps", data=times[order])
        group.create_dataset("node_ids", data=ids[order].astype(np.uint64))
    write_configs(folder, ["v1", "lgn"], [("v1", "v1"), ("lgn", "v1")], {"lgn": "inputs/lgn.h5"}, tstop=tstop)
    return folder / "simulation_config.json"


def scenario_file(folder: Path, simulation: Path, simtime: float = 300.0) -> Path:
    path = folder / "glif.toml"
    path.write_text(f'[scenario]\ntitle = "glif circuit"\nsource = "test"\n[run]\ndt = 0.1\nsimtime = {simtime}\n'
                    f'[sonata]\nsimulation = "{simulation}"\nrecord_v = 2\n')
    return path


@pytest.fixture(scope="module")
def circuit(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("glif")
    return scenario_file(folder, glif_circuit(folder / "c"))


def test_glif_node_types_become_glif_populations_in_pynns_units(circuit):
    s = load_scenario(circuit)
    e, i = s.populations["v1_E"], s.populations["v1_I"]
    assert (e.cell_type, e.size, i.cell_type, i.size) == ("GLIF_curr_alpha", N_E, "GLIF_curr_alpha", N_I)
    assert (e.parameters.variant, i.parameters.variant) == (3, 1)  # the flags: LIF_ASC, LIF
    q = e.parameters
    assert q.cm == pytest.approx(0.06073) and q.tau_m == pytest.approx(60.73 / 3.478)  # pF -> nF; C_m / g
    assert q.asc_amps == pytest.approx([-0.02383, -0.29206]) and q.asc_decay == [0.03, 0.3]  # pA -> nA; 1/ms
    assert q.tau_syn == TAU_SYN and q.v_thresh == -49.64 and e.initial_values.v == -79.04
    assert i.parameters.asc_r == [1.0, 1.0]  # glif_psc's default where the JSON has none


def test_edges_name_their_port_and_keep_their_sign(circuit):
    s = load_scenario(circuit)
    receptors = {p.label: p.receptor for p in s.projections}
    assert receptors["v1_to_v1:v1_E->v1_E:syn1"] == "syn1" and receptors["v1_to_v1:v1_I->v1_E:syn2"] == "syn2"
    assert receptors["lgn_to_v1:lgn_lgn->v1_I:syn3"] == "syn3" and len(receptors) == 6
    network = realise(resolve(s))
    by_label = {p.label: p for p in network.projections}
    assert np.all(by_label["v1_to_v1:v1_I->v1_E:syn2"].weight == pytest.approx(-0.060))  # pA -> nA, NEST's sign
    assert np.all(by_label["lgn_to_v1:lgn_lgn->v1_E:syn3"].weight == pytest.approx(0.120))
    with h5py.File(Path(circuit).parent / "c/network/v1_v1_edges.h5") as h5:
        src, tgt = h5["edges/v1_to_v1/source_node_id"][()], h5["edges/v1_to_v1/target_node_id"][()]
    ie = by_label["v1_to_v1:v1_I->v1_E:syn2"]
    assert ie.size == int(np.sum((src >= N_E) & (tgt < N_E))) > 0


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"synapses": {**SYNAPSES, "e2e.json": 0}}, r"receptor_type 0 onto GLIF_curr_alpha, whose receptors are ports 1..n"),
    ({"synapses": {**SYNAPSES, "lgn.json": 4}}, r"receptor_type 4: v1_E has 3 receptor port\(s\)"),
    ({"e_json": {**E_GLIF, "adapting_threshold": True}}, r"adapting_threshold = True: not one of glif_psc's five"),
    ({"e_json": {**E_GLIF, "tau_syn": 5.5}}, r"tau_syn: expected numbers \(lists of numbers"),
])
def test_glif_refusals_name_the_file_and_why(tmp_path, kwargs, message):
    path = scenario_file(tmp_path, glif_circuit(tmp_path / "c", **kwargs))
    with pytest.raises(ScenarioError, match=message) as info:
        load_scenario(path)
    assert "_types.csv" in str(info.value) or "e.json" in str(info.value)


@requires_nest
def test_numba_and_nest_agree_on_the_glif_circuit(circuit):
    from snnbench.analysis.protocol import compare_exact

    r = resolve(load_scenario(circuit))
    network = realise(r)
    ref = in_fresh_process(run_in_process, r, "nest", connectivity="exact", network=network)
    out = in_fresh_process(run_in_process, r, "numba", connectivity="exact", network=network)
    assert ref.populations["v1_E"].n_spikes > 20 and ref.populations["v1_I"].n_spikes > 5
    result = compare_exact(out, ref)
    assert result.passed, [c for c in result.cells if not c.passed][:5]
    assert out.synapses == ref.synapses == {p.label: p.size for p in network.projections}


# Brian2 compiles the circuit's code first (cold: minutes; a warm cache: seconds for standalone's
# binary, longer for the runtime device's Cython modules): one device in each tier.
@requires("brian2", "brian2")
@pytest.mark.filterwarnings(r"ignore:'\w+'( argument is)? deprecated[ ,-]+use:DeprecationWarning")  # Brian2 on pyparsing 3.3
@pytest.mark.parametrize("backend", [pytest.param("brian2.standalone", marks=pytest.mark.slow),
                                     pytest.param("brian2", marks=pytest.mark.slow)])
def test_brian2_gives_numbas_spikes_on_the_glif_circuit(circuit, backend):
    """GLIF1 and GLIF3 cells, recurrent port projections of either sign and a spike-file input:
    Brian2's glif_psc update gives numba's spikes (numba equals NEST here: the test above), every
    recorded v within the exact tier's 0.05 mV RMS."""
    from snnbench.analysis.protocol import compare_exact

    r = resolve(load_scenario(circuit))
    network = realise(r)
    ref = in_fresh_process(run_in_process, r, "numba", connectivity="exact", network=network)
    out = in_fresh_process(run_in_process, r, backend, connectivity="exact", network=network)
    assert ref.populations["v1_E"].n_spikes > 20 and ref.populations["v1_I"].n_spikes > 5
    result = compare_exact(out, ref)
    assert result.passed, [c for c in result.cells if not c.passed][:5]
    for name in ("v1_E", "v1_I"):  # every cell, recorded v or not: the same spikes
        a, b = out.populations[name], ref.populations[name]
        assert a.n_spikes == b.n_spikes, name
        key = lambda p: np.lexsort((p.spike_time, p.spike_index))  # noqa: E731
        np.testing.assert_array_equal(a.spike_index[key(a)], b.spike_index[key(b)])
        np.testing.assert_allclose(a.spike_time[key(a)], b.spike_time[key(b)], atol=1e-9)
    assert out.synapses == ref.synapses == {p.label: p.size for p in network.projections}


@requires_nest
@pytest.mark.slow
def test_bmtk_pointnet_and_snnbench_nest_give_the_same_spikes(circuit):
    """bmtk hands the JSON to glif_psc as it is and connects each edge with its receptor_type: the
    translation to GLIF_curr_alpha and back must give NEST the same network, spike for spike."""
    from snnbench.sonata.reference import run_pointnet

    s = load_scenario(circuit)
    r = resolve(s)
    ours = in_fresh_process(run_in_process, r, "nest", connectivity="exact")
    theirs = run_pointnet(Path(circuit).parent / "c/simulation_config.json", s)
    for name in ("v1_E", "v1_I"):
        a, b = ours.populations[name], theirs.populations[name]
        assert a.n_spikes == b.n_spikes > 0, name
        key = lambda p: np.lexsort((p.spike_time, p.spike_index))  # noqa: E731
        np.testing.assert_array_equal(a.spike_index[key(a)], b.spike_index[key(b)])
        np.testing.assert_allclose(a.spike_time[key(a)], b.spike_time[key(b)], atol=1e-9)
