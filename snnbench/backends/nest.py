"""nest: NEST through PyNEST (the `nest-simulator` wheel), OpenMP threads.

Translation of the PyNN standard models (PyNN units -> NEST units; the table is `NEST_CELLS`):
    IF_cond_exp -> iaf_cond_exp   (C_m pF = 1000 cm, g_L nS = C_m / tau_m, weights nS = 1000 uS)
    IF_curr_exp -> iaf_psc_exp    (C_m pF = 1000 cm, weights pA = 1000 nA)
    IF_cond_alpha -> iaf_cond_alpha, IF_curr_alpha -> iaf_psc_alpha, IF_curr_delta -> iaf_psc_delta
        (weights in mV, as PyNN's), EIF_cond_exp_isfa_ista -> aeif_cond_exp, Izhikevich ->
        izhikevich (weights in mV), HH_cond_exp -> hh_cond_exp_traub; the initial values other
        than v (w, u, m, h, n) set as NEST state variables
    GLIF_curr_alpha -> glif_psc (g nS = C_m / tau_m, after-spike currents pA = 1000 nA, the
        variant as its three mechanism flags); a projection onto port "synK" connects with
        receptor_type K, its weights pA of either sign
    inhibitory synapses: negative NEST weights (NEST routes them to the inhibitory receptor)
    SpikeSourcePoisson (native) -> poisson_generator -> parrot_neuron, one train per source
        shared by all its targets, as pyNN.nest does; the generator->parrot hop adds one dt.
    SpikeSourcePoisson (exact), SpikeSourceArray -> spike_generator with the realised times.
Connectors (native): pairwise_bernoulli, fixed_indegree, fixed_total_number (with replacement:
NEST cannot suppress its multapses, so without replacement the harness draws it), one_to_one,
all_to_all, with NEST's own random parameters for weights, delays and initial V. Populations on
a grid are created at their positions (nest.spatial.free on the wrapped unit square, in
snnbench's cell order), and gaussian_in_degree becomes NEST's spatial fixed_indegree with a
Gaussian kernel on distance, distance-dependent delays a NEST spatial parameter.
Exact mode: every edge, weight, delay and initial V from the harness's realisation.
Above NEST's limit of connections per virtual process and synapse model (the full-scale
microcircuit on 2 threads), each projection gets its own copy of static_synapse (recorded).

Progress: in a measured run the sim phase is one Prepare()/Cleanup() around Run() in chunks of
about 2 s of wall time, each followed by a report of the simulated ms and an ETA (the parent shows
them, as for numba); without a progress reader it is one Simulate().

Plastic synapses (one CopyModel per projection, its parameters in NEST's units):
    STDPMechanism(SpikePairRule, w-dependence) -> stdp_synapse, as pyNN.nest maps it:
        lambda = A_plus, alpha = A_minus / A_plus, Wmax = 1000 w_max (pA, nS; signed as the
        weights), tau_plus; (mu_plus, mu_minus) = (0, 0) additive, (1, 1) multiplicative, (0, 1)
        additive potentiation, multiplicative depression; tau_minus set on the post cells
    stdp_pl_synapse_hom -> stdp_pl_synapse_hom with the scenario's (NEST's) parameters
NEST brings a weight up to date when a presynaptic spike is sent (the pairings with the post
spikes since the last one, then the depression), and treats the whole delay as dendritic.
"""

from __future__ import annotations

import itertools
import math
import os
import time

import numpy as np

from ..scenario.model import (
    CELL_TYPES,
    CONDUCTANCE_BASED,
    GLIF_VARIANTS,
    PLASTICITY_RULES,
    DistanceDelay,
    GaussianInDegree,
    Normal,
    NormalClipped,
    PowerLawSTDP,
    STDPMechanism,
    Uniform,
    receptor_port,
)
from ..scenario.realise import positions
from ..scenario.resolve import ResolvedScenario
from .base import NATIVE_CONNECTORS
from .common.template import SimulatorBackend

