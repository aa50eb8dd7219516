"""A synthetic V1-like column, built with bmtk's NetworkBuilder and written as SONATA files.

SYNTHETIC: a stand-in for the Billeh et al. (2020) model that needs no download; it has that
model's structure (a cylinder of cells in layers, excitatory and inhibitory classes, connection
probability falling with distance in the cortical plane, LGN-like virtual inputs that drive
layer 4 most), not its data. Every number below is snnbench's choice, made so that the column is
active and stable at its default size; none is fitted to or taken from the Allen model. Where a
number follows a textbook convention, the comment says which.

The files go to a cache folder named by the parameters (and this builder's version), so a
scenario loads them from there after the first build: `$SNNBENCH_CACHE_DIR/sonata/` (default
`~/.cache/snnbench/sonata/`). They are read back through the same path as any SONATA circuit.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from ..backends.common.caches import cache_root

BUILDER_VERSION = 1  # bump when the construction changes: old caches are then not reused

# Layers: (name, share of the column's cells, depth range in um (y; bmtk's V1 convention)).
LAYERS = [("L23", 0.35, (100.0, 400.0)), ("L4", 0.25, (400.0, 550.0)), ("L5", 0.2, (550.0, 800.0)),
          ("L6", 0.2, (800.0, 1100.0))]
INHIBITORY_SHARE = 0.2  # of each layer (the common 80:20 E:I split)

# Cell models, NEST names and units (pF, ms, mV, pA, nS): E cells iaf_psc_exp, I cells iaf_cond_exp.
E_PARAMS = {"C_m": 250.0, "tau_m": 20.0, "E_L": -70.0, "V_th": -50.0, "V_reset": -60.0, "t_ref": 2.0,
            "tau_syn_ex": 2.0, "tau_syn_in": 5.0, "I_e": 350.0, "V_m": -65.0}
I_PARAMS = {"C_m": 200.0, "g_L": 20.0, "E_L": -70.0, "V_th": -52.0, "V_reset": -60.0, "t_ref": 1.0,
            "tau_syn_ex": 1.0, "tau_syn_in": 3.0, "E_ex": 0.0, "E_in": -80.0, "I_e": 300.0, "V_m": -65.0}

# Recurrent connectivity: peak probability and Gaussian width (um) in the x-z plane, weight
# (pA onto E cells, nS onto I cells; negative: inhibitory, NEST's convention), delay (ms).
SIGMA = 150.0
RULES = {  # (source class, target class): (p_max, weight, delay)
    ("e", "e"): (0.10, 60.0, 1.5),
    ("e", "i"): (0.20, 2.0, 1.0),
    ("i", "e"): (0.30, -250.0, 1.0),
    ("i", "i"): (0.20, -4.0, 1.0),
}
SAME_LAYER_BOOST = 2.0  # within a layer p is this much higher (capped at 1)
LGN_P = {"L4": 0.2, "L6": 0.05}  # LGN -> layer, distance-independent
LGN_WEIGHT = {"e": 120.0, "i": 3.0}  # pA onto E, nS onto I
LGN_DELAY = 1.7  # ms
INPUT_DURATION = 10_000.0  # ms of LGN spikes in the input file; runs longer than this get no input after it


def column_cache() -> Path:
    return cache_root("sonata")


def build_column(spec) -> dict[str, Any]:
    """Build (or reuse) the column for `spec` (a SonataColumn); the `[sonata]` keys that name it."""
    params = {"builder": BUILDER_VERSION, **spec.model_dump()}
    digest = hashlib.sha256(json.dumps(params, sort_keys=True).encode()).hexdigest()[:12]
    folder = column_cache() / f"v1-column-{digest}"
    if not (folder / "simulation_config.json").is_file():
        folder.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".building-", dir=folder.parent))
        try:
            write_column(staging, spec)
            (staging / "parameters.json").write_text(json.dumps(params, indent=1))
            try:
                staging.rename(folder)
            except OSError:  # built meanwhile by another process: theirs is as good
                shutil.rmtree(staging, ignore_errors=True)
        finally:
            if staging.exists():
                shutil.rmtree(staging, ignore_errors=True)
    return {"simulation": str(folder / "simulation_config.json"), "circuit": str(folder / "circuit_config.json")}


def _positions(rng: np.random.Generator, n: int, radius: float, depth: tuple[float, float]) -> np.ndarray:
    r = radius * np.sqrt(rng.random(n))  # uniform on the disc
    phi = rng.random(n) * 2 * np.pi
    return np.column_stack((r * np.cos(phi), rng.uniform(*depth, n), r * np.sin(phi)))


def write_column(folder: Path, spec) -> None:
    from bmtk.builder import NetworkBuilder
    from bmtk.utils.reports.spike_trains import PoissonSpikeGenerator

    rng = np.random.default_rng(spec.seed)
    network, components = folder / "network", folder / "components" / "point_neuron_models"
    synapses = folder / "components" / "synaptic_models"
    for d in (network, components, synapses):
        d.mkdir(parents=True)
    (components / "exc_lif.json").write_text(json.dumps(E_PARAMS))
    (components / "inh_lif.json").write_text(json.dumps(I_PARAMS))
    (synapses / "static.json").write_text(json.dumps({"synapse_model": "static_synapse"}))

    v1 = NetworkBuilder("v1")
    counts = np.floor(np.array([share for _, share, _ in LAYERS]) * spec.cells).astype(int)
    counts[0] += spec.cells - counts.sum()
    for (layer, _, depth), n in zip(LAYERS, counts):
        n_i = max(1, int(round(n * INHIBITORY_SHARE)))
        for ei, size, template, params in (("e", n - n_i, "nest:iaf_psc_exp", "exc_lif.json"),
                                            ("i", n_i, "nest:iaf_cond_exp", "inh_lif.json")):
            xyz = _positions(rng, size, spec.radius, depth)
            v1.add_nodes(N=size, pop_name=f"{layer}{ei}", layer=layer, ei=ei, model_type="point_neuron",
                         model_template=template, dynamics_params=params, x=xyz[:, 0], y=xyz[:, 1], z=xyz[:, 2])

    def distance_rule(sources, target, p_max, layer_boost):
        xz = np.array([[s["x"], s["z"]] for s in sources])
        d2 = (xz[:, 0] - target["x"]) ** 2 + (xz[:, 1] - target["z"]) ** 2
        same = np.array([s["layer"] == target["layer"] for s in sources])
        p = np.minimum(1.0, p_max * np.exp(-d2 / (2 * SIGMA ** 2)) * np.where(same, layer_boost, 1.0))
        ids = np.array([s.node_id for s in sources])
        hit = (rng.random(len(sources)) < p) & (ids != target.node_id)
        return hit.astype(int)

    for (pre, post), (p_max, weight, delay) in RULES.items():
        v1.add_edges(source={"ei": pre}, target={"ei": post}, connection_rule=distance_rule,
                     connection_params={"p_max": p_max, "layer_boost": SAME_LAYER_BOOST}, iterator="all_to_one",
                     syn_weight=weight, delay=delay, dynamics_params="static.json", model_template="static_synapse")
    v1.build()
    v1.save(output_dir=str(network))

    lgn = NetworkBuilder("lgn")
    lgn.add_nodes(N=spec.lgn, pop_name="lgn", model_type="virtual")

    def lgn_rule(sources, target, p):
        return (rng.random(len(sources)) < p).astype(int)

    for layer, p in LGN_P.items():
        for ei, weight in LGN_WEIGHT.items():
            lgn.add_edges(source=lgn.nodes(), target=v1.nodes(layer=layer, ei=ei), connection_rule=lgn_rule,
                          connection_params={"p": p}, iterator="all_to_one", syn_weight=weight, delay=LGN_DELAY,
                          dynamics_params="static.json", model_template="static_synapse")
    lgn.build()
    lgn.save(output_dir=str(network))

    inputs = folder / "inputs"
    inputs.mkdir()
    spikes = PoissonSpikeGenerator(population="lgn", seed=spec.seed)
    spikes.add(node_ids=list(range(spec.lgn)), firing_rate=spec.lgn_rate, times=(0.0, INPUT_DURATION / 1000.0))
    spikes.to_sonata(str(inputs / "lgn_spikes.h5"))

    write_configs(folder, ["v1", "lgn"], [("v1", "v1"), ("lgn", "v1")], {"lgn": "inputs/lgn_spikes.h5"})


def write_configs(folder: Path, nodes: list[str], edges: list[tuple[str, str]], inputs: dict[str, str],
                  tstop: float = 1000.0, dt: float = 0.1) -> None:
    """circuit_config.json and simulation_config.json for files laid out as bmtk's
    NetworkBuilder.save writes them (network/<pop>_nodes.h5, network/<src>_<tgt>_edges.h5, ...),
    with components/point_neuron_models, components/synaptic_models and spike inputs
    (node population: file relative to `folder`)."""
    circuit = {
        "manifest": {"$BASE_DIR": "${configdir}", "$NETWORK_DIR": "$BASE_DIR/network",
                     "$COMPONENTS_DIR": "$BASE_DIR/components"},
        "components": {"point_neuron_models_dir": "$COMPONENTS_DIR/point_neuron_models",
                       "synaptic_models_dir": "$COMPONENTS_DIR/synaptic_models"},
        "networks": {
            "nodes": [{"nodes_file": f"$NETWORK_DIR/{p}_nodes.h5", "node_types_file": f"$NETWORK_DIR/{p}_node_types.csv"}
                      for p in nodes],
            "edges": [{"edges_file": f"$NETWORK_DIR/{a}_{b}_edges.h5", "edge_types_file": f"$NETWORK_DIR/{a}_{b}_edge_types.csv"}
                      for a, b in edges],
        },
    }
    (folder / "circuit_config.json").write_text(json.dumps(circuit, indent=2))
    simulation = {
        "manifest": {"$BASE_DIR": "${configdir}", "$OUTPUT_DIR": "$BASE_DIR/output"},
        "run": {"tstop": tstop, "dt": dt},
        "target_simulator": "NEST",
        "network": "$BASE_DIR/circuit_config.json",
        "inputs": {f"{pop}_spikes": {"input_type": "spikes", "module": "sonata", "input_file": f"$BASE_DIR/{file}",
                                     "node_set": pop} for pop, file in inputs.items()},
        "output": {"output_dir": "$OUTPUT_DIR", "spikes_file": "spikes.h5"},
    }
    (folder / "simulation_config.json").write_text(json.dumps(simulation, indent=2))
