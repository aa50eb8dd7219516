"""GLIF_curr_alpha: NEST's glif_psc (the Allen Institute's generalized LIF cells, Teeter et al.
2018), for the adapters that integrate the models themselves.

The membrane is linear between spikes and is integrated exactly, in glif_psc's order. With U = v -
v_rest, per step, unless refractory:

    theta_s <- theta_s exp(-th_spike_decay dt)                              (GLIF2/4/5)
    A       <- sum_j c_j I_j,  I_j <- I_j exp(-k_j dt)                        (GLIF3/4/5: the step mean
               of each after-spike current, c_j = (1 - exp(-k_j dt)) / (k_j dt), then its decay)
    U       <- U P33 + A P30 + sum_port (P31 x + P32 y)                      (alpha PSCs per port)
    theta_v <- the exact voltage component of the threshold                 (GLIF5)
    spike if U > theta_s + theta_v + (v_thresh - v_rest):
        I_j <- asc_amps_j + I_j asc_r_j exp(-k_j t_ref)
        U   <- v_reset - v_rest                      (GLIF1/3)
        U   <- voltage_reset_fraction U_old + voltage_reset_add, theta_s <- theta_s exp(-th_spike_decay
               t_ref) + th_spike_add                                       (GLIF2/4/5)
while refractory U is held. Then every port's alpha PSC is propagated (y <- P21 x + P22 y,
x <- P11 x) and takes this step's arrivals (x += e / tau_syn w). P31, P32 are iaf_psc_alpha's
(`alpha.alpha_propagators`). Units are PyNN's (nF, ms, mV, nA): each propagator is NEST's
(pF, pA) with both units scaled by 1000.

`parameters` writes a population's numbers into one row of floats (the layout below, of
variable length: the after-spike currents and the ports at the end), `step` advances one cell
by one step; the numba simulator compiles `step` (numba_cells), and the state of a cell is one
row of floats (`STATE` layout).
"""

from __future__ import annotations

import math

from .alpha import alpha_propagators, membrane_propagators

# The parameter row: fixed columns, then per after-spike current (DECAY, MEAN, AT_SPIKE, AMP),
# then per port (P11, P21, P31, P32, JUMP).
(P33, P30, E_L, U_RESET, TH_INF, HAS_SPIKE, HAS_ASC, HAS_VOLTAGE, TS_DECAY, TS_AT_SPIKE, TS_ADD, VR_FRACTION,
 VR_ADD, G, V_DECAY, TV_DECAY, PHI, AB_RATIO, N_ASC, N_PORTS) = range(20)
N_FIXED = 20
ASC_COLUMNS = 4
PORT_COLUMNS = 5
# The state row: the threshold's components, then the after-spike currents, then per port x, y.
TH_SPIKE, TH_VOLTAGE = 0, 1
N_STATE_FIXED = 2


def row_length(q) -> int:
    return N_FIXED + ASC_COLUMNS * _n_asc(q) + PORT_COLUMNS * q.n_ports


def state_length(q) -> int:
    return N_STATE_FIXED + _n_asc(q) + 2 * q.n_ports


def _n_asc(q) -> int:
    return len(q.asc_decay) if q.has_asc else 0


