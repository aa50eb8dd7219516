"""Cost models: per backend and phase, time (ms) or memory (MiB) as a linear model of size terms.

The seed model is the one the OpSNN measurements fitted (PyNN on NEST and SpiNNaker):

    T = a N + b N simtime / 1000                       (ms; N = N_pop, simtime in ms)

Richer candidates add a constant, a cost per time step (a term in simtime alone: a
clock-driven simulator pays a fixed overhead every step, whatever N is; Brian2's runtime
device ~30 us a step here), the number of synapses, and the number of spikes (a
candidate whose terms are nearly collinear in the data, e.g. synapses = K N when the in-degree
is held, is not fitted: its coefficients would mean nothing). Each is
fitted by ordinary least squares (statsmodels) on every successful run of the backend (repeats
are separate observations, so the residual variance includes the machine's spread), and the
candidate with the lowest AIC is chosen among the physically plausible ones. A candidate is set
aside (unless none is plausible) if a term's 95 % interval lies entirely below zero (a negative
fixed cost, or more work costing less: terms that trade off because they are collinear in the
design, e.g. spikes ~ r N simtime wherever the network is active), or if it predicts a negative
cost at a size that was measured. Confidence intervals use the heteroscedasticity-robust
HC3 covariance (a run's spread grows with its duration). Reported: coefficients with 95 % CIs,
R^2 (centred, also for models without a constant, so that candidates compare), AIC, residual
checks (Jarque-Bera normality, Breusch-Pagan heteroscedasticity where there is a constant), and
predictions with 95 % prediction intervals.

For the phases that code generation touches (compile, build, total, memory), runs whose
backend reports a cold or partly cold code cache (`backend_info.compile_cache`; e.g. Brian2's
first run at a new size compiles for tens of seconds, partly inside its build phase, and its
compiler processes raise the peak memory) are left out by default: cold and warm costs are
different quantities (docs/design.md). The sim and write phases use every run. `include_cold=True`
keeps them everywhere.

What plasticity costs: a configuration run with `--static-synapses` (plasticity off) is a
configuration of its own ("numba static synapses"), fitted apart like any other. Where the same
configuration was also run with its plasticity on, the two are fitted together as well (sim
phase; `fit_report`'s "plasticity" models): the candidates then include a term per plastic
synaptic event (the run record's `plastic_synaptic_events`: events of plastic projections, 0 in
the static runs), which the static runs make identifiable; beside the events term it is the
extra cost of an event that updates a weight. A candidate with that term is fitted only on such
a mix: on plastic runs alone it is nearly proportional to the events term.

Predictions at sizes that were not run need the synapse and spike counts there: they are
modelled from the same backend's runs as synapses = k1 N + k2 N^2 (k >= 0) and spikes =
r N simtime / 1000 (r: spikes per neuron-second; from the plastic runs where a fit mixes plastic
and static ones). Crossovers are the N at which one backend's predicted cost meets another's, for
a given simtime.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from .record import RunRecord, as_run_records, configuration_labels, is_static, plastic_twin

PHASES = ("build", "compile", "sim", "write", "total", "memory")
UNITS = {"memory": "MiB"}  # every other phase: ms

# Terms of the design matrix, computed from a run's figures (N, simtime ms, synapses, spikes).
TERMS = {
    "const": lambda d: np.ones_like(d["N"]),
    "N": lambda d: d["N"],
    "simtime": lambda d: d["simtime"],
    "N*simtime": lambda d: d["N"] * d["simtime"],
    "synapses": lambda d: d["synapses"],
    "spikes": lambda d: d["spikes"],
    "events": lambda d: d["events"],
    "plastic events": lambda d: d["plastic_events"],
}
TERM_LABELS = {"const": "1", "N": "N_pop", "simtime": "simtime", "N*simtime": "N_pop * simtime", "synapses": "synapses",
               "spikes": "spikes", "events": "synaptic events", "plastic events": "plastic synaptic events"}
PLASTIC_TERM = "plastic events"

TIME_CANDIDATES = {
    "seed (a N + b N T)": ["N", "N*simtime"],
    "seed + constant": ["const", "N", "N*simtime"],
    "+ per step": ["const", "simtime", "N", "N*simtime"],
    "+ synapses": ["const", "N", "synapses", "N*simtime"],
    "+ spikes": ["const", "N", "N*simtime", "spikes"],
    "+ per step + spikes": ["const", "simtime", "N", "N*simtime", "spikes"],
    "+ synapses + spikes": ["const", "N", "synapses", "N*simtime", "spikes"],
    # per cell and ms, and per synaptic event (spike x out-degree, the run record's count): they
    # tell apart at one simtime too, where N and N x simtime cannot
    "synaptic events": ["const", "events"],
    "per cell-ms + synaptic events": ["const", "N*simtime", "events"],
    "synapses + per cell-ms + synaptic events": ["const", "synapses", "N*simtime", "events"],
    # the extra cost of an event of a plastic projection (the weight update): only with plastic and
    # static runs of one configuration fitted together (`plasticity_models`)
    "synaptic events + plastic events": ["const", "events", PLASTIC_TERM],
    "per cell-ms + synaptic events + plastic events": ["const", "N*simtime", "events", PLASTIC_TERM],
}
# Building depends on the network, not on how long it runs: models without simtime beside the
# time models (a sweep at one simtime can fit only these).
BUILD_CANDIDATES = {
    **TIME_CANDIDATES,
    "constant + synapses": ["const", "synapses"],
    "constant + N + synapses": ["const", "N", "synapses"],
}
MEMORY_CANDIDATES = {
    "a N": ["N"],
    "constant + a N": ["const", "N"],
    "constant + N + synapses": ["const", "N", "synapses"],
    "constant + N + synapses + spikes": ["const", "N", "synapses", "spikes"],
}


# ------------------------------------------------------------------------------ data


def configuration(record: RunRecord | dict[str, Any]) -> str:
    """The short name of one run's configuration: backend, @threads (if not 1), [options].

    For a set of runs use `Configurations`, which adds what tells configurations apart when
    two would read the same (version, format, machine...).
    """
    record = RunRecord.from_json(record)
    return configuration_labels([record])[record.configuration_key(size=False, seed=False)]


class Configurations:
    """What a cost model describes: one configuration of `RunRecord.configuration_key` without
    the size (N_pop and simtime are the model's variables) and the seed (seeds pool as repeats).

    numba with 2 threads and numba with 1, or the same backend on two machines or at two
    versions, are different configurations, fitted apart. Called with a record: its label.
    """

    def __init__(self, records: list[RunRecord]):
        self.labels = configuration_labels(records, size=False, seed=False)

    def __call__(self, record: RunRecord) -> str:
        return self.labels[record.configuration_key(size=False, seed=False)]


_TOTAL_PHASES = ("compile", "realise", "build", "sim", "collect", "write")


def frame(records: list[RunRecord], label: Configurations | None = None) -> pd.DataFrame:
    """One row per ok run: configuration, N, simtime (ms), synapses, spikes, and y per phase
    (ms; memory in MiB; NaN where the run has no such phase)."""
    label = label or Configurations(records)
    rows = []
    for r in records:
        if not r.ok:
            continue
        row = {"configuration": label(r), "N": r.resolved.N_pop, "simtime": r.resolved.simtime, "synapses": r.synapses,
               "spikes": sum(p.estimated_spikes for p in r.cell_populations.values()),
               "events": float("nan") if r.synaptic_events is None else r.synaptic_events,
               "plastic_events": float("nan") if r.plastic_synaptic_events is None else r.plastic_synaptic_events,
               "static": r.static_synapses,
               "memory": r.peak_rss_bytes / 2**20,
               "total": sum(r.wall_s(p) or 0.0 for p in _TOTAL_PHASES) * 1000,
               **{f"warm:{phase}": is_warm(r, phase) for phase in ("compile", "build", "total")},
               "partial": (r.backend_info or {}).get("compile_cache") == "partial"}
        for name, p in r.phases.items():
            if name not in row:
                row[name] = p.wall_s * 1000
        rows.append(row)
    columns = ["configuration", "N", "simtime", "synapses", "spikes", "events", "plastic_events", "memory", "total"]
    return pd.DataFrame(rows, columns=None if rows else columns)


def observations(records: list[RunRecord] | pd.DataFrame, phase: str) -> dict[str, np.ndarray]:
    """Arrays of N, simtime (ms), synapses, spikes and y (ms, or MiB for memory) from ok runs."""
    df = records if isinstance(records, pd.DataFrame) else frame(as_run_records(records))
    if phase not in df.columns:
        df = df.iloc[0:0].assign(**{phase: []})
    df = df.dropna(subset=[phase])
    out = {k: df[k].to_numpy(dtype=float) if k in df.columns else np.full(len(df), np.nan)
           for k in ("N", "simtime", "synapses", "spikes", "events", "plastic_events")}
    out["static"] = df["static"].to_numpy(dtype=bool) if "static" in df.columns else np.zeros(len(df), bool)
    out["y"] = df[phase].to_numpy(dtype=float)
    return out


def design_matrix(data: dict[str, np.ndarray], terms: list[str]) -> np.ndarray:
    return np.column_stack([TERMS[t](data) for t in terms])


# ------------------------------------------------------------------------------ models


@dataclass
class Coefficient:
    term: str
    value: float
    ci_low: float
    ci_high: float
    p_value: float


@dataclass
class FittedModel:
    backend: str  # the configuration's label (`Configurations`): backend, @threads, [options]...
    phase: str
    name: str
    terms: list[str]
    coefficients: list[Coefficient]
    r2: float
    aic: float
    n: int
    residual_sd: float
    checks: dict[str, float] = field(default_factory=dict)
    candidates: dict[str, dict[str, float]] = field(default_factory=dict)  # name -> {aic, r2}
    helpers: dict[str, float] = field(default_factory=dict)  # synapse and spike models for prediction
    selection: str = "warm"  # the runs fitted, for the phases code generation touches: warm, partial or all
    note: str = ""  # how the runs were chosen, when not as usual
    _result: Any = field(default=None, repr=False)

    @property
    def unit(self) -> str:
        return UNITS.get(self.phase, "ms")

    def formula(self) -> str:
        """'sim time (ms) = 2.84e-3 * N_pop * simtime + 1.2e-2 * N_pop + 35'"""
        quantity = "peak memory" if self.phase == "memory" else f"{self.phase} time"
        parts = []
        for c in self.coefficients:
            value = f"{c.value:.3g}"
            parts.append(value if c.term == "const" else f"{value} * {TERM_LABELS[c.term]}")
        text = " + ".join(parts).replace("+ -", "- ")
        return f"{quantity} ({self.unit}) = {text}"

    def predict(self, N: float | np.ndarray, simtime: float | np.ndarray, alpha: float = 0.05) -> dict[str, np.ndarray]:
        """Mean and 95 % prediction interval at (N, simtime), with synapses and spikes modelled."""
        N = np.atleast_1d(np.asarray(N, dtype=float))
        simtime = np.broadcast_to(np.asarray(simtime, dtype=float), N.shape)
        data = {"N": N, "simtime": simtime,
                "synapses": self.helpers.get("k1", 0.0) * N + self.helpers.get("k2", 0.0) * N**2,
                "spikes": self.helpers.get("rate", 0.0) * N * simtime / 1000.0,
                "events": self.helpers.get("event_rate", 0.0) * N * simtime / 1000.0,
                "plastic_events": self.helpers.get("plastic_event_rate", 0.0) * N * simtime / 1000.0}
        frame = self._result.get_prediction(design_matrix(data, self.terms)).summary_frame(alpha=alpha)
        return {"mean": frame["mean"].to_numpy(), "low": frame["obs_ci_lower"].to_numpy(), "high": frame["obs_ci_upper"].to_numpy()}

    def as_dict(self) -> dict[str, Any]:
        return {
            "backend": self.backend, "phase": self.phase, "unit": self.unit, "model": self.name, "terms": self.terms,
            "formula": self.formula(), "r2": self.r2, "aic": self.aic, "n": self.n, "residual_sd": self.residual_sd,
            "coefficients": [c.__dict__ for c in self.coefficients], "checks": self.checks,
            "candidates": self.candidates, "helpers": self.helpers, "selection": self.selection, "note": self.note,
        }


def _centred_r2(y: np.ndarray, fitted: np.ndarray) -> float:
    ss_tot = float(np.sum((y - y.mean()) ** 2))
    return 1.0 - float(np.sum((y - fitted) ** 2)) / ss_tot if ss_tot > 0 else float("nan")


MAX_CONDITION = 1e3


def _collinear(X: np.ndarray) -> bool:
    """True when the design (columns scaled to unit length) is rank-deficient or ill-conditioned."""
    norms = np.linalg.norm(X, axis=0)
    if np.any(norms == 0):
        return True
    return bool(np.linalg.cond(X / norms) > MAX_CONDITION)


def _mixes_plasticity(data: dict[str, np.ndarray]) -> bool:
    """Plastic runs with plastic events and static runs (--static-synapses, none): the plastic term is identifiable."""
    plastic, static = data["plastic_events"], data["static"]
    return bool(np.isfinite(plastic).all() and static.any() and (plastic[~static] > 0).any())


def _helpers(data: dict[str, np.ndarray]) -> dict[str, float]:
    """Synapses = k1 N + k2 N^2 (non-negative least squares); spikes, synaptic events and plastic
    events per neuron-second (of the plastic runs, where plastic and static runs are fitted together:
    the predictions are the plastic network's, whose activity plasticity changes)."""
    from scipy.optimize import nnls

    N = data["N"]
    (k1, k2), _ = nnls(np.column_stack([N, N**2]), data["synapses"])
    runs = ~data["static"] if _mixes_plasticity(data) else np.ones(N.size, bool)

    def per_neuron_second(values: np.ndarray) -> float:
        neuron_seconds = (N * data["simtime"] / 1000.0)[runs]
        values = values[runs]
        return float(values.sum() / neuron_seconds.sum()) if neuron_seconds.sum() > 0 and np.isfinite(values).all() else 0.0

    return {"k1": float(k1), "k2": float(k2), "rate": per_neuron_second(data["spikes"]),
            "event_rate": per_neuron_second(data["events"]), "plastic_event_rate": per_neuron_second(data["plastic_events"])}


def fit_phase(records: list[RunRecord | dict[str, Any]] | pd.DataFrame, backend: str, phase: str) -> FittedModel | None:
    """The AIC-best candidate model for one configuration (its label) and phase; None with too few distinct points."""
    import statsmodels.api as sm
    from statsmodels.stats.diagnostic import het_breuschpagan
    from statsmodels.stats.stattools import jarque_bera

    df = records if isinstance(records, pd.DataFrame) else frame(as_run_records(records))
    data = observations(df[df["configuration"] == backend] if len(df) else df, phase)
    y = data["y"]
    if y.size < 3:
        return None
    if phase != "memory" and float(np.max(y)) < 1.0:
        return None  # a phase the backend does not have (NEST's compile): nothing to model
    candidates = {"memory": MEMORY_CANDIDATES, "build": BUILD_CANDIDATES, "compile": BUILD_CANDIDATES}.get(phase, TIME_CANDIDATES)
    # a plastic and a static run of one size are two points of the design (their plastic events differ)
    distinct_sizes = len({(n, t, static) for n, t, static in zip(data["N"], data["simtime"], data["static"])})
    fitted = []
    scores = {}
    for name, terms in candidates.items():
        X = design_matrix(data, terms)
        if not np.isfinite(X).all():
            continue  # older records without a synaptic-event count
        if PLASTIC_TERM in terms and not _mixes_plasticity(data):
            continue  # on plastic runs alone, plastic events are nearly a fixed share of all events
        # a model needs more distinct (N, simtime) points than terms, and a well-conditioned design:
        # with the in-degree held, synapses are ~ K N, and with steady rates spikes ~ r N T, so
        # such terms can be collinear and their coefficients meaningless
        if distinct_sizes <= len(terms) or y.size <= len(terms) + 1 or _collinear(X):
            continue
        # OLS estimates; HC3 (heteroscedasticity-robust) covariance for the intervals: run time
        # spreads grow with the time itself, which plain OLS standard errors would ignore.
        result = sm.OLS(y, X).fit(cov_type="HC3")
        r2 = _centred_r2(y, result.fittedvalues)
        upper = result.conf_int(alpha=0.05)[:, 1]
        plausible = all(u >= 0 for u in upper) and bool(np.all(result.fittedvalues >= 0))
        scores[name] = {"aic": float(result.aic), "r2": r2, "plausible": plausible}
        fitted.append((plausible, result.aic, name, terms, result, r2))
    if not fitted:
        return None
    pool = [f for f in fitted if f[0]] or fitted
    _, _, name, terms, result, r2 = min(pool, key=lambda f: f[1])
    ci = result.conf_int(alpha=0.05)
    coefficients = [Coefficient(t, float(result.params[i]), float(ci[i, 0]), float(ci[i, 1]), float(result.pvalues[i]))
                    for i, t in enumerate(terms)]
    resid = result.resid
    checks = {"Jarque-Bera normality p": float(jarque_bera(resid)[1])}
    if "const" in terms and len(terms) > 1:
        checks["Breusch-Pagan heteroscedasticity p"] = float(het_breuschpagan(resid, design_matrix(data, terms))[1])
    return FittedModel(
        backend=backend, phase=phase, name=name, terms=terms, coefficients=coefficients, r2=r2, aic=float(result.aic),
        n=int(y.size), residual_sd=float(np.sqrt(result.scale)), checks=checks, candidates=scores,
        helpers=_helpers(data), _result=result,
    )


def no_model_reason(records: pd.DataFrame, backend: str, phase: str) -> str:
    """Why `fit_phase` finds no model for this configuration and phase (the same rules, in words)."""
    data = observations(records[records["configuration"] == backend] if len(records) else records, phase)
    y = data["y"]
    if y.size < 3:
        return f"{y.size} run(s) with this phase: a model needs at least 3"
    if phase != "memory" and float(np.max(y)) < 1.0:
        return "the phase takes under 1 ms: nothing to model"
    sizes = sorted({(n, t) for n, t in zip(data["N"], data["simtime"])})
    simtimes = sorted({t for _, t in sizes})
    if phase != "memory" and len(simtimes) == 1 and len(sizes) > 2:
        return (f"measured at one simtime only ({simtimes[0]:g} ms): every time model has N_pop and N_pop x simtime, "
                "which one simtime cannot tell apart (sweep simtime too)")
    if len(sizes) <= 2:
        where = ", ".join(f"N_pop {n:,.0f} x {t:g} ms" for n, t in sizes)
        return f"measured at {len(sizes)} size(s) only ({where}): too few for any model"
    return "every candidate model is ill-conditioned on these sizes (collinear terms)"


COLD_SENSITIVE = ("compile", "build", "total", "memory")
_SELECTION_NOTES = {
    "partial": "no run with a warm code cache: fitted on the {n} runs that regenerated part of their code (partial "
               "cache), {left} fully cold runs left out",
    "all": "every run compiled its code from scratch (cold cache): fitted on them",
}


def cost_rows(df: pd.DataFrame, configuration: str, phase: str, include_cold: bool = False) -> tuple[pd.DataFrame, str]:
    """The runs of one configuration that measure its cost in `phase`, and which they are.

    For the phases code generation touches: the warm runs; a configuration with none (Brian2's
    standalone device regenerates part of its code for every network) is what it costs with
    its code generation: its runs with a partial cache (its steady state), else every run.
    """
    rows = df[df["configuration"] == configuration] if len(df) else df
    if phase not in COLD_SENSITIVE or include_cold or not len(rows):
        return rows, "all" if include_cold and phase in COLD_SENSITIVE else "warm"
    warm = rows[rows[f"warm:{'total' if phase == 'memory' else phase}"].astype(bool)]
    if len(warm):
        return warm, "warm"
    partial = rows[rows["partial"].astype(bool)]
    return (partial, "partial") if len(partial) else (rows, "all")


def fit_all(records: list[RunRecord | dict[str, Any]], phases: tuple[str, ...] = PHASES, include_cold: bool = False) -> list[FittedModel]:
    records = [r for r in as_run_records(records) if r.ok]
    every = frame(records, Configurations(records))
    models = []
    for backend in sorted(every["configuration"].unique()) if len(every) else []:
        for phase in phases:
            rows, selection = cost_rows(every, backend, phase, include_cold)
            model = fit_phase(rows, backend, phase)
            if model is None:
                continue
            model.selection = selection
            if include_cold and phase in COLD_SENSITIVE:
                model.note = "runs with a cold code cache included (--include-cold)"
            elif selection in _SELECTION_NOTES:
                total = int((every["configuration"] == backend).sum())
                model.note = _SELECTION_NOTES[selection].format(n=len(rows), left=total - len(rows))
            models.append(model)
    return models


# Plasticity's cost is in the simulation loop (a weight update per plastic event, the post spikes'
# traces); building the plastic synapses is a cost of synapses, fitted per configuration.
PLASTICITY_PHASES = ("sim",)


def plasticity_models(records: list[RunRecord | dict[str, Any]], phases: tuple[str, ...] = PLASTICITY_PHASES) -> list[FittedModel]:
    """Per configuration run with plasticity on and off (--static-synapses): its plastic and static
    runs fitted together, so that the candidate with a term per plastic synaptic event can be
    fitted (the static runs have none). Labelled with the plastic configuration's name."""
    records = [r for r in as_run_records(records) if r.ok]
    label = Configurations(records)
    keys = set(label.labels)
    df = frame(records, label)
    models = []
    for key in sorted(keys):
        if not is_static(key) or plastic_twin(key) not in keys:
            continue
        plastic, static = label.labels[plastic_twin(key)], label.labels[key]
        rows = df[df["configuration"].isin([plastic, static])]
        counts = rows["configuration"].value_counts()
        for phase in phases:
            model = fit_phase(rows.assign(configuration=plastic), plastic, phase)
            if model is None:
                continue
            model.note = (f"its plastic runs ({counts.get(plastic, 0)}) and static runs ({counts.get(static, 0)}, "
                          "--static-synapses) fitted together")
            models.append(model)
    return models


def plastic_event_cost(model: FittedModel) -> Coefficient | None:
    """The model's cost per plastic synaptic event (ms), where its 95 % interval lies above zero."""
    return next((c for c in model.coefficients if c.term == PLASTIC_TERM and c.ci_low > 0), None)


def model_points(df: pd.DataFrame, model: FittedModel) -> pd.DataFrame:
    """The rows of `frame` that `model` was fitted on (`cost_rows` with the model's selection)."""
    return cost_rows(df, model.backend, model.phase, include_cold=model.selection == "all")[0]


MAX_FACTOR = 1.5


def holds(model: FittedModel, points: pd.DataFrame) -> tuple[bool, str]:
    """Whether `model` describes `points` (`model_points` rows, or a slice of them).

    It holds when the median at each measured (N, simtime) lies inside the 95 % prediction
    interval, allowing one point in ten (at least one) just outside it (the interval is for a
    single run: chance alone puts some medians out), but none further from the model than twice
    the interval's half-width, and the model is within a factor of `MAX_FACTOR` of every median
    (the interval assumes one spread for all sizes, so at the small end, where costs are small,
    it can hold a line that is visibly off by several times). R^2 is not a criterion: a cost that hardly changes with size
    (a fixed compile step) has an R^2 near 0 under a model that describes it well; it is stated
    beside the model wherever the model is shown. Returns (True, "") or (False, the reason in
    words, naming the worst miss).
    """
    rows = points.dropna(subset=[model.phase]) if model.phase in points.columns else points.iloc[0:0]
    if not len(rows):
        return True, ""
    medians = rows.groupby(["N", "simtime"])[model.phase].median()
    N = medians.index.get_level_values("N").to_numpy(dtype=float)
    T = medians.index.get_level_values("simtime").to_numpy(dtype=float)
    pred = model.predict(N, T)
    y = medians.to_numpy(dtype=float)
    outside = (y < pred["low"]) | (y > pred["high"])
    half_width = np.where(y > pred["mean"], pred["high"] - pred["mean"], pred["mean"] - pred["low"])
    far = np.abs(y - pred["mean"]) > 2 * half_width
    factor = np.where(pred["mean"] > 0, y / np.maximum(pred["mean"], 1e-12), np.inf)
    off = (factor > MAX_FACTOR) | (factor < 1 / MAX_FACTOR)
    if off.any():
        k = int(np.argmax(np.abs(np.log(np.clip(factor, 1e-12, 1e12))) * off))
        return False, (f"at N_pop {N[k]:,.0f}, {T[k]:g} ms the model gives {pred['mean'][k]:.3g} {model.unit} against a "
                       f"measured median of {y[k]:.3g} (more than {MAX_FACTOR:g}x off)")
    if not far.any() and outside.sum() <= max(1, int(0.1 * y.size)):
        return True, ""
    k = int(np.argmax(np.abs(y - pred["mean"]) / np.maximum(half_width, 1e-12) * outside))
    return False, (f"{int(outside.sum())} of {y.size} measured medians outside its 95 % prediction interval "
                   f"(worst: N_pop {N[k]:,.0f}, {T[k]:g} ms: measured {y[k]:.3g} {model.unit}, "
                   f"model {pred['mean'][k]:.3g} [{pred['low'][k]:.3g}, {pred['high'][k]:.3g}])")


# ------------------------------------------------------------------------------ crossovers


@dataclass
class Crossover:
    phase: str
    simtime: float
    backend_a: str
    backend_b: str
    N: float | None  # where their predicted costs meet (None: they do not, in the range)
    cheaper_above: str | None  # the backend that is cheaper above N
    range_N: tuple[float, float]
    note: str

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def crossovers(models: list[FittedModel], simtimes: list[float], phases: tuple[str, ...] = ("sim", "total", "memory"),
               span: float = 1.0) -> list[Crossover]:
    """For each pair of backends, phase and simtime: the N at which their predicted costs cross.

    The search runs over the N range both backends were measured in (widened by `span` on each
    side, log scale; 1: no extrapolation, the default).
    """
    from scipy.optimize import brentq

    out = []
    by_key = {(m.backend, m.phase): m for m in models}
    backends = sorted({m.backend for m in models})
    for phase in phases:
        for i, a in enumerate(backends):
            for b in backends[i + 1:]:
                ma, mb = by_key.get((a, phase)), by_key.get((b, phase))
                if ma is None or mb is None:
                    continue
                lo = max(ma.helpers.get("N_min", 100.0), mb.helpers.get("N_min", 100.0)) / span
                hi = min(ma.helpers.get("N_max", 1e4), mb.helpers.get("N_max", 1e4)) * span
                if hi <= lo:
                    continue
                grid = np.geomspace(max(lo, 1.0), hi, 400)
                for simtime in simtimes:
                    def diff(n):
                        return float(ma.predict(n, simtime)["mean"][0] - mb.predict(n, simtime)["mean"][0])
                    values = ma.predict(grid, simtime)["mean"] - mb.predict(grid, simtime)["mean"]
                    signs = np.sign(values)
                    changes = np.nonzero(signs[:-1] * signs[1:] < 0)[0]
                    if changes.size == 0:
                        cheaper = a if values[-1] < 0 else b
                        out.append(Crossover(phase, simtime, a, b, None, cheaper, (float(grid[0]), float(grid[-1])),
                                             f"{cheaper} is cheaper over the measured range "
                                             f"(N {grid[0]:,.0f}-{grid[-1]:,.0f})"))
                        continue
                    for k in changes:
                        n = brentq(diff, grid[k], grid[k + 1])
                        cheaper = a if values[k + 1] < 0 else b
                        out.append(Crossover(phase, simtime, a, b, float(n), cheaper, (float(grid[0]), float(grid[-1])),
                                             f"above N = {n:,.0f}, {cheaper} is cheaper"))
    return out


def is_warm(record: RunRecord, phase: str = "total") -> bool:
    """False when code was generated or compiled in `phase` of this run (not served by a cache).

    compile: the backend's `compile_cache` is cold or partial; build: the backend compiled
    modules while building (Brian2's runtime device compiles its connect and initialisation code
    there: `build_modules_compiled`); total and memory (compiler processes): either.
    """
    info = record.backend_info or {}
    compile_warm = info.get("compile_cache", "warm") == "warm"
    build_warm = not info.get("build_modules_compiled")
    if phase == "compile":
        return compile_warm
    if phase == "build":
        return build_warm
    if phase in ("total", "memory"):
        return compile_warm and build_warm
    return True


def fit_report(records: list[RunRecord | dict[str, Any]], scenario: str | None = None,
               phases: tuple[str, ...] = PHASES, include_cold: bool = False) -> dict[str, Any]:
    """Everything `snnbench fit` prints: models per configuration and phase, and crossovers."""
    records = [r for r in as_run_records(records) if r.kind == "run" and r.ok and (scenario is None or r.scenario == scenario)]
    cold = [r for r in records if not is_warm(r, "total")]
    scenarios = sorted({r.scenario for r in records})
    if len(scenarios) > 1:
        raise ValueError(f"runs of several scenarios ({', '.join(scenarios)}): choose one with --scenario")
    models = fit_all(records, phases, include_cold)
    plastic = plasticity_models(records, tuple(p for p in phases if p in PLASTICITY_PHASES))
    if models or plastic:  # the measured range, for extrapolation warnings and crossover searches
        sizes = frame(records).groupby("configuration")["N"].agg(["min", "max"])
        for m in models + plastic:
            m.helpers["N_min"], m.helpers["N_max"] = float(sizes.at[m.backend, "min"]), float(sizes.at[m.backend, "max"])
    simtimes = sorted({r.resolved.simtime for r in records})
    machines = sorted({r.machine_id for r in records}, key=str)
    return {
        "scenario": scenarios[0] if scenarios else scenario,
        "runs": len(records),
        "cold_runs_left_out": 0 if include_cold else len(cold),  # from the compile/build/total/memory fits
        "machines": machines,
        "simtimes": simtimes,
        "models": models,
        "crossovers": crossovers(models, simtimes) if models else [],
        "plasticity": plastic,  # plastic and static runs of one configuration together (`plasticity_models`)
    }


def format_ci(c: Coefficient) -> str:
    return f"{c.value:.3g} [{c.ci_low:.3g}, {c.ci_high:.3g}]"
