"""Plastic synapses in the scenario model: strict parsing, units, bounds; weight recording's checks,
its histogram and its file."""

from __future__ import annotations

import numpy as np
import pytest

from snnbench import io as snnio
from snnbench.backends import REGISTRY
from snnbench.output import SimulationOutput, WeightSamples
from snnbench.scenario import Overrides, ScenarioError, load_scenario, parse_scenario, resolve
from snnbench.scenario.load import scenario_hash

from .conftest import SCENARIOS

BASE = (SCENARIOS.parent / "tests" / "conformance" / "stdp.toml").read_text()
SYNAPSE = ('synapse = { type = "STDPMechanism", timing_dependence = { type = "SpikePairRule", tau_plus = 20.0, tau_minus = 15.0, '
           'A_plus = 0.3, A_minus = 0.4 }, weight_dependence = { type = "AdditiveWeightDependence", w_min = 0.0, w_max = 0.1 } }')


def _with(old: str, new: str) -> str:
    assert old in BASE
    return BASE.replace(old, new)


def _error(text: str) -> str:
    with pytest.raises(ScenarioError) as err:
        parse_scenario(text, "stdp.toml")
    return str(err.value)


def test_pynn_names_defaults_and_units():
    s = parse_scenario(_with(SYNAPSE, 'synapse = { type = "STDPMechanism", timing_dependence = { type = "SpikePairRule" }, '
                                      'weight_dependence = { type = "MultiplicativeWeightDependence", w_max = "100 pA" } }'), "x.toml")
    syn = s.projections[0].synapse
    td, wd = syn.timing_dependence, syn.weight_dependence
    assert (td.tau_plus, td.tau_minus, td.A_plus, td.A_minus) == (20.0, 20.0, 0.01, 0.01)  # PyNN's defaults
    assert (wd.w_min, wd.w_max) == (0.0, pytest.approx(0.1)) and syn.dendritic_delay_fraction == 1.0
    pl = parse_scenario(_with(SYNAPSE, 'synapse = { type = "stdp_pl_synapse_hom" }'), "x.toml").projections[0].synapse
    assert (pl.tau_plus, pl.lambda_, pl.alpha, pl.mu) == (20.0, 0.1, 1.0, 0.4)  # NEST's defaults


@pytest.mark.parametrize("old,new,path,message", [
    ("A_minus = 0.4", "A_minux = 0.4", "timing_dependence.A_minux", "unknown key 'A_minux'"),
    ('synapse = { type = "STDPMechanism"', 'synapse = { type = "STDPMechanism", voltage_dependence = 1', "voltage_dependence", "unknown key"),
    (SYNAPSE, 'synapse = { type = "stdp_pl_synapse_hom", lamda = 0.1 }', "lamda", "unknown key 'lamda'; expected one of: alpha, lambda"),
    ("w_max = 0.1", 'w_max = "0.1 uS"', "weight_dependence.w_max", "expected a current"),
    ("w_max = 0.1", "w_max = 0.01", "projections[0].weight", "plastic weights must lie in [w_min, w_max]"),
    ("w_min = 0.0", "w_min = 0.2", "weight_dependence", "0 <= w_min <= w_max"),
    (SYNAPSE, SYNAPSE.replace("} }", "}, dendritic_delay_fraction = 1.5 }"), "dendritic_delay_fraction", "less than or equal to 1"),
    (SYNAPSE, "", "record.weights", "the weights of a static projection do not change"),
    ("times = [0.0, 12.0", "times = [12.0, 0.0", "record.weights.times", "recording times must increase"),
])
def test_bad_plastic_synapses_are_named(old, new, path, message):
    text = _error(_with(old, new))
    assert path in text and message in text, text


def test_recording_times_are_checked_against_the_run():
    r = resolve(parse_scenario(BASE, "stdp.toml"))
    assert [round(t / r.dt) for t in r.projections[0].spec.record.weights.times][-1] == r.n_steps
    with pytest.raises(ScenarioError, match="recording time 202.0 ms is after simtime"):
        resolve(parse_scenario(BASE, "stdp.toml"), Overrides(simtime=200.0))
    with pytest.raises(ScenarioError, match="not a multiple of dt"):
        resolve(parse_scenario(BASE, "stdp.toml"), Overrides(dt=0.5))


def test_static_scenarios_hash_as_before():
    # a projection without a synapse or record serialises (and hashes) as before plasticity existed
    static = load_scenario("vogels-abbott-coba")
    assert all("synapse" not in p and "record" not in p for p in static.model_dump(mode="json")["projections"])
    plastic = parse_scenario(BASE, "stdp.toml")
    assert scenario_hash(plastic) != scenario_hash(plastic.model_copy(update={"projections": [
        plastic.projections[0].model_copy(update={"synapse": None, "record": type(plastic.projections[0].record)()}),
        *plastic.projections[1:]]}))


def test_backends_without_the_rule_refuse_it_by_name():
    r = resolve(parse_scenario(BASE, "stdp.toml"))
    for name, cls in REGISTRY.items():
        problems = cls().supports(r, "exact")
        plastic = [p for p in problems if "plastic synapse STDPMechanism(SpikePairRule, AdditiveWeightDependence)" in p]
        assert bool(plastic) == ("AdditiveWeightDependence" not in cls.plasticity_rules), (name, problems)


def _output(values: np.ndarray) -> SimulationOutput:
    w = WeightSamples(times=np.array([0.0, 5.0]), chosen=np.array([[0, 1]]), trajectory=values[:, :1], values=values)
    return SimulationOutput(simtime=5.0, dt=0.1, populations={}, synapses={"p": values.shape[1]}, weights={"p": w})


def test_weights_file_round_trip_and_summary(tmp_path):
    out = _output(np.array([[0.1, 0.3], [0.2, 0.4]]))
    files = snnio.write_weights(out, tmp_path / "run")
    assert files == [str(tmp_path / "run.weights.npz")]
    back = snnio.read_weights(files[0])["p"]
    assert np.array_equal(back.values, out.weights["p"].values) and np.array_equal(back.chosen, [[0, 1]])
    assert back.counts is None
    assert out.weights["p"].summary() == {"times_ms": [0.0, 5.0], "mean": [0.2, pytest.approx(0.3)], "min": [0.1, 0.2], "max": [0.3, 0.4]}
    assert snnio.write_weights(SimulationOutput(simtime=1.0, dt=0.1, populations={}, synapses={}), tmp_path / "none") == []
