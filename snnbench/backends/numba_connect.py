"""The numba simulator's synapse layout, and its native connectivity drawn straight into it.

Layout (one `SynapseLayout` for the whole network). Cells are split into `n_blocks`
contiguous *target blocks*, one per thread: a thread updates and receives input only for the
cells of its block, so spike delivery needs no atomics. The synapses of one presynaptic cell
(a row) are stored contiguously, one *segment* per outgoing projection (scenario order), and
each segment is split by target block:

    seg_first[g] : seg_first[g + 1]      segments of global source g (cells, then sources)
    seg_ptr[s, b] : seg_ptr[s, b + 1]    synapses of segment s onto block b
    seg_rec[s], seg_w[s], seg_d[s]       receptor (0 exc, 1 inh, port k - 1), and the weight and delay (steps)
                                         of segment s when they are constant over the whole network
    targets[e]                           int32 global index of the target cell
    weights[e], dsteps[e]                per synapse, only when some projection's weights (delays)
                                         vary; else empty and seg_w / seg_d hold them

So a synapse costs 4 bytes (int32 target) when weights and delays are constant per projection
(the VA benchmarks), 10 bytes with float32 weights and int16 delays (the microcircuit: normal
weights and delays). Grouping rows by delay instead of storing int16 delays would need one
segment per (row, delay value): with the microcircuit's ~60 delay values, as many bytes of
offsets as it saves, so delays that vary are stored per synapse.

One function assembles the layout (`network_layout`): the adapter template decides, projection
by projection, whether numba draws it (`why_not_native` says why not) or the harness's arrays are
placed; in exact mode every projection is placed.

Native connectivity: each projection is drawn in parallel compiled code, row
by row (presynaptic cell), one random stream per fixed chunk of rows keyed by (seed, projection,
what is drawn, chunk): the result depends on the seed only, not on the number of threads. First
the number of synapses per row (fixed_total_number with replacement: multinomial, as
sequential binomials from numba's generator; fixed_probability: binomial per row;
fixed_in_degree: counted from the per-target draws), then the targets of each row (sorted by
target, which also orders them by block), then weights and delays per synapse in that order;
targets and values come from a counter-based generator (splitmix64, below). Weights are
float32 (a relative rounding of 6e-8, recorded). Connectors without a native draw here
(gaussian_in_degree, from_list, fixed_total_number without replacement, distance-dependent
delays) are realised by the harness for that projection only and placed into the same layout
(recorded).

The harness's arrays (exact mode: float64 weights) are placed keeping for every target the order
in which its synapses are summed: same raster as a plain CSR with serial delivery.
"""

from __future__ import annotations

import math
import zlib
from dataclasses import dataclass, field

import numpy as np
from numba import njit, prange

from ..scenario.model import DistanceDelay, Normal, NormalClipped, Uniform, receptor_index
from ..scenario.realise import ProjectionArrays

# Rows per random stream: fixed, so that a draw does not depend on the number of threads.
CHUNK_ROWS = 256
# Largest delay in steps an int16 holds.
MAX_DELAY_STEPS = 32767

# Connector codes of the row kernels.
TOTAL_REPL, PROBABILITY, ONE_TO_ONE, ALL_TO_ALL, IN_DEGREE = 1, 3, 4, 5, 6
# Distribution codes: dist = [code, a, b, low, high].
CONST, UNIFORM, NORMAL, CLIPPED = 0, 1, 2, 3


