"""Reading SONATA files: configs, node and edge populations, type CSVs, spike inputs.

Edges stay in HDF5: an edge population is read (h5py) into flat arrays once per process
(`edge_table`, cached by file, population and modification time), sorted by (source node
type, target node type, receptor), so that each projection is one contiguous slice of it.

Problems are `SonataError`s naming the file, the node or edge type (or key) and the reason;
the loader turns them into snnbench's bad-input error (exit 2).
"""

from __future__ import annotations

import functools
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np


class SonataError(ValueError):
    """A SONATA file that cannot be used: (file, where in it, why)."""

    def __init__(self, file: str | Path, where: str, why: str):
        self.file, self.where, self.why = str(file), where, why
        super().__init__(f"{file}: {where}: {why}" if where else f"{file}: {why}")


# ------------------------------------------------------------------------------ configs

_VARIABLE = re.compile(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?")


def read_json(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise SonataError(path, "", "no such file")
    try:
        return json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise SonataError(path, "", f"not a readable JSON file: {exc}") from None


def _substitute(value: Any, variables: dict[str, str], path: Path) -> Any:
    if isinstance(value, str):
        def one(m: re.Match) -> str:
            name = m.group(1)
            if name not in variables:
                raise SonataError(path, "manifest", f"unknown variable ${name} in {value!r}")
            return variables[name]
        return _VARIABLE.sub(one, value)
    if isinstance(value, list):
        return [_substitute(v, variables, path) for v in value]
    if isinstance(value, dict):
        return {k: _substitute(v, variables, path) for k, v in value.items()}
    return value


def read_config(path: Path) -> dict[str, Any]:
    """A SONATA circuit or simulation config with its manifest's variables substituted.
    ${configdir} is the config's folder, as in bmtk; relative paths are read from there too."""
    raw = read_json(path)
    variables = {"configdir": str(path.parent.resolve())}
    pending = {k.lstrip("$"): v for k, v in (raw.pop("manifest", None) or {}).items()}
    for _ in range(len(pending) + 1):  # manifest variables may refer to each other
        for key, value in list(pending.items()):
            if all(m.group(1) in variables for m in _VARIABLE.finditer(str(value))):
                text = _substitute(str(value), variables, path)
                variables[key] = text if Path(text).is_absolute() else str(path.parent.resolve() / text)
                del pending[key]
    if pending:
        raise SonataError(path, "manifest", f"cannot resolve {', '.join('$' + k for k in pending)}")
    return _substitute(raw, variables, path)


def resolve_path(value: str, base: Path) -> Path:
    p = Path(value)
    return Path(os.path.normpath(p if p.is_absolute() else base / p))


# ------------------------------------------------------------------------------ nodes


@dataclass(frozen=True)
class NodeType:
    node_type_id: int
    columns: dict[str, str]  # the type CSV's row (model_type, model_template, dynamics_params, pop_name, ...)

    @property
    def name(self) -> str:
        return self.columns.get("pop_name") or self.columns.get("model_name") or str(self.node_type_id)


def read_types_csv(path: Path, id_column: str) -> dict[int, dict[str, str]]:
    """A SONATA node or edge type CSV (space separated, a header row) -> {type id: {column: text}}."""
    import pandas as pd

    if not path.is_file():
        raise SonataError(path, "", "no such file")
    try:
        frame = pd.read_csv(path, sep=r"\s+", dtype=str, keep_default_na=False, engine="python")
    except Exception as exc:  # pandas raises many kinds for a malformed file
        raise SonataError(path, "", f"not a readable SONATA type table: {exc}") from None
    if id_column not in frame.columns:
        raise SonataError(path, "", f"no {id_column} column")
    out = {}
    for row in frame.to_dict("records"):
        try:
            out[int(row[id_column])] = {k: v for k, v in row.items() if v not in ("", "NONE", "NULL")}
        except ValueError:
            raise SonataError(path, id_column, f"not an integer: {row[id_column]!r}") from None
    return out


@dataclass(frozen=True)
class NodePopulation:
    name: str
    file: Path
    types_file: Path
    node_ids: np.ndarray  # int64, sorted
    node_type_id: np.ndarray  # int64, per node (in node_ids order)
    types: dict[int, dict[str, str]]
    positions: np.ndarray | None  # (n, 3) x, y, z, or None when the file has none

    def ids_of_type(self, type_id: int) -> np.ndarray:
        return self.node_ids[self.node_type_id == type_id]


@functools.lru_cache(maxsize=16)
def _node_population(file: str, types_file: str, population: str, mtime: float) -> NodePopulation:
    import h5py

    with h5py.File(file, "r") as h5:
        group = h5["nodes"][population]
        type_ids = group["node_type_id"][()].astype(np.int64)
        n = type_ids.size
        ids = group["node_id"][()].astype(np.int64) if "node_id" in group else np.arange(n, dtype=np.int64)
        positions = None
        group_ids = group["node_group_id"][()] if "node_group_id" in group else np.zeros(n, np.int64)
        group_index = group["node_group_index"][()] if "node_group_index" in group else np.arange(n)
        for gid in np.unique(group_ids):
            sub = group[str(gid)]
            if "dynamics_params" in sub:
                raise SonataError(file, f"nodes/{population}/{gid}/dynamics_params",
                                  "per-node dynamics_params: snnbench's populations have one parameter set per node type")
            if all(axis in sub for axis in ("x", "y", "z")):
                if positions is None:
                    positions = np.full((n, 3), np.nan)
                rows = group_ids == gid
                positions[rows] = np.column_stack([sub[a][()][group_index[rows]] for a in ("x", "y", "z")])
    order = np.argsort(ids, kind="stable")
    return NodePopulation(population, Path(file), Path(types_file), ids[order], type_ids[order],
                          read_types_csv(Path(types_file), "node_type_id"),
                          None if positions is None else positions[order])


def node_populations(file: Path, types_file: Path) -> list[NodePopulation]:
    import h5py

    if not file.is_file():
        raise SonataError(file, "", "no such file")
    try:
        with h5py.File(file, "r") as h5:
            names = list(h5["nodes"]) if "nodes" in h5 else []
    except OSError as exc:
        raise SonataError(file, "", f"not a readable HDF5 file: {exc}") from None
    if not names:
        raise SonataError(file, "nodes", "no node population")
    return [_node_population(str(file), str(types_file), name, file.stat().st_mtime) for name in names]


# ------------------------------------------------------------------------------ edges


@dataclass(frozen=True)
class EdgeTable:
    """One edge population, flat, in NEST's terms (weight = syn_weight x nsyns, signed; delay ms),
    sorted by (source node type, target node type, receptor); `slices[key]` is each group's range.
    The receptor is `receptor_code`'s: the sign onto NEST's port 0 (0 excitatory, 1 inhibitory),
    1 + k for the port k >= 1 of a multi-receptor cell (the edge type's receptor_type)."""

    name: str
    file: Path
    source_population: str
    target_population: str
    source: np.ndarray  # source node ids
    target: np.ndarray
    weight: np.ndarray  # NEST units (nS or pA), signed
    delay: np.ndarray  # ms
    slices: dict[tuple[int, int, int], tuple[int, int]]  # (source type, target type, receptor code) -> [start, stop)


def edge_populations(file: Path) -> list[str]:
    import h5py

    if not file.is_file():
        raise SonataError(file, "", "no such file")
    try:
        with h5py.File(file, "r") as h5:
            return list(h5["edges"]) if "edges" in h5 else []
    except OSError as exc:
        raise SonataError(file, "", f"not a readable HDF5 file: {exc}") from None


def edge_table(file: Path, types_file: Path, population: str, nodes: dict[str, NodePopulation],
               synapse_dir: Path | None) -> EdgeTable:
    """One edge population, flat (cached per process: file, population, modification time)."""
    if not file.is_file():
        raise SonataError(file, "", "no such file")
    key = (str(file), str(types_file), population, file.stat().st_mtime, str(synapse_dir),
           tuple(sorted((n, str(p.file), p.node_ids.size) for n, p in nodes.items())))
    return _edge_table(key, nodes, synapse_dir)


_EDGE_CACHE: dict[tuple, EdgeTable] = {}


def _edge_table(key: tuple, nodes: dict[str, NodePopulation], synapse_dir: Path | None) -> EdgeTable:
    if key in _EDGE_CACHE:
        return _EDGE_CACHE[key]
    import h5py

    file, types_file, population = Path(key[0]), Path(key[1]), key[2]
    types = read_types_csv(types_file, "edge_type_id")
    with h5py.File(file, "r") as h5:
        group = h5["edges"][population]
        src_ds, tgt_ds = group["source_node_id"], group["target_node_id"]
        src_pop = _text(src_ds.attrs.get("node_population", ""))
        tgt_pop = _text(tgt_ds.attrs.get("node_population", ""))
        for end, name in (("source", src_pop), ("target", tgt_pop)):
            if name not in nodes:
                raise SonataError(file, f"edges/{population}/{end}_node_id",
                                  f"node_population {name!r} is not among the circuit's node populations ({', '.join(nodes)})")
        source, target = src_ds[()].astype(np.int64), tgt_ds[()].astype(np.int64)
        type_id = group["edge_type_id"][()].astype(np.int64)
        n = type_id.size
        group_ids = group["edge_group_id"][()] if "edge_group_id" in group else np.zeros(n, np.int64)
        group_index = group["edge_group_index"][()] if "edge_group_index" in group else np.arange(n)
        columns = {}
        for name in ("syn_weight", "delay", "nsyns"):
            values = np.full(n, np.nan)
            for gid in np.unique(group_ids):
                sub = group.get(str(gid))
                if sub is not None and name in sub:
                    rows = group_ids == gid
                    values[rows] = sub[name][()][group_index[rows]]
            columns[name] = values
    port = np.zeros(n, np.int64)
    for tid in np.unique(type_id):
        row = types.get(int(tid))
        if row is None:
            raise SonataError(types_file, f"edge type {tid}", f"used by edges/{population} but not in this table")
        rows = type_id == tid
        port[rows] = _check_edge_type(types_file, int(tid), row, synapse_dir)
        for name in ("syn_weight", "delay", "nsyns"):
            missing = rows & np.isnan(columns[name])
            if missing.any():
                if name in row:
                    columns[name][missing] = float(row[name])
                elif name == "nsyns":
                    columns[name][missing] = 1.0
                else:
                    raise SonataError(types_file, f"edge type {tid}", f"no {name}, neither in the table nor in {file}")
    weight = columns["syn_weight"] * columns["nsyns"]
    src_type = _type_of(nodes[src_pop], source, file, population, "source")
    tgt_type = _type_of(nodes[tgt_pop], target, file, population, "target")
    sign = (weight < 0).astype(np.int64)  # 0: excitatory, 1: inhibitory (NEST's convention)
    code = np.where(port > 0, port + 1, sign)
    order = np.lexsort((target, source, code, tgt_type, src_type))
    groups = np.column_stack((src_type[order], tgt_type[order], code[order]))
    slices: dict[tuple[int, int, int], tuple[int, int]] = {}
    if n:
        starts = np.concatenate(([0], np.nonzero(np.any(np.diff(groups, axis=0) != 0, axis=1))[0] + 1))
        stops = np.append(starts[1:], n)
        for a, b in zip(starts, stops):
            slices[tuple(int(x) for x in groups[a])] = (int(a), int(b))
    table = EdgeTable(population, file, src_pop, tgt_pop, source[order], target[order], weight[order],
                      columns["delay"][order], slices)
    _EDGE_CACHE[key] = table
    return table


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _type_of(pop: NodePopulation, ids: np.ndarray, file: Path, edges: str, end: str) -> np.ndarray:
    at = np.searchsorted(pop.node_ids, ids)
    bad = (at >= pop.node_ids.size) | (pop.node_ids[np.minimum(at, pop.node_ids.size - 1)] != ids)
    if bad.any():
        raise SonataError(file, f"edges/{edges}/{end}_node_id", f"node id {int(ids[bad][0])} is not in node population {pop.name!r}")
    return pop.node_type_id[at]


def _receptor_type(file: Path, where: str, value: Any, origin: str = "") -> int:
    try:
        port = int(value)
        if port != float(value) or port < 0:
            raise ValueError
    except (TypeError, ValueError):
        raise SonataError(file, where, f"receptor_type {value!r}{origin}: expected NEST's port, an integer >= 0") from None
    return port


def _check_edge_type(file: Path, tid: int, row: dict[str, str], synapse_dir: Path | None) -> int:
    """Refuse what a static synapse cannot be; return the edge type's receptor_type (NEST's port:
    0 for the PyNN pair, picked by the sign; k >= 1 for port k of a multi-receptor cell)."""
    where = f"edge type {tid}"
    port = _receptor_type(file, where, row["receptor_type"]) if row.get("receptor_type") not in (None, "", "NULL") else 0
    template = row.get("model_template", "static_synapse")
    if template.removeprefix("nest:") != "static_synapse":
        raise SonataError(file, where, f"model_template {template!r}: only static synapses are translated")
    if "weight_function" in row:
        raise SonataError(file, where, f"weight_function {row['weight_function']!r}: a bmtk Python function, not "
                          "part of the files; snnbench reads syn_weight x nsyns only")
    params = row.get("dynamics_params")
    if params:
        if synapse_dir is None:
            raise SonataError(file, where, f"dynamics_params {params!r} but the circuit names no synaptic_models_dir")
        spec = read_json(synapse_dir / params)
        model = str(spec.get("synapse_model", spec.get("model", "static_synapse")))
        if model != "static_synapse":
            raise SonataError(file, where, f"synapse_model {model!r}: only static synapses are translated")
        if spec.get("receptor_type") is not None:
            port = _receptor_type(file, where, spec["receptor_type"], f" (in {params})")
        extra = sorted(set(spec) - {"synapse_model", "model", "receptor_type", "weight", "delay", "level"})
        if extra:
            raise SonataError(file, where, f"synapse parameters {', '.join(extra)} have no equivalent for a static synapse")
    return port


def receptor_code(receptor: str) -> int:
    """A projection's receptor as the edge table's key: 0 excitatory, 1 inhibitory, 1 + k port "synk"."""
    from ..scenario.model import receptor_port

    port = receptor_port(receptor)
    return port + 1 if port is not None else int(receptor == "inhibitory")


def code_receptor(code: int) -> str:
    """The inverse of `receptor_code`."""
    return ("excitatory", "inhibitory")[code] if code < 2 else f"syn{code - 1}"


def projection_slice(table: EdgeTable, src_type: int, tgt_type: int, receptor: str) -> slice:
    a, b = table.slices.get((src_type, tgt_type, receptor_code(receptor)), (0, 0))
    return slice(a, b)


# ------------------------------------------------------------------------------ spike inputs


@functools.lru_cache(maxsize=8)
def _spike_file(file: str, population: str, mtime: float) -> tuple[np.ndarray, np.ndarray]:
    import h5py

    with h5py.File(file, "r") as h5:
        if "spikes" not in h5:
            raise SonataError(file, "spikes", "no /spikes group: not a SONATA spike file")
        root = h5["spikes"]
        group = root[population] if population in root else (root if "timestamps" in root else None)
        if group is None:
            raise SonataError(file, f"spikes/{population}", f"no spikes of node population {population!r} "
                              f"(populations: {', '.join(root)})")
        ids = group["node_ids"][()] if "node_ids" in group else group["gids"][()]
        return ids.astype(np.int64), group["timestamps"][()].astype(float)


def spike_input(file: Path, population: str) -> tuple[np.ndarray, np.ndarray]:
    """(node ids, times ms) of one node population in a SONATA spike file."""
    if not file.is_file():
        raise SonataError(file, "", "no such file (a spike input of the simulation config)")
    return _spike_file(str(file), population, file.stat().st_mtime)
