"""The numba simulator's compiled core: a clock-driven step loop for LIF cells with exponential
synapses, conductance- or current-based, following NEST's update order.

Per step k (time k*dt -> (k+1)*dt), for each cell i (in parallel):

IF_curr_exp (NEST iaf_psc_exp, exact integration after Rotter & Diesmann 1999):
    v <- v_rest + (v - v_rest) P22 + P21e I_e + P21i I_i + P20 i_offset   (unless refractory)
    I <- I exp(-dt/tau_syn) + arrivals;  spike if v >= v_thresh
IF_cond_exp (NEST iaf_cond_exp order; NEST integrates with an adaptive RK45 instead):
    the synaptic conductances decay exactly; over the step the membrane sees their step average
    g_avg = g tau_syn/dt (1 - exp(-dt/tau_syn)), and v is integrated exactly for that constant
    conductance (exponential Euler):  v <- v_inf + (v - v_inf) exp(-dt g_tot / cm).
    then: refractory -> v = v_reset; else spike if v >= v_thresh;  g <- g exp(-dt/tau) + arrivals
    The exponential is `exp_nonpos`, evaluated without branches (to 3e-14 relative) so that the
    loop over cells vectorises: libm's scalar exp would cost 4x the whole update.
The per-step coefficients (P22, P21, P20, decays, step means) are `snnbench.models.lif`'s, put
into one row of floats per population (`group_parameters`) for the compiled loop.

Forward Euler (the backend's option method=euler, `models.lif`'s euler_propagators): IF_curr_exp
is the same loop with Euler's coefficients in the row; IF_cond_exp is a kind of its own,
COND_EULER, without the exponential and the division by g_tot:
    v <- v + dt/cm (g_l v_rest + i_offset + g_e E_e + g_i E_i - (g_l + g_e + g_i) v)
with the conductances at the start of the step; the same refractory clamp, threshold and reset.

A spike at the end of step k (time (k+1)*dt) with a delay of d steps is added to the ring buffer
slot (k + d) mod L (L a power of two above the largest delay), read at the end of step k + d: it arrives at (k+1+d)*dt, as in NEST.
A ring row per receptor; in native mode one row for both when their currents add up to one
(`shares_one_input_row`). Source
spikes at time m*dt are emitted in step m-1, as NEST's spike_generator does.

Every other PyNN cell type (alpha and delta synapses, AdEx, Izhikevich, HH) is one kind more of
group, updated by `numba_cells.update_group` in its NEST model's order; their extra state is
`aux[cell, column]`.

Connectivity is `numba_connect.SynapseLayout`: rows per presynaptic cell (cells first, then
sources), split by target block; thread b delivers onto, and updates, only the cells of block b.
Steps go in runs no longer than the shortest delay (as NEST's min_delay slices): the spikes of a
run cannot arrive within it, so they are delivered at the start of the next run, and the threads
meet once a run. Every ring slot still sums its inputs in the serial order: the same bits for any
run length and number of blocks.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from . import numba_cells, numba_sync

from ..models.lif import SCHEMES

# Columns of the per-group parameter table `prm` (one row per population: cells of a group
# share their parameters, so the inner loops work on scalars).
V_REST, V_RESET, V_THRESH, I_OFF, CM = 0, 1, 2, 3, 4
P22, P21E, P21I, P20 = 5, 6, 7, 8  # IF_curr_exp propagators
G_L, E_E, E_I, AVG_E, AVG_I = 9, 10, 11, 12, 13  # IF_cond_exp
DEC_E, DEC_I = 14, 15  # synaptic decay over one step
N_PRM = 16

CURR, COND = 0, 1
COND_EULER = 9  # after numba_cells' kinds (2-8)


def group_parameters(cm, tau_m, tau_syn_e, tau_syn_i, v_rest, v_reset, v_thresh, i_offset, e_rev_e, e_rev_i, dt,
                     method="exact"):
    """One row of `prm` for a group of identical cells; the propagators are `models.lif`'s, of the
    scheme `method` (exact or euler)."""
    p = SCHEMES[method](cm, tau_m, tau_syn_e, tau_syn_i, dt)
    row = np.zeros(N_PRM)
    row[P22], row[P21E], row[P21I], row[P20] = p.p22, p.p21e, p.p21i, p.p20
    row[G_L], row[CM], row[AVG_E], row[AVG_I] = p.g_l, cm, p.avg_e, p.avg_i
    row[DEC_E], row[DEC_I] = p.dec_e, p.dec_i
    row[V_REST], row[V_RESET], row[V_THRESH], row[I_OFF] = v_rest, v_reset, v_thresh, i_offset
    row[E_E], row[E_I] = e_rev_e, e_rev_i
    return row


def population_parameters(parameters, dt, method="exact"):
    """`group_parameters` of a scenario population's parameters (IFCurrExpParameters, IFCondExpParameters;
    the reversal potentials are unused by IF_curr_exp and left 0)."""
    q = parameters
    return group_parameters(q.cm, q.tau_m, q.tau_syn_E, q.tau_syn_I, q.v_rest, q.v_reset, q.v_thresh, q.i_offset,
                            getattr(q, "e_rev_E", 0.0), getattr(q, "e_rev_I", 0.0), dt, method)


def group_kind(cell_type, method="exact"):
    """The loop's kind of a LIF-exp population integrated with `method`."""
    if cell_type == "IF_curr_exp":
        return CURR  # Euler's coefficients go into the same update
    return COND_EULER if method == "euler" else COND


