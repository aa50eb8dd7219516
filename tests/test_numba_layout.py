"""The numba simulator's compact synapse layout, its native connectors and its block-parallel delivery."""

from __future__ import annotations

import numba
import numpy as np
import pytest

from snnbench.backends import numba_connect as C
from snnbench.backends.common.translations import Translations, constant_delay_steps, delay_steps
from snnbench.backends.numba_native import NumbaBackend
from snnbench.scenario import Overrides, load_scenario, realise, resolve
from snnbench.scenario.realise import realise_projection

CONNECTORS = """
[scenario]
title = "connectors"
source = "tests"

[run]
dt = 0.1
simtime = 100.0
seed = 11

[populations.A]
cell_type = "IF_curr_exp"
size = 300
parameters = { i_offset = 0.3 }

[populations.B]
cell_type = "IF_cond_exp"
size = 200
parameters = { i_offset = 0.5 }

[populations.C]
cell_type = "IF_curr_exp"
size = 50

[populations.S]
cell_type = "SpikeSourcePoisson"
size = 50
parameters = { rate = 80.0 }

[[projections]]
name = "prob"
pre = "A"
post = "A"
receptor = "excitatory"
connector = { type = "fixed_probability", p = 0.1, allow_self_connections = false }
weight = { distribution = "normal_clipped", mu = 0.05, sigma = 0.02, low = 0.01, high = 0.08 }
delay = { distribution = "uniform", low = 0.5, high = 2.0 }

[[projections]]
name = "indeg"
pre = "A"
post = "B"
receptor = "excitatory"
connector = { type = "fixed_in_degree", n = 20 }
weight = 0.002
delay = 1.0

[[projections]]
name = "indeg_repl"
pre = "B"
post = "A"
receptor = "inhibitory"
connector = { type = "fixed_in_degree", n = 15, with_replacement = true }
weight = -0.05
delay = 0.5

[[projections]]
name = "total"
pre = "B"
post = "B"
receptor = "inhibitory"
connector = { type = "fixed_total_number", n = 5000, with_replacement = true, allow_self_connections = false }
weight = { distribution = "normal_clipped", mu = 0.004, sigma = 0.001, low = 0.0 }
delay = { distribution = "normal_clipped", mu = 1.5, sigma = 0.75, low = 0.1 }

[[projections]]
name = "one"
pre = "S"
post = "C"
receptor = "excitatory"
connector = { type = "one_to_one" }
weight = 0.1
delay = 0.2

[[projections]]
name = "all"
pre = "S"
post = "B"
receptor = "excitatory"
connector = { type = "all_to_all" }
weight = 0.001
delay = 0.3

[[projections]]
name = "listed"
pre = "S"
post = "A"
receptor = "inhibitory"
connector = { type = "from_list", connections = [[0, 1], [2, 3], [2, 3], [49, 299]] }
weight = -0.02
delay = 0.7
"""


@pytest.fixture
def connectors(scenario_text):
    return resolve(scenario_text(CONNECTORS))


def _layout(resolved, n_blocks, drawn, log=None):
    """The layout as the adapter assembles it: the `drawn` projections drawn by numba, the others
    placed from the harness's arrays (delays on the grid as the template puts them)."""
    log = Translations() if log is None else log
    placed = {}
    for proj in resolved.projections:
        if proj.label not in drawn:
            a = realise_projection(proj, resolved)
            placed[proj.label] = (a, delay_steps(a.delay, resolved.dt, a.label, log))
    return C.network_layout(resolved, n_blocks, drawn, placed, np.float32 if drawn else np.float64,
                            lambda delay, label: constant_delay_steps(delay, resolved.dt, label, log), log.add)


def _native(resolved, n_blocks, log=None):
    return _layout(resolved, n_blocks, {p.label for p in resolved.projections if C.why_not_native(p) is None}, log)


def _offsets(resolved):
    offsets, _, _ = C.global_offsets(resolved)
    return offsets