# PyNN's standard cell types as NEST models: (NEST model, its parameters from PyNN's, its state
# variables from PyNN's initial values). A translation row is (PyNN name, NEST name, factor): NEST
# value = factor * PyNN value, or factor(parameters) when the NEST parameter is derived.
_MEMBRANE = (
    ("cm", "C_m", 1000.0),  # nF -> pF
    ("v_rest", "E_L", 1.0),  # mV
    ("v_reset", "V_reset", 1.0),  # mV
    ("v_thresh", "V_th", 1.0),  # mV
    ("tau_refrac", "t_ref", 1.0),  # ms
    ("i_offset", "I_e", 1000.0),  # nA -> pA
)
_TAU_M = (("tau_m", "tau_m", 1.0),)  # ms
_LEAK_CONDUCTANCE = (("tau_m", "g_L", lambda q: 1000.0 * q.cm / q.tau_m),)  # nS = C_m / tau_m
_SYNAPSES = (("tau_syn_E", "tau_syn_ex", 1.0), ("tau_syn_I", "tau_syn_in", 1.0))  # ms
_REVERSAL = (("e_rev_E", "E_ex", 1.0), ("e_rev_I", "E_in", 1.0))  # mV
_V = (("v", "V_m", 1.0),)  # mV

NEST_CELLS = {
    "IF_curr_exp": ("iaf_psc_exp", _MEMBRANE + _TAU_M + _SYNAPSES, _V),
    "IF_cond_exp": ("iaf_cond_exp", _MEMBRANE + _LEAK_CONDUCTANCE + _SYNAPSES + _REVERSAL, _V),
    "IF_curr_alpha": ("iaf_psc_alpha", _MEMBRANE + _TAU_M + _SYNAPSES, _V),
    "IF_cond_alpha": ("iaf_cond_alpha", _MEMBRANE + _LEAK_CONDUCTANCE + _SYNAPSES + _REVERSAL, _V),
    "IF_curr_delta": ("iaf_psc_delta", _MEMBRANE + _TAU_M, _V),
    "EIF_cond_exp_isfa_ista": ("aeif_cond_exp", (
        ("cm", "C_m", 1000.0),  # nF -> pF
        ("tau_refrac", "t_ref", 1.0),  # ms
        ("v_spike", "V_peak", 1.0),  # mV
        ("v_reset", "V_reset", 1.0),  # mV
        ("v_rest", "E_L", 1.0),  # mV
        ("i_offset", "I_e", 1000.0),  # nA -> pA
        ("a", "a", 1.0),  # nS
        ("b", "b", 1000.0),  # nA -> pA
        ("delta_T", "Delta_T", 1.0),  # mV
        ("tau_w", "tau_w", 1.0),  # ms
        ("v_thresh", "V_th", 1.0),  # mV
    ) + _LEAK_CONDUCTANCE + _SYNAPSES + _REVERSAL, _V + (("w", "w", 1000.0),)),  # w: nA -> pA
    "Izhikevich": ("izhikevich", (
        ("a", "a", 1.0),  # 1/ms
        ("b", "b", 1.0),  # 1/ms
        ("c", "c", 1.0),  # mV
        ("d", "d", 1.0),  # mV/ms
        ("i_offset", "I_e", 1000.0),  # nA -> pA (the model's pA are mV/ms: a 1 pF membrane)
    ), _V + (("u", "U_m", 1.0),)),  # mV/ms
    "HH_cond_exp": ("hh_cond_exp_traub", (
        ("gbar_Na", "g_Na", 1000.0),  # uS -> nS
        ("gbar_K", "g_K", 1000.0),  # uS -> nS
        ("g_leak", "g_L", 1000.0),  # uS -> nS
        ("cm", "C_m", 1000.0),  # nF -> pF
        ("v_offset", "V_T", 1.0),  # mV
        ("e_rev_Na", "E_Na", 1.0),  # mV
        ("e_rev_K", "E_K", 1.0),  # mV
        ("e_rev_leak", "E_L", 1.0),  # mV
        ("i_offset", "I_e", 1000.0),  # nA -> pA
    ) + _SYNAPSES + _REVERSAL, _V + (("m", "Act_m", 1.0), ("h", "Inact_h", 1.0), ("n", "Act_n", 1.0))),
    "GLIF_curr_alpha": ("glif_psc", (
        ("cm", "C_m", 1000.0),  # nF -> pF
        ("tau_m", "g", lambda q: 1000.0 * q.cm / q.tau_m),  # nS = C_m / tau_m
        ("v_rest", "E_L", 1.0),  # mV
        ("v_reset", "V_reset", 1.0),  # mV
        ("v_thresh", "V_th", 1.0),  # mV
        ("tau_refrac", "t_ref", 1.0),  # ms
        ("th_spike_add", "th_spike_add", 1.0),  # mV
        ("th_spike_decay", "th_spike_decay", 1.0),  # 1/ms
        ("voltage_reset_fraction", "voltage_reset_fraction", 1.0),
        ("voltage_reset_add", "voltage_reset_add", 1.0),  # mV
        ("th_voltage_index", "th_voltage_index", 1.0),  # 1/ms
        ("th_voltage_decay", "th_voltage_decay", 1.0),  # 1/ms
        ("asc_init", "asc_init", lambda q: [1000.0 * a for a in q.asc_init]),  # nA -> pA
        ("asc_decay", "asc_decay", lambda q: list(q.asc_decay)),  # 1/ms
        ("asc_amps", "asc_amps", lambda q: [1000.0 * a for a in q.asc_amps]),  # nA -> pA
        ("asc_r", "asc_r", lambda q: list(q.asc_r)),
        ("tau_syn", "tau_syn", lambda q: list(q.tau_syn)),  # ms, one per receptor port
        ("variant", "spike_dependent_threshold", lambda q: GLIF_VARIANTS[q.variant][0]),
        ("variant", "after_spike_currents", lambda q: GLIF_VARIANTS[q.variant][1]),
        ("variant", "adapting_threshold", lambda q: GLIF_VARIANTS[q.variant][2]),
    ), _V),
}
NEST_MODELS = {cell_type: model for cell_type, (model, _, _) in NEST_CELLS.items()}
# A weight's unit in NEST per PyNN unit: conductances nS per uS, currents pA per nA; the delta
# synapses of iaf_psc_delta and izhikevich take PyNN's mV as they are.
_WEIGHT_UNIT = {"IF_curr_delta": 1.0, "Izhikevich": 1.0}