@njit(cache=True, nogil=True, inline="always")
def exp_nonpos(x):
    """e**x for x <= 0, without branches, to 3e-14 relative.

    x is clamped at -40 (e**-40 ~ 4e-18: as a factor on v - v_inf it is below any float64
    difference in mV); e**(x/128) by its Taylor series to degree 12 (|x/128| <= 0.3125, error
    < 1e-16); then squared 7 times.
    """
    r = max(x, -40.0) * 0.0078125
    p = 1.0 + r * (1.0 + r * (0.5 + r * (1 / 6 + r * (1 / 24 + r * (1 / 120 + r * (1 / 720 + r * (
        1 / 5040 + r * (1 / 40320 + r * (1 / 362880 + r * (1 / 3628800 + r * (1 / 39916800 + r / 479001600)))))))))))
    p *= p
    p *= p
    p *= p
    p *= p
    p *= p
    p *= p
    p *= p
    return p


@njit(cache=True, nogil=True, inline="always")
def _deliver_block(g, slot, b, seg_first, seg_ptr, seg_rec, seg_w, seg_d, targets, weights, dsteps, ring):
    """The synapses of source g onto target block b, into the ring (slot: the step of the spike).

    The ring's length is a power of two, so the arrival slot is (slot + delay) & mask, and the
    indices are unsigned: no branch and no negative-index fix-up per synapse (25-30 % faster
    than a compare-and-subtract on the microcircuit's rows)."""
    mask = np.uint64(ring.shape[0] - 1)
    base = np.uint64(slot)
    per_w, per_d = weights.shape[0] > 0, dsteps.shape[0] > 0
    for s in range(seg_first[g], seg_first[g + 1]):
        rec = np.uint64(seg_rec[s])
        lo, hi = seg_ptr[s, b], seg_ptr[s, b + 1]
        if per_d:
            for e in range(lo, hi):
                t = (base + np.uint64(dsteps[e])) & mask
                ring[t, rec, np.uint32(targets[e])] += weights[e] if per_w else seg_w[s]
        else:
            row = ring[(base + np.uint64(seg_d[s])) & mask, rec]
            if per_w:
                for e in range(lo, hi):
                    row[np.uint32(targets[e])] += weights[e]
            else:
                w = seg_w[s]
                for e in range(lo, hi):
                    row[np.uint32(targets[e])] += w


@njit(cache=True, nogil=True, inline="always")
def _end_step(crossed, r, r_steps, g_e, g_i, dec_e, dec_i, in_e, in_i):
    """The end of a cell's step, common to both LIF kinds: its refractory count (restarted by a
    spike) and its exponential synapses decayed plus this step's arrivals. Scalars in and out:
    an inlined call that passes arrays keeps the loop around it from vectorising."""
    return (r_steps if crossed else max(r - 1, 0)), g_e * dec_e + in_e, g_i * dec_i + in_i


