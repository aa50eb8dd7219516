"""brian2 and brian2.standalone: Brian2 with its runtime device (Cython) and its C++ standalone device.

Every PyNN standard model snnbench has, written as Brian2 equations (Brian2 units; PyNN's ms, mV, nA, uS, nF):

    IF_cond_exp, integrated with method='exponential_euler':
        dv/dt = (g_leak (v_rest - v) + m_e g_e (E_rev_E - v) + m_i g_i (E_rev_I - v) + i_offset) / C_m   (unless refractory)
        dg_e/dt = -g_e / tau_syn_E,  dg_i/dt = -g_i / tau_syn_I        (g_leak = cm / tau_m)
        m = tau_syn/dt (1 - exp(-dt/tau_syn)): exponential Euler holds g at its start-of-step value
        over the step; m makes it the step's mean (numba's scheme; without it the synaptic drive is
        1 % too strong at dt = 0.1 ms and v is 0.8 mV RMS off NEST's solution on single-neuron).
    IF_curr_exp, integrated with method='exact' (the linear system solved by sympy):
        dv/dt = (v_rest - v) / tau_m + (I_e + I_i + i_offset) / C_m                       (unless refractory)
        dI_e/dt = -I_e / tau_syn_E,  dI_i/dt = -I_i / tau_syn_I
    Option `method` (exponential_euler | euler | exact; METHODS) replaces the LIF-exp defaults,
    recorded as a translation: euler is forward Euler on the plain equations (no step mean), as
    Brian2's own COBA examples integrate; exact is refused for IF_cond_exp (not linear).
    threshold v >= v_thresh (as NEST), reset v = v_reset; a synapse adds its weight to g_e / g_i
    (conductance weights >= 0) or to I_e / I_i (inhibitory current weights negative, PyNN's convention).
    IF_curr_alpha, method='exact': the alpha current as NEST writes it (x decays, I follows x, a
        spike adds e w to x; snnbench.models.alpha).
    IF_cond_alpha, EIF_cond_exp_isfa_ista (AdEx): method='rk4', Brian2's most accurate fixed-step
        method (NEST: an adaptive RK45; the conformance suite states the measured difference).
        AdEx's v bounded by v_spike inside its currents and w += b at the reset, as NEST.
    HH_cond_exp: method='gsl_rkf45', NEST's own scheme through Brian2's GSL integrator (GSL's
        RKF45 and step control inside each dt, each cell's step size kept, abs. tolerance 1e-3 per
        variable in NEST's units: mV, nS, the gates); fixed-step methods cannot integrate it at
        dt = 0.1 ms (RK4 diverges; exponential Euler changes the spike count). Needs GSL's library
        and headers (`find_gsl`; supports() refuses HH without them). Its spike is a maximum of v
        above v_offset + 30 mV (v_before remembers v at the start of the step) with 2 ms without
        spikes after one.
    IF_curr_delta (method='exact') and Izhikevich (method='euler': forward Euler from the values
        at the start of the step, NEST's order): a synapse steps v by its weight (mV), before the
        threshold is checked (the synapses' slot moved to 'before_thresholds', delays one step
        shorter, as Brian2 sends a group's spikes of the previous step there); IF_curr_delta drops
        what arrives while refractory (v_post += w * not_refractory), as NEST.
    GLIF_curr_alpha (NEST's glif_psc, GLIF1-5): not ODEs but glif_psc's own per-step update
        (models/glif.py, its propagators), written as Brian2 code run once per step before the
        threshold (run_regularly in the 'groups' slot), with the cell's own refractory count; one
        alpha current (x_k, y_k) per receptor port "synK", a synapse adding e/tau_syn_k w to x_k
        after the update, as NEST's arrivals (`_glif_model`).
    Every type's equations, namespace, threshold, reset and synapse code: `cell_model`.

Time conventions. snnbench follows NEST (see `numba_kernels`): a spike is stamped at the end of the
step in which v crossed ((k+1) dt); it reaches its target's synaptic variable after that target's
update d steps later, so v feels it from the step after; v is sampled after each step, at k dt,
k = 1..n_steps. Brian2's default schedule (start, groups, thresholds, synapses, resets, end) gives
the same dynamics, but stamps and samples differently; the adapter compensates:

  * spikes: Brian2 stamps a spike with the clock time at the start of its step (k dt): reported
    times are Brian2's + dt. Synaptic delivery needs no change: a spike of step k with a delay of
    d steps is delivered in step k + d after the group update (the 'synapses' slot), as in NEST.
  * v: recorded with when='end' (after reset) at step k, stamped k dt: reported times + dt.
  * refractoriness: Brian2 is refractory while timestep(t - lastspike) < timestep(tau_refrac);
    counted from its start-of-step stamp that clamps v for R - 1 steps where NEST clamps R
    (R = round(tau_refrac / dt)); the adapter gives Brian2 refractory = (R + 1) dt.
  * source spikes on the grid (time m dt) are emitted in step m - 1 (as NEST's spike_generator):
    SpikeGeneratorGroup gets the times (m - 1) dt.
  * Poisson sources (native mode): a PoissonGroup active in the steps k with
    start <= k dt < start + duration, so that reported times lie in (start, start + duration].

Connectivity. Exact mode: every edge, weight, delay (put on the dt grid), initial v and source
spike from the harness's arrays (connect(i=, j=), arrays assigned). Native mode: Brian2's own
connect() and random numbers, seeded with brian2.seed(): fixed_probability -> connect(p=),
fixed_in_degree -> connect(i='k for k in sample(N_pre, size=K)') (with replacement:
'int(rand()*N_pre) for _ in range(K)'), one_to_one -> connect(j='i'), all_to_all -> connect(),
fixed_total_number -> pairs drawn with numpy (Brian2 has no such connector; recorded); from_list,
like every projection built from the harness's arrays, -> connect(i=, j=) with the arrays' weights and delays. Weights, delays and initial v that are distributions become Brian2 expressions
(rand(), randn(); normal_clipped by redrawing the values outside the window). SpikeSourcePoisson
-> PoissonGroup (one train per source, shared by all its targets, as PyNN's SpikeSourcePoisson);
SpikeSourceArray -> SpikeGeneratorGroup.

Plastic synapses (PyNN's STDPMechanism with SpikePairRule, NEST's stdp_pl_synapse_hom), NEST's
algorithm written as Brian2 pathways on a dimensionless weight w (PyNN units, uS, nA or mV), onto
every cell type the adapter has:
    on_pre  'pre'       (delay (1 - f) d) depression by the post trace K- as of now, then the pre
                        trace K+ += 1 (NEST's order: a pre and a post seen in the same step do
                        not pair with each other)
    on_pre  'transmit'  (delay d) the cell model's receptor code with w, as a static synapse
                        (voltage-step cells: before the threshold, delay d - 1, as `_synapses`)
    on_post 'post'      (delay f d) potentiation by K+ as of now (less a pre seen in this same
                        step), then K- += 1
with f = dendritic_delay_fraction (1, NEST's convention: the pre spike is seen at once, the post
spike after the whole delay). The traces are stored with the time of their last spike and
decayed exactly. Brian2 applies each potentiation when the post spike is seen, NEST at the next
pre spike: the weights agree whenever no post spike was seen since the last pre spike, and the
transmitted weight is w at arrival (NEST's: w after the depression at sending). Weights at the
recording times: a StateMonitor of w on a clock of the times' greatest common divisor
(when='start': the state after the steps before that time), the last from w after the run.

Code generation and compilation are the 'compile' phase (after build):
  * brian2 (runtime, Cython): Network.before_run() generates and compiles every code object of the
    run; run() then skips Network.run()'s own before_run (nothing changed since), so 'sim' is the
    simulation loop (compile() ends with a full garbage collection and freezes the heap until the
    run ends, so that Network.run()'s own gc.collect() is not a tenth of a second of 'sim' here).
    connect() and string-expression initialisation (native mode) are generated,
    compiled and run by Brian2 at build time: their compilation is in 'build' and reported in
    backend_info (build_codegen_s, build_modules_compiled).
  * brian2.standalone (C++): Network.run() records the run and generates code, device.build(
    compile=True, run=False) writes and compiles the project; run() runs the binary (which also
    creates the synapses and initial values in native mode: Brian2 standalone does that in C++);
    collect() reads its results.
Caches live in snnbench's cache directory ($SNNBENCH_CACHE_DIR, else $XDG_CACHE_HOME/snnbench or
~/.cache/snnbench), under brian2/cython and brian2/standalone/<scenario hash>-<mode>-N<N_pop>-t<threads>;
option cache="cold" uses a fresh, empty, temporary cache instead. backend_info["compile_cache"] is
"warm" (nothing compiled), "cold" (nothing reused) or "partial", with the counts.
"""

from __future__ import annotations

import fcntl
import gc
import math
import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from ..models.hh import SPIKE_ABOVE_OFFSET_MV as HH_SPIKE_ABOVE_OFFSET_MV, SPIKE_DEAD_TIME_MS as HH_DEAD_TIME_MS
from ..models.hh import TOLERANCE as HH_TOLERANCE
from ..models.izhikevich import V_PEAK_MV as IZHIKEVICH_PEAK_MV
from ..models.lif import step_mean
from ..scenario.model import CELL_TYPES, PLASTICITY_RULES, Normal, NormalClipped, PowerLawSTDP, Uniform
from ..scenario.realise import Network, array_multiplicity, connect as realise_connect, rng_for, spikes_per_step
from ..scenario.resolve import ResolvedScenario
from .base import Option
from .common.caches import ColdDirectories
from .common.caches import cache_root as shared_cache_root
from .common.template import SimulatorBackend

