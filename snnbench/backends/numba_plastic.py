"""The numba simulator's plastic synapses: NEST's STDP algorithm, per synapse, at spike delivery.

Plastic projections are kept apart from the static layout (`numba_connect`), in arrays sorted by
presynaptic cell, with float64 weights; the static path is untouched. After each step k:

  * every cell that spiked and receives plastic synapses appends its spike (stamp k + 1) and its
    post trace K- (decayed exactly from its last spike, + 1) to a per-cell history of the last
    HISTORY spikes;
  * every spike of step k (cells and sources, stamp s = k + 1) updates each of its plastic
    synapses as NEST's stdp_synapse does when it sends a spike: the potentiations by the post
    spikes the synapse has seen since its last pre spike (a post spike at tp is seen at tp + d,
    the whole delay dendritic: tp in (t_last - d, s - d], each by K+ decayed to tp + d), then the
    depression by the post trace K- at s - d (spikes strictly before), then K+ <- K+ decayed + 1;
    the new weight goes into the ring buffer at slot k + d, where the static delivery of the same
    spike would put it.

Times are integer steps, so "seen together" is exact. Rules (`RULE_KINDS`), weights in PyNN units:
    additive       up: min(w + w_max A+ K, w_max)               down: max(w - w_max A- K, w_min)
    multiplicative up: min(w + (w_max - w) A+ K, w_max)         down: max(w - (w - w_min) A- K, w_min)
    add. pot., mult. dep.: additive up, multiplicative down
    power law      up: w + lambda u^(mu - 1) w^mu K (u = 1000, 1 onto mV weights)          down: max(w - lambda alpha w K, 0)
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

RULE_KINDS = {"AdditiveWeightDependence": 0, "MultiplicativeWeightDependence": 1,
              "AdditivePotentiationMultiplicativeDepression": 2, "stdp_pl_synapse_hom": 3}
# Columns of the per-projection rule table.
A_PLUS, A_MINUS, W_MIN, W_MAX, TAU_PLUS, LAMBDA, ALPHA, MU, KIND, NEST_UNIT = range(10)
N_RULE = 10
# Post spikes kept per cell: a synapse whose pre cell stays silent while its post cell fires more
# often than this needs older ones; the run then stops with that reason (HistoryOverflow).
HISTORY = 256


class HistoryOverflow(RuntimeError):
    """A plastic synapse needed a post spike older than the per-cell history holds."""


def rule_row(synapse, nest_unit: float = 1000.0) -> np.ndarray:
    """One row of the rule table for a projection's plastic synapse (scenario model); `nest_unit`:
    NEST's weight unit per PyNN's (1000: pA or nS; 1: mV, the voltage-step cells)."""
    row = np.zeros(N_RULE)
    row[KIND] = RULE_KINDS[synapse.rule]
    row[NEST_UNIT] = nest_unit
    if synapse.rule == "stdp_pl_synapse_hom":
        row[TAU_PLUS], row[LAMBDA], row[ALPHA], row[MU] = synapse.tau_plus, synapse.lambda_, synapse.alpha, synapse.mu
        row[W_MIN], row[W_MAX] = 0.0, math.inf
    else:
        td, wd = synapse.timing_dependence, synapse.weight_dependence
        row[A_PLUS], row[A_MINUS], row[TAU_PLUS] = td.A_plus, td.A_minus, td.tau_plus
        row[W_MIN], row[W_MAX] = wd.w_min, wd.w_max
    return row


@njit(cache=True, nogil=True)
def _potentiate(w, k, r):
    kind = int(r[KIND])
    if kind == 3:
        return w + r[LAMBDA] * r[NEST_UNIT] ** (r[MU] - 1.0) * w ** r[MU] * k  # NEST reads w^mu in its unit (pA, nS, mV)
    up = (r[W_MAX] - w) if kind == 1 else r[W_MAX]
    return min(w + up * r[A_PLUS] * k, r[W_MAX])


@njit(cache=True, nogil=True)
def _depress(w, k, r):
    kind = int(r[KIND])
    if kind == 3:
        return max(w - r[LAMBDA] * r[ALPHA] * w * k, 0.0)
    down = r[W_MAX] if kind == 0 else (w - r[W_MIN])
    return max(w - down * r[A_MINUS] * k, r[W_MIN])


@njit(cache=True, nogil=True)
def after_step(k, dt, n_cells, pending, n_pending, tau_minus, hist_steps, hist_k, hist_n,
               first, post, receptor, weight, delay, proj, rules, k_plus, t_last, ring):
    """The plastic part of step k (see the module's docstring); returns False on a history overflow."""
    s = k + 1
    size = hist_steps.shape[1]
    mask = ring.shape[0] - 1
    for q in range(n_pending):  # post spikes first: a pre spike reads only post spikes >= 1 step older
        c = pending[q]
        if c >= n_cells or tau_minus[c] <= 0.0:
            continue
        n = hist_n[c]
        trace = 0.0
        if n > 0:
            last = (n - 1) % size
            trace = hist_k[c, last] * math.exp(-(s - hist_steps[c, last]) * dt / tau_minus[c])
        hist_steps[c, n % size] = s
        hist_k[c, n % size] = trace + 1.0
        hist_n[c] = n + 1
    for q in range(n_pending):
        g = pending[q]
        for e in range(first[g], first[g + 1]):
            j, d, r = post[e], delay[e], rules[proj[e]]
            tau_plus = r[TAU_PLUS]
            n = hist_n[j]
            lo = max(0, n - size)
            i = n - 1
            while i >= lo and hist_steps[j, i % size] > t_last[e] - d:
                i -= 1
            if i < lo and lo > 0:
                return False
            w = weight[e]
            for m in range(i + 1, n):
                tp = hist_steps[j, m % size]
                if tp > s - d:
                    break
                w = _potentiate(w, k_plus[e] * math.exp((t_last[e] - (tp + d)) * dt / tau_plus), r)
            i = n - 1
            while i >= lo and hist_steps[j, i % size] >= s - d:
                i -= 1
            if i >= lo:
                w = _depress(w, hist_k[j, i % size] * math.exp(-(s - d - hist_steps[j, i % size]) * dt / tau_minus[j]), r)
            elif lo > 0:
                return False
            weight[e] = w
            ring[(k + d) & mask, receptor[e], j] += w
            k_plus[e] = k_plus[e] * math.exp((t_last[e] - s) * dt / tau_plus) + 1.0
            t_last[e] = s
    return True


def warm_up() -> None:
    """Compile `after_step` (or load it from numba's cache) for both ring types (native: float32)."""
    i64 = lambda *shape: np.zeros(shape, dtype=np.int64)  # noqa: E731
    for ring_type in (np.float32, np.float64):
        after_step(0, 0.1, 1, i64(1), 0, np.zeros(1), i64(1, HISTORY), np.zeros((1, HISTORY)), i64(1),
                   i64(2), i64(0), i64(0), np.zeros(0), i64(0), i64(0), np.zeros((1, N_RULE)), np.zeros(0), i64(0),
                   np.zeros((2, 2, 1), dtype=ring_type))
