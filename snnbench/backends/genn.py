"""genn and genn.cuda: GeNN 5 through PyGeNN, on its single-threaded CPU backend and its CUDA backend.

PyGeNN is not on PyPI (`genn` there is an unrelated package): it is built from GeNN's sources
(see docs/backends.md, section genn). GeNN generates C++ (or CUDA) for the model, compiles it with make
and loads the library; a compiler and make are needed at run time.

The adapter works in two layers:

  * `describe(resolved, mode, network)` turns a resolved scenario into a `ModelDescription`: plain
    data (neuron populations with a model name, parameters, initial values; synapse populations
    with a connectivity snippet or explicit arrays, weight model, delays; the translations made).
    It is pure Python (numpy and snnbench only), so it is unit-tested without pygenn.
  * `GeNNBackend` applies a description to pygenn (`GeNNModel`), builds and loads it (the compile
    phase), steps it, and reads spikes and v back.

Neurons. GeNN's built-in LIF with ExpCurr/ExpCond does not integrate as numba and NEST do: LIF
treats the synaptic input as a current held constant over the step (exponential Euler), ExpCurr
scales its input by tau/dt (1 - exp(-dt/tau)) (the step mean, not the exact iaf_psc_exp
propagator), and ExpCond injects g (E - V) with V and g at the start of the step (so the
conductance never enters the membrane's time constant). So the cells are custom neuron models
that hold their synaptic variables themselves and integrate as `numba_kernels` and `numba_cells`:

  lif_curr (IF_curr_exp): v <- v_rest + (v - v_rest) P22 + P21E I_E + P21I I_I + P20 i_offset
      (unless refractory); spike if v >= v_thresh; I <- I exp(-dt/tau_syn) + arrivals
  lif_cond (IF_cond_exp): with the step-mean conductances g tau/dt (1 - exp(-dt/tau)),
      v <- v_inf + (v - v_inf) exp(-dt g_tot / cm); refractory: v = v_reset; else spike if
      v >= v_thresh; g <- g exp(-dt/tau) + arrivals
  lif_curr_alpha (IF_curr_alpha): iaf_psc_alpha's propagators, v from x and y at the start of the
      step; y <- P21 x + P11 y, x <- P11 x + e/tau_syn arrivals
  lif_curr_delta (IF_curr_delta): v <- v_rest + (v - v_rest) P33 + P30 i_offset + arrivals (mV),
      the arrivals lost while refractory (iaf_psc_delta)
  lif_cond_alpha (IF_cond_alpha): NEST's adaptive RKF45 (`models.rkf45`: GSL's step control, NEST's
      tolerance in NEST's units pF/nS/pA) unrolled into the generated code, the step size kept per
      cell (Hstep) as NEST keeps it per node; then refractoriness or the threshold; x += e/tau arrivals
  adex (EIF_cond_exp_isfa_ista): aeif_cond_exp's RKF45 (tolerances 1e-6 on y and y'), after every
      accepted sub-step the refractory clamp or the spike (v <- v_reset, w += b); then arrivals
  hh (HH_cond_exp): hh_cond_exp_traub's RKF45 over the step, arrivals, then a spike where v is
      above v_offset + 30 mV and falling, none for 2 ms after one (no reset; GeNN's TraubMiles
      takes 25 fixed Euler sub-steps)
  glif_<asc>_<ports>_<flags> (GLIF_curr_alpha): glif_psc's update (`models.glif.step`) written for
      the population's variant, number of after-spike currents and of ports; port k's alpha PSC
      is fed through Isyn<k>; the spike and its reset happen in the sim code (reported by Spiked)
  izhikevich (Izhikevich): forward Euler of v and u from the start-of-step values, arrivals on v,
      v >= 30 mV: v <- c, u <- u + d (izhikevich's order; GeNN's own takes two half steps for v)

The propagators are computed here in Python (as `numba_kernels.group_parameters`) and given to
GeNN as parameters. Arrivals reach the cell through two additional input variables (IsynE,
IsynI): every synapse population uses GeNN's DeltaCurr postsynaptic model (injectCurrent(inSyn);
inSyn = 0) with `post_target_var` set to IsynE or IsynI, so a weight is added to the cell's own
g_E/g_I (uS), I_E/I_I (nA, inhibitory weights negative: PyNN's sign convention), x (times
e/tau_syn) or v (mV) unchanged, with no tau/dt factor. Refractoriness is a step counter (round(tau_refrac / dt) steps, as NEST);
GeNN's auto-refractory check is off. Double precision by default (option precision="float").

Time conventions (snnbench follows NEST, see `numba_kernels`). GeNN's step k runs the synapse
update (spikes of step k-1-D, D = axonal delay steps) then the neuron update at t = k dt. A
spike of step k is reported at (k+1) dt (GeNN's recorded time + dt); a delay of d steps is
GeNN's axonal delay d - 1 (the spike of step k is delivered in step k + d, after that step's
cell update: it reaches v from step k + d + 1, as in NEST and numba). Heterogeneous delays use
dendritic delays: StaticPulseDendriticDelay with d - 1 steps (at most 255: uint8). Source spikes
at m dt are emitted in step m - 1 (SpikeSourceArray, spike times given as (m - 1.5) dt so that
`t >= time` holds from step m - 1 whatever the rounding of t).

Connectivity. exact mode: every edge, weight and delay from the harness's arrays
(set_sparse_connections), initial v and source spikes too (Poisson sources become
SpikeSourceArrays). native mode: GeNN's own initialisation snippets and random numbers (seeded with
the run's seed): fixed_probability -> FixedProbability (FixedProbabilityNoAutapse without
autapses); fixed_in_degree with replacement -> FixedNumberPreWithReplacement; fixed_total_number
with replacement -> FixedNumberTotalWithReplacement; one_to_one -> OneToOne; all_to_all -> a DENSE
matrix. GeNN has no snippet for in-degree or total number without replacement, nor for
with-replacement without autapses: those, distance-dependent connectors, explicit lists and
projections whose delays are distributions are built from the harness's arrays (recorded).
Initial v and weights that are distributions use GeNN's Uniform / Normal / NormalClipped var
initialisers. SpikeSourcePoisson -> a custom Bernoulli source: in each step of its window a
spike with probability rate dt (the harness's realisation too). A source with several spikes in
one step (rate dt > 1: the harness's Poisson counts, in native mode too; a spike time given twice
in a step) is a custom source (count_array) that counts them and spikes once, and its synapses
(count_pulse) deliver count x weight through a dendritic delay, as NEST's parrot passes the
multiplicity on.

Plastic synapses (PyNN's STDPMechanism with SpikePairRule and its three weight dependences, NEST's
stdp_pl_synapse_hom): one custom weight update model per rule (`stdp_model`, NEST's pairing as
numba_plastic computes it, see "plastic synapses" below): K+ and K- as pre- and postsynaptic
variables of the model, the pre spike processed without axonal delay (depression, then the weight
sent through a dendritic delay of d - 1 steps), the post spike by GeNN's postsynaptic learning with
a back-propagation delay of d - 1 steps (potentiation). GeNN's back-propagation delay is one per
synapse group: a plastic projection whose delays differ becomes one group per delay. The weights of
recorded projections are pulled after the steps before each recording time.

Code generation, make and loading are the 'compile' phase (after build). Generated code lives in
snnbench's cache ($SNNBENCH_CACHE_DIR, else $XDG_CACHE_HOME/snnbench or ~/.cache/snnbench) under
genn/<backend>/<scenario hash>-<mode>-N<N_pop>-<precision>-<O3|O0>; GeNN skips code generation when the
model's hash (model.sha) is unchanged and make skips what is up to date. Option cache="cold" uses a
fresh temporary directory, removed afterwards. GeNN writes the seed into the generated code (and,
in exact mode, each projection's longest row): a run with another seed regenerates and recompiles
(compile_cache "partial", ~3-6 s for VA COBA here), a repeat of the same run is warm. GeNN compiles its generated code without any -O
flag by default; the adapter sets optimize_code (-O3 -ffast-math, as Brian2's default flags) unless
option optimize=false (VA COBA sim 0.6-0.7 s instead of 2.1-2.3 s here). backend_info["compile_cache"] is "warm" (same hash,
no object rebuilt), "cold" (nothing there before) or "partial", with codegen_s, make_s, load_s.
"""

from __future__ import annotations

import dataclasses
import fcntl
import glob
import importlib.util
import math
import os
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from ..output import PopulationOutput, SimulationOutput, spikes_from_steps
from ..scenario.model import (
    DistanceDelay,
    Normal,
    NormalClipped,
    PLASTICITY_RULES,
    PoissonSourcePopulation,
    Uniform,
    receptor_port,
)
from ..models import adex, alpha, glif, hh, izhikevich, rkf45
from ..models.lif import cell_propagators
from ..scenario.realise import (
    Network,
    ProjectionArrays,
    array_multiplicity,
    realise_spike_steps,
    rng_for,
    spikes_per_step,
    step_multiplicity,
)
from ..scenario.resolve import ResolvedScenario
from .base import Backend, Option
from .common.caches import cache_root as shared_cache_root
from .common.devices import gpu_status as _gpu_status
from .common.template import weight_output
from .common.translations import Translations, delay_steps, harness_arrays, refractory_steps
from .nest import weight_factor

CACHE_OPTIONS = ("warm", "cold")
PRECISIONS = ("double", "float")
OPTIONS = (
    Option("cache", str, "warm", "warm: reuse the generated and compiled model in ~/.cache/snnbench/genn; "
           "cold: a fresh directory for this run, removed after it (measures a cold compile)", choices=CACHE_OPTIONS),
    Option("precision", str, "double", "GeNN's scalar type for the model's state and parameters (time stays double)",
           choices=PRECISIONS),
    Option("optimize", bool, True, "compile the generated code with -O3 -ffast-math (nvcc: -O3 --use_fast_math); "
           "false: GeNN's default build, without optimisation"),
)
MODEL_NAME = "snnbench"
MAX_DENDRITIC_STEPS = 255  # StaticPulseDendriticDelay's d is a uint8_t
# Spike-recording buffer: at most this many bytes at once (pulled and emptied when full).
_RECORDING_BYTES = 256 * 2**20

PYGENN_MISSING = ("pygenn (GeNN 5) is not installed, and it is not on PyPI ('genn' there is an unrelated package): "
                  "build it from GeNN's sources (python3.11 -m pip install <genn 5.4.0 source tree>) - see docs/backends.md 'genn, genn.cuda'")


def cache_root() -> Path:
    """snnbench's cache directory for GeNN's generated code."""
    return shared_cache_root("genn")


# ============================================================================= the description


@dataclass
class VarInit:
    """A GeNN variable initialisation snippet (drawn by GeNN) and its parameters."""

    snippet: str
    params: dict[str, float]


@dataclass
class PopulationSpec:
    name: str  # the scenario's name
    genn_name: str  # a C identifier
    size: int
    cell_type: str
    model: str  # "lif_cond", "lif_curr", "poisson_window" (custom) or "SpikeSourceArray" (GeNN's)
    params: dict[str, float] = field(default_factory=dict)
    vars: dict[str, Any] = field(default_factory=dict)  # float, VarInit or np.ndarray
    egps: dict[str, np.ndarray] = field(default_factory=dict)
    record_spikes: int = 0
    record_v: int = 0
    source_steps: list[np.ndarray] | None = None  # array sources: spike steps (t = step * dt), as given

    @property
    def is_source(self) -> bool:
        return self.model in ("poisson_window", "SpikeSourceArray", "count_array")