@dataclass
class SynapseLayout:
    block_lo: np.ndarray  # int64 [n_blocks + 1]: cells of block b are block_lo[b]:block_lo[b+1]
    seg_first: np.ndarray  # int64 [n_total + 1]
    seg_ptr: np.ndarray  # int64 [n_seg, n_blocks + 1]
    seg_rec: np.ndarray  # int8 [n_seg]
    seg_w: np.ndarray  # float64 [n_seg]
    seg_d: np.ndarray  # int64 [n_seg]
    targets: np.ndarray  # int32 [n_syn]
    weights: np.ndarray  # float32 (native) or float64 (exact) [n_syn], or empty
    dsteps: np.ndarray  # int16 [n_syn], or empty
    seg_proj: np.ndarray  # int32 [n_seg]: the projection (index into `labels`) of each segment
    labels: list[str] = field(default_factory=list)  # projection labels, scenario order
    synapses: dict[str, int] = field(default_factory=dict)  # per projection label

    @property
    def n_blocks(self) -> int:
        return self.block_lo.size - 1

    @property
    def n_synapses(self) -> int:
        return int(self.targets.size)

    @property
    def nbytes(self) -> int:
        return sum(a.nbytes for a in (self.block_lo, self.seg_first, self.seg_ptr, self.seg_rec, self.seg_w,
                                      self.seg_d, self.targets, self.weights, self.dsteps, self.seg_proj))

    def scale_weights(self, receptor: int, factor: float) -> None:
        """Multiply the weights of every synapse onto `receptor` (0 exc, 1 inh) by `factor`."""
        chosen = np.nonzero(self.seg_rec == receptor)[0]
        if self.weights.size:
            for s in chosen:
                self.weights[self.seg_ptr[s, 0]:self.seg_ptr[s, -1]] *= factor
        self.seg_w[chosen] *= factor

    @property
    def max_delay_steps(self) -> int:
        if self.dsteps.size:
            return int(self.dsteps.max())
        return int(self.seg_d.max()) if self.seg_d.size else 1

    @property
    def min_delay_steps(self) -> int | None:
        """The shortest delay, in steps (None without synapses)."""
        if self.dsteps.size:
            return int(self.dsteps.min())
        return int(self.seg_d.min()) if self.seg_d.size else None


def stream_seed(seed: int, label: str, what: str) -> int:
    """The base seed (uint32) of one projection's stream family; chunk c uses base + c * a large odd number."""
    return zlib.crc32(f"{int(seed)}/{label}/{what}".encode())


@njit(cache=True, nogil=True, inline="always")
def _chunk_seed(base, chunk):
    return (base + chunk * 2654435761 + 1) & 0xFFFFFFFF


# A counter-based generator (splitmix64: the k-th number of a stream is a bijective hash of
# key + k * golden ratio), cheap enough to draw 10^8 values per second per thread; numba's own
# Mersenne Twister and Box-Muller cost 3-4x more per synapse at full scale.
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1, _M2 = np.uint64(0xBF58476D1CE4E5B9), np.uint64(0x94D049BB133111EB)
_S30, _S27, _S31, _S11 = np.uint64(30), np.uint64(27), np.uint64(31), np.uint64(11)


@njit(cache=True, nogil=True, inline="always")
def _new_stream(base, chunk):
    """State of the stream of one chunk: [counter, has a spare normal, spare normal's bits]."""
    st = np.zeros(3, np.uint64)
    st[0] = np.uint64(base) * _GOLDEN + np.uint64(chunk) * _M1 + np.uint64(1)
    return st


@njit(cache=True, nogil=True, inline="always")
def _next(st):
    st[0] += _GOLDEN
    z = st[0]
    z = (z ^ (z >> _S30)) * _M1
    z = (z ^ (z >> _S27)) * _M2
    return z ^ (z >> _S31)


@njit(cache=True, nogil=True, inline="always")
def _uniform(st):
    """Uniform on [0, 1), 53 bits."""
    return np.float64(_next(st) >> _S11) * 1.1102230246251565e-16


@njit(cache=True, nogil=True, inline="always")
def _below(st, m):
    """Uniform integer in [0, m) (m < 2**31: the bias of the 53-bit product is below 1e-6)."""
    return np.int64(_uniform(st) * m)


@njit(cache=True, nogil=True, inline="always")
def _exponential(st):
    return -math.log(1.0 - _uniform(st))


@njit(cache=True, nogil=True, inline="always")
def _normal(st, spare):
    """Standard normal, Marsaglia's polar method (two per accepted pair; the second is kept)."""
    if spare[0] != 0.0:
        spare[0] = 0.0
        return spare[1]
    while True:
        x = 2.0 * _uniform(st) - 1.0
        y = 2.0 * _uniform(st) - 1.0
        r = x * x + y * y
        if 0.0 < r < 1.0:
            f = math.sqrt(-2.0 * math.log(r) / r)
            spare[0] = 1.0
            spare[1] = y * f
            return x * f


def distribution_code(value) -> np.ndarray:
    """[code, a, b, low, high] of a constant or a distribution the native draw supports."""
    if isinstance(value, (int, float)):
        return np.array([CONST, float(value), 0.0, -math.inf, math.inf])
    if isinstance(value, Uniform):
        return np.array([UNIFORM, value.low, value.high, -math.inf, math.inf])
    if isinstance(value, Normal):
        return np.array([NORMAL, value.mu, value.sigma, -math.inf, math.inf])
    if isinstance(value, NormalClipped):
        return np.array([CLIPPED, value.mu, value.sigma, value.low, value.high])
    raise TypeError(f"no native draw for {value!r}")


