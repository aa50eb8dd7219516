"""The translation log, and the decisions every adapter shares that write into it.

Every change an adapter makes to the model on its way to the simulator (a delay put on the dt
grid, a connector drawn by the harness instead of the simulator, a model substituted) is one
entry `{"what": topic, "detail": text, ...}` of a `Translations` log, which lands in the run record
as it is (a list of dicts). The functions below take the log they write into, so that a pure
describe layer (GeNN's `Describer`) makes the same decisions as a live adapter without being one.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ...scenario.model import DistanceDelay, FromList, SonataEdges
from ...scenario.realise import Network, ProjectionArrays, realise_projection
from ...scenario.resolve import ResolvedScenario

# A time that differs from its grid value by more than this (ms) is recorded as moved.
_ON_GRID = 1e-9


class Translations(list):
    """The log of one run's translations: a list of {"what", "detail", ...} entries (JSON as it is)."""

    def add(self, topic: str, text: str, **data: Any) -> None:
        self.append({"what": topic, "detail": text, **data})

    def topics(self) -> set[str]:
        return {entry["what"] for entry in self}


def delay_steps(delays: np.ndarray, dt: float, label: str, log: Translations) -> np.ndarray:
    """Delays put on the dt grid (nearest step, at least one), recording the rounding if any."""
    steps = np.maximum(1, np.rint(delays / dt)).astype(np.int64)
    off = np.abs(steps * dt - delays) > 1e-6 * max(dt, 1.0)
    if off.any():
        log.add("delay", f"{label}: {int(off.sum())} of {delays.size} delays put on the {dt} ms grid",
                max_change_ms=float(np.abs(steps * dt - delays).max()))
    return steps


def constant_delay_steps(delay: float, dt: float, label: str, log: Translations) -> int:
    """A constant delay in steps of dt (nearest, at least one), recording the rounding if any."""
    steps = max(1, round(delay / dt))
    if abs(steps * dt - delay) > _ON_GRID:
        log.add("delay", f"{label}: {delay} ms put on the {dt} ms grid ({steps * dt:g} ms)")
    return steps


def refractory_steps(tau_refrac: float, dt: float, population: str, log: Translations) -> int:
    """The refractory period in whole steps, rounded up as NEST does (its Time::get_steps: t_ref =
    2.03 ms at dt = 0.1 ms clamps v for 21 steps, measured), recording the rounding if any."""
    steps = math.ceil(tau_refrac / dt - 1e-6)  # 2.0 / 0.1 = 20.000000000000004 is 20 steps
    if abs(steps * dt - tau_refrac) > _ON_GRID:
        log.add("tau_refrac", f"{population}: {tau_refrac} ms rounded up to {steps * dt:g} ms (the dt grid, as NEST does)")
    return steps


def harness_arrays(proj, resolved: ResolvedScenario, network: Network | None, log: Translations,
                   why: str | None = None) -> ProjectionArrays:
    """The realised arrays of one projection: from `network` in exact mode, else realised here,
    recording why native mode falls back to them (`why`; by default: the connector; an explicit
    list is no fallback and is recorded only when `why` is given or its weights are drawn)."""
    if network is not None:
        return next(p for p in network.projections if p.label == proj.label)
    if isinstance(proj.connector, SonataEdges):  # every edge read from the SONATA file: nothing drawn
        return realise_projection(proj, resolved)
    if why or not isinstance(proj.connector, FromList):
        reason = why or (f"no native equivalent of {proj.connector.type}"
                         + (" with distance-dependent delays" if isinstance(proj.delay, DistanceDelay) else ""))
        log.add("connector", f"{proj.label}: {reason}; edges, weights and delays drawn by the harness from the seed")
    elif not (proj.connector.connections and len(proj.connector.connections[0]) == 4) and not (
            isinstance(proj.weight, float) and isinstance(proj.delay, float)):
        log.add("connector", f"{proj.label}: an explicit list of (pre, post) pairs; its weights and delays drawn by the "
                "harness from the seed")
    return realise_projection(proj, resolved)
