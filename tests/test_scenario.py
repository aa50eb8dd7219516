"""The scenario parser: the shipped files, units, overrides, and every class of bad input."""

from __future__ import annotations

import math
import subprocess
import sys

import pytest

from snnbench.scenario import Overrides, ScenarioError, load_scenario, resolve, scenario_hash
from snnbench.scenario.model import FixedProbability, Uniform

from .conftest import MINIMAL, SCENARIOS

# ----------------------------------------------------------------------------- valid files


@pytest.mark.parametrize("name", ["vogels-abbott-coba", "vogels-abbott-cuba"])
def test_vogels_abbott_files_follow_pynn_vabenchmarks(name):
    s = load_scenario(name)
    assert s.id == name
    assert "VAbenchmarks.py" in s.scenario.source and "Brette" in s.scenario.source
    e, i = s.populations["E"], s.populations["I"]
    assert (e.size, i.size) == (3200, 800)
    for pop in (e, i):
        p = pop.parameters
        assert (p.cm, p.tau_m, p.tau_refrac, p.tau_syn_E, p.tau_syn_I) == (0.2, 20.0, 5.0, 5.0, 10.0)
        assert (p.v_reset, p.v_thresh) == (-60.0, -50.0)
        assert isinstance(pop.initial_values.v, Uniform) and pop.initial_values.v.bounds == (-60.0, -50.0)
    projections = {p.label: p for p in s.projections}
    for label in ("e2e", "e2i", "i2e", "i2i"):
        assert isinstance(projections[label].connector, FixedProbability)
        assert projections[label].connector.p == 0.02
        assert projections[label].delay == 0.2
    assert (s.run.dt, s.run.simtime) == (0.1, 1000.0)
    if name.endswith("coba"):
        assert e.cell_type == "IF_cond_exp" and e.parameters.v_rest == -60.0
        assert (e.parameters.e_rev_E, e.parameters.e_rev_I) == (0.0, -80.0)
        assert projections["e2e"].weight == 0.004 and projections["i2e"].weight == 0.051
        stim = s.populations["stim"]
        assert (stim.size, stim.parameters.rate, stim.parameters.duration) == (20, 100.0, 50.0)
        assert projections["ext2e"].connector.p == 0.01 and projections["ext2e"].weight == 0.1
    else:
        assert e.cell_type == "IF_curr_exp" and e.parameters.v_rest == -49.0
        assert projections["e2e"].weight == pytest.approx(0.0162)
        assert projections["i2e"].weight == pytest.approx(-0.09)
        assert "stim" not in s.populations


def test_units_written_as_strings_are_converted(scenario_text):
    s = scenario_text("""
        [scenario]
        title = "units"
        source = "tests"
        [run]
        dt = "100 us"
        simtime = "0.5 s"
        [populations.E]
        cell_type = "IF_cond_exp"
        size = 2
        parameters = { cm = "200 pF", tau_m = "20 ms", v_thresh = "-0.05 V", i_offset = "250 pA" }
        initial_values = { v = { distribution = "uniform", low = "-60 mV", high = "-55 mV" } }
        [[projections]]
        pre = "E"
        post = "E"
        receptor = "excitatory"
        connector = { type = "one_to_one" }
        weight = "6 nS"
        delay = "0.2 ms"
    """)
    p = s.populations["E"].parameters
    assert p.cm == pytest.approx(0.2) and p.v_thresh == pytest.approx(-50.0) and p.i_offset == pytest.approx(0.25)
    assert s.run.dt == pytest.approx(0.1) and s.run.simtime == pytest.approx(500.0)
    assert s.projections[0].weight == pytest.approx(0.006)  # uS onto IF_cond_exp
    assert s.populations["E"].initial_values.v.low == pytest.approx(-60.0)


def test_hash_ignores_layout_but_not_content(tmp_path):
    text = MINIMAL
    a = tmp_path / "a.toml"
    a.write_text(text)
    b = tmp_path / "b.toml"
    b.write_text("# a comment\n" + text.replace("size = 10", "size   =   10"))
    c = tmp_path / "c.toml"
    c.write_text(text.replace("rate = 50.0", "rate = 51.0"))
    assert scenario_hash(load_scenario(a)) == scenario_hash(load_scenario(b))
    assert scenario_hash(load_scenario(a)) != scenario_hash(load_scenario(c))


# ----------------------------------------------------------------------------- bad input

