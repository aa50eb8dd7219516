"""NEST's adapter beyond what the conformance suite checks: its storage limit per synapse model."""

from __future__ import annotations

import numpy as np

from .conftest import in_fresh_process, requires_nest

pytestmark = requires_nest


def _run(split_at: float):
    """VA CUBA (N 400, 200 ms) on NEST with the given threshold; (output, translation topics)."""
    from snnbench.backends import nest as nest_backend
    from snnbench.scenario import Overrides, load_scenario, resolve

    nest_backend._SPLIT_AT = split_at
    r = resolve(load_scenario("vogels-abbott-cuba"), Overrides(N_pop=400, simtime=200.0))
    b = nest_backend.NestBackend(threads=1)
    b.load()
    try:
        b.build(r, "native", None)
        b.run()
        return b.collect(), b.translations.topics()
    finally:
        b.close()


def test_projections_get_their_own_synapse_model_above_the_limit():
    """Above NEST's connections per virtual process and synapse model (full-scale PD on 2 threads:
    KernelException "Too many connections"), each projection connects through its own copy of
    static_synapse: recorded, and the same network and spikes as through the shared model."""
    from snnbench.backends.nest import _SPLIT_AT

    shared, shared_topics = in_fresh_process(_run, _SPLIT_AT)
    split, split_topics = in_fresh_process(_run, 1.0)
    assert "synapse_model" in split_topics and "synapse_model" not in shared_topics
    assert split.synapses == shared.synapses
    assert sum(p.n_spikes for p in shared.populations.values()) > 0
    for name, pop in shared.populations.items():
        np.testing.assert_array_equal(split.populations[name].spike_index, pop.spike_index)
        np.testing.assert_allclose(split.populations[name].spike_time, pop.spike_time)
