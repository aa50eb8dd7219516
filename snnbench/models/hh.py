"""The Hodgkin-Huxley cell of Traub & Miles (1991) with exponential conductances (PyNN HH_cond_exp,
NEST hh_cond_exp_traub), for the adapters that integrate it themselves.

    C dv/dt = -g_Na m^3 h (v - E_Na) - g_K n^4 (v - E_K) - g_L (v - E_L) - g_e (v - E_e) - g_i (v - E_i) + I_e
    dx/dt = alpha_x(u) (1 - x) - beta_x(u) x  for x = m, h, n;  u = v - v_offset;  dg/dt = -g/tau_syn

with Traub's rate functions (`rhs`). The cell has no reset: a spike is emitted at the step where
v, above v_offset + 30 mV, has started to fall (a maximum), and no other spike is emitted for
the next 2 ms (NEST's t_ref of hh_cond_exp_traub, which PyNN does not set: `SPIKE_DEAD_TIME_MS`).
NEST integrates it with the adaptive RK45 of `rkf45` (abs. tolerance 1e-3 in mV, nS and the
gates); snnbench's numba simulator takes the same steps.
"""

from __future__ import annotations

import math

# NEST's t_ref of hh_cond_exp_traub (ms): after a spike, no spike is emitted for this long.
SPIKE_DEAD_TIME_MS = 2.0
# A spike is a maximum of v above v_offset + this (mV).
SPIKE_ABOVE_OFFSET_MV = 30.0

# The parameter vector of `rhs` (NEST's units: nS, pF, mV, ms, pA) and the state (v mV, m, h, n, g nS).
G_NA, G_K, G_L, C_M, V_T, E_NA, E_K, E_L, E_EX, E_IN, TAU_EX, TAU_IN, I_E = range(13)
N_PARAMETERS = 13
V, M, H, N, G_EX, G_IN = range(6)
STATE = 6
TOLERANCE = (1e-3, 0.0, 1.0, 0.0)  # eps_abs, eps_rel, a_y, a_dydt (NEST's)


def parameters(q) -> list[float]:
    """An HHCondExpParameters in NEST's units, in the order above."""
    return [1000.0 * q.gbar_Na, 1000.0 * q.gbar_K, 1000.0 * q.g_leak, 1000.0 * q.cm, q.v_offset, q.e_rev_Na,
            q.e_rev_K, q.e_rev_leak, q.e_rev_E, q.e_rev_I, q.tau_syn_E, q.tau_syn_I, 1000.0 * q.i_offset]


def rhs(p, refractory, y, f):
    v = y[V]
    i_na = p[G_NA] * y[M] * y[M] * y[M] * y[H] * (v - p[E_NA])
    i_k = p[G_K] * y[N] * y[N] * y[N] * y[N] * (v - p[E_K])
    i_l = p[G_L] * (v - p[E_L])
    i_syn = y[G_EX] * (v - p[E_EX]) + y[G_IN] * (v - p[E_IN])
    f[V] = (-i_na - i_k - i_l - i_syn + p[I_E]) / p[C_M]
    u = v - p[V_T]
    alpha_n = 0.032 * (15.0 - u) / (math.exp((15.0 - u) / 5.0) - 1.0)
    beta_n = 0.5 * math.exp((10.0 - u) / 40.0)
    alpha_m = 0.32 * (13.0 - u) / (math.exp((13.0 - u) / 4.0) - 1.0)
    beta_m = 0.28 * (u - 40.0) / (math.exp((u - 40.0) / 5.0) - 1.0)
    alpha_h = 0.128 * math.exp((17.0 - u) / 18.0)
    beta_h = 4.0 / (1.0 + math.exp((40.0 - u) / 5.0))
    f[M] = alpha_m - (alpha_m + beta_m) * y[M]
    f[H] = alpha_h - (alpha_h + beta_h) * y[H]
    f[N] = alpha_n - (alpha_n + beta_n) * y[N]
    f[G_EX] = -y[G_EX] / p[TAU_EX]
    f[G_IN] = -y[G_IN] / p[TAU_IN]
