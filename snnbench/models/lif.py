"""The LIF cells with exponential synapses (IF_curr_exp, IF_cond_exp): the per-step coefficients of
the clock-driven update that follows NEST, written once for every adapter that integrates the
models itself (GeNN's custom neuron models, BindsNET's nodes, Brian2's step-mean conductances).

IF_curr_exp is integrated exactly (Rotter & Diesmann 1999, NEST's iaf_psc_exp):

    v <- v_rest + (v - v_rest) P22 + P21e I_e + P21i I_i + P20 i_offset
    I <- I exp(-dt / tau_syn)

IF_cond_exp: the conductances decay exactly; over a step the membrane sees their step mean
g tau_syn/dt (1 - exp(-dt/tau_syn)) (`avg_e`, `avg_i`), and v is integrated exactly for that
constant conductance (exponential Euler). Units are PyNN's: nF, ms, mV, nA, uS.

Forward Euler (numba's option method=euler; Brian2's `method='euler'`, as its COBA/CUBA
examples write these cells): every variable advances by dt times its derivative at the start of
the step. Faster (no exponential per cell and step), less accurate.

    IF_curr_exp:  v <- v + dt ((v_rest - v)/tau_m + (I_e + I_i + i_offset)/cm)
                  which is the exact form above with P22 = 1 - dt/tau_m, P21 = P20 = dt/cm
    IF_cond_exp:  v <- v + dt/cm (g_l (v_rest - v) + g_e (E_e - v) + g_i (E_i - v) + i_offset)
    both:         I <- I (1 - dt/tau_syn),  g <- g (1 - dt/tau_syn)
`euler_propagators` gives these coefficients in the same `Propagators` (step means 1: the
conductances at the start of the step).

The numba simulator puts these numbers into one row of floats per population for its compiled
loop (`numba_kernels.group_parameters`).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

# tau_m and tau_syn closer than this (relative) use the limit of the general P21 form.
DEGENERATE_TAU = 1e-9


@dataclass(frozen=True)
class Propagators:
    """The per-step coefficients of one population's cells at time step dt."""

    p22: float  # exp(-dt / tau_m): leak over one step
    p21e: float  # effect of I_e on v over one step (IF_curr_exp)
    p21i: float
    p20: float  # effect of a constant current (i_offset) over one step
    dec_e: float  # exp(-dt / tau_syn_E): synaptic decay over one step
    dec_i: float
    avg_e: float  # step mean of a decaying conductance, relative to its start-of-step value
    avg_i: float
    g_l: float  # leak conductance cm / tau_m (uS)

    def as_dict(self) -> dict[str, float]:
        return asdict(self)


def step_mean(tau_syn: float, dt: float) -> float:
    """tau/dt (1 - exp(-dt/tau)): the mean over one step of exp(-t/tau), t in [0, dt)."""
    return tau_syn / dt * -math.expm1(-dt / tau_syn)


def p21(cm: float, tau_m: float, tau_syn: float, dt: float) -> float:
    """The exact effect over one step of a synaptic current decaying with tau_syn on v (iaf_psc_exp)."""
    p22 = math.exp(-dt / tau_m)
    if abs(tau_m - tau_syn) < DEGENERATE_TAU * tau_m:
        return dt / cm * p22  # the limit of the general form when tau_m == tau_syn
    return tau_syn * tau_m / (cm * (tau_m - tau_syn)) * (p22 - math.exp(-dt / tau_syn))


def propagators(cm: float, tau_m: float, tau_syn_e: float, tau_syn_i: float, dt: float) -> Propagators:
    p22 = math.exp(-dt / tau_m)
    return Propagators(
        p22=p22,
        p21e=p21(cm, tau_m, tau_syn_e, dt),
        p21i=p21(cm, tau_m, tau_syn_i, dt),
        p20=tau_m / cm * (1.0 - p22),
        dec_e=math.exp(-dt / tau_syn_e),
        dec_i=math.exp(-dt / tau_syn_i),
        avg_e=step_mean(tau_syn_e, dt),
        avg_i=step_mean(tau_syn_i, dt),
        g_l=cm / tau_m,
    )


def euler_propagators(cm: float, tau_m: float, tau_syn_e: float, tau_syn_i: float, dt: float) -> Propagators:
    """Forward Euler's coefficients, in the places of the exact ones (see the module's docstring)."""
    return Propagators(
        p22=1.0 - dt / tau_m,
        p21e=dt / cm,
        p21i=dt / cm,
        p20=dt / cm,
        dec_e=1.0 - dt / tau_syn_e,
        dec_i=1.0 - dt / tau_syn_i,
        avg_e=1.0,
        avg_i=1.0,
        g_l=cm / tau_m,
    )


# The integration schemes of the LIF-exp cells: name -> the coefficients' function.
SCHEMES = {"exact": propagators, "euler": euler_propagators}


def cell_propagators(parameters, dt: float, method: str = "exact") -> Propagators:
    """Propagators of a scenario population's parameters (IFCurrExpParameters, IFCondExpParameters)."""
    p = parameters
    return SCHEMES[method](p.cm, p.tau_m, p.tau_syn_E, p.tau_syn_I, dt)
