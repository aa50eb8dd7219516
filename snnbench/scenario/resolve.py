"""Overrides (N_pop, simtime, seed, dt, ...) and the scaling rule: a scenario made concrete for one run.

`N_pop` is the total number of neurons in the populations that scale (by default every
population of neurons; spike sources keep their size unless they say `scales = true`). Each
scaled population gets round(size * N_pop / base N_pop) cells; a population on a grid scales
its rows and columns by sqrt(scale); a population with `size_of` follows that population. How
connectivity follows is the scenario's `[scaling] hold`: "probability" keeps p (in-degrees grow
with N_pop), "in_degree" keeps K (probabilities shrink). Distance-dependent connectors always
keep K.

`plasticity = "off"` (`--static-synapses`) makes every plastic projection a static one at its
initial weights (the same connections, weights and delays from the same draws): the static path
of the same network, to measure what plasticity costs. Its weight recordings go with it (a static
synapse's weights do not change, and the backends read weights of plastic projections only).
The scenario's hash stays that of its file; the override is recorded with the run.

`k_scale` (K_s) scales every in-degree on top of that, as the Potjans-Diesmann downscaling
does: with `[scaling] weights = "inverse_sqrt_in_degree"` weights follow as 1/sqrt(K_s), and
if the scenario gives `full_scale_rates_hz`, each population gets the extra DC that keeps its
mean input: dI = 1e-3 tau_syn (1 - sqrt(K_s)) sum_j J_j K_j nu_j (nA; the rate of a Poisson
source is its own rate parameter).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

from .errors import ScenarioError
from .load import column_scenario, scenario_hash
from .model import (
    AllToAll,
    FixedInDegree,
    FixedProbability,
    FixedTotalNumber,
    FromList,
    GaussianInDegree,
    Normal,
    PoissonSourcePopulation,
    NormalClipped,
    OneToOne,
    Projection,
    ProjectionRecord,
    Scenario,
    SonataEdges,
    Uniform,
    WeightRecord,
)

_STEP_TOLERANCE = 1e-6
# Far beyond what any machine runs, but within exact float arithmetic: larger values are typos
# (or inf in disguise) and are refused as bad input instead of overflowing somewhere inside.
_MAX_STEPS = 1e12
_MAX_CELLS = 1e15
# max_synapses of a final weight recording: every synapse's value is kept, never a histogram.
EVERY_SYNAPSE = 2**62


@dataclass(frozen=True)
class Overrides:
    """What a run changes of a scenario. None means: as the scenario says."""

    N_pop: int | None = None
    scale: float | None = None
    simtime: float | None = None
    seed: int | None = None
    dt: float | None = None
    k_scale: float | None = None
    slice: str | None = None  # a cut of a SONATA circuit: "radius=R[,x=X,z=Z]" or "n=N[,...]" (snnbench.sonata.slicing)
    # True: every plastic projection also records every synapse's weight at simtime (the
    # validation's final weight distribution, docs/validation.md); its recording times after
    # simtime are dropped.
    final_weights: bool | None = None
    # "off": every plastic projection static at its initial weights; None (or "on"): as the scenario
    # says ("on" is normalised to None, so that a plastic run is the same configuration as a plain one)
    plasticity: str | None = None

    def __post_init__(self) -> None:
        if self.plasticity == "on":
            object.__setattr__(self, "plasticity", None)

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v is not None}


@dataclass(frozen=True)
class ResolvedPopulation:
    name: str
    spec: Any  # the population model (IFCondExpPopulation, ...), parameters as resolved (DC compensation)
    size: int
    base_size: int
    grid_shape: tuple[int, int] | None = None  # (rows, cols) when on a grid
    # The SONATA node ids of the cells a slice kept, in local-index order (None: every node of the type).
    node_ids: Any = field(default=None, compare=False, repr=False)

    @property
    def cell_type(self) -> str:
        return self.spec.cell_type

    @property
    def is_source(self) -> bool:
        return self.spec.is_source

    @property
    def n_record_spikes(self) -> int:
        rec = self.spec.record.spikes
        if isinstance(rec, bool):
            return self.size if rec else 0
        return min(rec, self.size)

    @property
    def n_record_v(self) -> int:
        return min(self.spec.record.v, self.size)


@dataclass(frozen=True)
class ResolvedProjection:
    """A projection with its connector scaled to the run's population sizes."""

    spec: Projection
    connector: Any  # a connector model with p / n adjusted
    weight: Any  # float or distribution, after weight scaling
    delay: Any
    # plastic in the scenario, made static by plasticity "off": a backend that builds plastic
    # projections from the harness's arrays builds this one from them too (the plastic run's draws)
    made_static: bool = False

    @property
    def label(self) -> str:
        return self.spec.label

    @property
    def pre(self) -> str:
        return self.spec.pre

    @property
    def post(self) -> str:
        return self.spec.post

    @property
    def receptor(self) -> str:
        return self.spec.receptor


