"""The LIF cells with alpha-shaped synapses (IF_curr_alpha, IF_cond_alpha), for the adapters that
integrate the models themselves.

A spike of weight w starts an alpha function w (t/tau) e^(1 - t/tau), which peaks at w after
tau. NEST (iaf_psc_alpha, iaf_cond_alpha) and snnbench write it as two variables per synapse
type: dx/dt = -x/tau, dy/dt = x - y/tau, a spike adding w e/tau to x; y is the current (nA) or
conductance (uS).

IF_curr_alpha is linear, so it is integrated exactly over each step (NEST's iaf_psc_alpha):

    v <- v_rest + (v - v_rest) P33 + P30 i_offset + P31 x + P32 y     (per synapse type)
    y <- P21 x + P22 y,  x <- P11 x

IF_cond_alpha is not (the conductances multiply v): NEST integrates it with the adaptive RK45
of `rkf45` (abs. tolerance 1e-3, in NEST's units), and so does snnbench's numba simulator, with
the right-hand side `cond_alpha_rhs` below and NEST's update order.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

# NEST's rule (libnestutil/iaf_propagator) for when tau_m and tau_syn are too close for the general
# form of P31 to be computed accurately: below this relative gap it uses its limit.
_STABILITY_FACTOR = 1e-7


@dataclass(frozen=True)
class AlphaPropagators:
    """Per-step coefficients of one synapse type of an IF_curr_alpha cell (units: nF, ms, mV, nA)."""

    p11: float  # exp(-dt/tau_syn): decay of x (and of y's own part)
    p21: float  # dt exp(-dt/tau_syn): effect of x on y
    p31: float  # effect of x on v
    p32: float  # effect of y on v
    jump: float  # e / tau_syn: what a spike of weight 1 adds to x


def alpha_propagators(cm: float, tau_m: float, tau_syn: float, dt: float) -> AlphaPropagators:
    p11 = math.exp(-dt / tau_syn)
    beta = tau_syn * tau_m / (tau_m - tau_syn) if tau_m != tau_syn else math.inf
    gamma = beta / cm
    p32 = gamma * p11 * math.expm1(dt / beta) if math.isfinite(beta) else math.nan
    if not (math.isfinite(p32) and p32 > 0):  # tau_m == tau_syn, or too close: the limit
        p32 = dt / cm * math.exp(-dt / tau_m)
    if math.isfinite(beta) and dt > _STABILITY_FACTOR * tau_m * tau_m / abs(tau_m - tau_syn):
        p31 = gamma * p11 * (beta * math.expm1(dt / beta) - dt)
    else:
        p31 = 0.5 * dt * dt / cm * math.exp(-dt / tau_m)
    return AlphaPropagators(p11=p11, p21=dt * p11, p31=p31, p32=p32, jump=math.e / tau_syn)


def membrane_propagators(cm: float, tau_m: float, dt: float) -> tuple[float, float]:
    """(P33, P30): the leak over one step, and the effect of a constant current (IF_curr_alpha and
    IF_curr_delta, NEST's iaf_psc_alpha and iaf_psc_delta)."""
    p33 = math.exp(-dt / tau_m)
    return p33, -tau_m / cm * math.expm1(-dt / tau_m)


# ------------------------------------------------------------------ IF_cond_alpha, in NEST's units

# The parameter vector of `cond_alpha_rhs` (pF, nS, mV, ms, pA), and the state vector
# (v mV; x nS/ms; g nS), as NEST's iaf_cond_alpha.
C_M, G_L, E_L, V_TH, V_RESET, E_EX, E_IN, TAU_EX, TAU_IN, I_E = range(10)
N_COND_ALPHA = 10
V, X_EX, G_EX, X_IN, G_IN = range(5)
COND_ALPHA_STATE = 5
COND_ALPHA_TOLERANCE = (1e-3, 0.0, 1.0, 0.0)  # eps_abs, eps_rel, a_y, a_dydt (NEST's)


def cond_alpha_parameters(q) -> list[float]:
    """An IFCondAlphaParameters in NEST's units, in the order above."""
    c_m = 1000.0 * q.cm
    return [c_m, c_m / q.tau_m, q.v_rest, q.v_thresh, q.v_reset, q.e_rev_E, q.e_rev_I, q.tau_syn_E, q.tau_syn_I,
            1000.0 * q.i_offset]


def cond_alpha_rhs(p, refractory, y, f):
    """dy/dt of IF_cond_alpha: v is held at v_reset while refractory and bounded by v_thresh in
    the currents (NEST's iaf_cond_alpha)."""
    v = p[V_RESET] if refractory else min(y[V], p[V_TH])
    current = -p[G_L] * (v - p[E_L]) - y[G_EX] * (v - p[E_EX]) - y[G_IN] * (v - p[E_IN]) + p[I_E]
    f[V] = 0.0 if refractory else current / p[C_M]
    f[X_EX] = -y[X_EX] / p[TAU_EX]
    f[G_EX] = y[X_EX] - y[G_EX] / p[TAU_EX]
    f[X_IN] = -y[X_IN] / p[TAU_IN]
    f[G_IN] = y[X_IN] - y[G_IN] / p[TAU_IN]