@dataclass
class SynapseSpec:
    label: str  # the scenario's projection label
    genn_name: str
    pre: str
    post: str
    target: str  # the additional input variable of the post cells: IsynE, IsynI or a port's Isyn<k>
    matrix: str  # "SPARSE" or "DENSE"
    weight_model: str  # StaticPulseConstantWeight, StaticPulse or StaticPulseDendriticDelay
    weight_params: dict[str, float] = field(default_factory=dict)
    weight_vars: dict[str, Any] = field(default_factory=dict)
    connectivity: tuple[str, dict[str, float]] | None = None  # native: (snippet, params)
    pre_idx: np.ndarray | None = None  # explicit connections (harness arrays)
    post_idx: np.ndarray | None = None
    axonal_delay_steps: int = 0
    max_dendritic_delay_timesteps: int | None = None
    back_prop_delay_steps: int = 0
    rule: str | None = None  # a plastic synapse's rule (of PLASTICITY_RULES): weight_model is then "stdp_<rule>"
    edge_index: np.ndarray | None = None  # one group of a projection split by delay: its edges' places in the harness's arrays

    @property
    def explicit(self) -> bool:
        return self.pre_idx is not None

    @property
    def n_explicit(self) -> int:
        return 0 if self.pre_idx is None else int(self.pre_idx.size)


@dataclass
class ModelDescription:
    dt: float
    n_steps: int
    seed: int  # GeNN's seed (>= 1: 0 means "random" to GeNN)
    precision: str
    populations: dict[str, PopulationSpec]
    synapses: list[SynapseSpec]
    empty: dict[str, int]  # projections without a single synapse (not given to GeNN)
    translations: list[dict[str, Any]]


def _identifier(prefix: str, name: str) -> str:
    return prefix + "".join(c if c.isalnum() else "_" for c in name)


def genn_seed(seed: int) -> int:
    """GeNN's seed for the run's seed: GeNN takes 0 as 'seed from the OS', so 1..2**32-1."""
    return int(seed) % (2**32 - 1) + 1


# Each cell type's custom neuron model, and its synaptic state variables (fed by IsynE/IsynI;
# none where the input steps v).
CELL_MODELS = {"IF_cond_exp": "lif_cond", "IF_curr_exp": "lif_curr", "IF_curr_alpha": "lif_curr_alpha",
               "IF_curr_delta": "lif_curr_delta", "IF_cond_alpha": "lif_cond_alpha", "Izhikevich": "izhikevich",
               "EIF_cond_exp_isfa_ista": "adex", "HH_cond_exp": "hh", "GLIF_curr_alpha": "glif"}
SYNAPTIC_VARS = {"lif_cond": ("gE", "gI"), "lif_curr": ("IE", "II"), "lif_curr_alpha": ("XE", "IE", "XI", "II"),
                 "lif_curr_delta": (), "lif_cond_alpha": ("XE", "GE", "XI", "GI"), "izhikevich": (),
                 "adex": ("GE", "GI"), "hh": ("GE", "GI")}
# What each model integrates, for the translation log (GeNN's built-in models do not, see above).
MODEL_NOTES = {
    "lif_cond": "exact integration as numba, step-mean conductances in the membrane's exponent; not GeNN's LIF with "
                "ExpCond, which injects g (E - V) as a constant current over the step",
    "lif_curr": "iaf_psc_exp's exact propagators; not GeNN's LIF with ExpCurr, which scales input by "
                "tau/dt (1 - exp(-dt/tau)) and holds it constant over the step",
    "lif_curr_alpha": "iaf_psc_alpha's exact propagators, x and y per synapse type inside the cell; not GeNN's "
                      "AlphaCurr postsynaptic model, which does not integrate them",
    "lif_curr_delta": "iaf_psc_delta's update: exact decay, each arrival steps v (mV) in its step, dropped while "
                      "refractory; not GeNN's LIF with DeltaCurr, which injects it as a current",
    "lif_cond_alpha": "iaf_cond_alpha's adaptive RKF45 (GSL's step control, NEST's tolerance 1e-3 in NEST's units, "
                      "the step size kept per cell), the same steps as NEST and numba; v held while refractory",
    "adex": "aeif_cond_exp's adaptive RKF45 (GSL's step control, NEST's tolerances 1e-6 in NEST's units, the step "
            "size kept per cell), the spike checked after every sub-step (v <- v_reset, w += b there), as NEST and numba",
    "hh": "hh_cond_exp_traub's adaptive RKF45 (GSL's step control, NEST's tolerance 1e-3, the step size kept per "
          "cell); a spike where v, above v_offset + 30 mV, falls, none for 2 ms after one; not GeNN's TraubMiles, "
          "which takes 25 fixed Euler sub-steps",
    "glif": "glif_psc's exact update in its order (after-spike currents' step means, threshold components, one alpha "
            "PSC per receptor port with iaf_psc_alpha's propagators), the code written for this population's variant, "
            "after-spike currents and ports",
    "izhikevich": "NEST's forward Euler order (v and u from the start-of-step values, arrivals step v); not GeNN's "
                  "Izhikevich, which takes two half steps for v",
}


# glif_psc's parameter row (`glif.parameters`) as named parameters: the fixed columns, then per
# after-spike current j and per port k (1-based, as the receptors "synK").
GLIF_FIXED = ("P33", "P30", "EL", "UReset", "ThInf", "HasSpike", "HasAsc", "HasVoltage", "TsDecay", "TsAtSpike",
              "TsAdd", "VrFraction", "VrAdd", "G", "VDecay", "TvDecay", "Phi", "AbRatio", "NAsc", "NPorts")
GLIF_ASC = ("AscDecay", "AscMean", "AscAtSpike", "AscAmp")
GLIF_PORT = ("P11_", "P21_", "P31_", "P32_", "Jump")


def glif_parameters(q, dt: float) -> dict[str, float]:
    row = glif.parameters(q, dt)
    n_asc = int(row[glif.N_ASC])
    names = list(GLIF_FIXED) + [f"{c}{j}" for j in range(n_asc) for c in GLIF_ASC] + \
        [f"{c}{k}" for k in range(1, q.n_ports + 1) for c in GLIF_PORT]
    assert len(names) == len(row)
    return dict(zip(names, row))


def glif_model_name(q) -> str:
    """One model per variant, number of after-spike currents and of ports: 'glif_<asc>_<ports>_<flags>'."""
    n_asc = len(q.asc_decay) if q.has_asc else 0
    return f"glif_{n_asc}_{q.n_ports}_{int(q.has_theta_spike)}{int(q.has_theta_voltage)}"


def glif_state(q) -> dict[str, float]:
    state = glif.initial_state(q)
    n_asc = len(q.asc_decay) if q.has_asc else 0
    out = {"RefracTime": 0, "Spiked": 0, "ThS": state[glif.TH_SPIKE], "ThV": state[glif.TH_VOLTAGE]}
    out.update({f"Asc{j}": state[glif.N_STATE_FIXED + j] for j in range(n_asc)})
    for k in range(1, q.n_ports + 1):
        out[f"X{k}"] = out[f"Y{k}"] = 0.0
    return out


def glif_model(name: str) -> dict[str, Any]:
    """The GeNN neuron model `name` (`glif_model_name`): glif_psc's step (`glif.step`) in its order."""
    _, n_asc, n_ports, flags = name.split("_")
    n_asc, n_ports = int(n_asc), int(n_ports)
    has_spike, has_voltage = flags[0] == "1", flags[1] == "1"
    asc = range(n_asc)
    ports = range(1, n_ports + 1)
    code = "const scalar uOld = V - EL;\nscalar u = uOld;\nint spiked = 0;\nif (RefracTime <= 0) {\n"
    if has_spike:
        code += "    ThS = ThS * TsDecay;\n"
    code += "    scalar ascSum = 0.0;\n"
    for j in asc:
        code += f"    ascSum += AscMean{j} * Asc{j};\n    Asc{j} = Asc{j} * AscDecay{j};\n"
    code += "    u = uOld * P33 + ascSum * P30;\n"
    for k in ports:
        code += f"    u += P31_{k} * X{k} + P32_{k} * Y{k};\n"
    if has_voltage:
        code += ("    const scalar beta = ascSum / G;\n"
                 "    ThV = Phi * (uOld - beta) * VDecay + TvDecay * (ThV - Phi * (uOld - beta) - AbRatio * beta) + AbRatio * beta;\n")
    code += "    if (u > ThS + ThV + ThInf) {\n        spiked = 1;\n"
    for j in asc:
        code += f"        Asc{j} = AscAmp{j} + Asc{j} * AscAtSpike{j};\n"
    if has_spike:
        code += "        u = VrFraction * uOld + VrAdd;\n        ThS = ThS * TsAtSpike + TsAdd;\n"
    else:
        code += "        u = UReset;\n"
    code += "    }\n}\n"
    for k in ports:  # the ports' alpha PSCs, then this step's arrivals (e/tau_syn per nA)
        code += f"const scalar x{k} = X{k};\nY{k} = P21_{k} * x{k} + P11_{k} * Y{k};\nX{k} = P11_{k} * x{k} + Jump{k} * Isyn{k};\n"
    code += ("V = u + EL;\nif (RefracTime > 0) {\n    RefracTime -= 1;\n}\n"
             "if (spiked != 0) {\n    RefracTime = RefracSteps;\n}\nSpiked = spiked;\n")
    params = list(GLIF_FIXED) + [f"{c}{j}" for j in asc for c in GLIF_ASC] + [f"{c}{k}" for k in ports for c in GLIF_PORT]
    return dict(
        params=params + [("RefracSteps", "int")],
        vars=[("V", "scalar"), ("RefracTime", "int"), ("Spiked", "int"), ("ThS", "scalar"), ("ThV", "scalar")]
        + [(f"Asc{j}", "scalar") for j in asc] + [(v, "scalar") for k in ports for v in (f"X{k}", f"Y{k}")],
        additional_input_vars=[(f"Isyn{k}", "scalar", 0.0) for k in ports],
        sim_code=code,
        threshold_condition_code="Spiked != 0",
    )