CACHE_OPTIONS = ("warm", "cold")
_BRIAN2_DIMENSION = {"uS": "siemens", "nA": "amp", "mV": "volt"}  # a weight variable's dimension per PyNN unit
CACHE_OPTION = Option("cache", str, "warm", "warm: reuse snnbench's code cache (~/.cache/snnbench/brian2), shared by runs; "
                      "cold: a fresh cache for this run, removed after it (measures a cold compile)", choices=CACHE_OPTIONS)
# Brian2's state updaters a run may choose for the LIF-exp cells (option `method`); None: the accurate one.
#   exponential_euler  IF_cond_exp's default: exact for the conductances, exponential Euler for v with
#                      their step mean (within 0.05 mV of NEST); IF_curr_exp: v exponential Euler
#   exact              IF_curr_exp's default (linear: sympy's closed form); IF_cond_exp is not linear
#   euler              forward Euler for every variable, as Brian2's examples write COBA (cheaper, less accurate)
METHODS = ("exponential_euler", "euler", "exact")
DEFAULT_METHODS = {"IF_cond_exp": "exponential_euler", "IF_curr_exp": "exact"}
METHOD_OPTION = Option("method", str, None, "Brian2's integration method for the IF_cond_exp and IF_curr_exp cells; default: "
                       "the accurate one per cell type (exponential_euler with step-mean conductances for IF_cond_exp, exact "
                       "for IF_curr_exp), as validated; euler: forward Euler, Brian2's examples' choice", choices=METHODS)
# GSL steps allowed per dt and cell before Brian2 gives up (its default 100; NEST sets no limit).
GSL_MAX_STEPS = 1000
# The headers Brian2's GSL code includes (brian2.codegen.generators.GSL_generator checks the same).
_GSL_HEADERS = ("gsl_odeiv2.h", "gsl_errno.h", "gsl_matrix.h")


@dataclass(frozen=True)
class GSLLocation:
    """Where Brian2 finds GSL: `directory` for prefs.GSL.directory (None: the compiler's own search
    path has it), or `problem` when it is not there."""

    directory: str | None = None
    problem: str | None = None


def _has_gsl_headers(include_dir: str) -> bool:
    return all(os.path.isfile(os.path.join(include_dir, "gsl", h)) for h in _GSL_HEADERS)


def find_gsl(standard_dirs: tuple[str, ...] | None = None) -> GSLLocation:
    """GSL's headers in the compiler's standard directories or Python's prefix (which Brian2 adds
    to the include path), else where `gsl-config` (installed with them) says, for prefs.GSL.directory."""
    import subprocess
    import sys

    if standard_dirs is None:
        standard_dirs = ("/usr/include", "/usr/local/include", os.path.join(sys.prefix, "include"))
    if any(_has_gsl_headers(d) for d in standard_dirs):
        return GSLLocation()
    gsl_config = shutil.which("gsl-config")
    if gsl_config:
        done = subprocess.run([gsl_config, "--prefix"], capture_output=True, text=True, timeout=30)
        include = os.path.join(done.stdout.strip(), "include")
        if done.returncode == 0 and _has_gsl_headers(include):
            return GSLLocation(directory=include)
    return GSLLocation(problem="Brian2 integrates it with gsl_rkf45 (NEST's adaptive RKF45), which needs the GSL library "
                               "and its headers (gsl/gsl_odeiv2.h): found neither in the compiler's standard directories "
                               "nor by gsl-config; install GSL (Debian: libgsl-dev, which install.sh installs)")


GSL_STANDALONE_FIX = "brian-team/brian2#1687 (GSL on the C++ standalone device), applied to Brian2 2.9's classes"


def fix_gsl_standalone() -> bool:
    """Brian2 2.9 cannot generate GSL code for its C++ standalone device (brian-team/brian2#1686:
    NotImplementedError, its GSL code object lacks the standalone code object's methods; the GSL
    function is declared extern "C" and misses the section that holds the code's constants).
    Brian2 2.10 fixed it (#1687) but needs Python >= 3.12; this applies the same three changes
    to 2.9's classes when they are missing. True when the fix is in place (applied now or before
    in this process), False when Brian2 has its own."""
    from brian2.codegen.generators.GSL_generator import GSLCodeGenerator, GSLCPPCodeGenerator
    from brian2.devices.cpp_standalone import CPPStandaloneCodeObject
    from brian2.devices.cpp_standalone.GSLcodeobject import GSLCPPStandaloneCodeObject

    if getattr(GSLCPPStandaloneCodeObject, "_snnbench_fix", False):
        return True
    if issubclass(GSLCPPStandaloneCodeObject, CPPStandaloneCodeObject):
        return False
    GSLCPPStandaloneCodeObject.__bases__ = (CPPStandaloneCodeObject,)
    GSLCPPCodeGenerator.syntax = {**GSLCPPCodeGenerator.syntax, "start_declare": ""}

    def make_function_code(self, lines):  # the device replaces %CONSTANTS% with the code's constants
        return "\n// CONSTANTS\n%CONSTANTS%\n" + GSLCodeGenerator.make_function_code(self, lines)

    GSLCPPCodeGenerator.make_function_code = make_function_code
    GSLCPPStandaloneCodeObject._snnbench_fix = True
    return True


# tau_m and tau_syn closer than this (relative) make Brian2's exact solution 0/0: tau_syn is moved.
_DEGENERATE_TAU = 1e-6
# Redraws of normal_clipped values in standalone mode (where values cannot be read back in between).
_MAX_REDRAW_PASSES = 200


def cache_root() -> Path:
    """snnbench's cache directory for Brian2."""
    return shared_cache_root("brian2")


# ----------------------------------------------------------------------------- the models


@dataclass
class CellModel:
    """One PyNN cell type as a Brian2 NeuronGroup: equations, the namespace in PyNN units
    ({name: (unit, value)}, `_cell_namespace` makes quantities), the integration method, the
    threshold and reset, the initial values beside v ({name: (unit, PyNN's name)}), what a synapse does
    per receptor (`on_pre`: code with {w}, the weight's unit), and the translations made."""

    equations: str
    namespace: dict[str, Any]
    method: str
    threshold: str
    reset: str | None
    on_pre: dict[str, str]
    weight_unit: str
    refractory_steps: int | None = None  # None: the type has no refractory period (Izhikevich)
    clamp_when_refractory: bool = True  # False: refractoriness only blocks spikes (HH)
    initial: dict[str, tuple[str, str]] = field(default_factory=dict)  # Brian2 name: (unit, PyNN's name)
    # Synaptic input steps v: it must reach v before the threshold is checked, in the same step,
    # as in NEST (see `Brian2Backend._synapses`).
    voltage_step: bool = False
    remember_v: bool = False  # keep v at the start of the step in v_before (HH's spike: a maximum)
    # A discrete update run each step instead of integrated equations (GLIF: `_glif_model`), in the
    # 'groups' slot; the cell's refractoriness is then its own (refractory_steps None).
    step_code: str | None = None
    initial_from_parameters: dict[str, float] = field(default_factory=dict)  # state values the parameters give (GLIF's asc_init)
    # Brian2's method_options, quantities as (unit, value) (HH's GSL tolerances per variable)
    method_options: dict[str, Any] = field(default_factory=dict)
    notes: list[tuple[str, str]] = field(default_factory=list)


# The membrane of the IF_* types (Names avoid Brian2's unit names, cm, ms, ..., which they would shadow.)
def _lif_namespace(p) -> dict[str, Any]:
    return {"v_rest": ("mV", p.v_rest), "v_reset": ("mV", p.v_reset), "v_thresh": ("mV", p.v_thresh),
            "C_m": ("nF", p.cm), "tau_m": ("ms", p.tau_m), "i_offset": ("nA", p.i_offset)}


def _exact_tau_syn(p, ns: dict[str, Any], notes: list) -> None:
    """tau_syn = tau_m makes Brian2's exact solution 0/0: tau_syn is moved (recorded)."""
    for key in ("tau_syn_E", "tau_syn_I"):
        tau_s = ns[key][1]
        if abs(tau_s - p.tau_m) <= _DEGENERATE_TAU * p.tau_m:
            moved = p.tau_m * (1.0 + 2 * _DEGENERATE_TAU)
            ns[key] = ("ms", moved)
            notes.append((key, f"{key} = tau_m = {p.tau_m} ms makes Brian2's exact solution 0/0: {key} set to {moved!r} ms"))


def _receptors(exc: str, inh: str) -> dict[str, str]:
    return {"excitatory": exc, "inhibitory": inh}