BAD_CASES = [
    # (description, replacement applied to MINIMAL, expected key path, words expected in the message)
    ("unknown top-level key", ("[run]", "[runn]"), "runn", ["unknown key", "expected one of"]),
    ("unknown parameter", ("i_offset = 1.0", "i_ofset = 1.0"), "populations.N.parameters.i_ofset", ["unknown key", "i_offset"]),
    ("wrong type", ("size = 10", 'size = "ten"'), "populations.N.size", ["integer"]),
    ("negative size", ("size = 10", "size = -10"), "populations.N.size", ["greater than 0"]),
    ("wrong unit", ("i_offset = 1.0", 'i_offset = "1.0 mV"'), "populations.N.parameters.i_offset", ["current", "nA"]),
    ("unknown unit", ("i_offset = 1.0", 'i_offset = "1.0 blorps"'), "populations.N.parameters.i_offset", ["unknown unit"]),
    ("unknown cell type", ('cell_type = "IF_curr_exp"', 'cell_type = "IF_cond_exp_gsfa_grr"'), "populations.N.cell_type", ["IF_cond_exp_gsfa_grr", "IF_cond_exp"]),
    ("unknown connector", ('type = "fixed_probability"', 'type = "small_world"'), "projections[0].connector.type", ["small_world", "fixed_in_degree"]),
    ("probability above one", ("p = 0.5", "p = 1.5"), "projections[0].connector.p", ["less than or equal to 1"]),
    ("unknown population", ('post = "N"', 'post = "M"'), "projections[0].post", ["unknown population", "'M'"]),
    ("projection onto a source", ('post = "N"', 'post = "src"'), "projections[0].post", ["spike source"]),
    ("weight with the wrong unit", ("weight = 0.1", 'weight = "4 nS"'), "projections[0].weight", ["IF_curr_exp", "current"]),
    ("excitatory weight of the wrong sign", ("weight = 0.1", "weight = -0.1"), "projections[0].weight", [">= 0"]),
    ("negative delay", ("delay = 1.0", "delay = -1.0"), "projections[0].delay", ["> 0"]),
    ("reset above threshold", ("i_offset = 1.0", "i_offset = 1.0, v_reset = -40.0"), "populations.N.parameters.v_reset", ["below v_thresh"]),
    ("missing citation", ('source = "tests"', ""), "scenario.source", ["missing"]),
    ("recording more cells than exist", ("v = 1 }", "v = 11 }"), "populations.N.record.v", ["cannot record"]),
    ("bad distribution", ('rate = 50.0', 'rate = { distribution = "uniform", low = 1, high = 2 }'), "populations.src.parameters.rate", ["number"]),
    ("invalid TOML", ("[run]", "[run"), "", ["not valid TOML"]),
]


@pytest.mark.parametrize("description,change,path,words", BAD_CASES, ids=[c[0] for c in BAD_CASES])
def test_bad_input_names_file_key_and_expectation(tmp_path, description, change, path, words):
    old, new = change
    assert old in MINIMAL
    bad = tmp_path / "broken-scenario.toml"
    bad.write_text(MINIMAL.replace(old, new, 1))
    with pytest.raises(ScenarioError) as info:
        load_scenario(bad)
    message = str(info.value)
    assert "broken-scenario.toml" in message
    if path:
        assert any(p == path for p, _ in info.value.problems), info.value.problems
    for word in words:
        assert word in message, message


def test_inhibitory_current_weight_must_be_negative(scenario_text):
    with pytest.raises(ScenarioError, match=r"projections\[0\]\.weight: .*<= 0 nA"):
        scenario_text("""
            [scenario]
            title = "t"
            source = "tests"
            [populations.N]
            cell_type = "IF_curr_exp"
            size = 2
            [[projections]]
            pre = "N"
            post = "N"
            receptor = "inhibitory"
            connector = { type = "all_to_all" }
            weight = 0.09
            delay = 0.1
        """)


def test_one_to_one_needs_equal_sizes(tmp_path):
    bad = tmp_path / "o2o.toml"
    bad.write_text(MINIMAL.replace('{ type = "fixed_probability", p = 0.5 }', '{ type = "one_to_one" }'))
    with pytest.raises(ScenarioError, match=r"projections\[0\]\.connector: one_to_one needs equal sizes"):
        load_scenario(bad)


def test_cli_reports_bad_scenario_with_exit_status_2(tmp_path):
    bad = tmp_path / "broken.toml"
    bad.write_text(MINIMAL.replace("size = 10", "size = -3"))
    for command in (["show", str(bad)], ["run", str(bad), "--results", str(tmp_path / "r")]):
        proc = subprocess.run([sys.executable, "-m", "snnbench", *command], capture_output=True, text=True, cwd=tmp_path)
        assert proc.returncode == 2, proc.stderr
        assert "broken.toml: populations.N.size" in proc.stderr
        assert not (tmp_path / "r" / "runs.jsonl").exists()  # bad input: nothing was run or recorded


