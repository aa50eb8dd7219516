"""SONATA in and out: tiny circuits built with bmtk's NetworkBuilder in tmp_path, read as
scenarios, sliced, realised and run (numba, nest; exact mode); every refusal's message; the
SONATA spike and membrane reports read back by h5py and by bmtk's readers."""

from __future__ import annotations

import json
from pathlib import Path

import h5py
import numpy as np
import pytest

from snnbench import io as snnio
from snnbench.cli import main
from snnbench.runner import run_in_process
from snnbench.scenario import Overrides, ScenarioError, load_scenario, realise, resolve

from .conftest import in_fresh_process, requires_nest

bmtk_builder = pytest.importorskip("bmtk.builder", reason="bmtk is not installed (extra 'sonata')")

E_JSON = {"C_m": 250.0, "tau_m": 20.0, "E_L": -70.0, "V_th": -50.0, "V_reset": -60.0, "t_ref": 2.0,
          "tau_syn_ex": 2.0, "tau_syn_in": 5.0, "I_e": 380.0, "V_m": -65.0}
I_JSON = {"C_m": 200.0, "g_L": 20.0, "E_L": -70.0, "V_th": -52.0, "V_reset": -60.0, "t_ref": 1.0,
          "tau_syn_ex": 1.0, "tau_syn_in": 3.0, "E_ex": 0.0, "E_in": -80.0, "I_e": 300.0}
N_E, N_I, N_LGN = 24, 8, 10


def tiny_circuit(folder: Path, e_template: str = "nest:iaf_psc_exp", e_json: dict | None = None,
                 synapse: dict | None = None, lgn_input: bool = True) -> Path:
    """A two-type circuit (E iaf_psc_exp, I iaf_cond_exp) on a line of x, with LGN virtual nodes
    and a spike file; nsyns from 1 to 3 per E->E pair. Returns the simulation config."""
    from bmtk.builder import NetworkBuilder

    from snnbench.sonata.column import write_configs

    rng = np.random.default_rng(7)
    for d in ("network", "components/point_neuron_models", "components/synaptic_models", "inputs"):
        (folder / d).mkdir(parents=True, exist_ok=True)
    (folder / "components/point_neuron_models/e.json").write_text(json.dumps(e_json or E_JSON))
    (folder / "components/point_neuron_models/i.json").write_text(json.dumps(I_JSON))
    (folder / "components/synaptic_models/s.json").write_text(json.dumps(synapse or {"synapse_model": "static_synapse"}))
    net = NetworkBuilder("v1")
    net.add_nodes(N=N_E, pop_name="E", model_type="point_neuron", model_template=e_template, dynamics_params="e.json",
                  x=np.arange(N_E) * 10.0, y=np.zeros(N_E), z=np.zeros(N_E))
    net.add_nodes(N=N_I, pop_name="I", model_type="point_neuron", model_template="nest:iaf_cond_exp",
                  dynamics_params="i.json", x=np.arange(N_I) * 30.0, y=np.zeros(N_I), z=np.zeros(N_I))

    def some(source, target, p, most):
        return int(rng.integers(1, most + 1)) if rng.random() < p and source.node_id != target.node_id else 0

    for pre, post, weight, delay, most in (("E", "E", 40.0, 1.5, 3), ("E", "I", 2.0, 1.0, 1), ("I", "E", -150.0, 1.0, 1),
                                           ("I", "I", -3.0, 0.8, 1)):
        net.add_edges(source={"pop_name": pre}, target={"pop_name": post}, connection_rule=some,
                      connection_params={"p": 0.3, "most": most}, syn_weight=weight, delay=delay,
                      dynamics_params="s.json", model_template="static_synapse")
    net.build()
    net.save(output_dir=str(folder / "network"))
    lgn = NetworkBuilder("lgn")
    lgn.add_nodes(N=N_LGN, pop_name="lgn", model_type="virtual")
    lgn.add_edges(source=lgn.nodes(), target=net.nodes(pop_name="E"), connection_rule=some,
                  connection_params={"p": 0.5, "most": 1}, syn_weight=80.0, delay=1.0,
                  dynamics_params="s.json", model_template="static_synapse")
    lgn.build()
    lgn.save(output_dir=str(folder / "network"))
    with h5py.File(folder / "inputs/lgn.h5", "w") as h5:
        times = np.sort(rng.uniform(0.0, 200.0, 300))
        group = h5.create_group("spikes/lgn")
        group.create_dataset("timestamps", data=times)
        group.create_dataset("node_ids", data=rng.integers(0, N_LGN, times.size).astype(np.uint64))
    write_configs(folder, ["v1", "lgn"], [("v1", "v1"), ("lgn", "v1")], {"lgn": "inputs/lgn.h5"} if lgn_input else {},
                  tstop=200.0)
    return folder / "simulation_config.json"


