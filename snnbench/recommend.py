"""`snnbench recommend`: which backend for this scenario at this size, from the stored evidence.

The answer is assembled from three things already in a results store, and from nothing else:

- the cost models of `snnbench fit` (one per configuration and phase, `snnbench.fit`): the
  total time (compile + realise + build + sim + collect + write, warm code caches), the sim time
  and the peak memory predicted at the asked N_pop and simtime, each with its 95 % prediction
  interval (statsmodels' `get_prediction`);
- the latest validation verdict of each backend on the scenario (`validations.jsonl`, written by
  `snnbench validate`); the reference backend of those validations counts as validated;
- the failed runs, whose kinds and phases say where a backend breaks.

Configurations whose backend passed its latest validation (or is the reference) and that have a
total-time model are ranked, by predicted total time and by predicted sim time. Every other
configuration is listed apart with the reason (failed its validation, never validated, no
successful run, too few sizes for a model, or plasticity turned off: a `--static-synapses` run is
not the scenario's network). A prediction outside the N_pop or simtime range a
configuration was measured over says so and by how much; a model that misses the medians it was
fitted to says that too (`snnbench.fit.holds`). Predicted peak memory is compared with a budget:
this machine's RAM (psutil) or the one asked for.

The ranking logic lives here; `snnbench.present.recommend_lines` words it and `--json` prints
`Recommendation.as_dict()`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from .fit import Configurations, FittedModel, cost_rows, fit_report, frame, holds, no_model_reason
from .record import RunRecord, ValidationRecord, configuration_labels, is_static

RANKED_PHASES = ("total", "sim", "memory")
VALIDATED = ("PASS", "reference")


@dataclass
class Prediction:
    """A model's prediction at the asked size: mean and 95 % prediction interval."""

    phase: str
    unit: str  # ms, or MiB for memory
    mean: float
    low: float
    high: float
    r2: float
    model: str
    holds: bool  # the model describes the medians it was fitted to (fit.holds)
    why_not: str = ""
    note: str = ""

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class Verdict:
    """The latest validation of a backend on the scenario, as far as the store knows."""

    state: str  # PASS, FAIL, reference, never validated
    detail: str  # what, against what, when, at which size
    caveats: list[str] = field(default_factory=list)  # another version, another scenario content

    @property
    def validated(self) -> bool:
        return self.state in VALIDATED

    def as_dict(self) -> dict[str, Any]:
        return {"state": self.state, "detail": self.detail, "caveats": self.caveats}


@dataclass
class Option:
    """One configuration (backend, threads, options, format...) and what the store says of it."""

    configuration: str
    backend: str
    version: str
    runs_ok: int
    runs_failed: int
    N_range: tuple[float, float] | None
    simtime_range: tuple[float, float] | None
    predictions: dict[str, Prediction]
    missing: dict[str, str]  # phase -> why there is no model
    measured: dict[str, dict[str, float]]  # phase -> median, min, max, n: runs at exactly the asked size
    outside_range: list[str]  # how far the asked size lies outside the measured range
    memory: str  # fits / may not fit / does not fit / unknown, against the budget
    verdict: Verdict
    failures: list[str]
    apart: str | None = None  # why it is not ranked

    def value(self, phase: str) -> float | None:
        p = self.predictions.get(phase)
        return p.mean if p is not None else None

    def as_dict(self) -> dict[str, Any]:
        out = dict(self.__dict__)
        out["predictions"] = {k: v.as_dict() for k, v in self.predictions.items()}
        out["verdict"] = self.verdict.as_dict()
        return out


@dataclass
class Recommendation:
    scenario: str
    N_pop: int
    simtime: float
    runs_file: str
    validations_file: str
    memory_budget_bytes: float
    memory_source: str
    machines: list[dict[str, Any]]  # where the runs were measured (the predictions are for these)
    this_machine: str | None
    by_total: list[Option]
    by_sim: list[Option]
    apart: list[Option]
    answer: str
    notes: list[str]

    def as_dict(self) -> dict[str, Any]:
        out = {k: v for k, v in self.__dict__.items() if k not in ("by_total", "by_sim", "apart")}
        out["by_total"] = [o.as_dict() for o in self.by_total]
        out["by_sim"] = [o.configuration for o in self.by_sim]
        out["apart"] = [o.as_dict() for o in self.apart]
        return out