def parameters(q, dt: float) -> list[float]:
    """A GLIFCurrAlphaParameters at time step dt as a parameter row (glif_psc's pre_run_hook)."""
    g = q.cm / q.tau_m  # uS
    p33, p30 = membrane_propagators(q.cm, q.tau_m, dt)
    row = [0.0] * row_length(q)
    row[P33], row[P30], row[E_L] = p33, p30, q.v_rest
    row[U_RESET], row[TH_INF] = q.v_reset - q.v_rest, q.v_thresh - q.v_rest
    row[HAS_SPIKE], row[HAS_ASC], row[HAS_VOLTAGE] = float(q.has_theta_spike), float(q.has_asc), float(q.has_theta_voltage)
    if q.has_theta_spike:
        row[TS_DECAY] = math.exp(-q.th_spike_decay * dt)
        row[TS_AT_SPIKE] = math.exp(-q.th_spike_decay * q.tau_refrac)
    row[TS_ADD], row[VR_FRACTION], row[VR_ADD], row[G] = q.th_spike_add, q.voltage_reset_fraction, q.voltage_reset_add, g
    if q.has_theta_voltage:
        row[V_DECAY] = math.exp(-g * dt / q.cm)
        row[TV_DECAY] = 1.0 / math.exp(q.th_voltage_decay * dt)
        row[PHI] = q.th_voltage_index / (q.th_voltage_decay - g / q.cm)
        row[AB_RATIO] = q.th_voltage_index / q.th_voltage_decay
    n_asc = _n_asc(q)
    row[N_ASC], row[N_PORTS] = float(n_asc), float(q.n_ports)
    for a in range(n_asc):
        k, c = q.asc_decay[a], N_FIXED + ASC_COLUMNS * a
        decay = math.exp(-k * dt)
        row[c:c + ASC_COLUMNS] = decay, (1.0 / k) / dt * (1.0 - decay), q.asc_r[a] * math.exp(-k * q.tau_refrac), q.asc_amps[a]
    first = N_FIXED + ASC_COLUMNS * n_asc
    for port, tau in enumerate(q.tau_syn):
        a = alpha_propagators(q.cm, q.tau_m, tau, dt)
        c = first + PORT_COLUMNS * port
        row[c:c + PORT_COLUMNS] = a.p11, a.p21, a.p31, a.p32, a.jump
    return row


def initial_state(q) -> list[float]:
    """A cell's state row at the start: thresholds' components 0, the after-spike currents asc_init."""
    state = [0.0] * state_length(q)
    for a in range(_n_asc(q)):
        state[N_STATE_FIXED + a] = q.asc_init[a]
    return state


def step(p, refractory, v, s, arrivals):
    """One step of one cell: v (mV), its state row s, the summed weights (nA) arriving on each port
    at the end of the step (arrivals[port]). Returns (v, spiked); s is updated in place.
    `refractory` says the cell is within its refractory period (the caller counts it down)."""
    e_l = p[E_L]
    u_old = v - e_l
    u = u_old
    n_asc, n_ports = int(p[N_ASC]), int(p[N_PORTS])
    first_port = N_FIXED + ASC_COLUMNS * n_asc
    spiked = False
    if not refractory:
        if p[HAS_SPIKE] != 0.0:
            s[TH_SPIKE] *= p[TS_DECAY]
        asc_sum = 0.0
        for a in range(n_asc):
            c = N_FIXED + ASC_COLUMNS * a
            asc_sum += p[c + 1] * s[N_STATE_FIXED + a]
            s[N_STATE_FIXED + a] *= p[c]
        u = u_old * p[P33] + asc_sum * p[P30]
        x0 = N_STATE_FIXED + n_asc
        for port in range(n_ports):
            c = first_port + PORT_COLUMNS * port
            u += p[c + 2] * s[x0 + 2 * port] + p[c + 3] * s[x0 + 2 * port + 1]
        if p[HAS_VOLTAGE] != 0.0:
            beta = asc_sum / p[G]
            s[TH_VOLTAGE] = (p[PHI] * (u_old - beta) * p[V_DECAY]
                             + p[TV_DECAY] * (s[TH_VOLTAGE] - p[PHI] * (u_old - beta) - p[AB_RATIO] * beta)
                             + p[AB_RATIO] * beta)
        if u > s[TH_SPIKE] + s[TH_VOLTAGE] + p[TH_INF]:
            spiked = True
            for a in range(n_asc):
                c = N_FIXED + ASC_COLUMNS * a
                s[N_STATE_FIXED + a] = p[c + 3] + s[N_STATE_FIXED + a] * p[c + 2]
            if p[HAS_SPIKE] == 0.0:
                u = p[U_RESET]
            else:
                u = p[VR_FRACTION] * u_old + p[VR_ADD]
                s[TH_SPIKE] = s[TH_SPIKE] * p[TS_AT_SPIKE] + p[TS_ADD]
    x0 = N_STATE_FIXED + n_asc
    for port in range(n_ports):
        c = first_port + PORT_COLUMNS * port
        x, y = s[x0 + 2 * port], s[x0 + 2 * port + 1]
        s[x0 + 2 * port + 1] = p[c + 1] * x + p[c] * y
        s[x0 + 2 * port] = p[c] * x + p[c + 4] * arrivals[port]
    return u + e_l, spiked