def _translate(rows, values) -> dict[str, float]:
    return {nest_name: (factor(values) if callable(factor) else factor * getattr(values, name)) for name, nest_name, factor in rows}


# NEST stores at most this many connections per virtual process and synapse model (beyond it:
# KernelException "Too many connections"); copies of a synapse model (CopyModel) count apart.
MAX_CONNECTIONS_PER_VP_AND_MODEL = 134_217_726
# Split before the expectation reaches the limit: random connectors scatter around it, and
# targets are not spread exactly evenly over the virtual processes.
_SPLIT_AT = 0.8 * MAX_CONNECTIONS_PER_VP_AND_MODEL
_PROGRESS_EVERY_S = 2.0  # wall time between progress reports of a measured run (as numba)
# Reading a plastic projection's weights (read_weights): about this many connections per
# GetConnections (a block of sources) and per get() (a slice of it); measured in docs/scenarios.md.
_READ_CONNECTIONS = 1_000_000
_GET_CONNECTIONS = 50_000


def _gaussian_in_degree_rule(nest, conn, allow_self: bool) -> dict:
    # sources drawn with probability proportional to a Gaussian of their distance: the
    # distribution of Gaussian offsets snapped to the grid, up to the discretisation
    kernel = nest.spatial_distributions.gaussian(nest.spatial.distance, std=conn.sigma)
    return {"rule": "fixed_indegree", "indegree": conn.n, "p": kernel, "allow_autapses": allow_self,
            "allow_multapses": True}