def cell_model(cell_type: str, p, dt: float, refractory_steps: int | None, method: str | None = None) -> CellModel:
    """The Brian2 form of one population's cell type and parameters; `method` (option, LIF-exp
    cells only): another state updater than the validated DEFAULT_METHODS."""
    notes: list[tuple[str, str]] = []
    threshold, reset = "v >= v_thresh", "v = v_reset"
    if cell_type in ("IF_cond_exp", "IF_curr_exp", "IF_curr_alpha", "IF_cond_alpha", "IF_curr_delta"):
        ns = _lif_namespace(p)
        if cell_type != "IF_curr_delta":
            ns.update(tau_syn_E=("ms", p.tau_syn_E), tau_syn_I=("ms", p.tau_syn_I))
    if cell_type in DEFAULT_METHODS:
        method = method or DEFAULT_METHODS[cell_type]
        if cell_type == "IF_cond_exp" and method == "exact":
            raise ValueError("IF_cond_exp has no exact solution (supports() refuses method=exact)")
        if method != DEFAULT_METHODS[cell_type]:
            notes.append((f"{cell_type} integration", f"method={method} (the run's option) instead of {DEFAULT_METHODS[cell_type]}, "
                          "the method validated against NEST" + ("; forward Euler: each step advances v and the synaptic "
                                                                 "variables by dt times their derivative at the step's start"
                                                                 if method == "euler" else "")))
    if cell_type == "IF_cond_exp" and method == "euler":
        ns.update(g_leak=("uS", p.cm / p.tau_m), E_rev_E=("mV", p.e_rev_E), E_rev_I=("mV", p.e_rev_I))
        eqs = (
            "dv/dt = (g_leak*(v_rest - v) + g_e*(E_rev_E - v) + g_i*(E_rev_I - v) + i_offset)/C_m : volt (unless refractory)\n"
            "dg_e/dt = -g_e/tau_syn_E : siemens\n"
            "dg_i/dt = -g_i/tau_syn_I : siemens\n"
        )
        return CellModel(eqs, ns, method, threshold, reset, _receptors("g_e_post += {w}", "g_i_post += {w}"),
                         "uS", refractory_steps, notes=notes)
    if cell_type == "IF_cond_exp":
        # Brian2's exponential Euler holds g at its value at the start of the step; over the step
        # the conductance is on average g * tau/dt (1 - exp(-dt/tau)) (1 % less at dt/tau = 0.02).
        # The membrane equation takes g times that factor, so that each step is exact for the
        # conductances and exponential Euler for v with their step mean (numba's scheme, within
        # 0.05 mV of NEST's adaptive RK45), instead of a 1 % too strong synaptic drive.
        avg_e, avg_i = step_mean(p.tau_syn_E, dt), step_mean(p.tau_syn_I, dt)
        ns.update(g_leak=("uS", p.cm / p.tau_m), E_rev_E=("mV", p.e_rev_E), E_rev_I=("mV", p.e_rev_I),
                  mean_e=("1", avg_e), mean_i=("1", avg_i))
        eqs = (
            "dv/dt = (g_leak*(v_rest - v) + mean_e*g_e*(E_rev_E - v) + mean_i*g_i*(E_rev_I - v) + i_offset)/C_m"
            " : volt (unless refractory)\n"
            "dg_e/dt = -g_e/tau_syn_E : siemens\n"
            "dg_i/dt = -g_i/tau_syn_I : siemens\n"
        )
        notes.append(("IF_cond_exp integration", (
            "exponential Euler for v with the step-mean conductances (g * tau/dt (1 - exp(-dt/tau)): "
            f"{avg_e:.6f} E, {avg_i:.6f} I) instead of their start-of-step values, as numba; the conductances decay exactly")))
        return CellModel(eqs, ns, "exponential_euler", threshold, reset, _receptors("g_e_post += {w}", "g_i_post += {w}"),
                         "uS", refractory_steps, notes=notes)
    if cell_type == "IF_curr_exp":
        if method == "exact":
            _exact_tau_syn(p, ns, notes)
        eqs = (
            "dv/dt = (v_rest - v)/tau_m + (I_e + I_i + i_offset)/C_m : volt (unless refractory)\n"
            "dI_e/dt = -I_e/tau_syn_E : amp\n"
            "dI_i/dt = -I_i/tau_syn_I : amp\n"
        )
        return CellModel(eqs, ns, method, threshold, reset, _receptors("I_e_post += {w}", "I_i_post += {w}"), "nA",
                         refractory_steps, notes=notes)
    if cell_type == "IF_curr_alpha":
        # The alpha current as NEST writes it (models/alpha.py): x decays, I follows x; a spike
        # adds e w to x, so that I peaks at w after tau_syn. Linear: solved exactly.
        _exact_tau_syn(p, ns, notes)
        eqs = (
            "dv/dt = (v_rest - v)/tau_m + (I_e + I_i + i_offset)/C_m : volt (unless refractory)\n"
            "dI_e/dt = (x_e - I_e)/tau_syn_E : amp\n"
            "dx_e/dt = -x_e/tau_syn_E : amp\n"
            "dI_i/dt = (x_i - I_i)/tau_syn_I : amp\n"
            "dx_i/dt = -x_i/tau_syn_I : amp\n"
        )
        return CellModel(eqs, ns, "exact", threshold, reset,
                         _receptors(f"x_e_post += {math.e!r}*{{w}}", f"x_i_post += {math.e!r}*{{w}}"), "nA", refractory_steps,
                         notes=notes)
    if cell_type == "IF_cond_alpha":
        ns.update(g_leak=("uS", p.cm / p.tau_m), E_rev_E=("mV", p.e_rev_E), E_rev_I=("mV", p.e_rev_I))
        eqs = (
            "dv/dt = (g_leak*(v_rest - v) + g_e*(E_rev_E - v) + g_i*(E_rev_I - v) + i_offset)/C_m : volt (unless refractory)\n"
            "dg_e/dt = (y_e - g_e)/tau_syn_E : siemens\n"
            "dy_e/dt = -y_e/tau_syn_E : siemens\n"
            "dg_i/dt = (y_i - g_i)/tau_syn_I : siemens\n"
            "dy_i/dt = -y_i/tau_syn_I : siemens\n"
        )
        notes.append(("IF_cond_alpha integration", "Brian2's fixed-step RK4 at dt (NEST: adaptive RK45, abs. tolerance 1e-3)"))
        return CellModel(eqs, ns, "rk4", threshold, reset,
                         _receptors(f"y_e_post += {math.e!r}*{{w}}", f"y_i_post += {math.e!r}*{{w}}"), "uS", refractory_steps,
                         notes=notes)
    if cell_type == "IF_curr_delta":
        eqs = "dv/dt = (v_rest - v)/tau_m + i_offset/C_m : volt (unless refractory)\n"
        # NEST's iaf_psc_delta drops the input that arrives while the cell is refractory
        step = "v_post += {w}*int(not_refractory_post)"
        return CellModel(eqs, ns, "exact", threshold, reset, _receptors(step, step), "mV", refractory_steps, voltage_step=True,
                         notes=notes)
    if cell_type == "EIF_cond_exp_isfa_ista":
        ns = {"v_rest": ("mV", p.v_rest), "v_reset": ("mV", p.v_reset), "v_spike": ("mV", p.v_spike),
              "v_thresh": ("mV", p.v_thresh), "delta_T": ("mV", p.delta_T), "C_m": ("nF", p.cm),
              "g_leak": ("uS", p.cm / p.tau_m), "i_offset": ("nA", p.i_offset), "a_w": ("nS", p.a), "b_w": ("nA", p.b),
              "tau_w": ("ms", p.tau_w), "E_rev_E": ("mV", p.e_rev_E), "E_rev_I": ("mV", p.e_rev_I),
              "tau_syn_E": ("ms", p.tau_syn_E), "tau_syn_I": ("ms", p.tau_syn_I)}
        # As NEST: v bounded by v_spike inside the currents (the exponential cannot overflow
        # within a step), held at v_reset while refractory (w still follows it). PyNN's w is
        # w_adapt here: Brian2 forbids a cell variable named as the synapses' weight w.
        spike_current = "g_leak*delta_T*exp((v_c - v_thresh)/delta_T)" if p.delta_T > 0 else "0*amp"
        eqs = (
            f"dv/dt = (g_leak*(v_rest - v_c) + {spike_current} + g_e*(E_rev_E - v_c) + g_i*(E_rev_I - v_c) - w_adapt + i_offset)/C_m"
            " : volt (unless refractory)\n"
            "dw_adapt/dt = (a_w*(v_c - v_rest) - w_adapt)/tau_w : amp\n"
            "dg_e/dt = -g_e/tau_syn_E : siemens\n"
            "dg_i/dt = -g_i/tau_syn_I : siemens\n"
            "v_c = clip(v, -inf*mV, v_spike) : volt\n"
        )
        notes.append(("EIF_cond_exp_isfa_ista integration", "Brian2's fixed-step RK4 at dt, the spike checked at the end of the "
                      "step (NEST: adaptive RK45, tolerance 1e-6, the spike checked after every sub-step)"))
        return CellModel(eqs, ns, "rk4", "v >= v_spike" if p.delta_T > 0 else "v >= v_thresh", "v = v_reset; w_adapt += b_w",
                         _receptors("g_e_post += {w}", "g_i_post += {w}"), "uS", refractory_steps,
                         initial={"w_adapt": ("nA", "w")}, notes=notes)
    if cell_type == "Izhikevich":
        # forward Euler from the values at the start of the step, in NEST's order (models/izhikevich.py);
        # i_offset in nA drives v by 1000 mV/ms per nA (a 1 pF membrane)
        ns = {"a_rate": ("1/ms", p.a), "b_rate": ("1/ms", p.b), "v_reset": ("mV", p.c), "d_jump": ("mV/ms", p.d),
              "drive": ("mV/ms", 1000.0 * p.i_offset), "v_peak": ("mV", IZHIKEVICH_PEAK_MV)}
        eqs = (
            "dv/dt = (0.04/ms/mV)*v**2 + (5/ms)*v + 140*mV/ms - u + drive : volt\n"
            "du/dt = a_rate*(b_rate*v - u) : volt/second\n"
        )
        return CellModel(eqs, ns, "euler", "v >= v_peak", "v = v_reset; u += d_jump", _receptors("v_post += {w}", "v_post += {w}"),
                         "mV", None, voltage_step=True, initial={"u": ("mV/ms", "u")}, notes=notes)
    if cell_type == "HH_cond_exp":
        ns = {"gbar_Na": ("uS", p.gbar_Na), "gbar_K": ("uS", p.gbar_K), "g_leak": ("uS", p.g_leak), "C_m": ("nF", p.cm),
              "v_offset": ("mV", p.v_offset), "E_Na": ("mV", p.e_rev_Na), "E_K": ("mV", p.e_rev_K),
              "E_leak": ("mV", p.e_rev_leak), "E_rev_E": ("mV", p.e_rev_E), "E_rev_I": ("mV", p.e_rev_I),
              "tau_syn_E": ("ms", p.tau_syn_E), "tau_syn_I": ("ms", p.tau_syn_I), "i_offset": ("nA", p.i_offset),
              "v_above": ("mV", HH_SPIKE_ABOVE_OFFSET_MV)}
        eqs = (
            "dv/dt = (-gbar_Na*m**3*h*(v - E_Na) - gbar_K*n**4*(v - E_K) - g_leak*(v - E_leak)"
            " - g_e*(v - E_rev_E) - g_i*(v - E_rev_I) + i_offset)/C_m : volt\n"
            "dm/dt = alpha_m*(1 - m) - beta_m*m : 1\n"
            "dh/dt = alpha_h*(1 - h) - beta_h*h : 1\n"
            "dn/dt = alpha_n*(1 - n) - beta_n*n : 1\n"
            "u_rel = (v - v_offset)/mV : 1\n"
            "alpha_m = 0.32*(13 - u_rel)/(exp((13 - u_rel)/4) - 1)/ms : Hz\n"
            "beta_m = 0.28*(u_rel - 40)/(exp((u_rel - 40)/5) - 1)/ms : Hz\n"
            "alpha_h = 0.128*exp((17 - u_rel)/18)/ms : Hz\n"
            "beta_h = 4/(1 + exp((40 - u_rel)/5))/ms : Hz\n"
            "alpha_n = 0.032*(15 - u_rel)/(exp((15 - u_rel)/5) - 1)/ms : Hz\n"
            "beta_n = 0.5*exp((10 - u_rel)/40)/ms : Hz\n"
            "dg_e/dt = -g_e/tau_syn_E : siemens\n"
            "dg_i/dt = -g_i/tau_syn_I : siemens\n"
            "v_before : volt\n"
        )
        # NEST's scheme through Brian2's GSL: RKF45 with GSL's step control, each cell's step size
        # kept across steps (use_last_timestep), the error of each variable held to NEST's 1e-3 in
        # NEST's units (mV, the gates, nS). Brian2's fixed-step methods cannot: RK4 at dt = 0.1 ms
        # diverges (gbar_Na / cm = 100/ms), exponential Euler fires 16 spikes where NEST fires 10.
        eps = HH_TOLERANCE[0]
        method_options = {"absolute_error_per_variable": {"v": ("mV", eps), "m": ("1", eps), "h": ("1", eps), "n": ("1", eps),
                                                          "g_e": ("nS", eps), "g_i": ("nS", eps)},
                          "use_last_timestep": True, "max_steps": GSL_MAX_STEPS}
        notes.append(("HH_cond_exp integration", "Brian2's gsl_rkf45: GSL's RKF45 with its step control inside each dt, "
                      f"the step size kept per cell, abs. tolerance {eps:g} in mV, nS and the gates (NEST's "
                      "hh_cond_exp_traub); "
                      f"a spike is a maximum of v above v_offset + {HH_SPIKE_ABOVE_OFFSET_MV:g} mV, none for "
                      f"{HH_DEAD_TIME_MS:g} ms after one (NEST's t_ref of hh_cond_exp_traub)"))
        dead_steps = math.ceil(HH_DEAD_TIME_MS / dt - 1e-6)
        return CellModel(eqs, ns, "gsl_rkf45", "v >= v_offset + v_above and v < v_before", None,
                         _receptors("g_e_post += {w}", "g_i_post += {w}"), "uS", dead_steps, clamp_when_refractory=False,
                         method_options=method_options,
                         initial={"m": ("1", "m"), "h": ("1", "h"), "n": ("1", "n")}, remember_v=True, notes=notes)
    if cell_type == "GLIF_curr_alpha":
        return _glif_model(p, dt, refractory_steps, notes)
    raise ValueError(f"no Brian2 model for {cell_type}")


