"""Exact connectivity: the scenario realised as arrays from its seed, with numpy alone.

Every random item (the edges of a projection, its weights, its delays, initial potentials, a
source's spike times) draws from its own stream, seeded by (seed, item name), so that the
arrays do not depend on the order of the file or on which backend asks. In `exact` mode every
backend receives these same arrays; this is what cross-backend validation relies on.

Spike times of sources are put on the dt grid as NEST's spike_generator stamps a time (the end of
the step that holds it, `nest_step`) and are > 0 (NEST rejects a spike at t <= 0). A source's
spikes are one sorted int64 array of steps per source; a step that carries k spikes appears k
times in it (its multiplicity: `step_multiplicity`). A SpikeSourceArray (spike_times or a SONATA
spike_file) keeps every spike it is given, two times in one step being two spikes, as NEST's
spike_generator (and so bmtk's pointnet and pyNN.nest) delivers them; an event stream's events
of one source in one step are one spike (events.py). A SpikeSourcePoisson with
rate * dt <= 1 spikes in each step of its active window with probability rate * dt (a Bernoulli
process, as Brian2's PoissonGroup): its mean rate is exact even where rate * dt is not small (the
V1 sheet's 2 kHz drive at dt 0.1 ms). Above one spike per step (Brunel's external drive as one
generator per cell, 20 kHz at dt 0.1 ms) each step carries Poisson(rate * dt) spikes, as NEST's
poisson_generator draws them; the mean rate is exact in both regimes.
"""

from __future__ import annotations

import math
import zlib
from dataclasses import dataclass, field

import numpy as np

from .model import (
    ArraySourcePopulation,
    DistanceDelay,
    FromList,
    GaussianInDegree,
    Normal,
    NormalClipped,
    PoissonSourcePopulation,
    SonataEdges,
    Uniform,
)
from .resolve import ResolvedPopulation, ResolvedProjection, ResolvedScenario

# Rows of random keys drawn at once for in-degree sampling without replacement (memory bound).
_KEY_BLOCK = 1 << 22


def rng_for(seed: int, *keys: str) -> np.random.Generator:
    """An independent random stream for one named item."""
    entropy = [int(seed)] + [zlib.crc32(k.encode()) for k in keys]
    return np.random.default_rng(np.random.SeedSequence(entropy))


def sample(value, rng: np.random.Generator, n: int) -> np.ndarray:
    """n values of a constant or a distribution (float64)."""
    if isinstance(value, (int, float)):
        return np.full(n, float(value))
    if isinstance(value, Uniform):
        return rng.uniform(value.low, value.high, n)
    if isinstance(value, Normal):
        return rng.normal(value.mu, value.sigma, n)
    if isinstance(value, NormalClipped):
        out = rng.normal(value.mu, value.sigma, n)
        bad = (out < value.low) | (out > value.high)
        while bad.any():  # redraw, as PyNN's normal_clipped and NEST's redraw do
            out[bad] = rng.normal(value.mu, value.sigma, int(bad.sum()))
            bad = (out < value.low) | (out > value.high)
        return out
    raise TypeError(f"cannot sample {value!r}")


@dataclass
class PopulationArrays:
    name: str
    cell_type: str
    size: int
    offset: int  # first index of this population in the network's global numbering
    v_init: np.ndarray | None = None  # mV, cells only
    spike_steps: list[np.ndarray] | None = None  # sources only: spike steps (t = step * dt), repeated per spike

    def spike_times(self, dt: float) -> list[np.ndarray]:
        return [steps * dt for steps in (self.spike_steps or [])]


@dataclass
class ProjectionArrays:
    label: str
    pre: str
    post: str
    receptor: str
    pre_idx: np.ndarray  # int64, local to the pre population
    post_idx: np.ndarray  # int64, local to the post population
    weight: np.ndarray  # uS (onto IF_cond_exp) or nA (onto IF_curr_exp), signed as in PyNN
    delay: np.ndarray  # ms, not yet put on any grid

    @property
    def size(self) -> int:
        return int(self.pre_idx.size)


