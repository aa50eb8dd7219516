"""A synthetic V1-like column, built with bmtk's NetworkBuilder and written as SONATA files.

SYNTHETIC: a stand-in for the Billeh et al. (2020) model that needs no download; it has that
model's structure (a cylinder of cells in layers, excitatory and inhibitory classes, GLIF cells
with one receptor port per kind of input beside LIF types, connection probability falling with
distance in the cortical plane, LGN-like virtual inputs that drive layer 4 most, a background
input), not its data. Each number's comment says where it comes from: NEST's glif_psc defaults,
a textbook convention, or snnbench's choice (made so that the column is active and stable at
every size); none is fitted to or taken from the Allen model. `cells` scales it at constant
density (the default radius grows with sqrt(cells)).

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

BUILDER_VERSION = 2  # bump when the construction changes: old caches are then not reused
# 2: GLIF cells (nest:glif_psc, three receptor ports) in L23, L4 and L5; a background input; the
#    default radius grows with sqrt(cells) (constant density); the distance rule vectorised.

# Layers: (name, share of the column's cells, depth range in um (y; bmtk's V1 convention)).
LAYERS = [("L23", 0.35, (100.0, 400.0)), ("L4", 0.25, (400.0, 550.0)), ("L5", 0.2, (550.0, 800.0)),
          ("L6", 0.2, (800.0, 1100.0))]
INHIBITORY_SHARE = 0.2  # of each layer (the common 80:20 E:I split)

# The default disc: 400 um at 1000 cells (snnbench's choice; the Allen model's published analyses
# look at its 400 um core), growing as sqrt(cells) so that density, and with it each cell's
# in-degree, stays the same as the column is scaled (a larger piece of the same sheet).
RADIUS_AT_1000 = 400.0  # um


def default_radius(cells: int) -> float:
    return RADIUS_AT_1000 * (cells / 1000.0) ** 0.5


# Cell models per (layer, class): (model_template, dynamics_params file). The Allen model's cells
# are all glif_psc; here L23, L4 and L5 are GLIF (E: LIF_ASC, LIF_R, LIF_ASC; I: LIF) and L6 keeps
# the LIF types iaf_psc_exp and iaf_cond_exp, so that one column runs both kinds of translation.
CELL_MODELS = {
    ("L23", "e"): ("nest:glif_psc", "e_glif3.json"), ("L23", "i"): ("nest:glif_psc", "i_glif1.json"),
    ("L4", "e"): ("nest:glif_psc", "e_glif2.json"), ("L4", "i"): ("nest:glif_psc", "i_glif1.json"),
    ("L5", "e"): ("nest:glif_psc", "e_glif3.json"), ("L5", "i"): ("nest:glif_psc", "i_glif1.json"),
    ("L6", "e"): ("nest:iaf_psc_exp", "e_lif.json"), ("L6", "i"): ("nest:iaf_cond_exp", "i_lif.json"),
}

# LIF cells, NEST names and units (pF, ms, mV, pA, nS); snnbench's choice (textbook LIF values, set
# for moderate activity; unchanged since builder 1). They are driven by I_e; glif_psc has no I_e.
E_LIF = {"C_m": 250.0, "tau_m": 20.0, "E_L": -70.0, "V_th": -50.0, "V_reset": -60.0, "t_ref": 2.0,
         "tau_syn_ex": 2.0, "tau_syn_in": 5.0, "I_e": 350.0, "V_m": -65.0}
I_LIF = {"C_m": 200.0, "g_L": 20.0, "E_L": -70.0, "V_th": -52.0, "V_reset": -60.0, "t_ref": 1.0,
         "tau_syn_ex": 1.0, "tau_syn_in": 3.0, "E_ex": 0.0, "E_in": -80.0, "I_e": 300.0, "V_m": -65.0}

# GLIF cells (nest:glif_psc; pF, nS, mV, ms, pA, 1/ms). The membrane, threshold, after-spike
# currents and threshold/reset rules are NEST's glif_psc defaults (as NEST 3.10's GetDefaults
# gives them), written out so that the files say what they run; the flags pick the variant.
# Receptor ports (tau_syn, ms; snnbench's choice, textbook synaptic time scales, one per kind of
# input; the Allen model's glif_psc cells have several ports too): 1 recurrent excitation (AMPA-like, 2 ms),
# 2 inhibition (GABA_A-like, 5 ms), 3 external input, LGN and background (1 ms).
TAU_SYN = [2.0, 5.0, 1.0]
PORT = {"e": 1, "i": 2, "ext": 3}  # receptor_type of the edges onto GLIF cells, by source
_GLIF_BASE = {"C_m": 58.72, "g": 9.43, "E_L": -78.85, "V_th": -51.68, "V_reset": -78.85, "V_m": -78.85, "t_ref": 3.75,
              "tau_syn": TAU_SYN}
_NO_MECHANISM = {"spike_dependent_threshold": False, "after_spike_currents": False, "adapting_threshold": False}
GLIF_PARAMS = {
    # GLIF1 (LIF): the membrane alone
    "i_glif1.json": {**_GLIF_BASE, **_NO_MECHANISM},
    # GLIF2 (LIF_R): spike-dependent threshold and a reset from the last v; the reset rule's
    # voltage_reset_add is snnbench's choice: NEST's 18.51 mV puts a cell that spikes at threshold
    # back within 3 mV of it (E_L + 0.2 x 26.8 + 18.51 mV), a burster under steady drive
    "e_glif2.json": {**_GLIF_BASE, **_NO_MECHANISM, "spike_dependent_threshold": True,
                     "th_spike_add": 0.37, "th_spike_decay": 0.009, "voltage_reset_fraction": 0.20,
                     "voltage_reset_add": 5.0},
    # GLIF3 (LIF_ASC): two after-spike currents (a slow and a fast one, both hyperpolarising)
    "e_glif3.json": {**_GLIF_BASE, **_NO_MECHANISM, "after_spike_currents": True,
                     "asc_init": [0.0, 0.0], "asc_decay": [0.003, 0.1], "asc_amps": [-9.18, -198.94],
                     "asc_r": [1.0, 1.0]},
}

# Recurrent connectivity: peak probability and Gaussian width (um) in the x-z plane, delay (ms);
# weights by the target's model: onto LIF cells pA (iaf_psc_exp) or nS (iaf_cond_exp), onto GLIF
# cells pA at the alpha current's peak. Negative: inhibitory (NEST's convention). snnbench's choice.
SIGMA = 150.0
RULES = {  # (source class, target class): (p_max, delay, weight onto LIF, weight onto GLIF)
    ("e", "e"): (0.10, 1.5, 60.0, 20.0),
    ("e", "i"): (0.20, 1.0, 2.0, 25.0),
    ("i", "e"): (0.30, 1.0, -250.0, -40.0),
    ("i", "i"): (0.20, 1.0, -4.0, -40.0),
}
SAME_LAYER_BOOST = 2.0  # within a layer p is this much higher (capped at 1)
LGN_P = {"L4": 0.2, "L6": 0.05}  # LGN -> layer, distance-independent
# (target class, target model): pA onto iaf_psc_exp, nS onto iaf_cond_exp, pA at the alpha peak onto GLIF
LGN_WEIGHT = {("e", "lif"): 120.0, ("i", "lif"): 3.0, ("e", "glif"): 60.0, ("i", "glif"): 60.0}
LGN_DELAY = 1.7  # ms
# Background onto the GLIF cells (they have no I_e; the Allen model has a background input too): BKG_SOURCES Poisson trains at BKG_RATE, each cell taking each with
# probability BKG_P. snnbench's choice, set so that the GLIF layers fire at a few Hz.
BKG_SOURCES, BKG_RATE, BKG_P = 100, 50.0, 0.2  # -, Hz, -
BKG_WEIGHT = {"e": 80.0, "i": 80.0}  # pA at the alpha current's peak
BKG_DELAY = 1.0  # ms
INPUT_DURATION = 10_000.0  # ms of LGN and background spikes in the input files; runs longer than this get no input after it


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

    rng = np.random.default_rng(spec.seed)
    network, components = folder / "network", folder / "components" / "point_neuron_models"
    synapses = folder / "components" / "synaptic_models"
    for d in (network, components, synapses):
        d.mkdir(parents=True)
    for name, params in {"e_lif.json": E_LIF, "i_lif.json": I_LIF, **GLIF_PARAMS}.items():
        (components / name).write_text(json.dumps(params))
    (synapses / "static.json").write_text(json.dumps({"synapse_model": "static_synapse"}))
    for source, port in PORT.items():  # onto GLIF cells: the port of each kind of input
        (synapses / f"{source}_to_glif.json").write_text(json.dumps({"receptor_type": port}))

    def synapse(source: str, model: str) -> str:
        return f"{source}_to_glif.json" if model == "glif" else "static.json"

    v1 = NetworkBuilder("v1")
    radius = spec.radius if spec.radius is not None else default_radius(spec.cells)
    counts = np.floor(np.array([share for _, share, _ in LAYERS]) * spec.cells).astype(int)
    counts[0] += spec.cells - counts.sum()
    for (layer, _, depth), n in zip(LAYERS, counts):
        n_i = max(1, int(round(n * INHIBITORY_SHARE)))
        for ei, size in (("e", n - n_i), ("i", n_i)):
            template, params = CELL_MODELS[(layer, ei)]
            xyz = _positions(rng, size, radius, depth)
            v1.add_nodes(N=size, pop_name=f"{layer}{ei}", layer=layer, ei=ei, model=_model(template),
                         model_type="point_neuron", model_template=template, dynamics_params=params,
                         x=xyz[:, 0], y=xyz[:, 1], z=xyz[:, 2])

    arrays: dict[int, tuple] = {}  # bmtk hands every target the same list of sources: read it once

    def source_arrays(sources):
        if id(sources) not in arrays:
            arrays[id(sources)] = (sources, np.array([s["x"] for s in sources]), np.array([s["z"] for s in sources]),
                                   np.array([s["layer"] for s in sources]), np.array([s.node_id for s in sources]))
        return arrays[id(sources)][1:]

    def distance_rule(sources, target, p_max, layer_boost):
        x, z, layer, ids = source_arrays(sources)
        d2 = (x - target["x"]) ** 2 + (z - target["z"]) ** 2
        p = np.minimum(1.0, p_max * np.exp(-d2 / (2 * SIGMA ** 2)) * np.where(layer == target["layer"], layer_boost, 1.0))
        hit = (rng.random(len(sources)) < p) & (ids != target.node_id)
        return hit.astype(int)

    for (pre, post), (p_max, delay, w_lif, w_glif) in RULES.items():
        for model, weight in (("lif", w_lif), ("glif", w_glif)):
            v1.add_edges(source={"ei": pre}, target={"ei": post, "model": model}, connection_rule=distance_rule,
                         connection_params={"p_max": p_max, "layer_boost": SAME_LAYER_BOOST}, iterator="all_to_one",
                         syn_weight=weight, delay=delay, dynamics_params=synapse(pre, model),
                         model_template="static_synapse")
    v1.build()
    v1.save(output_dir=str(network))

    def random_rule(sources, target, p):
        return (rng.random(len(sources)) < p).astype(int)

    lgn = NetworkBuilder("lgn")
    lgn.add_nodes(N=spec.lgn, pop_name="lgn", model_type="virtual")
    for layer, p in LGN_P.items():
        for ei in ("e", "i"):
            model = _model(CELL_MODELS[(layer, ei)][0])
            lgn.add_edges(source=lgn.nodes(), target=v1.nodes(layer=layer, ei=ei), connection_rule=random_rule,
                          connection_params={"p": p}, iterator="all_to_one", syn_weight=LGN_WEIGHT[(ei, model)],
                          delay=LGN_DELAY, dynamics_params=synapse("ext", model), model_template="static_synapse")
    lgn.build()
    lgn.save(output_dir=str(network))

    bkg = NetworkBuilder("bkg")
    bkg.add_nodes(N=BKG_SOURCES, pop_name="bkg", model_type="virtual")
    for ei, weight in BKG_WEIGHT.items():
        bkg.add_edges(source=bkg.nodes(), target=v1.nodes(ei=ei, model="glif"), connection_rule=random_rule,
                      connection_params={"p": BKG_P}, iterator="all_to_one", syn_weight=weight, delay=BKG_DELAY,
                      dynamics_params=synapse("ext", "glif"), model_template="static_synapse")
    bkg.build()
    bkg.save(output_dir=str(network))

    inputs = folder / "inputs"
    inputs.mkdir()
    lgn_seed, bkg_seed = (int(x) for x in np.random.SeedSequence(spec.seed).generate_state(2))
    _poisson_file(inputs / "lgn_spikes.h5", "lgn", spec.lgn, spec.lgn_rate, lgn_seed)
    _poisson_file(inputs / "bkg_spikes.h5", "bkg", BKG_SOURCES, BKG_RATE, bkg_seed)

    write_configs(folder, ["v1", "lgn", "bkg"], [("v1", "v1"), ("lgn", "v1"), ("bkg", "v1")],
                  {"lgn": "inputs/lgn_spikes.h5", "bkg": "inputs/bkg_spikes.h5"})


def _model(template: str) -> str:
    return "glif" if template == "nest:glif_psc" else "lif"


def _poisson_file(path: Path, population: str, n: int, rate_hz: float, seed: int) -> None:
    from bmtk.utils.reports.spike_trains import PoissonSpikeGenerator

    spikes = PoissonSpikeGenerator(population=population, seed=seed)
    spikes.add(node_ids=list(range(n)), firing_rate=rate_hz, times=(0.0, INPUT_DURATION / 1000.0))
    spikes.to_sonata(str(path))


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