def scenario_file(folder: Path, sonata: str, extra: str = "") -> Path:
    path = folder / "tiny.toml"
    path.write_text(f'[scenario]\ntitle = "tiny"\nsource = "test"\n[run]\ndt = 0.1\nsimtime = 200.0\n'
                    f"[sonata]\n{sonata}\n{extra}")
    return path


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("tiny")
    tiny_circuit(folder / "circuit")
    return scenario_file(folder, 'simulation = "circuit/simulation_config.json"\nrecord_v = 2')


# ------------------------------------------------------------------------------- reading


def test_node_types_become_populations(tiny):
    s = load_scenario(tiny)
    assert set(s.populations) == {"v1_E", "v1_I", "lgn_lgn"}
    e, i, lgn = s.populations["v1_E"], s.populations["v1_I"], s.populations["lgn_lgn"]
    assert (e.cell_type, e.size, i.cell_type, i.size) == ("IF_curr_exp", N_E, "IF_cond_exp", N_I)
    assert lgn.cell_type == "SpikeSourceArray" and lgn.spike_file is not None and lgn.size == N_LGN
    # the table's units: pF -> nF, pA -> nA; tau_m of a conductance cell is C_m / g_L
    assert e.parameters.cm == pytest.approx(0.25) and e.parameters.i_offset == pytest.approx(0.38)
    assert i.parameters.tau_m == pytest.approx(10.0) and i.parameters.e_rev_I == -80.0
    assert e.initial_values.v == -65.0 and i.initial_values.v == -70.0  # V_m, else NEST's default
    labels = {p.label for p in s.projections}
    assert {"v1_to_v1:v1_E->v1_E:exc", "v1_to_v1:v1_I->v1_E:inh", "lgn_to_v1:lgn_lgn->v1_E:exc"} <= labels


def test_edges_come_from_the_file_with_nsyns_and_units(tiny):
    s = load_scenario(tiny)
    network = realise(resolve(s))
    with h5py.File(Path(tiny).parent / "circuit/network/v1_v1_edges.h5") as h5:
        grp = h5["edges/v1_to_v1"]
        src, tgt = grp["source_node_id"][()], grp["target_node_id"][()]
        nsyns = grp["0/nsyns"][()] if "nsyns" in grp["0"] else np.ones(src.size)
    ee = next(p for p in network.projections if p.label == "v1_to_v1:v1_E->v1_E:exc")
    in_file = (src < N_E) & (tgt < N_E)
    assert ee.size == in_file.sum() and ee.size > 0
    assert nsyns.max() > 1  # the test circuit has multi-synapse edges
    # weight = syn_weight x nsyns, pA -> nA
    np.testing.assert_allclose(np.sort(ee.weight), np.sort(0.040 * nsyns[in_file]))
    ie = next(p for p in network.projections if p.label == "v1_to_v1:v1_I->v1_E:inh")
    assert np.all(ie.weight == pytest.approx(-0.150)) and np.all(ie.delay == 1.0)  # a current: negative, PyNN's sign
    ii = next(p for p in network.projections if p.label == "v1_to_v1:v1_I->v1_I:inh")
    assert np.all(ii.weight == pytest.approx(0.003))  # a conductance: uS, the receptor says inhibitory
    pairs = {(int(a), int(b)) for a, b in zip(src[in_file], tgt[in_file])}
    assert {(int(a), int(b)) for a, b in zip(ee.pre_idx, ee.post_idx)} == pairs
    lgn = network.populations["lgn_lgn"]
    assert sum(s.size for s in lgn.spike_steps) > 0