def test_native_connectors_keep_their_invariants(connectors):
    r = connectors
    log = Translations()
    layout = _native(r, 3, log)
    edges = C.layout_edges(layout)
    off = _offsets(r)
    A, B, S, C_ = off["A"], off["B"], off["S"], off["C"]

    pre, post, w, d, rec = edges["prob"]
    n_pairs = 300 * 299
    mean, sd = 0.1 * n_pairs, (0.1 * 0.9 * n_pairs) ** 0.5
    assert abs(pre.size - mean) < 5 * sd
    assert not np.any(pre == post)  # no autapses
    assert np.unique(pre * 1000 + post).size == pre.size  # no multapses
    assert (w >= 0.01 - 1e-7).all() and (w <= 0.08 + 1e-7).all() and w.std() > 0
    assert d.min() >= 5 and d.max() <= 20 and np.unique(d).size > 5  # uniform 0.5-2 ms on the 0.1 ms grid
    assert (rec == 0).all()

    pre, post, w, d, rec = edges["indeg"]
    assert (np.bincount(post - B, minlength=200) == 20).all()  # in-degree exactly n
    assert np.unique(pre * 1000 + post).size == pre.size  # without replacement
    assert ((pre >= A) & (pre < A + 300)).all() and (w == np.float32(0.002)).all() and (d == 10).all()

    pre, post, w, d, rec = edges["indeg_repl"]
    assert (np.bincount(post - A, minlength=300) == 15).all()
    assert ((pre >= B) & (pre < B + 200)).all() and (rec == 1).all() and (d == 5).all()

    pre, post, w, d, rec = edges["total"]
    assert pre.size == 5000 and layout.synapses["total"] == 5000  # total exactly n
    assert not np.any(pre == post)
    assert d.min() >= 1 and abs(w.mean() - 0.004) < 1e-4

    pre, post, *_ = edges["one"]
    np.testing.assert_array_equal(pre - S, np.arange(50))
    np.testing.assert_array_equal(post - C_, np.arange(50))

    pre, post, *_ = edges["all"]
    assert pre.size == 50 * 200 and np.unique(pre * 1000 + post).size == pre.size

    pre, post, w, d, rec = edges["listed"]  # from_list: the harness's arrays, recorded
    assert sorted(zip(pre - S, post - A)) == [(0, 1), (2, 3), (2, 3), (49, 299)]
    assert (rec == 1).all() and (d == 7).all()
    assert any(e["what"] == "delay" and e["detail"].startswith("total") for e in log)

    # every synapse lies in the block of its target
    for s in range(layout.seg_ptr.shape[0]):
        for b in range(layout.n_blocks):
            t = layout.targets[layout.seg_ptr[s, b]:layout.seg_ptr[s, b + 1]]
            assert ((t >= layout.block_lo[b]) & (t < layout.block_lo[b + 1])).all()


def test_native_draw_depends_on_the_seed_only(connectors):
    """Same arrays whatever the number of target blocks and of threads; another seed, other arrays."""
    threads = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        one = _native(connectors, 1)
        numba.set_num_threads(numba.config.NUMBA_NUM_THREADS)
        many = _native(connectors, 4)
    finally:
        numba.set_num_threads(threads)
    for name in ("targets", "weights", "dsteps", "seg_rec", "seg_w", "seg_d", "seg_first"):
        np.testing.assert_array_equal(getattr(one, name), getattr(many, name), err_msg=name)
    np.testing.assert_array_equal(one.seg_ptr[:, 0], many.seg_ptr[:, 0])
    np.testing.assert_array_equal(one.seg_ptr[:, -1], many.seg_ptr[:, -1])
    other = _native(resolve(connectors.scenario, Overrides(seed=12)), 1)
    assert not np.array_equal(one.targets[:1000], other.targets[:1000])


@pytest.mark.parametrize("n_blocks", [1, 3])
def test_exact_layout_holds_the_harness_edges(connectors, n_blocks):
    r = connectors
    net = realise(r)
    layout = _layout(r, n_blocks, set())
    edges = C.layout_edges(layout)
    for proj in net.projections:
        pre, post, w, d, _ = edges[proj.label]
        pre_off, post_off = net.populations[proj.pre].offset, net.populations[proj.post].offset
        steps = delay_steps(proj.delay, r.dt, proj.label, Translations())
        want = sorted(zip(proj.pre_idx + pre_off, proj.post_idx + post_off, proj.weight, steps))
        got = sorted(zip(pre, post, w, d))
        assert got == want, proj.label
    assert layout.weights.dtype == np.float64  # exact mode keeps the harness's float64 weights