@dataclass(frozen=True)
class ResolvedScenario:
    scenario: Scenario
    overrides: Overrides
    dt: float
    simtime: float
    seed: int
    scale: float
    populations: dict[str, ResolvedPopulation]
    projections: list[ResolvedProjection]
    notes: list[str] = field(default_factory=list)
    cut: str | None = None  # how a SONATA circuit was sliced (recorded with the run)
    # The scenario as its file gives it, where `scenario` was rebuilt from it (a built SONATA
    # column at --N-pop cells): runs are stored under the file's hash with their overrides, as
    # every scaled run is.
    file_scenario: Scenario | None = None

    @property
    def id(self) -> str:
        return self.scenario.id

    @property
    def hash(self) -> str:
        return scenario_hash(self.file_scenario or self.scenario)

    @property
    def n_steps(self) -> int:
        return int(round(self.simtime / self.dt))

    @property
    def N_pop(self) -> int:
        return sum(p.size for p in self.populations.values() if not p.is_source)

    @property
    def cells(self) -> dict[str, ResolvedPopulation]:
        return {n: p for n, p in self.populations.items() if not p.is_source}

    @property
    def sources(self) -> dict[str, ResolvedPopulation]:
        return {n: p for n, p in self.populations.items() if p.is_source}

    def expected_synapses(self) -> float:
        """Expected number of synapses (exact for all but fixed_probability)."""
        total = 0.0
        for proj in self.projections:
            n_pre, n_post = self.populations[proj.pre].size, self.populations[proj.post].size
            total += expected_connections(proj.connector, n_pre, n_post, proj.pre == proj.post)
        return total


def expected_connections(conn: Any, n_pre: int, n_post: int, same: bool) -> float:
    pairs = n_pre * n_post
    if same and not getattr(conn, "allow_self_connections", True):
        pairs -= min(n_pre, n_post)
    if isinstance(conn, FixedProbability):
        return conn.p * pairs
    if isinstance(conn, FixedInDegree):
        return conn.n * n_post
    if isinstance(conn, FixedTotalNumber):
        return conn.n
    if isinstance(conn, GaussianInDegree):
        return conn.n * n_post
    if isinstance(conn, OneToOne):
        return n_pre
    if isinstance(conn, AllToAll):
        return pairs
    if isinstance(conn, FromList):
        return len(conn.connections)
    if isinstance(conn, SonataEdges):  # the whole circuit's count, in proportion to what a slice kept
        return conn.n * (n_pre / (conn.pre_size or n_pre)) * (n_post / (conn.post_size or n_post))
    raise TypeError(conn)


def _base_n_pop(scenario: Scenario) -> int:
    return sum(p.size for p in scenario.populations.values() if p.scales and not p.is_source) or sum(
        p.size for p in scenario.populations.values() if p.scales
    )


def _scale_weight(weight: Any, factor: float) -> Any:
    if factor == 1.0:
        return weight
    if isinstance(weight, float):
        return weight * factor
    if isinstance(weight, Uniform):
        lo, hi = sorted((weight.low * factor, weight.high * factor))
        return weight.model_copy(update={"low": lo, "high": hi})
    if isinstance(weight, Normal):
        return weight.model_copy(update={"mu": weight.mu * factor, "sigma": weight.sigma * abs(factor)})
    if isinstance(weight, NormalClipped):
        lo, hi = sorted((weight.low * factor, weight.high * factor))
        return weight.model_copy(
            update={"mu": weight.mu * factor, "sigma": weight.sigma * abs(factor), "low": lo, "high": hi}
        )
    raise TypeError(weight)