def cell_parameters(cell_type: str, p, dt: float) -> dict[str, float]:
    """The custom neuron model's parameters: the propagators of `snnbench.models` (lif, alpha),
    computed here in double precision as numba computes them."""
    if cell_type == "Izhikevich":
        # i_offset nA -> the model's mV/ms (a 1 pF membrane, as NEST and numba take it)
        return {"A": p.a, "B": p.b, "C": p.c, "D": p.d, "Drive": 1000.0 * p.i_offset, "Vpeak": izhikevich.V_PEAK_MV}
    if cell_type == "EIF_cond_exp_isfa_ista":
        row = adex.parameters(p)
        values = dict(zip(("Cm", "GL", "EL", "VT", "DeltaT", "Vpeak", "Vreset", "A", "B", "TauW", "Eex", "Ein", "TauE",
                           "TauI", "Ie"), row))
        return {**values, "Vspike": adex.spike_threshold(row)}
    if cell_type == "GLIF_curr_alpha":
        return glif_parameters(p, dt)
    if cell_type == "HH_cond_exp":
        return dict(zip(("GNa", "GK", "GL", "Cm", "VT", "ENa", "EK", "EL", "Eex", "Ein", "TauE", "TauI", "Ie"),
                        hh.parameters(p)))
    if cell_type == "IF_cond_alpha":
        values = dict(zip(("Cm", "GL", "EL", "Vthresh", "Vreset", "Eex", "Ein", "TauE", "TauI", "Ie"),
                          alpha.cond_alpha_parameters(p)))
        # an arrival of w uS starts g = w (t/tau) e^(1 - t/tau): x jumps by w e / tau, in nS/ms
        return {**values, "JumpE": 1000.0 * math.e / p.tau_syn_E, "JumpI": 1000.0 * math.e / p.tau_syn_I}
    common = {"Vrest": p.v_rest, "Vreset": p.v_reset, "Vthresh": p.v_thresh}
    if cell_type in ("IF_curr_alpha", "IF_curr_delta"):
        p33, p30 = alpha.membrane_propagators(p.cm, p.tau_m, dt)
        params = {**common, "P33": p33, "Drive": p30 * p.i_offset}
        if cell_type == "IF_curr_alpha":
            for suffix, tau in (("E", p.tau_syn_E), ("I", p.tau_syn_I)):
                a = alpha.alpha_propagators(p.cm, p.tau_m, tau, dt)
                params.update({f"P11{suffix}": a.p11, f"P21{suffix}": a.p21, f"P31{suffix}": a.p31,
                               f"P32{suffix}": a.p32, f"Jump{suffix}": a.jump})
        return params
    lif = cell_propagators(p, dt)
    common.update({"Ioffset": p.i_offset, "DecE": lif.dec_e, "DecI": lif.dec_i})
    if cell_type == "IF_cond_exp":
        return {**common, "Cm": p.cm, "GL": lif.g_l, "Ee": p.e_rev_E, "Ei": p.e_rev_I, "AvgE": lif.avg_e, "AvgI": lif.avg_i}
    return {**common, "P22": lif.p22, "P20": lif.p20, "P21E": lif.p21e, "P21I": lif.p21i}


def var_init(value, what: str) -> float | VarInit:
    """A constant or a scenario distribution as GeNN's initialiser."""
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, Uniform):
        return VarInit("Uniform", {"min": value.low, "max": value.high})
    if isinstance(value, Normal):
        return VarInit("Normal", {"mean": value.mu, "sd": value.sigma})
    if isinstance(value, NormalClipped):
        if math.isinf(value.low) and math.isinf(value.high):
            return VarInit("Normal", {"mean": value.mu, "sd": value.sigma})
        # GeNN writes parameters into C++ as literals: an infinite bound becomes a finite far one.
        lo = value.low if math.isfinite(value.low) else value.mu - 1e6 * max(value.sigma, 1.0)
        hi = value.high if math.isfinite(value.high) else value.mu + 1e6 * max(value.sigma, 1.0)
        return VarInit("NormalClipped", {"mean": value.mu, "sd": value.sigma, "min": lo, "max": hi})
    raise ValueError(f"{what}: GeNN has no initialiser for {value!r}")


def _with_replacement(snippet: str, what: str):
    """GeNN's FixedNumber...WithReplacement snippet, the only fixed-number draw it has."""
    def choose(conn, no_self: bool):
        if not conn.with_replacement:
            return f"GeNN has no {what} snippet without replacement (only FixedNumber...WithReplacement)"
        if no_self:
            return f"GeNN's {what} snippet with replacement allows autapses; this projection forbids them"
        return "SPARSE", (snippet, {"num": int(conn.n)})
    return choose


# GeNN's connectivity for each connector type it draws itself: (conn, no autapses) -> (matrix type,
# (snippet, params) or None), or a string saying why this projection cannot be drawn by GeNN.
GENN_CONNECTIVITY = {
    "fixed_probability": lambda conn, no_self: (
        "SPARSE", ("FixedProbabilityNoAutapse" if no_self else "FixedProbability", {"prob": float(conn.p)})),
    "fixed_in_degree": _with_replacement("FixedNumberPreWithReplacement", "fixed_in_degree"),
    "fixed_total_number": _with_replacement("FixedNumberTotalWithReplacement", "fixed_total_number"),
    "one_to_one": lambda conn, no_self: ("SPARSE", ("OneToOne", {})),
    "all_to_all": lambda conn, no_self: (
        "GeNN's dense all-to-all includes autapses; this projection forbids them" if no_self else ("DENSE", None)),
}


def _connectivity(proj, same: bool):
    conn = proj.connector
    choose = GENN_CONNECTIVITY.get(conn.type)
    if choose is None:
        return "an explicit list" if conn.type == "from_list" else f"GeNN has no snippet for {conn.type}"
    return choose(conn, same and not getattr(conn, "allow_self_connections", True))


def native_snippet(proj, same: bool) -> tuple[str, tuple[str, dict[str, float]] | None] | None:
    """(matrix type, (snippet, params) or None) for a connector GeNN draws itself; None: it cannot."""
    found = _connectivity(proj, same)
    return None if isinstance(found, str) else found


def _why_not_native(proj, same: bool) -> str:
    """Why GeNN cannot draw `proj` itself (when `native_snippet` is None)."""
    found = _connectivity(proj, same)
    return found if isinstance(found, str) else ""


# ----------------------------------------------------------------------------- plastic synapses
#
# NEST's STDP (stdp_synapse, stdp_pl_synapse_hom, as numba_plastic computes it) on GeNN's event
# times. A pre spike of stamp s (emitted in step s - 1) is processed in step s (no axonal delay);
# a post spike of stamp tp is seen by the synapse at T = tp + d (the whole delay d dendritic) and
# processed by GeNN's postsynaptic learning in step T - 1 (back-propagation delay d - 1), after
# the presynaptic update of that step. So the weight takes its updates in NEST's order of seen
# times: a post spike seen at T before a pre spike s = T (potentiation first, as NEST at that
# pre spike), a pre spike s before a post spike seen at s + 1. The traces are per-neuron
# variables of the weight update model, each with the time of its last spike and decayed exactly:
#   K+ (pre):  K+ e^(-(t - t_pre)/tau_plus) + 1 at each pre spike; read at a post spike processed
#              in step T - 1 it holds the pre spikes s <= T - 1: those before T, not one seen with it;
#   K- (post): likewise at each post spike; a pre spike s reads it as it was d + 1 steps earlier
#              (GeNN's delayed post variables, `Kminus[Seen]`): the post spikes with tp + d < s.
# The weight is transmitted after the depression (NEST's order), through a dendritic delay of
# d - 1 steps, so that it reaches the cell when a static synapse's spike does.

# Each rule's (potentiation, depression) of the weight g (PyNN's units) by a trace value k.
STDP_UPDATES = {
    "AdditiveWeightDependence": ("g = fmin(g + Wmax * Aplus * k, Wmax);", "g = fmax(g - Wmax * Aminus * k, Wmin);"),
    "MultiplicativeWeightDependence": ("g = fmin(g + (Wmax - g) * Aplus * k, Wmax);",
                                       "g = fmax(g - (g - Wmin) * Aminus * k, Wmin);"),
    "AdditivePotentiationMultiplicativeDepression": ("g = fmin(g + Wmax * Aplus * k, Wmax);",
                                                     "g = fmax(g - (g - Wmin) * Aminus * k, Wmin);"),
    # NEST reads w^mu in its own unit (pA, nS; mV onto the voltage-step cells): UnitPow = unit^(mu - 1)
    "stdp_pl_synapse_hom": ("g = g + Lambda * UnitPow * pow(g, Mu) * k;", "g = fmax(g - Lambda * Alpha * g * k, 0.0);"),
}
_PAIR_PARAMS = ("Aplus", "Aminus", "Wmin", "Wmax")
_POWER_LAW_PARAMS = ("Lambda", "Alpha", "Mu", "UnitPow")


def stdp_parameters(synapse, d: int, dt: float, nest_unit: float) -> dict[str, float]:
    """`stdp_model`'s parameters for a plastic synapse (scenario model) with a delay of d steps;
    `nest_unit`: NEST's weight unit per PyNN's (1000: pA or nS; 1: mV)."""
    timing = {"Delay": d * dt, "Den": d - 1, "Seen": d + 1}
    if synapse.rule == "stdp_pl_synapse_hom":
        return {"TauPlus": synapse.tau_plus, "TauMinus": synapse.tau_minus, "Lambda": synapse.lambda_,
                "Alpha": synapse.alpha, "Mu": synapse.mu, "UnitPow": nest_unit ** (synapse.mu - 1.0), **timing}
    td, wd = synapse.timing_dependence, synapse.weight_dependence
    return {"TauPlus": td.tau_plus, "TauMinus": td.tau_minus, "Aplus": td.A_plus, "Aminus": td.A_minus,
            "Wmin": wd.w_min, "Wmax": wd.w_max, **timing}


def stdp_model(rule: str) -> dict[str, Any]:
    """The GeNN weight update model (create_weight_update_model's arguments) of a rule: see above."""
    up, down = STDP_UPDATES[rule]
    params = _POWER_LAW_PARAMS if rule == "stdp_pl_synapse_hom" else _PAIR_PARAMS
    return dict(
        params=["TauPlus", "TauMinus", "Delay", *params, ("Den", "int"), ("Seen", "int")],
        vars=[("g", "scalar")],
        pre_vars=[("Kplus", "scalar"), ("TPre", "timepoint")],
        post_vars=[("Kminus", "scalar"), ("TPost", "timepoint")],
        # t: the start of the emitting step in both, so that only differences count
        pre_spike_code="Kplus = Kplus * exp(-(t - TPre) / TauPlus) + 1.0;\nTPre = t;\n",
        post_spike_code="Kminus = Kminus * exp(-(t - TPost) / TauMinus) + 1.0;\nTPost = t;\n",
        # TPre is this spike's time: K- at TPre - Delay from the post spikes seen before it
        pre_spike_syn_code=(f"const scalar k = Kminus[Seen] * exp(-(TPre - Delay - TPost[Seen]) / TauMinus);\n{down}\n"
                            "addToPostDelay(g, Den);\n"),
        # TPost is this post spike's time, seen at TPost + Delay
        post_spike_syn_code=f"const scalar k = Kplus * exp(-(TPost + Delay - TPre) / TauPlus);\n{up}\n",
    )


def plasticity_problems(resolved: ResolvedScenario) -> list[str]:
    """What of a scenario's plastic synapses this adapter cannot express (checked before any run)."""
    problems = []
    for proj in resolved.projections:
        syn = proj.spec.synapse
        if syn is None:
            continue
        where = f"projection {proj.label}"
        if syn.dendritic_delay_fraction != 1.0:
            problems.append(f"{where}: dendritic_delay_fraction {syn.dendritic_delay_fraction}: the GeNN adapter writes "
                            "NEST's convention, the whole delay dendritic (1 only)")
        pre = resolved.populations[proj.pre]
        if pre.is_source and (spikes_per_step(pre.spec, resolved.dt) > 1 or array_multiplicity(pre, resolved)[0] > 1):
            problems.append(f"{where}: plastic synapse from {proj.pre}, whose steps carry several spikes of one source: the "
                            "GeNN adapter delivers them as one spike with a count, which its STDP models do not take (NEST "
                            "updates the weight once per step with the parrot's multiplicity)")
    return problems