def _raster(resolved, mode, n_blocks, info=None):
    backend = _built(resolved, mode, n_blocks)
    assert backend.layout.n_blocks == n_blocks
    n_steps = resolved.n_steps
    backend.advance(0, n_steps // 3)  # in chunks, as a run that reports progress does
    backend.advance(n_steps // 3, n_steps)
    out = backend.collect()
    if info is not None:
        info.update(backend.info)
    return {name: (p.spike_index, p.spike_time, p.v) for name, p in out.populations.items()}


@pytest.mark.parametrize("mode", ["exact", "native"])
def test_block_parallel_delivery_gives_the_serial_raster(mode):
    r = resolve(load_scenario("vogels-abbott-coba"), Overrides(N_pop=1000, simtime=200.0))
    serial = _raster(r, mode, 1)
    parallel = _raster(r, mode, 3)
    assert sum(s[0].size for s in serial.values()) > 1000  # the network is active
    for name in serial:
        for a, b in zip(serial[name], parallel[name]):
            np.testing.assert_array_equal(a, b)


def test_the_spike_buffer_grows_inside_the_parallel_loop(monkeypatch):
    """The threads' loop (one parallel region per call) stops where the next run might not fit
    in the spike buffer; the backend doubles it and goes on: the serial raster, after several
    doublings (an initial buffer of 2 N + 1024 spikes against ~8 N here)."""
    from snnbench.backends import numba_native

    monkeypatch.setattr(numba_native, "_INITIAL_RATE_HZ", 0.0)
    r = resolve(load_scenario("vogels-abbott-coba"), Overrides(N_pop=1000, simtime=500.0))
    serial, parallel = _raster(r, "exact", 1), _raster(r, "exact", 2)
    assert sum(s[0].size for s in serial.values()) > 2 * (2 * 1000 + 1024)  # two doublings at least
    for name in serial:
        for a, b in zip(serial[name], parallel[name]):
            np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("mode", ["exact", "native"])
def test_runs_of_steps_give_the_step_by_step_raster(mode, monkeypatch):
    """Steps go in runs up to the shortest delay (4 steps here: 0.2 ms at dt 0.05 ms), one delivery
    a run: the same raster and v as delivering after every step, on 1 and 2 blocks."""
    from snnbench.backends import numba_native

    r = resolve(load_scenario("vogels-abbott-coba"), Overrides(N_pop=1000, simtime=100.0, dt=0.05))
    info = {}
    in_runs = {n_blocks: _raster(r, mode, n_blocks, info) for n_blocks in (1, 2)}
    assert info["steps_per_run"] == 4
    monkeypatch.setattr(numba_native, "_MAX_RUN_STEPS", 1)
    step_by_step = _raster(r, mode, 1, info)
    assert info["steps_per_run"] == 1
    assert sum(s[0].size for s in step_by_step.values()) > 500  # the network is active
    for raster in in_runs.values():
        for name in step_by_step:
            for a, b in zip(step_by_step[name], raster[name]):
                np.testing.assert_array_equal(a, b)


def test_progress_reports_do_not_change_the_run(tmp_path):
    """A run that reports progress simulates in chunks: same raster, reports inside (0, total)."""
    import json

    from snnbench.runner import ProgressDisplay

    r = resolve(load_scenario("vogels-abbott-coba"), Overrides(N_pop=400, simtime=200.0))
    plain = NumbaBackend(threads=1)
    plain.load()
    plain.compile(r)
    plain.build(r, "native", None)
    plain.run()
    reports = []
    chunked = NumbaBackend(threads=1)
    chunked.on_progress = lambda done, total, eta: reports.append((done, total, eta))
    chunked.load()
    chunked.compile(r)
    chunked.build(r, "native", None)
    chunked.run()
    m = int(plain.n_spk[0])
    assert m > 0 and int(chunked.n_spk[0]) == m
    np.testing.assert_array_equal(plain.spk_ids[:m], chunked.spk_ids[:m])
    np.testing.assert_array_equal(plain.spk_steps[:m], chunked.spk_steps[:m])
    assert reports and all(0 < done < total == 200.0 and eta >= 0 for done, total, eta in reports)

    progress = tmp_path / "progress.json"
    progress.write_text(json.dumps({"phase": "sim", "phases": {}, "sim_ms": 50.0, "sim_total_ms": 200.0, "eta_s": 3.0}))
    line = ProgressDisplay(progress, "va on numba").text()
    assert line.startswith("va on numba: sim 50 / 200 ms simulated, ETA 3 s")


def test_one_input_row_when_the_two_currents_add_up(monkeypatch):
    """The microcircuit (IF_curr_exp, tau_syn_E == tau_syn_I) sums E and I arrivals into one ring
    row in native mode: half the ring, the same first spikes and (up to float32 rounding) rates,
    the same raster on 1 and 3 blocks; exact mode, and a network whose taus differ, keep a row per receptor."""
    from snnbench.backends import numba_kernels as K

    r = resolve(load_scenario("potjans-diesmann"), Overrides(scale=0.02, simtime=100.0))
    one, two = {}, {}
    shared = _raster(r, "native", 1, one)
    assert _ring_rows(r, "native") == 1 and _ring_rows(r, "exact") == 2
    for name, (idx, t, v) in _raster(r, "native", 3).items():
        np.testing.assert_array_equal(idx, shared[name][0])
        np.testing.assert_array_equal(t, shared[name][1])
    monkeypatch.setattr(K, "shares_one_input_row", lambda kinds, rows: False)
    separate = _raster(r, "native", 1, two)
    assert two["ring_bytes"] == 2 * one["ring_bytes"]
    n_shared = sum(s[0].size for s in shared.values())
    n_separate = sum(s[0].size for s in separate.values())
    assert n_shared > 200  # the network is active
    assert abs(n_shared - n_separate) <= 0.05 * n_separate
    for name in shared:  # the first spikes, before float32 rounding has flipped any, are the same
        np.testing.assert_array_equal(shared[name][1][:10], separate[name][1][:10])
    assert _ring_rows(resolve(load_scenario("vogels-abbott-cuba"), Overrides(N_pop=400)), "native") == 2  # tau_syn 5 and 10 ms


def _ring_rows(resolved, mode):
    return _built(resolved, mode, 1).ring.shape[1]


def _built(resolved, mode, n_blocks):
    """A numba backend built for `resolved` in `mode` (exact: the harness's arrays) on n_blocks target blocks."""
    backend = NumbaBackend(threads=2)
    backend.load()
    backend.info["threads_used"] = n_blocks  # the number of target blocks the build makes
    backend.compile(resolved)
    backend.build(resolved, mode, realise(resolved) if mode == "exact" else None)
    return backend