class NoRuns(ValueError):
    """The store has no run of the scenario (bad input: the message names the file)."""


# ------------------------------------------------------------------------------ verdicts


def verdicts(validations: list[ValidationRecord], scenario: str) -> tuple[dict[str, ValidationRecord], set[str]]:
    """The latest validation of each candidate backend on `scenario`, and the reference backends."""
    latest: dict[str, ValidationRecord] = {}
    references = set()
    for v in sorted((v for v in validations if v.scenario == scenario), key=lambda v: v.timestamp):
        latest[v.candidate] = v
        references.add(v.reference)
    return latest, references


def verdict_of(backend: str, version: str, scenario_hashes: set[str], latest: dict[str, ValidationRecord],
               references: set[str], where: str) -> Verdict:
    v = latest.get(backend)
    if v is None:
        if backend in references:
            return Verdict("reference", "the reference the other backends were validated against")
        return Verdict("never validated", f"no validation of {backend} on this scenario in {where}")
    size = f" at N_pop {v.get('N_pop'):,}, {v.get('simtime'):g} ms" if v.get("N_pop") and v.get("simtime") else ""
    detail = f"{v.tier} tier against {v.reference} {v.reference_version or ''}".rstrip() + f"{size} ({v.timestamp[:10]})"
    caveats = []
    if v.candidate_version and version and v.candidate_version != version:
        caveats.append(f"validated at version {v.candidate_version}, these runs are {version}")
    validated_hash = v.get("scenario_hash")
    if validated_hash and scenario_hashes and validated_hash not in scenario_hashes:
        caveats.append(f"validated on another content of the scenario (hash {validated_hash}; "
                       f"these runs: {', '.join(sorted(scenario_hashes))})")
    return Verdict("PASS" if v.passed else "FAIL", detail, caveats)


# ------------------------------------------------------------------------------ per configuration


def _outside(value: float, low: float, high: float, what: str, configuration: str) -> str | None:
    """'no runs of X above N_pop 8,000: 6,000 is ...' or None when inside [low, high]."""
    fmt = (lambda v: f"{v:,.0f}") if what == "N_pop" else (lambda v: f"{v:g} ms")
    if value > high:
        return (f"no runs of {configuration} above {what} {fmt(high)}: {fmt(value)} is {value / high:.3g}x the largest "
                f"measured; the prediction is an extrapolation")
    if value < low:
        return (f"no runs of {configuration} below {what} {fmt(low)}: {fmt(value)} is {low / value:.3g}x smaller than the "
                f"smallest measured; the prediction is an extrapolation")
    return None


def _measured_here(rows: pd.DataFrame, phase: str, N_pop: int, simtime: float) -> dict[str, float]:
    here = rows[(rows["N"] == N_pop) & (rows["simtime"] == simtime)][phase].dropna() if len(rows) else pd.Series(dtype=float)
    if here.empty:
        return {}
    return {"median": float(here.median()), "min": float(here.min()), "max": float(here.max()), "n": int(here.size)}


def _memory_verdict(prediction: Prediction | None, budget_bytes: float) -> str:
    if prediction is None:
        return "unknown (no memory model)"
    budget = budget_bytes / 2**20
    if prediction.high <= budget:
        return "fits"
    if prediction.mean <= budget:
        return "may not fit (the interval's upper end is above the budget)"
    return "does not fit"


def _failures(failed: list[RunRecord]) -> list[str]:
    """The failed runs grouped by kind, phase and size: 'oom in build at N_pop 16000, 1000 ms (2 runs)'."""
    groups: dict[tuple[str, str, str], int] = {}
    for r in failed:
        f = r.failure
        n = r.N_pop or (r.overrides or {}).get("N_pop")
        t = r.simtime or (r.overrides or {}).get("simtime")
        size = f"N_pop {n}" + (f", {t:g} ms" if isinstance(t, (int, float)) else "") if n else "size unknown"
        key = (f.kind if f and f.kind else "failed", f.phase if f and f.phase else "?", size)
        groups[key] = groups.get(key, 0) + 1
    return [f"{kind} in {phase} at {size}" + (f" ({n} runs)" if n > 1 else "") for (kind, phase, size), n in sorted(groups.items())]


