"""What plasticity costs: the plasticity override (--static-synapses), how it reaches the run
record, the sweep designs that cross it, the plastic synaptic events a run counts, and the sweep
files that measure it (scenarios/sweeps/hpc-plasticity.toml, hh-scaling.toml)."""

from __future__ import annotations

import numpy as np
import pytest

from snnbench.backends import backend_class
from snnbench.cli import _overrides, build_parser
from snnbench.present import results_table
from snnbench.record import RunRecord, configuration_labels, is_static, plastic_twin
from snnbench.runner import RunSpec, run_in_process, run_isolated
from snnbench.scenario import Overrides, ScenarioError, load_scenario, resolve
from snnbench.store import ResultStore
from snnbench.sweep import Design, expand, load_sweep_file, point_key

from .conftest import ROOT

STDP = "vogels-abbott-coba-stdp"
# Small: the 50 ms kick makes every population fire, then the activity dies (the self-sustained
# state needs N_pop ~2000, docs/scenarios.md): events for both paths, little to simulate. The
# scenario's weight recordings reach 1000 ms.
TINY = dict(N_pop=1000, simtime=1000.0)


def test_plasticity_off_makes_the_plastic_projections_static_at_their_initial_weights():
    scenario = load_scenario(STDP)
    plastic, static = resolve(scenario, Overrides(**TINY)), resolve(scenario, Overrides(**TINY, plasticity="off"))
    assert [p.spec.plastic for p in plastic.projections] == [True] + [False] * 5
    assert not any(p.spec.plastic for p in static.projections)
    e2e = static.projections[0]
    assert e2e.made_static and e2e.spec.record.weights is None and not plastic.projections[0].made_static
    # the same network otherwise: connector, weight, delay; the file's hash (the override is recorded apart)
    assert (e2e.connector, e2e.weight, e2e.delay) == (plastic.projections[0].connector, 0.004, 0.2)
    assert static.hash == plastic.hash
    assert any("e2e: plasticity off (--static-synapses)" in n and "weight recording dropped" in n for n in static.notes)
    # "on" is the scenario as it is: the same configuration as no override at all
    assert Overrides(plasticity="on") == Overrides() and Overrides(plasticity="on").as_dict() == {}
    assert Overrides(plasticity="off").as_dict() == {"plasticity": "off"}


def test_plasticity_off_is_refused_where_it_means_nothing():
    with pytest.raises(ScenarioError, match="needs a scenario with a plastic projection"):
        resolve(load_scenario("brette-hh-coba"), Overrides(plasticity="off"))
    with pytest.raises(ScenarioError, match="expected 'on' or 'off'"):
        resolve(load_scenario(STDP), Overrides(plasticity="maybe"))


def test_the_command_line_override_parses():
    parser = build_parser()
    for command in (["run", STDP], ["show", STDP]):
        assert _overrides(parser.parse_args([*command, "--static-synapses"])).plasticity == "off"
        assert _overrides(parser.parse_args(command)).plasticity is None
    args = parser.parse_args(["sweep", STDP, "--plasticity", "on,off", "--backends", "numba", "--N-pop", "1000"])
    assert args.plasticity == "on,off" and not args.static_synapses


def test_a_sweep_design_crosses_plasticity_like_n_pop():
    sweep = expand([Design(scenario=STDP, backends=["numba", "nest"], N_pop="1000,2000", simtime="1000",
                           plasticity=["on", "off"], repeat=2)])
    assert len(sweep.points) == 2 * 2 * 2 * 2
    assert {(p.N_pop, p.plasticity) for p in sweep.points} == {(n, s) for n in (1000, 2000) for s in ("on", "off")}
    off = [p for p in sweep.points if p.plasticity == "off"]
    assert all(p.spec().overrides.plasticity == "off" and "static synapses" in p.label for p in off)
    # a plastic point is the same configuration as a plain run; a static one is another
    plain = expand([Design(scenario=STDP, backends=["numba"], N_pop="1000", simtime="1000", repeat=1)]).points[0]
    on = next(p for p in sweep.points if p.plasticity == "on" and p.backend == "numba" and p.N_pop == 1000)
    static = next(p for p in off if p.backend == "numba" and p.N_pop == 1000)
    assert point_key(on, "h", "m") == point_key(plain, "h", "m") != point_key(static, "h", "m")
    assert is_static(point_key(static, "h", "m")) and plastic_twin(point_key(static, "h", "m")) == point_key(on, "h", "m")
    with pytest.raises(ValueError, match="plasticity"):
        Design(scenario=STDP, backends=["numba"], N_pop="1000", plasticity=["sometimes"])
    with pytest.raises(ScenarioError, match="plastic projection"):  # refused before anything runs
        expand([Design(scenario="brette-hh-coba", backends=["numba"], N_pop="1000", plasticity=["off"])])


@pytest.mark.parametrize("name, scenario, plasticity", [("hpc-plasticity", "hpc-benchmark", {"on", "off"}),
                                                         ("hh-scaling", "brette-hh-coba", {"on"})])
