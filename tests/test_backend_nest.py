"""NEST's adapter beyond what the conformance suite checks: its storage limit per synapse model, and
the progress a measured run reports (without changing the simulation)."""

from __future__ import annotations

import numpy as np

from snnbench.backends import backend_class
from snnbench.backends import nest as nest_backend
from snnbench.runner import run_in_process
from snnbench.scenario import Overrides, load_scenario, resolve

from .conftest import requires_nest

pytestmark = requires_nest


def _run(monkeypatch, split_at: float):
    """VA CUBA (N 400, 200 ms) on NEST in this process; (output, translation topics)."""
    monkeypatch.setattr(nest_backend, "_SPLIT_AT", split_at)
    r = resolve(load_scenario("vogels-abbott-cuba"), Overrides(N_pop=400, simtime=200.0))
    b = nest_backend.NestBackend(threads=1)
    b.load()
    try:
        b.build(r, "native", None)
        b.run()
        return b.collect(), b.translations.topics()
    finally:
        b.close()


def test_projections_get_their_own_synapse_model_above_the_limit(monkeypatch):
    """Above NEST's connections per virtual process and synapse model (full-scale PD on 2 threads:
    KernelException "Too many connections"), each projection connects through its own copy of
    static_synapse: recorded, and the same network and spikes as through the shared model."""
    shared, shared_topics = _run(monkeypatch, nest_backend._SPLIT_AT)
    split, split_topics = _run(monkeypatch, 1.0)
    assert "synapse_model" in split_topics and "synapse_model" not in shared_topics
    assert split.synapses == shared.synapses
    assert sum(p.n_spikes for p in shared.populations.values()) > 0
    for name, pop in shared.populations.items():
        np.testing.assert_array_equal(split.populations[name].spike_index, pop.spike_index)
        np.testing.assert_allclose(split.populations[name].spike_time, pop.spike_time)


def test_a_run_in_chunks_reports_progress_and_gives_the_same_spikes(monkeypatch):
    resolved = resolve(load_scenario("vogels-abbott-coba"), Overrides(N_pop=1000, simtime=100.0))
    whole = run_in_process(resolved, "nest")  # no progress reader: one Simulate()

    monkeypatch.setattr(nest_backend, "_PROGRESS_EVERY_S", 0.0)  # a chunk of min_delay each time
    reports: list[tuple[float, float, float]] = []
    backend = backend_class("nest")()
    backend.on_progress = lambda done, total, eta: reports.append((done, total, eta))
    backend.load()
    try:
        backend.build(resolved, "native", None)
        backend.run()
        chunked = backend.collect()
    finally:
        backend.close()

    done = [r[0] for r in reports]
    assert len(done) > 10 and all(b > a for a, b in zip(done, done[1:])) and done[-1] < 100.0
    assert {r[1] for r in reports} == {100.0} and all(r[2] >= 0 for r in reports)
    for name, pop in whole.populations.items():
        assert pop.n_spikes > 0 or name == "stim"
        np.testing.assert_array_equal(pop.spike_index, chunked.populations[name].spike_index)
        np.testing.assert_array_equal(pop.spike_time, chunked.populations[name].spike_time)
    np.testing.assert_array_equal(whole.populations["E"].v, chunked.populations["E"].v)