@njit(cache=True, nogil=True, inline="always")
def _sample(dist, st, spare):
    code = dist[0]
    if code == CONST:
        return dist[1]
    if code == UNIFORM:
        return dist[1] + (dist[2] - dist[1]) * _uniform(st)
    x = dist[1] + dist[2] * _normal(st, spare)
    if code == CLIPPED:
        while x < dist[3] or x > dist[4]:  # redraw, as PyNN's normal_clipped and the harness do
            x = dist[1] + dist[2] * _normal(st, spare)
    return x


# ------------------------------------------------------------------------------- row counts


@njit(cache=True, nogil=True)
def counts_total_number(n_pre, n_post, n, no_self, base):
    """Synapses per row of fixed_total_number with replacement: n pairs drawn uniformly over the
    allowed pairs, i.e. multinomial row counts, drawn as sequential binomials (one stream)."""
    np.random.seed(_chunk_seed(base, 0))
    out = np.zeros(n_pre, np.int64)
    cand = np.empty(n_pre, np.int64)
    left_pairs = 0
    for i in range(n_pre):
        cand[i] = n_post - 1 if (no_self and i < n_post) else n_post
        left_pairs += cand[i]
    remaining = n
    for i in range(n_pre):
        if remaining == 0:
            break
        left_pairs -= cand[i]
        k = remaining if left_pairs == 0 else np.random.binomial(remaining, cand[i] / (cand[i] + left_pairs))
        out[i] = k
        remaining -= k
    return out


@njit(cache=True, parallel=True, nogil=True)
def counts_probability(n_pre, n_post, p, no_self, base):
    """Synapses per row of fixed_probability: Binomial(candidates, p), one stream per chunk."""
    out = np.zeros(n_pre, np.int64)
    n_chunks = (n_pre + CHUNK_ROWS - 1) // CHUNK_ROWS
    for c in prange(n_chunks):
        np.random.seed(_chunk_seed(base, c))
        for i in range(c * CHUNK_ROWS, min(n_pre, (c + 1) * CHUNK_ROWS)):
            m = n_post - 1 if (no_self and i < n_post) else n_post
            out[i] = np.random.binomial(m, p) if m > 0 else 0
    return out


# -------------------------------------------------------------------------------- row targets


@njit(cache=True, nogil=True)
def _set_block_ptr(seg_ptr, s, start, row, block_lo):
    """seg_ptr[s, :] from a row sorted by global target."""
    n_blocks = block_lo.shape[0] - 1
    seg_ptr[s, 0] = start
    seg_ptr[s, n_blocks] = start + row.shape[0]
    for b in range(1, n_blocks):
        seg_ptr[s, b] = start + np.searchsorted(row, block_lo[b])


@njit(cache=True, parallel=True, nogil=True)
def fill_rows(kind, n_pre, n_post, post_off, no_self, counts, row_start, seg_ids, base, block_lo, targets, seg_ptr):
    """The targets of every row (global, int32, sorted), and the row's split by block."""
    n_chunks = (n_pre + CHUNK_ROWS - 1) // CHUNK_ROWS
    for c in prange(n_chunks):
        st = _new_stream(base, c)
        lo, hi = c * CHUNK_ROWS, min(n_pre, (c + 1) * CHUNK_ROWS)
        kmax = 0
        for i in range(lo, hi):
            kmax = max(kmax, counts[i])
        picked = np.zeros(n_post if kind == PROBABILITY else 0, np.bool_)
        row = np.empty(kmax, np.int64)
        cum = np.empty(kmax if kind == TOTAL_REPL else 0)
        for i in range(lo, hi):
            k = counts[i]
            skip = no_self and i < n_post  # the candidate i is left out
            m = n_post - 1 if skip else n_post
            if kind == TOTAL_REPL:
                # k iid uniform targets, drawn already sorted: the order statistics of k uniforms
                # are the normalised partial sums of k + 1 exponential spacings
                acc = 0.0
                for j in range(k):
                    acc += _exponential(st)
                    cum[j] = acc
                scale = m / (acc + _exponential(st))
                for j in range(k):
                    t = min(np.int64(cum[j] * scale), m - 1)
                    row[j] = t + 1 if (skip and t >= i) else t
            elif kind == PROBABILITY:
                _distinct(st, m, k, picked, row, skip, i)
                row[:k].sort()
            elif kind == ALL_TO_ALL:
                for j in range(k):
                    row[j] = j + 1 if (skip and j >= i) else j
            elif k > 0:  # ONE_TO_ONE
                row[0] = i
            start = row_start[i]
            for j in range(k):
                targets[start + j] = row[j] + post_off
            _set_block_ptr(seg_ptr, seg_ids[i], start, targets[start:start + k], block_lo)