# ------------------------------------------------------------------------------ the recommendation


def recommend(runs: list[RunRecord], validations: list[ValidationRecord], scenario: str, N_pop: int, simtime: float, *,
              memory_budget_bytes: float, memory_source: str, runs_file: str = "runs.jsonl",
              validations_file: str = "validations.jsonl", this_machine: str | None = None) -> Recommendation:
    """Rank the configurations of `scenario` at (N_pop, simtime) on their cost models (see the module)."""
    runs = [r for r in runs if r.kind == "run" and r.scenario == scenario]
    if not runs:
        raise NoRuns(f"no runs of scenario {scenario} in {runs_file}")
    ok = [r for r in runs if r.ok]
    failed = [r for r in runs if not r.ok]
    fits = fit_report(ok, scenario, RANKED_PHASES) if ok else {"models": []}
    models: dict[tuple[str, str], FittedModel] = {(m.backend, m.phase): m for m in fits["models"]}
    label = Configurations(ok) if ok else None
    df = frame(ok, label) if ok else pd.DataFrame()
    key_label = dict(label.labels) if label else {}
    failed_labels = configuration_labels(failed)
    latest, references = verdicts(validations, scenario)

    by_key: dict[Any, dict[str, list[RunRecord]]] = {}
    for r in runs:
        by_key.setdefault(r.configuration_key(size=False, seed=False), {"ok": [], "failed": []})["ok" if r.ok else "failed"].append(r)

    options = []
    for key, group in by_key.items():
        name = key_label.get(key) or failed_labels[key] + " (no successful run)"
        first = (group["ok"] or group["failed"])[0]
        version = first.backend_version or ""
        hashes = {r.scenario_hash for r in group["ok"] + group["failed"] if r.scenario_hash}
        verdict = verdict_of(first.backend, version, hashes, latest, references, validations_file)
        rows = df[df["configuration"] == name] if len(df) else df
        predictions, missing, measured = {}, {}, {}
        outside: list[str] = []
        if group["ok"]:
            n_low, n_high = float(rows["N"].min()), float(rows["N"].max())
            t_low, t_high = float(rows["simtime"].min()), float(rows["simtime"].max())
            for text in (_outside(N_pop, n_low, n_high, "N_pop", name), _outside(simtime, t_low, t_high, "simtime", name)):
                if text:
                    outside.append(text)
            for phase in RANKED_PHASES:
                model = models.get((name, phase))
                used, _ = cost_rows(df, name, phase)
                if model is None:
                    missing[phase] = no_model_reason(used, name, phase)
                else:
                    p = model.predict(N_pop, simtime)
                    ok_model, why = holds(model, used)
                    predictions[phase] = Prediction(phase, model.unit, float(p["mean"][0]), float(p["low"][0]), float(p["high"][0]),
                                                    model.r2, model.name, ok_model, why, model.note)
                here = _measured_here(used, phase, N_pop, simtime)
                if here:
                    measured[phase] = here
        ranges = ((float(rows["N"].min()), float(rows["N"].max())), (float(rows["simtime"].min()), float(rows["simtime"].max()))) \
            if len(rows) else (None, None)
        option = Option(
            configuration=name, backend=first.backend, version=version, runs_ok=len(group["ok"]), runs_failed=len(group["failed"]),
            N_range=ranges[0], simtime_range=ranges[1], predictions=predictions, missing=missing, measured=measured,
            outside_range=outside, memory=_memory_verdict(predictions.get("memory"), memory_budget_bytes), verdict=verdict,
            failures=_failures(group["failed"]))
        # a static run of a plastic scenario is not the scenario's network: measured for what plasticity costs, never ranked
        option.apart = STATIC_APART if is_static(key) else _why_apart(option)
        options.append(option)

    ranked = [o for o in options if o.apart is None]
    by_total = sorted(ranked, key=lambda o: o.value("total"))
    by_sim = sorted((o for o in ranked if "sim" in o.predictions), key=lambda o: o.value("sim"))
    apart = sorted((o for o in options if o.apart is not None), key=lambda o: (o.apart, o.configuration))
    machines = []
    for r in ok or runs:
        m = ((r.provenance or {}).get("machine") or {})
        if m and m.get("machine_id") not in [x.get("machine_id") for x in machines]:
            machines.append({k: m.get(k) for k in ("machine_id", "cpu", "cores_logical", "ram_bytes")})
    rec = Recommendation(
        scenario=scenario, N_pop=int(N_pop), simtime=float(simtime), runs_file=runs_file, validations_file=validations_file,
        memory_budget_bytes=float(memory_budget_bytes), memory_source=memory_source, machines=machines, this_machine=this_machine,
        by_total=by_total, by_sim=by_sim, apart=apart, answer="", notes=[])
    rec.answer, rec.notes = _answer(rec)
    return rec