# NEST's connection rule for each connector type: (nest, conn, autapses allowed) -> conn_spec.
NEST_RULES = {
    "fixed_probability": lambda nest, conn, allow_self: {"rule": "pairwise_bernoulli", "p": conn.p,
                                                         "allow_autapses": allow_self},
    "fixed_in_degree": lambda nest, conn, allow_self: {"rule": "fixed_indegree", "indegree": conn.n,
                                                       "allow_autapses": allow_self,
                                                       "allow_multapses": conn.with_replacement},
    "fixed_total_number": lambda nest, conn, allow_self: {"rule": "fixed_total_number", "N": conn.n,
                                                          "allow_autapses": allow_self,
                                                          "allow_multapses": conn.with_replacement},
    "one_to_one": lambda nest, conn, allow_self: {"rule": "one_to_one"},
    "all_to_all": lambda nest, conn, allow_self: {"rule": "all_to_all", "allow_autapses": allow_self},
    "gaussian_in_degree": _gaussian_in_degree_rule,
}


# PyNN's weight dependences as stdp_synapse's exponents (mu_plus, mu_minus), as pyNN.nest sets them.
STDP_EXPONENTS = {
    "AdditiveWeightDependence": (0.0, 0.0),
    "MultiplicativeWeightDependence": (1.0, 1.0),
    "AdditivePotentiationMultiplicativeDepression": (0.0, 1.0),
}


def plasticity_problems(resolved: ResolvedScenario) -> list[str]:
    """What NEST's stdp_synapse and stdp_pl_synapse_hom cannot express of a scenario's plastic synapses."""
    problems, tau_minus = [], {}
    for proj in resolved.projections:
        syn = proj.spec.synapse
        if syn is None:
            continue
        where = f"projection {proj.label}"
        if syn.dendritic_delay_fraction != 1.0:
            problems.append(f"{where}: dendritic_delay_fraction {syn.dendritic_delay_fraction}: NEST treats the whole delay as dendritic (1 only)")
        if isinstance(syn, STDPMechanism):
            td = syn.timing_dependence
            if syn.weight_dependence.w_min != 0.0:
                problems.append(f"{where}: w_min {syn.weight_dependence.w_min}: NEST's stdp_synapse bounds weights below by 0 only")
            if td.A_plus == 0.0 and td.A_minus != 0.0:
                problems.append(f"{where}: A_plus = 0 with A_minus > 0: stdp_synapse scales depression by lambda = A_plus")
            tau = td.tau_minus
        else:
            tau = syn.tau_minus
            if weight_factor(resolved.populations[proj.post].cell_type, proj.receptor) < 0:
                problems.append(f"{where}: stdp_pl_synapse_hom onto an inhibitory conductance: NEST's weight is negative there and w^mu undefined")
        if tau_minus.setdefault(proj.post, tau) != tau:
            problems.append(f"{where}: tau_minus {tau} ms differs from another plastic projection onto {proj.post} "
                            f"({tau_minus[proj.post]} ms): NEST holds tau_minus in the post cell")
    return problems


def nest_cell_parameters(cell_type: str, p) -> dict[str, float]:
    """PyNN parameters (nF, ms, mV, nA, uS) -> NEST parameters (pF, ms, mV, pA, nS)."""
    return _translate(NEST_CELLS[cell_type][1], p)


def nest_initial_state(cell_type: str, initial_values) -> dict[str, float]:
    """PyNN's initial values other than v (set per cell) -> NEST state variables."""
    rows = [row for row in NEST_CELLS[cell_type][2] if row[0] != "v"]
    return _translate(rows, initial_values)


def weight_factor(cell_type: str, receptor: str) -> float:
    """Multiply a PyNN weight by this to get NEST's (unit and sign): NEST routes a conductance-based
    model's negative weights to its inhibitory receptor; current and voltage weights keep their sign."""
    sign = -1.0 if (cell_type in CONDUCTANCE_BASED and receptor == "inhibitory") else 1.0
    return _WEIGHT_UNIT.get(cell_type, 1000.0) * sign