@njit(cache=True, nogil=True, error_model="numpy")
def _update_curr(p, r_steps, v, syn_e, syn_i, refr, arrive_e, arrive_i, spiked, one_row):
    """One step of a group's slice of IF_curr_exp cells, in NEST iaf_psc_exp's order (loops from 0
    over slices, so that no index can be negative and the loop vectorises). With `one_row` the ring
    has a single input row (arrive_i is arrive_e: see `shares_one_input_row`): all of it goes to
    syn_e, and syn_i stays 0."""
    f = v.dtype.type  # the state's float type: float32 state computes in float32 (float64: no change)
    v_rest, v_reset, v_thresh = f(p[V_REST]), f(p[V_RESET]), f(p[V_THRESH])
    p22, p21e, p21i, drive = f(p[P22]), f(p[P21E]), f(p[P21I]), f(p[P20] * p[I_OFF])
    dec_e, dec_i = f(p[DEC_E]), f(p[DEC_I])
    for i in range(v.shape[0]):
        r = refr[i]
        vi = v[i]
        integrated = v_rest + (vi - v_rest) * p22 + p21e * syn_e[i] + p21i * syn_i[i] + drive
        vi = vi if r > 0 else integrated
        crossed = vi >= v_thresh
        v[i] = v_reset if crossed else vi
        in_i = f(0.0) if one_row else arrive_i[i]
        refr[i], syn_e[i], syn_i[i] = _end_step(crossed, r, r_steps, syn_e[i], syn_i[i], dec_e, dec_i, arrive_e[i], in_i)
        spiked[i] = crossed
        arrive_e[i] = 0.0  # the slot's next use is L steps on
        arrive_i[i] = 0.0


def shares_one_input_row(kinds, rows) -> bool:
    """Whether the E and I arrivals of every cell can be summed into one ring row: all groups
    IF_curr_exp (CURR) with the same propagator and decay for both receptors (tau_syn_E ==
    tau_syn_I, as in the microcircuit), where iaf_psc_exp's two currents add up to one. Half the
    ring: its random writes bound the full-scale sim (docs/full-scale.md)."""
    return len(kinds) > 0 and all(
        k == CURR and r[P21E] == r[P21I] and r[DEC_E] == r[DEC_I] for k, r in zip(kinds, rows))


@njit(cache=True, nogil=True, error_model="numpy")
def _update_cond(p, r_steps, dt, v, syn_e, syn_i, refr, arrive_e, arrive_i, spiked):
    """One step of a group's slice of IF_cond_exp cells, in NEST iaf_cond_exp's order."""
    v_reset, v_thresh = p[V_RESET], p[V_THRESH]
    g_l, e_e, e_i = p[G_L], p[E_E], p[E_I]
    leak_drive = g_l * p[V_REST] + p[I_OFF]
    avg_e, avg_i, dec_e, dec_i = p[AVG_E], p[AVG_I], p[DEC_E], p[DEC_I]
    minus_dt_over_cm = -dt / p[CM]
    for i in range(v.shape[0]):
        ge = syn_e[i] * avg_e
        gi = syn_i[i] * avg_i
        gt = g_l + ge + gi
        vinf = (leak_drive + ge * e_e + gi * e_i) / gt
        vi = vinf + (v[i] - vinf) * exp_nonpos(minus_dt_over_cm * gt)
        r = refr[i]
        crossed = (r <= 0) & (vi >= v_thresh)
        v[i] = v_reset if (r > 0) | crossed else vi
        refr[i], syn_e[i], syn_i[i] = _end_step(crossed, r, r_steps, syn_e[i], syn_i[i], dec_e, dec_i, arrive_e[i], arrive_i[i])
        spiked[i] = crossed
        arrive_e[i] = 0.0  # the slot's next use is L steps on
        arrive_i[i] = 0.0


