"""The numba simulator's cell types beyond the LIF cells with exponential synapses: one compiled
per-step update per family, on a slice of a group's cells, each in its NEST model's order, with
the maths of `snnbench.models` (written once there, compiled here).

    kind          PyNN type               NEST model          integration (as NEST)
    CURR_ALPHA    IF_curr_alpha           iaf_psc_alpha       exact propagators (models/alpha.py)
    CURR_DELTA    IF_curr_delta           iaf_psc_delta       exact; input steps v, dropped while refractory
    IZHIKEVICH    Izhikevich              izhikevich          forward Euler in NEST's order (models/izhikevich.py)
    COND_ALPHA    IF_cond_alpha           iaf_cond_alpha      adaptive RKF45, NEST's step control (models/rkf45.py)
    ADEX          EIF_cond_exp_isfa_ista  aeif_cond_exp       adaptive RKF45, spike checked after every sub-step
    HH            HH_cond_exp             hh_cond_exp_traub   adaptive RKF45; spike at a maximum above v_offset + 30 mV
    GLIF          GLIF_curr_alpha         glif_psc            exact, GLIF1-5, one alpha PSC per port (models/glif.py)

The RKF45 families integrate in NEST's units (pF, nS, pA), so that NEST's absolute tolerances
mean the same here, and keep each cell's last step size between time steps, as NEST keeps it per
node: the same steps as NEST, so the same solution to rounding.

State beyond v, syn_e, syn_i (the LIF kernels' arrays) lives in `aux[cell, AUX]` columns:
    CURR_ALPHA  syn_e, syn_i: the currents I (nA); aux X_E, X_I: their x (nA/ms)
    COND_ALPHA  syn_e, syn_i: g (nS); aux X_E, X_I: x (nS/ms); aux H_INT: the RKF45 step (ms)
    ADEX        syn_e, syn_i: g (nS); aux W: w (pA); aux H_INT
    HH          syn_e, syn_i: g (nS); aux M, H, N: the gates; aux H_INT
    IZHIKEVICH  aux U: u (mV/ms)
    GLIF        aux: the whole state row of models/glif.py (thresholds, after-spike currents, x and
                y per port); its parameter row is models/glif.py's too. Both are longer than the
                other kinds': the simulator widens `prm` and `aux` to the longest row.
Arrivals (`arrive_e`, `arrive_i`) are PyNN weights: nA, uS (x 1000 here to nS) or mV; a GLIF
group reads one row of the input ring per port (`arrivals[port, cell]`, nA).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from ..models import adex, alpha, glif, hh, izhikevich, rkf45

# Group kinds after numba_kernels' CURR = 0 and COND = 1.
CURR_ALPHA, COND_ALPHA, CURR_DELTA, ADEX, IZHIKEVICH, HH, GLIF = 2, 3, 4, 5, 6, 7, 8
KINDS = {"IF_curr_alpha": CURR_ALPHA, "IF_cond_alpha": COND_ALPHA, "IF_curr_delta": CURR_DELTA,
         "EIF_cond_exp_isfa_ista": ADEX, "Izhikevich": IZHIKEVICH, "HH_cond_exp": HH, "GLIF_curr_alpha": GLIF}
N_AUX = 4
X_E, X_I = 0, 1  # alpha synapses
W = 0  # AdEx
M, H, N = 0, 1, 2  # HH gates
U = 0  # Izhikevich
H_INT = 3  # RKF45's step size
US_TO_NS = 1000.0

# Columns of a CURR_ALPHA row.
A_P33, A_DRIVE, A_E_L, A_RESET, A_THRESH = 0, 1, 2, 3, 4
A_P11E, A_P21E, A_P31E, A_P32E, A_JUMPE = 5, 6, 7, 8, 9
A_P11I, A_P21I, A_P31I, A_P32I, A_JUMPI = 10, 11, 12, 13, 14
# Columns of a CURR_DELTA row.
D_P33, D_DRIVE, D_E_L, D_RESET, D_THRESH = 0, 1, 2, 3, 4
# Columns of an IZHIKEVICH row.
I_A, I_B, I_C, I_D, I_DRIVE = 0, 1, 2, 3, 4


def group_row(cell_type: str, q, dt: float, n_prm: int) -> np.ndarray:
    """The parameter row of one population (`n_prm` columns, as numba_kernels' table, or more: a
    GLIF row is as long as its after-spike currents and ports need)."""
    if cell_type == "GLIF_curr_alpha":
        values = glif.parameters(q, dt)
        return np.concatenate((values, np.zeros(max(0, n_prm - len(values)))))
    row = np.zeros(n_prm)
    if cell_type == "IF_curr_alpha":
        p33, p30 = alpha.membrane_propagators(q.cm, q.tau_m, dt)
        row[[A_P33, A_DRIVE, A_E_L, A_RESET, A_THRESH]] = p33, p30 * q.i_offset, q.v_rest, q.v_reset, q.v_thresh
        for first, tau in ((A_P11E, q.tau_syn_E), (A_P11I, q.tau_syn_I)):
            a = alpha.alpha_propagators(q.cm, q.tau_m, tau, dt)
            row[first:first + 5] = a.p11, a.p21, a.p31, a.p32, a.jump
    elif cell_type == "IF_curr_delta":
        p33, p30 = alpha.membrane_propagators(q.cm, q.tau_m, dt)
        row[[D_P33, D_DRIVE, D_E_L, D_RESET, D_THRESH]] = p33, p30 * q.i_offset, q.v_rest, q.v_reset, q.v_thresh
    elif cell_type == "Izhikevich":
        row[[I_A, I_B, I_C, I_D, I_DRIVE]] = q.a, q.b, q.c, q.d, 1000.0 * q.i_offset  # nA -> mV/ms (1 pF)
    elif cell_type == "IF_cond_alpha":
        row[:alpha.N_COND_ALPHA] = alpha.cond_alpha_parameters(q)
    elif cell_type == "EIF_cond_exp_isfa_ista":
        row[:adex.N_PARAMETERS] = adex.parameters(q)
    elif cell_type == "HH_cond_exp":
        row[:hh.N_PARAMETERS] = hh.parameters(q)
    else:
        raise ValueError(cell_type)
    return row


def refractory_steps(cell_type: str, q, dt: float) -> int:
    """Steps of refractoriness (or, for HH, of no spike after one), rounded up as NEST does."""
    if cell_type == "Izhikevich":
        return 0
    tau = hh.SPIKE_DEAD_TIME_MS if cell_type == "HH_cond_exp" else q.tau_refrac
    return math.ceil(tau / dt - 1e-6)


def initial_aux(cell_type: str, initial_values, dt: float, size: int, parameters=None) -> np.ndarray:
    """aux columns of a population at the start (PyNN's initial values, in the units above; a
    GLIF cell's after-spike currents start at its parameters' asc_init)."""
    if cell_type == "GLIF_curr_alpha":
        state = glif.initial_state(parameters)
        return np.tile(np.concatenate((state, np.zeros(max(0, N_AUX - len(state))))), (size, 1))
    aux = np.zeros((size, N_AUX))
    aux[:, H_INT] = dt  # NEST starts every node's RKF45 with one time step
    if cell_type == "EIF_cond_exp_isfa_ista":
        aux[:, W] = 1000.0 * initial_values.w  # nA -> pA
    elif cell_type == "Izhikevich":
        aux[:, U] = initial_values.u
    elif cell_type == "HH_cond_exp":
        aux[:, M], aux[:, H], aux[:, N] = initial_values.m, initial_values.h, initial_values.n
    return aux


# ----------------------------------------------------------------------------- compiled maths

_jit = njit(cache=True, nogil=True)
# RKF45 bound to each model's right-hand side (static calls: compiled together, cached)
_evolve_cond_alpha = _jit(rkf45.for_model(_jit(alpha.cond_alpha_rhs), "evolve_apply_cond_alpha"))
_evolve_adex = _jit(rkf45.for_model(_jit(adex.rhs), "evolve_apply_adex"))
_evolve_hh = _jit(rkf45.for_model(_jit(hh.rhs), "evolve_apply_hh"))
_glif_step = _jit(glif.step)
_adex_spike_threshold = _jit(adex.spike_threshold)
_COND_ALPHA_TOL = alpha.COND_ALPHA_TOLERANCE
_ADEX_TOL = adex.TOLERANCE
_HH_TOL = hh.TOLERANCE


@njit(cache=True, nogil=True, inline="always")
def _threshold(v, r, r_steps, v_thresh, v_reset):
    """The spike of the current-based LIF kinds: at v >= v_thresh, v is reset and the refractory
    count restarts. Returns v, the count and whether the cell spiked."""
    crossed = v >= v_thresh
    return (v_reset if crossed else v), (r_steps if crossed else r), crossed


@njit(cache=True, nogil=True, error_model="numpy")
def _update_curr_alpha(p, r_steps, v, syn_e, syn_i, aux, refr, arrive_e, arrive_i, spiked):
    """IF_curr_alpha, iaf_psc_alpha's order: v from the synaptic state at the start of the step
    (unless refractory), the alpha currents propagated and given this step's arrivals, threshold."""
    e_l = p[A_E_L]
    for i in range(v.shape[0]):
        x_e, x_i, i_e, i_i = aux[i, X_E], aux[i, X_I], syn_e[i], syn_i[i]
        r = refr[i]
        if r == 0:
            v[i] = e_l + p[A_DRIVE] + p[A_P31E] * x_e + p[A_P32E] * i_e + p[A_P31I] * x_i + p[A_P32I] * i_i \
                + p[A_P33] * (v[i] - e_l)
        else:
            r -= 1
        syn_e[i] = p[A_P21E] * x_e + p[A_P11E] * i_e
        aux[i, X_E] = p[A_P11E] * x_e + p[A_JUMPE] * arrive_e[i]
        syn_i[i] = p[A_P21I] * x_i + p[A_P11I] * i_i
        aux[i, X_I] = p[A_P11I] * x_i + p[A_JUMPI] * arrive_i[i]
        v[i], refr[i], spiked[i] = _threshold(v[i], r, r_steps, p[A_THRESH], p[A_RESET])
        arrive_e[i] = 0.0
        arrive_i[i] = 0.0


