"""PyNN's standard units, and conversion of values written with an explicit unit.

A scenario value is either a plain number, taken in PyNN's standard unit for that key
(ms, mV, nA, uS, nF, Hz), or a string such as ``"200 pF"`` or ``"6 nS"``, converted with
`quantities`. A string whose unit has the wrong dimension is an error.
"""

from __future__ import annotations

import re

import quantities as pq

# The standard unit of each physical kind, as PyNN uses them.
STANDARD_UNITS = {
    "time": "ms",
    "voltage": "mV",
    "current": "nA",
    "conductance": "uS",
    "capacitance": "nF",
    "rate": "Hz",
    "dimensionless": "dimensionless",
    # the few parameters PyNN gives in other units: AdEx's a (nS), Izhikevich's a, b (1/ms), d, u (mV/ms)
    "conductance_nS": "nS",
    "inverse_time": "1/ms",
    "voltage_rate": "mV/ms",
}

_NUMBER_WITH_UNIT = re.compile(
    r"^\s*(?P<number>[-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?)\s*(?P<unit>[^\d\s].*?)?\s*$"
)


class UnitError(ValueError):
    """A value whose unit cannot be read or has the wrong dimension."""


def to_standard(value: object, kind: str) -> float:
    """Convert `value` (a number, or a string with a unit) to the standard unit of `kind`."""
    unit = STANDARD_UNITS[kind]
    if isinstance(value, bool):
        raise UnitError(f"expected a number in {unit}, got a boolean")
    if isinstance(value, (int, float)):
        return float(value)
    if not isinstance(value, str):
        raise UnitError(f"expected a number in {unit} or a string like '1.0 {unit}', got {value!r}")
    match = _NUMBER_WITH_UNIT.match(value)
    if not match:
        raise UnitError(f"expected a number with a unit, like '1.0 {unit}', got {value!r}")
    number = float(match.group("number"))
    written = (match.group("unit") or "").strip()
    if not written:
        return number
    written = written.replace("µ", "u").replace("μ", "u").replace("Ohm", "ohm")
    try:
        quantity = pq.Quantity(number, written)
    except (LookupError, ValueError, SyntaxError, TypeError, AttributeError) as exc:
        raise UnitError(f"unknown unit {written!r} in {value!r}") from exc
    try:
        return float(quantity.rescale(unit).magnitude)
    except ValueError as exc:
        raise UnitError(f"expected a {kind} (convertible to {unit}), got {value!r}") from exc