@njit(cache=True, nogil=True, error_model="numpy")
def _update_cond_euler(p, r_steps, dt, v, syn_e, syn_i, refr, arrive_e, arrive_i, spiked):
    """One step of a group's slice of IF_cond_exp cells by forward Euler (Brian2's method='euler'),
    in the same order as `_update_cond`; branch-free, so that the loop vectorises. In the state's
    float type (the option dtype=float32: twice the cells per vector instruction)."""
    f = v.dtype.type
    v_reset, v_thresh = f(p[V_RESET]), f(p[V_THRESH])
    g_l, e_e, e_i = f(p[G_L]), f(p[E_E]), f(p[E_I])
    leak_drive = f(p[G_L] * p[V_REST] + p[I_OFF])
    dec_e, dec_i = f(p[DEC_E]), f(p[DEC_I])
    dt_over_cm = f(dt / p[CM])
    for i in range(v.shape[0]):
        ge = syn_e[i]
        gi = syn_i[i]
        vi = v[i]
        vi = vi + dt_over_cm * (leak_drive + ge * e_e + gi * e_i - (g_l + ge + gi) * vi)
        r = refr[i]
        crossed = (r <= 0) & (vi >= v_thresh)
        v[i] = v_reset if (r > 0) | crossed else vi
        refr[i], syn_e[i], syn_i[i] = _end_step(crossed, r, r_steps, ge, gi, dec_e, dec_i, arrive_e[i], arrive_i[i])
        spiked[i] = crossed
        arrive_e[i] = 0.0
        arrive_i[i] = 0.0


# Cells looked at together when listing a step's spikes (see `_list_spikes`).
_SCAN_CHUNK = 64


@njit(cache=True, nogil=True, inline="always")
def _list_spikes(spiked, first, out):
    """Write first + i for every i with spiked[i], in order, into out; return their count.

    Few cells spike in a step: each chunk of cells is first tested as a whole, with a
    branch-free OR that vectorises, and searched cell by cell only when one of them spiked."""
    c = 0
    n = spiked.shape[0]
    for s in range(0, n, _SCAN_CHUNK):
        chunk = spiked[s:min(s + _SCAN_CHUNK, n)]
        hit = False
        for j in range(chunk.shape[0]):
            hit |= chunk[j]
        if hit:
            for j in range(chunk.shape[0]):
                if chunk[j]:
                    out[c] = first + s + j
                    c += 1
    return c


