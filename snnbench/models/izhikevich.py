"""The Izhikevich (2003) cell (PyNN Izhikevich, NEST izhikevich), for the adapters that integrate it
themselves.

    dv/dt = 0.04 v^2 + 5 v + 140 - u + I,   du/dt = a (b v - u)      (v mV, u mV/ms, t ms)
    v >= 30 mV: v <- c, u <- u + d

I is i_offset in pA (PyNN's i_offset in nA times 1000: the model's "current" is in mV/ms for a
1 pF membrane, as NEST and PyNN's Brian2 backend take it). A synaptic spike steps v by its weight
(mV). The cell has no refractory period.

NEST integrates it with forward Euler, in this order within a step (izhikevich.cpp with
consistent_integration, its default), which snnbench's numba simulator follows:

    v' = v + dt (0.04 v^2 + 5 v + 140 - u + I_e + I_syn) + (the weights arriving in this step)
    u' = u + dt a (b v - u)              (both from the values at the start of the step)
    v' >= 30 mV: spike, v' <- c, u' <- u' + d

The Euler error is part of the model as NEST runs it (dt = 0.1 ms is coarse for the upstroke): a
backend that integrates it otherwise differs from NEST by more than rounding.
"""

from __future__ import annotations

V_PEAK_MV = 30.0  # NEST's V_th of izhikevich (PyNN does not set it)


def euler_step(v: float, u: float, a: float, b: float, current: float, arriving: float, dt: float) -> tuple[float, float]:
    """(v, u) after one step, before the threshold check (`current` in mV/ms, `arriving` in mV)."""
    return (v + dt * (0.04 * v * v + 5.0 * v + 140.0 - u + current) + arriving,
            u + dt * a * (b * v - u))