def _glif_model(q, dt: float, refractory_steps: int, notes: list) -> CellModel:
    """GLIF_curr_alpha (NEST's glif_psc) as glif_psc's per-step update, written out (models/glif.py).

    Not ODEs integrated by Brian2: glif_psc drives v over each step by the after-spike currents'
    step mean, held constant (not their exact decay), and freezes the thresholds and currents
    while refractory; only its own discrete map gives NEST's numbers. So the equations hold
    plain variables and one operation per step (run_regularly in the 'groups' slot) applies the
    map in glif_psc's order, with its propagators (glif.parameters' row, so numba's numbers):
    thresholds and currents, v from the ports' x, y of the step's start, then each port's x, y.
    Brian2's threshold then compares U (v - v_rest) with the threshold, the synapses add e/tau_syn w
    to x of their port (after the update, as NEST's arrivals), the reset is glif_psc's. The
    refractory count is the cell's own (ref_left): glif_psc holds v and freezes the thresholds
    and currents while the PSCs go on, which Brian2's `unless refractory` cannot express.
    Everything but v is in PyNN's numbers (mV, nA, nA/ms) as dimensionless variables.
    Abstract code has no `if`: a step's refractory branch is `new*active + old*(1 - active)`,
    exact for either value of active."""
    from ..models import glif

    row = glif.parameters(q, dt)
    n_asc = int(row[glif.N_ASC])
    ns: dict[str, Any] = {"P33": ("1", row[glif.P33]), "P30": ("1", row[glif.P30]), "E_L": ("1", row[glif.E_L]),
                          "th_inf": ("1", row[glif.TH_INF])}
    keep = "(1 - active)*{0}"  # the value a refractory step keeps
    state = ["v : volt", "U : 1", "U_old : 1", "active : integer", "ref_left : integer"]
    code = ["active = int(ref_left <= 0)", "ref_left = ref_left - 1 + active", "U_old = v/mV - E_L"]
    threshold = ["th_inf"]
    reset: list[str] = []
    if q.has_theta_spike:
        ns.update(ts_decay=("1", row[glif.TS_DECAY]), ts_at_spike=("1", row[glif.TS_AT_SPIKE]), ts_add=("1", row[glif.TS_ADD]))
        state.append("theta_s : 1")
        code.append("theta_s = active*(theta_s*ts_decay) + " + keep.format("theta_s"))
        threshold.insert(0, "theta_s")
    asc_sum = []
    for a in range(1, n_asc + 1):
        c = glif.N_FIXED + glif.ASC_COLUMNS * (a - 1)
        ns.update({f"asc_decay_{a}": ("1", row[c]), f"asc_mean_{a}": ("1", row[c + 1]), f"asc_keep_{a}": ("1", row[c + 2]),
                   f"asc_amp_{a}": ("1", row[c + 3])})
        state.append(f"I_asc_{a} : 1")
        asc_sum.append(f"asc_mean_{a}*I_asc_{a}")
        reset.append(f"I_asc_{a} = asc_amp_{a} + I_asc_{a}*asc_keep_{a}")
    u_new = "U_old*P33"
    if asc_sum:  # the step mean of the currents before they decay
        code.append("asc_sum = " + " + ".join(asc_sum))
        code += [f"I_asc_{a} = active*(I_asc_{a}*asc_decay_{a}) + " + keep.format(f"I_asc_{a}") for a in range(1, n_asc + 1)]
        u_new += " + asc_sum*P30"
    first_port = glif.N_FIXED + glif.ASC_COLUMNS * n_asc
    jumps = {}
    for k in range(1, q.n_ports + 1):
        c = first_port + glif.PORT_COLUMNS * (k - 1)
        ns.update({f"p11_{k}": ("1", row[c]), f"p21_{k}": ("1", row[c + 1]), f"p31_{k}": ("1", row[c + 2]),
                   f"p32_{k}": ("1", row[c + 3])})
        jumps[f"syn{k}"] = row[c + 4]
        state += [f"x_{k} : 1", f"y_{k} : 1"]
        u_new += f" + p31_{k}*x_{k} + p32_{k}*y_{k}"
    if q.has_theta_voltage:  # from v and the currents' mean of the step's start (glif_psc's order)
        ns.update(g_m=("1", row[glif.G]), v_decay=("1", row[glif.V_DECAY]), tv_decay=("1", row[glif.TV_DECAY]),
                  phi_v=("1", row[glif.PHI]), ab_ratio=("1", row[glif.AB_RATIO]))
        state.append("theta_v : 1")
        code += ["beta_asc = asc_sum/g_m" if asc_sum else "beta_asc = 0",
                 "theta_v = active*(phi_v*(U_old - beta_asc)*v_decay + tv_decay*(theta_v - phi_v*(U_old - beta_asc) "
                 "- ab_ratio*beta_asc) + ab_ratio*beta_asc) + " + keep.format("theta_v")]
        threshold.insert(1 if q.has_theta_spike else 0, "theta_v")
    code += [f"U = active*({u_new}) + " + keep.format("U_old"), "v = (U + E_L)*mV"]
    # every port's alpha PSC, after v took its values of the step's start
    for k in range(1, q.n_ports + 1):
        code += [f"y_{k} = p21_{k}*x_{k} + p11_{k}*y_{k}", f"x_{k} = p11_{k}*x_{k}"]
    if q.has_theta_spike:  # GLIF2/4/5: reset from v before the step, the threshold's spike component raised
        ns.update(vr_fraction=("1", row[glif.VR_FRACTION]), vr_add=("1", row[glif.VR_ADD]))
        reset += ["v = (vr_fraction*U_old + vr_add + E_L)*mV", "theta_s = theta_s*ts_at_spike + ts_add"]
    else:
        ns["U_reset"] = ("1", row[glif.U_RESET])
        reset.append("v = (U_reset + E_L)*mV")
    reset.append(f"ref_left = {refractory_steps}")
    notes.append(("GLIF_curr_alpha integration", "glif_psc's per-step update written as Brian2 code run each step "
                  "(run_regularly, 'groups' slot) with NEST's propagators; its own refractory count "
                  f"({refractory_steps} steps: v held, thresholds and after-spike currents frozen, the PSCs propagated)"))
    on_pre = {port: f"x_{port[3:]}_post += {jump!r}*{{w}}/nA" for port, jump in jumps.items()}
    # No differential equations: Brian2's state updater has nothing to integrate (the method is unused).
    return CellModel("\n".join(state) + "\n", ns, "exact", f"active == 1 and U > {' + '.join(threshold)}", "\n".join(reset),
                     on_pre, "nA", None, initial_from_parameters={f"I_asc_{a}": q.asc_init[a - 1] for a in range(1, n_asc + 1)},
                     step_code="\n".join(code), notes=notes)