def test_the_sweep_files_load_and_no_point_is_refused_before_it_runs(name, scenario, plasticity):
    """A point that the runner's preflight refuses (RunRefused) would stop the sweep there: every
    backend of these files must take every point's scenario (a refusal in the run is recorded)."""
    sweep = load_sweep_file(ROOT / "scenarios" / "sweeps" / f"{name}.toml")
    assert {p.scenario for p in sweep.points} == {scenario} and {p.plasticity for p in sweep.points} == plasticity
    assert all(p.format == "none" and p.threads == 1 for p in sweep.points)
    for p in sweep.points:
        assert backend_class(p.backend).scenario_problems(resolve(load_scenario(p.scenario), p.overrides), dict(p.options)) == []


def _records(store: ResultStore):
    out = {}
    for plasticity in ("on", "off"):
        spec = RunSpec(scenario=STDP, backend="numba", overrides=Overrides(**TINY, plasticity=plasticity), format="none",
                       timeout=300)
        out[plasticity] = run_isolated(spec, store)
    return out


def test_a_static_synapses_run_is_recorded_as_one(tmp_path):
    """numba, both paths on the same network: the record says which ran, counts the plastic events
    (none with plasticity off), and the table and the labels never mix the two."""
    store = ResultStore(tmp_path)
    records = _records(store)
    on, off = records["on"], records["off"]
    assert on.ok and off.ok, (on.failure, off.failure)
    assert off.overrides == {**TINY, "plasticity": "off"} and "plasticity" not in on.overrides
    assert (on.resolved.plasticity, off.resolved.plasticity) == ("on", "off") and off.static_synapses
    assert 0 < on.plastic_synaptic_events < on.synaptic_events
    assert off.plastic_synaptic_events == 0 < off.synaptic_events
    # the same connections (the plastic run's draws): e2e built from the harness's arrays in both
    assert on.synapses_per_projection == off.synapses_per_projection
    assert any("made static (--static-synapses)" in t["detail"] for t in off.translations)
    assert not any(t["what"] == "plasticity" for t in off.translations) and any(t["what"] == "plasticity" for t in on.translations)
    assert on.weights and not off.weights  # the weights of a static projection are not recorded
    assert on.configuration_key() != off.configuration_key()
    labels = configuration_labels([on, off], size=False, seed=False)
    assert sorted(labels.values()) == ["numba", "numba static synapses"]
    _, rows = results_table(store.runs())
    assert sorted(row[3].endswith("static synapses") for row in rows) == [False, True]
    assert RunRecord.from_json(off.to_dict()).plastic_synaptic_events == 0  # written and read back


def test_static_synapses_run_the_static_network_spike_for_spike(scenario_text):
    """Exact connectivity: plasticity off is the scenario with its synapse table removed (the same
    draws, static weights that never change), and numba takes its static path (no plastic kernel)."""
    scenario = load_scenario(STDP)
    static_file = scenario.model_copy(update={"projections": [
        p.model_copy(update={"synapse": None, "record": type(p.record)()}) for p in scenario.projections]})
    made_static = run_in_process(resolve(scenario, Overrides(**TINY, plasticity="off")), "numba", connectivity="exact")
    static = run_in_process(resolve(static_file, Overrides(**TINY)), "numba", connectivity="exact")
    plastic = run_in_process(resolve(scenario, Overrides(**TINY)), "numba", connectivity="exact")
    spikes = made_static.populations["E"].spike_index.size
    assert spikes > 1000
    for name in ("E", "I"):
        np.testing.assert_array_equal(made_static.populations[name].spike_index, static.populations[name].spike_index)
        np.testing.assert_array_equal(made_static.populations[name].spike_time, static.populations[name].spike_time)
    assert not made_static.weights and plastic.weights  # only the plastic run has weights to record...
    w = plastic.weights["e2e"]
    assert not np.allclose(w.values[-1], w.values[0])  # ...and there they moved


@pytest.mark.parametrize("args, why", [
    (["run", "brette-hh-coba", "--static-synapses"], "needs a scenario with a plastic projection"),
    (["sweep", STDP, "--backends", "numba", "--N-pop", "1000", "--plasticity", "sometimes"], "--plasticity"),
    (["sweep", STDP, "--backends", "numba", "--N-pop", "1000", "--plasticity", "on", "--static-synapses"], "not both"),
])
def test_plasticity_options_that_mean_nothing_exit_2(tmp_path, args, why):
    import subprocess
    import sys

    proc = subprocess.run([sys.executable, "-m", "snnbench", *args, "--dry-run" if args[0] == "sweep" else "--json",
                           "--results", str(tmp_path)], capture_output=True, text=True)
    assert proc.returncode == 2 and why in proc.stderr, proc.stderr
    assert not (tmp_path / "runs.jsonl").exists()


def test_the_report_shows_what_plasticity_costs(tmp_path):
    """The HTML report of plastic and static runs: the static configuration by its own name, and
    the models of both fitted together with their plastic-events term."""
    from snnbench.report import build_report
    from snnbench.store import append_jsonl

    from .test_fit import _plastic_and_static_runs

    for r in _plastic_and_static_runs():
        append_jsonl(tmp_path / "runs.jsonl", r)
    html = build_report(ResultStore(tmp_path), tmp_path / "report").read_text()
    section = html[html.index('id="plasticity"'):html.index('id="crossovers"')]
    assert "numba static synapses" in html and "plastic events:" in section and "plastic synaptic events" in section
