"""Exact mode: the network realised from the seed with numpy, deterministically."""

from __future__ import annotations

import numpy as np
import pytest

from snnbench.scenario import Overrides, load_scenario, realise, resolve
from snnbench.scenario.model import FixedInDegree, FixedProbability, FixedTotalNumber, NormalClipped
from snnbench.scenario.realise import connect, rng_for, sample

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


def test_initial_v_follows_the_distribution():
    r = resolve(load_scenario("vogels-abbott-coba"))
    v = realise(r).populations["E"].v_init
    assert v.size == 3200 and v.min() >= -60.0 and v.max() < -50.0
    assert abs(v.mean() + 55.0) < 0.3