@njit(cache=True, nogil=True, error_model="numpy")
def _update_curr_delta(p, r_steps, v, refr, arrive_e, arrive_i, spiked):
    """IF_curr_delta, iaf_psc_delta's order: v decays and takes this step's arrivals (dropped while
    refractory), threshold."""
    e_l = p[D_E_L]
    for i in range(v.shape[0]):
        r = refr[i]
        if r == 0:
            v[i] = e_l + p[D_DRIVE] + p[D_P33] * (v[i] - e_l) + arrive_e[i] + arrive_i[i]
        else:
            r -= 1
        v[i], refr[i], spiked[i] = _threshold(v[i], r, r_steps, p[D_THRESH], p[D_RESET])
        arrive_e[i] = 0.0
        arrive_i[i] = 0.0


@njit(cache=True, nogil=True, error_model="numpy")
def _update_izhikevich(p, dt, v, aux, arrive_e, arrive_i, spiked):
    """Izhikevich, izhikevich's order (forward Euler from the start-of-step values, arrivals on v, threshold)."""
    for i in range(v.shape[0]):
        vi, ui = v[i], aux[i, U]
        vi, ui = (vi + dt * (0.04 * vi * vi + 5.0 * vi + 140.0 - ui + p[I_DRIVE]) + arrive_e[i] + arrive_i[i],
                  ui + dt * p[I_A] * (p[I_B] * vi - ui))
        crossed = vi >= izhikevich.V_PEAK_MV
        if crossed:
            vi = p[I_C]
            ui += p[I_D]
        v[i], aux[i, U] = vi, ui
        spiked[i] = crossed
        arrive_e[i] = 0.0
        arrive_i[i] = 0.0


