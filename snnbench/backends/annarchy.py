"""annarchy and annarchy.cuda: ANNarchy 5, which generates C++ for each network and builds it with
cmake and nanobind (OpenMP threads on the CPU; CUDA on an NVIDIA GPU).

The PyNN standard models as ANNarchy neurons. ANNarchy evaluates a neuron's plain assignments once
per step, in the order written, then tests the spike condition and applies the reset; the
adapter writes NEST's update with the per-step coefficients of `models.lif` as parameters
(PyNN units: ms, mV, nA, uS, nF), so that no ODE solver of ANNarchy's is involved:

    IF_curr_exp (exact, NEST's iaf_psc_exp):
        v      = if countdown > 0: v  else: v_rest + (v - v_rest) p22 + p21e syn_e + p21i syn_i + p20 i_offset
    IF_cond_exp (step-mean conductances, v exact for them: snnbench's scheme; NEST uses RK45):
        conductance = leak + avg_e syn_e + avg_i syn_i          (leak = cm / tau_m)
        v_inf  = (leak v_rest + i_offset + avg_e syn_e E_rev_E + avg_i syn_i E_rev_I) / conductance
        v      = if countdown > 0: v  else: v_inf + (v - v_inf) exp(-dt conductance / cm)
    then, for both:
        syn_e  = syn_e dec_e + g_exc,   syn_i = syn_i dec_i + g_inh   (what arrived this step)
        countdown = max(countdown - 1, 0)
        spike: v >= v_thresh;  reset: v = v_reset, countdown = refractory steps (NEST's, rounded up)
    A synapse adds its weight to g_exc / g_inh (ANNarchy's default spiking synapse), which ANNarchy
    clears after each step; inhibitory current weights are negative (PyNN's convention). No other
    name may start with g_: ANNarchy takes every g_<name> for the input of a target <name>.

Time conventions. ANNarchy's step k propagates the spikes of earlier steps into g_exc / g_inh, updates
the neurons, then records: a spike of step k with a delay of d steps reaches its target's g in step
k + d, as in NEST. The adapter reports a spike of step k at (k+1) dt and the v sample of step k at
(k+1) dt (NEST's end-of-step stamps). A SpikeSourceArray emits in the step whose start is its time,
so a source spike at m dt is given to ANNarchy as (m-1) dt (NEST's spike_generator emits it in step
m-1). A SpikeSourcePoisson (native mode) is a PoissonPopulation (one Bernoulli draw per step, rate dt)
active in the steps that start in [start, start + duration).

Connectivity. Native mode: fixed_probability -> fixed_probability, fixed_in_degree without
replacement -> fixed_number_pre, one_to_one, all_to_all, with ANNarchy's random numbers (the network's
seeded generator) for edges, weights and delays (Uniform, Normal; drawn delays rounded to the
nearest step by ANNarchy). fixed_total_number, fixed_in_degree with replacement and normal_clipped
weights or delays (ANNarchy's Normal(min, max) clips where PyNN redraws) use the harness's arrays
(recorded). Exact mode and explicit lists: the harness's edges, weights and delays (on the dt grid)
as a list-of-lists connectivity (`from_function`), one row per post-synaptic cell.

Compilation is the 'compile' phase (after build): `Network.compile()` generates the C++, runs cmake
and make (only when the generated code differs from the cached project's), and instantiates the
network: connectivity, initial values and recorders are created in C++ there, so the compile phase
holds that work too; its stages (code generation and build; instantiation) are reported. The
project lives in snnbench's cache (<cache>/annarchy/<paradigm>/<scenario hash>-<mode>-N<N_pop>-t<threads>);
option cache="cold" uses a fresh, empty, temporary directory instead. backend_info["compile_cache"]
is "warm" (the library was reused), "cold" (built from nothing) or "partial" (an existing project
rebuilt because the generated code changed).
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import sys
import time
from typing import Any, ClassVar

import numpy as np

from ..models.lif import cell_propagators
from ..scenario.model import (
    AllToAll,
    FixedInDegree,
    FixedProbability,
    Normal,
    NormalClipped,
    OneToOne,
    Uniform,
)
from ..scenario.realise import rng_for, sample
from ..scenario.resolve import ResolvedScenario
from .base import Option
from .common.caches import ProjectDirectory
from .common.devices import gpu_status
from .common.template import SimulatorBackend

CACHE_OPTION = Option("cache", str, "warm", "warm: reuse snnbench's project cache (~/.cache/snnbench/annarchy), shared by runs; "
                      "cold: a fresh project for this run, removed after it (measures a cold compile)", choices=("warm", "cold"))
# Conductance targets of the ANNarchy neurons, per receptor (g_exc, g_inh).
TARGETS = {"excitatory": "exc", "inhibitory": "inh"}

# The neuron models: equations evaluated once per step, in order (see the module docstring).
_REFRACTORY = "countdown = if countdown > 0.5: countdown - 1.0 else: 0.0"
_SYNAPSES = ("syn_e = syn_e * dec_e + g_exc", "syn_i = syn_i * dec_i + g_inh")
EQUATIONS = {
    "IF_curr_exp": (
        "v = if countdown > 0.5: v else: v_rest + (v - v_rest) * p22 + p21e * syn_e + p21i * syn_i + drive",
        *_SYNAPSES, _REFRACTORY,
    ),
    "IF_cond_exp": (
        "conductance = leak + avg_e * syn_e + avg_i * syn_i",
        "v_inf = (leak * v_rest + i_offset + avg_e * syn_e * e_rev_E + avg_i * syn_i * e_rev_I) / conductance",
        "v = if countdown > 0.5: v else: v_inf + (v - v_inf) * exp(-conductance * dt_over_cm)",
        *_SYNAPSES, _REFRACTORY,
    ),
}
SCHEMES = {
    "IF_curr_exp": "v integrated exactly over each step (NEST iaf_psc_exp's propagators, models/lif) as plain "
                   "assignments of ANNarchy's neuron, no ODE solver",
    "IF_cond_exp": "conductances decay exactly; v integrated exactly for their step mean (g tau/dt (1 - exp(-dt/tau))) "
                   "as plain assignments of ANNarchy's neuron (snnbench's scheme; NEST integrates with RK45)",
}


# ANNarchy's connector for each connector type drawn natively:
# (projection, conn, weights, delays, autapses allowed) -> None.
ANNARCHY_CONNECTORS = {
    "fixed_probability": lambda p, conn, w, d, allow_self: p.fixed_probability(
        probability=conn.p, weights=w, delays=d, allow_self_connections=allow_self),
    "fixed_in_degree": lambda p, conn, w, d, allow_self: p.fixed_number_pre(  # without replacement (why_not_native)
        number=int(conn.n), weights=w, delays=d, allow_self_connections=allow_self),
    "one_to_one": lambda p, conn, w, d, allow_self: p.one_to_one(weights=w, delays=d),
    "all_to_all": lambda p, conn, w, d, allow_self: p.all_to_all(weights=w, delays=d, allow_self_connections=allow_self),
}


def neuron_parameters(cell_type: str, p, dt: float, refractory_steps: int) -> dict[str, float]:
    """The parameters of one population's ANNarchy neuron (PyNN units; per-step coefficients)."""
    lif = cell_propagators(p, dt)
    params = {"v_rest": p.v_rest, "v_reset": p.v_reset, "v_thresh": p.v_thresh, "dec_e": lif.dec_e,
              "dec_i": lif.dec_i, "refractory_steps": float(refractory_steps)}
    if cell_type == "IF_curr_exp":
        params.update(p22=lif.p22, p21e=lif.p21e, p21i=lif.p21i, drive=lif.p20 * p.i_offset)
    else:
        params.update(leak=lif.g_l, avg_e=lif.avg_e, avg_i=lif.avg_i, i_offset=p.i_offset, e_rev_E=p.e_rev_E,
                      e_rev_I=p.e_rev_I, dt_over_cm=dt / p.cm)
    return {k: float(v) for k, v in params.items()}