class Describer:
    """Scenario -> ModelDescription, recording every translation in `log`; no pygenn needed."""

    def __init__(self, resolved: ResolvedScenario, mode: str, network: Network | None = None,
                 precision: str = "double", log: Translations | None = None):
        self.resolved, self.mode, self.network, self.precision = resolved, mode, network, precision
        self.translations = Translations() if log is None else log

    def translate(self, what: str, detail: str, **data: Any) -> None:
        self.translations.add(what, detail, **data)

    # -------------------------------------------------------------- the whole model

    def describe(self) -> ModelDescription:
        r = self.resolved
        dt = r.dt
        if self.mode == "exact" and self.network is None:
            raise ValueError("exact mode needs the realised network")
        pops: dict[str, PopulationSpec] = {}
        for name, pop in r.cells.items():
            pops[name] = self._cells(name, pop)
        for name, pop in r.sources.items():
            pops[name] = self._source(name, pop)
        synapses, empty = [], {}
        for k, proj in enumerate(r.projections):
            spec = self._projection(k, proj, pops)
            if spec is None:
                empty[proj.label] = 0
            elif isinstance(spec, list):  # a plastic projection with several delays: one group per delay
                synapses.extend(spec)
            else:
                synapses.append(spec)
        self.translate("spike times", f"GeNN stamps a spike with the time of its step's start (t = k dt): reported times are GeNN's + {dt} ms (NEST's end-of-step stamp)")
        if any(p.record_v for p in pops.values()):
            self.translate("v sampling", "v read after every step (after reset) and stamped (k+1) dt, k = 0..n_steps-1, as numba")
        if self.precision != "double":
            self.translate("precision", f"GeNN model in {self.precision} precision (scalar), numba and NEST use double")
        return ModelDescription(dt=dt, n_steps=r.n_steps, seed=genn_seed(r.seed), precision=self.precision,
                                populations=pops, synapses=synapses, empty=empty, translations=self.translations)

    # -------------------------------------------------------------- populations

    def _cells(self, name: str, pop) -> PopulationSpec:
        dt = self.resolved.dt
        prm = pop.spec.parameters
        # The threshold is checked on the clamped v (v_reset) during refractoriness too: the scenario
        # model guarantees v_reset < v_thresh, so a refractory cell never fires (as in numba).
        model = CELL_MODELS[pop.cell_type]
        params: dict[str, float] = cell_parameters(pop.cell_type, prm, dt)
        if model == "glif":
            model = glif_model_name(prm)
            state: dict[str, Any] = dict(glif_state(prm))
        else:
            state = {name: 0.0 for name in SYNAPTIC_VARS[model]}
        if model != "izhikevich":  # Izhikevich has no refractory period
            # HH_cond_exp: NEST's 2 ms without a second spike (PyNN sets no tau_refrac for it)
            dead = hh.SPIKE_DEAD_TIME_MS if model == "hh" else prm.tau_refrac
            params["RefracSteps"] = refractory_steps(dead, dt, name, self.translations)
            state["RefracTime"] = 0
        else:
            state["U"] = float(pop.spec.initial_values.u)
        if model in ("lif_cond_alpha", "adex", "hh"):
            state["Hstep"] = dt  # NEST starts every node's RKF45 with one time step
        if model == "adex":
            state.update(W=1000.0 * float(pop.spec.initial_values.w), Spiked=0)  # nA -> pA
        if model == "hh":
            iv = pop.spec.initial_values
            state.update(Mgate=float(iv.m), Hgate=float(iv.h), Ngate=float(iv.n), Spiked=0)
        kind = CELL_MODELS[pop.cell_type]
        if kind == "glif":
            inputs = "its ports' alpha PSCs inside the cell, port k fed by DeltaCurr through Isyn<k>"
        elif not SYNAPTIC_VARS[kind]:
            inputs = "steps v by the weights it adds to IsynE/IsynI (DeltaCurr, weights in mV)"
        else:
            inputs = "its synaptic variables inside the cell, fed by DeltaCurr through IsynE/IsynI"
        self.translate("neuron model", f"{name}: {pop.cell_type} as the custom GeNN neuron model {model} "
                       f"({MODEL_NOTES[kind]}); {inputs}")
        if self.network is not None:
            v0: Any = np.asarray(self.network.populations[name].v_init, dtype=float)
        else:
            v = pop.spec.initial_values.v
            v0 = var_init(prm.resting_v if v is None else v, f"{name}.v")
        return PopulationSpec(
            name=name, genn_name=_identifier("p_", name), size=pop.size, cell_type=pop.cell_type, model=model,
            params=params, vars={"V": v0, **state},
            record_spikes=pop.n_record_spikes, record_v=pop.n_record_v,
        )

    def _source(self, name: str, pop) -> PopulationSpec:
        r, dt = self.resolved, self.resolved.dt
        base = dict(name=name, genn_name=_identifier("p_", name), size=pop.size, cell_type=pop.cell_type,
                    record_spikes=pop.n_record_spikes)
        several = spikes_per_step(pop.spec, dt) > 1
        if isinstance(pop.spec, PoissonSourcePopulation) and self.network is None and not several:
            prm = pop.spec.parameters
            p = prm.rate * dt / 1000.0
            # Emission steps k with start <= k dt < start + duration (reported (k+1) dt in (start, stop]),
            # compared at half steps so that the rounding of t does not matter.
            k_start = int(math.floor(prm.start / dt + 1e-9))
            stop = min(r.simtime, prm.start + prm.duration)
            k_stop = int(math.floor(stop / dt + 1e-9))
            for what, value in (("start", prm.start), ("start + duration", prm.start + prm.duration)):
                if math.isfinite(value) and abs(round(value / dt) * dt - value) > 1e-9:
                    self.translate("SpikeSourcePoisson", f"{name}: {what} {value} ms put on the {dt} ms grid")
            self.translate("SpikeSourcePoisson", f"{name}: custom GeNN source, a spike with probability rate dt = {p:g} in each step "
                           "of its window (Bernoulli, as the harness's realisation), GeNN's random numbers; one train per source")
            return PopulationSpec(model="poisson_window", params={"P": p, "TStart": (k_start - 0.5) * dt,
                                                                  "TStop": (k_stop - 0.5) * dt}, **base)
        if self.network is not None:
            steps = self.network.populations[name].spike_steps
        else:
            steps = realise_spike_steps(pop, r, rng_for(r.seed, "spikes", pop.name))
            if several:
                self.translate("SpikeSourcePoisson", f"{name}: rate x dt = {spikes_per_step(pop.spec, dt):g} > 1: the harness's "
                               "Poisson counts per step (as NEST's poisson_generator draws them), one train per source")
        counts = np.array([s.size for s in steps], dtype=np.int64)
        end = np.cumsum(counts)
        start = end - counts
        times = (np.concatenate(steps).astype(float) - 1.5) * dt if counts.sum() else np.array([np.inf])
        state = {"startSpike": start.astype(np.uint32), "endSpike": end.astype(np.uint32)}
        if any(s.size and step_multiplicity(s)[1].max() > 1 for s in steps):
            # GeNN's neurons spike once per step: the source counts its spikes of the step (Count) and the
            # synapses from it deliver Count x weight, as NEST's parrot neuron passes the multiplicity on
            self.translate("spike source", f"{name}: several spikes of one source in one step: a custom GeNN source that "
                           "emits once per step with the step's count of spikes (Count), and synapses from it that deliver "
                           "Count x weight; a spike at m dt counted in step m - 1, spike times given as (m - 1.5) dt")
            return PopulationSpec(model="count_array", vars={**state, "Count": 0}, egps={"spikeTimes": times},
                                  source_steps=list(steps), **base)
        self.translate("spike source", f"{name}: GeNN SpikeSourceArray; a spike at m dt is emitted in step m - 1 (as NEST's "
                       "spike_generator): spike times given as (m - 1.5) dt")
        return PopulationSpec(model="SpikeSourceArray", vars=state, egps={"spikeTimes": times}, source_steps=list(steps), **base)

    # -------------------------------------------------------------- projections

    def _arrays(self, proj, why: str | None) -> ProjectionArrays:
        return harness_arrays(proj, self.resolved, self.network, self.translations, why)

    def _projection(self, k: int, proj, pops: dict[str, PopulationSpec]) -> SynapseSpec | list[SynapseSpec] | None:
        r, dt = self.resolved, self.resolved.dt
        port = receptor_port(proj.receptor)  # a multi-receptor cell's port k: its input Isyn<k>
        target = f"Isyn{port}" if port is not None else ("IsynE" if proj.receptor == "excitatory" else "IsynI")
        spec = SynapseSpec(label=proj.label, genn_name=_identifier(f"s{k}_", proj.label), pre=proj.pre, post=proj.post,
                           target=target, matrix="SPARSE", weight_model="StaticPulse")
        same = proj.pre == proj.post
        native = None if self.network is not None else native_snippet(proj, same)
        why = None
        if self.network is None:
            if native is None:
                why = _why_not_native(proj, same)
            elif isinstance(proj.delay, DistanceDelay):
                why, native = "distance-dependent delays", None
            elif not isinstance(proj.delay, (int, float)):
                why, native = "GeNN draws no delays: delays that are distributions", None
        plastic = proj.spec.synapse is not None
        if native is not None:
            matrix, conn = native
            if conn is not None and conn[1].get("prob", conn[1].get("num", 1)) == 0:
                return None  # no synapse at all
            spec.matrix, spec.connectivity = matrix, conn
            if isinstance(proj.weight, (int, float)) and not plastic:
                spec.weight_model, spec.weight_params = "StaticPulseConstantWeight", {"g": float(proj.weight)}
            else:  # a plastic weight is a variable of each synapse, even where it starts constant
                spec.weight_vars = {"g": var_init(proj.weight, f"{proj.label}.weight")}
            d = max(1, int(round(proj.delay / dt)))
            if abs(d * dt - proj.delay) > 1e-9:
                self.translate("delay", f"{proj.label}: {proj.delay} ms put on the {dt} ms grid ({d * dt:g} ms)")
            spec.axonal_delay_steps = d - 1
            if proj.connector.type == "fixed_in_degree":
                self.translate("fixed_in_degree", f"{proj.label}: GeNN's FixedNumberPreWithReplacement ({proj.connector.n} sources "
                               "per target drawn with replacement, multapses possible), as the scenario asks")
            if plastic:
                self._plastic(spec, proj, d)
                self._plastic_translation(proj)
            elif pops[proj.pre].model == "count_array":
                self._counted(spec, proj)
            return spec
        arrays = self._arrays(proj, why)
        if arrays.size == 0:
            return None
        spec.pre_idx = np.asarray(arrays.pre_idx, dtype=np.int64)
        spec.post_idx = np.asarray(arrays.post_idx, dtype=np.int64)
        steps = self._delay_steps(arrays.delay, dt, proj.label)
        weight = np.asarray(arrays.weight, dtype=float)
        if plastic:
            if np.all(steps == steps[0]):
                spec.weight_vars = {"g": weight}
                self._plastic(spec, proj, int(steps[0]))
                self._plastic_translation(proj)
                return spec
            # GeNN's back-propagation delay is one per synapse group: one group per delay, each knowing its
            # edges' places in the arrays (collect() puts the weights read back in the harness's order)
            groups = []
            for d in np.unique(steps):
                mine = steps == d
                part = dataclasses.replace(spec, genn_name=f"{spec.genn_name}_d{int(d)}", pre_idx=spec.pre_idx[mine],
                                           post_idx=spec.post_idx[mine], weight_vars={"g": weight[mine]},
                                           edge_index=np.flatnonzero(mine))
                self._plastic(part, proj, int(d))
                groups.append(part)
            self._plastic_translation(proj, f"; {len(groups)} delays ({int(steps.min())} to {int(steps.max())} steps): one "
                                      "GeNN synapse group per delay (a back-propagation delay is one per group)")
            return groups
        elif np.all(steps == steps[0]):
            spec.axonal_delay_steps = int(steps[0]) - 1
            spec.weight_vars = {"g": weight}
        else:
            dend = steps - 1
            if dend.max() > MAX_DENDRITIC_STEPS:
                raise ValueError(f"projection {proj.label}: a delay of {int(steps.max())} steps exceeds GeNN's dendritic delays "
                                 f"(StaticPulseDendriticDelay holds at most {MAX_DENDRITIC_STEPS} + 1 steps)")
            spec.weight_model = "StaticPulseDendriticDelay"
            spec.weight_vars = {"g": weight, "d": dend.astype(np.uint8)}
            spec.max_dendritic_delay_timesteps = int(dend.max()) + 1
            self.translate("delay", f"{proj.label}: heterogeneous delays as GeNN dendritic delays of d - 1 steps "
                           f"(StaticPulseDendriticDelay, {spec.max_dendritic_delay_timesteps} slots)")
        if pops[proj.pre].model == "count_array":
            self._counted(spec, proj)
        return spec

    def _delay_steps(self, delays: np.ndarray, dt: float, label: str) -> np.ndarray:
        return delay_steps(delays, dt, label, self.translations)

    def _counted(self, spec: SynapseSpec, proj) -> None:
        """A static projection from a source with several spikes in a step (`count_array`): the custom
        model count_pulse delivers the source's Count x g, the delay made dendritic (d - 1 steps) so
        that Count is read in the step that counted it."""
        if spec.weight_model == "StaticPulseConstantWeight":
            spec.weight_vars, spec.weight_params = {"g": spec.weight_params["g"]}, {}
        if "d" not in spec.weight_vars:
            dend = spec.axonal_delay_steps
            if dend > MAX_DENDRITIC_STEPS:
                raise ValueError(f"projection {proj.label}: a delay of {dend + 1} steps from a source with several spikes per "
                                 f"step exceeds GeNN's dendritic delays (at most {MAX_DENDRITIC_STEPS} + 1 steps)")
            spec.weight_vars["d"] = np.full(spec.n_explicit, dend, np.uint8) if spec.explicit else dend
            spec.max_dendritic_delay_timesteps = dend + 1
            spec.axonal_delay_steps = 0
        spec.weight_model = "count_pulse"
        self.translate("several spikes per step", f"{proj.label}: from {proj.pre}, whose steps carry several spikes: GeNN "
                       "custom weight update model delivering the source's count x weight through a dendritic delay")

    def _plastic(self, spec: SynapseSpec, proj, d: int) -> None:
        """A plastic synapse with a delay of d steps as the custom weight update model `stdp_model`:
        no axonal delay (the pre spike is seen at once), a back-propagation delay of d - 1 steps, the
        spike transmitted through a dendritic delay of d - 1 steps (as a static synapse's spike
        arrives), the post traces kept for d + 2 steps (read d + 1 steps back)."""
        syn = proj.spec.synapse
        unit = abs(weight_factor(self.resolved.populations[proj.post].cell_type, proj.receptor))
        spec.rule = syn.rule
        spec.weight_model = f"stdp_{syn.rule}"
        spec.weight_params = stdp_parameters(syn, d, self.resolved.dt, unit)
        spec.axonal_delay_steps = 0
        spec.back_prop_delay_steps = d - 1
        spec.max_dendritic_delay_timesteps = d + 2

    def _plastic_translation(self, proj, groups: str = "") -> None:
        self.translate("plasticity", f"{proj.label}: {proj.spec.synapse.describe} as a custom GeNN weight update model "
                       "with NEST's pairing (all pairs through pre and post traces, a post spike seen after the whole delay "
                       "d, a pre and a post spike seen in the same step not paired): depression and transmission (dendritic "
                       "delay d - 1) when GeNN processes the pre spike (the step after it), potentiation when it processes "
                       "the post spike (back-propagation delay d - 1), each update applied when its spike is seen, not at "
                       "the next pre spike as NEST" + groups)