@dataclass
class Network:
    resolved: ResolvedScenario
    populations: dict[str, PopulationArrays]
    projections: list[ProjectionArrays] = field(default_factory=list)

    @property
    def n_synapses(self) -> int:
        return sum(p.size for p in self.projections)

    @property
    def n_cells(self) -> int:
        return sum(p.size for p in self.populations.values() if p.v_init is not None)


def realise(resolved: ResolvedScenario) -> Network:
    """All random items of `resolved`, deterministically from its seed."""
    projections = [realise_projection(proj, resolved) for proj in resolved.projections]
    return Network(resolved=resolved, populations=realise_populations(resolved), projections=projections)


def realise_populations(resolved: ResolvedScenario) -> dict[str, PopulationArrays]:
    """The populations' random items (initial V, source spikes), without any projection."""
    seed = resolved.seed
    pops: dict[str, PopulationArrays] = {}
    offset = 0
    # Cells first, then sources: the global numbering used by the numba simulator.
    ordered = list(resolved.cells.values()) + list(resolved.sources.values())
    for pop in ordered:
        arrays = PopulationArrays(name=pop.name, cell_type=pop.cell_type, size=pop.size, offset=offset)
        if pop.is_source:
            arrays.spike_steps = realise_spike_steps(pop, resolved, rng_for(seed, "spikes", pop.name))
        else:
            v = pop.spec.initial_values.v
            v = pop.spec.parameters.resting_v if v is None else v
            arrays.v_init = sample(v, rng_for(seed, "v_init", pop.name), pop.size)
        pops[pop.name] = arrays
        offset += pop.size
    return pops


def positions(shape: tuple[int, int]) -> np.ndarray:
    """(size, 2) positions of a rows x cols grid on [0, 1)^2: cell r * cols + c at ((c+0.5)/cols, (r+0.5)/rows)."""
    rows, cols = shape
    r, c = np.divmod(np.arange(rows * cols), cols)
    return np.column_stack(((c + 0.5) / cols, (r + 0.5) / rows))