def _on_path_first(directory: str, path: str) -> str:
    return os.pathsep.join([directory] + [d for d in path.split(os.pathsep) if d and d != directory])


class ANNarchyBackend(SimulatorBackend):
    name = "annarchy"
    title = "ANNarchy 5, OpenMP"
    distribution = "ANNarchy"
    module = "ANNarchy"
    where = "CPU (OpenMP threads)"
    packages = ("ANNarchy", "nanobind", "sympy")
    one_spike_per_step = ("emits a source at most once per step (its SpikeSourceArray and PoissonPopulation set one "
                          "spike flag per neuron)")
    # The neurons written here are NEST's LIF-exp update as assignments (models/lif): for the other
    # PyNN types ANNarchy's own models do not follow NEST's integration, and none is written here.
    cell_type_refusals = {
        "GLIF_curr_alpha": "no ANNarchy neuron here with glif_psc's numbered receptor ports (one alpha current each) "
                           "and its exact update; the ANNarchy neurons here take two targets, g_exc and g_inh",
        "IF_curr_alpha": "the ANNarchy neurons here hold exponential synaptic currents only; ANNarchy's alpha synapses "
                         "are not iaf_psc_alpha's exact propagators",
        "IF_cond_alpha": "the ANNarchy neurons here hold exponential conductances only; NEST integrates iaf_cond_alpha "
                         "with an adaptive RK45 that ANNarchy's fixed-step code does not take",
        "IF_curr_delta": "no ANNarchy neuron here with NEST's delta-synapse update (input stepping v, lost while refractory)",
        "EIF_cond_exp_isfa_ista": "ANNarchy's fixed-step methods lack NEST's adaptive RK45 and its spike check after every "
                                  "sub-step, which aeif_cond_exp needs",
        "Izhikevich": "ANNarchy's Izhikevich neuron is not NEST's forward Euler order (update, input on v, threshold, "
                      "reset within the step), and no neuron with that order is written here",
        "HH_cond_exp": "ANNarchy's fixed-step methods do not integrate hh_cond_exp_traub's stiff sodium current as "
                       "NEST's adaptive RK45 does",
    }
    accepted_options = (CACHE_OPTION,)
    native_connectors = (FixedProbability, FixedInDegree, OneToOne, AllToAll)
    compile_after_build = True
    paradigm: ClassVar[str] = "openmp"

    @classmethod
    def available(cls) -> tuple[bool, str]:
        ok, why = super().available()
        if not ok:
            return ok, why
        if importlib.util.find_spec("nanobind") is None:
            return False, "ANNarchy binds its generated C++ with nanobind: pip install nanobind (bash install.sh does)"
        for tool, what in (("cmake", "cmake"), ("make", "make"), ("g++", "a C++ compiler (g++)")):
            if not shutil.which(tool):
                return False, f"ANNarchy builds the C++ it generates with cmake, make and g++: {what} not found on PATH"
        return True, why

    # ------------------------------------------------------------------ load

    def load(self) -> None:
        import ANNarchy as ann

        self.ann = ann
        self.info["paradigm"] = self.paradigm

    # ------------------------------------------------------------------ the template's hooks: build

    def setup(self, resolved: ResolvedScenario) -> None:
        ann = self.ann
        # The network's dt, seed and threads (ann.setup() is deprecated in ANNarchy 5).
        self.net = ann.Network(dt=resolved.dt, seed=resolved.seed % 2**32)
        self.net.config(paradigm=self.paradigm, num_threads=self.threads)
        self.pops: dict[str, Any] = {}
        self.projections: dict[str, list[Any]] = {}
        self.spike_monitors: dict[str, Any] = {}
        self.v_monitors: dict[str, Any] = {}
        self.translate("spike times", f"ANNarchy stamps a spike with its step k: reported at (k+1) dt (NEST's end-of-step stamp); "
                       f"v recorded after each step's update, stamped (k+1) dt")

    def _distribution(self, value):
        """A scenario distribution as ANNarchy's, drawn from the network's seeded generator."""
        ann, rng = self.ann, self.net.default_rng
        if isinstance(value, Uniform):
            return ann.Uniform(value.low, value.high, rng=rng)
        if isinstance(value, Normal):
            return ann.Normal(value.mu, value.sigma, rng=rng)
        raise TypeError(value)

    def create_cells(self, name, pop, v_init) -> None:
        ann, dt = self.ann, self.resolved.dt
        steps = self.refractory_steps(name, pop.spec.parameters.tau_refrac)
        neuron = ann.Neuron(
            parameters=neuron_parameters(pop.cell_type, pop.spec.parameters, dt, steps),
            equations=list(EQUATIONS[pop.cell_type]),
            spike="v >= v_thresh",
            reset=["v = v_reset", "countdown = refractory_steps"],
            name=f"snnbench {pop.cell_type}",
        )
        group = self.net.create(geometry=pop.size, neuron=neuron, name=f"pop_{name}")
        self.translate(f"{pop.cell_type} integration", f"{name}: {SCHEMES[pop.cell_type]}; refractory for {steps} steps "
                       "(a counter in the neuron)")
        if isinstance(v_init, np.ndarray):
            group.v = v_init
        elif isinstance(v_init, (int, float)):
            group.v = float(v_init)
        elif isinstance(v_init, NormalClipped):
            group.v = sample(v_init, rng_for(self.resolved.seed, "v_init", name), pop.size)
            self.translate("initial v", f"{name}: normal_clipped drawn by the harness's sampler (ANNarchy's Normal(min, max) "
                           "clips where PyNN redraws)")
        else:
            group.v = self._distribution(v_init)
        self.pops[name] = group

    def create_poisson_source(self, name, pop) -> bool:
        ann, dt, window = self.ann, self.resolved.dt, self.poisson_window(pop)
        if window.start <= 0.0 and not window.bounded:
            rates: float | str = float(window.rate)
            parameters: dict[str, float] = {}
        else:
            # Active in the steps starting in [start, stop): half a step of margin against rounding of t.
            # (ANNarchy 5.0.4 mistranslates `t > t_on and ...`: no parameter named t_*, each test in brackets.)
            rates = "if (t > start_ms) and (t < stop_ms): poisson_rate else: 0.0"
            stop_ms = window.stop - dt / 2 if window.bounded else 1e300
            parameters = {"poisson_rate": float(window.rate), "start_ms": window.start - dt / 2, "stop_ms": stop_ms}
        group = self.net.create(ann.PoissonPopulation(geometry=pop.size, rates=rates, parameters=parameters,
                                                      name=f"pop_{name}"))
        self.translate("SpikeSourcePoisson", f"{name}: PoissonPopulation (one train per source, shared by its targets; "
                       f"a spike in a step with probability rate dt), active in the steps starting in [start, start + duration)")
        self.pops[name] = group
        return True

    def create_array_source(self, name, pop, steps) -> None:
        dt = self.resolved.dt
        times = [((s - 1) * dt).tolist() for s in steps]  # emitted in step m - 1, as NEST's spike_generator
        self.pops[name] = self.net.create(self.ann.SpikeSourceArray(spike_times=times, name=f"pop_{name}"))

    # -- projections

    def why_not_native(self, proj) -> str | None:
        conn = proj.connector
        if conn.type == "fixed_in_degree" and conn.with_replacement:
            return "ANNarchy's fixed_number_pre draws without replacement"
        for what, value in (("weights", proj.weight), ("delays", proj.delay)):
            if isinstance(value, NormalClipped):
                return f"normal_clipped {what}: ANNarchy's Normal(min, max) clips the values where PyNN redraws them"
        if isinstance(proj.delay, Normal):
            return "normal delays: ANNarchy needs a bounded delay distribution"
        if isinstance(proj.delay, Uniform) and proj.delay.low < self.resolved.dt:
            return f"uniform delays below dt: ANNarchy raises the distribution's low bound to dt ({self.resolved.dt} ms)"
        return None

    def _projection(self, proj):
        p = self.net.connect(self.pops[proj.pre], self.pops[proj.post], target=TARGETS[proj.receptor],
                             name=f"proj_{len(self.projections)}")
        self.projections.setdefault(proj.label, []).append(p)
        return p

    def connect_native(self, proj) -> bool:
        conn, dt = proj.connector, self.resolved.dt
        if conn.type not in ANNARCHY_CONNECTORS:
            return False
        weights = proj.weight if isinstance(proj.weight, float) else self._distribution(proj.weight)
        if isinstance(proj.delay, float):
            delays = self.constant_delay_steps(proj.delay, proj.label) * dt
        else:
            delays = self._distribution(proj.delay)
            self.translate("delay", f"{proj.label}: delays drawn by ANNarchy are put on the {dt} ms grid (nearest step)")
        connect = ANNARCHY_CONNECTORS[conn.type]
        connect(self._projection(proj), conn, weights, delays, getattr(conn, "allow_self_connections", True))
        return True

    def connect_arrays(self, proj, arrays, delay_steps) -> None:
        ann, dt = self.ann, self.resolved.dt
        # One row per post-synaptic cell (ANNarchy's list of lists), pre-synaptic cells ascending.
        order = np.lexsort((arrays.pre_idx, arrays.post_idx))
        post, pre = arrays.post_idx[order], arrays.pre_idx[order]
        weight, delay = arrays.weight[order], delay_steps[order] * dt
        rows, starts = np.unique(post, return_index=True)
        bounds = np.append(starts, post.size)
        # One delay per row when all are equal: ANNarchy's uniform-delay kernel (per-synapse delays
        # take its variable-delay path, which it calls experimental and slow).
        uniform = bool(np.all(delay_steps == delay_steps[0]))

        def from_arrays(pre_pop, post_pop, step):
            lil = ann.LILConnectivity(dt=step)
            for k, row in enumerate(rows):
                lo, hi = bounds[k], bounds[k + 1]
                lil.add(int(row), pre[lo:hi].tolist(), weight[lo:hi].tolist(), [delay[lo]] if uniform else delay[lo:hi].tolist())
            return lil

        self._projection(proj).from_function(method=from_arrays)

    # -- recording

    def record(self, name, pop, n_spikes, n_v) -> None:
        group = self.pops[name]
        if n_spikes:
            self.spike_monitors[name] = self.net.monitor(group if n_spikes == pop.size else group[:n_spikes], ["spike"])
        if n_v:
            self.v_monitors[name] = self.net.monitor(group if n_v == pop.size else group[:n_v], ["v"])

    # ------------------------------------------------------------------ compile, run

    def compile(self, resolved: ResolvedScenario) -> None:
        from ANNarchy.generator import Compiler

        # The generated code holds the population sizes: one project per size, as Brian2's standalone
        # projects, or a sweep over N_pop rebuilds the one project at every change of size.
        self.project = ProjectDirectory("annarchy", f"{self.paradigm}/{resolved.hash}-{self.mode}-N{resolved.N_pop}-t{self.threads}",
                                        cold=self.option("cache") == "cold")
        project = self.project.path
        self.info.update(project_dir=str(project), project_lock_wait_s=self.project.lock_wait_s)
        library = project / f"ANNarchyWrapper{self.net.id}.so"
        before = library.stat().st_mtime_ns if library.exists() else None
        stages: dict[str, float] = {}
        instantiate = Compiler._instantiate

        def timed_instantiate(*args, **kwargs):
            t1 = time.perf_counter()
            stages["generate_and_build"] = t1 - t0
            try:
                return instantiate(*args, **kwargs)
            finally:
                stages["instantiate"] = time.perf_counter() - t1

        # cmake's FindPython takes the first python3 on PATH to locate nanobind: it must be this interpreter.
        path = os.environ.get("PATH", "")
        os.environ["PATH"] = _on_path_first(os.path.dirname(sys.executable), path)
        Compiler._instantiate = timed_instantiate
        t0 = time.perf_counter()
        try:
            self.net.compile(directory=str(project), silent=True, **self._compile_arguments())
        finally:
            Compiler._instantiate = instantiate
            os.environ["PATH"] = path
        after = library.stat().st_mtime_ns if library.exists() else None
        state = "warm" if before is not None and before == after else ("cold" if before is None else "partial")
        self.info["compile_cache"] = state
        self.phase_stages["compile"] = {stage: {"wall_s": seconds} for stage, seconds in stages.items()}
        self.info["threads_used"] = self.threads

    def _compile_arguments(self) -> dict[str, Any]:
        return {}

    def run(self) -> None:
        self.net.simulate(self.resolved.simtime)

    # ------------------------------------------------------------------ the template's hooks: collect

    def read_spikes(self, name, pop):
        dt = self.resolved.dt
        spikes = self.spike_monitors[name].get("spike")
        index = np.concatenate([np.full(len(steps), rank, dtype=np.int64) for rank, steps in spikes.items()] or [np.empty(0, np.int64)])
        steps = np.concatenate([np.asarray(s, dtype=np.int64) for s in spikes.values()] or [np.empty(0, np.int64)])
        return index, (steps + 1) * dt

    def read_v(self, name, pop):
        v = np.asarray(self.v_monitors[name].get("v"), dtype=float).reshape(-1, pop.n_record_v)
        return np.arange(1, v.shape[0] + 1) * self.resolved.dt, v

    def synapse_count(self, label: str) -> int:
        return sum(int(p.nb_synapses) for p in self.projections.get(label, []))

    def close(self) -> None:
        try:
            net = self.__dict__.pop("net", None)
            if net is not None:
                net.clear()
        finally:
            project = self.__dict__.pop("project", None)
            if project is not None:
                project.release()


class ANNarchyCudaBackend(ANNarchyBackend):
    name = "annarchy.cuda"
    title = "ANNarchy 5, CUDA"
    where = "GPU (CUDA)"
    runs_on = ("GPU",)
    max_threads = 1
    paradigm = "cuda"

    @classmethod
    def available(cls) -> tuple[bool, str]:
        ok, why = super().available()
        if not ok:
            return ok, why
        gpu, detail = gpu_status()
        if not gpu:
            return False, detail
        if not shutil.which("nvcc"):
            return False, "ANNarchy's CUDA code is compiled with nvcc: not found on PATH (install the CUDA toolkit)"
        return True, f"{why}, {detail}"

    def supports(self, resolved: ResolvedScenario, mode: str) -> list[str]:
        return [f"{self.name} runs on one GPU (no host threads), {self.threads} asked for" if p.startswith("at most") else p
                for p in super().supports(resolved, mode)]

    def _compile_arguments(self) -> dict[str, Any]:
        return {"cuda_config": {"device": 0}}