def resolve(scenario: Scenario, overrides: Overrides | None = None) -> ResolvedScenario:
    """Apply overrides and the scaling rule; raise ScenarioError for an impossible combination."""
    ov = overrides or Overrides()
    file = f"{scenario.id} (with {ov.as_dict() or 'no overrides'})"
    problems: list[tuple[str, str]] = []

    dt = ov.dt if ov.dt is not None else scenario.run.dt
    simtime = ov.simtime if ov.simtime is not None else scenario.run.simtime
    seed = ov.seed if ov.seed is not None else scenario.run.seed
    if dt <= 0:
        problems.append(("dt", "expected dt > 0 ms"))
    if simtime <= 0:
        problems.append(("simtime", "expected simtime > 0 ms"))
    if seed < 0:
        problems.append(("seed", "expected a seed >= 0"))
    if ov.plasticity not in (None, "off"):
        problems.append(("plasticity", f"expected 'on' or 'off', got {ov.plasticity!r}"))
    elif ov.plasticity == "off" and not any(p.plastic for p in scenario.projections):
        problems.append(("plasticity", "plasticity off (--static-synapses) needs a scenario with a plastic projection; "
                                       "this one has none"))
    if problems:
        raise ScenarioError(file, problems)
    steps = simtime / dt
    if not steps <= _MAX_STEPS:  # also inf and nan from extreme finite values
        raise ScenarioError(file, [("simtime", f"simtime / dt = {steps:.3g} time steps; at most {_MAX_STEPS:.0e} are supported")])
    if abs(steps - round(steps)) > _STEP_TOLERANCE * max(1.0, steps):
        raise ScenarioError(file, [("simtime", f"simtime {simtime} ms is not a multiple of dt {dt} ms")])

    if ov.N_pop is not None and ov.scale is not None:
        raise ScenarioError(file, [("N_pop", "give N_pop or scale, not both")])
    file_scenario, sizes = None, ov
    if scenario.sonata is not None and scenario.sonata.column is not None and (ov.N_pop is not None or ov.scale is not None):
        # snnbench's built column is rebuilt at the size asked for, its density kept (sonata/column.py)
        file_scenario, scenario = scenario, _column_at(scenario, ov, file)
        sizes = Overrides()
    base = _base_n_pop(scenario)
    if scenario.sonata is not None and (sizes.N_pop is not None or (sizes.scale is not None and sizes.scale != 1.0)):
        raise ScenarioError(file, [("N_pop" if ov.N_pop is not None else "scale",
                                    "a SONATA circuit has the size of its files; cut it with --slice instead "
                                    "(snnbench's built column, [sonata] column, takes --N-pop and --scale)")])
    if ov.slice is not None and scenario.sonata is None:
        raise ScenarioError(file, [("slice", "--slice needs a scenario made from a SONATA circuit ([sonata])")])
    if sizes.N_pop is not None:
        if sizes.N_pop <= 0:
            raise ScenarioError(file, [("N_pop", "expected N_pop > 0")])
        if base == 0:
            raise ScenarioError(file, [("N_pop", "no population of this scenario scales (scales = false everywhere)")])
        scale = sizes.N_pop / base
    else:
        scale = sizes.scale if sizes.scale is not None else 1.0
        if scale <= 0:
            raise ScenarioError(file, [("scale", "expected scale > 0")])

    pops = {}
    for name, spec in scenario.populations.items():
        if spec.size_of is not None:
            continue
        shape = None
        if spec.grid is not None:
            rows, cols = spec.grid.shape
            if spec.scales and rows * cols * scale <= _MAX_CELLS:
                rows, cols = max(1, round(rows * math.sqrt(scale))), max(1, round(cols * math.sqrt(scale)))
            elif spec.scales:
                rows, cols = rows * math.sqrt(scale), cols * math.sqrt(scale)  # refused just below
            shape, size = (rows, cols), rows * cols
        else:
            scaled = spec.size * scale if spec.scales else spec.size
            size = max(1, int(round(scaled))) if scaled <= _MAX_CELLS else scaled
        if size > _MAX_CELLS:  # an int far beyond any machine, or a float that overflowed
            raise ScenarioError(file, [(f"populations.{name}", f"{_count(size)} cells at scale {scale:g}; at most "
                                        f"{_MAX_CELLS:.0e} per population are supported")])
        pops[name] = ResolvedPopulation(name=name, spec=spec, size=size, base_size=spec.size, grid_shape=shape)
    for name, spec in scenario.populations.items():
        if spec.size_of is not None:
            pops[name] = ResolvedPopulation(name=name, spec=spec, size=pops[spec.size_of].size, base_size=spec.size)
    pops = {name: pops[name] for name in scenario.populations}  # the file's order
    cut = None
    if ov.slice is not None:
        pops, cut = _slice(scenario, pops, ov.slice, file)

    k_s = ov.k_scale if ov.k_scale is not None else 1.0
    if k_s <= 0:
        raise ScenarioError(file, [("k_scale", "expected k_scale > 0")])
    projections = []
    notes_k: list[str] = []
    for i, proj in enumerate(scenario.projections):
        path = f"projections[{i}] ({proj.label})"
        if proj.pre not in pops or proj.post not in pops:  # a population a slice left empty
            continue
        pre, post = pops[proj.pre], pops[proj.post]
        if ov.final_weights and proj.plastic:
            proj = _with_final_weights(proj, simtime)
        try:
            conn, k_scale = _scale_connector(proj, pre, post, scenario.scaling.hold)
            conn = _scale_in_degree(conn, k_s)
        except ValueError as exc:
            problems.append((path, str(exc)))
            continue
        except OverflowError:
            raise ScenarioError(file, [("k_scale", f"k_scale {k_s:g} makes in-degrees overflow")]) from None
        if k_s != 1.0 and isinstance(proj.connector, OneToOne):
            notes_k.append(f"{proj.label}: one_to_one, left unchanged by k_scale {k_s:g}")
            k_total = k_scale
        else:
            k_total = k_scale * k_s
        factor = 1.0 / math.sqrt(k_total) if scenario.scaling.weights == "inverse_sqrt_in_degree" and k_total > 0 else 1.0
        low_delay = proj.delay if isinstance(proj.delay, float) else proj.delay.bounds[0]
        if low_delay < dt - 1e-9:
            problems.append((f"{path}.delay", f"delays must be >= dt ({dt} ms), got {low_delay} ms"))
        problems += _weight_record_problems(f"{path}.record.weights", proj, dt, simtime)
        spec = proj
        if ov.plasticity == "off" and proj.plastic:
            # the same connections and initial weights, a static synapse: backends take the static path
            spec = proj.model_copy(update={"synapse": None, "record": ProjectionRecord()})
            notes_k.append(f"{proj.label}: plasticity off (--static-synapses): {proj.synapse.describe} replaced by a static "
                           "synapse at its initial weights" + ("; its weight recording dropped" if proj.record.weights else ""))
        projections.append(
            ResolvedProjection(spec=spec, connector=conn, weight=_scale_weight(proj.weight, factor), delay=proj.delay,
                               made_static=spec is not proj)
        )
    notes = list(notes_k) + ([cut] if cut else [])
    if scenario.sonata is not None:
        notes.append("SONATA: one population per node type (NEST parameters -> PyNN's by snnbench/sonata/nest_models.py), "
                     "edges read from the HDF5 files, weight = syn_weight x nsyns, nS/pA -> uS/nA, sign -> receptor")
    if k_s != 1.0 and scenario.scaling.full_scale_rates_hz:
        notes += _dc_compensation(scenario, pops, k_s)
    for name, pop in pops.items():
        rec = pop.spec.record
        if not pop.is_source and rec.v > pop.size and pop.node_ids is None:  # a slice records what it kept
            problems.append((f"populations.{name}.record.v", f"records v of {rec.v} cells but has only {pop.size}"))
    if problems:
        raise ScenarioError(file, problems)
    return ResolvedScenario(
        scenario=scenario, overrides=ov, dt=dt, simtime=simtime, seed=seed,
        scale=scale if file_scenario is None else scenario.sonata.column.cells / file_scenario.sonata.column.cells,
        populations=pops, projections=projections, notes=notes, cut=cut, file_scenario=file_scenario,
    )