@njit(cache=True, nogil=True)
def _block_steps(b, k0, k1, dt, block_lo, grp_lo, grp_hi, grp_kind, prm, grp_refr, v, syn_e, syn_i, refr, aux,
                 seg_first, seg_ptr, seg_rec, seg_w, seg_d, targets, weights, dsteps, ring,
                 pending, pend_ptr, n_pend_steps, spiked, blk_spk, blk_cnt, rec_ids, v_rec):
    """Steps k0 to k1 - 1 (at most the shortest delay) for the cells of block b: deliver the
    spikes of the steps before k0 still pending onto them (those of step k0 - n_pend_steps + j are
    pending[pend_ptr[j]:pend_ptr[j + 1]]; delays >= k1 - k0 steps: they land in slot k0 or later),
    then update them step by step, reading slot k, listing those that spiked and recording v.
    Each ring slot receives its inputs in the same order as with serial, step-by-step delivery,
    whatever the number of blocks or the steps per call."""
    ring_len = ring.shape[0]
    for j in range(n_pend_steps):
        spike_slot = (k0 - n_pend_steps + j) % ring_len
        for q in range(pend_ptr[j], pend_ptr[j + 1]):
            _deliver_block(pending[q], spike_slot, b, seg_first, seg_ptr, seg_rec, seg_w, seg_d, targets, weights, dsteps, ring)
    b_lo, b_hi = block_lo[b], block_lo[b + 1]
    for k in range(k0, k1):
        slot = k % ring_len
        for g in range(grp_lo.shape[0]):
            lo, hi = max(grp_lo[g], b_lo), min(grp_hi[g], b_hi)
            if lo >= hi:
                continue
            kind = grp_kind[g]
            if kind == CURR:
                one_row = ring.shape[1] == 1  # else row 1 is I's (a GLIF network has more rows: its ports)
                _update_curr(prm[g], grp_refr[g], v[lo:hi], syn_e[lo:hi], syn_i[lo:hi], refr[lo:hi],
                             ring[slot, 0, lo:hi], ring[slot, 0 if one_row else 1, lo:hi], spiked[lo:hi], one_row)
            elif kind == COND:
                _update_cond(prm[g], grp_refr[g], dt, v[lo:hi], syn_e[lo:hi], syn_i[lo:hi], refr[lo:hi],
                             ring[slot, 0, lo:hi], ring[slot, 1, lo:hi], spiked[lo:hi])
            elif kind == COND_EULER:
                _update_cond_euler(prm[g], grp_refr[g], dt, v[lo:hi], syn_e[lo:hi], syn_i[lo:hi], refr[lo:hi],
                                   ring[slot, 0, lo:hi], ring[slot, 1, lo:hi], spiked[lo:hi])
            elif kind == numba_cells.GLIF:  # one input row per receptor port
                numba_cells.update_glif(prm[g], grp_refr[g], v[lo:hi], aux[lo:hi], refr[lo:hi], ring[slot, :, lo:hi], spiked[lo:hi])
            else:
                numba_cells.update_group(kind, prm[g], grp_refr[g], dt, v[lo:hi], syn_e[lo:hi], syn_i[lo:hi], aux[lo:hi],
                                         refr[lo:hi], ring[slot, 0, lo:hi], ring[slot, 1, lo:hi], spiked[lo:hi])
        blk_cnt[k - k0, b] = _list_spikes(spiked[b_lo:b_hi], b_lo, blk_spk[k - k0, b])
        for r in range(rec_ids.shape[0]):
            if b_lo <= rec_ids[r] < b_hi:
                v_rec[k, r] = v[rec_ids[r]]


@njit(cache=True, parallel=True, nogil=True)
def _steps_parallel(k0, k1, dt, block_lo, grp_lo, grp_hi, grp_kind, prm, grp_refr, v, syn_e, syn_i, refr, aux,
                    seg_first, seg_ptr, seg_rec, seg_w, seg_d, targets, weights, dsteps, ring,
                    pending, pend_ptr, n_pend_steps, spiked, blk_spk, blk_cnt, rec_ids, v_rec):
    """Steps k0 to k1 - 1 as one parallel region: thread b owns the cells of block b (no atomics)."""
    for b in prange(block_lo.shape[0] - 1):
        _block_steps(b, k0, k1, dt, block_lo, grp_lo, grp_hi, grp_kind, prm, grp_refr, v, syn_e, syn_i, refr, aux,
                     seg_first, seg_ptr, seg_rec, seg_w, seg_d, targets, weights, dsteps, ring,
                     pending, pend_ptr, n_pend_steps, spiked, blk_spk, blk_cnt, rec_ids, v_rec)


@njit(cache=True, nogil=True)
def _gather(k, e, n_blocks, blk_spk, blk_cnt, src_ptr, src_ids, pending, n_pending, pend_ptr, spk_ids, spk_steps, n_spk):
    """After the run of steps k to e - 1: its spikes, per step cells in index order then sources,
    become the next run's `pending`, and the cells' are appended to the recorded spikes."""
    m = n_spk[0]
    q = 0
    for j in range(e - k):
        pend_ptr[j] = q
        for b in range(n_blocks):
            for c in range(blk_cnt[j, b]):
                i = blk_spk[j, b, c]
                spk_ids[m] = i
                spk_steps[m] = k + j + 1
                m += 1
                pending[q] = i
                q += 1
        for s in range(src_ptr[k + j], src_ptr[k + j + 1]):
            pending[q] = src_ids[s]
            q += 1
    pend_ptr[e - k] = q
    n_pending[0] = q
    n_pending[1] = e - k
    n_spk[0] = m


