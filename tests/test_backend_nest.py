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


def _plastic_backend(threads: int, static_rule: bool, times: list[float] | None):
    """vogels-abbott-coba-stdp at N 400 (about 20,500 plastic E->E synapses: p = 80/400) built and run on NEST, its
    backend left open. static_rule: A+ = A- = 0 and uniform initial weights, so that every synapse
    keeps its own weight; times: the E->E recording times (None: the final weights only)."""
    from snnbench.backends import nest as nest_backend
    from snnbench.scenario import Overrides, load_scenario, resolve
    from snnbench.scenario.model import Uniform, WeightRecord

    scenario = load_scenario("vogels-abbott-coba-stdp")
    e2e = next(p for p in scenario.projections if p.label == "e2e")
    if static_rule:
        td = e2e.synapse.timing_dependence.model_copy(update={"A_plus": 0.0, "A_minus": 0.0})
        e2e = e2e.model_copy(update={"weight": Uniform(distribution="uniform", low=0.002, high=0.006),
                                     "synapse": e2e.synapse.model_copy(update={"timing_dependence": td})})
    if times is not None:
        e2e = e2e.model_copy(update={"record": e2e.record.model_copy(update={"weights": WeightRecord(times=times, max_synapses=10**6)})})
    scenario = scenario.model_copy(update={"projections": [e2e if p.label == "e2e" else p for p in scenario.projections]})
    r = resolve(scenario, Overrides(N_pop=400, simtime=150.0, final_weights=True if times is None else None))
    b = nest_backend.NestBackend(threads=threads)
    b.load()
    b.build(r, "native", None)
    b.run()
    return b, next(p for p in r.projections if p.label == "e2e")


def _read_in_blocks_and_at_once():
    """read_weights in blocks of 7 sources and slices of 97 connections, and the whole projection
    in one GetConnections(...).get() (the readout before blocks), on 1 thread."""
    from snnbench.backends import nest as nest_backend

    nest_backend._READ_CONNECTIONS, nest_backend._GET_CONNECTIONS = 7 * 64, 97  # out-degree 64
    b, proj = _plastic_backend(1, static_rule=False, times=None)
    try:
        blocks = b.read_weights(proj)
        conns = b.nest.GetConnections(b.nodes["E"], b.nodes["E"], synapse_model=b.synapse_models["e2e"])
        got = conns.get(("source", "target", "weight"))
        first = b.nodes["E"][0].global_id
        at_once = (np.asarray(got["source"]) - first, np.asarray(got["target"]) - first,
                   np.asarray(got["weight"]) / b._weight_factor(proj))
        return blocks, at_once, b.collect().weights["e2e"].times
    finally:
        b.close()


def test_weights_read_in_blocks_are_those_read_at_once():
    """NEST's weight readout in bounded memory (blocks of sources, slices of connections): the same
    (pre, post, weight) arrays, in the same order, as the whole projection read at once."""
    blocks, at_once, times = in_fresh_process(_read_in_blocks_and_at_once)
    assert at_once[0].size > 15_000 and len(np.unique(at_once[2])) > 100  # the weights moved
    for mine, theirs in zip(blocks, at_once):
        np.testing.assert_array_equal(mine, theirs)
    np.testing.assert_array_equal(times, [0.0, 150.0])  # final_weights: simtime added, 500 and 1000 ms dropped


def _weights_on_two_threads():
    b, _ = _plastic_backend(2, static_rule=True, times=[0.0, 30.0, 60.0, 90.0, 120.0, 150.0])
    try:
        return b.collect().weights["e2e"].values
    finally:
        b.close()


def test_weights_on_two_threads_keep_their_synapse_at_every_recording_time():
    """On 2 threads GetConnections lists each thread's connections in the order the threads finish,
    which changes from call to call; each recorded column must still be one synapse. With a rule
    that moves no weight and distinct initial weights, every column is constant over time."""
    values = in_fresh_process(_weights_on_two_threads)
    assert values.shape[0] == 6 and values.shape[1] > 15_000 and np.unique(values[0]).size > 0.99 * values.shape[1]
    for row in values[1:]:
        np.testing.assert_array_equal(row, values[0])