@njit(cache=True, nogil=True, error_model="numpy")
def _update_cond_alpha(p, r_steps, dt, v, syn_e, syn_i, aux, refr, arrive_e, arrive_i, spiked):
    """IF_cond_alpha, iaf_cond_alpha's order: RKF45 over the step (v held while refractory), then
    refractoriness or the threshold, then this step's arrivals."""
    y = np.empty(alpha.COND_ALPHA_STATE)
    work = np.empty((rkf45.WORK_ROWS, alpha.COND_ALPHA_STATE))
    eps_abs, eps_rel, a_y, a_dydt = _COND_ALPHA_TOL
    for i in range(v.shape[0]):
        y[alpha.V], y[alpha.X_EX], y[alpha.G_EX], y[alpha.X_IN], y[alpha.G_IN] = v[i], aux[i, X_E], syn_e[i], aux[i, X_I], syn_i[i]
        r = refr[i]
        t, h = 0.0, aux[i, H_INT]
        while t < dt:
            t, h = _evolve_cond_alpha(p, r > 0, y, t, dt, h, work, eps_abs, eps_rel, a_y, a_dydt)
        crossed = False
        if r > 0:
            r -= 1
            y[alpha.V] = p[alpha.V_RESET]
        elif y[alpha.V] >= p[alpha.V_TH]:
            crossed = True
            r = r_steps
            y[alpha.V] = p[alpha.V_RESET]
        v[i], syn_e[i], syn_i[i] = y[alpha.V], y[alpha.G_EX], y[alpha.G_IN]
        aux[i, X_E] = y[alpha.X_EX] + US_TO_NS * math.e / p[alpha.TAU_EX] * arrive_e[i]
        aux[i, X_I] = y[alpha.X_IN] + US_TO_NS * math.e / p[alpha.TAU_IN] * arrive_i[i]
        aux[i, H_INT] = h
        refr[i] = r
        spiked[i] = crossed
        arrive_e[i] = 0.0
        arrive_i[i] = 0.0