def describe(resolved: ResolvedScenario, mode: str, network: Network | None = None, precision: str = "double",
             log: Translations | None = None) -> ModelDescription:
    """The GeNN model for `resolved` (pure Python); its translations go into `log` (a backend's own)."""
    return Describer(resolved, mode, network, precision, log).describe()


# ============================================================================= pygenn

# The custom models' code (GeNN 5 syntax). Parameters are per population (compiled in).
LIF_COND = dict(
    params=["Vrest", "Vreset", "Vthresh", "Ioffset", "DecE", "DecI", "Cm", "GL", "Ee", "Ei", "AvgE", "AvgI", ("RefracSteps", "int")],
    vars=[("V", "scalar"), ("RefracTime", "int"), ("gE", "scalar"), ("gI", "scalar")],
    additional_input_vars=[("IsynE", "scalar", 0.0), ("IsynI", "scalar", 0.0)],
    sim_code="""
        const scalar ge = gE * AvgE;
        const scalar gi = gI * AvgI;
        const scalar gt = GL + ge + gi;
        const scalar vinf = (GL * Vrest + Ioffset + ge * Ee + gi * Ei) / gt;
        if (RefracTime > 0) {
            V = Vreset;
            RefracTime -= 1;
        }
        else {
            V = vinf + (V - vinf) * exp(-dt * gt / Cm);
        }
        gE = gE * DecE + IsynE;
        gI = gI * DecI + IsynI;
        """,
    threshold_condition_code="V >= Vthresh",
    reset_code="""
        V = Vreset;
        RefracTime = RefracSteps;
        """,
)
LIF_CURR = dict(
    params=["Vrest", "Vreset", "Vthresh", "Ioffset", "DecE", "DecI", "P22", "P21E", "P21I", "P20", ("RefracSteps", "int")],
    vars=[("V", "scalar"), ("RefracTime", "int"), ("IE", "scalar"), ("II", "scalar")],
    additional_input_vars=[("IsynE", "scalar", 0.0), ("IsynI", "scalar", 0.0)],
    sim_code="""
        if (RefracTime > 0) {
            RefracTime -= 1;
        }
        else {
            V = Vrest + (V - Vrest) * P22 + P21E * IE + P21I * II + P20 * Ioffset;
        }
        IE = IE * DecE + IsynE;
        II = II * DecI + IsynI;
        """,
    threshold_condition_code="V >= Vthresh",
    reset_code="""
        V = Vreset;
        RefracTime = RefracSteps;
        """,
)
LIF_CURR_ALPHA = dict(
    params=["Vrest", "Vreset", "Vthresh", "P33", "Drive", "P11E", "P21E", "P31E", "P32E", "JumpE",
            "P11I", "P21I", "P31I", "P32I", "JumpI", ("RefracSteps", "int")],
    vars=[("V", "scalar"), ("RefracTime", "int"), ("XE", "scalar"), ("IE", "scalar"), ("XI", "scalar"), ("II", "scalar")],
    additional_input_vars=[("IsynE", "scalar", 0.0), ("IsynI", "scalar", 0.0)],
    # iaf_psc_alpha's order: v from the synaptic state at the start of the step, then y from the
    # old x, then x decays and takes this step's arrivals (e/tau_syn per unit weight).
    sim_code="""
        if (RefracTime > 0) {
            RefracTime -= 1;
        }
        else {
            V = Vrest + Drive + P31E * XE + P32E * IE + P31I * XI + P32I * II + P33 * (V - Vrest);
        }
        IE = P21E * XE + P11E * IE;
        XE = P11E * XE + JumpE * IsynE;
        II = P21I * XI + P11I * II;
        XI = P11I * XI + JumpI * IsynI;
        """,
    threshold_condition_code="V >= Vthresh",
    reset_code="""
        V = Vreset;
        RefracTime = RefracSteps;
        """,
)
LIF_CURR_DELTA = dict(
    params=["Vrest", "Vreset", "Vthresh", "P33", "Drive", ("RefracSteps", "int")],
    vars=[("V", "scalar"), ("RefracTime", "int")],
    additional_input_vars=[("IsynE", "scalar", 0.0), ("IsynI", "scalar", 0.0)],
    # iaf_psc_delta: this step's arrivals step v, and are lost while the cell is refractory.
    sim_code="""
        if (RefracTime > 0) {
            RefracTime -= 1;
        }
        else {
            V = Vrest + Drive + P33 * (V - Vrest) + IsynE + IsynI;
        }
        """,
    threshold_condition_code="V >= Vthresh",
    reset_code="""
        V = Vreset;
        RefracTime = RefracSteps;
        """,
)
IZHIKEVICH = dict(
    params=["A", "B", "C", "D", "Drive", "Vpeak"],
    vars=[("V", "scalar"), ("U", "scalar")],
    additional_input_vars=[("IsynE", "scalar", 0.0), ("IsynI", "scalar", 0.0)],
    # NEST's izhikevich (consistent_integration): one forward Euler step of v and u, both from the
    # start-of-step values; this step's arrivals step v.
    sim_code="""
        const scalar v0 = V;
        V = v0 + dt * (0.04 * v0 * v0 + 5.0 * v0 + 140.0 - U + Drive) + IsynE + IsynI;
        U = U + dt * A * (B * v0 - U);
        """,
    threshold_condition_code="V >= Vpeak",
    reset_code="""
        V = C;
        U += D;
        """,
)


def _cond_alpha_rhs(k: str, y: dict[str, str], refractory: str) -> str:
    """C declarations of stage `k` of iaf_cond_alpha's right-hand side (`alpha.cond_alpha_rhs`,
    NEST's units) at the state named in `y`: v held while refractory, bounded by v_thresh."""
    return (f"const scalar vc{k} = fmin({y['V']}, Vthresh);\n"
            f"const scalar k{k}V = ({refractory}) ? 0.0 : (-GL * (vc{k} - EL) - {y['GE']} * (vc{k} - Eex) "
            f"- {y['GI']} * (vc{k} - Ein) + Ie) / Cm;\n"
            f"const scalar k{k}XE = -{y['XE']} / TauE;\n"
            f"const scalar k{k}GE = {y['XE']} - {y['GE']} / TauE;\n"
            f"const scalar k{k}XI = -{y['XI']} / TauI;\n"
            f"const scalar k{k}GI = {y['XI']} - {y['GI']} / TauI;\n")


