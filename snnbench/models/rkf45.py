"""The adaptive Runge-Kutta-Fehlberg 4(5) integrator NEST uses for its conductance-based models
with nonlinear or coupled dynamics (iaf_cond_alpha, aeif_cond_exp, hh_cond_exp_traub: GSL's
`rkf45` stepper with its standard step-size control), written out so that an adapter that
integrates these models itself takes the same steps NEST takes.

One call of `evolve_apply` is one accepted step, as GSL's `gsl_odeiv_evolve_apply`: from t it
tries the suggested step h (cut to reach t1 exactly), estimates the local error from the
difference of the 4th- and 5th-order solutions, and while the error is too large (rmax > 1.1)
shrinks h and tries again from the same state; it returns the new t and the h to suggest next
(grown when rmax < 0.5). The error of component i is measured against

    D_i = eps_abs + eps_rel (a_y |y_i| + a_dydt h |y'_i|)

(NEST: iaf_cond_alpha and hh_cond_exp_traub eps_abs = 1e-3, eps_rel = 0; aeif_cond_exp
eps_abs = eps_rel = 1e-6 with a_y = a_dydt = 1), in the model's own (NEST's) units, so the
tolerances mean what they mean in NEST. The caller keeps h per cell across time steps, as NEST
keeps it per node.

Everything here is plain Python on float64 arrays, so that numba can compile it unchanged (the
numba simulator's kernels do) and a test can run it without numba. A right-hand side is a
function rhs(p, refractory, y, f) that writes dy/dt into f; `for_model(rhs)` is `evolve_apply`
bound to one (a compiled one, for numba: a static call it can compile and cache, where a
function passed as an argument could be neither inlined nor cached).
"""

from __future__ import annotations

import types

ORDER = 5  # the order GSL's standard control uses for rkf45
SAFETY = 0.9
MAX_SHRINK, MAX_GROWTH = 0.2, 5.0

# Fehlberg's coefficients: the stages' times and weights, the 5th-order solution and the
# difference of the 5th- and 4th-order solutions (the error estimate).
A2, A3, A4, A5, A6 = 1 / 4, 3 / 8, 12 / 13, 1.0, 1 / 2
B21 = 1 / 4
B31, B32 = 3 / 32, 9 / 32
B41, B42, B43 = 1932 / 2197, -7200 / 2197, 7296 / 2197
B51, B52, B53, B54 = 439 / 216, -8.0, 3680 / 513, -845 / 4104
B61, B62, B63, B64, B65 = -8 / 27, 2.0, -3544 / 2565, 1859 / 4104, -11 / 40
C1, C3, C4, C5, C6 = 16 / 135, 6656 / 12825, 28561 / 56430, -9 / 50, 2 / 55
E1, E3, E4, E5, E6 = 1 / 360, -128 / 4275, -2197 / 75240, 1 / 50, 2 / 55

# Rows of the work array (WORK_ROWS x the state's size).
_Y0, _K1, _K2, _K3, _K4, _K5, _K6, _TMP, _ERR, _DYDT = range(10)
WORK_ROWS = 10
DBL_MIN = 2.2250738585072014e-308


def rhs(p, refractory, y, f):
    """The model's right-hand side: bound by `for_model`."""
    raise NotImplementedError("use rkf45.for_model(rhs)")


def for_model(model_rhs, name: str = "evolve_apply"):
    """`evolve_apply` calling `model_rhs` (named `name`: numba caches compiled functions by name)."""
    bound = types.FunctionType(evolve_apply.__code__, {**globals(), "rhs": model_rhs}, name)
    bound.__qualname__ = name
    return bound


def evolve_apply(p, refractory, y, t, t1, h, work, eps_abs, eps_rel, a_y, a_dydt):
    """One accepted step from t towards t1 (y in place); returns (t reached, h to suggest next).

    One function, calling nothing but the model's `rhs` (see `for_model`)."""
    n = y.shape[0]
    y0, k1, k2, k3, k4, k5, k6 = work[_Y0], work[_K1], work[_K2], work[_K3], work[_K4], work[_K5], work[_K6]
    tmp, err, dydt = work[_TMP], work[_ERR], work[_DYDT]
    for i in range(n):
        y0[i] = y[i]
    rhs(p, refractory, y, k1)  # dy/dt at the start, reused by every trial
    span = t1 - t
    while True:
        final = h > span
        h0 = span if final else h
        # one Fehlberg step of size h0 from y0
        for i in range(n):
            tmp[i] = y0[i] + h0 * B21 * k1[i]
        rhs(p, refractory, tmp, k2)
        for i in range(n):
            tmp[i] = y0[i] + h0 * (B31 * k1[i] + B32 * k2[i])
        rhs(p, refractory, tmp, k3)
        for i in range(n):
            tmp[i] = y0[i] + h0 * (B41 * k1[i] + B42 * k2[i] + B43 * k3[i])
        rhs(p, refractory, tmp, k4)
        for i in range(n):
            tmp[i] = y0[i] + h0 * (B51 * k1[i] + B52 * k2[i] + B53 * k3[i] + B54 * k4[i])
        rhs(p, refractory, tmp, k5)
        for i in range(n):
            tmp[i] = y0[i] + h0 * (B61 * k1[i] + B62 * k2[i] + B63 * k3[i] + B64 * k4[i] + B65 * k5[i])
        rhs(p, refractory, tmp, k6)
        for i in range(n):
            y[i] = y0[i] + h0 * (C1 * k1[i] + C3 * k3[i] + C4 * k4[i] + C5 * k5[i] + C6 * k6[i])
            err[i] = h0 * (E1 * k1[i] + E3 * k3[i] + E4 * k4[i] + E5 * k5[i] + E6 * k6[i])
        rhs(p, refractory, y, dydt)
        t_new = t1 if final else t + h0
        # the step-size control: the largest error relative to what is allowed
        rmax = DBL_MIN
        for i in range(n):
            d0 = eps_rel * (a_y * abs(y[i]) + a_dydt * abs(h0 * dydt[i])) + eps_abs
            rmax = max(rmax, abs(err[i]) / abs(d0))
        if rmax > 1.1:
            h_new = h0 * max(SAFETY / rmax ** (1.0 / ORDER), MAX_SHRINK)
            if abs(h_new) < abs(h0) and t_new + h_new != t_new:
                for i in range(n):  # too large an error: undo, try again with the smaller step
                    y[i] = y0[i]
                h = h_new
                continue
            return t_new, h0
        if rmax < 0.5:
            return t_new, h0 * max(min(SAFETY / rmax ** (1.0 / (ORDER + 1.0)), MAX_GROWTH), 1.0)
        return t_new, h0
