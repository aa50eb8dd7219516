"""A scenario's `[sonata]` table -> populations and projections (before the scenario is validated).

  * every node type of every node population -> one population `<node population>_<pop_name>`
    (or `_<node_type_id>` where pop_name repeats), its SONATA origin kept in `sonata`;
    cells: the PyNN type and parameters of `nest_models.MODELS`, V_m as initial v;
    virtual nodes: a SpikeSourceArray reading the simulation config's spike input for their node
    population, or a SpikeSourcePoisson at the rate `[sonata] poisson` gives it, or, with neither,
    a SpikeSourceArray that never spikes (as a virtual node without input in bmtk);
  * every edge population -> one projection per (source node type, target node type, receptor)
    that has edges; connector `sonata_edges` (the arrays stay in the HDF5 file), and as weight and
    delay the range the file has (the realisation reads each edge's own);
  * NEST's weight syn_weight x nsyns (bmtk pointnet's rule), sign -> receptor, nS/pA -> uS/nA
    (iaf_psc_delta: mV as they are); onto a multi-receptor cell (glif_psc) the edge type's
    receptor_type k -> port "synk", the weight keeping its sign.

Anything that cannot be translated is a SonataError naming the file, the node or edge type and why.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np

from ..scenario.model import CELL_TYPES, MULTI_RECEPTOR, SonataSection
from . import files as sf
from .nest_models import MODELS, model_problem

# PyNN weight per NEST weight, per cell type (nS -> uS, pA -> nA; mV as they are).
_WEIGHT_FACTOR = {model.cell_type: model.weight_factor for model in MODELS.values()}


class Circuit:
    """The files a `[sonata]` table names, resolved to paths."""

    def __init__(self, section: SonataSection, base: Path):
        self.section, self.base = section, base
        self.nodes: list[tuple[Path, Path]] = []
        self.edges: list[tuple[Path, Path]] = []
        self.components: dict[str, Path] = {}
        self.inputs: dict[str, dict[str, Any]] = {}
        self.node_sets: dict[str, Any] = {}
        self.simulation_file: Path | None = None
        circuit = section.circuit
        if section.simulation:
            self.simulation_file = sf.resolve_path(section.simulation, base)
            sim = sf.read_config(self.simulation_file)
            self.inputs = sim.get("inputs", {}) or {}
            if sim.get("node_sets_file"):
                self.node_sets = sf.read_json(sf.resolve_path(sim["node_sets_file"], self.simulation_file.parent))
            if circuit is None and sim.get("network"):
                circuit = str(sf.resolve_path(sim["network"], self.simulation_file.parent))
            elif circuit is None and sim.get("networks"):
                self._networks(sim, self.simulation_file)
        if circuit is not None:
            path = sf.resolve_path(circuit, base)
            self._networks(sf.read_config(path), path)
        for item in section.nodes:
            self.nodes.append((sf.resolve_path(item["nodes_file"], base), sf.resolve_path(item["node_types_file"], base)))
        for item in section.edges:
            self.edges.append((sf.resolve_path(item["edges_file"], base), sf.resolve_path(item["edge_types_file"], base)))
        for key, value in section.components.items():
            self.components[key] = sf.resolve_path(value, base)

    def _networks(self, config: dict[str, Any], path: Path) -> None:
        here = path.parent
        for key, value in (config.get("components") or {}).items():
            self.components.setdefault(key, sf.resolve_path(value, here))
        networks = config.get("networks") or {}
        for item in networks.get("nodes", []):
            try:
                self.nodes.append((sf.resolve_path(item["nodes_file"], here), sf.resolve_path(item["node_types_file"], here)))
            except KeyError as exc:
                raise sf.SonataError(path, "networks.nodes", f"missing {exc}") from None
        for item in networks.get("edges", []):
            try:
                self.edges.append((sf.resolve_path(item["edges_file"], here), sf.resolve_path(item["edge_types_file"], here)))
            except KeyError as exc:
                raise sf.SonataError(path, "networks.edges", f"missing {exc}") from None

    def node_populations(self) -> dict[str, sf.NodePopulation]:
        out = {}
        for nodes_file, types_file in self.nodes:
            for pop in sf.node_populations(nodes_file, types_file):
                out[pop.name] = pop
        return out

    def spike_inputs(self) -> dict[str, Path]:
        """Node population -> the spike file that drives it (the simulation config's inputs)."""
        out = {}
        where = self.simulation_file
        for name, spec in self.inputs.items():
            kind, module = spec.get("input_type"), spec.get("module")
            if kind != "spikes" or module not in ("sonata", "h5", "hdf5"):
                raise sf.SonataError(where, f"inputs.{name}", f"input_type {kind!r}, module {module!r}: only SONATA spike "
                                     "files (input_type 'spikes', module 'sonata' or 'h5') are read")
            node_set = spec.get("node_set")
            target = self.node_sets.get(node_set, node_set) if isinstance(node_set, str) else node_set
            population = target.get("population") if isinstance(target, dict) else target
            if not isinstance(population, str) or (isinstance(target, dict) and set(target) - {"population"}):
                raise sf.SonataError(where, f"inputs.{name}.node_set", f"{node_set!r}: only a whole node population is "
                                     "read as a node set")
            out[population] = sf.resolve_path(spec["input_file"], where.parent)
        return out


def _identifier(text: str) -> str:
    name = re.sub(r"[^A-Za-z0-9_]", "_", text)
    return name if re.match(r"^[A-Za-z_]", name) else f"t{name}"


def population_names(nodes: dict[str, sf.NodePopulation]) -> dict[tuple[str, int], str]:
    """(node population, node type id) -> population name."""
    out = {}
    for pop in nodes.values():
        present = [int(t) for t in np.unique(pop.node_type_id)]
        labels = {t: sf.NodeType(t, pop.types.get(t, {})).name for t in present}
        for t in present:
            label = labels[t] if list(labels.values()).count(labels[t]) == 1 else str(t)
            out[(pop.name, t)] = _identifier(f"{pop.name}_{label}")
    return out


def expand(data: dict[str, Any], base: Path) -> dict[str, Any]:
    """`data` (a scenario's TOML) with the populations and projections of its `[sonata]` table."""
    section = SonataSection.model_validate(data["sonata"])
    try:
        return _expand(data, base, section)
    except sf.SonataError as exc:
        if exc.why.startswith("no such file") and section.download:
            raise sf.SonataError(exc.file, exc.where, f"{exc.why}; these files are not shipped: get {section.download}") from None
        raise


def _expand(data: dict[str, Any], base: Path, section: SonataSection) -> dict[str, Any]:
    if section.column is not None:
        from .column import build_column

        if section.circuit or section.simulation or section.nodes or section.edges:
            raise sf.SonataError(base, "sonata.column", "a built column names its own files: give column alone, "
                                 "without circuit, simulation, nodes or edges")
        section = section.model_copy(update=build_column(section.column))
    circuit = Circuit(section, base)
    if not circuit.nodes:
        raise sf.SonataError(base, "sonata", "no node files: give circuit, simulation (with a network), or nodes")
    nodes = circuit.node_populations()
    names = population_names(nodes)
    inputs = circuit.spike_inputs()
    for name in section.poisson:
        if name not in nodes:
            raise sf.SonataError(base, f"sonata.poisson.{name}", f"no node population {name!r} (known: {', '.join(nodes)})")
    populations = dict(data.get("populations") or {})
    cell_kind: dict[str, bool] = {}
    for (node_pop, type_id), name in names.items():
        pop = nodes[node_pop]
        if name in populations:
            raise sf.SonataError(base, f"populations.{name}", "a population of this name comes from the SONATA circuit too")
        populations[name] = _population(pop, type_id, name, circuit, section, inputs)
        cell_kind[name] = populations[name]["cell_type"] in CELL_TYPES
    projections = list(data.get("projections") or [])
    synapse_dir = circuit.components.get("synaptic_models_dir")
    for edges_file, types_file in circuit.edges:
        for edge_pop in sf.edge_populations(edges_file):
            table = sf.edge_table(edges_file, types_file, edge_pop, nodes, synapse_dir)
            for (src_t, tgt_t, code), (a, b) in table.slices.items():
                pre, post = names[(table.source_population, src_t)], names[(table.target_population, tgt_t)]
                if not cell_kind[post]:
                    raise sf.SonataError(edges_file, f"edges/{edge_pop}", f"edges onto virtual nodes ({post})")
                receptor = sf.code_receptor(code)
                _check_port(types_file, edge_pop, receptor, post, populations[post])
                proj = _projection(table, a, b, receptor, pre, post, populations[post]["cell_type"], types_file,
                                   synapse_dir)
                proj["connector"].update(pre_size=populations[pre]["size"], post_size=populations[post]["size"])
                projections.append(proj)
    out = dict(data)
    out["sonata"] = section.model_dump(exclude_none=True)
    out["populations"], out["projections"] = populations, projections
    return out


def _population(pop: sf.NodePopulation, type_id: int, name: str, circuit: Circuit, section: SonataSection,
                inputs: dict[str, Path]) -> dict[str, Any]:
    row = pop.types.get(type_id)
    where = f"node type {type_id} ({sf.NodeType(type_id, row or {}).name})"
    if row is None:
        raise sf.SonataError(pop.types_file, where, f"used by nodes/{pop.name} in {pop.file} but not in this table")
    size = int(np.count_nonzero(pop.node_type_id == type_id))
    origin = {"nodes_file": str(pop.file), "node_types_file": str(pop.types_file), "population": pop.name,
              "node_type_id": type_id, "model_template": row.get("model_template", "")}
    if row.get("model_type") == "virtual":
        spec: dict[str, Any] = {"size": size, "scales": False, "sonata": origin, "record": {"spikes": False}}
        if pop.name in section.poisson:
            return {**spec, "cell_type": "SpikeSourcePoisson", "parameters": {"rate": section.poisson[pop.name]}}
        if pop.name in inputs:
            return {**spec, "cell_type": "SpikeSourceArray", "spike_file": {"file": str(inputs[pop.name]), "population": pop.name}}
        return {**spec, "cell_type": "SpikeSourceArray"}
    if row.get("model_type") not in ("point_neuron", "point_process", None):
        raise sf.SonataError(pop.types_file, where, f"model_type {row.get('model_type')!r}: only point neurons and "
                             "virtual nodes are translated")
    template = row.get("model_template", "")
    why = model_problem(template)
    if why is not None:
        raise sf.SonataError(pop.types_file, where, why)
    model = MODELS[template[len("nest:"):]]
    given = {}
    if row.get("dynamics_params"):
        folder = circuit.components.get("point_neuron_models_dir")
        if folder is None:
            raise sf.SonataError(pop.types_file, where, "dynamics_params given but the circuit names no point_neuron_models_dir")
        given = sf.read_json(folder / row["dynamics_params"])
        bad = model.bad_values(given)
        if bad:
            raise sf.SonataError(folder / row["dynamics_params"], where, f"{', '.join(bad)}: expected numbers"
                                 + (" (lists of numbers, true/false where glif_psc takes them)" if model.vectors else ""))
    try:
        params, v_init, unknown = model.translate(given)
    except ValueError as exc:
        raise sf.SonataError(pop.types_file, where, f"{template}: {exc}") from None
    if unknown:
        raise sf.SonataError(pop.types_file, where, f"{template}: {', '.join(unknown)} have no {model.cell_type} equivalent")
    if not params["v_reset"] < params["v_thresh"] or params["cm"] <= 0 or params["tau_m"] <= 0:
        raise sf.SonataError(pop.types_file, where, f"{template}: V_reset < V_th, C_m > 0 and tau_m > 0 are needed, got "
                             f"{given}")
    return {"cell_type": model.cell_type, "size": size, "scales": False, "sonata": origin, "parameters": params,
            "initial_values": {"v": v_init}, "record": {"spikes": True, "v": min(section.record_v, size)}}


def _range(values: np.ndarray) -> Any:
    low, high = float(values.min()), float(values.max())
    return low if low == high else {"distribution": "uniform", "low": low, "high": high}


def _check_port(types_file: Path, edge_pop: str, receptor: str, post: str, spec: dict[str, Any]) -> None:
    """Edges onto a multi-receptor cell name one of its ports (receptor_type 1..n); onto any other, port 0."""
    multi = spec["cell_type"] in MULTI_RECEPTOR
    if multi and receptor in ("excitatory", "inhibitory"):
        raise sf.SonataError(types_file, f"edges/{edge_pop} onto {post}", f"receptor_type 0 onto {spec['cell_type']}, "
                             "whose receptors are ports 1..n (one per tau_syn): give the edge type a receptor_type "
                             "(its synapse's dynamics_params or an edge_types column)")
    if multi and int(receptor[3:]) > len(spec["parameters"]["tau_syn"]):
        raise sf.SonataError(types_file, f"edges/{edge_pop} onto {post}", f"receptor_type {receptor[3:]}: {post} has "
                             f"{len(spec['parameters']['tau_syn'])} receptor port(s) (one per tau_syn)")
    if not multi and receptor not in ("excitatory", "inhibitory"):
        raise sf.SonataError(types_file, f"edges/{edge_pop} onto {post}", f"receptor_type {receptor[3:]} onto "
                             f"{spec['cell_type']}, which takes NEST's port 0 only (the sign picks the receptor)")


def _projection(table: sf.EdgeTable, a: int, b: int, receptor: str, pre: str, post: str, cell_type: str,
                types_file: Path, synapse_dir: Path | None) -> dict[str, Any]:
    weight = pynn_weights(table.weight[a:b], cell_type)
    connector = {"type": "sonata_edges", "edges_file": str(table.file), "edge_types_file": str(types_file),
                 "population": table.name, "n": b - a}
    if synapse_dir is not None:
        connector["synaptic_models_dir"] = str(synapse_dir)
    tag = receptor[:3] if receptor in ("excitatory", "inhibitory") else receptor  # exc, inh, syn1, ...
    return {"name": f"{table.name}:{pre}->{post}:{tag}", "pre": pre, "post": post, "receptor": receptor,
            "connector": connector, "weight": _range(weight), "delay": _range(table.delay[a:b])}


def pynn_weights(nest_weights: np.ndarray, cell_type: str) -> np.ndarray:
    """NEST's signed weights (nS onto conductance cells, pA onto current cells, mV onto iaf_psc_delta)
    -> PyNN's (uS, nA: x 1e-3; mV as they are); conductances are magnitudes (the receptor says
    inhibitory), currents and voltage steps keep their sign."""
    w = nest_weights * _WEIGHT_FACTOR.get(cell_type, 1e-3)
    return np.abs(w) if cell_type.startswith("IF_cond") else w