def _adex_rhs(k: str, y: dict[str, str], refractory: str) -> str:
    """Stage `k` of aeif_cond_exp's right-hand side (`adex.rhs`, NEST's units): v held at v_reset
    while refractory, bounded by v_spike; no exponential term when Delta_T = 0."""
    return (f"const scalar vc{k} = ({refractory}) ? Vreset : fmin({y['V']}, Vpeak);\n"
            f"const scalar sc{k} = (DeltaT > 0.0) ? GL * DeltaT * exp((vc{k} - VT) / DeltaT) : 0.0;\n"
            f"const scalar k{k}V = ({refractory}) ? 0.0 : (-GL * (vc{k} - EL) + sc{k} - {y['GE']} * (vc{k} - Eex) "
            f"- {y['GI']} * (vc{k} - Ein) - {y['W']} + Ie) / Cm;\n"
            f"const scalar k{k}GE = -{y['GE']} / TauE;\n"
            f"const scalar k{k}GI = -{y['GI']} / TauI;\n"
            f"const scalar k{k}W = (A * (vc{k} - EL) - {y['W']}) / TauW;\n")


def rkf45_code(names: tuple[str, ...], rhs, tolerance: tuple[float, float, float, float], refractory: str,
               after_step: str = "") -> str:
    """`rkf45.evolve_apply` (GSL's rkf45 and its step control) as GeNN code, unrolled over the state
    variables `names`, repeated until the time step is covered (local copies y<name>; the step size
    in and out of the cell's variable Hstep, as NEST keeps it per node). `rhs(stage, state names,
    refractory)` writes one stage's derivatives k<stage><name>; `after_step` runs after every
    accepted sub-step (AdEx's spike check)."""
    eps_abs, eps_rel, a_y, a_dydt = tolerance
    lit = repr  # Python's shortest round-trip repr: the same double in C
    stages = [
        (2, [(rkf45.B21, 1)]),
        (3, [(rkf45.B31, 1), (rkf45.B32, 2)]),
        (4, [(rkf45.B41, 1), (rkf45.B42, 2), (rkf45.B43, 3)]),
        (5, [(rkf45.B51, 1), (rkf45.B52, 2), (rkf45.B53, 3), (rkf45.B54, 4)]),
        (6, [(rkf45.B61, 1), (rkf45.B62, 2), (rkf45.B63, 3), (rkf45.B64, 4), (rkf45.B65, 5)]),
    ]
    first = rhs("1", {n: f"a{n}" for n in names}, refractory)
    trial = ""
    for k, coeffs in stages:
        for n in names:
            if len(coeffs) == 1:
                expr = f"a{n} + h0 * {lit(coeffs[0][0])} * k1{n}"
            else:
                expr = f"a{n} + h0 * (" + " + ".join(f"{lit(c)} * k{j}{n}" for c, j in coeffs) + ")"
            trial += f"const scalar s{k}{n} = {expr};\n"
        trial += rhs(str(k), {n: f"s{k}{n}" for n in names}, refractory)
    for n in names:
        sol = " + ".join(f"{lit(c)} * k{j}{n}" for c, j in ((rkf45.C1, 1), (rkf45.C3, 3), (rkf45.C4, 4), (rkf45.C5, 5), (rkf45.C6, 6)))
        err = " + ".join(f"{lit(c)} * k{j}{n}" for c, j in ((rkf45.E1, 1), (rkf45.E3, 3), (rkf45.E4, 4), (rkf45.E5, 5), (rkf45.E6, 6)))
        trial += f"y{n} = a{n} + h0 * ({sol});\n"
        trial += f"const scalar e{n} = h0 * ({err});\n"
    if eps_rel != 0.0:  # GSL's bound needs dy/dt at the new state
        trial += rhs("d", {n: f"y{n}" for n in names}, refractory)
    # GSL's floor of rmax is DBL_MIN, which float precision cannot hold; any floor below
    # (SAFETY / MAX_GROWTH)^6 ~ 3e-5 gives the same step (the growth is capped at MAX_GROWTH).
    rmax = "1e-30"
    for n in names:
        if eps_rel == 0.0:
            bound = lit(eps_abs)
        else:
            bound = f"fabs({lit(eps_rel)} * ({lit(a_y)} * fabs(y{n}) + {lit(a_dydt)} * fabs(h0 * kd{n})) + {lit(eps_abs)})"
        rmax = f"fmax({rmax}, fabs(e{n}) / {bound})"
    trial += f"const scalar rmax = {rmax};\n"
    trial += f"""const scalar tNew = (h > span) ? dt : tt + h0;
if (rmax > 1.1) {{
    const scalar hNew = h0 * fmax({lit(rkf45.SAFETY)} / pow(rmax, {lit(1.0 / rkf45.ORDER)}), {lit(rkf45.MAX_SHRINK)});
    if (fabs(hNew) < fabs(h0) && tNew + hNew != tNew) {{
        h = hNew;
    }}
    else {{
        accepted = 1;
        tt = tNew;
        h = h0;
    }}
}}
else {{
    accepted = 1;
    tt = tNew;
    if (rmax < 0.5) {{
        h = h0 * fmax(fmin({lit(rkf45.SAFETY)} / pow(rmax, {lit(1.0 / (rkf45.ORDER + 1.0))}), {lit(rkf45.MAX_GROWTH)}), 1.0);
    }}
    else {{
        h = h0;
    }}
}}
"""
    decl = "".join(f"scalar y{n} = {n};\n" for n in names)
    start = "".join(f"const scalar a{n} = y{n};\n" for n in names)

    def indent(text: str, n: int) -> str:
        return "".join(" " * n + line + "\n" for line in text.splitlines())

    return (decl + "scalar tt = 0.0;\nscalar h = Hstep;\nwhile (tt < dt) {\n"
            + indent(start + first + "const scalar span = dt - tt;\nint accepted = 0;\nwhile (accepted == 0) {\n"
                     + indent("const scalar h0 = (h > span) ? span : h;\n" + trial, 4) + "}\n" + after_step, 4)
            + "}\nHstep = h;\n")


def cond_alpha_sim_code() -> str:
    """iaf_cond_alpha's step as GeNN code: NEST's RKF45 over the step (v held while refractory),
    then refractoriness (v <- v_reset) or the threshold (GeNN's), then this step's arrivals."""
    return rkf45_code(("V", "XE", "GE", "XI", "GI"), _cond_alpha_rhs, alpha.COND_ALPHA_TOLERANCE, "RefracTime > 0") + """if (RefracTime > 0) {
    RefracTime -= 1;
    yV = Vreset;
}
V = yV;
GE = yGE;
GI = yGI;
XE = yXE + JumpE * IsynE;
XI = yXI + JumpI * IsynI;
"""


def adex_sim_code() -> str:
    """aeif_cond_exp's step as GeNN code: NEST's RKF45 sub-steps, after each the refractory clamp or
    the spike (v <- v_reset, w += b, refractory), then this step's arrivals (uS -> nS). The spike is
    reported through Spiked (a second one within the step, only with tau_refrac = 0, counts once)."""
    after = """if (r > 0) {
    yV = Vreset;
}
else if (yV >= Vspike) {
    crossed = 1;
    yV = Vreset;
    yW += B;
    r = (RefracSteps > 0) ? RefracSteps + 1 : 0;
}
"""
    return "int r = RefracTime;\nint crossed = 0;\n" + rkf45_code(
        ("V", "GE", "GI", "W"), _adex_rhs, adex.TOLERANCE, "r > 0", after) + """if (r > 0) {
    r -= 1;
}
RefracTime = r;
Spiked = crossed;
V = yV;
W = yW;
GE = yGE + 1000.0 * IsynE;
GI = yGI + 1000.0 * IsynI;
"""


def _hh_rhs(k: str, y: dict[str, str], refractory: str) -> str:
    """Stage `k` of hh_cond_exp_traub's right-hand side (`hh.rhs`, NEST's units, Traub's rates)."""
    v, m, hg, n = y["V"], y["Mgate"], y["Hgate"], y["Ngate"]
    return (f"const scalar u{k} = {v} - VT;\n"
            f"const scalar k{k}V = (-(GNa * {m} * {m} * {m} * {hg} * ({v} - ENa)) - GK * {n} * {n} * {n} * {n} * ({v} - EK) "
            f"- GL * ({v} - EL) - ({y['GE']} * ({v} - Eex) + {y['GI']} * ({v} - Ein)) + Ie) / Cm;\n"
            f"const scalar an{k} = 0.032 * (15.0 - u{k}) / (exp((15.0 - u{k}) / 5.0) - 1.0);\n"
            f"const scalar bn{k} = 0.5 * exp((10.0 - u{k}) / 40.0);\n"
            f"const scalar am{k} = 0.32 * (13.0 - u{k}) / (exp((13.0 - u{k}) / 4.0) - 1.0);\n"
            f"const scalar bm{k} = 0.28 * (u{k} - 40.0) / (exp((u{k} - 40.0) / 5.0) - 1.0);\n"
            f"const scalar ah{k} = 0.128 * exp((17.0 - u{k}) / 18.0);\n"
            f"const scalar bh{k} = 4.0 / (1.0 + exp((40.0 - u{k}) / 5.0));\n"
            f"const scalar k{k}Mgate = am{k} - (am{k} + bm{k}) * {m};\n"
            f"const scalar k{k}Hgate = ah{k} - (ah{k} + bh{k}) * {hg};\n"
            f"const scalar k{k}Ngate = an{k} - (an{k} + bn{k}) * {n};\n"
            f"const scalar k{k}GE = -{y['GE']} / TauE;\n"
            f"const scalar k{k}GI = -{y['GI']} / TauI;\n")


def hh_sim_code() -> str:
    """hh_cond_exp_traub's step as GeNN code: NEST's RKF45 over the step, this step's arrivals
    (uS -> nS), then a spike if v is above v_offset + 30 mV and falling, unless within 2 ms of the
    last one (reported through Spiked: the cell has no reset)."""
    return "const scalar vStart = V;\n" + rkf45_code(("V", "Mgate", "Hgate", "Ngate", "GE", "GI"), _hh_rhs, hh.TOLERANCE,
                                                      "false") + f"""int crossed = 0;
if (RefracTime > 0) {{
    RefracTime -= 1;
}}
else if (yV >= VT + {hh.SPIKE_ABOVE_OFFSET_MV!r} && vStart > yV) {{
    crossed = 1;
    RefracTime = RefracSteps;
}}
Spiked = crossed;
V = yV;
Mgate = yMgate;
Hgate = yHgate;
Ngate = yNgate;
GE = yGE + 1000.0 * IsynE;
GI = yGI + 1000.0 * IsynI;
"""