class NestBackend(SimulatorBackend):
    name = "nest"
    title = "NEST via PyNEST"
    distribution = "nest-simulator"
    module = "nest"
    where = "CPU (OpenMP threads)"
    native_connectors = NATIVE_CONNECTORS + (GaussianInDegree,)
    native_distance_delays = True
    # poisson_generator draws Poisson(rate dt) spikes per step and parrot_neuron passes the
    # multiplicity on; a spike_generator emits a time given k times as k spikes.
    source_multiplicity = True
    plasticity_rules = PLASTICITY_RULES
    cell_types = CELL_TYPES  # every cell type snnbench has: NEST_CELLS

    def supports(self, resolved: ResolvedScenario, mode: str) -> list[str]:
        return super().supports(resolved, mode) + plasticity_problems(resolved)

    def load(self) -> None:
        os.environ.setdefault("PYNEST_QUIET", "1")  # no banner in the run log
        import nest

        self.nest = nest
        nest.verbosity = nest.VerbosityLevel.ERROR

    # ------------------------------------------------------------------ the template's hooks

    def setup(self, resolved: ResolvedScenario) -> None:
        nest = self.nest
        nest.ResetKernel()
        nest.SetKernelStatus({
            "resolution": resolved.dt,
            "local_num_threads": self.threads,
            "rng_seed": resolved.seed % (2**31 - 2) + 1,
            "print_time": False,
        })
        self.info["threads_used"] = nest.GetKernelStatus("local_num_threads")
        self.nodes, self.recorders, self.meters, self.synapses = {}, {}, {}, {}
        vps = nest.GetKernelStatus("total_num_virtual_procs")
        expected = float(resolved.expected_synapses())
        self.model_per_projection = expected / vps > _SPLIT_AT
        self._model_copies = itertools.count(1)
        if self.model_per_projection:
            self.translate("synapse_model", f"{expected:.3g} synapses on {vps} virtual process(es) exceed what NEST stores "
                           f"per virtual process and synapse model ({MAX_CONNECTIONS_PER_VP_AND_MODEL:,}): each projection "
                           "connects through its own copy of static_synapse (the same dynamics)")
        self.spatial: set[str] = set()  # populations created with positions (NEST spatial connections)
        self.synapse_models: dict[str, str] = {}  # projection label -> its plastic NEST model

    def create_cells(self, name, pop, v_init) -> None:
        nest = self.nest
        params = nest_cell_parameters(pop.cell_type, pop.spec.parameters)
        # A list in Create's params means one value per node: glif_psc's vector parameters go to
        # every node whole, one dictionary per node, after Create.
        vectors = any(isinstance(value, list) for value in params.values())
        create_params = {} if vectors else params
        if pop.grid_shape is not None and not self.exact:
            layout = nest.spatial.free(pos=positions(pop.grid_shape).tolist(), extent=[1.0, 1.0], edge_wrap=True)
            nodes = nest.Create(NEST_MODELS[pop.cell_type], params=create_params, positions=layout)
            self.spatial.add(name)
        else:
            nodes = nest.Create(NEST_MODELS[pop.cell_type], pop.size, params=create_params)
        if vectors:
            nodes.set([params] * pop.size)
        nodes.V_m = v_init if isinstance(v_init, np.ndarray) else self._nest_value(v_init, 1.0)
        state = nest_initial_state(pop.cell_type, pop.spec.initial_values)
        if state:
            nodes.set(state)
        self.nodes[name] = nodes

    def create_poisson_source(self, name, pop) -> bool:
        nest, dt, window = self.nest, self.resolved.dt, self.poisson_window(pop)
        gen_params = {"rate": window.rate, "start": window.start}
        if window.bounded:
            gen_params["stop"] = window.stop
        gens = nest.Create("poisson_generator", pop.size, params=gen_params)
        parrots = nest.Create("parrot_neuron", pop.size)
        nest.Connect(gens, parrots, "one_to_one", syn_spec={"delay": dt})
        self.translate(
            "SpikeSourcePoisson",
            f"{name}: poisson_generator -> parrot_neuron (one train per source, as pyNN.nest); the hop adds {dt} ms",
        )
        self.nodes[name] = parrots
        return True

    def create_array_source(self, name, pop, steps):
        # A spike_generator sends the same times to every target: one node per source.
        nest, dt = self.nest, self.resolved.dt
        gens = nest.Create("spike_generator", pop.size)
        if not any(proj.pre == name and proj.spec.synapse is not None for proj in self.resolved.projections):
            gens.set([{"spike_times": (s * dt).tolist()} for s in steps])
            self.nodes[name] = gens
            return None
        # Plastic synapses take spikes from neurons only: parrots repeat the generator's spikes
        # one dt later (the hop), so the generator gets each time one dt early, as pyNN.nest does.
        kept = [s[s >= 2] for s in steps]
        dropped = sum(a.size - b.size for a, b in zip(steps, kept))
        gens.set([{"spike_times": ((s - 1) * dt).tolist()} for s in kept])
        parrots = nest.Create("parrot_neuron", pop.size)
        nest.Connect(gens, parrots, "one_to_one", syn_spec={"delay": dt})
        self.translate("SpikeSourceArray", f"{name}: spike_generator -> parrot_neuron (NEST's plastic synapses need a neuron "
                       f"as sender), generator times one dt early" + (f"; {dropped} spike(s) at t <= dt dropped" if dropped else ""))
        self.nodes[name] = parrots
        return kept

    def _nest_value(self, value, factor: float):
        """A constant or a scenario distribution as a NEST value or random parameter."""
        nest = self.nest
        if isinstance(value, (int, float)):
            return float(value) * factor
        if isinstance(value, Uniform):
            lo, hi = sorted((value.low * factor, value.high * factor))
            return nest.random.uniform(min=lo, max=hi)
        if isinstance(value, Normal):
            return nest.random.normal(mean=value.mu * factor, std=value.sigma * abs(factor))
        if isinstance(value, NormalClipped):
            lo, hi = sorted((value.low * factor, value.high * factor))
            normal = nest.random.normal(mean=value.mu * factor, std=value.sigma * abs(factor))
            return nest.math.redraw(normal, min=lo, max=hi)
        raise TypeError(value)

    def _static_model(self, proj) -> str:
        """static_synapse, or this projection's own copy of it (see `setup`)."""
        if not self.model_per_projection:
            return "static_synapse"
        name = f"static_synapse_{next(self._model_copies)}"
        self.nest.CopyModel("static_synapse", name)
        return name

    def _weight_factor(self, proj) -> float:
        return weight_factor(self.resolved.populations[proj.post].cell_type, proj.receptor)

    @staticmethod
    def _receptor(syn: dict, proj) -> dict:
        """The syn_spec with the receptor_type of a port of a multi-receptor cell (glif_psc's 1, 2, ...)."""
        port = receptor_port(proj.receptor)
        return syn if port is None else {**syn, "receptor_type": port}

    def _connected(self, label: str, connect) -> None:
        before = self.nest.num_connections
        connect()
        self.synapses[label] = self.synapses.get(label, 0) + self.nest.num_connections - before

    def why_not_native(self, proj) -> str | None:
        # spike_generator sources have no positions (a parrot layer would shift them by dt): a
        # distance-dependent projection from one is built from the harness's realisation
        if proj.connector.type == "gaussian_in_degree" and not {proj.pre, proj.post} <= self.spatial:
            return f"gaussian_in_degree from {proj.pre}, which NEST holds without positions (spike_generator)"
        if proj.connector.type == "fixed_total_number" and not proj.connector.with_replacement:
            return "NEST's fixed_total_number cannot draw without replacement (it does not suppress multapses)"
        return None

    def connect_arrays(self, proj, arrays, delay_steps) -> None:
        nest, dt = self.nest, self.resolved.dt
        pre_ids = np.asarray(self.nodes[proj.pre].tolist(), dtype=np.int64)[arrays.pre_idx]
        post_ids = np.asarray(self.nodes[proj.post].tolist(), dtype=np.int64)[arrays.post_idx]
        syn = self._receptor({"synapse_model": self._synapse_model(proj), "weight": arrays.weight * self._weight_factor(proj),
                              "delay": delay_steps * dt}, proj)
        self._connected(proj.label, lambda: nest.Connect(pre_ids, post_ids, "one_to_one", syn_spec=syn))

    def connect_native(self, proj) -> bool:
        nest, dt = self.nest, self.resolved.dt
        conn = proj.connector
        rule = NEST_RULES.get(conn.type)
        if rule is None:
            return False
        spec = rule(nest, conn, getattr(conn, "allow_self_connections", True))
        delay = proj.delay
        if isinstance(delay, DistanceDelay) and math.isfinite(delay.velocity):
            delay_value = nest.spatial.distance / delay.velocity + delay.offset  # NEST puts each on the grid
        elif isinstance(delay, (DistanceDelay, float)):
            constant = delay.offset if isinstance(delay, DistanceDelay) else delay
            delay_value = self.constant_delay_steps(constant, proj.label) * dt
        else:
            delay_value = self._nest_value(delay, 1.0)
        syn = self._receptor({"synapse_model": self._synapse_model(proj),
                              "weight": self._nest_value(proj.weight, self._weight_factor(proj)), "delay": delay_value}, proj)
        self._connected(proj.label, lambda: nest.Connect(self.nodes[proj.pre], self.nodes[proj.post], spec, syn_spec=syn))
        return True

    def _synapse_model(self, proj) -> str:
        """static_synapse, or a copy of NEST's plastic model with the projection's parameters."""
        syn = proj.spec.synapse
        if syn is None:
            return self._static_model(proj)
        if proj.label in self.synapse_models:
            return self.synapse_models[proj.label]
        nest, factor = self.nest, self._weight_factor(proj)
        name = f"snnbench_plastic_{len(self.synapse_models)}"
        if isinstance(syn, STDPMechanism):
            td, wd = syn.timing_dependence, syn.weight_dependence
            mu_plus, mu_minus = STDP_EXPONENTS[wd.type]
            alpha = td.A_minus / td.A_plus if td.A_plus else 0.0
            params = {"tau_plus": td.tau_plus, "lambda": td.A_plus, "alpha": alpha, "mu_plus": mu_plus,
                      "mu_minus": mu_minus, "Wmax": wd.w_max * factor}
            nest.CopyModel("stdp_synapse", name, params)
            self.translate("plasticity", f"{proj.label}: {syn.describe} -> stdp_synapse (lambda = A_plus = {td.A_plus}, alpha = "
                           f"A_minus/A_plus = {alpha:g}, mu_plus = {mu_plus:g}, mu_minus = {mu_minus:g}, Wmax = {params['Wmax']:g}); "
                           "updated at each presynaptic spike, the whole delay dendritic")
            tau_minus = td.tau_minus
        else:
            nest.CopyModel("stdp_pl_synapse_hom", name, {"tau_plus": syn.tau_plus, "lambda": syn.lambda_, "alpha": syn.alpha,
                                                         "mu": syn.mu})
            self.translate("plasticity", f"{proj.label}: stdp_pl_synapse_hom (its own parameters); the whole delay dendritic")
            tau_minus = syn.tau_minus
        self.nodes[proj.post].tau_minus = tau_minus
        self.translate("tau_minus", f"{proj.label}: tau_minus = {tau_minus} ms set on the cells of {proj.post} (NEST's archiving node)")
        self.synapse_models[proj.label] = name
        return name

    def read_weights(self, proj):
        # In bounded memory: GetConnections makes a Python object per connection (97 B) and get()
        # a dictionary of every parameter per connection (2.6 kB; the whole E->E of hpc-benchmark
        # at scale 0.1 took 21 GiB). So a block of sources at a time, each read in slices.
        pre_nodes, post_nodes = self.nodes[proj.pre], self.nodes[proj.post]
        model, n_pre = self.synapse_models[proj.label], len(pre_nodes)
        per_source = max(1.0, self.synapses.get(proj.label, 0) / max(n_pre, 1))
        sources = max(1, int(_READ_CONNECTIONS / per_source))
        pre, post, weight = [], [], []
        for a in range(0, n_pre, sources):
            conns = self.nest.GetConnections(pre_nodes[a:min(a + sources, n_pre)], post_nodes, synapse_model=model)
            for b in range(0, len(conns), _GET_CONNECTIONS):
                got = conns[b:b + _GET_CONNECTIONS].get(("source", "target", "weight"))
                pre.append(np.atleast_1d(np.asarray(got["source"], np.int64)))  # a scalar for one connection
                post.append(np.atleast_1d(np.asarray(got["target"], np.int64)))
                weight.append(np.atleast_1d(np.asarray(got["weight"], float)))
        if not pre:
            return np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0)
        return (np.concatenate(pre) - pre_nodes[0].global_id, np.concatenate(post) - post_nodes[0].global_id,
                np.concatenate(weight) / self._weight_factor(proj))

    def record(self, name, pop, n_spikes, n_v) -> None:
        nest, nodes = self.nest, self.nodes[name]
        if n_spikes:
            rec = nest.Create("spike_recorder")
            nest.Connect(nodes[:n_spikes], rec)
            self.recorders[name] = rec
        if n_v:
            mm = nest.Create("multimeter", params={"record_from": ["V_m"], "interval": self.resolved.dt})
            nest.Connect(mm, nodes[:n_v])
            self.meters[name] = mm

    def before_collect(self) -> None:
        if self.meters:
            # NEST hands a multimeter its last min_delay of samples only on the next update:
            # advance by min_delay to flush them (the template keeps nothing after simtime).
            self.nest.Simulate(self.nest.GetKernelStatus("min_delay"))

    def read_spikes(self, name, pop):
        ev = self.recorders[name].get("events")
        first = self.nodes[name][0].global_id
        return np.asarray(ev["senders"], dtype=np.int64) - first, np.asarray(ev["times"], dtype=float)

    def read_v(self, name, pop):
        ev = self.meters[name].get("events")
        senders = np.asarray(ev["senders"], dtype=np.int64) - self.nodes[name][0].global_id
        t = np.asarray(ev["times"], dtype=float)
        vm = np.asarray(ev["V_m"], dtype=float)
        keep = t <= self.resolved.simtime + 1e-9  # the flush's samples, before reshaping per cell
        senders, t, vm = senders[keep], t[keep], vm[keep]
        order = np.lexsort((t, senders))
        v = vm[order].reshape(pop.n_record_v, -1).T
        return t[order][: v.shape[0]], v

    def synapse_count(self, label: str) -> int:
        return self.synapses.get(label, 0)

    # ------------------------------------------------------------------ run

    def run(self) -> None:
        nest, simtime = self.nest, self.resolved.simtime
        if self.weight_recordings():  # stopped at each recording time, to read the weights
            self.run_sampling_weights(nest.Simulate)
            return
        report = getattr(self, "on_progress", None)
        if report is None:
            nest.Simulate(simtime)
            return
        # Simulate(t) is Prepare(), Run(t), Cleanup(): the same Run in chunks of about
        # _PROGRESS_EVERY_S of wall time (the first: 1 % of the run), reporting after each. Chunks
        # are whole multiples of min_delay, as NEST asks of repeated runs to give the same network
        # state as one (its warning: otherwise several random sources may diverge).
        steps_total = self.resolved.n_steps
        grain = max(1, round(nest.GetKernelStatus("min_delay") / self.resolved.dt))
        start, done = time.perf_counter(), 0
        chunk = grain * max(1, steps_total // 100 // grain)
        nest.Prepare()
        try:
            while done < steps_total:
                step = min(chunk, steps_total - done)
                nest.Run(round(step * self.resolved.dt, 9))
                done += step
                per_step = (time.perf_counter() - start) / done
                chunk = grain * max(1, int(_PROGRESS_EVERY_S / max(per_step, 1e-9)) // grain)
                if done < steps_total:
                    report(done * self.resolved.dt, simtime, per_step * (steps_total - done))
        finally:
            nest.Cleanup()

    def close(self) -> None:
        if hasattr(self, "nest"):
            self.nest.ResetKernel()