@pytest.mark.parametrize("backend", ["numba", "nest"])
def test_runs_in_exact_mode(tiny, backend):
    pytest.importorskip("nest" if backend == "nest" else "numba")
    r = resolve(load_scenario(tiny), Overrides(simtime=100.0))
    out = in_fresh_process(run_in_process, r, backend, connectivity="exact")
    assert out.populations["v1_E"].n_spikes > 0
    assert out.synapses["v1_to_v1:v1_E->v1_E:exc"] == next(
        p for p in realise(r).projections if p.label == "v1_to_v1:v1_E->v1_E:exc").size
    assert out.populations["v1_E"].v.shape[1] == 2


# ------------------------------------------------------------------------------- slicing


def test_slice_by_radius_keeps_edges_inside(tiny):
    s = load_scenario(tiny)
    r = resolve(s, Overrides(slice="radius=50,x=0,z=0"))
    assert r.populations["v1_E"].size == 6  # x = 0, 10, ..., 50
    assert r.populations["v1_I"].size == 2  # x = 0, 30
    np.testing.assert_array_equal(r.populations["v1_E"].node_ids, np.arange(6))
    assert "radius 50" in r.cut and "8 of 32 cells" in r.cut
    network = realise(r)
    for p in network.projections:
        assert p.pre_idx.max(initial=-1) < r.populations[p.pre].size and p.post_idx.max(initial=-1) < r.populations[p.post].size
    full = realise(resolve(s))
    assert network.n_synapses < full.n_synapses
    assert realise(resolve(s, Overrides(slice="radius=50,x=0,z=0"))).n_synapses == network.n_synapses  # deterministic


def test_slice_n_nearest_and_inputs_restricted(tiny):
    r = resolve(load_scenario(tiny), Overrides(slice="n=5,x=0,z=0"))
    cells = {n: p.node_ids.tolist() for n, p in r.cells.items()}
    assert sum(len(v) for v in cells.values()) == 5
    assert cells["v1_E"][:2] == [0, 1] and cells["v1_I"] == [N_E]  # tie at x = 0 broken by population order
    lgn = r.populations.get("lgn_lgn")
    if lgn is not None:  # only LGN nodes with an edge onto a kept cell
        network = realise(r)
        hit = {int(i) for p in network.projections if p.pre == "lgn_lgn" for i in p.pre_idx}
        assert hit == set(range(lgn.size))


@pytest.mark.parametrize("spec, message", [
    ("radius=0", "radius must be > 0"), ("n=1.5", "whole number"), ("radius=1,n=2", "give one of"),
    ("r=4", "expected radius=R or n=N"), ("radius=abc", "is not a number"),
])
def test_bad_slices(tiny, spec, message):
    with pytest.raises(ScenarioError, match=message):
        resolve(load_scenario(tiny), Overrides(slice=spec))


def test_slice_needs_a_sonata_scenario():
    with pytest.raises(ScenarioError, match=r"--slice needs a scenario made from a SONATA circuit"):
        resolve(load_scenario("vogels-abbott-cuba"), Overrides(slice="n=10"))


def test_sonata_scenarios_refuse_n_pop(tiny):
    with pytest.raises(ScenarioError, match="cut it with --slice instead"):
        resolve(load_scenario(tiny), Overrides(N_pop=10))


# ------------------------------------------------------------------------------- refusals