@njit(cache=True, nogil=True, error_model="numpy")
def _update_adex(p, r_steps, dt, v, syn_e, syn_i, aux, refr, arrive_e, arrive_i, spiked):
    """EIF_cond_exp_isfa_ista, aeif_cond_exp's order: RKF45 sub-steps, after each the refractory
    clamp or the spike (v <- v_reset, w += b, refractory for r_steps more steps); then this step's
    arrivals. A second spike within one step (only possible with tau_refrac = 0) counts once."""
    y = np.empty(adex.STATE)
    work = np.empty((rkf45.WORK_ROWS, adex.STATE))
    eps_abs, eps_rel, a_y, a_dydt = _ADEX_TOL
    peak = _adex_spike_threshold(p)
    for i in range(v.shape[0]):
        y[adex.V], y[adex.G_EX], y[adex.G_IN], y[adex.W] = v[i], syn_e[i], syn_i[i], aux[i, W]
        r = refr[i]
        t, h = 0.0, aux[i, H_INT]
        crossed = False
        while t < dt:
            t, h = _evolve_adex(p, r > 0, y, t, dt, h, work, eps_abs, eps_rel, a_y, a_dydt)
            if r > 0:
                y[adex.V] = p[adex.V_RESET]
            elif y[adex.V] >= peak:
                crossed = True
                y[adex.V] = p[adex.V_RESET]
                y[adex.W] += p[adex.B]
                r = r_steps + 1 if r_steps > 0 else 0  # the count-down below takes one at once
        if r > 0:
            r -= 1
        v[i], aux[i, W] = y[adex.V], y[adex.W]
        syn_e[i] = y[adex.G_EX] + US_TO_NS * arrive_e[i]
        syn_i[i] = y[adex.G_IN] + US_TO_NS * arrive_i[i]
        aux[i, H_INT] = h
        refr[i] = r
        spiked[i] = crossed
        arrive_e[i] = 0.0
        arrive_i[i] = 0.0


