"""numba: snnbench's own simulator, the embedded default (needs nothing beyond the package).

Clock-driven, dt steps, every PyNN cell type in its NEST model's update order: exact
integration for the linear types, NEST's adaptive RKF45 for IF_cond_alpha, AdEx and HH, NEST's
forward Euler for Izhikevich (see `numba_kernels`, `numba_cells`), axonal delays through a ring
buffer. Options: `method=euler` integrates IF_cond_exp and IF_curr_exp by forward Euler instead
(Brian2's method='euler'), `dtype=float32` then holds their state in float32. Cells are split into one contiguous target block per thread; a run of steps (up to the
shortest delay) is one parallel region in which each thread delivers the previous run's spikes
onto its own cells and updates them step by step (no atomics; the raster depends neither on the
thread count nor on the run length).
Connectivity (`numba_connect`): in native mode drawn by numba's own parallel connectors straight
into a compact layout (int32 targets, float32 weights and int16 delays only where they vary); in
exact mode the harness's arrays, placed in the same layout with float64 weights.

On the template (`common.template.SimulatorBackend`), like every other adapter: the template
decides initial v, source spike steps, which projections are drawn natively and which come from
the harness's arrays, delays and refractory periods on the dt grid, and collects. The hooks only
gather what the template decided (per population: a parameter row, refractory steps, initial v,
spike steps; per projection: "draw natively" or the arrays with their delay steps), because the
simulator is one compiled step loop over the whole network and one synapse layout, not objects
created population by population: `finish_build` then assembles the layout
(`numba_connect.network_layout`) and the loop's arrays at once.

Plastic projections (`numba_plastic`: NEST's STDP algorithm, every rule, the whole delay
dendritic) take the harness's arrays, kept apart from the static layout; a network with any
steps from Python, one step of the static loop and then the plastic updates of that step's
spikes. A network without plastic synapses runs exactly as before.
"""

from __future__ import annotations

import os
import time

import numpy as np

from ..scenario.model import CELL_TYPES, MULTI_RECEPTOR, PLASTICITY_RULES, receptor_index
from ..scenario.realise import ProjectionArrays, rng_for, sample
from ..scenario.resolve import ResolvedPopulation, ResolvedScenario
from .base import Option
from .common.template import SimulatorBackend
from .nest import plasticity_problems, weight_factor

# Initial room in the spike buffer, in spikes per cell per second; it doubles when full.
_INITIAL_RATE_HZ = 40.0
# Wall time between two progress reports of a run (see `run`).
_PROGRESS_EVERY_S = 2.0
# The most steps the loop runs between two deliveries (and two meetings of its threads); fewer when
# a delay is shorter (numba_kernels.advance). Each step of a run keeps its spike lists until the next.
_MAX_RUN_STEPS = 8
# The integration schemes of the IF_cond_exp and IF_curr_exp cells (models.lif.SCHEMES): exact is
# NEST's (validated, the default); euler is forward Euler, Brian2's method='euler'.
EULER_CELL_TYPES = ("IF_cond_exp", "IF_curr_exp")
METHOD_OPTION = Option("method", str, "exact", "integration of the IF_cond_exp and IF_curr_exp cells: exact, NEST's "
                       "scheme (exact propagators; step-mean conductances and exponential Euler for IF_cond_exp), as "
                       "validated; euler: forward Euler, as Brian2's method='euler' (faster, less accurate)",
                       choices=("exact", "euler"))
DTYPE_OPTION = Option("dtype", str, "float64", "floating-point type of the cells' state (v, synaptic variables) and "
                      "of their update; float32 only with method=euler",
                      choices=("float64", "float32"))


