"""The adaptive exponential integrate-and-fire cell (PyNN EIF_cond_exp_isfa_ista, NEST aeif_cond_exp;
Brette & Gerstner 2005), for the adapters that integrate it themselves.

    C dv/dt = -g_L (v - E_L) + g_L Delta_T exp((v - V_T)/Delta_T) - g_e (v - E_e) - g_i (v - E_i) - w + I_e
    tau_w dw/dt = a (v - E_L) - w,   dg/dt = -g/tau_syn
    v >= v_spike: v <- v_reset, w <- w + b, refractory for tau_refrac (v held at v_reset)

The exponential makes v run away within a fraction of a step once past V_T, so a fixed step is
either too coarse there or too fine elsewhere: NEST integrates it with the adaptive RK45 of
`rkf45` (tolerance 1e-6 on v, g and w and their derivatives, in NEST's units), checks for the
spike after every accepted sub-step (so w jumps by b at the sub-step where v crossed) and bounds
v by v_spike in the right-hand side, so that the exponential cannot overflow. snnbench's numba
simulator integrates the same right-hand side with the same steps and rules (`rhs`, below).
"""

from __future__ import annotations

import math

# The parameter vector of `rhs` (NEST's units: pF, nS, mV, ms, pA) and the state (v mV, g nS, w pA).
C_M, G_L, E_L, V_T, DELTA_T, V_PEAK, V_RESET, A, B, TAU_W, E_EX, E_IN, TAU_EX, TAU_IN, I_E = range(15)
N_PARAMETERS = 15
V, G_EX, G_IN, W = range(4)
STATE = 4
TOLERANCE = (1e-6, 1e-6, 1.0, 1.0)  # eps_abs, eps_rel, a_y, a_dydt (NEST's gsl_error_tol, y and y' controlled)


def parameters(q) -> list[float]:
    """An EIFCondExpIsfaIstaParameters in NEST's units, in the order above."""
    c_m = 1000.0 * q.cm
    return [c_m, c_m / q.tau_m, q.v_rest, q.v_thresh, q.delta_T, q.v_spike, q.v_reset, q.a, 1000.0 * q.b, q.tau_w,
            q.e_rev_E, q.e_rev_I, q.tau_syn_E, q.tau_syn_I, 1000.0 * q.i_offset]


def spike_threshold(p) -> float:
    """Where a spike is detected: v_spike, or v_thresh when Delta_T = 0 (then it is a LIF cell)."""
    return p[V_PEAK] if p[DELTA_T] > 0 else p[V_T]


def rhs(p, refractory, y, f):
    v = p[V_RESET] if refractory else min(y[V], p[V_PEAK])
    spike_current = p[G_L] * p[DELTA_T] * math.exp((v - p[V_T]) / p[DELTA_T]) if p[DELTA_T] > 0 else 0.0
    current = (-p[G_L] * (v - p[E_L]) + spike_current - y[G_EX] * (v - p[E_EX]) - y[G_IN] * (v - p[E_IN])
               - y[W] + p[I_E])
    f[V] = 0.0 if refractory else current / p[C_M]
    f[G_EX] = -y[G_EX] / p[TAU_EX]
    f[G_IN] = -y[G_IN] / p[TAU_IN]
    f[W] = (p[A] * (v - p[E_L]) - y[W]) / p[TAU_W]
