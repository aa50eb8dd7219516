"""The arrays of SONATA populations and projections, read from the files at realisation time.

A population made from a SONATA node type holds that type's nodes in node-id order (after a
slice: the nodes the slice kept, `ResolvedPopulation.node_ids`); local index i is the i-th of
them. A `sonata_edges` projection is its slice of the edge table, less the edges with an end
outside the (sliced) populations.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from . import files as sf
from .expand import pynn_weights


def node_population(origin) -> sf.NodePopulation:
    for pop in sf.node_populations(Path(origin.nodes_file), Path(origin.node_types_file)):
        if pop.name == origin.population:
            return pop
    raise sf.SonataError(origin.nodes_file, f"nodes/{origin.population}", "no such node population")


def node_ids(pop) -> np.ndarray:
    """The SONATA node ids of a resolved population's cells, in local-index order."""
    if pop.node_ids is not None:
        return pop.node_ids
    return node_population(pop.spec.sonata).ids_of_type(pop.spec.sonata.node_type_id)


def _local(ids: np.ndarray, members: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(mask of `ids` that are in the sorted `members`, their positions in `members`)."""
    at = np.searchsorted(members, ids)
    inside = at < members.size
    inside[inside] = members[at[inside]] == ids[inside]
    return inside, at


def projection_arrays(proj, resolved) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(pre index, post index, weight in PyNN units, delay ms) of a `sonata_edges` projection."""
    conn = proj.connector
    pre, post = resolved.populations[proj.pre], resolved.populations[proj.post]
    nodes = {p.spec.sonata.population: node_population(p.spec.sonata) for p in (pre, post)}
    synapse_dir = Path(conn.synaptic_models_dir) if conn.synaptic_models_dir else None
    table = sf.edge_table(Path(conn.edges_file), Path(conn.edge_types_file), conn.population, nodes, synapse_dir)
    part = sf.projection_slice(table, pre.spec.sonata.node_type_id, post.spec.sonata.node_type_id, proj.receptor)
    src, tgt = table.source[part], table.target[part]
    keep_pre, pre_idx = _local(src, node_ids(pre))
    keep_post, post_idx = _local(tgt, node_ids(post))
    keep = keep_pre & keep_post
    weight = pynn_weights(table.weight[part][keep], post.cell_type)
    return pre_idx[keep].astype(np.int64), post_idx[keep].astype(np.int64), weight, table.delay[part][keep].copy()


def input_spikes(pop, simtime: float) -> tuple[np.ndarray, np.ndarray]:
    """(local index, time ms) of a virtual population's spikes from its SONATA spike file."""
    spec = pop.spec.spike_file
    ids, times = sf.spike_input(Path(spec.file), spec.population)
    inside, at = _local(ids, node_ids(pop))
    keep = inside & (times <= simtime)
    return at[keep], times[keep]