class NumbaBackend(SimulatorBackend):
    name = "numba"
    title = "snnbench's numba simulator"
    distribution = "numba"
    module = "numba"
    where = "CPU (threads)"
    packages = ("numba", "llvmlite")
    source_multiplicity = True  # a source step repeated k times is delivered k times (k x weight)
    plasticity_rules = PLASTICITY_RULES
    cell_types = CELL_TYPES  # every cell type snnbench has (numba_kernels, numba_cells)
    accepted_options = (METHOD_OPTION, DTYPE_OPTION)

    @classmethod
    def option_scenario_problems(cls, resolved: ResolvedScenario, options) -> list[str]:
        options = options or {}
        if options.get("method") != "euler":
            return ["dtype=float32 needs method=euler (the exact scheme's kernels are float64)"] if (
                options.get("dtype") == "float32") else []
        return [f"population {name}: method=euler applies to IF_cond_exp and IF_curr_exp only; {pop.cell_type} has no "
                "forward-Euler kernel here (it keeps its NEST model's scheme, numba_cells)"
                for name, pop in resolved.cells.items() if pop.cell_type not in EULER_CELL_TYPES]

    def supports(self, resolved: ResolvedScenario, mode: str) -> list[str]:
        # numba's plastic synapses follow NEST's algorithm: the whole delay dendritic, K- per post cell
        return super().supports(resolved, mode) + [p for p in plasticity_problems(resolved)
                                                   if "dendritic_delay_fraction" in p or "tau_minus" in p]

    def load(self) -> None:
        # OpenMP's threads sleep between parallel regions (the connectors' draws, each call to the
        # step loop) instead of spinning, unless the environment says otherwise: on a machine
        # shared with other jobs a spinning thread holds the core its partner needs
        # (docs/full-scale.md, "Waiting threads"). Within the step loop the threads meet at
        # numba_sync's barrier, which spins briefly then yields, whatever this says. Read when
        # numba starts its OpenMP pool.
        os.environ.setdefault("OMP_WAIT_POLICY", "passive")
        self.info["omp_wait_policy"] = os.environ["OMP_WAIT_POLICY"]
        import numba
        from numba.core.registry import cpu_target

        # numba's own start-up: the first time it loads a cached kernel, its CPU target imports
        # every implementation module (numba.np.arraymath imports scipy.linalg to look for a BLAS).
        # Done here, with the simulator's import, so that the compile phase measures loading
        # snnbench's kernels (docs/full-scale.md, "Warm compile"). The same call the cache makes.
        cpu_target.target_context.refresh()

        from . import numba_cells, numba_connect, numba_kernels

        # A run is one parallel region whose threads meet at numba_sync's barrier: each thread's
        # iteration must have a thread of its own, which OpenMP's and numba's workqueue layers give
        # and TBB's does not promise (it may run two in turn): TBB last, unless the environment chooses.
        if "NUMBA_THREADING_LAYER_PRIORITY" not in os.environ:
            numba.config.THREADING_LAYER_PRIORITY = ["omp", "workqueue", "tbb"]
        numba.set_num_threads(min(self.threads, numba.config.NUMBA_NUM_THREADS))
        self.info["threads_used"] = numba.get_num_threads()
        self.region_threads = self.info["threads_used"] if numba.config.THREADING_LAYER != "tbb" else 0
        self.info["threading_layer"] = numba.config.THREADING_LAYER
        self.kernels, self.connect, self.cells = numba_kernels, numba_connect, numba_cells

    def compile(self, resolved: ResolvedScenario) -> None:
        self.info.update(self.kernels.warm_up(resolved, np.dtype(self.option("dtype")).type))
        if any(proj.spec.synapse is not None for proj in resolved.projections):
            from . import numba_plastic

            numba_plastic.warm_up()

    # ------------------------------------------------------------------ the template's hooks

    def setup(self, resolved: ResolvedScenario) -> None:
        self.offsets, self.n_cells, self.n_total = self.connect.global_offsets(resolved)
        # offset, size, kind, parameter row, refractory steps, initial v, initial aux state
        self.groups: list[tuple[int, int, int, np.ndarray, int, np.ndarray, np.ndarray]] = []
        self.sources: list[tuple[int, list[np.ndarray]]] = []  # offset, spike steps per source
        self.drawn: set[str] = set()  # projections numba draws itself
        self.placed: dict[str, tuple[ProjectionArrays, np.ndarray]] = {}  # the harness's arrays, delay steps
        self.plastic: dict[str, tuple[ProjectionArrays, np.ndarray]] = {}  # plastic projections (numba_plastic)
        self.n_record_v: dict[str, int] = {}
        if not self.exact:
            drawn = any(self.fallback_reason(proj) is None for proj in resolved.projections)
            self.translate("connectivity", ("drawn by numba's own parallel connectors from the seed (a realisation "
                           "other than the harness's); " if drawn else "") +
                           "weights, and each step's summed input, stored as float32")

    def create_cells(self, name: str, pop: ResolvedPopulation, v_init) -> None:
        q, K = pop.spec.parameters, self.kernels
        if not isinstance(v_init, np.ndarray):
            # numba has no generator of its own for initial values: the harness's stream, so that
            # native mode starts from the same v as the harness's realisation.
            v_init = sample(v_init, rng_for(self.resolved.seed, "v_init", name), pop.size)
        dt, C = self.resolved.dt, self.cells
        if pop.cell_type in EULER_CELL_TYPES:
            method = self.option("method")
            kind, row = K.group_kind(pop.cell_type, method), K.population_parameters(q, dt, method)
            if method != METHOD_OPTION.default:
                self.translate(f"{pop.cell_type} integration", f"{name}: method={method} (the run's option): forward Euler "
                               "for v and the synaptic variables, each advanced by dt times its derivative at the step's "
                               "start, instead of NEST's exact scheme (the validated default)")
        else:
            kind, row = C.KINDS[pop.cell_type], C.group_row(pop.cell_type, q, dt, K.N_PRM)
        # Izhikevich has no refractory period; HH's is NEST's 2 ms without spikes (numba_cells)
        refr = self.refractory_steps(name, q.tau_refrac) if hasattr(q, "tau_refrac") else C.refractory_steps(pop.cell_type, q, dt)
        self.groups.append((self.offsets[name], pop.size, kind, row, refr, np.asarray(v_init, dtype=np.float64),
                            C.initial_aux(pop.cell_type, pop.spec.initial_values, dt, pop.size, q)))

    def create_array_source(self, name: str, pop: ResolvedPopulation, steps: list[np.ndarray]) -> None:
        self.sources.append((self.offsets[name], steps))

    def why_not_native(self, proj) -> str | None:
        if proj.spec.synapse is not None:
            return "plastic synapses are built from the harness's arrays (numba_plastic)"
        if proj.made_static:  # the plastic run's connections, so that the two runs differ in plasticity alone
            return "a plastic projection made static (--static-synapses) is built from the harness's arrays, as its plastic run is"
        return self.connect.why_not_native(proj)

    def connect_native(self, proj) -> bool:
        self.drawn.add(proj.label)
        return True

    def connect_arrays(self, proj, arrays: ProjectionArrays, delay_steps: np.ndarray) -> None:
        (self.placed if proj.spec.synapse is None else self.plastic)[proj.label] = (arrays, delay_steps)

    def record(self, name: str, pop: ResolvedPopulation, n_spikes: int, n_v: int) -> None:
        self.n_record_v[name] = min(n_v, pop.size)  # spikes: the loop keeps every cell's

    def finish_build(self) -> None:
        resolved, K = self.resolved, self.kernels
        self.layout = self.connect.network_layout(
            resolved, self.info["threads_used"], self.drawn, self.placed,
            np.float64 if self.exact else np.float32, self.constant_delay_steps, self.translate)
        self.info["target_blocks"] = self.layout.n_blocks
        self.info["synapse_bytes"] = self.layout.nbytes
        n, n_steps = self.n_cells, resolved.n_steps

        # One group per population of cells (cells are numbered population by population).
        self.grp_lo = np.array([g[0] for g in self.groups], dtype=np.int64)
        self.grp_hi = np.array([g[0] + g[1] for g in self.groups], dtype=np.int64)
        self.grp_kind = np.array([g[2] for g in self.groups], dtype=np.int8)
        # Rows of every kind in one table: as wide as the widest (a GLIF row's length depends on
        # its after-spike currents and ports; numba_cells), the others padded with zeros.
        width = max([K.N_PRM] + [g[3].size for g in self.groups])
        self.prm = np.stack([np.pad(g[3], (0, width - g[3].size)) for g in self.groups]) if self.groups else np.zeros((0, K.N_PRM))
        self.grp_refr = np.array([g[4] for g in self.groups], dtype=np.int64)
        state = np.dtype(self.option("dtype"))
        if state != np.float64:
            self.translate("state", f"v and the synaptic variables stored and updated in {state} (the run's option dtype)")
        self.v = (np.concatenate([g[5] for g in self.groups]) if self.groups else np.zeros(0)).astype(state)
        width = max([self.cells.N_AUX] + [g[6].shape[1] for g in self.groups])
        self.aux = (np.concatenate([np.pad(g[6], ((0, 0), (0, width - g[6].shape[1]))) for g in self.groups]) if self.groups
                    else np.zeros((0, self.cells.N_AUX)))
        self.syn_e, self.syn_i = np.zeros(n, state), np.zeros(n, state)
        self.refr = np.zeros(n, dtype=np.int64)
        plastic_delay = max((int(d.max()) for _, d in self.plastic.values() if d.size), default=0)
        ring_len = 1 << int(max(self.layout.max_delay_steps, plastic_delay)).bit_length()  # a power of two > the largest delay
        # [slot, receptor (0 exc, 1 inh; or port k - 1 of a multi-receptor cell), cell]. Native mode sums each step's input in float32, as
        # its weights are: half the memory traffic of the random writes that bound the full-scale
        # sim (a 79 MB float64 ring there; 25 % less time per synapse measured); exact: float64.
        n_rec = max([2] + [p.spec.parameters.n_ports for p in resolved.cells.values() if p.cell_type in MULTI_RECEPTOR])
        self.seg_row = self.layout.seg_rec  # each segment's ring row
        if not self.exact and not self.plastic and K.shares_one_input_row(self.grp_kind, self.prm):
            n_rec, self.seg_row = 1, np.zeros_like(self.layout.seg_rec)
            self.translate("synaptic input", "E and I arrivals summed into one ring row per cell (every population is "
                           "IF_curr_exp with tau_syn_E == tau_syn_I: its two currents add up to one), in native mode; "
                           "exact mode keeps a row per receptor")
        self.info["ring_bytes"] = int(ring_len * n_rec * n * self.layout.weights.dtype.itemsize)
        self.ring = np.zeros((ring_len, n_rec, n), dtype=self.layout.weights.dtype)

        # Source spikes as events per emission step: a spike at m*dt is emitted in step m-1.
        ids = [np.full(s.size, offset + j, dtype=np.int64) for offset, steps in self.sources for j, s in enumerate(steps)]
        steps = [s - 1 for _, per_source in self.sources for s in per_source]
        ids = np.concatenate(ids) if ids else np.zeros(0, np.int64)
        steps = np.concatenate(steps).astype(np.int64) if steps else np.zeros(0, np.int64)
        order = np.argsort(steps, kind="stable")
        self.src_ids = ids[order]
        self.src_ptr = np.concatenate(([0], np.cumsum(np.bincount(steps, minlength=n_steps)[:n_steps]))).astype(np.int64)

        # Recording: v of the first k cells of each population, at the end of every step.
        self.v_column: dict[str, int] = {}
        rec_ids = []
        for name in resolved.cells:
            self.v_column[name] = sum(r.size for r in rec_ids)
            rec_ids.append(np.arange(self.n_record_v.get(name, 0)) + self.offsets[name])
        self.rec_ids = np.concatenate(rec_ids).astype(np.int64) if rec_ids else np.zeros(0, np.int64)
        self.v_rec = np.zeros((n_steps, self.rec_ids.size))
        self.spiked = np.zeros(n, dtype=np.bool_)
        widest = int(np.diff(self.layout.block_lo).max()) if n else 0
        # Steps per run (numba_kernels.advance): up to the shortest delay. A plastic network runs
        # step by step anyway (its updates follow each step).
        run = max(1, min(_MAX_RUN_STEPS, self.layout.min_delay_steps or _MAX_RUN_STEPS))
        self.info["steps_per_run"] = run
        self.blk_spk = np.zeros((run, self.layout.n_blocks, widest), dtype=np.int64)  # spikes per step of a run, per block
        self.blk_cnt = np.zeros((run, self.layout.n_blocks), dtype=np.int64)
        # Spikes of the last run, delivered at the start of the next: each cell once, each source once
        # per spike it carries in that step (a step of multiplicity k delivers k x weight).
        most_source_events = int(np.diff(self.src_ptr).max()) if n_steps else 0
        self.pending = np.zeros(run * (n + max(most_source_events, self.n_total - n)), dtype=np.int64)
        self.n_pending = np.zeros(2, dtype=np.int64)  # spikes pending, steps they come from
        self.pend_ptr = np.zeros(run + 1, dtype=np.int64)
        capacity = int(n * resolved.simtime / 1000.0 * _INITIAL_RATE_HZ) + 2 * n + 1024
        self.spk_ids = np.zeros(capacity, dtype=np.int64)
        self.spk_steps = np.zeros(capacity, dtype=np.int64)
        self.n_spk = np.zeros(1, dtype=np.int64)
        if self.plastic:
            self._build_plastic()

    def _build_plastic(self) -> None:
        """The plastic synapses, sorted by presynaptic cell, and the post cells' spike histories."""
        from . import numba_plastic as P

        self.P = P
        resolved, n = self.resolved, self.n_cells
        labels = list(self.plastic)
        columns = []  # per projection: pre, post (global), receptor, weight, delay, projection index
        self.tau_minus = np.zeros(n)
        rules = []
        for p_index, label in enumerate(labels):
            proj = next(p for p in resolved.projections if p.label == label)
            arrays, steps = self.plastic[label]
            syn = proj.spec.synapse
            rules.append(P.rule_row(syn, abs(weight_factor(resolved.populations[proj.post].cell_type, proj.receptor))))
            post = arrays.post_idx + self.offsets[proj.post]
            self.tau_minus[self.offsets[proj.post]:self.offsets[proj.post] + resolved.populations[proj.post].size] = (
                syn.timing_dependence.tau_minus if hasattr(syn, "timing_dependence") else syn.tau_minus)
            columns.append((arrays.pre_idx + self.offsets[proj.pre], post, np.full(arrays.size, receptor_index(proj.receptor)),
                            arrays.weight.astype(np.float64), np.asarray(steps, np.int64), np.full(arrays.size, p_index)))
            self.translate("plasticity", f"{label}: {syn.describe}, NEST's algorithm (numba_plastic): weights updated when a "
                           "spike is sent, the whole delay dendritic; float64 weights")
        pre, post, rec, w, d, pj = (np.concatenate(column) for column in zip(*columns))
        order = np.argsort(pre, kind="stable")
        self.p_pre, self.p_post, self.p_rec = pre[order].astype(np.int64), post[order].astype(np.int64), rec[order].astype(np.int64)
        self.p_w, self.p_d, self.p_proj = w[order].astype(np.float64), d[order].astype(np.int64), pj[order].astype(np.int64)
        self.p_first = np.concatenate(([0], np.cumsum(np.bincount(self.p_pre, minlength=self.n_total)))).astype(np.int64)
        self.p_rules = np.stack(rules) if rules else np.zeros((0, P.N_RULE))
        self.p_kplus, self.p_tlast = np.zeros(self.p_w.size), np.zeros(self.p_w.size, np.int64)
        self.p_labels = {label: k for k, label in enumerate(labels)}
        self.hist_steps = np.zeros((n, P.HISTORY), np.int64)  # each cell's last post spikes (stamps) and K- after them
        self.hist_k = np.zeros((n, P.HISTORY))
        self.hist_n = np.zeros(n, np.int64)

    def read_weights(self, proj):
        mine = self.p_proj == self.p_labels[proj.label]
        return (self.p_pre[mine] - self.offsets[proj.pre], self.p_post[mine] - self.offsets[proj.post], self.p_w[mine].copy())

    def before_collect(self) -> None:
        import numba

        try:  # the layer numba chose, known once a parallel region has run
            self.info["threading_layer"] = numba.threading_layer()
        except ValueError:
            pass

    def read_spikes(self, name: str, pop: ResolvedPopulation) -> tuple[np.ndarray, np.ndarray]:
        m = int(self.n_spk[0])
        local = self.spk_ids[:m] - self.offsets[name]
        mine = (local >= 0) & (local < pop.n_record_spikes)
        return local[mine], self.spk_steps[:m][mine] * self.resolved.dt

    def read_v(self, name: str, pop: ResolvedPopulation) -> tuple[np.ndarray, np.ndarray]:
        col = self.v_column[name]
        t = np.arange(1, self.resolved.n_steps + 1) * self.resolved.dt
        return t, self.v_rec[:, col:col + self.n_record_v.get(name, 0)].copy()

    def synapse_count(self, label: str) -> int:
        if label in self.plastic:
            return int(self.plastic[label][0].size)
        return self.layout.synapses.get(label, 0)

    # ------------------------------------------------------------------ the run

    def run(self) -> None:
        n_steps, dt = self.resolved.n_steps, self.resolved.dt
        if self.plastic:
            self.run_sampling_weights(lambda ms: self._advance_plastic(int(round(ms / dt))))
            return
        report = getattr(self, "on_progress", None)
        if report is None:
            self.advance(0, n_steps)
            return
        # In chunks of about _PROGRESS_EVERY_S of wall time (the first: 1 % of the run), reporting
        # after each: a handful of extra calls per run, microseconds each, against seconds of sim.
        start = time.perf_counter()
        k, chunk = 0, max(1, n_steps // 100)
        while k < n_steps:
            k = self.advance(k, min(n_steps, k + chunk))
            per_step = (time.perf_counter() - start) / k
            chunk = max(1, int(_PROGRESS_EVERY_S / max(per_step, 1e-9)))
            if k < n_steps:
                report(k * dt, n_steps * dt, per_step * (n_steps - k))

    def _advance_plastic(self, steps: int) -> None:
        """`steps` steps, each of the static loop followed by the plastic updates of its spikes."""
        k0 = getattr(self, "_k", 0)
        for k in range(k0, k0 + steps):
            self.advance(k, k + 1)
            ok = self.P.after_step(k, self.resolved.dt, self.n_cells, self.pending, int(self.n_pending[0]), self.tau_minus,
                                   self.hist_steps, self.hist_k, self.hist_n, self.p_first, self.p_post, self.p_rec,
                                   self.p_w, self.p_d, self.p_proj, self.p_rules, self.p_kplus, self.p_tlast, self.ring)
            if not ok:
                raise self.P.HistoryOverflow(f"step {k}: a plastic synapse needs a post spike older than the last "
                                             f"{self.P.HISTORY} of its post cell (numba_plastic.HISTORY)")
        self._k = k0 + steps

    def advance(self, k0: int, k1: int) -> int:
        """Simulate steps k0 to k1 (growing the spike buffer when it fills); return k1."""
        K, L = self.kernels, self.layout
        k = k0
        while k < k1:
            k = K.advance(
                k, k1, self.resolved.dt, L.block_lo, self.grp_lo, self.grp_hi, self.grp_kind, self.prm, self.grp_refr,
                self.v, self.syn_e, self.syn_i, self.refr, self.aux,
                L.seg_first, L.seg_ptr, self.seg_row, L.seg_w, L.seg_d, L.targets, L.weights, L.dsteps, self.ring,
                self.src_ptr, self.src_ids, self.pending, self.n_pending, self.pend_ptr, self.spiked, self.blk_spk, self.blk_cnt,
                self.spk_ids, self.spk_steps, self.n_spk, self.rec_ids, self.v_rec, self.region_threads,
            )
            if k < k1:  # the spike buffer is nearly full: double it and go on
                self.spk_ids = np.concatenate((self.spk_ids, np.zeros_like(self.spk_ids)))
                self.spk_steps = np.concatenate((self.spk_steps, np.zeros_like(self.spk_steps)))
        return k