def _column_at(scenario: Scenario, ov: Overrides, file: str) -> Scenario:
    """The scenario with its built column at N_pop cells, or at scale x the file's cells."""
    from .model import COLUMN_CELLS

    key = "N_pop" if ov.N_pop is not None else "scale"
    given = scenario.sonata.column.cells
    cells = ov.N_pop if ov.N_pop is not None else round(given * ov.scale) if ov.scale > 0 and math.isfinite(ov.scale) else 0
    low, high = COLUMN_CELLS
    if not low <= cells <= high:
        raise ScenarioError(file, [(key, f"the built column has {low} to {high:,} cells; {key} {getattr(ov, key)} "
                                         f"asks for {cells}")])
    return column_scenario(scenario, cells)


def _slice(scenario: Scenario, pops: dict[str, ResolvedPopulation], text: str, file: str):
    """The populations a SONATA slice keeps (sized by their kept nodes; empty ones dropped)."""
    from ..sonata.files import SonataError
    from ..sonata.slicing import cut, parse_slice

    try:
        kept, how = cut(scenario, parse_slice(text))
    except SonataError as exc:
        raise ScenarioError(exc.file, [(exc.where, exc.why)]) from None
    except ValueError as exc:
        raise ScenarioError(file, [("slice", str(exc))]) from None
    out = {}
    for name, pop in pops.items():
        if name not in kept:
            out[name] = pop
        elif kept[name].size:
            out[name] = ResolvedPopulation(name=name, spec=pop.spec, size=int(kept[name].size), base_size=pop.base_size,
                                           node_ids=kept[name])
    if not any(not p.is_source for p in out.values()):
        raise ScenarioError(file, [("slice", f"{text!r} keeps no cell")])
    return out, how