@njit(cache=True, parallel=True, nogil=True)
def _advance_parallel(k0, k1, dt, block_lo, grp_lo, grp_hi, grp_kind, prm, grp_refr, v, syn_e, syn_i, refr, aux,
                      seg_first, seg_ptr, seg_rec, seg_w, seg_d, targets, weights, dsteps, ring,
                      src_ptr, src_ids, pending, n_pending, pend_ptr, spiked, blk_spk, blk_cnt, spk_ids, spk_steps, n_spk,
                      rec_ids, v_rec, sync, reached):
    """Runs of steps from k0 (the first run known to fit in the spike buffer) towards k1 as one
    parallel region, thread b owning the cells of block b (no atomics on the state): after each
    run the threads meet, the last to arrive gathers the run's spikes (and stops the loop at k1
    or when the next run might not fit), and they meet again before the next run."""
    n_blocks = block_lo.shape[0] - 1
    n = v.shape[0]
    cap = spk_ids.shape[0]
    run = blk_cnt.shape[0]
    for b in prange(n_blocks):
        k = k0
        while True:
            e = min(k1, k + run)
            # n_pending (and n_spk below) change at every run, in the leader's gather: read anew,
            # atomically (numba hoisted a plain read out of the loop: it sees no write to it here)
            _block_steps(b, k, e, dt, block_lo, grp_lo, grp_hi, grp_kind, prm, grp_refr, v, syn_e, syn_i, refr, aux,
                         seg_first, seg_ptr, seg_rec, seg_w, seg_d, targets, weights, dsteps, ring,
                         pending, pend_ptr, numba_sync.atomic_load(n_pending, 1), spiked, blk_spk, blk_cnt, rec_ids, v_rec)
            if numba_sync.barrier(sync, n_blocks):
                _gather(k, e, n_blocks, blk_spk, blk_cnt, src_ptr, src_ids, pending, n_pending, pend_ptr, spk_ids, spk_steps,
                        n_spk)
                reached[0] = e
                if e >= k1 or numba_sync.atomic_load(n_spk, 0) + (min(k1, e + run) - e) * n > cap:
                    sync[numba_sync.STOP] = 1
            numba_sync.barrier(sync, n_blocks)
            if numba_sync.atomic_load(sync, numba_sync.STOP) != 0:
                break
            k = e


