"""The brainpy backends: what is BrainPy's own (float64 through jax's x64 mode, the compile phase
and JAX's persistent compilation cache, chunked loops, the GPU refusal). The exact tier, every
connector and source in both modes: the conformance suite (tests/conformance/).

Each run is in a fresh process (as measured runs are): jax's x64 mode and its compilation cache
are set once per process."""

from __future__ import annotations

import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import pytest

from snnbench.backends import backend_class
from snnbench.backends.brainpy import BrainPyGpuBackend, _gpu_probe
from snnbench.scenario import Overrides, load_scenario, realise, resolve

from .conftest import requires

pytestmark = requires("brainpy", "brainpy")


def _resolved():
    # the LIF populations of single-neuron: the cell types brainpy runs
    return resolve(load_scenario("single-neuron").with_cell_types(("IF_cond_exp", "IF_curr_exp")), Overrides(simtime=200.0))


def _run(cache_dir: str, options: dict) -> dict:
    """One exact-mode run of the short single-neuron scenario, in this (child) process."""
    os.environ["SNNBENCH_CACHE_DIR"] = cache_dir
    r = _resolved()
    backend = backend_class("brainpy")(options=options)
    backend.load()
    try:
        backend.build(r, "exact", realise(r))
        backend.compile(r)
        backend.run()
        out = backend.collect()
    finally:
        backend.close()
    return {"info": backend.info, "translations": list(backend.translations),
            "spikes": {name: (p.spike_index, p.spike_time) for name, p in out.populations.items()},
            "v": {name: p.v for name, p in out.populations.items() if p.v.size}}


def _in_fresh_processes(cache: str, plan: dict[str, dict]) -> dict[str, dict]:
    """Each run in a process of its own, one after the other (the second finds the first's cache)."""
    results = {}
    with ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"), max_tasks_per_child=1) as pool:
        for key, options in plan.items():
            results[key] = pool.submit(_run, cache, options).result()
    return results


def test_float64_the_compile_cache_and_chunks(tmp_path):
    """One test (a fixture would run once per xdist worker): three runs in fresh processes."""
    cache = str(tmp_path)
    results = _in_fresh_processes(cache, {"first": {}, "again": {}, "cold_chunked": {"cache": "cold", "chunk_steps": 300}})
    first, again, cold = results["first"]["info"], results["again"]["info"], results["cold_chunked"]["info"]
    # float64 through jax's x64 mode, recorded
    assert first["float_type"] == "float64"
    precision = [t["detail"] for t in results["first"]["translations"] if t["what"] == "precision"]
    assert precision and "x64" in precision[0]
    assert results["first"]["spikes"]["cond"][0].size > 0 and results["first"]["spikes"]["curr"][0].size > 0
    # the second run loads the first one's program; cache=cold compiles in a fresh cache, removed after it
    assert first["compile_cache"] == "cold" and (first["programs_compiled"], first["programs_loaded"]) == (1, 0)
    assert again["compile_cache"] == "warm" and (again["programs_compiled"], again["programs_loaded"]) == (0, 1)
    assert Path(first["cache_dir"]) == Path(cache) / "brainpy" / "jax-cpu" == Path(again["cache_dir"])
    assert cold["compile_cache"] == "cold" and cold["programs_compiled"] == 2  # chunks of 300 steps, and the last of 200
    assert Path(cold["cache_dir"]).parent == Path(cache) / "brainpy" / "cold"
    assert not Path(cold["cache_dir"]).exists()
    # 300-step chunks (6 full and a shorter last one, each length compiled before the run) give the
    # raster and v of 1000-step chunks: compiling simulates nothing the run sees
    whole, chunked = results["first"], results["cold_chunked"]
    for name, (index, times) in whole["spikes"].items():
        np.testing.assert_array_equal(chunked["spikes"][name][0], index)
        np.testing.assert_array_equal(chunked["spikes"][name][1], times)
    for name, v in whole["v"].items():
        np.testing.assert_array_equal(chunked["v"][name], v)


@pytest.mark.slow
def test_float32_is_an_option_recorded_as_a_translation(tmp_path):
    results = _in_fresh_processes(str(tmp_path), {"float64": {}, "float32": {"dtype": "float32"}})
    f32, f64 = results["float32"], results["float64"]
    assert f32["info"]["float_type"] == "float32"
    assert any(t["what"] == "precision" and "float32" in t["detail"] for t in f32["translations"])
    for name in ("cond", "curr"):  # the same cells, single precision: within a few microvolts here
        assert np.abs(f32["v"][name] - f64["v"][name]).max() < 0.05


def test_gpu_backend_without_a_gpu_is_unavailable_with_the_reason():
    gpu, detail = _gpu_probe()
    if gpu:
        pytest.skip(f"jax sees a GPU here ({detail})")
    ok, why = BrainPyGpuBackend.available()
    assert not ok and "GPU" in why
    assert BrainPyGpuBackend.runs_on == ("GPU",) and BrainPyGpuBackend.name == "brainpy.gpu"


def test_too_many_threads_are_refused():
    problems = backend_class("brainpy")(threads=2).supports(_resolved(), "exact")
    assert problems and "thread" in problems[0]


MULTAPSES = """
[scenario]
title = "more synapses than pairs"
source = "tests"
[run]
dt = 0.1
simtime = 20.0
seed = 5
[populations.A]
cell_type = "IF_curr_exp"
size = 5
[populations.B]
cell_type = "IF_curr_exp"
size = 4
[[projections]]
pre = "A"
post = "B"
receptor = "excitatory"
connector = { type = "fixed_total_number", n = 50, with_replacement = true }
weight = 0.1
delay = 1.0
"""


def _native_build(path: str) -> tuple[int, list[dict]]:
    r = resolve(load_scenario(path))
    backend = backend_class("brainpy")()
    backend.load()
    try:
        backend.build(r, "native", None)
        return backend.synapse_count(r.projections[0].label), list(backend.translations)
    finally:
        backend.close()


def test_more_synapses_than_pairs_come_from_the_harness(tmp_path):
    """The microcircuit's fixed_total_number projections draw more synapses than pairs (multapses):
    BrainPy's FixedTotalNum refuses that, so the projection takes the harness's arrays, recorded."""
    path = tmp_path / "multapses.toml"
    path.write_text(MULTAPSES)
    from .conftest import in_fresh_process

    count, translations = in_fresh_process(_native_build, str(path))
    assert count == 50
    assert any("50 > 20" in t["detail"] and "FixedTotalNum" in t["detail"] for t in translations)