def test_unknown_scenario_name_lists_the_known_ones(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "snnbench", "show", "no-such-network"], capture_output=True, text=True, cwd=tmp_path)
    assert proc.returncode == 2
    assert "no scenario named 'no-such-network'" in proc.stderr and "vogels-abbott-coba" in proc.stderr


# ----------------------------------------------------------------------------- overrides


def test_n_pop_scales_cells_not_sources_and_holds_the_in_degree():
    s = load_scenario("vogels-abbott-coba")
    r = resolve(s, Overrides(N_pop=1000, simtime=200.0, seed=3, dt=0.05))
    assert {n: p.size for n, p in r.populations.items()} == {"E": 800, "I": 200, "stim": 20}
    assert r.N_pop == 1000 and r.scale == pytest.approx(0.25)
    assert (r.simtime, r.seed, r.dt, r.n_steps) == (200.0, 3, 0.05, 4000)
    recurrent = [p for p in r.projections if p.pre != "stim"]
    assert all(p.connector.p == pytest.approx(0.08) for p in recurrent)  # K = 0.08 x 1000 = 80 as at N = 4000
    kick = [p for p in r.projections if p.pre == "stim"]
    assert all(p.connector.p == 0.01 for p in kick)  # the 20 sources do not scale
    assert r.expected_synapses() == pytest.approx(80 * 1000 + 0.01 * 20 * 1000)
    assert resolve(s).expected_synapses() == pytest.approx(0.02 * 4000**2 + 0.01 * 20 * 4000)


def test_holding_in_degree_scales_probability(scenario_text):
    s = scenario_text(MINIMAL.replace("[populations.N]", '[scaling]\nhold = "in_degree"\n\n[populations.N]').replace(
        "[[projections]]", '[[projections]]\nname = "rec"\npre = "N"\npost = "N"\nreceptor = "excitatory"\n'
        'connector = { type = "fixed_probability", p = 0.2 }\nweight = 0.1\ndelay = 1.0\n\n[[projections]]', 1))
    r = resolve(s, Overrides(N_pop=40))
    rec = next(p for p in r.projections if p.label == "rec")
    assert rec.connector.p == pytest.approx(0.2 * 10 / 40)  # K = p * N_pre stays 2
    with pytest.raises(ScenarioError, match="p = 2 > 1"):
        resolve(s, Overrides(N_pop=1))  # 10 -> 1 cell at K = 2 would need p = 2


def test_impossible_overrides_are_errors():
    s = load_scenario("vogels-abbott-coba")
    with pytest.raises(ScenarioError, match="simtime 100.05 ms is not a multiple of dt"):
        resolve(s, Overrides(simtime=100.05))
    with pytest.raises(ScenarioError, match=r"delays must be >= dt \(0.5 ms\)"):
        resolve(s, Overrides(dt=0.5, simtime=100.0))
    with pytest.raises(ScenarioError, match="N_pop > 0"):
        resolve(s, Overrides(N_pop=0))


def test_infinite_poisson_duration_defaults_to_whole_run(scenario_text):
    s = scenario_text(MINIMAL)
    assert math.isinf(s.populations["src"].parameters.duration)


def test_every_shipped_scenario_is_valid():
    files = sorted(SCENARIOS.glob("*.toml"))
    assert files
    for path in files:
        try:
            load_scenario(path)
        except ScenarioError as exc:  # the real Allen V1 files are not shipped: named, with where to get them
            if path.stem != "allen-v1-slice" or "these files are not shipped" not in str(exc):
                raise


# The hash of each shipped scenario: stored runs and verdicts are reused, fitted and reported by
# it, so a change of hash makes every stored record of that scenario a stranger. A change of a
# file's network is meant to change it; a change of snnbench's model (a new optional key) is not.
# When a hash changes on purpose, update it here and say so in the commit.
PINNED_HASHES = {
    "vogels-abbott-coba": "b5e81d0309f56f2a",
    "vogels-abbott-cuba": "f0fdb1a31eb282f0",
    "v1-sheet": "86f4ca1016f0643a",
    "potjans-diesmann": "b6c9afa86da6e106",
    "single-neuron": "c533b66d1327546d",
    "vogels-abbott-coba-stdp": "1b1143137bf22746",
    "v1-sheet-dots": "3c5545676bfc3259",
    "v1-sheet-waves": "7f6402b208bf1688",
    "brette-hh-coba": "4452f709de9c966f",
    "hpc-benchmark": "b9e1d4dd489f44ed",
    "di-volo-adex": "5fc8a6f9efd9b52c",
}


@pytest.mark.parametrize("scenario_id", sorted(PINNED_HASHES))
def test_shipped_scenario_hashes_are_pinned(scenario_id):
    assert scenario_hash(load_scenario(scenario_id)) == PINNED_HASHES[scenario_id]