@njit(cache=True, nogil=True, inline="always")
def _distinct(st, m, k, picked, out, skip, self_index):
    """Floyd's algorithm: k distinct candidates of m, uniformly, into out[:k]; with `skip`, the
    candidates at or above `self_index` move up by one (no self connection). `picked` is scratch
    of at least m entries, all False, and is left so."""
    for j in range(k):
        jj = m - k + j
        t = _below(st, jj + 1)
        if picked[t]:
            t = jj
        picked[t] = True
        out[j] = t
    for j in range(k):
        picked[out[j]] = False
        if skip and out[j] >= self_index:
            out[j] += 1


@njit(cache=True, parallel=True, nogil=True)
def draw_in_degree(n_pre, n_post, k, no_self, with_replacement, base):
    """fixed_in_degree: k sources per target (target-major, int32), one stream per chunk of targets."""
    pre = np.empty(n_post * k, np.int32)
    n_chunks = (n_post + CHUNK_ROWS - 1) // CHUNK_ROWS
    for c in prange(n_chunks):
        st = _new_stream(base, c)
        picked = np.zeros(0 if with_replacement else n_pre, np.bool_)
        for t in range(c * CHUNK_ROWS, min(n_post, (c + 1) * CHUNK_ROWS)):
            skip = no_self and t < n_pre
            m = n_pre - 1 if skip else n_pre
            out = pre[t * k:(t + 1) * k]
            if with_replacement:
                for j in range(k):
                    s = _below(st, m)
                    out[j] = s + 1 if (skip and s >= t) else s
            else:
                _distinct(st, m, k, picked, out, skip, t)
    return pre


@njit(cache=True, nogil=True)
def place_target_major(pre, k, n_pre, post_off, row_start, seg_ids, block_lo, targets, seg_ptr):
    """Rows from a target-major draw (k sources per target): each row sorted by target."""
    cursor = row_start[:n_pre].copy()
    n_post = pre.shape[0] // k if k > 0 else 0
    for t in range(n_post):
        for j in range(k):
            s = pre[t * k + j]
            targets[cursor[s]] = post_off + t
            cursor[s] += 1
    for i in range(n_pre):
        _set_block_ptr(seg_ptr, seg_ids[i], row_start[i], targets[row_start[i]:cursor[i]], block_lo)


@njit(cache=True, parallel=True, nogil=True)
def fill_values(n_pre, counts, row_start, base, wdist, ddist, dt, weights, dsteps):
    """Weights and delays (steps of dt, at least 1) of every synapse, row by row in stored order.
    Returns (delays off the grid, largest change in ms)."""
    n_chunks = (n_pre + CHUNK_ROWS - 1) // CHUNK_ROWS
    off = np.zeros(n_chunks, np.int64)
    change = np.zeros(n_chunks)
    per_w, per_d = weights.shape[0] > 0, dsteps.shape[0] > 0
    tol = 1e-6 * max(dt, 1.0)
    for c in prange(n_chunks):
        st = _new_stream(base, c)
        spare = np.zeros(2)
        for i in range(c * CHUNK_ROWS, min(n_pre, (c + 1) * CHUNK_ROWS)):
            for e in range(row_start[i], row_start[i] + counts[i]):
                w = _sample(wdist, st, spare)
                d = _sample(ddist, st, spare)
                steps = max(1.0, np.rint(d / dt))
                miss = abs(steps * dt - d)
                if miss > tol:
                    off[c] += 1
                    change[c] = max(change[c], miss)
                if per_w:
                    weights[e] = w
                if per_d:
                    dsteps[e] = np.int16(steps)
    return off.sum(), change.max() if n_chunks else 0.0


