"""SONATA point-neuron models (bmtk's `nest:<model>` templates) -> PyNN standard cell types.

A SONATA node type names its model as `model_template = "nest:iaf_cond_exp"` and its
parameters in a `dynamics_params` JSON file, in NEST's names and units (pF, nS, pA, mV, ms).
Each row of `MODELS` says which PyNN type it becomes and how each PyNN parameter (PyNN's units:
nF, uS, nA, mV, ms) is computed from NEST's; a NEST parameter that the JSON leaves out takes
NEST's default (checked against NEST's own defaults by the tests), as it would in bmtk's
pointnet, which hands the JSON to NEST as it is. A parameter outside the row has no PyNN
equivalent: the node type is refused, naming it. Synaptic weights: NEST's nS (conductance
synapses) and pA (current synapses) -> uS and nA, both x 1e-3; NEST's sign picks the receptor.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

_PER_MILLE = 1e-3  # pF -> nF, pA -> nA, nS -> uS


@dataclass(frozen=True)
class ModelTranslation:
    nest_model: str
    cell_type: str  # the PyNN standard type
    defaults: dict[str, float]  # NEST's defaults, NEST units: every parameter the row reads
    parameters: dict[str, Callable[[dict[str, float]], float]]  # PyNN name <- f(NEST parameters)
    conductance: bool  # weights in nS (-> uS), else pA (-> nA)
    accepted: frozenset[str] = field(default_factory=frozenset)  # NEST keys read elsewhere (V_m: initial v)

    def translate(self, given: dict[str, float]) -> tuple[dict[str, float], float, list[str]]:
        """(PyNN parameters, initial v in mV, the NEST keys that have no PyNN equivalent)."""
        unknown = sorted(k for k in given if k not in self.defaults and k not in self.accepted)
        p = {**self.defaults, **given}
        return {name: float(f(p)) for name, f in self.parameters.items()}, float(p["V_m"]), unknown


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

# Models whose PyNN type has no row yet: iaf_psc_delta's weights are voltage jumps (mV), whose
# translation waits for snnbench's IF_curr_delta (refused with this reason).
PENDING = {"iaf_psc_delta": "IF_curr_delta"}
REFUSED = {
    "glif_psc": "multi-receptor GLIF (glif_psc, one synaptic port per receptor_type) is not supported yet",
    "glif_cond": "multi-receptor GLIF (glif_cond) is not supported yet",
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