STATIC_APART = "plasticity off (--static-synapses): the scenario's plastic projections made static, not its network"


def _why_apart(o: Option) -> str | None:
    if not o.runs_ok:
        return "no successful run"
    if o.verdict.state == "FAIL":
        return f"failed its latest validation ({o.verdict.detail})"
    if not o.verdict.validated:
        return "never validated on this scenario"
    if "total" not in o.predictions:
        return f"no total-time model: {o.missing.get('total', 'no model')}"
    return None


def _seconds(ms: float) -> str:
    return f"{ms / 1000:.3g} s"


def _answer(rec: Recommendation) -> tuple[str, list[str]]:
    """The one-line answer and the caveats that go with it, or why the data cannot answer."""
    size = f"N_pop {rec.N_pop:,}, {rec.simtime:g} ms"
    notes = []
    if not rec.by_total:
        reasons = sorted({o.apart.split(":")[0] for o in rec.apart if o.apart})
        text = (f"The stored runs cannot answer at {size}: no validated configuration with a total-time model "
                f"({'; '.join(reasons) or 'no configurations'}).")
        unvalidated = sorted((o for o in rec.apart if "total" in o.predictions), key=lambda o: o.value("total"))
        if unvalidated:
            o = unvalidated[0]
            q = o.predictions["total"]
            notes.append(f"unvalidated, the lowest predicted total time is {o.configuration}'s: {_seconds(q.mean)} "
                         f"[{_seconds(q.low)}, {_seconds(q.high)}] ({o.verdict.state}); run snnbench validate "
                         f"{rec.scenario} --backend {o.backend} before trusting it")
        return text, notes
    fitting = [o for o in rec.by_total if o.memory != "does not fit"]
    if not fitting:
        return (f"No validated configuration fits the memory budget of {rec.memory_budget_bytes / 2**30:.3g} GiB at {size} "
                f"(predicted peak memory); the fastest, {rec.by_total[0].configuration}, needs "
                f"{rec.by_total[0].predictions['memory'].mean / 1024:.3g} GiB."), notes
    for o in rec.by_total[:rec.by_total.index(fitting[0])]:
        notes.append(f"{o.configuration} would be faster but does not fit the memory budget "
                     f"({o.predictions['memory'].mean / 1024:.3g} GiB predicted, {rec.memory_budget_bytes / 2**30:.3g} GiB budget)")
    best = fitting[0]
    p = best.predictions["total"]
    text = (f"{best.configuration}: predicted total {_seconds(p.mean)} [{_seconds(p.low)}, {_seconds(p.high)}] at {size}")
    others = [o for o in fitting if o is not best]
    if others:
        second = others[0]
        q = second.predictions["total"]
        ratio = q.mean / p.mean if p.mean > 0 else float("inf")
        text += f", {ratio:.3g}x less than {second.configuration} (next, {_seconds(q.mean)})"
        if q.low <= p.high:
            notes.append(f"the 95 % intervals of {best.configuration} and {second.configuration} overlap: "
                         "at this size the data do not separate them")
    else:
        text += " (the only validated configuration with a model)"
    if best.outside_range:
        notes += best.outside_range
    if best.failures:
        notes.append(f"{best.configuration} also has failed runs: {'; '.join(best.failures)}")
    if not p.holds:
        notes.append(f"{best.configuration}'s total-time model misses its own data: {p.why_not}")
    if best.memory != "fits":
        notes.append(f"{best.configuration}'s predicted peak memory against the budget of "
                     f"{rec.memory_budget_bytes / 2**30:.3g} GiB: {best.memory}")
    measured_on = {m.get("machine_id") for m in rec.machines}
    if rec.this_machine and measured_on and rec.this_machine not in measured_on:
        notes.append(f"the runs were measured on machine(s) {', '.join(sorted(str(m) for m in measured_on))}, not on this one "
                     f"({rec.this_machine}): the times are that machine's")
    return text + ".", notes


