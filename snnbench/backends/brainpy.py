"""brainpy and brainpy.gpu: BrainPy 2.8 (brain dynamics on JAX and brainstate), on the CPU and a GPU.

BrainPy describes a network as `DynamicalSystem`s holding `bm.Variable`s, steps it with
`bm.for_loop` (a `jax.lax.scan` over the step indices, the shared `t` and `i` saved for each
step) and compiles the loop with XLA (`bm.jit`). The adapter builds the scenario from BrainPy
classes, its own where BrainPy's integrate differently from NEST:

  * cells: `LIFCells` (a `bp.dyn.NeuDyn`) steps IF_curr_exp exactly (NEST iaf_psc_exp's
    propagators) and IF_cond_exp with the step-mean conductances and exponential Euler for v,
    both with the coefficients of `snnbench.models.lif`, in NEST's order within a step (v from
    the synaptic state at the start of the step, refractory clamp for `refractory_steps` steps
    rounded up as NEST, threshold, reset, then the synapses decay and take this step's input).
    BrainPy's own `bp.dyn.LifRefLTC` with `bp.dyn.Expon` integrates v with an ODE method
    (exponential Euler by default, the synaptic input held at its start-of-step value) and counts
    its refractory period from the last spike time, so it is not used.
  * synapses and delays: `EventSynapses` holds every synapse of the network in one event-driven
    CSR matrix (rows: presynaptic cells and sources; columns: delay in steps, receptor, target
    cell) and a ring buffer `ring[slot, receptor, cell]` of input arriving at the end of step k in
    slot k mod L (L: the longest delay in steps + 1). In each step the spikes of that step times
    the matrix (`bm.event.csrmv`, brainevent's event-driven kernel) are added to the slots their
    delays point to. One matrix, not one per projection: on the CPU brainevent's kernel is a numba
    function that XLA calls back through Python (its FFI bridge), about 0.1-0.2 ms a call here,
    which is most of a step's cost (BrainPy's `HalfProjAlignPostMg` projections call it once each).
  * sources: `bp.dyn.SpikeTimeGroup` emits the realised spike steps (SpikeSourceArray, and the
    Poisson sources of exact mode): a spike at m dt is emitted in step m-1, as NEST's
    spike_generator does. Native SpikeSourcePoisson: `bp.dyn.PoissonGroup` (a spike with
    probability rate dt in each step, from BrainPy's random state), masked to the steps k of its
    window, start <= k dt < start + duration.

Timing (as NEST and the numba simulator): a cell crossing threshold in step k (k dt -> (k+1) dt)
spikes at (k+1) dt, a delay of d steps adds its weight to the target's synaptic variable at the
end of step k + d (v feels it from the next step), v is sampled at the end of every step, at
k dt for k = 1..n_steps.

Connectivity: exact mode, explicit lists, gaussian_in_degree and distance-dependent delays from
the harness's arrays (the template decides). Native mode: BrainPy's connectors with seeds derived
from the run's seed: fixed_probability -> `bp.conn.FixedProb` (which draws round(p N_post)
distinct targets per source cell: a fixed out-degree, recorded), fixed_in_degree ->
`bp.conn.FixedPreNum`, fixed_total_number -> `bp.conn.FixedTotalNum`, one_to_one ->
`bp.conn.One2One`, all_to_all -> `bp.conn.All2All`; weights, delays and initial v that are
distributions are drawn with `bm.random.RandomState` (BrainPy's random numbers). BrainPy drops
autapses after drawing fixed_in_degree (in-degree below n) and cannot suppress them in
fixed_total_number: those without autapses come from the harness's arrays (recorded).

Precision: float64 with jax's x64 mode on the CPU (option dtype; float32 recorded as a
translation), float32 on a GPU unless dtype=float64.

Compilation is the 'compile' phase (after build): the loop (`bm.jit` of `bm.for_loop`) is traced,
lowered and compiled ahead of time for each chunk length (option `chunk_steps`), then called once
on the shortest, its results discarded, because brainevent's numba kernels compile at their
first call; the measured run starts from the untouched state. Compiled XLA programs go to JAX's
persistent compilation cache in snnbench's cache directory ($SNNBENCH_CACHE_DIR, else
$XDG_CACHE_HOME/snnbench or ~/.cache/snnbench) under brainpy/jax-<platform>; option cache="cold"
uses a fresh temporary one, removed afterwards. The cache holds XLA's programs only: tracing and
brainevent's numba kernels are compiled again in every run. backend_info["compile_cache"] is
"warm" (every program loaded from the cache), "cold" (every program compiled) or "partial",
counted from jax.monitoring's cache events.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import time
import zlib
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from ..models.lif import cell_propagators
from ..scenario.model import Normal, NormalClipped, Uniform
from ..scenario.resolve import ResolvedScenario
from .base import BackendUnavailable, Option
from .common.caches import ColdDirectories, cache_root
from .common.template import SimulatorBackend

OPTIONS = (
    Option("cache", str, "warm", "warm: JAX's persistent compilation cache in ~/.cache/snnbench/brainpy, shared by runs; "
           "cold: a fresh cache for this run, removed after it (measures a cold compile)", choices=("warm", "cold")),
    Option("dtype", str, "auto", "floating-point type of the state, weights and propagators; auto: float64 on the CPU "
           "(jax's x64 mode), float32 on a GPU", choices=("auto", "float64", "float32")),
    Option("chunk_steps", int, 1000, "steps per call of the compiled loop (bm.for_loop): the recorded spikes and v "
           "of that many steps are held on the device at once", minimum=1),
)
_GPU_PLUGINS = ("jax_cuda12_plugin", "jax_cuda13_plugin")
# jax.monitoring events of its persistent compilation cache
_CACHE_EVENTS = {"/jax/compilation_cache/cache_hits": "loaded", "/jax/compilation_cache/cache_misses": "compiled"}
_PROBE_TIMEOUT_S = 120


_AUTAPSES_NOT_EXCLUDED = {
    "fixed_in_degree": "BrainPy's FixedPreNum drops autapses after drawing (an in-degree below n) instead of redrawing them",
    "fixed_total_number": "BrainPy's FixedTotalNum cannot exclude autapses",
}
# BrainPy's connector for each connector type it draws natively: (bp.conn, conn, autapses excluded,
# seed) -> a TwoEndConnector. fixed_in_degree and fixed_total_number without autapses are not
# drawn by BrainPy (`why_not_native`).
BRAINPY_CONNECTORS = {
    "fixed_probability": lambda c, conn, no_self, seed: c.FixedProb(float(conn.p), include_self=not no_self, seed=seed),
    "fixed_in_degree": lambda c, conn, no_self, seed: c.FixedPreNum(int(conn.n), allow_multi_conn=conn.with_replacement,
                                                                    seed=seed),
    "fixed_total_number": lambda c, conn, no_self, seed: c.FixedTotalNum(int(conn.n), allow_multi_conn=conn.with_replacement,
                                                                         seed=seed),
    "one_to_one": lambda c, conn, no_self, seed: c.One2One(),
    "all_to_all": lambda c, conn, no_self, seed: c.All2All(include_self=not no_self),
}


def _gpu_probe() -> tuple[bool, str]:
    """Whether jax sees a GPU, asked in a fresh interpreter (importing jax takes seconds, and
    initialising its GPU backend must not happen in the caller's process)."""
    if not any(importlib.util.find_spec(name) for name in _GPU_PLUGINS):
        return False, ("jax has no GPU backend here (no jax CUDA plugin installed: jaxlib runs on the CPU only); "
                       "on a machine with an NVIDIA GPU install jax[cuda12] and brainevent[cuda12] at the pinned versions")
    code = "import jax; d = jax.devices('gpu'); print(d[0].device_kind if d else '')"
    try:
        proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=_PROBE_TIMEOUT_S,
                              stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        return False, f"asking jax for a GPU took more than {_PROBE_TIMEOUT_S} s"
    kind = proc.stdout.strip().splitlines()[-1] if proc.returncode == 0 and proc.stdout.strip() else ""
    if not kind:
        lines = [ln for ln in (proc.stderr or "").strip().splitlines() if ln.strip()]
        return False, "jax sees no GPU" + (f": {lines[-1]}" if lines else "")
    return True, kind


# ----------------------------------------------------------------------------- BrainPy classes
#
# Defined when BrainPy is imported (load()), since they subclass its classes.


def _define_classes(bp, bm, jnp):
    class LIFCells(bp.dyn.NeuDyn):
        """IF_cond_exp or IF_curr_exp cells of one population (see the module doc).

        Variables: v (n,) mV; g (2, n) [excitatory, inhibitory] uS or nA; refr (n,) steps of
        refractoriness left; spike (n,). `update(arriving)` takes the (2, n) input of this step.
        """

        def __init__(self, size, cond, prm, refr_steps, v0, dtype, name):
            super().__init__(size=size, name=name)
            self.cond = bool(cond)
            self.prm = {k: float(v) for k, v in prm.items()}  # one population: compile-time scalars
            self.refr_steps = int(refr_steps)
            self.state_dtype = dtype
            self.v0 = np.asarray(v0, dtype=dtype)
            self.reset_state()

        def reset_state(self, *args, **kwargs):
            n, dtype = self.num, self.state_dtype
            self.v = bm.Variable(jnp.asarray(self.v0))
            self.g = bm.Variable(jnp.zeros((2, n), dtype))
            self.refr = bm.Variable(jnp.zeros(n, jnp.int32))
            self.spike = bm.Variable(jnp.zeros(n, bool))

        def update(self, arriving):
            p, v, g, refr = self.prm, self.v.value, self.g.value, self.refr.value
            refractory = refr > 0
            if self.cond:
                # exponential Euler for the step-mean conductances (models/lif: avg_e, avg_i)
                ge, gi = g[0] * p["avg_e"], g[1] * p["avg_i"]
                g_tot = p["g_l"] + ge + gi
                v_inf = (p["g_l"] * p["v_rest"] + p["i_offset"] + ge * p["e_rev_E"] + gi * p["e_rev_I"]) / g_tot
                vi = v_inf + (v - v_inf) * jnp.exp(g_tot * p["minus_dt_over_cm"])
                crossed = ~refractory & (vi >= p["v_thresh"])
                v_new = jnp.where(refractory | crossed, p["v_reset"], vi)
            else:
                # exact integration (NEST iaf_psc_exp)
                integrated = (p["v_rest"] + (v - p["v_rest"]) * p["p22"] + p["p21e"] * g[0] + p["p21i"] * g[1]
                              + p["p20"] * p["i_offset"])
                vi = jnp.where(refractory, v, integrated)
                crossed = vi >= p["v_thresh"]
                v_new = jnp.where(crossed, p["v_reset"], vi)
            decay = jnp.asarray([[p["dec_e"]], [p["dec_i"]]], dtype=self.state_dtype)
            self.v.value = v_new
            self.refr.value = jnp.where(crossed, self.refr_steps, jnp.maximum(refr - 1, 0))
            self.spike.value = crossed
            self.g.value = g * decay + arriving
            return crossed

    class EventSynapses(bp.DynamicalSystem):
        """Every synapse of the network in one event-driven CSR matrix (`bm.event.csrmv`): rows are
        the presynaptic cells and sources, columns (delay, receptor, target cell). Each step, the
        spikes of that step times the matrix are added to a ring buffer `ring[slot, receptor, cell]`
        of input arriving at the end of step k in slot k mod L, `delay` slots on. One call per step:
        brainevent's CPU kernel is a numba function called back through XLA's FFI (about 0.1 ms a
        call here), so a matrix per projection and delay would multiply that cost."""

        def __init__(self, pre_groups, delays, n_cells, weights, indices, indptr, dtype):
            super().__init__(name="synapses")
            self.pre_groups = list(pre_groups)
            self.delays = [int(d) for d in delays]
            self.n_cells = int(n_cells)
            self.ring_len = max(self.delays) + 1
            self.shape = (int(indptr.size - 1), len(self.delays) * 2 * self.n_cells)
            # Weights and column indices are Variables (arguments of the compiled loop, not constants
            # folded into it); the row pointers stay concrete: brainevent plans its kernel from them.
            self.weights = bm.Variable(jnp.asarray(weights, dtype=dtype))
            self.indices = bm.Variable(jnp.asarray(indices))
            self.indptr = jnp.asarray(indptr)
            self.ring = bm.Variable(jnp.zeros((self.ring_len, 2, self.n_cells), dtype))

        def arriving(self, slot):
            return self.ring.value[slot]

        def update(self, slot):
            spikes = jnp.concatenate([group.spike.value for group in self.pre_groups])
            out = bm.event.csrmv(self.weights.value, self.indices.value, self.indptr, spikes, shape=self.shape,
                                 transpose=True).reshape(len(self.delays), 2, self.n_cells)
            ring = self.ring.value.at[slot].set(0.0)
            for j, d in enumerate(self.delays):
                ring = ring.at[(slot + d) % self.ring_len].add(out[j])
            self.ring.value = ring

    class WindowedPoisson(bp.dyn.PoissonGroup):
        """`bp.dyn.PoissonGroup` spiking only in the steps k_start <= k < k_stop."""

        def __init__(self, size, rate, k_start, k_stop, name):
            super().__init__(size, freqs=float(rate), name=name)
            self.k_start, self.k_stop = int(k_start), int(k_stop)

        def update(self):
            spikes = super().update()
            i = bp.share["i"]
            self.spike.value = spikes & (i >= self.k_start) & (i < self.k_stop)
            return self.spike.value

    class SnnbenchNetwork(bp.DynamicalSystem):
        """One step: the sources, the cells (with the input arriving in this step), then the
        synapses (this step's spikes into later slots); returns the recorded spikes and v."""

        def __init__(self, sources, cells, synapses, recorded):
            super().__init__(name="snnbench_network")
            self.source_list = bm.node_list(sources)
            self.cells = cells  # [(group, offset of its cells in the synapses' columns)]
            self.cell_list = bm.node_list([group for group, _ in cells])
            self.synapses = synapses  # None when nothing is connected
            self.recorded = recorded  # name -> (group, n_spikes, n_v)

        def update(self):
            for group in self.source_list:
                group.update()
            slot = bp.share["i"] % self.synapses.ring_len if self.synapses is not None else None
            arriving = self.synapses.arriving(slot) if self.synapses is not None else None
            for group, offset in self.cells:
                group.update(0.0 if arriving is None else arriving[:, offset:offset + group.num])
            if self.synapses is not None:
                self.synapses.update(slot)
            return {name: (group.spike.value[:n_spikes], group.v.value[:n_v] if n_v else None)
                    for name, (group, n_spikes, n_v) in self.recorded.items()}

    return LIFCells, EventSynapses, WindowedPoisson, SnnbenchNetwork


# ----------------------------------------------------------------------------- the backend


class BrainPyBackend(SimulatorBackend):
    name = "brainpy"
    title = "BrainPy 2.8 (JAX), CPU"
    distribution = "brainpy"
    module = "brainpy"
    where = "CPU (XLA)"
    runs_on = ("CPU",)
    packages = ("brainpy", "jax", "jaxlib", "brainstate", "brainevent")
    one_spike_per_step = "emits a source at most once per step (bp.dyn.SpikeTimeGroup sets a boolean spike per neuron)"
    accepted_options = OPTIONS
    max_threads = 1
    compile_after_build = True
    platform: ClassVar[str] = "cpu"
    # LIFCells (this adapter's cells) are NEST's LIF-exp update only; BrainPy's own neuron and
    # synapse models integrate with its ODE methods and count refractoriness from the last spike
    # time (as bp.dyn.LifRefLTC, see the module docstring), which is not NEST's update.
    cell_type_refusals = {
        "GLIF_curr_alpha": "LIFCells take two receptors with exponential synapses; no cell here with glif_psc's "
                           "per-port alpha currents, after-spike currents and threshold components",
        "IF_curr_alpha": "LIFCells hold exponential synaptic currents only; BrainPy's bp.dyn.Alpha synapse is integrated "
                         "by an ODE method, not with iaf_psc_alpha's exact propagators",
        "IF_cond_alpha": "LIFCells hold exponential conductances only; NEST integrates iaf_cond_alpha with an adaptive "
                         "RK45 and no cell with alpha conductances is written here",
        "IF_curr_delta": "no cell here with NEST's delta-synapse update (the input stepping v before the threshold, "
                         "lost while refractory); the ring buffer feeds exponential synapses",
        "EIF_cond_exp_isfa_ista": "no AdEx cell here with NEST's update: aeif_cond_exp needs an adaptive RK45 with the "
                                  "spike checked after every sub-step, and bp.dyn.AdExIFRef integrates with a fixed step",
        "Izhikevich": "bp.dyn.Izhikevich integrates with BrainPy's ODE methods, not NEST's forward Euler order (update, "
                      "input on v, threshold, reset within the step), and no cell with that order is written here",
        "HH_cond_exp": "no cell here for hh_cond_exp_traub: NEST integrates its stiff sodium current with an adaptive "
                       "RK45, and bp.dyn.HH is a fixed-step model with other channel kinetics",
    }

    # ------------------------------------------------------------------ load

    def load(self) -> None:
        # Before jax is imported: the platform, and one CPU thread for XLA's own ops.
        os.environ["JAX_PLATFORMS"] = self.platform
        import jax

        jax.config.update("jax_platforms", self.platform)
        self.float_type = self._float_type()
        jax.config.update("jax_enable_x64", self.float_type == "float64")
        self._cold_dirs = ColdDirectories("brainpy")
        if self.option("cache") == "cold":
            cache_dir = self._cold_dirs.new(f"jax-{self.platform}")
        else:
            cache_dir = cache_root("brainpy") / f"jax-{self.platform}"
            cache_dir.mkdir(parents=True, exist_ok=True)
        # Every compiled program goes to the persistent cache (by default only slow compiles do).
        jax.config.update("jax_compilation_cache_dir", str(cache_dir))
        jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
        jax.config.update("jax_persistent_cache_min_entry_size_bytes", -1)
        self.cache_dir = cache_dir
        self._cache_counts: dict[str, int] | None = None
        jax.monitoring.register_event_listener(self._count_cache_events)
        import brainpy as bp
        import brainpy.math as bm
        import jax.numpy as jnp

        if self.float_type == "float64":
            bm.enable_x64()
        else:
            bm.disable_x64()
        devices = jax.devices(self.platform if self.platform == "cpu" else "gpu")
        if not devices:
            raise BackendUnavailable(f"jax sees no {self.platform} device")
        self.jax, self.bp, self.bm, self.jnp = jax, bp, bm, jnp
        self.classes = _define_classes(bp, bm, jnp)
        self.info.update(cache_dir=str(cache_dir), jax_device=str(devices[0]), float_type=self.float_type,
                         jax_version=jax.__version__, brainpy_version=bp.__version__)

    def _float_type(self) -> str:
        chosen = self.option("dtype")
        return chosen if chosen != "auto" else ("float64" if self.platform == "cpu" else "float32")

    # ------------------------------------------------------------------ the template's hooks: build

    def setup(self, resolved: ResolvedScenario) -> None:
        bm = self.bm
        bm.set_dt(resolved.dt)
        bm.random.seed(self._seed("brainpy"))
        self.np_float = np.float64 if self.float_type == "float64" else np.float32
        self.cell_specs: dict[str, dict[str, Any]] = {}
        self.groups: dict[str, Any] = {}  # sources now, cells in finish_build (their ring needs the longest delay)
        self.connections: list[tuple[Any, np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = []
        self.synapses: dict[str, int] = {}
        self.to_record: dict[str, tuple[int, int]] = {}
        if self.float_type == "float64":
            self.translate("precision", "float64: jax's x64 mode enabled for the run (state, weights and propagators)")
        else:
            self.translate("precision", "float32 (option dtype): state, weights and propagators in single precision "
                           "(NEST integrates in float64)")

    def _seed(self, *keys: str) -> int:
        """A seed for one named item, derived from the run's seed (BrainPy's connectors and RandomState)."""
        return zlib.crc32("\0".join((str(self.resolved.seed),) + keys).encode())

    def _draw(self, value, n: int, *keys: str) -> np.ndarray:
        """n values of a constant or a scenario distribution, from BrainPy's random numbers."""
        if isinstance(value, (int, float)):
            return np.full(n, float(value))
        rng = self.bm.random.RandomState(self._seed(*keys))
        if isinstance(value, Uniform):
            return np.array(rng.uniform(value.low, value.high, size=n), dtype=float)
        if isinstance(value, (Normal, NormalClipped)):
            out = np.array(rng.normal(value.mu, value.sigma, size=n), dtype=float)  # a writable copy
            if isinstance(value, NormalClipped):
                bad = (out < value.low) | (out > value.high)
                while bad.any():  # redrawn, as PyNN's normal_clipped
                    out[bad] = np.asarray(rng.normal(value.mu, value.sigma, size=int(bad.sum())), dtype=float)
                    bad = (out < value.low) | (out > value.high)
            return out
        raise TypeError(value)

    def create_cells(self, name: str, pop, v_init) -> None:
        q, dt = pop.spec.parameters, self.resolved.dt
        if not isinstance(v_init, np.ndarray):
            v_init = self._draw(v_init, pop.size, "v_init", name)
        prm = cell_propagators(q, dt).as_dict()
        prm.update(v_rest=q.v_rest, v_reset=q.v_reset, v_thresh=q.v_thresh, i_offset=q.i_offset,
                   e_rev_E=getattr(q, "e_rev_E", 0.0), e_rev_I=getattr(q, "e_rev_I", 0.0), minus_dt_over_cm=-dt / q.cm)
        cond = pop.cell_type == "IF_cond_exp"
        scheme = ("exponential Euler for v with the step-mean conductances g tau/dt (1 - exp(-dt/tau)), the conductances "
                  "decaying exactly (snnbench.models.lif, as the numba simulator; NEST: RK45)" if cond else
                  "exact integration with NEST iaf_psc_exp's propagators (snnbench.models.lif)")
        self.translate(pop.cell_type, f"{name}: snnbench's LIFCells (a bp.dyn.NeuDyn) instead of bp.dyn.LifRefLTC, which "
                       f"integrates v by exponential Euler with the input held over the step: {scheme}")
        self.cell_specs[name] = dict(size=pop.size, cond=cond, prm=prm, refr_steps=self.refractory_steps(name, q.tau_refrac),
                                     v0=v_init)

    def create_poisson_source(self, name: str, pop) -> bool:
        dt, window = self.resolved.dt, self.poisson_window(pop)
        k_start = int(round(window.start / dt))
        k_stop = int(round(window.stop / dt)) if window.bounded else 2**31 - 1
        for what, value in (("start", window.start), ("start + duration", window.stop)):
            if np.isfinite(value) and abs(round(value / dt) * dt - value) > 1e-9:
                self.translate("SpikeSourcePoisson", f"{name}: {what} {value} ms put on the {dt} ms grid")
        self.translate("SpikeSourcePoisson", f"{name}: bp.dyn.PoissonGroup (a spike with probability rate*dt per step, "
                       f"BrainPy's random state) in the steps k with {window.start:g} <= k*dt < {window.stop:g} ms")
        self.groups[name] = self.classes[2](pop.size, window.rate, k_start, k_stop, name=f"pop_{name}")
        return True

    def create_array_source(self, name: str, pop, steps) -> None:
        indices = np.repeat(np.arange(pop.size, dtype=np.int64), [s.size for s in steps])
        emitted = np.concatenate(steps) if steps else np.empty(0, np.int64)
        if emitted.size == 0:  # SpikeTimeGroup needs one event: one that never comes
            indices, times = np.zeros(1, np.int64), np.array([np.inf])
        else:
            # emitted in step m-1 (t = (m-1) dt >= the time given), half a step of margin for rounding
            times = (emitted - 1.5) * self.resolved.dt
        self.translate("spike source", f"{name}: bp.dyn.SpikeTimeGroup emits a spike at m*dt in step m-1, as NEST's "
                       "spike_generator")
        self.groups[name] = self.bp.dyn.SpikeTimeGroup(pop.size, indices=indices, times=times.astype(self.np_float),
                                                      name=f"pop_{name}")

    def why_not_native(self, proj) -> str | None:
        conn = proj.connector
        if proj.pre == proj.post and not getattr(conn, "allow_self_connections", True):
            return _AUTAPSES_NOT_EXCLUDED.get(conn.type)
        if conn.type == "fixed_total_number":
            pairs = self.resolved.populations[proj.pre].size * self.resolved.populations[proj.post].size
            if conn.n > pairs:  # possible with replacement (multapses), as in the microcircuit's projections
                return (f"BrainPy's FixedTotalNum refuses more connections than pairs ({conn.n} > {pairs}), "
                        "even with allow_multi_conn")
        return None

    def connect_native(self, proj) -> bool:
        conn = proj.connector
        make = BRAINPY_CONNECTORS.get(conn.type)
        if make is None:
            return False
        n_pre = self.resolved.populations[proj.pre].size
        n_post = self.resolved.populations[proj.post].size
        no_self = proj.pre == proj.post and not getattr(conn, "allow_self_connections", True)
        connector = make(self.bp.conn, conn, no_self, self._seed("connector", proj.label))
        if conn.type == "fixed_probability":
            self.translate("fixed_probability", f"{proj.label}: bp.conn.FixedProb draws round(p*N_post) = "
                           f"{int(round(n_post * conn.p))} distinct targets per source cell (a fixed out-degree"
                           f"{', autapses then dropped' if no_self else ''}), not one Bernoulli trial per pair: the same "
                           "mean number of synapses, without its variance")
        pre, post = connector(n_pre, n_post).require("pre_ids", "post_ids")
        pre, post = np.asarray(pre, dtype=np.int64), np.asarray(post, dtype=np.int64)
        weight = self._draw(proj.weight, pre.size, "weight", proj.label)
        if isinstance(proj.delay, float):
            steps = np.full(pre.size, self.constant_delay_steps(proj.delay, proj.label), dtype=np.int64)
        else:
            steps = self.delay_steps(self._draw(proj.delay, pre.size, "delay", proj.label), self.resolved.dt, proj.label)
        self._add_connections(proj, pre, post, weight, steps)
        return True

    def connect_arrays(self, proj, arrays, delay_steps) -> None:
        self._add_connections(proj, arrays.pre_idx, arrays.post_idx, arrays.weight, delay_steps)

    def _add_connections(self, proj, pre, post, weight, steps) -> None:
        self.synapses[proj.label] = self.synapses.get(proj.label, 0) + int(pre.size)
        if pre.size:
            self.connections.append((proj, pre, post, weight, steps))

    def record(self, name: str, pop, n_spikes: int, n_v: int) -> None:
        self.to_record[name] = (n_spikes, n_v)

    def finish_build(self) -> None:
        LIFCells, EventSynapses, _, SnnbenchNetwork = self.classes
        cells, offset = [], 0
        for name, spec in self.cell_specs.items():
            self.groups[name] = LIFCells(spec["size"], spec["cond"], spec["prm"], spec["refr_steps"], spec["v0"],
                                         self.np_float, name=f"pop_{name}")
            cells.append((self.groups[name], offset))
            offset += spec["size"]
        synapses = self._synapses(EventSynapses, {name: off for (group, off), name in zip(cells, self.cell_specs)}, offset)
        recorded = {name: (self.groups[name], n_spikes, n_v) for name, (n_spikes, n_v) in self.to_record.items()}
        sources = [g for name, g in self.groups.items() if name in self.resolved.sources]
        self.net = net = SnnbenchNetwork(sources, cells, synapses, recorded)
        bm = self.bm
        self.run_chunk = bm.jit(lambda indices: bm.for_loop(net.step_run, indices))
        chunk = min(self.option("chunk_steps"), self.resolved.n_steps)
        self.chunks = [(k0, min(k0 + chunk, self.resolved.n_steps)) for k0 in range(0, self.resolved.n_steps, chunk)]
        self.executables: dict[int, tuple[Any, Any]] = {}

    def _synapses(self, EventSynapses, cell_offset: dict[str, int], n_cells: int):
        """Every projection in one CSR matrix: rows the presynaptic groups' cells (in the order of
        `self.groups`), columns (delay, receptor, target cell)."""
        if not self.connections:
            return None
        pre_offset, n_pre = {}, 0
        pre_groups = []
        for name, group in self.groups.items():
            if any(proj.pre == name for proj, *_ in self.connections):
                pre_offset[name], n_pre = n_pre, n_pre + group.num
                pre_groups.append(group)
        delays = np.unique(np.concatenate([steps for *_, steps in self.connections]))
        rows, cols, weights = [], [], []
        for proj, pre, post, weight, steps in self.connections:
            receptor = 0 if proj.receptor == "excitatory" else 1
            rows.append(pre + pre_offset[proj.pre])
            cols.append((np.searchsorted(delays, steps) * 2 + receptor) * n_cells + post + cell_offset[proj.post])
            weights.append(weight)
        rows, cols, weights = np.concatenate(rows), np.concatenate(cols), np.concatenate(weights)
        order = np.argsort(rows, kind="stable")
        indptr = np.zeros(n_pre + 1, dtype=np.int64)
        np.cumsum(np.bincount(rows, minlength=n_pre), out=indptr[1:])
        index_type = np.int32 if len(delays) * 2 * n_cells < 2**31 and rows.size < 2**31 else np.int64
        self.translate("synapses", f"every projection in one event-driven CSR matrix (bm.event.csrmv: {rows.size} synapses, "
                       f"{len(delays)} distinct delays), adding into a ring buffer of {int(delays.max()) + 1} steps; "
                       "delays in whole steps of dt")
        self.connections = []  # held by the synapses now
        return EventSynapses(pre_groups, delays, n_cells, weights[order].astype(self.np_float),
                             cols[order].astype(index_type), indptr.astype(index_type), self.np_float)

    # ------------------------------------------------------------------ compile, run

    def _count_cache_events(self, event: str, **_: Any) -> None:
        """A jax.monitoring listener: the persistent cache's hits and misses while `counting`."""
        if self._cache_counts is not None and event in _CACHE_EVENTS:
            self._cache_counts[_CACHE_EVENTS[event]] += 1

    def compile(self, resolved: ResolvedScenario) -> None:
        """Trace, lower and compile the loop for each chunk length (ahead of time: nothing runs)."""
        jnp = self.jnp
        lengths = sorted({k1 - k0 for k0, k1 in self.chunks})
        counts = {"loaded": 0, "compiled": 0}
        for length in lengths:
            indices = jnp.arange(length, dtype=jnp.int32)
            trace = self.run_chunk.stateful_fun.get_state_trace(indices, compile_if_miss=True)
            lowered = self.run_chunk.jitted_fun.lower(trace.get_state_values(), indices)
            self._cache_counts = counts  # only XLA's compilation of the loop, not the small ops of tracing
            try:
                executable = lowered.compile()
            finally:
                self._cache_counts = None
            self.executables[length] = (trace, executable)
        # brainevent's numba kernels compile at their first call: one call of the shortest program,
        # its results discarded (the state the measured run starts from is unchanged).
        t0 = time.perf_counter()
        trace, executable = self.executables[lengths[0]]
        self.jax.block_until_ready(executable(trace.get_state_values(), jnp.arange(lengths[0], dtype=jnp.int32)))
        state = "warm" if counts["compiled"] == 0 else ("cold" if counts["loaded"] == 0 else "partial")
        self.info.update(compile_cache=state, programs_compiled=counts["compiled"], programs_loaded=counts["loaded"],
                         first_call_steps=lengths[0], first_call_s=time.perf_counter() - t0)

    def _run_chunk(self, indices):
        """One call of the compiled loop (brainstate's jit call, with the executable compiled above)."""
        if indices.size not in self.executables:
            return self.run_chunk(indices)
        trace, executable = self.executables[indices.size]
        read = trace.get_read_state_values(True)
        written, out = executable(trace.get_state_values(), indices)
        trace.assign_state_vals_v2(read, written)
        return out

    def run(self) -> None:
        jnp = self.jnp
        self.spike_rows: dict[str, list[tuple[np.ndarray, np.ndarray]]] = {name: [] for name in self.to_record}
        self.v_rows: dict[str, list[np.ndarray]] = {name: [] for name in self.to_record}
        t0 = time.perf_counter()
        for k0, k1 in self.chunks:
            out = self._run_chunk(jnp.arange(k0, k1, dtype=jnp.int32))
            for name, (spikes, v) in out.items():
                steps, cells = np.nonzero(np.asarray(spikes))
                self.spike_rows[name].append((steps + k0, cells))
                if v is not None:
                    self.v_rows[name].append(np.asarray(v, dtype=np.float64))
        self.info["sim_loop_s"] = time.perf_counter() - t0

    # ------------------------------------------------------------------ the template's hooks: collect

    def read_spikes(self, name: str, pop):
        rows = self.spike_rows.get(name, [])
        steps = np.concatenate([r[0] for r in rows]) if rows else np.empty(0, np.int64)
        cells = np.concatenate([r[1] for r in rows]) if rows else np.empty(0, np.int64)
        return cells, (steps + 1) * self.resolved.dt  # a spike in step k is stamped at the end of the step

    def read_v(self, name: str, pop):
        v = np.concatenate(self.v_rows[name])
        return np.arange(1, v.shape[0] + 1) * self.resolved.dt, v

    def synapse_count(self, label: str) -> int:
        return self.synapses.get(label, 0)

    def close(self) -> None:
        if hasattr(self, "jax"):
            self.jax.monitoring.unregister_event_listener(self._count_cache_events)
        for attr in ("net", "run_chunk", "executables", "groups"):
            self.__dict__.pop(attr, None)
        if hasattr(self, "_cold_dirs"):
            self._cold_dirs.remove()


class BrainPyGpuBackend(BrainPyBackend):
    name = "brainpy.gpu"
    title = "BrainPy 2.8 (JAX), GPU"
    where = "GPU (XLA, CUDA)"
    runs_on = ("GPU",)
    platform = "cuda"

    @classmethod
    def available(cls) -> tuple[bool, str]:
        ok, why = super().available()
        if not ok:
            return ok, why
        gpu, detail = _gpu_probe()
        if not gpu:
            return False, detail
        return True, f"{why}, {detail}"