LIF_COND_ALPHA = dict(
    # NEST's units (pF, nS, mV, ms, pA: `alpha.cond_alpha_parameters`), so that its tolerances hold
    params=["Cm", "GL", "EL", "Vthresh", "Vreset", "Eex", "Ein", "TauE", "TauI", "Ie", "JumpE", "JumpI",
            ("RefracSteps", "int")],
    vars=[("V", "scalar"), ("RefracTime", "int"), ("XE", "scalar"), ("GE", "scalar"), ("XI", "scalar"),
          ("GI", "scalar"), ("Hstep", "scalar")],
    additional_input_vars=[("IsynE", "scalar", 0.0), ("IsynI", "scalar", 0.0)],
    threshold_condition_code="V >= Vthresh",
    reset_code="""
        V = Vreset;
        RefracTime = RefracSteps;
        """,
)
ADEX = dict(
    # NEST's units (pF, nS, mV, ms, pA: `adex.parameters`), so that its tolerances hold
    params=["Cm", "GL", "EL", "VT", "DeltaT", "Vpeak", "Vreset", "A", "B", "TauW", "Eex", "Ein", "TauE", "TauI", "Ie",
            "Vspike", ("RefracSteps", "int")],
    vars=[("V", "scalar"), ("RefracTime", "int"), ("GE", "scalar"), ("GI", "scalar"), ("W", "scalar"),
          ("Hstep", "scalar"), ("Spiked", "int")],
    additional_input_vars=[("IsynE", "scalar", 0.0), ("IsynI", "scalar", 0.0)],
    # the spike and its reset happen within the step (sim code): GeNN only reports it
    threshold_condition_code="Spiked != 0",
)
HH = dict(
    # NEST's units (nS, pF, mV, ms, pA: `hh.parameters`), so that its tolerance holds
    params=["GNa", "GK", "GL", "Cm", "VT", "ENa", "EK", "EL", "Eex", "Ein", "TauE", "TauI", "Ie", ("RefracSteps", "int")],
    vars=[("V", "scalar"), ("RefracTime", "int"), ("Mgate", "scalar"), ("Hgate", "scalar"), ("Ngate", "scalar"),
          ("GE", "scalar"), ("GI", "scalar"), ("Hstep", "scalar"), ("Spiked", "int")],
    additional_input_vars=[("IsynE", "scalar", 0.0), ("IsynI", "scalar", 0.0)],
    threshold_condition_code="Spiked != 0",
)
POISSON_WINDOW = dict(
    params=["P", "TStart", "TStop"],
    threshold_condition_code="t > TStart && t < TStop && gennrand_uniform() < P",
)
# A spike-source array whose steps may carry several spikes: it counts them (Count) and emits once.
COUNT_ARRAY = dict(
    vars=[("startSpike", "unsigned int"), ("endSpike", "unsigned int"), ("Count", "int")],
    extra_global_params=[("spikeTimes", "scalar*")],
    sim_code="""
        Count = 0;
        while (startSpike != endSpike && t >= spikeTimes[startSpike]) {
            Count++;
            startSpike++;
        }
        """,
    threshold_condition_code="Count > 0",
)
# Its synapses: Count x g through a dendritic delay of d steps (Count is read in the step after it was counted).
COUNT_PULSE = dict(
    vars=[("g", "scalar"), ("d", "uint8_t")],
    pre_neuron_var_refs=[("Count", "int")],
    pre_spike_syn_code="addToPostDelay(g * Count, d);",
)


def _cuda_backend_built() -> bool:
    spec = importlib.util.find_spec("pygenn")
    if spec is None or not spec.submodule_search_locations:
        return False
    return any(glob.glob(os.path.join(loc, "cuda_backend*")) for loc in spec.submodule_search_locations)