@njit(cache=True, nogil=True)
def place_edges(pre, post_global, w, d, row_start, seg_ids, block_lo, targets, weights, dsteps, seg_ptr):
    """Place given edges (harness arrays) into their rows, split by block, keeping the edges'
    order within each (row, block): for every target the order of summation is unchanged."""
    n_blocks = block_lo.shape[0] - 1
    n_pre = seg_ids.shape[0]
    cnt = np.zeros((n_pre, n_blocks), np.int64)
    blk = np.empty(pre.shape[0], np.int64)
    for e in range(pre.shape[0]):
        b = np.searchsorted(block_lo, post_global[e], side="right") - 1
        blk[e] = b
        cnt[pre[e], b] += 1
    for i in range(n_pre):
        s = seg_ids[i]
        acc = row_start[i]
        for b in range(n_blocks):
            seg_ptr[s, b] = acc
            acc += cnt[i, b]
            cnt[i, b] = seg_ptr[s, b]  # now the cursor
        seg_ptr[s, n_blocks] = acc
    per_w, per_d = weights.shape[0] > 0, dsteps.shape[0] > 0
    for e in range(pre.shape[0]):
        pos = cnt[pre[e], blk[e]]
        cnt[pre[e], blk[e]] = pos + 1
        targets[pos] = post_global[e]
        if per_w:
            weights[pos] = w[e]
        if per_d:
            dsteps[pos] = d[e]


# ------------------------------------------------------------------------------- assembly


# Mean synapses per target cell, per connector type (for balancing the target blocks before the
# draw); a connector missing here is placed from the harness's arrays, whose real in-degree is used.
_EXPECTED_IN_DEGREE = {
    "fixed_total_number": lambda conn, n_pre, n_post: conn.n / max(n_post, 1),
    "fixed_probability": lambda conn, n_pre, n_post: conn.p * n_pre,
    "fixed_in_degree": lambda conn, n_pre, n_post: float(conn.n),
    "all_to_all": lambda conn, n_pre, n_post: float(n_pre),
    "one_to_one": lambda conn, n_pre, n_post: 1.0,
}


def target_blocks(n_cells: int, n_blocks: int, in_degree: np.ndarray) -> np.ndarray:
    """Boundaries of n_blocks contiguous blocks of cells with about equal work per step:
    one update per cell plus its incoming synapses at an assumed 10 Hz per source."""
    n_blocks = max(1, min(n_blocks, max(n_cells, 1)))
    work = np.cumsum(1.0 + in_degree * 10.0 * 1e-4)
    total = work[-1] if work.size else 0.0
    inner = np.searchsorted(work, total * np.arange(1, n_blocks) / n_blocks)
    return np.concatenate(([0], inner, [n_cells])).astype(np.int64)


class _Builder:
    """Assembles the segments of all projections, then fills them projection by projection."""

    def __init__(self, resolved, offsets: dict[str, int], n_total: int, n_cells: int, n_blocks: int,
                 in_degree: np.ndarray, projections: list):
        self.resolved, self.offsets, self.n_total = resolved, offsets, n_total
        self.block_lo = target_blocks(n_cells, n_blocks, in_degree)
        # Segments: population by population (global order), cell by cell, projection by projection.
        outgoing: dict[str, list] = {}
        for proj in projections:
            outgoing.setdefault(proj.pre, []).append(proj)
        self.seg_first = np.zeros(n_total + 1, np.int64)
        self.seg_base: dict[str, int] = {}
        base = 0
        for name, off in sorted(offsets.items(), key=lambda kv: kv[1]):
            size = resolved.populations[name].size
            fan = len(outgoing.get(name, []))
            self.seg_base[name] = base
            self.seg_first[off:off + size] = base + fan * np.arange(size)
            base += fan * size
        self.seg_first[n_total] = base
        self.n_seg = base
        self.outgoing = outgoing

    def seg_ids(self, proj) -> np.ndarray:
        fan = self.outgoing[proj.pre]
        pos = [p.label for p in fan].index(proj.label)
        size = self.resolved.populations[proj.pre].size
        return self.seg_base[proj.pre] + len(fan) * np.arange(size, dtype=np.int64) + pos

    def allocate(self, counts: dict[str, np.ndarray], per_w: bool, per_d: bool, w_dtype) -> None:
        seg_count = np.zeros(self.n_seg, np.int64)
        for proj in (p for fan in self.outgoing.values() for p in fan):
            seg_count[self.seg_ids(proj)] = counts[proj.label]
        self.seg_start = np.concatenate(([0], np.cumsum(seg_count))).astype(np.int64)
        n_syn = int(self.seg_start[-1])
        n_blocks = self.block_lo.size - 1
        self.seg_ptr = np.empty((self.n_seg, n_blocks + 1), np.int64)
        self.seg_rec = np.zeros(self.n_seg, np.int8)
        self.seg_w = np.zeros(self.n_seg)
        self.seg_d = np.ones(self.n_seg, np.int64)
        self.seg_proj = np.zeros(self.n_seg, np.int32)
        for j, proj in enumerate(self.resolved.projections):
            if proj.pre in self.outgoing:
                self.seg_proj[self.seg_ids(proj)] = j
        self.targets = np.empty(n_syn, np.int32)
        self.weights = np.empty(n_syn if per_w else 0, w_dtype)
        self.dsteps = np.empty(n_syn if per_d else 0, np.int16)

    def layout(self, synapses: dict[str, int]) -> SynapseLayout:
        return SynapseLayout(self.block_lo, self.seg_first, self.seg_ptr, self.seg_rec, self.seg_w, self.seg_d,
                             self.targets, self.weights, self.dsteps, self.seg_proj,
                             [p.label for p in self.resolved.projections], synapses)