def _with_final_weights(proj: Projection, simtime: float) -> Projection:
    """The plastic projection recording every synapse's weight at simtime too (Overrides.final_weights)."""
    rec = proj.record.weights
    if rec is None:
        rec = WeightRecord(times=[simtime], max_synapses=EVERY_SYNAPSE)
    else:
        tol = _STEP_TOLERANCE * simtime
        times = [t for t in rec.times if t < simtime - tol] + [simtime]
        rec = rec.model_copy(update={"times": times, "max_synapses": EVERY_SYNAPSE})
    return proj.model_copy(update={"record": proj.record.model_copy(update={"weights": rec})})


def _weight_record_problems(path: str, proj: Projection, dt: float, simtime: float) -> list[tuple[str, str]]:
    """Recording times of a projection's weights must lie in [0, simtime] on the dt grid."""
    spec = proj.record.weights
    if spec is None:
        return []
    for t in spec.times:
        if t > simtime + _STEP_TOLERANCE * simtime:
            return [(path, f"recording time {t} ms is after simtime ({simtime} ms)")]
        if abs(t / dt - round(t / dt)) > _STEP_TOLERANCE * max(1.0, t / dt):
            return [(path, f"recording time {t} ms is not a multiple of dt ({dt} ms)")]
    return []


def _count(n: float) -> str:
    try:
        return f"{float(n):.3g}"
    except OverflowError:
        return "more than 1e308"


def _scale_in_degree(conn: Any, k_s: float) -> Any:
    """The connector with every in-degree multiplied by k_s."""
    if k_s == 1.0:
        return conn
    if isinstance(conn, FixedProbability):
        if conn.p * k_s > 1:
            raise ValueError(f"k_scale {k_s} makes p = {conn.p * k_s:.3g} > 1")
        return conn.model_copy(update={"p": conn.p * k_s})
    if isinstance(conn, (FixedInDegree, FixedTotalNumber, GaussianInDegree)):
        return conn.model_copy(update={"n": int(round(conn.n * k_s))})
    if isinstance(conn, OneToOne):
        return conn  # in-degree 1 by construction: a per-cell drive, left as it is
    raise ValueError(f"the in-degree of a {conn.type} connector cannot be scaled (k_scale {k_s})")


def _mean(value: Any) -> float:
    return float(value) if isinstance(value, (int, float)) else float(value.mean)


# The charge one synaptic event brings, per unit of weight and of tau_syn (nA ms / (nA ms)): an
# exponential current decays from its weight, an alpha current peaks at it (integral w e tau).
PSC_CHARGE_PER_WEIGHT_TAU = {"IF_curr_exp": 1.0, "IF_curr_alpha": math.e}