class GeNNBackend(Backend):
    name = "genn"
    title = "GeNN 5 (PyGeNN), single-threaded CPU backend"
    distribution = "pygenn"
    module = "pygenn"
    install_hint = "see docs/backends.md 'genn, genn.cuda'"
    where = "CPU (1 thread)"
    packages = ("pygenn",)
    accepted_options = OPTIONS
    max_threads = 1
    compile_after_build = True
    # A source's several spikes in one step: counted by a custom source and delivered as count x weight
    # (the harness's Poisson counts for a SpikeSourcePoisson at rate x dt > 1)
    source_multiplicity = True
    genn_backend: ClassVar[str] = "single_threaded_cpu"
    # GeNN's built-in models do not integrate as NEST does (see the module docstring): every type runs
    # as a custom neuron model of this adapter's (CELL_MODELS)
    cell_types = tuple(CELL_MODELS)
    # NEST's STDP as custom weight update models (`stdp_model`)
    plasticity_rules = PLASTICITY_RULES

    @classmethod
    def available(cls) -> tuple[bool, str]:
        if importlib.util.find_spec("pygenn") is None:
            return False, PYGENN_MISSING
        if not (shutil.which("g++") or shutil.which("c++")):
            return False, "GeNN compiles the C++ it generates: no C++ compiler (g++) found on PATH"
        if not shutil.which("make"):
            return False, "GeNN builds its generated code with 'make': not found on PATH"
        return True, f"pygenn {cls.version()}"

    def supports(self, resolved: ResolvedScenario, mode: str) -> list[str]:
        problems = []
        for problem in super().supports(resolved, mode):
            if problem.startswith("at most"):
                problem = f"{self.name} runs in one thread (GeNN's {self.genn_backend} backend), {self.threads} asked for"
            problems.append(problem)
        return problems + plasticity_problems(resolved)

    # ------------------------------------------------------------------ load

    def load(self) -> None:
        import pygenn

        self.pygenn = pygenn
        from pygenn import genn_model

        if self.genn_backend not in genn_model.backend_modules:
            raise RuntimeError(f"pygenn has no {self.genn_backend} backend (built: {', '.join(genn_model.backend_modules)})")
        self.info["pygenn_version"] = pygenn.__version__
        self.info["genn_backend"] = self.genn_backend
        self._temp_dir: Path | None = None
        self._lock_fh = None
        self.model = None

    # ------------------------------------------------------------------ build

    def build(self, resolved: ResolvedScenario, mode: str, network: Network | None) -> None:
        pg = self.pygenn
        self.resolved, self.mode = resolved, mode
        precision = self.option("precision")
        desc = describe(resolved, mode, network, precision, log=self.translations)
        self.desc = desc
        self.optimize = self.option("optimize")
        # GeNN's default builds its generated code without optimisation (no -O flag at all);
        # optimize_code adds -O3 -ffast-math (CPU) or nvcc's -O3 --use_fast_math, as Brian2 compiles.
        model = pg.GeNNModel(precision, MODEL_NAME, backend=self.genn_backend, time_precision="double",
                             optimize_code=self.optimize)
        model.dt = desc.dt
        model.seed = desc.seed
        model.timing_enabled = True
        self.model = model
        self.info["genn_seed"] = desc.seed
        self.info["precision"] = precision
        self.info["optimize_code"] = self.optimize

        models = {
            "lif_cond": pg.create_neuron_model("snn_lif_cond", **LIF_COND),
            "lif_curr": pg.create_neuron_model("snn_lif_curr", **LIF_CURR),
            "lif_curr_alpha": pg.create_neuron_model("snn_lif_curr_alpha", **LIF_CURR_ALPHA),
            "lif_curr_delta": pg.create_neuron_model("snn_lif_curr_delta", **LIF_CURR_DELTA),
            "izhikevich": pg.create_neuron_model("snn_izhikevich", **IZHIKEVICH),
            "lif_cond_alpha": pg.create_neuron_model("snn_lif_cond_alpha", sim_code=cond_alpha_sim_code(), **LIF_COND_ALPHA),
            "adex": pg.create_neuron_model("snn_adex", sim_code=adex_sim_code(), **ADEX),
            "hh": pg.create_neuron_model("snn_hh", sim_code=hh_sim_code(), **HH),
            "poisson_window": pg.create_neuron_model("snn_poisson_window", **POISSON_WINDOW),
            "count_array": pg.create_neuron_model("snn_count_array", **COUNT_ARRAY),
            "count_pulse": pg.create_weight_update_model("snn_count_pulse", **COUNT_PULSE),
        }
        self._models = models  # keep the Python objects alive with the model
        self.pops: dict[str, Any] = {}
        for name, spec in desc.populations.items():
            if spec.model.startswith("glif_") and spec.model not in models:  # one model per GLIF layout
                models[spec.model] = pg.create_neuron_model(f"snn_{spec.model}", **glif_model(spec.model))
            neuron = models.get(spec.model, spec.model)
            pop = model.add_neuron_population(spec.genn_name, spec.size, neuron, spec.params,
                                              {k: self._value(v) for k, v in spec.vars.items()})
            for egp, values in spec.egps.items():
                pop.extra_global_params[egp].set_init_values(np.asarray(values, dtype=np.float64 if precision == "double" else np.float32))
            if spec.record_spikes and spec.source_steps is None:
                pop.spike_recording_enabled = True
            self.pops[name] = pop
        self.syns: dict[str, Any] = {}  # by GeNN name: a projection may be several synapse groups
        for spec in desc.synapses:
            weight_vars = {k: self._value(v) for k, v in spec.weight_vars.items()}
            if spec.rule is not None:  # a plastic synapse: its traces start empty
                if spec.weight_model not in models:
                    models[spec.weight_model] = pg.create_weight_update_model(f"snn_{spec.weight_model}", **stdp_model(spec.rule))
                wu = pg.init_weight_update(models[spec.weight_model], spec.weight_params, weight_vars,
                                           {"Kplus": 0.0, "TPre": 0.0}, {"Kminus": 0.0, "TPost": 0.0})
            elif spec.weight_model == "count_pulse":
                wu = pg.init_weight_update(models["count_pulse"], {}, weight_vars, pre_var_refs={"Count": "Count"})
            else:
                wu = pg.init_weight_update(spec.weight_model, spec.weight_params, weight_vars)
            ps = pg.init_postsynaptic("DeltaCurr")
            conn = pg.init_sparse_connectivity(spec.connectivity[0], spec.connectivity[1]) if spec.connectivity else None
            args = (spec.genn_name, spec.matrix, self.pops[spec.pre], self.pops[spec.post], wu, ps)
            sg = model.add_synapse_population(*args, conn) if conn is not None else model.add_synapse_population(*args)
            sg.post_target_var = spec.target
            if spec.axonal_delay_steps:
                sg.axonal_delay_steps = spec.axonal_delay_steps
            if spec.max_dendritic_delay_timesteps:
                sg.max_dendritic_delay_timesteps = spec.max_dendritic_delay_timesteps
            if spec.back_prop_delay_steps:
                sg.back_prop_delay_steps = spec.back_prop_delay_steps
            if spec.explicit:
                sg.set_sparse_connections(spec.pre_idx, spec.post_idx)
                if spec.rule is not None:  # postsynaptic learning's column structure: its longest column, not N_pre
                    sg.max_source_connections = int(np.bincount(spec.post_idx).max())
            self.syns[spec.genn_name] = sg

    def _value(self, v):
        if isinstance(v, VarInit):
            return self.pygenn.init_var(v.snippet, v.params)
        return v

    # ------------------------------------------------------------------ compile

    def _code_dir(self) -> Path:
        r = self.resolved
        if self.option("cache") == "cold":
            parent = cache_root() / "cold"
            parent.mkdir(parents=True, exist_ok=True)
            self._temp_dir = Path(tempfile.mkdtemp(prefix=f"{self.genn_backend}-", dir=parent))
            return self._temp_dir
        # optimize_code only changes the Makefile, which GeNN does not hash: it is in the name.
        opt = "O3" if self.optimize else "O0"
        path = cache_root() / self.genn_backend / f"{r.hash}-{self.mode}-N{r.N_pop}-{self.desc.precision}-{opt}"
        path.mkdir(parents=True, exist_ok=True)
        # One run at a time per directory: make and the loaded library live there.
        self._lock_fh = open(path.with_name(path.name + ".lock"), "w")
        t0 = time.perf_counter()
        fcntl.flock(self._lock_fh, fcntl.LOCK_EX)
        self.info["cache_lock_wait_s"] = time.perf_counter() - t0
        return path

    @staticmethod
    def _state(code: Path) -> tuple[str | None, dict[str, int]]:
        sha = code / "model.sha"
        objects = {str(p): p.stat().st_mtime_ns for p in code.glob("*.o")} if code.is_dir() else {}
        return (sha.read_text() if sha.exists() else None), objects

    def compile(self, resolved: ResolvedScenario) -> None:
        from pygenn import genn_model

        path = self._code_dir()
        code = path / f"{MODEL_NAME}_CODE"
        self.info["code_dir"] = str(code)
        sha0, obj0 = self._state(code)
        make = {"s": 0.0}
        original = genn_model.check_call

        def timed_check_call(*args, **kwargs):
            t = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                make["s"] += time.perf_counter() - t

        genn_model.check_call = timed_check_call
        t0 = time.perf_counter()
        try:
            self.model.build(str(path))
        finally:
            genn_model.check_call = original
        t1 = time.perf_counter()
        sha1, obj1 = self._state(code)
        rebuilt = sum(1 for p, m in obj1.items() if obj0.get(p) != m)
        if not obj0 or sha0 is None:
            state = "cold"
        elif sha0 == sha1 and rebuilt == 0:
            state = "warm"
        else:
            state = "partial"
        self.info.update(compile_cache=state, code_regenerated=sha0 != sha1, objects_compiled=rebuilt,
                         objects_reused=len(obj1) - rebuilt, codegen_s=(t1 - t0) - make["s"], make_s=make["s"])
        # Load: allocate, initialise (GeNN draws native connectivity and initial values here), copy arrays.
        self._recording_steps = self._recording_chunk()
        t2 = time.perf_counter()
        self.model.load(num_recording_timesteps=self._recording_steps)
        self.info["load_s"] = time.perf_counter() - t2
        self.info["init_s"] = float(self.model.init_time)
        self.info["init_sparse_s"] = float(self.model.init_sparse_time)
        self.info["recording_buffer_steps"] = self._recording_steps

    def _recording_chunk(self) -> int:
        n = self.desc.n_steps
        words = sum((s.size + 31) // 32 for s in self.desc.populations.values() if s.record_spikes and s.source_steps is None)
        if words == 0:
            return n
        cap = max(1, _RECORDING_BYTES // (4 * words))
        if n <= cap:
            return n
        # GeNN's recording buffer must be full when read: a divisor of the number of steps.
        return max(d for d in range(1, cap + 1) if n % d == 0)

    # ------------------------------------------------------------------ run

    def run(self) -> None:
        model, desc = self.model, self.desc
        n, chunk = desc.n_steps, self._recording_steps
        recorded = {name: spec for name, spec in desc.populations.items() if spec.record_spikes and spec.source_steps is None}
        v_pops = {name: spec.record_v for name, spec in desc.populations.items() if spec.record_v}
        self._spikes: dict[str, list[tuple[np.ndarray, np.ndarray]]] = {name: [] for name in recorded}
        self._v = {name: np.empty((n, k)) for name, k in v_pops.items()}
        on_device = self.genn_backend != "single_threaded_cpu"
        views = {name: self.pops[name].vars["V"] for name in v_pops}
        # Recorded plastic projections: their weights after the steps before each recording time (0: the initial ones)
        sample_at: dict[int, list[str]] = {}
        for proj in self.resolved.projections:
            if proj.spec.record.weights is not None:
                for t_ms in proj.spec.record.weights.times:
                    sample_at.setdefault(int(round(t_ms / desc.dt)), []).append(proj.label)
        self._weight_rows: dict[str, list[np.ndarray]] = {}
        for label in {label for labels in sample_at.values() for label in labels}:
            for _, sg in self._groups(label):
                sg.pull_connectivity_from_device()  # the row lengths that order the weights GeNN drew
        for label in sample_at.get(0, []):
            self._sample_weights(label)
        t0 = time.perf_counter()
        for k in range(n):
            model.step_time()
            for name, var in views.items():
                if on_device:
                    var.pull_from_device()
                self._v[name][k] = var.view[:v_pops[name]]
            for label in sample_at.get(k + 1, ()):
                self._sample_weights(label)
            if recorded and (k + 1) % chunk == 0:
                model.pull_recording_buffers_from_device()
                for name in recorded:
                    times, ids = self.pops[name].spike_recording_data[0]
                    self._spikes[name].append((np.asarray(times, dtype=float).copy(), np.asarray(ids, dtype=np.int64).copy()))
        self.info["sim_loop_s"] = time.perf_counter() - t0
        for key, attr in (("neuron_update_s", "neuron_update_time"), ("presynaptic_update_s", "presynaptic_update_time")):
            self.info[key] = float(getattr(model, attr))
        if any(spec.rule is not None for spec in desc.synapses):  # plastic synapses' potentiation: GeNN's postsynaptic learning
            self.info["postsynaptic_update_s"] = float(model.postsynaptic_update_time)

    def _groups(self, label: str) -> list[tuple[SynapseSpec, Any]]:
        """A projection's synapse groups with their descriptions (none for a projection without a synapse)."""
        return [(spec, self.syns[spec.genn_name]) for spec in self.desc.synapses if spec.label == label]

    def _sample_weights(self, label: str) -> None:
        """Append the current weights of one plastic projection (GeNN's synapse order, group after group) to its samples."""
        rows = [np.empty(0)]
        for _, sg in self._groups(label):
            var = sg.vars["g"]
            var.pull_from_device()
            rows.append(np.asarray(var.values, dtype=float).ravel())
        self._weight_rows.setdefault(label, []).append(np.concatenate(rows))

    def _synapse_indices(self, label: str) -> tuple[np.ndarray, np.ndarray]:
        """(pre, post) of every synapse of a projection, in the order of `_sample_weights`."""
        pre, post = [np.empty(0, np.int64)], [np.empty(0, np.int64)]
        for spec, sg in self._groups(label):
            if spec.matrix == "DENSE":
                n_pre, n_post = self.desc.populations[spec.pre].size, self.desc.populations[spec.post].size
                pre.append(np.repeat(np.arange(n_pre), n_post))
                post.append(np.tile(np.arange(n_post), n_pre))
                continue
            if not spec.explicit:
                sg.pull_connectivity_from_device()
            pre.append(np.asarray(sg.get_sparse_pre_inds(), dtype=np.int64).ravel())
            post.append(np.asarray(sg.get_sparse_post_inds(), dtype=np.int64).ravel())
        return np.concatenate(pre).astype(np.int64), np.concatenate(post).astype(np.int64)

    # ------------------------------------------------------------------ collect

    def _synapse_count(self, label: str) -> int:
        count = 0
        for spec, sg in self._groups(label):
            if spec.explicit:
                count += spec.n_explicit
            elif spec.matrix == "DENSE":
                count += self.desc.populations[spec.pre].size * self.desc.populations[spec.post].size
            else:
                sg.pull_connectivity_from_device()
                count += int(np.asarray(sg._row_lengths.view, dtype=np.int64).sum())
        return count

    def collect(self) -> SimulationOutput:
        resolved, desc, dt = self.resolved, self.desc, self.desc.dt
        out = {}
        for name, pop in resolved.populations.items():
            spec = desc.populations[name]
            recorded = np.arange(pop.n_record_spikes, dtype=np.int64)
            if spec.source_steps is not None:
                index, times = spikes_from_steps(spec.source_steps, recorded, dt)
            elif name in self._spikes and self._spikes[name]:
                t = np.concatenate([c[0] for c in self._spikes[name]])
                i = np.concatenate([c[1] for c in self._spikes[name]])
                keep = i < pop.n_record_spikes
                steps = np.rint(t[keep] / dt).astype(np.int64) + 1  # GeNN's start-of-step stamp -> end of step
                index = i[keep]
                order = np.lexsort((index, steps))
                index, times = index[order], steps[order] * dt
            else:
                index, times = np.empty(0, np.int64), np.empty(0)
            po = PopulationOutput(name, pop.size, pop.cell_type, recorded, index, times)
            if name in self._v:
                po.v_index = np.arange(spec.record_v, dtype=np.int64)
                po.v = self._v[name]
                po.v_times = np.arange(1, desc.n_steps + 1) * dt
            out[name] = po
        synapses = {proj.label: self._synapse_count(proj.label) for proj in resolved.projections}
        weights = {}
        for proj in resolved.projections:
            if proj.spec.record.weights is not None:
                pre, post = self._synapse_indices(proj.label)
                values = np.stack(self._weight_rows[proj.label])
                groups = self._groups(proj.label)
                if len(groups) > 1:  # split by delay: back to the harness's order (multapses as numba and NEST keep them)
                    order = np.argsort(np.concatenate([spec.edge_index[sg.synapse_order] for spec, sg in groups]))
                    pre, post, values = pre[order], post[order], values[:, order]
                weights[proj.label] = weight_output(proj, pre, post, values)
        return SimulationOutput(simtime=resolved.simtime, dt=dt, populations=out, synapses=synapses, weights=weights)

    def close(self) -> None:
        model = getattr(self, "model", None)
        try:
            if model is not None and getattr(model, "_loaded", False):
                model.unload()
        finally:
            self.model = None
            if getattr(self, "_lock_fh", None) is not None:
                fcntl.flock(self._lock_fh, fcntl.LOCK_UN)
                self._lock_fh.close()
                self._lock_fh = None
            if getattr(self, "_temp_dir", None) is not None:
                shutil.rmtree(self._temp_dir, ignore_errors=True)
                self._temp_dir = None


class GeNNCudaBackend(GeNNBackend):
    name = "genn.cuda"
    title = "GeNN 5 (PyGeNN), CUDA backend"
    where = "GPU (CUDA)"
    runs_on = ("GPU",)
    genn_backend = "cuda"

    @classmethod
    def available(cls) -> tuple[bool, str]:
        ok, why = super().available()
        if not ok:
            return ok, why
        if not _cuda_backend_built():
            return False, ("pygenn was built without the CUDA backend (CUDA_PATH unset at build time): "
                           "rebuild it with CUDA_PATH set to a CUDA toolkit - see docs/backends.md 'genn, genn.cuda'")
        gpu, detail = _gpu_status()
        if not gpu:
            return False, detail
        if not (os.environ.get("CUDA_PATH") or shutil.which("nvcc")):
            return False, "GeNN's CUDA backend compiles with nvcc: set CUDA_PATH (or put nvcc on PATH)"
        return True, f"pygenn {cls.version()}, {detail}"