@njit(cache=True, nogil=True, error_model="numpy")
def _update_hh(p, r_steps, dt, v, syn_e, syn_i, aux, refr, arrive_e, arrive_i, spiked):
    """HH_cond_exp, hh_cond_exp_traub's order: RKF45 over the step, this step's arrivals, then a
    spike if v is above v_offset + 30 mV and falling, unless within r_steps of the last one."""
    y = np.empty(hh.STATE)
    work = np.empty((rkf45.WORK_ROWS, hh.STATE))
    eps_abs, eps_rel, a_y, a_dydt = _HH_TOL
    for i in range(v.shape[0]):
        v_start = v[i]
        y[hh.V], y[hh.M], y[hh.H], y[hh.N], y[hh.G_EX], y[hh.G_IN] = v_start, aux[i, M], aux[i, H], aux[i, N], syn_e[i], syn_i[i]
        t, h = 0.0, aux[i, H_INT]
        while t < dt:
            t, h = _evolve_hh(p, False, y, t, dt, h, work, eps_abs, eps_rel, a_y, a_dydt)
        r = refr[i]
        crossed = False
        if r > 0:
            r -= 1
        elif y[hh.V] >= p[hh.V_T] + hh.SPIKE_ABOVE_OFFSET_MV and v_start > y[hh.V]:
            crossed = True
            r = r_steps
        v[i], aux[i, M], aux[i, H], aux[i, N] = y[hh.V], y[hh.M], y[hh.H], y[hh.N]
        syn_e[i] = y[hh.G_EX] + US_TO_NS * arrive_e[i]
        syn_i[i] = y[hh.G_IN] + US_TO_NS * arrive_i[i]
        aux[i, H_INT] = h
        refr[i] = r
        spiked[i] = crossed
        arrive_e[i] = 0.0
        arrive_i[i] = 0.0


@njit(cache=True, nogil=True, error_model="numpy")
def update_glif(p, r_steps, v, aux, refr, arrivals, spiked):
    """GLIF_curr_alpha, glif_psc's order (models/glif.py's `step`); arrivals[port, cell] is this
    step's input on each port, cleared here."""
    n_ports = int(p[glif.N_PORTS])
    arrived = np.empty(n_ports)
    for i in range(v.shape[0]):
        for port in range(n_ports):
            arrived[port] = arrivals[port, i]
            arrivals[port, i] = 0.0
        r = refr[i]
        v[i], crossed = _glif_step(p, r > 0, v[i], aux[i], arrived)
        if r > 0:
            r -= 1
        if crossed:
            r = r_steps
        refr[i] = r
        spiked[i] = crossed


@njit(cache=True, nogil=True)
def update_group(kind, p, r_steps, dt, v, syn_e, syn_i, aux, refr, arrive_e, arrive_i, spiked):
    """One step of a slice of a group of one of the kinds above."""
    if kind == CURR_ALPHA:
        _update_curr_alpha(p, r_steps, v, syn_e, syn_i, aux, refr, arrive_e, arrive_i, spiked)
    elif kind == CURR_DELTA:
        _update_curr_delta(p, r_steps, v, refr, arrive_e, arrive_i, spiked)
    elif kind == IZHIKEVICH:
        _update_izhikevich(p, dt, v, aux, arrive_e, arrive_i, spiked)
    elif kind == COND_ALPHA:
        _update_cond_alpha(p, r_steps, dt, v, syn_e, syn_i, aux, refr, arrive_e, arrive_i, spiked)
    elif kind == ADEX:
        _update_adex(p, r_steps, dt, v, syn_e, syn_i, aux, refr, arrive_e, arrive_i, spiked)
    else:
        _update_hh(p, r_steps, dt, v, syn_e, syn_i, aux, refr, arrive_e, arrive_i, spiked)
