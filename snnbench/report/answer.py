"""The report's first section: the answer, before the evidence.

At the sizes measured (no model involved): the cheapest validated configuration by median
total time at each (N_pop, simtime), by how much it leads the best other backend and whether
their ranges overlap (`snnbench.recommend.measured_winners`); a paragraph written from those
figures, the cost models and the validation verdicts.
"""

from __future__ import annotations

import statistics
from collections import Counter
from typing import Any

from ..recommend import MeasuredPoint


def _where(points: list[MeasuredPoint]) -> str:
    return ", ".join(f"N_pop {p.N_pop:,} at {p.simtime:g} ms" for p in points)


def _range(values: list[float]) -> str:
    low, high = min(values), max(values)
    return f"{low:.2g}x" if f"{low:.2g}" == f"{high:.2g}" else f"{low:.2g}x to {high:.2g}x"


def table(points: list[MeasuredPoint]) -> list[dict[str, Any]]:
    """One row per measured size: the winner, its median [min-max] total, the next backend, the lead."""
    rows = []
    for p in points:
        best, other = (p.ranking[0] if p.ranking else None), p.runner_up
        rows.append({"N": p.N_pop, "simtime": p.simtime, "best": best, "other": other, "ratio": p.ratio, "clear": p.clear,
                     "order": [e["configuration"] for e in p.ranking], "cheaper_unvalidated": p.cheaper_unvalidated})
    return rows


def paragraph(points: list[MeasuredPoint], models: list[Any], verdicts: dict[str, str], failed: int,
              failure_kinds: Counter, validations_file: str, plasticity: list[Any] = ()) -> str:
    """What the measurements say, in a few sentences built only from them. `plasticity`: the sim
    models of plastic and static runs fitted together (`fit.plasticity_models`)."""
    decided = [p for p in points if p.winner]
    if not decided:
        return (f"No validated configuration was measured: the runs cannot say which backend is right and cheapest "
                f"(verdicts looked up in {validations_file}).")
    sizes = sorted({p.N_pop for p in points})
    times = sorted({p.simtime for p in points})
    wins = Counter(p.winner for p in decided)
    top, count = wins.most_common(1)[0]
    leads = [p.ratio for p in decided if p.winner == top and p.ratio]
    text = [f"Over the {len(points)} sizes measured (N_pop {sizes[0]:,}-{sizes[-1]:,}, simtime "
            f"{times[0]:g}-{times[-1]:g} ms), {top} has the lowest median total time (compile, build, simulate, "
            f"write; warm code caches) at {count} of them"
            + (f", ahead of the next backend by {_range(leads)} (median {statistics.median(leads):.2g}x)." if leads else ".")]
    for other, n in wins.most_common()[1:]:
        text.append(f"{other} wins at {n}: {_where([p for p in decided if p.winner == other])}.")
    unclear = [p for p in decided if not p.clear]
    if unclear:
        text.append(f"At {len(unclear)} of them the winner's range overlaps the next backend's, so the order there is "
                    f"not settled by these repeats ({_where(unclear)}).")
    # only terms whose 95 % interval lies above zero: a coefficient that may be zero or negative
    # (terms nearly collinear over the measured sizes) is no unit cost
    def unit_costs(term: str, scale: float):
        return sorted(((m.backend, c.value * scale) for m in models if m.phase == "sim" for c in m.coefficients
                       if c.term == term and c.ci_low > 0), key=lambda kv: kv[1])

    per_neuron, per_event = unit_costs("N*simtime", 1000), unit_costs("events", 1e6)
    if per_neuron:
        text.append("In the simulation phase alone, one neuron costs per ms of biological time "
                    + ", ".join(f"{b} {v:.2g} µs" for b, v in per_neuron) + " (the N_pop x simtime term of each sim model).")
    if per_event:
        text.append("One synaptic event costs " + ", ".join(f"{b} {v:.2g} ns" for b, v in per_event)
                    + " of simulation (the synaptic-events term of each sim model).")
    per_plastic = sorted(((m.backend, c.value * 1e6) for m in plasticity if m.phase == "sim"
                          for c in m.coefficients if c.term == "plastic events" and c.ci_low > 0), key=lambda kv: kv[1])
    if per_plastic:
        text.append("Plasticity costs per plastic synaptic event " + ", ".join(f"{b} {v:.2g} ns" for b, v in per_plastic)
                    + " on top of the event itself (the plastic-events term of a sim model fitted on each configuration's "
                    "plastic and static runs together).")
    unvalidated = sorted(b for b, state in verdicts.items() if state not in ("PASS", "reference"))
    text.append(f"Only configurations whose backend passed its latest validation (or is the reference) are ranked; "
                f"verdicts from {validations_file}"
                + (f"; not ranked: {', '.join(f'{b} ({verdicts[b]})' for b in unvalidated)}." if unvalidated else "."))
    if failed:
        kinds = ", ".join(f"{n} {kind}" for kind, n in failure_kinds.most_common())
        text.append(f"{failed} runs failed ({kinds}): see Failed runs.")
    return " ".join(text)
