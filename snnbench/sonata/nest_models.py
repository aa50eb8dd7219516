"""SONATA point-neuron models (bmtk's `nest:<model>` templates) -> PyNN standard cell types.

A SONATA node type names its model as `model_template = "nest:iaf_cond_exp"` and its
parameters in a `dynamics_params` JSON file, in NEST's names and units (pF, nS, pA, mV, ms).
Each row of `MODELS` says which PyNN type it becomes and how each PyNN parameter (PyNN's units:
nF, uS, nA, mV, ms) is computed from NEST's; a NEST parameter that the JSON leaves out takes
NEST's default (checked against NEST's own defaults by the tests), as it would in bmtk's
pointnet, which hands the JSON to NEST as it is. A parameter outside the row has no PyNN
equivalent: the node type is refused, naming it. Synaptic weights: NEST's nS (conductance
synapses) and pA (current synapses) -> uS and nA, both x 1e-3; NEST's sign picks the receptor;
iaf_psc_delta's mV are PyNN's mV. glif_psc (GLIF_curr_alpha, snnbench's named extension) has
vector parameters (tau_syn: one port each; the after-spike currents) and the three mechanism
flags that choose the variant; its edges name a port by their synapse's receptor_type (1, 2, ...:
"syn1", "syn2", ...), the weight keeping NEST's sign.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

_PER_MILLE = 1e-3  # pF -> nF, pA -> nA, nS -> uS


@dataclass(frozen=True)
class ModelTranslation:
    nest_model: str
    cell_type: str  # the PyNN standard type
    defaults: dict[str, float]  # NEST's defaults, NEST units: every parameter the row reads
    parameters: dict[str, Callable[[dict[str, float]], float]]  # PyNN name <- f(NEST parameters)
    conductance: bool  # weights in nS (-> uS), else pA (-> nA)
    accepted: frozenset[str] = field(default_factory=frozenset)  # NEST keys read elsewhere (V_m: initial v)
    weight_factor: float = _PER_MILLE  # PyNN weight per NEST weight
    vectors: frozenset[str] = field(default_factory=frozenset)  # NEST keys that take a list of numbers
    flags: frozenset[str] = field(default_factory=frozenset)  # NEST keys that take true/false
    relative_to_e_l: frozenset[str] = field(default_factory=frozenset)  # held relative to E_L by NEST (see translate)

    def translate(self, given: dict[str, Any]) -> tuple[dict[str, Any], float, list[str]]:
        """(PyNN parameters, initial v in mV, the NEST keys that have no PyNN equivalent). A value
        that cannot be translated raises ValueError saying why."""
        unknown = sorted(k for k in given if k not in self.defaults and k not in self.accepted)
        given = dict(given)
        if "E_L" in given:  # NEST keeps these relative to E_L: a new E_L alone moves them with it
            for key in self.relative_to_e_l - set(given):
                given[key] = self.defaults[key] - self.defaults["E_L"] + given["E_L"]
        p = {**self.defaults, **given}
        return {name: _value(f(p)) for name, f in self.parameters.items()}, float(p["V_m"]), unknown

    def bad_values(self, given: dict[str, Any]) -> list[str]:
        """The keys of `given` whose values are of the wrong kind (numbers, lists of numbers, true/false)."""
        def number(v):
            return isinstance(v, (int, float)) and not isinstance(v, bool)

        return [k for k, v in given.items()
                if not (isinstance(v, bool) if k in self.flags
                        else isinstance(v, list) and all(number(x) for x in v) if k in self.vectors else number(v))]


def _value(value: Any) -> Any:
    return [float(x) for x in value] if isinstance(value, list) else value if isinstance(value, int) else float(value)


_COMMON = {  # PyNN name: NEST expression  (PyNN unit <- NEST unit)
    "cm": lambda p: p["C_m"] * _PER_MILLE,  # nF <- pF
    "v_rest": lambda p: p["E_L"],  # mV
    "v_reset": lambda p: p["V_reset"],  # mV
    "v_thresh": lambda p: p["V_th"],  # mV
    "tau_refrac": lambda p: p["t_ref"],  # ms
    "tau_syn_E": lambda p: p["tau_syn_ex"],  # ms
    "tau_syn_I": lambda p: p["tau_syn_in"],  # ms
    "i_offset": lambda p: p["I_e"] * _PER_MILLE,  # nA <- pA
}

# NEST's defaults and the PyNN parameters derived from them, the same for the exponential and the
# alpha-shaped synapses of each family (alpha weights: peak current pA / peak conductance nS).
_CURRENT_DEFAULTS = {"C_m": 250.0, "tau_m": 10.0, "E_L": -70.0, "V_reset": -70.0, "V_th": -55.0, "t_ref": 2.0,
                     "tau_syn_ex": 2.0, "tau_syn_in": 2.0, "I_e": 0.0, "V_m": -70.0}
_CURRENT = {**_COMMON, "tau_m": lambda p: p["tau_m"]}  # ms
_CONDUCTANCE_DEFAULTS = {"C_m": 250.0, "g_L": 16.6667, "E_L": -70.0, "V_reset": -60.0, "V_th": -55.0, "t_ref": 2.0,
                         "tau_syn_ex": 0.2, "tau_syn_in": 2.0, "E_ex": 0.0, "E_in": -85.0, "I_e": 0.0, "V_m": -70.0}
_CONDUCTANCE = {**_COMMON,
                "tau_m": lambda p: p["C_m"] / p["g_L"],  # ms <- pF / nS
                "e_rev_E": lambda p: p["E_ex"],  # mV
                "e_rev_I": lambda p: p["E_in"]}  # mV

MODELS: dict[str, ModelTranslation] = {
    nest: ModelTranslation(nest, pynn, defaults=dict(defaults), parameters=dict(parameters), conductance=conductance)
    for nest, pynn, defaults, parameters, conductance in [
        ("iaf_cond_exp", "IF_cond_exp", _CONDUCTANCE_DEFAULTS, _CONDUCTANCE, True),
        ("iaf_psc_exp", "IF_curr_exp", _CURRENT_DEFAULTS, _CURRENT, False),
        ("iaf_psc_alpha", "IF_curr_alpha", _CURRENT_DEFAULTS, _CURRENT, False),
        ("iaf_cond_alpha", "IF_cond_alpha", _CONDUCTANCE_DEFAULTS, _CONDUCTANCE, True),
    ]
}

# iaf_psc_delta: IF_curr_delta (no synaptic time constants; weights are steps of v in mV, as PyNN's).
_DELTA_DEFAULTS = {"C_m": 250.0, "tau_m": 10.0, "E_L": -70.0, "V_reset": -70.0, "V_th": -55.0, "t_ref": 2.0,
                   "I_e": 0.0, "V_m": -70.0}
_DELTA = {key: f for key, f in _CURRENT.items() if key not in ("tau_syn_E", "tau_syn_I")}
MODELS["iaf_psc_delta"] = ModelTranslation("iaf_psc_delta", "IF_curr_delta", _DELTA_DEFAULTS, _DELTA, conductance=False,
                                           weight_factor=1.0)  # mV <- mV

# The GLIF variant (1-5) from glif_psc's mechanism flags (scenario.model.GLIF_VARIANTS, inverted).
_FLAGS = ("spike_dependent_threshold", "after_spike_currents", "adapting_threshold")


def _glif_variant(p: dict[str, Any]) -> int:
    from ..scenario.model import GLIF_VARIANTS

    flags = tuple(bool(p[key]) for key in _FLAGS)
    for variant, mechanisms in GLIF_VARIANTS.items():
        if mechanisms == flags:
            return variant
    raise ValueError(f"{', '.join(f'{k} = {v}' for k, v in zip(_FLAGS, flags))}: not one of glif_psc's five "
                     "combinations (GLIF1-5)")


_GLIF_DEFAULTS: dict[str, Any] = {  # glif_psc's defaults (NEST units: pF, nS, mV, ms, pA, 1/ms)
    "C_m": 58.72, "g": 9.43, "E_L": -78.85, "V_th": -51.68, "V_reset": -78.85, "V_m": -78.85, "t_ref": 3.75,
    "th_spike_add": 0.37, "th_spike_decay": 0.009, "voltage_reset_fraction": 0.20, "voltage_reset_add": 18.51,
    "th_voltage_index": 0.005, "th_voltage_decay": 0.09, "asc_init": [0.0, 0.0], "asc_decay": [0.003, 0.1],
    "asc_amps": [-9.18, -198.94], "asc_r": [1.0, 1.0], "tau_syn": [2.0],
    "spike_dependent_threshold": False, "after_spike_currents": False, "adapting_threshold": False,
}
_GLIF = {  # PyNN name: NEST expression  (PyNN unit <- NEST unit)
    "variant": _glif_variant,  # GLIF1-5 <- the three flags
    "cm": lambda p: p["C_m"] * _PER_MILLE,  # nF <- pF
    "tau_m": lambda p: p["C_m"] / p["g"],  # ms <- pF / nS
    "v_rest": lambda p: p["E_L"],  # mV
    "v_reset": lambda p: p["V_reset"],  # mV
    "v_thresh": lambda p: p["V_th"],  # mV
    "tau_refrac": lambda p: p["t_ref"],  # ms
    "th_spike_add": lambda p: p["th_spike_add"],  # mV
    "th_spike_decay": lambda p: p["th_spike_decay"],  # 1/ms
    "voltage_reset_fraction": lambda p: p["voltage_reset_fraction"],
    "voltage_reset_add": lambda p: p["voltage_reset_add"],  # mV
    "th_voltage_index": lambda p: p["th_voltage_index"],  # 1/ms
    "th_voltage_decay": lambda p: p["th_voltage_decay"],  # 1/ms
    "asc_init": lambda p: [a * _PER_MILLE for a in p["asc_init"]],  # nA <- pA
    "asc_decay": lambda p: list(p["asc_decay"]),  # 1/ms
    "asc_amps": lambda p: [a * _PER_MILLE for a in p["asc_amps"]],  # nA <- pA
    "asc_r": lambda p: list(p["asc_r"]),
    "tau_syn": lambda p: list(p["tau_syn"]),  # ms, one per receptor port
}
MODELS["glif_psc"] = ModelTranslation(
    "glif_psc", "GLIF_curr_alpha", _GLIF_DEFAULTS, _GLIF, conductance=False,
    vectors=frozenset(("asc_init", "asc_decay", "asc_amps", "asc_r", "tau_syn")), flags=frozenset(_FLAGS),
    relative_to_e_l=frozenset(("V_th", "V_reset", "V_m")))

# Models with no row, and why (refused with this reason).
PENDING: dict[str, str] = {}
REFUSED = {
    "glif_cond": "glif_cond's conductance-based receptor ports (one reversal potential each) have no snnbench cell type; "
                 "glif_psc (current-based) is read as GLIF_curr_alpha",
}


def model_problem(template: str) -> str | None:
    """Why a node type's model_template cannot be run; None when `MODELS` translates it."""
    if not template.startswith("nest:"):
        return f"model_template {template!r}: only bmtk's point-neuron templates 'nest:<model>' are read"
    from ..scenario.model import CELL_TYPES

    name = template[len("nest:"):]
    if name in MODELS and MODELS[name].cell_type in CELL_TYPES:
        return None
    if name in MODELS:
        return f"model_template {template!r}: its PyNN type {MODELS[name].cell_type} is not among snnbench's cell types yet"
    if name in PENDING:
        return (f"model_template {template!r}: its PyNN type {PENDING[name]} is not among snnbench's cell types yet")
    if name in REFUSED:
        return f"model_template {template!r}: {REFUSED[name]}"
    return f"model_template {template!r}: no PyNN standard type is known for NEST's {name}"