def _receptor(proj) -> int:
    return receptor_index(proj.receptor)


def _check_delays(steps_max: int, label: str) -> None:
    if steps_max > MAX_DELAY_STEPS:
        raise ValueError(f"{label}: a delay of {steps_max} steps exceeds the numba simulator's int16 delays "
                         f"({MAX_DELAY_STEPS} steps); use a larger dt")


def global_offsets(resolved) -> tuple[dict[str, int], int, int]:
    """The first global index of each population (cells first, then sources: the numbering of
    `realise_populations`), the number of cells and the number of all populations' members."""
    offsets, off = {}, 0
    for pop in list(resolved.cells.values()) + list(resolved.sources.values()):
        offsets[pop.name] = off
        off += pop.size
    n_cells = sum(p.size for p in resolved.cells.values())
    return offsets, n_cells, off


# The row kernel that draws each connector type natively; a type missing here is realised by the harness.
_ROW_KINDS = {
    "fixed_total_number": TOTAL_REPL,  # with replacement only (see `why_not_native`)
    "fixed_probability": PROBABILITY,
    "fixed_in_degree": IN_DEGREE,
    "one_to_one": ONE_TO_ONE,
    "all_to_all": ALL_TO_ALL,
}


def why_not_native(proj) -> str | None:
    """Why `proj` has no native draw here (the harness realises it instead); None: it has one."""
    conn = proj.connector
    if conn.type not in _ROW_KINDS:
        return f"no native equivalent of {conn.type}"
    if isinstance(proj.delay, DistanceDelay):
        return f"no native equivalent of {conn.type} with distance-dependent delays"
    if conn.type == "fixed_total_number" and not conn.with_replacement:
        # Without replacement the row counts are multivariate hypergeometric, which numba's
        # generator cannot draw at these sizes (no shipped scenario uses it).
        return "no native draw of fixed_total_number without replacement"
    for what, value in (("weight", proj.weight), ("delay", proj.delay)):
        try:
            distribution_code(value)
        except TypeError:
            return f"no native draw of the {what} distribution {value!r}"
    return None


def native_kind(proj) -> int | None:
    """The row kernel that draws `proj` natively, or None (the harness realises it)."""
    return None if why_not_native(proj) is not None else _ROW_KINDS[proj.connector.type]


