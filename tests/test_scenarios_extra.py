"""The V1 sheet, the Potjans-Diesmann microcircuit and event-camera input: model, scaling, realisation."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from snnbench.scenario import Overrides, ScenarioError, load_scenario, realise, resolve
from snnbench.scenario import events as ev
from snnbench.scenario.realise import positions, torus_distance

from .conftest import MINIMAL

# ------------------------------------------------------------------------------ V1 sheet


def test_v1_sheet_grids_scale_n_and_keep_k():
    s = load_scenario("v1-sheet")
    r = resolve(s)
    assert {n: p.grid_shape for n, p in r.populations.items() if p.grid_shape} == {"E": (60, 60), "I": (30, 30)}
    assert r.N_pop == 4500 and r.populations["E_drive"].size == 3600 and r.populations["I_drive"].size == 900
    big = resolve(s, Overrides(N_pop=18000))  # n = 120
    assert big.populations["E"].grid_shape == (120, 120) and big.populations["I"].grid_shape == (60, 60)
    assert big.populations["E_drive"].size == 14400  # size_of follows the scaled grid
    assert all(p.connector.n == q.connector.n for p, q in zip(r.projections, big.projections) if hasattr(p.connector, "n"))


def test_gaussian_in_degree_realisation():
    r = resolve(load_scenario("v1-sheet"), Overrides(N_pop=1125))  # n = 30
    net = realise(r)
    ee = next(p for p in net.projections if p.label == "EE")
    ie = next(p for p in net.projections if p.label == "IE")
    assert np.all(np.bincount(ee.post_idx, minlength=900) == 180)  # exactly K_E per target
    assert np.all(np.bincount(ie.post_idx, minlength=900) == 45)
    assert not np.any(ee.pre_idx == ee.post_idx)  # no autapses
    e_pos, i_pos = positions((30, 30)), positions((15, 15))
    d_ee = torus_distance(e_pos[ee.pre_idx], e_pos[ee.post_idx])
    d_ie = torus_distance(i_pos[ie.pre_idx], e_pos[ie.post_idx])
    # a 2D Gaussian offset has mean distance sigma sqrt(pi/2) (the grid adds about half a cell)
    assert d_ee.mean() == pytest.approx(0.05 * math.sqrt(math.pi / 2), rel=0.15)
    assert d_ie.mean() == pytest.approx(0.1 * math.sqrt(math.pi / 2), rel=0.15)
    assert np.all(ee.delay == 1.0)


def test_distance_dependent_delays_in_the_waves_variant():
    r = resolve(load_scenario("v1-sheet-waves"), Overrides(N_pop=1125))
    net = realise(r)
    ee = next(p for p in net.projections if p.label == "EE")
    pos = positions((30, 30))
    expected = 1.0 + torus_distance(pos[ee.pre_idx], pos[ee.post_idx]) / 0.05
    np.testing.assert_allclose(ee.delay, expected)
    assert ee.delay.max() > 2.0 and ee.delay.min() >= 1.0


def test_distance_connectors_need_grids(scenario_text):
    bad = MINIMAL.replace('connector = { type = "fixed_probability", p = 0.5 }', 'connector = { type = "gaussian_in_degree", n = 2, sigma = 0.1 }')
    with pytest.raises(ScenarioError, match=r"projections\[0\]\.pre: 'src' has no grid"):
        scenario_text(bad)


def test_size_of_follows_and_grid_sets_the_size(scenario_text):
    s = scenario_text(MINIMAL.replace("size = 5", 'size_of = "N"'))
    assert s.populations["src"].size == 10
    with pytest.raises(ScenarioError, match="give exactly one of size, size_of or grid"):
        scenario_text(MINIMAL.replace("size = 5", 'size = 5\nsize_of = "N"'))
    with pytest.raises(ScenarioError, match="differs from the grid's 12 cells"):
        scenario_text(MINIMAL.replace("size = 10", "size = 10\ngrid = { shape = [3, 4] }"))


def test_poisson_beyond_one_spike_per_step_is_realised_or_refused_with_the_scenario(scenario_text):
    from snnbench.backends import backend_class

    r = resolve(scenario_text(MINIMAL.replace("rate = 50.0", "rate = 20000.0")))
    assert sum(s.size for s in realise(r).populations["src"].spike_steps) > r.n_steps * 5  # > 1 spike per step
    assert backend_class("nest").multiplicity_problems(r) == []
    (problem,) = backend_class("bindsnet").multiplicity_problems(r)
    assert problem.startswith("population src: SpikeSourcePoisson at 20000 Hz has rate x dt = 2 > 1")


def test_poisson_sources_keep_their_rate_at_2_khz():
    r = resolve(load_scenario("v1-sheet"), Overrides(N_pop=1125, simtime=200.0))
    drive = realise(r).populations["E_drive"].spike_steps
    total = sum(s.size for s in drive)
    expected = 900 * 2000 * 0.2
    assert abs(total - expected) < 5 * math.sqrt(expected)  # Bernoulli(rate dt): the mean rate is exact


# ------------------------------------------------------------------------------ Potjans-Diesmann


def test_potjans_diesmann_at_full_and_reduced_scale():
    s = load_scenario("potjans-diesmann")
    full = resolve(s)
    assert full.N_pop == 77169 and len(s.projections) == 55
    assert full.expected_synapses() == pytest.approx(2.989e8, rel=0.01)
    tenth = resolve(s, Overrides(scale=0.1))
    assert tenth.N_pop == sum(round(n * 0.1) for n in (20683, 5834, 21915, 5479, 4850, 1065, 14395, 2948))
    assert tenth.expected_synapses() == pytest.approx(0.1 * full.expected_synapses(), rel=0.01)  # K kept
    dc = {n: p.spec.parameters.i_offset for n, p in full.populations.items()}
    listed = [562, 527, 738, 667, 703, 667, 1019, 738]  # docs/scenarios.md, pA (its L5E 703 rounds 702.48 up)
    for name, value in zip(("L23E", "L23I", "L4E", "L4I", "L5E", "L5I", "L6E", "L6I"), listed):
        assert abs(dc[name] * 1000 - value) <= 1.0
    l4e_l23e = next(p for p in s.projections if p.label == "L4E_L23E")
    assert l4e_l23e.weight.mu == pytest.approx(2 * 0.08781)  # doubled
    assert next(p for p in s.projections if p.label == "L23I_L23E").weight.mu == pytest.approx(-4 * 0.08781)


def test_in_degree_scaling_follows_the_potjans_diesmann_rule():
    s = load_scenario("potjans-diesmann")
    r = resolve(s, Overrides(scale=0.1, k_scale=0.25))
    proj = {p.label: p for p in r.projections}
    base = {p.label: p for p in resolve(s, Overrides(scale=0.1)).projections}
    assert proj["L23E_L23E"].connector.n == round(base["L23E_L23E"].connector.n * 0.25)
    assert proj["L23E_L23E"].weight.mu == pytest.approx(0.08781 / math.sqrt(0.25))
    # the DC compensation of L4E, computed here independently from the full-scale table
    names = ["L23E", "L23I", "L4E", "L4I", "L5E", "L5I", "L6E", "L6I"]
    sizes = dict(zip(names, (20683, 5834, 21915, 5479, 4850, 1065, 14395, 2948)))
    rates = dict(zip(names, (0.90, 2.97, 4.41, 5.88, 7.57, 8.63, 1.11, 7.83)))
    total = 0.0
    for p in s.projections:
        if p.post == "L4E":
            k = p.connector.n / sizes["L4E"]
            total += p.weight.mean * k * rates[p.pre]
    expected = 0.73763 + 1e-3 * 0.5 * (1 - math.sqrt(0.25)) * total
    assert r.populations["L4E"].spec.parameters.i_offset == pytest.approx(expected, rel=1e-3)
    assert any("L4E: i_offset" in note for note in r.notes)
    with pytest.raises(ScenarioError, match="all_to_all connector cannot be scaled"):
        resolve(load_scenario("single-neuron"), Overrides(k_scale=0.5))
    assert resolve(load_scenario("v1-sheet"), Overrides(k_scale=0.5)).projections[0].connector.n == 90


# ------------------------------------------------------------------------------ events


def test_moving_dot_is_a_tonic_event_stream():
    events = ev.moving_dot(16, 16, duration_ms=200.0, speed=0.05, radius=2.0, direction_deg=0.0, start=(2.0, 8.0), seed=1)
    assert events.dtype == ev.event_dtype()
    assert events.size > 0 and np.all(np.diff(events["t"]) >= 0) and events["t"].max() <= 200_000
    on, off = events["p"] == 1, events["p"] == 0
    assert abs(int(on.sum()) - int(off.sum())) <= 16 * 16  # every pixel the dot enters it also leaves
    # the dot moves along x: ON events of later times lie further along x (mod the sensor)
    early = events["x"][on & (events["t"] < 50_000)].mean()
    later = events["x"][on & (events["t"] > 100_000) & (events["t"] < 150_000)].mean()
    assert later > early
    assert set(np.unique(events["y"])) <= set(range(16))


def test_events_map_to_sources_as_specified():
    events = ev.make_events(x=[1, 2, 1], y=[0, 3, 0], t=[1500, 250, 2100], p=[1, 0, 0])
    index, times = ev.to_sources(events, width=4, height=4, separate_polarities=False)
    np.testing.assert_array_equal(index, [2 + 4 * 3, 1, 1])
    np.testing.assert_allclose(times, [0.25, 1.5, 2.1])
    index, _ = ev.to_sources(events, width=4, height=4, separate_polarities=True)
    np.testing.assert_array_equal(index, [2 + 4 * 3, 1 + 16, 1])


def test_tonic_transforms_apply_to_the_stream():
    events = ev.moving_dot(16, 16, duration_ms=100.0, speed=0.2, radius=2.0, seed=2)
    fewer = ev.apply_transforms(events, (16, 16), 2, [{"name": "DropEvent", "p": 0.5}])
    assert 0 < fewer.size < events.size


def test_v1_sheet_dots_realises_retina_spikes_on_the_grid():
    r = resolve(load_scenario("v1-sheet-dots"), Overrides(N_pop=1125, simtime=300.0))
    net = realise(r)
    steps = net.populations["retina"].spike_steps
    assert len(steps) == 32 * 32 and sum(s.size for s in steps) > 50
    assert all(np.all(np.diff(s) > 0) for s in steps) and min(s.min() for s in steps if s.size) >= 1


def test_event_file_relative_to_the_scenario(tmp_path):
    events = ev.make_events(x=[0, 1], y=[0, 0], t=[1000, 2000], p=[1, 1])
    np.save(tmp_path / "stream.npy", events)
    text = MINIMAL.replace('''[populations.src]
cell_type = "SpikeSourcePoisson"
size = 5
parameters = { rate = 50.0 }''', '''[populations.src]
cell_type = "SpikeSourceArray"
size = 4
events = { sensor = [2, 2], file = "stream.npy" }''')
    path = tmp_path / "with-events.toml"
    path.write_text(text)
    steps = realise(resolve(load_scenario(path))).populations["src"].spike_steps
    assert [s.tolist() for s in steps] == [[10], [20], [], []]
    (tmp_path / "stream.npy").unlink()
    with pytest.raises(ScenarioError, match="no event file"):
        load_scenario(path)


def test_dc_compensation_by_psc_shape(tmp_path):
    """An alpha PSC of peak w brings e times the charge of an exponential one of the same w and
    tau: the current lost to k_scale, and so the compensation, is e times larger."""
    text = (Path(__file__).parents[1] / "scenarios" / "potjans-diesmann.toml").read_text()
    block = '[populations.L4E]\ncell_type = "IF_curr_exp"'
    assert block in text
    alpha = tmp_path / "pd-alpha.toml"
    alpha.write_text(text.replace(block, '[populations.L4E]\ncell_type = "IF_curr_alpha"'))
    ov = Overrides(scale=0.1, k_scale=0.25)
    base = resolve(load_scenario("potjans-diesmann"), Overrides(scale=0.1))
    i0 = base.populations["L4E"].spec.parameters.i_offset
    d_exp = resolve(load_scenario("potjans-diesmann"), ov).populations["L4E"].spec.parameters.i_offset - i0
    d_alpha = resolve(load_scenario(alpha), ov).populations["L4E"].spec.parameters.i_offset - i0
    assert d_exp != 0 and d_alpha == pytest.approx(math.e * d_exp, rel=1e-9)  # L4E: net inhibition, d < 0
