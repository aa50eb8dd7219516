"""Cutting a SONATA circuit with positions: `--slice radius=R[,x=X,z=Z]` or `--slice n=N[,x=X,z=Z]`.

The cells kept are those within R (the circuit's position units, um in bmtk's models) of the
centre in the x-z plane (the cortical sheet: y is depth in bmtk's V1 models), or the N nearest
to it (ties broken by node population and node id, so the cut is deterministic). The centre is
(x, z) if given, else the mean position of all cells. Edges are kept when both ends are inside;
virtual nodes (inputs) are kept when they have at least one edge onto a kept cell.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from . import files as sf


@dataclass(frozen=True)
class Slice:
    radius: float | None = None
    n: int | None = None
    x: float | None = None
    z: float | None = None


def parse_slice(text: str) -> Slice:
    """`radius=400`, `n=1000`, optionally with `,x=...,z=...`; ValueError says what is wrong."""
    values: dict[str, float] = {}
    for part in text.split(","):
        key, sep, value = part.partition("=")
        key = key.strip()
        if not sep or key not in ("radius", "n", "x", "z"):
            raise ValueError(f"--slice {text!r}: expected radius=R or n=N, optionally with x=X,z=Z")
        try:
            number = float(value)
        except ValueError:
            raise ValueError(f"--slice {text!r}: {key}={value!r} is not a number") from None
        if not math.isfinite(number):
            raise ValueError(f"--slice {text!r}: {key} must be finite")
        values[key] = number
    if ("radius" in values) == ("n" in values):
        raise ValueError(f"--slice {text!r}: give one of radius=R or n=N")
    if "radius" in values and values["radius"] <= 0:
        raise ValueError(f"--slice {text!r}: radius must be > 0")
    if "n" in values and (values["n"] < 1 or values["n"] != int(values["n"])):
        raise ValueError(f"--slice {text!r}: n must be a whole number >= 1")
    return Slice(radius=values.get("radius"), n=int(values["n"]) if "n" in values else None,
                 x=values.get("x"), z=values.get("z"))


def cut(scenario, sl: Slice) -> tuple[dict[str, np.ndarray], str]:
    """The node ids each SONATA population keeps, and a sentence saying how the circuit was cut."""
    from .arrays import node_population

    cells = {name: p for name, p in scenario.populations.items() if p.sonata is not None and not p.is_source}
    if not cells:
        raise ValueError("--slice needs a scenario made from a SONATA circuit ([sonata])")
    ids, xz, owner = [], [], []
    for k, (name, spec) in enumerate(cells.items()):
        pop = node_population(spec.sonata)
        if pop.positions is None:
            raise ValueError(f"--slice: node population {pop.name!r} in {pop.file} has no x, y, z positions")
        rows = pop.node_type_id == spec.sonata.node_type_id
        ids.append(pop.node_ids[rows])
        xz.append(pop.positions[rows][:, [0, 2]])
        owner.append(np.full(int(rows.sum()), k))
    all_ids, all_xz, all_owner = np.concatenate(ids), np.concatenate(xz), np.concatenate(owner)
    cx = float(np.mean(all_xz[:, 0])) if sl.x is None else sl.x
    cz = float(np.mean(all_xz[:, 1])) if sl.z is None else sl.z
    distance = np.hypot(all_xz[:, 0] - cx, all_xz[:, 1] - cz)
    if sl.radius is not None:
        keep = distance <= sl.radius
        how = f"radius {sl.radius:g} around (x, z) = ({cx:.1f}, {cz:.1f})"
    else:
        order = np.lexsort((all_ids, all_owner, distance))
        keep = np.zeros(all_ids.size, bool)
        keep[order[:sl.n]] = True
        how = f"the {min(sl.n, all_ids.size)} cells nearest (x, z) = ({cx:.1f}, {cz:.1f})"
    kept = {name: np.sort(all_ids[keep & (all_owner == k)]) for k, name in enumerate(cells)}
    kept.update(_inputs(scenario, kept))
    n_sources = sum(v.size for n, v in kept.items() if n not in cells)
    total_sources = sum(p.size for p in scenario.populations.values() if p.sonata is not None and p.is_source)
    sources = (f", {n_sources} of {total_sources} virtual sources (those with an edge onto a kept cell)"
               if total_sources else "")
    return kept, f"SONATA slice {how}: {int(keep.sum())} of {all_ids.size} cells{sources}; edges with both ends kept"


def _inputs(scenario, kept: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Virtual populations: the nodes with at least one edge onto a kept cell."""
    from pathlib import Path

    from ..scenario.model import SonataEdges
    from .arrays import node_population

    out: dict[str, set[int]] = {n: set() for n, p in scenario.populations.items() if p.sonata is not None and p.is_source}
    for proj in scenario.projections:
        if proj.pre not in out or not isinstance(proj.connector, SonataEdges) or proj.post not in kept:
            continue
        pre, post = scenario.populations[proj.pre].sonata, scenario.populations[proj.post].sonata
        conn = proj.connector
        nodes = {o.population: node_population(o) for o in (pre, post)}
        table = sf.edge_table(Path(conn.edges_file), Path(conn.edge_types_file), conn.population, nodes,
                              Path(conn.synaptic_models_dir) if conn.synaptic_models_dir else None)
        part = sf.projection_slice(table, pre.node_type_id, post.node_type_id, proj.receptor)
        targets = table.target[part]
        inside = np.isin(targets, kept[proj.post])
        out[proj.pre].update(np.unique(table.source[part][inside]).tolist())
    return {n: np.array(sorted(v), dtype=np.int64) for n, v in out.items()}