def torus_distance(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    d = np.abs(a - b)
    d = np.minimum(d, 1.0 - d)
    return np.hypot(d[:, 0], d[:, 1])


def realise_projection(proj: ResolvedProjection, resolved: ResolvedScenario) -> ProjectionArrays:
    seed = resolved.seed
    pre_pop, post_pop = resolved.populations[proj.pre], resolved.populations[proj.post]
    n_pre, n_post = pre_pop.size, post_pop.size
    same = proj.pre == proj.post
    rng = rng_for(seed, "edges", proj.label)
    if isinstance(proj.connector, SonataEdges):  # every item from the SONATA file, nothing drawn
        from ..sonata.arrays import projection_arrays

        pre, post, weight, delay = projection_arrays(proj, resolved)
        return ProjectionArrays(label=proj.label, pre=proj.pre, post=proj.post, receptor=proj.receptor,
                                pre_idx=pre, post_idx=post, weight=weight, delay=delay)
    if isinstance(proj.connector, GaussianInDegree):
        pre, post = gaussian_in_degree(proj.connector, pre_pop.grid_shape, post_pop.grid_shape, same, rng)
    else:
        pre, post = connect(proj.connector, n_pre, n_post, same, rng)
    n = pre.size
    if isinstance(proj.connector, FromList) and proj.connector.connections and len(proj.connector.connections[0]) == 4:
        rows = np.asarray(proj.connector.connections, dtype=float)
        weight, delay = rows[:, 2].copy(), rows[:, 3].copy()
    else:
        weight = sample(proj.weight, rng_for(seed, "weights", proj.label), n)
        if isinstance(proj.delay, DistanceDelay):
            r = torus_distance(positions(pre_pop.grid_shape)[pre], positions(post_pop.grid_shape)[post])
            delay = proj.delay.offset + (r / proj.delay.velocity if np.isfinite(proj.delay.velocity) else 0.0)
        else:
            delay = sample(proj.delay, rng_for(seed, "delays", proj.label), n)
    return ProjectionArrays(
        label=proj.label, pre=proj.pre, post=proj.post, receptor=proj.receptor,
        pre_idx=pre, post_idx=post, weight=weight, delay=delay,
    )


# ----------------------------------------------------------------------------- connectors


def _pairs_without_self(pre: np.ndarray, post: np.ndarray, no_self: bool) -> tuple[np.ndarray, np.ndarray]:
    if no_self:
        keep = pre != post
        return pre[keep], post[keep]
    return pre, post


def _fixed_probability_pairs(conn, n_pre, n_post, no_self, rng):
    pre, post = np.divmod(_bernoulli_positions(rng, n_pre * n_post, conn.p), n_post)
    return _pairs_without_self(pre, post, no_self)


def _one_to_one_pairs(conn, n_pre, n_post, no_self, rng):
    idx = np.arange(n_pre, dtype=np.int64)
    return idx, idx.copy()


def _all_to_all_pairs(conn, n_pre, n_post, no_self, rng):
    pre, post = np.divmod(np.arange(n_pre * n_post, dtype=np.int64), n_post)
    return _pairs_without_self(pre, post, no_self)


def _listed_pairs(conn, n_pre, n_post, no_self, rng):
    rows = np.asarray([c[:2] for c in conn.connections], dtype=np.int64).reshape(-1, 2)
    return rows[:, 0].copy(), rows[:, 1].copy()


# The harness's sampler of each connector type: (conn, n_pre, n_post, no_self, rng) -> (pre, post).
# gaussian_in_degree needs the grids: `gaussian_in_degree`, called by `realise_projection`.
_SAMPLERS = {
    "fixed_probability": _fixed_probability_pairs,
    "fixed_in_degree": lambda conn, n_pre, n_post, no_self, rng: _fixed_in_degree(
        rng, n_pre, n_post, conn.n, conn.with_replacement, no_self),
    "fixed_total_number": lambda conn, n_pre, n_post, no_self, rng: _fixed_total_number(
        rng, n_pre, n_post, conn.n, conn.with_replacement, no_self),
    "one_to_one": _one_to_one_pairs,
    "all_to_all": _all_to_all_pairs,
    "from_list": _listed_pairs,
}


def connect(conn, n_pre: int, n_post: int, same: bool, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """(pre, post) index arrays (int64) for one connector."""
    sampler = _SAMPLERS.get(conn.type)
    if sampler is None:
        raise TypeError(f"no realisation for connector {conn!r}")
    return sampler(conn, n_pre, n_post, same and not getattr(conn, "allow_self_connections", True), rng)


def gaussian_in_degree(conn: GaussianInDegree, pre_shape, post_shape, same: bool, rng) -> tuple[np.ndarray, np.ndarray]:
    """n sources per target: Gaussian offsets around the target, wrapped and snapped to the pre grid."""
    rows, cols = pre_shape
    targets = positions(post_shape)
    n_post, k = targets.shape[0], conn.n
    post = np.repeat(np.arange(n_post, dtype=np.int64), k)
    if k == 0:
        return np.empty(0, dtype=np.int64), post

    def draw(where: np.ndarray) -> np.ndarray:
        xy = (targets[where] + rng.normal(0.0, conn.sigma, size=(where.size, 2))) % 1.0
        col = np.minimum((xy[:, 0] * cols).astype(np.int64), cols - 1)
        row = np.minimum((xy[:, 1] * rows).astype(np.int64), rows - 1)
        return row * cols + col

    pre = draw(post)
    if same and not conn.allow_self_connections:
        bad = np.nonzero(pre == post)[0]
        while bad.size:  # redraw an autapse, as NEST does when autapses are not allowed
            pre[bad] = draw(post[bad])
            bad = bad[pre[bad] == post[bad]]
    return pre, post


def _bernoulli_positions(rng: np.random.Generator, total: int, p: float) -> np.ndarray:
    """Positions of successes in `total` Bernoulli(p) trials, by geometric skips (O(p * total))."""
    if p <= 0 or total == 0:
        return np.empty(0, dtype=np.int64)
    if p >= 1:
        return np.arange(total, dtype=np.int64)
    chunks, last = [], -1
    while True:
        remaining = total - last - 1
        m = int(p * remaining + 6 * math.sqrt(p * remaining) + 64)
        positions = last + np.cumsum(rng.geometric(p, size=m))
        inside = positions[positions < total]
        chunks.append(inside)
        if inside.size < m:
            break
        last = int(inside[-1])
    return np.concatenate(chunks).astype(np.int64, copy=False)


def _fixed_in_degree(rng, n_pre, n_post, k, with_replacement, no_self):
    post = np.repeat(np.arange(n_post, dtype=np.int64), k)
    if k == 0 or n_post == 0:
        return np.empty(0, dtype=np.int64), post
    if with_replacement:
        pre = rng.integers(0, n_pre, size=(n_post, k))
        if no_self:
            rows = np.arange(n_post)[:, None]
            bad = pre == rows
            while bad.any():
                pre[bad] = rng.integers(0, n_pre, size=int(bad.sum()))
                bad = pre == rows
        return pre.reshape(-1).astype(np.int64), post
    # Without replacement: the k smallest of n_pre random keys per row.
    pre = np.empty((n_post, k), dtype=np.int64)
    block = max(1, _KEY_BLOCK // max(1, n_pre))
    for start in range(0, n_post, block):
        stop = min(n_post, start + block)
        keys = rng.random((stop - start, n_pre))
        if no_self:
            rows = np.arange(start, stop)
            inside = rows < n_pre
            keys[np.nonzero(inside)[0], rows[inside]] = 2.0  # never among the k smallest
        pre[start:stop] = np.argpartition(keys, k - 1, axis=1)[:, :k] if k < n_pre else np.argsort(keys, axis=1)[:, :k]
    return pre.reshape(-1), post


def _fixed_total_number(rng, n_pre, n_post, n, with_replacement, no_self):
    if n == 0:
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64)
    if with_replacement:
        pre = rng.integers(0, n_pre, size=n)
        post = rng.integers(0, n_post, size=n)
        if no_self:
            bad = pre == post
            while bad.any():
                pre[bad] = rng.integers(0, n_pre, size=int(bad.sum()))
                post[bad] = rng.integers(0, n_post, size=int(bad.sum()))
                bad = pre == post
        return pre.astype(np.int64), post.astype(np.int64)
    total = n_pre * n_post
    flat = rng.choice(total, size=min(n, total), replace=False)
    pre, post = np.divmod(flat.astype(np.int64), n_post)
    if no_self:
        keep = pre != post
        pre, post = pre[keep], post[keep]
    return pre, post


# -------------------------------------------------------------------------------- sources


def spikes_per_step(spec, dt: float) -> float:
    """The mean number of spikes per step of a SpikeSourcePoisson (rate x dt); 0 for the others
    (a SpikeSourceArray's steps are counted from its spikes: `array_multiplicity`)."""
    if isinstance(spec, PoissonSourcePopulation):
        return spec.parameters.rate * dt / 1000.0
    return 0.0


def array_multiplicity(pop: ResolvedPopulation, resolved: ResolvedScenario) -> tuple[int, float]:
    """(largest number of spikes of one source in one step, the first step's time in ms that
    carries it) of a SpikeSourceArray given spike_times or a spike_file; (0, 0.0) otherwise."""
    spec = pop.spec
    if not isinstance(spec, ArraySourcePopulation) or spec.events is not None:
        return 0, 0.0
    best, when = 0, 0.0
    for steps in realise_spike_steps(pop, resolved, None):
        if steps.size:
            at, counts = step_multiplicity(steps)
            if counts.max() > best:
                best, when = int(counts.max()), float(at[np.argmax(counts)] * resolved.dt)
    return best, when


def step_multiplicity(steps: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(distinct steps, spikes in each) of one source's sorted spike steps."""
    return np.unique(np.asarray(steps, dtype=np.int64), return_counts=True)


def realise_spike_steps(pop: ResolvedPopulation, resolved: ResolvedScenario, rng) -> list[np.ndarray]:
    """Spike times (in steps of dt, >= 1, sorted; a step repeated once per spike it carries) for
    each source of `pop`."""
    dt, n_steps = resolved.dt, resolved.n_steps
    spec = pop.spec
    if isinstance(spec, PoissonSourcePopulation):
        prm = spec.parameters
        p = spikes_per_step(spec, dt)
        first = int(np.floor(prm.start / dt + 1e-9)) + 1  # steps m >= 1 whose stamp m*dt lies in (start, stop]
        last = min(n_steps, int(np.floor(min(resolved.simtime, prm.start + prm.duration) / dt + 1e-9)))
        out = []
        width = max(0, last - first + 1)
        block = max(1, (1 << 22) // max(1, width))
        window = np.arange(width, dtype=np.int64) + first
        for lo in range(0, pop.size, block):
            rows = min(block, pop.size - lo)
            if p <= 1:  # one Bernoulli trial per step: the draws (and rasters) of every earlier version
                hits = rng.random((rows, width)) < p
                out += [np.nonzero(row)[0].astype(np.int64) + first for row in hits]
            else:  # several spikes per step: Poisson counts, as NEST's poisson_generator
                counts = rng.poisson(p, (rows, width))
                out += [np.repeat(window, row) for row in counts]
        return out
    if isinstance(spec, ArraySourcePopulation) and spec.spike_file is not None:
        from ..sonata.arrays import input_spikes

        index, times = input_spikes(pop, resolved.simtime)
        return _on_grid(index, times, pop.size, dt, n_steps)
    if isinstance(spec, ArraySourcePopulation) and spec.events is not None:
        index, times = event_spikes(spec.events, resolved.simtime)
        return _on_grid(index, times, pop.size, dt, n_steps, merge=True)
    if isinstance(spec, ArraySourcePopulation):
        given = spec.parameters.spike_times
        if given and isinstance(given[0], list):
            per_source = [np.asarray(t, dtype=float) for t in given]
        else:
            per_source = [np.asarray(given, dtype=float)] * pop.size
        owner = np.repeat(np.arange(pop.size), [t.size for t in per_source])
        times = np.concatenate(per_source) if per_source else np.empty(0)
        return _on_grid(owner, times, pop.size, dt, n_steps)
    raise TypeError(f"{pop.name} is not a spike source")


def event_spikes(stream, simtime: float) -> tuple[np.ndarray, np.ndarray]:
    """(source index, time ms) of an event stream, generated or loaded, transformed by tonic."""
    from . import events as ev

    width, height = stream.sensor
    if stream.generator == "moving_dot":
        data = ev.moving_dot(width, height, stream.duration or simtime, stream.speed, stream.radius,
                             stream.direction, stream.start, stream.seed)
    else:
        data = ev.load_events(stream.file)
    if stream.transforms:
        data = ev.apply_transforms(data, stream.sensor, 2, stream.transforms)
    return ev.to_sources(data, width, height, stream.polarity == "separate")


def nest_step(times: np.ndarray, dt: float, tics_per_ms: float = 1000.0) -> np.ndarray:
    """The step (t = step * dt) NEST's spike_generator stamps each time with: the end of the step
    that holds it, a time on the grid staying there (nest::Time::ms_stamp at NEST's default tic of
    1 us: where precise_times, which bmtk's pointnet and pyNN.nest set, delivers a time to a
    non-precise target). Done in NEST's own arithmetic (truncated tics, the step's time
    recomputed and compared) so that times within an ulp of the grid land where NEST puts them."""
    tics_per_step = int(round(dt * tics_per_ms))
    tics = np.trunc(np.asarray(times, dtype=float) * tics_per_ms).astype(np.int64)
    tics -= tics % tics_per_step
    grid_ms = tics * (1.0 / tics_per_step) * (tics_per_step / tics_per_ms)
    return tics // tics_per_step + (grid_ms < times)


def _on_grid(owner: np.ndarray, times: np.ndarray, size: int, dt: float, n_steps: int,
             merge: bool = False) -> list[np.ndarray]:
    # Every time is stamped as NEST stamps it; two times of one source in one step are two spikes
    # (NEST's spike_generator sends each), unless `merge` (an event stream's bins).
    steps = np.maximum(1, nest_step(times, dt))
    keep = steps <= n_steps
    owner, steps = owner[keep], steps[keep]
    key = owner.astype(np.int64) * (n_steps + 2) + steps
    key = np.unique(key) if merge else np.sort(key)
    owner, steps = np.divmod(key, n_steps + 2)
    bounds = np.searchsorted(owner, np.arange(size + 1))
    return [steps[bounds[i]:bounds[i + 1]] for i in range(size)]
