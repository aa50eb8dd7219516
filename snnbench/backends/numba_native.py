"""numba: snnbench's own simulator, the embedded default (needs nothing beyond the package).

Clock-driven, dt steps, exact exponential integration (see `numba_kernels`), axonal delays
through a ring buffer. Cells are split into one contiguous target block per thread; a step is
one parallel region in which each thread delivers the previous step's spikes onto its own
cells and updates them (no atomics; the raster does not depend on the thread count).
Connectivity (`numba_connect`): in native mode drawn by numba's own parallel connectors straight
into a compact layout (int32 targets, float32 weights and int16 delays only where they vary); in
exact mode the harness's arrays, placed in the same layout with float64 weights.
"""

from __future__ import annotations

import os
import time

import numpy as np

from ..output import PopulationOutput, SimulationOutput, spikes_from_steps
from ..scenario.realise import Network, realise_populations
from ..scenario.resolve import ResolvedScenario
from .base import Backend

# Initial room in the spike buffer, in spikes per cell per second; it doubles when full.
_INITIAL_RATE_HZ = 40.0
# Wall time between two progress reports of a run (see `run`).
_PROGRESS_EVERY_S = 2.0


class NumbaBackend(Backend):
    name = "numba"
    title = "snnbench's numba simulator"
    distribution = "numba"
    module = "numba"
    where = "CPU (threads)"
    packages = ("numba", "llvmlite")

    def load(self) -> None:
        # Threads that wait at the end of a step sleep instead of spinning, unless the
        # environment says otherwise: a step is one parallel region, and on a machine shared
        # with other jobs a spinning thread holds the core its partner needs to finish the step
        # (measured here, 2 threads, load 5-7 on 2 cores: VA COBA 12-15 s spinning vs 0.4 s
        # passive, 0.3 s on 1 thread). On an idle machine spinning is a little faster for small
        # networks: OMP_WAIT_POLICY=active restores it. Read when numba starts its OpenMP pool.
        os.environ.setdefault("OMP_WAIT_POLICY", "passive")
        self.info["omp_wait_policy"] = os.environ["OMP_WAIT_POLICY"]
        import numba

        from . import numba_kernels

        numba.set_num_threads(min(self.threads, numba.config.NUMBA_NUM_THREADS))
        self.info["threads_used"] = numba.get_num_threads()
        self.info["threading_layer"] = numba.config.THREADING_LAYER
        self.kernels = numba_kernels

    def compile(self, resolved: ResolvedScenario) -> None:
        self.info.update(self.kernels.warm_up(resolved))

    def build(self, resolved: ResolvedScenario, mode: str, network: Network | None) -> None:
        K = self.kernels
        from . import numba_connect

        n_blocks = self.info["threads_used"]
        native = network is None
        if native:
            # Native: the network is drawn here, in parallel compiled code, straight into the
            # compact layout; the harness only realises initial V and source spikes.
            self.translate("connectivity", "drawn by numba's own parallel connectors from the seed (a realisation "
                           "other than the harness's); weights, and each step's summed input, stored as float32")
            network = Network(resolved=resolved, populations=realise_populations(resolved))
            self.layout = numba_connect.native_layout(
                resolved, n_blocks, lambda proj: self.harness_arrays(proj, resolved),
                self.delay_steps, self.translate)
        else:
            self.layout = numba_connect.harness_layout(resolved, network, n_blocks, self.delay_steps)
        self.info["target_blocks"] = self.layout.n_blocks
        self.info["synapse_bytes"] = self.layout.nbytes
        self.resolved, self.network = resolved, network
        dt = resolved.dt
        cells = [network.populations[name] for name in resolved.cells]
        sources = [network.populations[name] for name in resolved.sources]
        n = sum(p.size for p in cells)
        n_total = n + sum(p.size for p in sources)

        # One group per population of cells (cells are numbered population by population).
        rows, kinds, refr_steps = [], [], []
        for p in cells:
            q = resolved.populations[p.name].spec.parameters
            rows.append(K.group_parameters(
                q.cm, q.tau_m, q.tau_syn_E, q.tau_syn_I, q.v_rest, q.v_reset, q.v_thresh, q.i_offset,
                getattr(q, "e_rev_E", 0.0), getattr(q, "e_rev_I", 0.0), dt))
            kinds.append(K.COND if p.cell_type == "IF_cond_exp" else K.CURR)
            steps = int(round(q.tau_refrac / dt))
            if abs(steps * dt - q.tau_refrac) > 1e-9:
                self.translate("tau_refrac", f"{p.name}: {q.tau_refrac} ms rounded to {steps * dt:g} ms (the dt grid, as NEST does)")
            refr_steps.append(steps)
        self.grp_lo = np.array([p.offset for p in cells], dtype=np.int64)
        self.grp_hi = np.array([p.offset + p.size for p in cells], dtype=np.int64)
        self.grp_kind = np.array(kinds, dtype=np.int8)
        self.prm = np.stack(rows) if rows else np.zeros((0, K.N_PRM))
        self.grp_refr = np.array(refr_steps, dtype=np.int64)
        self.v = np.concatenate([p.v_init for p in cells]).astype(np.float64)
        self.syn_e, self.syn_i = np.zeros(n), np.zeros(n)
        self.refr = np.zeros(n, dtype=np.int64)
        self.synapses = dict(self.layout.synapses)
        ring_len = 1 << int(self.layout.max_delay_steps).bit_length()  # a power of two > the largest delay
        # [slot, receptor (0 exc, 1 inh), cell]. Native mode sums each step's input in float32, as
        # its weights are: half the memory traffic of the random writes that bound the full-scale
        # sim (a 79 MB float64 ring there; 25 % less time per synapse measured); exact: float64.
        self.ring = np.zeros((ring_len, 2, n), dtype=self.layout.weights.dtype if native else np.float64)

        # Source spikes as events per emission step: a spike at m*dt is emitted in step m-1.
        n_steps = resolved.n_steps
        ids, steps = [], []
        for p in sources:
            for j, s in enumerate(p.spike_steps):
                ids.append(np.full(s.size, p.offset + j, dtype=np.int64))
                steps.append(s - 1)
        ids = np.concatenate(ids) if ids else np.zeros(0, np.int64)
        steps = np.concatenate(steps) if steps else np.zeros(0, np.int64)
        order = np.argsort(steps, kind="stable")
        self.src_ids = ids[order]
        self.src_ptr = np.concatenate(([0], np.cumsum(np.bincount(steps, minlength=n_steps)[:n_steps]))).astype(np.int64)

        # Recording: v of the first k cells of each population, at the end of every step.
        rec_ids = [np.arange(min(resolved.populations[p.name].n_record_v, p.size)) + p.offset for p in cells]
        self.rec_ids = np.concatenate(rec_ids).astype(np.int64) if rec_ids else np.zeros(0, np.int64)
        self.v_rec = np.zeros((n_steps, self.rec_ids.size))
        self.spiked = np.zeros(n, dtype=np.bool_)
        widest = int(np.diff(self.layout.block_lo).max()) if n else 0
        self.blk_spk = np.zeros((self.layout.n_blocks, widest), dtype=np.int64)  # spikes of one step, per block
        self.blk_cnt = np.zeros(self.layout.n_blocks, dtype=np.int64)
        self.pending = np.zeros(n_total, dtype=np.int64)  # spikes of the last step, delivered in the next
        self.n_pending = np.zeros(1, dtype=np.int64)
        capacity = int(n * resolved.simtime / 1000.0 * _INITIAL_RATE_HZ) + 2 * n + 1024
        self.spk_ids = np.zeros(capacity, dtype=np.int64)
        self.spk_steps = np.zeros(capacity, dtype=np.int64)
        self.n_spk = np.zeros(1, dtype=np.int64)
        self.n_cells = n

    def run(self) -> None:
        n_steps, dt = self.resolved.n_steps, self.resolved.dt
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

    def advance(self, k0: int, k1: int) -> int:
        """Simulate steps k0 to k1 (growing the spike buffer when it fills); return k1."""
        K, L = self.kernels, self.layout
        k = k0
        while k < k1:
            k = K.advance(
                k, k1, self.resolved.dt, L.block_lo, self.grp_lo, self.grp_hi, self.grp_kind, self.prm, self.grp_refr,
                self.v, self.syn_e, self.syn_i, self.refr,
                L.seg_first, L.seg_ptr, L.seg_rec, L.seg_w, L.seg_d, L.targets, L.weights, L.dsteps, self.ring,
                self.src_ptr, self.src_ids, self.pending, self.n_pending, self.spiked, self.blk_spk, self.blk_cnt,
                self.spk_ids, self.spk_steps, self.n_spk, self.rec_ids, self.v_rec,
            )
            if k < k1:  # the spike buffer is nearly full: double it and go on
                self.spk_ids = np.concatenate((self.spk_ids, np.zeros_like(self.spk_ids)))
                self.spk_steps = np.concatenate((self.spk_steps, np.zeros_like(self.spk_steps)))
        return k

    def collect(self) -> SimulationOutput:
        resolved, network, dt = self.resolved, self.network, self.resolved.dt
        m = int(self.n_spk[0])
        ids, times = self.spk_ids[:m], self.spk_steps[:m] * dt
        v_times = np.arange(1, resolved.n_steps + 1) * dt
        out = {}
        col = 0
        for name, pop in resolved.populations.items():
            arrays = network.populations[name]
            recorded = np.arange(pop.n_record_spikes, dtype=np.int64)
            if pop.is_source:
                index, t = spikes_from_steps(arrays.spike_steps, recorded, dt)
                out[name] = PopulationOutput(name, pop.size, pop.cell_type, recorded, index, t)
                continue
            local = ids - arrays.offset
            mask = (local >= 0) & (local < pop.n_record_spikes)
            k = pop.n_record_v
            out[name] = PopulationOutput(
                name, pop.size, pop.cell_type, recorded, local[mask], times[mask],
                v_index=np.arange(k, dtype=np.int64), v_times=v_times, v=self.v_rec[:, col:col + k].copy(),
            )
            col += k
        return SimulationOutput(simtime=resolved.simtime, dt=dt, populations=out, synapses=dict(self.synapses))