def _dc_compensation(scenario: Scenario, pops: dict[str, ResolvedPopulation], k_s: float) -> list[str]:
    """Add to each population's i_offset the mean input its scaled-down in-degrees lose (in place).

    Only current-based cells with exponential or alpha PSCs are compensated: a conductance's mean
    current depends on v, and the other types have no synaptic time constant pair (noted).
    one_to_one projections keep their in-degree under k_scale, so they lose nothing."""
    rates = scenario.scaling.full_scale_rates_hz
    extra: dict[str, float] = {}
    skipped: set[str] = set()
    for proj in scenario.projections:
        post_spec, pre_spec = scenario.populations[proj.post], scenario.populations[proj.pre]
        if isinstance(proj.connector, OneToOne):
            continue
        if isinstance(pre_spec, PoissonSourcePopulation):
            nu = pre_spec.parameters.rate
        elif proj.pre in rates:
            nu = rates[proj.pre]
        else:
            continue
        charge = PSC_CHARGE_PER_WEIGHT_TAU.get(post_spec.cell_type)
        if charge is None:
            skipped.add(proj.post)
            continue
        k_full = expected_connections(proj.connector, pre_spec.size, post_spec.size, proj.pre == proj.post) / post_spec.size
        tau = post_spec.parameters.tau_syn_E if proj.receptor == "excitatory" else post_spec.parameters.tau_syn_I
        extra[proj.post] = (extra.get(proj.post, 0.0)
                            + 1e-3 * charge * tau * (1 - math.sqrt(k_s)) * _mean(proj.weight) * k_full * nu)
    notes = [f"{name}: no DC compensation for k_scale {k_s:g}: {scenario.populations[name].cell_type} is not a "
             f"current-based cell with exponential or alpha PSCs ({', '.join(PSC_CHARGE_PER_WEIGHT_TAU)})"
             for name in sorted(skipped)]
    for name, d_i in extra.items():
        pop = pops[name]
        params = pop.spec.parameters
        spec = pop.spec.model_copy(update={"parameters": params.model_copy(update={"i_offset": params.i_offset + d_i})})
        pops[name] = ResolvedPopulation(name=name, spec=spec, size=pop.size, base_size=pop.base_size, grid_shape=pop.grid_shape)
        notes.append(f"{name}: i_offset {params.i_offset:g} -> {params.i_offset + d_i:.4g} nA (DC compensation for k_scale {k_s:g})")
    return notes


def _scale_connector(proj: Projection, pre: ResolvedPopulation, post: ResolvedPopulation, hold: str):
    """Return the connector for the scaled sizes and the in-degree scale factor K_new / K_base."""
    conn = proj.connector
    r_pre = pre.size / pre.base_size
    r_post = post.size / post.base_size
    if isinstance(conn, FixedProbability):
        if hold == "probability" or r_pre == 1.0:
            return conn, r_pre
        p = conn.p / r_pre
        if p > 1:
            raise ValueError(f"holding the in-degree at this N_pop needs p = {p:.3g} > 1")
        return conn.model_copy(update={"p": p}), 1.0
    if isinstance(conn, FixedInDegree):
        if hold == "in_degree" or r_pre == 1.0:
            n = conn.n
        else:
            n = int(round(conn.n * r_pre))
        same_pop = proj.pre == proj.post
        available = pre.size - (1 if same_pop and not conn.allow_self_connections else 0)
        if not conn.with_replacement and n > available:
            raise ValueError(f"in-degree {n} without replacement exceeds the {available} available pre cells")
        return conn.model_copy(update={"n": n}), (n / conn.n if conn.n else 1.0)
    if isinstance(conn, FixedTotalNumber):
        n = conn.n * (r_pre * r_post if hold == "probability" else r_post)
        n = int(round(n))
        return conn.model_copy(update={"n": n}), (r_pre if hold == "probability" else 1.0)
    if isinstance(conn, OneToOne):
        if pre.size != post.size:
            raise ValueError(f"one_to_one needs equal sizes after scaling, got {pre.size} and {post.size}")
        return conn, 1.0
    if isinstance(conn, GaussianInDegree):
        return conn, 1.0  # distance-dependent connectors keep their in-degree
    if isinstance(conn, AllToAll):
        return conn, r_pre
    if isinstance(conn, SonataEdges):
        return conn, 1.0  # given by the file; a slice selects nodes, it does not scale
    if isinstance(conn, FromList):
        if r_pre != 1.0 or r_post != 1.0:
            raise ValueError("an explicit connection list cannot be scaled; run this scenario at its own size")
        return conn, 1.0
    raise TypeError(conn)