@pytest.mark.parametrize("kwargs, message", [
    ({"e_template": "nest:glif_psc"}, r"node type 100 \(E\): nest:glif_psc: I_e, tau_m, tau_syn_ex, tau_syn_in have no "
                                      "GLIF_curr_alpha equivalent"),
    ({"e_template": "nest:glif_cond"}, r"node type 100 \(E\): model_template 'nest:glif_cond': glif_cond's conductance"),
    ({"e_template": "nest:iaf_psc_delta"}, r"node type 100 \(E\): nest:iaf_psc_delta: tau_syn_ex, tau_syn_in have no "
                                          "IF_curr_delta equivalent"),
    ({"e_template": "nest:hh_psc_alpha"}, "no PyNN standard type is known for NEST's hh_psc_alpha"),
    ({"e_json": {**E_JSON, "rho": 0.01}}, r"node type 100 \(E\): nest:iaf_psc_exp: rho have no IF_curr_exp equivalent"),
    ({"synapse": {"synapse_model": "stdp_synapse"}}, r"edge type 100: synapse_model 'stdp_synapse': only static synapses"),
    ({"synapse": {"synapse_model": "static_synapse", "receptor_type": 2}},
     r"edges/v1_to_v1 onto v1_E: receptor_type 2 onto IF_curr_exp, which takes NEST's port 0 only"),
    ({"synapse": {"synapse_model": "static_synapse", "receptor_type": "two"}}, r"edge type 100: receptor_type 'two' \(in s.json\): expected"),
])
def test_refusals_name_the_type_file_and_reason(tmp_path, capsys, kwargs, message):
    tiny_circuit(tmp_path / "c", **kwargs)
    path = scenario_file(tmp_path, 'simulation = "c/simulation_config.json"')
    with pytest.raises(ScenarioError, match=message) as info:
        load_scenario(path)
    assert "node_types.csv" in str(info.value) or "edge_types.csv" in str(info.value)
    assert main(["show", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("snnbench: ") and "_types.csv" in err


def test_alpha_models_translate_once_snnbench_has_their_types(tmp_path):
    from snnbench.scenario.model import CELL_TYPES

    tiny_circuit(tmp_path / "c", e_template="nest:iaf_psc_alpha")
    path = scenario_file(tmp_path, 'simulation = "c/simulation_config.json"')
    if "IF_curr_alpha" in CELL_TYPES:
        assert load_scenario(path).populations["v1_E"].cell_type == "IF_curr_alpha"
    else:
        with pytest.raises(ScenarioError, match="its PyNN type IF_curr_alpha is not among snnbench's cell types yet"):
            load_scenario(path)


def test_iaf_psc_delta_becomes_if_curr_delta_with_its_weights_in_mv(tmp_path):
    e_json = {k: v for k, v in E_JSON.items() if k not in ("tau_syn_ex", "tau_syn_in")}
    tiny_circuit(tmp_path / "c", e_template="nest:iaf_psc_delta", e_json=e_json)
    s = load_scenario(scenario_file(tmp_path, 'simulation = "c/simulation_config.json"'))
    e = s.populations["v1_E"]
    assert e.cell_type == "IF_curr_delta" and e.parameters.cm == pytest.approx(0.25) and e.parameters.tau_m == 20.0
    network = realise(resolve(s))
    lgn = next(p for p in network.projections if p.label == "lgn_to_v1:lgn_lgn->v1_E:exc")
    assert lgn.size > 0 and np.all(lgn.weight == pytest.approx(80.0))  # NEST's mV are PyNN's mV
    ie = next(p for p in network.projections if p.label == "v1_to_v1:v1_I->v1_E:inh")
    assert np.all(ie.weight == pytest.approx(-150.0))


def test_virtual_nodes_without_input_never_spike_and_poisson_rates(tmp_path):
    tiny_circuit(tmp_path / "c", lgn_input=False)
    s = load_scenario(scenario_file(tmp_path, 'simulation = "c/simulation_config.json"'))
    lgn = s.populations["lgn_lgn"]
    assert lgn.cell_type == "SpikeSourceArray" and lgn.spike_file is None and not lgn.parameters.spike_times
    s = load_scenario(scenario_file(tmp_path, 'simulation = "c/simulation_config.json"\npoisson = { lgn = "20 Hz" }'))
    assert s.populations["lgn_lgn"].cell_type == "SpikeSourcePoisson" and s.populations["lgn_lgn"].parameters.rate == 20.0


def test_missing_circuit_file_exits_2_naming_it(tmp_path, capsys):
    path = scenario_file(tmp_path, 'circuit = "nowhere/circuit_config.json"')
    assert main(["show", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("snnbench: ") and "nowhere/circuit_config.json" in err and "no such file" in err


def test_allen_v1_slice_without_its_files_names_the_download(capsys):
    from snnbench.scenario.load import PACKAGE_SCENARIOS

    if (PACKAGE_SCENARIOS.parent / "data/allen-v1/point_network/config.json").exists():
        pytest.skip("the Allen V1 files are present here")
    assert main(["show", "allen-v1-slice"]) == 2
    err = capsys.readouterr().err
    assert "data/allen-v1/point_network/config.json" in err and "no such file" in err and "Billeh" in err


def test_nest_defaults_of_the_translation_table():
    nest = pytest.importorskip("nest")
    from snnbench.sonata.nest_models import MODELS

    for name, model in MODELS.items():
        defaults = nest.GetDefaults(name)
        for key, value in model.defaults.items():
            theirs = defaults[key].tolist() if hasattr(defaults[key], "tolist") else defaults[key]
            assert theirs == pytest.approx(value, rel=1e-4), (name, key)


# ------------------------------------------------------------------------------- the column


def test_column_is_built_once_and_read_back(tmp_path, monkeypatch):
    monkeypatch.setenv("SNNBENCH_CACHE_DIR", str(tmp_path / "cache"))
    path = scenario_file(tmp_path, "column = { cells = 120, lgn = 20, seed = 3 }")
    s = load_scenario(path)
    cells = {n: p.size for n, p in s.cell_populations.items()}
    assert sum(cells.values()) == 120 and {"v1_L4e", "v1_L4i", "v1_L23e", "v1_L6e", "v1_L6i"} <= set(cells)
    types = {n: (s.populations[n].cell_type, getattr(s.populations[n].parameters, "variant", None)) for n in cells}
    assert types == {"v1_L23e": ("GLIF_curr_alpha", 3), "v1_L4e": ("GLIF_curr_alpha", 2), "v1_L5e": ("GLIF_curr_alpha", 3),
                     "v1_L23i": ("GLIF_curr_alpha", 1), "v1_L4i": ("GLIF_curr_alpha", 1), "v1_L5i": ("GLIF_curr_alpha", 1),
                     "v1_L6e": ("IF_curr_exp", None), "v1_L6i": ("IF_cond_exp", None)}
    assert s.populations["v1_L4e"].parameters.tau_syn == [2.0, 5.0, 1.0]
    assert s.populations["lgn_lgn"].spike_file is not None and s.populations["bkg_bkg"].spike_file is not None
    # onto GLIF cells each kind of input has its port; onto the LIF types of L6, NEST's sign picks the receptor
    receptors = {(p.pre.split("_")[0], p.post, p.receptor) for p in s.projections}
    assert ("v1", "v1_L23e", "syn1") in receptors and ("v1", "v1_L23e", "syn2") in receptors
    assert ("lgn", "v1_L4e", "syn3") in receptors and ("bkg", "v1_L5i", "syn3") in receptors
    assert ("v1", "v1_L6e", "excitatory") in receptors and ("lgn", "v1_L6i", "excitatory") in receptors
    assert not any(pre == "bkg" and post.startswith("v1_L6") for pre, post, _ in receptors)  # L6 has I_e instead
    built = list((tmp_path / "cache/sonata").glob("v1-column-*/network/v1_v1_edges.h5"))
    assert len(built) == 1
    mtime = built[0].stat().st_mtime
    assert load_scenario(path).model_dump() == s.model_dump() and built[0].stat().st_mtime == mtime  # the cache


def test_n_pop_and_scale_rebuild_the_column_at_that_size(tmp_path, monkeypatch):
    monkeypatch.setenv("SNNBENCH_CACHE_DIR", str(tmp_path / "cache"))
    s = load_scenario(scenario_file(tmp_path, "column = { cells = 120, lgn = 20, seed = 3 }"))
    r = resolve(s, Overrides(N_pop=60))
    assert r.N_pop == 60 and r.scale == 0.5 and r.overrides.N_pop == 60
    assert r.scenario.sonata.column.cells == 60 and s.sonata.column.cells == 120  # the file's scenario is kept as it is
    assert r.hash == resolve(s).hash  # stored under the file's hash with its overrides, as any scaled run
    assert resolve(s, Overrides(scale=0.5)).N_pop == 60
    assert len(list((tmp_path / "cache/sonata").glob("v1-column-*"))) == 2
    with pytest.raises(ScenarioError, match=r"N_pop: the built column has 10 to 200,000 cells; N_pop 5 asks for 5"):
        resolve(s, Overrides(N_pop=5))


def test_the_column_keeps_its_density_as_it_grows():
    from snnbench.sonata.column import default_radius

    assert default_radius(1000) == 400.0  # the scenario's disc at its default size
    assert default_radius(4000) == pytest.approx(800.0)  # 4x the cells on 4x the area


@requires_nest
def test_numba_and_nest_give_the_same_spikes_on_a_small_column(tmp_path):
    """Exact tier on the column's mix of GLIF variants, ports and LIF types (the built column and
    numba's compiled code stay in the user's cache: a tmp cache would recompile GLIF each run)."""
    from snnbench.analysis.protocol import compare_exact

    r = resolve(load_scenario(scenario_file(tmp_path, "column = { cells = 200, lgn = 40, seed = 3 }")),
                Overrides(simtime=300.0))
    network = realise(r)
    ref = in_fresh_process(run_in_process, r, "nest", connectivity="exact", network=network)
    out = in_fresh_process(run_in_process, r, "numba", connectivity="exact", network=network)
    active = [n for n, p in ref.populations.items() if not p.cell_type.startswith("SpikeSource") and p.n_spikes > 0]
    assert {"v1_L23e", "v1_L4e", "v1_L4i", "v1_L6e"} <= set(active)  # GLIF variants 3, 2, 1 and a LIF type spike
    result = compare_exact(out, ref)
    assert result.passed, [c for c in result.cells if not c.passed][:5]


# ------------------------------------------------------------------------------- output


@pytest.fixture(scope="module")
def output():
    r = resolve(load_scenario("vogels-abbott-cuba"), Overrides(N_pop=500, simtime=200.0))
    return run_in_process(r, "numba")


def test_sonata_reports_read_by_h5py_and_bmtk(tmp_path, output):
    from bmtk.utils.reports import CompartmentReport, SpikeTrains

    files = snnio.write(output, "sonata", tmp_path / "run", {"scenario": "vogels-abbott-cuba"})
    assert [Path(f).name for f in files] == ["run.spikes.h5", "run.v.h5"]
    with h5py.File(files[0]) as h5:
        e = h5["spikes/E"]
        assert e.attrs["sorting"] == "by_time" and e["timestamps"].attrs["units"] == "ms"
        assert np.all(np.diff(e["timestamps"][()]) >= 0)
    trains = SpikeTrains.load(files[0])
    for name, pop in output.populations.items():
        if pop.n_spikes:
            frame = trains.to_dataframe(populations=name)
            assert len(frame) == pop.n_spikes
            np.testing.assert_allclose(np.sort(frame["timestamps"].to_numpy()), np.sort(pop.spike_time))
    report = CompartmentReport(files[1], mode="r")
    e = output.populations["E"]
    np.testing.assert_allclose(report.data(population="E"), e.v)
    np.testing.assert_array_equal(report.node_ids(population="E"), e.v_index)


def test_a_sliced_run_records_how_it_was_cut(tiny, tmp_path):
    from snnbench.runner import RunSpec, run_repeated
    from snnbench.store import ResultStore

    spec = RunSpec(scenario=str(tiny), backend="numba", overrides=Overrides(simtime=50.0, slice="radius=50,x=0,z=0"),
                   connectivity="exact", format="sonata")
    record = run_repeated(spec, ResultStore(tmp_path / "results"), 1)[0]
    assert record.ok, record.failure
    assert record.overrides == {"simtime": 50.0, "slice": "radius=50,x=0,z=0"}
    assert "radius 50" in record.resolved.cut and "8 of 32 cells" in record.resolved.cut
    assert record.neurons == 8 and record.synapses < realise(resolve(load_scenario(tiny))).n_synapses
    assert snnio.read_outputs(record.data.files).populations["v1_E"].size == 6


def test_node_and_edge_files_given_directly(tiny, tmp_path):
    c = Path(tiny).parent / "circuit"
    path = scenario_file(tmp_path, f'nodes = [{{ nodes_file = "{c}/network/v1_nodes.h5", node_types_file = "{c}/network/v1_node_types.csv" }}]\n'
                         f'edges = [{{ edges_file = "{c}/network/v1_v1_edges.h5", edge_types_file = "{c}/network/v1_v1_edge_types.csv" }}]\n'
                         f'components = {{ point_neuron_models_dir = "{c}/components/point_neuron_models", '
                         f'synaptic_models_dir = "{c}/components/synaptic_models" }}')
    direct, via_config = load_scenario(path), load_scenario(tiny)
    assert set(direct.populations) == {"v1_E", "v1_I"}  # no LGN: its files were not named
    for name in ("v1_E", "v1_I"):
        assert direct.populations[name].parameters == via_config.populations[name].parameters
    assert {p.label for p in direct.projections} == {p.label for p in via_config.projections if p.pre != "lgn_lgn"}


def test_slice_needs_positions(tmp_path):
    import h5py as h5

    folder = tmp_path / "c"
    tiny_circuit(folder)
    with h5.File(folder / "network/v1_nodes.h5", "a") as f:
        for axis in ("x", "y", "z"):
            del f["nodes/v1/0"][axis]
    s = load_scenario(scenario_file(tmp_path, 'simulation = "c/simulation_config.json"'))
    with pytest.raises(ScenarioError, match="node population 'v1' in .*v1_nodes.h5 has no x, y, z positions"):
        resolve(s, Overrides(slice="n=3"))


def test_the_hash_does_not_depend_on_where_the_files_are(tmp_path):
    import shutil

    from snnbench.scenario import scenario_hash

    tiny_circuit(tmp_path / "a" / "circuit")
    shutil.copytree(tmp_path / "a", tmp_path / "b")
    hashes = {scenario_hash(load_scenario(scenario_file(tmp_path / d, 'simulation = "circuit/simulation_config.json"')))
              for d in ("a", "b")}
    assert len(hashes) == 1
    other = scenario_file(tmp_path / "b", 'simulation = "circuit/simulation_config.json"\nrecord_v = 1')
    assert scenario_hash(load_scenario(other)) not in hashes


def test_a_copied_simulation_config_still_names_the_original_files(tmp_path):
    """bmtk's examples give `"network": "config.circuit.json"` and a manifest's "." relative to
    where they are run: the reference's copy of the config (in another folder) must keep them."""
    import json

    from snnbench.sonata.reference import with_input

    original = tmp_path / "model"
    original.mkdir()
    (original / "config.simulation.json").write_text(json.dumps({
        "manifest": {"$BASE_DIR": ".", "$INPUT_DIR": "$BASE_DIR/inputs"},
        "run": {"tstop": 3000.0, "dt": 0.001}, "network": "config.circuit.json",
        "node_sets_file": "node_sets.json",
        "inputs": {"lgn": {"input_type": "spikes", "module": "sonata", "input_file": "$INPUT_DIR/lgn.h5", "node_set": "lgn"}}}))
    copy = with_input(original / "config.simulation.json", tmp_path / "elsewhere", {"lgn": tmp_path / "new.h5"}, 500.0, 0.1)
    written = json.loads(copy.read_text())
    assert written["network"] == str(original / "config.circuit.json")
    assert written["node_sets_file"] == str(original / "node_sets.json")
    assert written["run"] == {"tstop": 500.0, "dt": 0.1}
    assert written["inputs"]["lgn_spikes"]["input_file"] == str(tmp_path / "new.h5")


def test_pointnet_command_refuses_a_missing_config_and_an_unknown_backend(tmp_path, capsys):
    from snnbench import cli

    assert cli.main(["pointnet", str(tmp_path / "config.simulation.json"), "--out", str(tmp_path / "o")]) == 2
    assert "config.simulation.json: no such file" in capsys.readouterr().err
    config = tmp_path / "config.simulation.json"
    config.write_text("{}")
    assert cli.main(["pointnet", str(config), "--backends", "numba,nosuch", "--out", str(tmp_path / "o")]) == 2
    assert "--backends: unknown backend(s) nosuch" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()  # nothing run, nothing written