# Each weight dependence as (potentiation by kp, depression by km) on the dimensionless weight w.
_POTENTIATE = {
    "additive": "w = clip(w + w_max*A_plus*kp, w_min, w_max)",
    "multiplicative": "w = clip(w + (w_max - w)*A_plus*kp, w_min, w_max)",
    "power_law": "w = w + pl_lambda*nest_unit**(pl_mu - 1)*w**pl_mu*kp",  # NEST's w^mu reads pA or nS
}
_DEPRESS = {
    "additive": "w = clip(w - w_max*A_minus*km, w_min, w_max)",
    "multiplicative": "w = clip(w - (w - w_min)*A_minus*km, w_min, w_max)",
    "power_law": "w = w - pl_lambda*pl_alpha*w*km\nw = w*int(w > 0)",
}
_RULES = {  # rule -> (potentiation, depression)
    "AdditiveWeightDependence": ("additive", "additive"),
    "MultiplicativeWeightDependence": ("multiplicative", "multiplicative"),
    "AdditivePotentiationMultiplicativeDepression": ("additive", "multiplicative"),
    "stdp_pl_synapse_hom": ("power_law", "power_law"),
}


def plastic_synapse_model(synapse) -> tuple[str, str, str, dict[str, tuple[str, float]]]:
    """(model, plastic on_pre, on_post, namespace in (unit, value)) of a plastic synapse."""
    potentiate, depress = _RULES[synapse.rule]
    model = "w : 1\nKplus : 1\nKminus : 1\ntpre : second\ntpost : second\n"
    on_pre = ("km = Kminus*exp(-(t - tpost)/tau_minus)\n" + _DEPRESS[depress] + "\n"
              "Kplus = Kplus*exp(-(t - tpre)/tau_plus) + 1\ntpre = t\n")
    on_post = ("kp = Kplus*exp(-(t - tpre)/tau_plus) - int(abs(t - tpre) < half_dt)\n" + _POTENTIATE[potentiate] + "\n"
               "Kminus = Kminus*exp(-(t - tpost)/tau_minus) + 1\ntpost = t\n")
    if isinstance(synapse, PowerLawSTDP):
        ns = {"tau_plus": ("ms", synapse.tau_plus), "tau_minus": ("ms", synapse.tau_minus), "pl_lambda": ("1", synapse.lambda_),
              "pl_alpha": ("1", synapse.alpha), "pl_mu": ("1", synapse.mu), "nest_unit": ("1", 1000.0)}
    else:
        td, wd = synapse.timing_dependence, synapse.weight_dependence
        ns = {"tau_plus": ("ms", td.tau_plus), "tau_minus": ("ms", td.tau_minus), "A_plus": ("1", td.A_plus),
              "A_minus": ("1", td.A_minus), "w_min": ("1", wd.w_min), "w_max": ("1", wd.w_max)}
    return model, on_pre, on_post, ns


class _CompileStats:
    """Counts the Cython modules Brian2 compiles or loads from its cache, and the time it takes."""

    def __init__(self, manager):
        self.manager = manager
        self.original = manager._load_module
        self.compiled = self.reused = 0
        self.seconds = 0.0

        def load_module(module_path, *args, **kwargs):
            have = os.path.isfile(module_path)
            t0 = time.perf_counter()
            try:
                return self.original(module_path, *args, **kwargs)
            finally:
                self.seconds += time.perf_counter() - t0
                if have:
                    self.reused += 1
                else:
                    self.compiled += 1

        manager._load_module = load_module

    def snapshot(self) -> tuple[int, int, float]:
        return self.compiled, self.reused, self.seconds

    def restore(self) -> None:
        self.manager._load_module = self.original


def cache_state(compiled: int, reused: int) -> str:
    if compiled == 0:
        return "warm"
    return "cold" if reused == 0 else "partial"


# ----------------------------------------------------------------------------- runtime device


def layered_plasticity_problems(resolved: ResolvedScenario) -> list[str]:
    """Plastic projections from a source whose steps carry several spikes: its layers give each
    edge one synapse per layer, each with its own weight, so STDP would split the weight where
    NEST updates it once per step (the parrot's spike with its multiplicity)."""
    problems = []
    for proj in resolved.projections:
        pop = resolved.populations[proj.pre]
        if proj.spec.synapse is None or not pop.is_source:
            continue
        several = spikes_per_step(pop.spec, resolved.dt) > 1 or array_multiplicity(pop, resolved)[0] > 1
        if several:
            problems.append(f"projection {proj.label}: plastic synapse from {proj.pre}, whose steps carry several spikes of "
                            "one source: brian2 takes them as layers of the source, one synapse per layer with its own "
                            "weight, which splits the STDP weight NEST updates once per step")
    return problems