def network_layout(resolved, n_blocks: int, drawn: set[str], placed: dict, weights_dtype,
                   constant_delay_steps, translate) -> SynapseLayout:
    """The layout of the whole network: the projections labelled in `drawn` are drawn here
    natively (see the module's docstring), each other one is placed from the harness's arrays
    `placed[label] = (ProjectionArrays, delay steps)` (absent: no synapses). Weights are stored
    as `weights_dtype`; `constant_delay_steps(delay, label)` puts a constant delay on the grid and
    `translate(what, detail, **data)` records what changed (both the adapter's, so the rounding
    and its record are the template's)."""
    offsets, n_cells, n_total = global_offsets(resolved)
    seed, dt = resolved.seed, resolved.dt
    counts, in_degree_draws, kinds = {}, {}, {}
    in_degree = np.zeros(n_cells)
    per_w = per_d = False
    for proj in resolved.projections:
        pre, post = resolved.populations[proj.pre], resolved.populations[proj.post]
        post_cells = slice(offsets[proj.post], offsets[proj.post] + post.size)
        if proj.label not in drawn:
            a, _ = placed.setdefault(proj.label, (_no_synapses(proj), np.zeros(0, np.int64)))
            counts[proj.label] = np.bincount(a.pre_idx, minlength=pre.size).astype(np.int64)
            in_degree[post_cells] += np.bincount(a.post_idx, minlength=post.size)
            per_w |= bool(a.weight.size) and not bool(np.all(a.weight == a.weight[0]))
            per_d |= bool(a.delay.size) and not bool(np.all(a.delay == a.delay[0]))
            continue
        conn = proj.connector
        kind = kinds[proj.label] = native_kind(proj)
        in_degree[post_cells] += _EXPECTED_IN_DEGREE[conn.type](conn, pre.size, post.size)
        per_w |= not isinstance(proj.weight, (int, float))
        per_d |= not isinstance(proj.delay, (int, float))
        no_self = proj.pre == proj.post and not getattr(conn, "allow_self_connections", True)
        base = stream_seed(seed, proj.label, "edges")
        if kind == TOTAL_REPL:
            counts[proj.label] = counts_total_number(pre.size, post.size, conn.n, no_self, base)
        elif kind == PROBABILITY:
            counts[proj.label] = counts_probability(pre.size, post.size, conn.p, no_self, base)
        elif kind == IN_DEGREE:
            if not conn.with_replacement and conn.n > pre.size - (1 if no_self else 0):
                raise ValueError(f"{proj.label}: in-degree {conn.n} without replacement exceeds the {pre.size} sources")
            drawn_pre = draw_in_degree(pre.size, post.size, conn.n, no_self, conn.with_replacement, base)
            in_degree_draws[proj.label] = drawn_pre
            counts[proj.label] = np.bincount(drawn_pre, minlength=pre.size).astype(np.int64)
        elif kind == ONE_TO_ONE:
            counts[proj.label] = (np.arange(pre.size) < post.size).astype(np.int64)
        else:  # ALL_TO_ALL
            c = np.full(pre.size, post.size, np.int64)
            if no_self:
                c[:min(pre.size, post.size)] -= 1
            counts[proj.label] = c
    builder = _Builder(resolved, offsets, n_total, n_cells, n_blocks, in_degree, resolved.projections)
    builder.allocate(counts, per_w, per_d, weights_dtype)
    for proj in resolved.projections:
        label = proj.label
        if label not in drawn:
            a, steps = placed[label]
            _place_harness(builder, proj, a, steps, offsets)
            continue
        kind = kinds[label]
        pre, post = resolved.populations[proj.pre], resolved.populations[proj.post]
        no_self = proj.pre == proj.post and not getattr(proj.connector, "allow_self_connections", True)
        seg_ids = builder.seg_ids(proj)
        row_start = builder.seg_start[seg_ids]
        if kind == IN_DEGREE:
            place_target_major(in_degree_draws.pop(label), proj.connector.n, pre.size, offsets[proj.post], row_start,
                               seg_ids, builder.block_lo, builder.targets, builder.seg_ptr)
        else:
            fill_rows(kind, pre.size, post.size, offsets[proj.post], no_self, counts[label], row_start, seg_ids,
                      stream_seed(seed, label, "targets"), builder.block_lo, builder.targets, builder.seg_ptr)
        wdist, ddist = distribution_code(proj.weight), distribution_code(proj.delay)
        builder.seg_rec[seg_ids] = _receptor(proj)
        if wdist[0] == CONST:
            builder.seg_w[seg_ids] = wdist[1]
        if ddist[0] == CONST:
            builder.seg_d[seg_ids] = constant_delay_steps(ddist[1], label)
        else:
            hi = ddist[4] if ddist[0] == CLIPPED else (ddist[2] if ddist[0] == UNIFORM else math.inf)
            if not math.isfinite(hi) and ddist[0] != UNIFORM:
                hi = ddist[1] + 10 * ddist[2]  # a normal's practical maximum; checked after the draw
            _check_delays(int(np.rint(hi / dt)) if math.isfinite(hi) else MAX_DELAY_STEPS + 1, label)
        off, change = fill_values(pre.size, counts[label], row_start, stream_seed(seed, label, "values"),
                                  wdist, ddist, dt, builder.weights, builder.dsteps)
        if off and ddist[0] != CONST:  # a constant's rounding is recorded by constant_delay_steps
            translate("delay", f"{label}: {int(off)} of {int(counts[label].sum())} delays put on the {dt} ms grid",
                      max_change_ms=float(change))
    return builder.layout({label: int(c.sum()) for label, c in counts.items()})