@njit(cache=True, nogil=True)
def advance(k0, k1, dt, block_lo, grp_lo, grp_hi, grp_kind, prm, grp_refr, v, syn_e, syn_i, refr, aux,
            seg_first, seg_ptr, seg_rec, seg_w, seg_d, targets, weights, dsteps, ring,
            src_ptr, src_ids, pending, n_pending, pend_ptr, spiked, blk_spk, blk_cnt, spk_ids, spk_steps, n_spk,
            rec_ids, v_rec, region_threads):
    """Advance from step k0 to k1; return the step reached (< k1 when the spike buffer needs room).

    Group g (a population) holds cells grp_lo[g]:grp_hi[g], of kind grp_kind[g] (CURR, COND,
    COND_EULER or one of numba_cells' kinds), with parameters prm[g] (and aux state, for numba_cells' kinds). ring[slot, receptor, cell] holds the input arriving at the end of
    step `slot` (mod its length). Steps go in runs of at most blk_cnt.shape[0] (the shortest delay,
    in steps): a spike lands a delay or more after its step, so the spikes of one run are
    delivered at the start of the next, and the threads meet once per run, not once per step.
    `pending[:n_pending[0]]` carries the spikes of the last n_pending[1] steps (those of the j-th at
    pend_ptr[j]:pend_ptr[j + 1], cells in index order, then sources) from one run, and one call,
    to the next.

    With several blocks, at most `region_threads` (numba's threads, when its threading layer runs
    each thread's iteration on a thread of its own: not TBB, which may run two in turn; else 0),
    the whole call is one parallel region whose threads meet at `numba_sync.barrier`; otherwise
    each run is a parallel region.
    """
    n = v.shape[0]
    cap = spk_ids.shape[0]
    n_blocks = block_lo.shape[0] - 1
    run = blk_cnt.shape[0]
    if k0 >= k1 or n_spk[0] + (min(k1, k0 + run) - k0) * n > cap:
        return k0
    if 1 < n_blocks <= region_threads:
        sync = np.zeros(numba_sync.N_WORDS, np.int64)
        reached = np.zeros(1, np.int64)
        _advance_parallel(k0, k1, dt, block_lo, grp_lo, grp_hi, grp_kind, prm, grp_refr, v, syn_e, syn_i, refr, aux,
                          seg_first, seg_ptr, seg_rec, seg_w, seg_d, targets, weights, dsteps, ring,
                          src_ptr, src_ids, pending, n_pending, pend_ptr, spiked, blk_spk, blk_cnt, spk_ids, spk_steps, n_spk,
                          rec_ids, v_rec, sync, reached)
        return reached[0]
    k = k0
    while k < k1:
        e = min(k1, k + run)
        if n_spk[0] + (e - k) * n > cap:
            return k
        if n_blocks == 1:  # one thread: no parallel region at all
            _block_steps(0, k, e, dt, block_lo, grp_lo, grp_hi, grp_kind, prm, grp_refr, v, syn_e, syn_i, refr, aux,
                         seg_first, seg_ptr, seg_rec, seg_w, seg_d, targets, weights, dsteps, ring,
                         pending, pend_ptr, n_pending[1], spiked, blk_spk, blk_cnt, rec_ids, v_rec)
        else:
            _steps_parallel(k, e, dt, block_lo, grp_lo, grp_hi, grp_kind, prm, grp_refr, v, syn_e, syn_i, refr, aux,
                            seg_first, seg_ptr, seg_rec, seg_w, seg_d, targets, weights, dsteps, ring,
                            pending, pend_ptr, n_pending[1], spiked, blk_spk, blk_cnt, rec_ids, v_rec)
        _gather(k, e, n_blocks, blk_spk, blk_cnt, src_ptr, src_ids, pending, n_pending, pend_ptr, spk_ids, spk_steps, n_spk)
        k = e
    return k1


def warm_up(resolved=None, state_dtype=np.float64) -> dict:
    """Compile the kernels (or load them from numba's cache) on a tiny network, with native
    mode's float32 weights and state of `state_dtype`, and the drawing kernels `resolved` needs;
    report the cache state. Exact mode's float64 variant is loaded (or compiled) when the build
    first calls it."""
    from . import numba_connect

    prm = np.stack([group_parameters(1.0, 20.0, 5.0, 5.0, -65.0, -65.0, -50.0, 0.0, 0.0, -70.0, 0.1)] * 2)
    i64 = lambda *shape: np.zeros(shape, dtype=np.int64)  # noqa: E731
    for w_dtype in (np.float32,):
        advance(
            0, 1, 0.1, np.array([0, 2], dtype=np.int64), np.array([0, 1], dtype=np.int64), np.array([1, 2], dtype=np.int64),
            np.array([CURR, COND], dtype=np.int8), prm, i64(2),
            np.zeros(2, state_dtype), np.zeros(2, state_dtype), np.zeros(2, state_dtype), i64(2), np.zeros((2, numba_cells.N_AUX)),
            i64(3), i64(0, 2), np.zeros(0, dtype=np.int8), np.zeros(0), i64(0), np.zeros(0, dtype=np.int32),
            np.zeros(0, dtype=w_dtype), np.zeros(0, dtype=np.int16), np.zeros((2, 2, 2), dtype=w_dtype),
            i64(2), i64(0), i64(2), i64(2), i64(2), np.zeros(2, dtype=np.bool_), i64(1, 1, 2), i64(1, 1),
            i64(8), i64(8), i64(1), i64(0), np.zeros((1, 0)), 0,
        )
    functions = [advance] + numba_connect.warm_up(resolved)
    hits = sum(sum(f.stats.cache_hits.values()) for f in functions)
    misses = sum(sum(f.stats.cache_misses.values()) for f in functions)
    return {"compile_cache": "warm" if hits and not misses else "cold", "numba_cache_hits": int(hits),
            "numba_cache_misses": int(misses)}
