"""Exact mode: the network realised from the seed with numpy, deterministically."""

from __future__ import annotations

import numpy as np
import pytest

from snnbench.scenario import Overrides, load_scenario, realise, resolve
from snnbench.scenario.model import FixedInDegree, FixedProbability, FixedTotalNumber, NormalClipped
from snnbench.scenario.realise import connect, rng_for, sample, step_multiplicity

from .conftest import MINIMAL


def _arrays(net):
    out = {}
    for p in net.projections:
        out[p.label] = (p.pre_idx, p.post_idx, p.weight, p.delay)
    for name, pop in net.populations.items():
        out[name] = pop.v_init if pop.v_init is not None else np.concatenate(pop.spike_steps)
    return out


def test_same_seed_same_arrays_different_seed_different():
    s = load_scenario("vogels-abbott-coba")
    a = _arrays(realise(resolve(s, Overrides(N_pop=800))))
    b = _arrays(realise(resolve(s, Overrides(N_pop=800))))
    c = _arrays(realise(resolve(s, Overrides(N_pop=800, seed=1))))
    assert a.keys() == b.keys()
    for key in a:
        for x, y in zip(a[key] if isinstance(a[key], tuple) else (a[key],), b[key] if isinstance(b[key], tuple) else (b[key],)):
            np.testing.assert_array_equal(x, y)
    assert not np.array_equal(a["e2e"][0], c["e2e"][0])
    assert not np.array_equal(a["E"], c["E"])


def test_arrays_do_not_depend_on_the_order_of_the_file(tmp_path, scenario_text):
    text = MINIMAL + """
[[projections]]
name = "rec"
pre = "N"
post = "N"
receptor = "inhibitory"
connector = { type = "fixed_in_degree", n = 3 }
weight = -0.2
delay = { distribution = "uniform", low = 0.5, high = 2.0 }
"""
    first = text.index("[[projections]]")
    second = text.index("[[projections]]", first + 1)
    swapped = text[:first] + text[second:] + "\n" + text[first:second]
    a, b = realise(resolve(scenario_text(text))), realise(resolve(scenario_text(swapped)))
    for pa in a.projections:
        pb = next(p for p in b.projections if p.label == pa.label)
        np.testing.assert_array_equal(pa.pre_idx, pb.pre_idx)
        np.testing.assert_array_equal(pa.delay, pb.delay)


def test_fixed_probability_count_and_self_connections():
    rng = rng_for(1, "t")
    n = 2000
    pre, post = connect(FixedProbability(type="fixed_probability", p=0.02, allow_self_connections=False), n, n, True, rng)
    expected = 0.02 * (n * n - n)
    assert abs(pre.size - expected) < 5 * np.sqrt(expected)  # binomial, 5 sd
    assert not np.any(pre == post)
    assert np.unique(pre * n + post).size == pre.size  # no multapses
    assert pre.min() >= 0 and pre.max() < n and post.max() < n


@pytest.mark.parametrize("replace", [False, True])
def test_fixed_in_degree_gives_every_target_exactly_k(replace):
    conn = FixedInDegree(type="fixed_in_degree", n=25, allow_self_connections=False, with_replacement=replace)
    pre, post = connect(conn, 300, 300, True, rng_for(2, "t"))
    assert np.all(np.bincount(post, minlength=300) == 25)
    assert not np.any(pre == post)
    if not replace:
        assert np.unique(post * 300 + pre).size == pre.size


def test_fixed_total_number():
    conn = FixedTotalNumber(type="fixed_total_number", n=5000)
    pre, post = connect(conn, 100, 300, False, rng_for(3, "t"))
    assert pre.size == 5000 and pre.max() < 100 and post.max() < 300


def test_normal_clipped_is_redrawn_inside_bounds():
    dist = NormalClipped(distribution="normal_clipped", mu=1.5, sigma=0.75, low=0.1, high=np.inf)
    values = sample(dist, rng_for(4, "t"), 100_000)
    assert values.min() >= 0.1
    assert abs(np.median(values) - 1.55) < 0.05  # redrawing (not clipping) leaves no pile at 0.1
    assert np.mean(values == 0.1) == 0.0


def test_poisson_sources_on_the_grid_at_their_rate():
    s = load_scenario("vogels-abbott-coba")
    r = resolve(s)
    steps = realise(r).populations["stim"].spike_steps
    all_steps = np.concatenate(steps)
    assert all(np.all(np.diff(x) > 0) for x in steps)  # sorted, at most one spike per dt
    assert all_steps.min() >= 1  # t > 0
    assert all_steps.max() * r.dt <= 50.0 + 1e-9  # only during the 50 ms stimulus
    expected = 20 * 100.0 * 0.05  # 20 sources x 100 Hz x 50 ms
    assert abs(all_steps.size - expected) < 5 * np.sqrt(expected)


def test_below_one_spike_per_step_the_bernoulli_draws_are_unchanged(scenario_text):
    # rate x dt <= 1: one Bernoulli(rate dt) trial per step on the source's stream, as before
    # multiplicity existed, so that every earlier raster (and exact-tier result) is kept.
    r = resolve(scenario_text(MINIMAL))
    steps = realise(r).populations["src"].spike_steps
    hits = rng_for(r.seed, "spikes", "src").random((5, r.n_steps)) < 50.0 * r.dt / 1000.0
    for got, row in zip(steps, hits, strict=True):
        np.testing.assert_array_equal(got, np.nonzero(row)[0] + 1)


def test_above_one_spike_per_step_each_step_carries_poisson_counts(scenario_text):
    # 20 kHz at dt 0.1 ms (rate x dt = 2), as NEST's poisson_generator: Poisson(2) spikes per step,
    # a step carrying k spikes repeated k times in the source's sorted steps.
    r = resolve(scenario_text(MINIMAL.replace("rate = 50.0", "rate = 20000.0")))
    steps = realise(r).populations["src"].spike_steps
    assert all(np.all(np.diff(x) >= 0) for x in steps) and min(x.min() for x in steps) >= 1
    counts = np.array([np.bincount(x, minlength=r.n_steps + 1)[1:] for x in steps])  # (source, step)
    assert counts.max() > 1 and step_multiplicity(steps[0])[1].sum() == steps[0].size
    mean = 5 * 20000.0 * r.simtime / 1000.0  # 5 sources x 20 kHz x 50 ms = 5000 spikes
    assert abs(counts.sum() - mean) < 5 * np.sqrt(mean)
    # Poisson, not Bernoulli or a fixed count: variance = mean = 2 (2500 steps: sd of the estimate 0.063)
    assert abs(counts.var() - 2.0) < 0.4 and abs(counts.mean() - 2.0) < 0.15


def test_initial_v_follows_the_distribution():
    r = resolve(load_scenario("vogels-abbott-coba"))
    v = realise(r).populations["E"].v_init
    assert v.size == 3200 and v.min() >= -60.0 and v.max() < -50.0
    assert abs(v.mean() + 55.0) < 0.3