def _no_synapses(proj) -> ProjectionArrays:
    empty = np.zeros(0, np.int64)
    return ProjectionArrays(proj.label, proj.pre, proj.post, proj.receptor, empty, empty, np.zeros(0), np.zeros(0))


def _place_harness(builder: _Builder, proj, a, steps: np.ndarray, offsets) -> None:
    _check_delays(int(steps.max()) if steps.size else 1, proj.label)
    seg_ids = builder.seg_ids(proj)
    builder.seg_rec[seg_ids] = _receptor(proj)
    if a.weight.size and not builder.weights.size:
        builder.seg_w[seg_ids] = a.weight[0]
    if steps.size and not builder.dsteps.size:
        builder.seg_d[seg_ids] = steps[0]
    place_edges(a.pre_idx.astype(np.int64), (a.post_idx + offsets[proj.post]).astype(np.int64),
                a.weight.astype(np.float64), steps.astype(np.int16), builder.seg_start[seg_ids], seg_ids,
                builder.block_lo, builder.targets, builder.weights, builder.dsteps, builder.seg_ptr)


def layout_edges(layout: SynapseLayout) -> dict[str, tuple[np.ndarray, ...]]:
    """Per projection label: (pre, post, weight, delay steps, receptor) of its synapses, global
    indices, in stored order (for tests and inspection)."""
    parts: dict[str, list] = {label: [] for label in layout.labels}
    n_blocks = layout.n_blocks
    for g in range(layout.seg_first.size - 1):
        for s in range(layout.seg_first[g], layout.seg_first[g + 1]):
            lo, hi = layout.seg_ptr[s, 0], layout.seg_ptr[s, n_blocks]
            n = hi - lo
            w = layout.weights[lo:hi].astype(np.float64) if layout.weights.size else np.full(n, layout.seg_w[s])
            d = layout.dsteps[lo:hi].astype(np.int64) if layout.dsteps.size else np.full(n, layout.seg_d[s])
            parts[layout.labels[layout.seg_proj[s]]].append(
                (np.full(n, g), layout.targets[lo:hi].astype(np.int64), w, d, np.full(n, layout.seg_rec[s])))
    return {label: tuple(np.concatenate([p[i] for p in rows]) if rows else np.zeros(0) for i in range(5))
            for label, rows in parts.items()}


def warm_up(resolved=None) -> list:
    """Compile (or load from numba's cache) the drawing kernels native mode needs for `resolved`
    (all of them when None) on tiny inputs; return them."""
    kinds = {native_kind(p) for p in resolved.projections} if resolved is not None else {
        TOTAL_REPL, PROBABILITY, ONE_TO_ONE, ALL_TO_ALL, IN_DEGREE, None}
    i64 = lambda *shape: np.zeros(shape, dtype=np.int64)  # noqa: E731
    block_lo = np.array([0, 2], dtype=np.int64)
    seg_ptr = i64(2, 2)
    targets = np.zeros(2, np.int32)
    counts = np.array([1, 1], dtype=np.int64)
    starts = np.array([0, 1], dtype=np.int64)
    seg_ids = np.array([0, 1], dtype=np.int64)
    used = []
    if TOTAL_REPL in kinds:
        counts_total_number(2, 2, 2, False, 1)
        used.append(counts_total_number)
    if PROBABILITY in kinds:
        counts_probability(2, 2, 0.5, False, 1)
        used.append(counts_probability)
    if kinds & {TOTAL_REPL, PROBABILITY, ONE_TO_ONE, ALL_TO_ALL}:
        fill_rows(TOTAL_REPL, 2, 2, 0, False, counts, starts, seg_ids, 1, block_lo, targets, seg_ptr)
        used.append(fill_rows)
    if IN_DEGREE in kinds:
        place_target_major(draw_in_degree(2, 2, 1, False, True, 1), 1, 2, 0, starts, seg_ids, block_lo, targets, seg_ptr)
        used += [draw_in_degree, place_target_major]
    if kinds - {None}:
        dist = distribution_code(1.0)
        fill_values(2, counts, starts, 1, dist, dist, 0.1, np.zeros(2, np.float32), np.zeros(2, np.int16))
        used.append(fill_values)
    if None in kinds:
        place_edges(np.array([0, 1]), np.array([1, 0]), np.ones(2), np.ones(2, np.int16), starts, seg_ids, block_lo,
                    targets, np.zeros(2, np.float32), np.zeros(2, np.int16), seg_ptr)
        used.append(place_edges)
    return used