class Brian2Backend(SimulatorBackend):
    name = "brian2"
    title = "Brian2, runtime device (Cython)"
    distribution = "brian2"
    module = "brian2"
    where = "CPU (1 thread)"
    packages = ("brian2", "cython", "sympy")
    accepted_options = (CACHE_OPTION, METHOD_OPTION)
    max_threads = 1
    compile_after_build = True
    plasticity_rules = PLASTICITY_RULES
    cell_types = CELL_TYPES  # as equations (`cell_model`); HH_cond_exp needs GSL (`find_gsl`)
    device_name: ClassVar[str] = "runtime"
    # A SpikeGeneratorGroup takes one spike per index and step: a step carrying k spikes fires k
    # layers of the source (`create_array_source`), each projection from it replicated per layer.
    source_multiplicity = True

    @classmethod
    def available(cls) -> tuple[bool, str]:
        ok, why = super().available()
        if not ok:
            return ok, why
        import importlib.util

        if cls.device_name == "runtime" and importlib.util.find_spec("Cython") is None:
            return False, "Brian2's runtime device needs Cython (pip install cython)"
        if not (shutil.which("g++") or shutil.which("c++")):
            return False, "Brian2 compiles generated C++: no C++ compiler (g++) found on PATH"
        if cls.device_name == "cpp_standalone" and not shutil.which("make"):
            return False, "Brian2's C++ standalone device needs 'make' on PATH"
        return True, why

    def supports(self, resolved: ResolvedScenario, mode: str) -> list[str]:
        problems = []
        for problem in super().supports(resolved, mode):
            if problem.startswith("at most") and self.device_name == "runtime":
                problem = (f"brian2 (runtime device) runs in one thread, {self.threads} asked for; "
                           "use the backend brian2.standalone for OpenMP threads")
            problems.append(problem)
        method = self.options.get("method")
        for name, pop in resolved.cells.items():
            if method == "exact" and pop.cell_type == "IF_cond_exp":
                problems.append(f"population {name}: method=exact: IF_cond_exp's membrane equation is not linear "
                                "(g (E_rev - v)), Brian2 has no exact solution for it; use exponential_euler or euler")
            elif method is not None and pop.cell_type not in DEFAULT_METHODS:
                problems.append(f"population {name}: option method applies to IF_cond_exp and IF_curr_exp only; "
                                f"{pop.cell_type} has its own validated method")
        hh = [name for name, pop in resolved.cells.items() if pop.cell_type == "HH_cond_exp"]
        gsl = find_gsl() if hh else None
        if gsl is not None and gsl.problem:  # the machine lacks it, not the scenario: a run's refusal
            problems += [f"population {name}: cell type HH_cond_exp: {gsl.problem}" for name in hh]
        return problems + layered_plasticity_problems(resolved)

    # ------------------------------------------------------------------ load

    def load(self) -> None:
        import brian2 as b2

        self.b2 = b2
        b2.prefs.logging.file_log = False
        b2.prefs.logging.save_script = False
        # The adapter holds every object it creates; a run that stops between build and sim
        # (a failure, a test) would otherwise warn about each one.
        b2.BrianLogger.suppress_name("unused_brian_object")
        self._cold_dirs = ColdDirectories("brian2")
        self._lock_fh = None
        gsl = find_gsl()
        if gsl.directory is not None:  # GSL outside the compiler's search path: tell Brian2 where (HH_cond_exp)
            b2.prefs.GSL.directory = gsl.directory
            lib = os.path.join(os.path.dirname(gsl.directory), "lib")
            for pref in ("library_dirs", "runtime_library_dirs"):  # the standalone device links with these only
                dirs = b2.prefs["codegen.cpp." + pref]
                if lib not in dirs:
                    b2.prefs["codegen.cpp." + pref] = [*dirs, lib]
            self.info["gsl_directory"] = gsl.directory
        self._activate_device()
        self.info["device"] = self.device_name
        self.info["brian2_version"] = b2.__version__

    def _activate_device(self) -> None:
        b2 = self.b2
        b2.set_device("runtime")
        b2.prefs.codegen.target = "cython"  # never a silent fallback to numpy
        if self.option("cache") == "cold":
            cache_dir = self._cold_dirs.new("cython")
        else:
            cache_dir = cache_root() / "cython"
            cache_dir.mkdir(parents=True, exist_ok=True)
        b2.prefs.codegen.runtime.cython.cache_dir = str(cache_dir)
        self.info["cache_dir"] = str(cache_dir)
        from brian2.codegen.runtime.cython_rt.extension_manager import cython_extension_manager

        self._stats = _CompileStats(cython_extension_manager)

    # ------------------------------------------------------------------ the template's hooks: build

    def setup(self, resolved: ResolvedScenario) -> None:
        b2, dt = self.b2, resolved.dt
        b2.defaultclock.dt = dt * b2.ms
        b2.seed(resolved.seed % 2**32)
        self.groups: dict[str, Any] = {}
        self.spike_monitors: dict[str, Any] = {}
        self.v_monitors: dict[str, Any] = {}
        self.synapse_objects: dict[str, Any] = {}
        self.layers: dict[str, int] = {}  # sources whose steps carry several spikes: their number of layers
        self.weight_monitors: dict[str, tuple[Any, list[int]]] = {}
        self.cell_models: dict[str, CellModel] = {}
        self.objects: list[Any] = []
        # Synapses are named by the projection's place in the file: stable names keep the standalone project warm.
        self._syn_names = {proj.label: f"syn_{k}_" + "".join(c if c.isalnum() or c == "_" else "_" for c in proj.label)
                           for k, proj in enumerate(resolved.projections)}
        self._before_build = self._stats.snapshot() if self._stats else (0, 0, 0.0)
        self.translate("spike times", f"Brian2 stamps a spike at the start of its step: reported times are Brian2's + {dt} ms (NEST's end-of-step stamp)")

    def finish_build(self) -> None:
        b2 = self.b2
        self._monitor_weights()
        if self.v_monitors:
            self.translate("v sampling", "v recorded at the end of each step (when='end', after reset); Brian2 stamps it with the "
                           f"step's start: reported times are + {self.resolved.dt} ms, k*dt for k = 1..n_steps")
        self.net = b2.Network(*self.objects, name="snnbench_network")
        if self._stats:
            c0, r0, s0 = self._before_build
            c1, r1, s1 = self._stats.snapshot()
            self.info.update(build_modules_compiled=c1 - c0, build_modules_reused=r1 - r0, build_codegen_s=s1 - s0)

    def _quantity(self, unit: str, value: float):
        """value in `unit`: "1", a Brian2 unit name, or a ratio of two ("mV/ms", "1/ms")."""
        b2 = self.b2
        top, _, bottom = unit.partition("/")
        q = 1.0 if top == "1" else getattr(b2, top)
        return float(value) * (q / getattr(b2, bottom) if bottom else q)

    def _cell_namespace(self, ns: dict[str, Any]) -> dict[str, Any]:
        return {k: self._quantity(unit, v) for k, (unit, v) in ns.items()}

    def create_cells(self, name: str, pop, v_init) -> None:
        b2, dt = self.b2, self.resolved.dt
        prm = pop.spec.parameters
        steps = self.refractory_steps(name, prm.tau_refrac) if hasattr(prm, "tau_refrac") else None
        model = cell_model(pop.cell_type, prm, dt, steps, self.option("method"))
        self.cell_models[name] = model
        for what, detail in model.notes:
            self.translate(what, f"{name}: {detail}")
        kwargs = {}
        if model.refractory_steps is not None:
            steps = model.refractory_steps
            kwargs["refractory"] = (steps + 1) * dt * b2.ms
            what = "clamps v" if model.clamp_when_refractory else "blocks spikes"
            self.translate(
                "refractory", f"{name}: refractory = {steps + 1} dt = {(steps + 1) * dt:g} ms in Brian2 (counted from its start-of-step "
                f"stamp) {what} for {steps} steps after the spike's step, as NEST's {steps * dt:g} ms",
            )
        if model.method_options:
            kwargs["method_options"] = {key: ({var: self._quantity(*q) for var, q in value.items()} if isinstance(value, dict)
                                              else value) for key, value in model.method_options.items()}
        group = b2.NeuronGroup(
            pop.size, model.equations, threshold=model.threshold, reset=model.reset, method=model.method,
            namespace=self._cell_namespace(model.namespace), name=f"pop_{name}", **kwargs,
        )
        if isinstance(v_init, np.ndarray):
            group.v = v_init * b2.mV
        else:
            self._assign(group, "v", v_init, "mV", f"{name}.v", pop.size)
        for var, (unit, pynn_name) in model.initial.items():  # PyNN's other initial values, as the scenario gives them
            setattr(group, var, self._quantity(unit, getattr(pop.spec.initial_values, pynn_name)))
        for var, value in model.initial_from_parameters.items():
            setattr(group, var, value)
        if model.step_code is not None:
            self.objects.append(group.run_regularly(model.step_code, when="groups", name=f"step_{name}"))
        if model.remember_v:  # v at the start of each step, for a spike rule that needs it (HH)
            group.v_before = "v"  # Brian2's code, not values read back: standalone has none before its run
            self.objects.append(group.run_regularly("v_before = v", when="before_groups", name=f"remember_v_{name}"))
        if model.voltage_step:
            self.translate("voltage-step synapses", f"{name}: the synapses onto it add their weight to v before the "
                           "threshold is checked (when='before_thresholds'), as NEST, with delays one step shorter: in that "
                           "slot Brian2 sends the spikes of the previous step")
        self.groups[name] = group
        self.objects.append(group)

    def create_poisson_source(self, name: str, pop) -> bool:
        b2, dt, window = self.b2, self.resolved.dt, self.poisson_window(pop)
        if window.rate * dt / 1000.0 > 1:
            self.translate("SpikeSourcePoisson", f"{name}: rate x dt = {window.rate * dt / 1000.0:g} > 1, and a PoissonGroup "
                           "spikes at most once per step: the harness's Poisson(rate x dt) counts per step are used instead")
            return False
        k_start = int(round(window.start / dt))
        ns = {"poisson_rate": window.rate * b2.Hz}
        if k_start > 0 or window.bounded:
            k_stop = int(round(window.stop / dt)) if window.bounded else 2**62
            for what, value in (("start", window.start), ("start + duration", window.stop)):
                if math.isfinite(value) and abs(round(value / dt) * dt - value) > 1e-9:
                    self.translate("SpikeSourcePoisson", f"{name}: {what} {value} ms put on the {dt} ms grid")
            ns.update(k_start=k_start, k_stop=k_stop)
            rates = "int(timestep(t, dt) >= k_start and timestep(t, dt) < k_stop) * poisson_rate"
        else:
            rates = "poisson_rate"
        group = b2.PoissonGroup(pop.size, rates=rates, namespace=ns, name=f"pop_{name}")
        self.translate("SpikeSourcePoisson", f"{name}: PoissonGroup (one train per source, shared by its targets, as PyNN's SpikeSourcePoisson)")
        self.groups[name] = group
        self.objects.append(group)
        return True

    def create_array_source(self, name: str, pop, steps) -> None:
        b2, dt = self.b2, self.resolved.dt
        indices = np.repeat(np.arange(pop.size, dtype=np.int64), [s.size for s in steps])
        emit = (np.concatenate(steps) - 1) if steps else np.empty(0, dtype=np.int64)
        # The j-th spike of a source in one step goes to layer j (index + j * size): Brian2 refuses
        # two spikes of one index in one step.
        layer = np.concatenate([np.arange(s.size) - np.searchsorted(s, s) for s in steps]) if steps else emit
        n_layers = int(layer.max()) + 1 if layer.size else 1
        if n_layers > 1:
            self.layers[name] = n_layers
            indices = indices + layer * pop.size
            self.translate("spike source", f"{name}: steps carrying up to {n_layers} spikes: a SpikeGeneratorGroup of "
                           f"{n_layers} layers of {pop.size} (the k spikes of a step fire layers 0..k-1), each projection "
                           "from it connected once per layer", layers=n_layers)
        group = b2.SpikeGeneratorGroup(pop.size * n_layers, indices, emit * dt * b2.ms, name=f"pop_{name}")
        self.translate("spike source", f"{name}: SpikeGeneratorGroup emits a spike at m*dt in step m-1 (given the time (m-1)*dt), as NEST's spike_generator")
        self.groups[name] = group
        self.objects.append(group)

    # -- values: constants, distributions, arrays

    def _expression(self, value, unit: str) -> str:
        if isinstance(value, Uniform):
            return f"({value.low!r} + ({value.high!r} - {value.low!r})*rand())*{unit}"
        if isinstance(value, (Normal, NormalClipped)):
            return f"({value.mu!r} + {value.sigma!r}*randn())*{unit}"
        raise TypeError(value)

    def _assign(self, target, var: str, value, unit: str, label: str, n_expected: float = 1.0) -> None:
        """Set target.var to a constant or a scenario distribution, with Brian2's random numbers."""
        b2 = self.b2
        if isinstance(value, (int, float)):
            setattr(target, var, float(value) * getattr(b2, unit))
            return
        setattr(target, var, self._expression(value, unit))
        if isinstance(value, NormalClipped):
            self._redraw(target, var, value, unit, label, n_expected)

    def _redraw(self, target, var: str, value: NormalClipped, unit: str, label: str, n_expected: float) -> None:
        lo, hi = value.low, value.high
        outside = " or ".join(c for c in (f"{var} < {lo!r}*{unit}" if math.isfinite(lo) else "",
                                          f"{var} > {hi!r}*{unit}" if math.isfinite(hi) else "") if c)
        if not outside:
            return
        expr = self._expression(value, unit)
        if self.device_name == "runtime":
            view = getattr(target, var)
            si = float(getattr(self.b2, unit))
            while True:
                vals = np.asarray(getattr(target, var + "_")[:], dtype=float)
                if not np.any((vals < lo * si) | (vals > hi * si)):
                    return
                view[outside] = expr
        # Standalone: values cannot be read back before the binary runs; redraw a fixed number of
        # times, enough that fewer than 1e-3 values are expected to remain outside, then clip.
        from scipy.stats import norm

        q = float(norm.cdf(hi, value.mu, value.sigma) - norm.cdf(lo, value.mu, value.sigma)) if value.sigma > 0 else 1.0
        n = max(1.0, n_expected)
        passes = _MAX_REDRAW_PASSES if q <= 0 else (0 if q >= 1 else int(math.ceil(math.log(1e-3 / n) / math.log1p(-q))))
        passes = min(max(passes, 1), _MAX_REDRAW_PASSES)
        view = getattr(target, var)
        for _ in range(passes):
            view[outside] = expr
        view[outside] = f"clip({var}, {lo!r}*{unit}, {hi!r}*{unit})"
        self.translate("normal_clipped", f"{label}: standalone redraws out-of-window values {passes} times "
                       "(expected < 1e-3 left), then clips any left")

    # -- projections

    def _synapses(self, proj, weight_const: float | None, delay_steps: int | None):
        """A Synapses object onto the projection's target variable: a constant weight in its
        namespace (else a variable w), a constant delay in steps (else a variable delay)."""
        b2, dt = self.b2, self.resolved.dt
        target = self.cell_models[proj.post]
        unit = target.weight_unit
        namespace, kwargs = {}, {}
        if weight_const is not None:
            namespace["w_syn"] = weight_const * getattr(b2, unit)
        if delay_steps is not None:
            kwargs["delay"] = (delay_steps - self._step_earlier(proj)) * dt * b2.ms
        syn = b2.Synapses(self.groups[proj.pre], self.groups[proj.post],
                          model="" if weight_const is not None else f"w : {_BRIAN2_DIMENSION[unit]}",
                          on_pre=target.on_pre[proj.receptor].format(w="w_syn" if weight_const is not None else "w"),
                          namespace=namespace, name=self._syn_names[proj.label], **kwargs)
        if target.voltage_step:
            # Before the threshold, as NEST adds a delta synapse's weight to v within the step's
            # update; in that slot the presynaptic spikes Brian2 sends are those of the previous
            # step, hence one step less delay (`_step_earlier`).
            syn.pre.when = "before_thresholds"
        self.synapse_objects[proj.label] = syn
        self.objects.append(syn)
        return syn, unit

    def _plastic_synapses(self, proj, pre_idx, post_idx, weight, delay_steps):
        """A plastic Synapses object (see the module's docstring), connected and initialised."""
        b2, dt = self.b2, self.resolved.dt
        target = self.cell_models[proj.post]
        model, on_pre, on_post, ns = plastic_synapse_model(proj.spec.synapse)
        if "nest_unit" in ns and target.weight_unit == "mV":
            ns["nest_unit"] = ("1", 1.0)  # a voltage weight is mV in NEST too: w^mu reads it unscaled
        ns = self._cell_namespace({**ns, "w_unit": (target.weight_unit, 1.0), "half_dt": ("ms", 0.5 * dt)})
        # The weight reaches the cell as a static synapse's does: through the cell model's receptor code.
        transmit = target.on_pre[proj.receptor].format(w="w*w_unit")
        syn = b2.Synapses(self.groups[proj.pre], self.groups[proj.post], model=model,
                          on_pre={"pre": on_pre, "transmit": transmit}, on_post=on_post,
                          namespace=ns, name=self._syn_names[proj.label])
        syn.connect(i=pre_idx.astype(np.int32), j=post_idx.astype(np.int32))
        syn.w = weight
        syn.tpre = syn.tpost = -1.0 * b2.second  # no spike yet: no same-step correction
        f = proj.spec.synapse.dendritic_delay_fraction
        dendritic = np.round(f * delay_steps).astype(np.int64)
        if np.any(np.abs(f * delay_steps - dendritic) > 1e-9):
            self.translate("dendritic delay", f"{proj.label}: the dendritic part {f} of each delay put on the {dt} ms grid (nearest step)")
        syn.transmit.delay = (delay_steps - self._step_earlier(proj)) * dt * b2.ms
        if target.voltage_step:  # as `_synapses`: v stepped before the threshold, one step less delay
            syn.transmit.when = "before_thresholds"
        syn.post.delay = dendritic * dt * b2.ms
        syn.pre.delay = (delay_steps - dendritic) * dt * b2.ms
        self.translate("plasticity", f"{proj.label}: {proj.spec.synapse.describe} as Brian2 pathways (pre: depression, "
                       f"transmit: +w after the delay, post: potentiation); the post spike seen {f} of the delay after it, "
                       "the pre spike the rest; potentiation applied when the post spike is seen (NEST: at the next pre spike)")
        self.synapse_objects[proj.label] = syn
        self.objects.append(syn)

    def why_not_native(self, proj) -> str | None:
        if proj.pre in self.layers:
            return f"{proj.pre} is a layered source (several spikes per step): connected once per layer"
        if (proj.spec.synapse is not None or proj.made_static) and not (isinstance(proj.weight, float) and isinstance(proj.delay, float)):
            # a projection made static (--static-synapses) too: the same connections as its plastic run
            return "a plastic projection with drawn weights or delays is built from the harness's arrays in this adapter"
        return None

    def _step_earlier(self, proj) -> int:
        """1 for synapses that act before the threshold (voltage steps: see `_synapses`), else 0."""
        return int(self.cell_models[proj.post].voltage_step)

    def connect_arrays(self, proj, arrays, delay_steps) -> None:
        b2, dt = self.b2, self.resolved.dt
        if proj.spec.synapse is not None:
            self._plastic_synapses(proj, arrays.pre_idx, arrays.post_idx, arrays.weight, np.asarray(delay_steps, np.int64))
            return
        syn, unit = self._synapses(proj, None, None)
        n_layers, n_pre = self.layers.get(proj.pre, 1), self.resolved.populations[proj.pre].size
        pre = np.concatenate([arrays.pre_idx + k * n_pre for k in range(n_layers)])
        syn.connect(i=pre.astype(np.int32), j=np.tile(arrays.post_idx, n_layers).astype(np.int32))
        syn.w = np.tile(arrays.weight, n_layers) * getattr(b2, unit)
        syn.delay = np.tile(delay_steps - self._step_earlier(proj), n_layers) * dt * b2.ms

    def connect_native(self, proj) -> bool:
        if proj.spec.synapse is not None:  # constant weight and delay (why_not_native)
            return False
        weight_const = proj.weight if isinstance(proj.weight, float) else None
        delay_const = self.constant_delay_steps(proj.delay, proj.label) if isinstance(proj.delay, float) else None
        syn, unit = self._synapses(proj, weight_const, delay_const)
        self._connect_native(syn, proj)
        if weight_const is None:
            self._assign(syn, "w", proj.weight, unit, f"{proj.label}.weight", self._expected_synapses(proj))
        if delay_const is None:
            self._assign_delay(syn, proj)
        return True

    def _expected_synapses(self, proj) -> float:
        from ..scenario.resolve import expected_connections

        r = self.resolved
        return expected_connections(proj.connector, r.populations[proj.pre].size, r.populations[proj.post].size, proj.pre == proj.post)

    def _assign_delay(self, syn, proj) -> None:
        self._assign(syn, "delay", proj.delay, "ms", f"{proj.label}.delay", self._expected_synapses(proj))
        if self._step_earlier(proj):
            syn.delay = "delay - dt"
        self.translate("delay", f"{proj.label}: delays drawn by Brian2 are put on the {self.resolved.dt} ms grid by its spike queue (nearest step)")

    def _connect_native(self, syn, proj) -> None:
        conn = proj.connector
        if conn.type not in self._NATIVE_CONNECT:
            raise TypeError(conn)
        no_self = proj.pre == proj.post and not getattr(conn, "allow_self_connections", True)
        self._NATIVE_CONNECT[conn.type](self, syn, proj, no_self)

    def _connect_probability(self, syn, proj, no_self: bool) -> None:
        if no_self:
            syn.connect(condition="i != j", p=proj.connector.p)
        else:
            syn.connect(p=proj.connector.p)

    def _connect_in_degree(self, syn, proj, no_self: bool) -> None:
        conn = proj.connector
        K = int(conn.n)
        if K == 0:
            return
        if conn.with_replacement:
            gen = (f"(j + 1 + int(rand()*(N_pre - 1))) % N_pre for _ in range({K})" if no_self
                   else f"int(rand()*N_pre) for _ in range({K})")
        else:
            gen = (f"k + int(k >= j) for k in sample(N_pre - 1, size={K})" if no_self
                   else f"k for k in sample(N_pre, size={K})")
        syn.connect(i=gen)

    def _connect_total_number(self, syn, proj, no_self: bool) -> None:
        n_pre = self.resolved.populations[proj.pre].size
        n_post = self.resolved.populations[proj.post].size
        pre, post = realise_connect(proj.connector, n_pre, n_post, proj.pre == proj.post,
                                    rng_for(self.resolved.seed, "brian2-native-edges", proj.label))
        self.translate("fixed_total_number", f"{proj.label}: Brian2 has no fixed-total-number connector; the pairs are drawn "
                       "with numpy (snnbench's sampler, a stream of its own) and given to connect(i=, j=)")
        if pre.size:
            syn.connect(i=pre.astype(np.int32), j=post.astype(np.int32))

    def _connect_one_to_one(self, syn, proj, no_self: bool) -> None:
        syn.connect(j="i")

    def _connect_all_to_all(self, syn, proj, no_self: bool) -> None:
        if no_self:
            syn.connect(condition="i != j")
        else:
            syn.connect()

    # Brian2's way of drawing each connector type natively (syn.connect with a condition, a
    # generator or explicit pairs).
    _NATIVE_CONNECT = {
        "fixed_probability": _connect_probability,
        "fixed_in_degree": _connect_in_degree,
        "fixed_total_number": _connect_total_number,
        "one_to_one": _connect_one_to_one,
        "all_to_all": _connect_all_to_all,
    }

    # -- recording

    def _monitor_weights(self) -> None:
        """A StateMonitor of w per recorded plastic projection, sampling at the times' common step."""
        b2, dt = self.b2, self.resolved.dt
        for proj in self.weight_recordings():
            steps = self.weight_steps(proj)
            every = math.gcd(*[s for s in steps if s] or [self.resolved.n_steps])
            before_end = [s for s in steps if s < self.resolved.n_steps]
            mon = None
            if before_end:
                mon = b2.StateMonitor(self.synapse_objects[proj.label], "w", record=True, dt=every * dt * b2.ms,
                                      when="start", name=f"w_{self._syn_names[proj.label]}")
                self.objects.append(mon)
            self.weight_monitors[proj.label] = (mon, [s // every for s in before_end])

    def weight_matrix(self, proj):
        syn = self.synapse_objects[proj.label]
        mon, rows = self.weight_monitors[proj.label]
        samples = [np.asarray(mon.w[:], float)[:, rows].T] if mon is not None else []
        if len(rows) < len(proj.spec.record.weights.times):  # simtime: the weights after the run
            samples.append(np.asarray(syn.w[:], float)[None, :])
        return np.asarray(syn.i[:], np.int64), np.asarray(syn.j[:], np.int64), np.concatenate(samples)

    def record(self, name: str, pop, n_spikes: int, n_v: int) -> None:
        b2, group = self.b2, self.groups[name]
        if n_spikes:
            mon = b2.SpikeMonitor(group if n_spikes == pop.size else group[:n_spikes], name=f"spikes_{name}")
            self.spike_monitors[name] = mon
            self.objects.append(mon)
        if n_v:
            mon = b2.StateMonitor(group, "v", record=np.arange(n_v), when="end", name=f"v_{name}")
            self.v_monitors[name] = mon
            self.objects.append(mon)

    # ------------------------------------------------------------------ compile, run

    def compile(self, resolved: ResolvedScenario) -> None:
        c0, r0, s0 = self._stats.snapshot()
        t0 = time.perf_counter()
        net, b2 = self.net, self.b2
        # What Network.run() does before its before_run(): the clocks and their interval.
        net._clocks = {obj.clock for obj in net.sorted_objects}
        for clock in net._clocks:
            clock.set_interval(net.t, net.t + resolved.simtime * b2.ms)
        net.before_run({})
        # Network.run() starts with a full gc.collect() (so that Brian2 can warn of objects left
        # out of the network, which this adapter silences): 0.10-0.14 s of CPU in this worker,
        # outside the loop Brian2 times. Done here, and the heap frozen until the run ends, so
        # that the sim phase's collection has only the objects made after this to look at.
        gc.collect()
        gc.freeze()
        compiled, reused, seconds = (a - b for a, b in zip(self._stats.snapshot(), (c0, r0, s0)))
        self.info.update(
            compile_cache=cache_state(compiled, reused), modules_compiled=compiled, modules_reused=reused,
            compile_codegen_s=time.perf_counter() - t0,
        )

    def run(self) -> None:
        b2 = self.b2
        net = self.net
        # The code objects were made by before_run() in compile(), and nothing has changed since:
        # Network.run() would generate them all again (in memory) before its loop; skip that.
        net.before_run = lambda run_namespace: None
        try:
            net.run(self.resolved.simtime * b2.ms, namespace={})
        finally:
            del net.before_run
            gc.unfreeze()
        self.info["sim_loop_s"] = float(b2.get_device()._last_run_time)

    # ------------------------------------------------------------------ the template's hooks: collect

    def read_spikes(self, name: str, pop):
        mon, dt = self.spike_monitors[name], self.resolved.dt
        times = np.asarray(mon.t_[:], dtype=float) * 1000.0 + dt  # Brian2's start-of-step stamp + dt
        return np.asarray(mon.i[:], dtype=np.int64), np.round(times / dt) * dt

    def read_v(self, name: str, pop):
        mon, dt = self.v_monitors[name], self.resolved.dt
        v = np.asarray(mon.v_[:], dtype=float) * 1000.0  # (cells, samples), V -> mV
        t = np.asarray(mon.t_[:], dtype=float) * 1000.0 + dt
        return np.round(t / dt) * dt, v.T

    def synapse_count(self, label: str) -> int:
        syn = self.synapse_objects.get(label)
        pre = next((p.pre for p in self.resolved.projections if p.label == label), None)
        return 0 if syn is None else int(len(syn)) // self.layers.get(pre, 1)  # a layered source's copies count once

    def close(self) -> None:
        gc.unfreeze()  # compile() froze the heap; a run that stopped before run() leaves it frozen
        # Drop the Brian2 objects, so that a later run in this process can reuse their names.
        for attr in ("net", "groups", "spike_monitors", "v_monitors", "synapse_objects", "objects"):
            self.__dict__.pop(attr, None)
        stats = getattr(self, "_stats", None)
        if stats is not None:
            stats.restore()
            self._stats = None
        if hasattr(self, "_cold_dirs"):
            self._cold_dirs.remove()


# ----------------------------------------------------------------------------- C++ standalone


class Brian2StandaloneBackend(Brian2Backend):
    name = "brian2.standalone"
    title = "Brian2, C++ standalone device"
    where = "CPU (OpenMP threads)"
    packages = ("brian2", "sympy")
    max_threads = None
    uses_child_processes = True
    device_name = "cpp_standalone"

    def _activate_device(self) -> None:
        self._stats = None
        if fix_gsl_standalone():
            self.info["gsl_standalone_fix"] = GSL_STANDALONE_FIX

    def build(self, resolved: ResolvedScenario, mode: str, network: Network | None) -> None:
        b2 = self.b2
        if self.option("cache") == "cold":
            project = self._cold_dirs.new("standalone")
        else:
            # Sizes are compiled into the code: one project per size too, so that a sweep over
            # N_pop keeps a warm project for each size.
            method = f"-{self.option('method')}" if self.option("method") else ""  # another method is other code
            project = cache_root() / "standalone" / f"{resolved.hash}-{mode}-N{resolved.N_pop}-t{self.threads}{method}"
            project.mkdir(parents=True, exist_ok=True)
            # One run at a time per project directory: the binary reads and writes its files there.
            lock_path = project.with_name(project.name + ".lock")
            self._lock_fh = open(lock_path, "w")
            t0 = time.perf_counter()
            fcntl.flock(self._lock_fh, fcntl.LOCK_EX)
            self.info["project_lock_wait_s"] = time.perf_counter() - t0
        self.project = project
        self.info["project_dir"] = str(project)
        b2.set_device("cpp_standalone", directory=str(project), build_on_run=False)
        b2.prefs.devices.cpp_standalone.openmp_threads = self.threads if self.threads > 1 else 0
        # Brian2's default 'make -j' starts every compiler at once (45 for VA COBA, ~4 GiB here);
        # one per core is as fast and keeps the compile phase's memory that of a normal build.
        make_args = [f"-j{os.cpu_count() or 1}"]
        b2.prefs.devices.cpp_standalone.extra_make_args_unix = make_args
        self.info["make_args"] = " ".join(make_args)
        self.info["openmp_threads"] = self.threads if self.threads > 1 else 0
        super().build(resolved, mode, network)

    def _objects_state(self) -> dict[str, float]:
        return {str(p): p.stat().st_mtime_ns for p in self.project.rglob("*.o")}

    def compile(self, resolved: ResolvedScenario) -> None:
        b2 = self.b2
        device = b2.get_device()
        before = self._objects_state()
        had_binary = (self.project / "main").exists()
        t0 = time.perf_counter()
        self.net.run(resolved.simtime * b2.ms, namespace={})  # records the run; generates its code
        t1 = time.perf_counter()
        device.build(directory=str(self.project), compile=True, run=False, with_output=False)
        after = self._objects_state()
        compiled = sum(1 for p, m in after.items() if before.get(p) != m)
        reused = len(after) - compiled
        if not had_binary:
            reused = 0
        self.info.update(
            compile_cache=cache_state(compiled, reused), objects_compiled=compiled, objects_reused=reused,
            codegen_s=t1 - t0, make_s=device.timers["compile"].get("make"),
        )

    def run(self) -> None:
        device = self.b2.get_device()
        device.run(directory=str(self.project), with_output=False)
        self.info["binary_s"] = device.timers.get("run_binary")
        self.info["sim_loop_s"] = float(device._last_run_time)

    def close(self) -> None:
        try:
            project = getattr(self, "project", None)
            if project is not None and project.exists():
                # Keep the compiled project (the warm cache); drop this run's data.
                for sub in ("results", "static_arrays"):
                    shutil.rmtree(project / sub, ignore_errors=True)
            if hasattr(self, "b2"):
                device = self.b2.get_device()
                if hasattr(device, "reinit"):
                    device.reinit()
                self.b2.set_device("runtime")
        finally:
            if getattr(self, "_lock_fh", None) is not None:
                fcntl.flock(self._lock_fh, fcntl.LOCK_UN)
                self._lock_fh.close()
                self._lock_fh = None
            super().close()