def memory_budget(memory_gib: float | None) -> tuple[float, str]:
    """(bytes, where the figure comes from): --memory, else this machine's RAM (psutil)."""
    if memory_gib is not None:
        return memory_gib * 2**30, "--memory"
    import psutil

    return float(psutil.virtual_memory().total), "this machine's RAM, from psutil"


def validations_path(results: str | Path, validations: str | Path | None) -> Path:
    """The validations file: --validations (a file, or a results directory), else RESULTS/validations.jsonl."""
    path = Path(validations if validations is not None else results)
    return path / "validations.jsonl" if path.is_dir() or validations is None else path


# ------------------------------------------------------------------------------ at the sizes measured


@dataclass
class MeasuredPoint:
    """One measured (N_pop, simtime): the validated configurations by their median total time."""

    N_pop: int
    simtime: float
    ranking: list[dict[str, Any]]  # configuration, median, min, max (ms), n, verdict; cheapest first
    cheaper_unvalidated: list[str]  # configurations not validated that measured less than the winner

    @property
    def winner(self) -> str | None:
        return self.ranking[0]["configuration"] if self.ranking else None

    @property
    def runner_up(self) -> dict[str, Any] | None:
        """The cheapest configuration of another backend (numba@2t does not beat numba)."""
        if not self.ranking:
            return None
        return next((e for e in self.ranking[1:] if e["backend"] != self.ranking[0]["backend"]), None)

    @property
    def ratio(self) -> float | None:
        """How many times cheaper the winner is than the runner-up (None: nobody to beat)."""
        other = self.runner_up
        if other is None or self.ranking[0]["median"] <= 0:
            return None
        return other["median"] / self.ranking[0]["median"]

    @property
    def clear(self) -> bool:
        """The winner's slowest run beat the runner-up's fastest (their ranges do not overlap)."""
        other = self.runner_up
        return other is None or self.ranking[0]["max"] < other["min"]


def measured_winners(runs: list[RunRecord], validations: list[ValidationRecord], scenario: str,
                     phase: str = "total") -> list[MeasuredPoint]:
    """At every (N_pop, simtime) measured: the validated configurations ranked by their median
    cost in `phase` over the runs that measure it (`snnbench.fit.cost_rows`: warm code caches).
    No model is involved: this is what was measured."""
    ok = [r for r in runs if r.kind == "run" and r.scenario == scenario and r.ok]
    if not ok:
        return []
    label = Configurations(ok)
    df = frame(ok, label)
    latest, references = verdicts(validations, scenario)
    # static runs of a plastic scenario (--static-synapses) are not its network: not ranked
    first = {label(r): r for r in reversed(ok) if not r.static_synapses}
    if not first:
        return []
    states = {name: verdict_of(r.backend, r.backend_version or "", {r.scenario_hash or ""}, latest, references, "").state
              for name, r in first.items()}
    rows = pd.concat([cost_rows(df, name, phase)[0] for name in sorted(first)])
    points = []
    for (n, t), g in rows.groupby(["N", "simtime"], sort=True):
        stats = g.groupby("configuration")[phase].agg(["median", "min", "max", "count"]).sort_values("median")
        ranking, cheaper = [], []
        for name, s in stats.iterrows():
            entry = {"configuration": name, "backend": first[name].backend, "median": float(s["median"]), "min": float(s["min"]), "max": float(s["max"]),
                     "n": int(s["count"]), "verdict": states[name]}
            if states[name] in VALIDATED:
                ranking.append(entry)
            elif not ranking:
                cheaper.append(name)
        points.append(MeasuredPoint(int(n), float(t), ranking, cheaper))
    return points
