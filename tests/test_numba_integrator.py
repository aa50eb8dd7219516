"""The numba simulator against closed-form solutions of a single neuron."""

from __future__ import annotations

import math

import numpy as np
import pytest

from snnbench.runner import run_in_process
from snnbench.scenario import resolve

CELL = """
[scenario]
title = "single neuron"
source = "tests: analytic solution of the LIF membrane"
[run]
dt = 0.1
simtime = {simtime}
[populations.N]
cell_type = "{cell_type}"
size = 1
record = {{ spikes = true, v = 1 }}
parameters = {{ cm = 0.25, tau_m = 10.0, tau_refrac = 2.0, v_rest = -65.0, v_reset = -70.0, v_thresh = -55.0, i_offset = {i_offset}, tau_syn_E = 2.0, tau_syn_I = 5.0 }}
initial_values = {{ v = -65.0 }}
"""


@pytest.mark.parametrize("cell_type", ["IF_curr_exp", "IF_cond_exp"])
def test_constant_current_matches_the_analytic_solution(scenario_text, cell_type):
    i_offset, tau, cm, v_rest, theta, reset, t_ref = 1.2, 10.0, 0.25, -65.0, -55.0, -70.0, 2.0
    r = resolve(scenario_text(CELL.format(cell_type=cell_type, simtime=100.0, i_offset=i_offset)))
    out = run_in_process(r, "numba").populations["N"]
    R = tau / cm  # MOhm
    v_inf = v_rest + R * i_offset
    t_first = -tau * math.log(1 - (theta - v_rest) / (v_inf - v_rest))
    spikes = out.spike_time
    # The first spike is stamped at the end of the step in which v crosses threshold.
    assert spikes[0] == pytest.approx(math.ceil(t_first / 0.1) * 0.1)
    assert abs(spikes[0] - t_first) <= 0.1
    # Before it, v follows v_inf + (v_rest - v_inf) exp(-t / tau) at every sample.
    t = out.v_times
    before = t < spikes[0] - 1e-9
    analytic = v_inf + (v_rest - v_inf) * np.exp(-t[before] / tau)
    np.testing.assert_allclose(out.v[before, 0], analytic, atol=1e-9)
    # Then: clamped at v_reset for tau_refrac, and the next interval starts from v_reset.
    t_next = -tau * math.log((v_inf - theta) / (v_inf - reset))
    isi = np.diff(spikes)
    assert np.all(np.abs(isi - (t_ref + t_next)) <= 0.1 + 1e-9)
    refractory = (t > spikes[0] + 1e-9) & (t <= spikes[0] + t_ref + 1e-9)
    assert np.all(out.v[refractory, 0] == reset)


def test_postsynaptic_potential_matches_the_analytic_solution(scenario_text):
    s = scenario_text(CELL.format(cell_type="IF_curr_exp", simtime=60.0, i_offset=0.0) + """
[populations.src]
cell_type = "SpikeSourceArray"
size = 1
parameters = { spike_times = [5.0] }
[[projections]]
pre = "src"
post = "N"
receptor = "excitatory"
connector = { type = "one_to_one" }
weight = 0.5
delay = 1.5
""")
    out = run_in_process(resolve(s), "numba").populations["N"]
    w, tau_m, tau_s, cm, t0 = 0.5, 10.0, 2.0, 0.25, 5.0 + 1.5
    t = out.v_times
    after = t > t0
    u = t[after] - t0
    psp = w * tau_s * tau_m / (cm * (tau_m - tau_s)) * (np.exp(-u / tau_m) - np.exp(-u / tau_s))
    np.testing.assert_allclose(out.v[after, 0] + 65.0, psp, atol=1e-9)
    np.testing.assert_allclose(out.v[~after, 0], -65.0, atol=1e-12)  # nothing before the arrival
    assert out.n_spikes == 0 and psp.max() > 1.0  # a visible PSP (mV) that stays below threshold


def test_conductance_input_pulls_towards_the_reversal_potential(scenario_text):
    """A strong inhibitory conductance drives v towards e_rev_I and never past it."""
    s = scenario_text(CELL.format(cell_type="IF_cond_exp", simtime=40.0, i_offset=0.0).replace(
        "tau_syn_I = 5.0 }", "tau_syn_I = 5.0, e_rev_I = -80.0 }") + """
[populations.src]
cell_type = "SpikeSourceArray"
size = 1
parameters = { spike_times = [1.0, 1.1, 1.2, 1.3, 1.4, 1.5, 1.6, 1.7, 1.8, 1.9] }
[[projections]]
pre = "src"
post = "N"
receptor = "inhibitory"
connector = { type = "one_to_one" }
weight = 1.0
delay = 0.1
""")
    out = run_in_process(resolve(s), "numba").populations["N"]
    assert out.v.min() < -78.0
    assert out.v.min() >= -80.0


def test_refractory_period_off_the_grid_is_rounded_up_as_nest_does(scenario_text):
    """tau_refrac = 2.03 ms at dt = 0.1 ms clamps v for 21 steps (NEST's count), and says so."""
    from snnbench.backends.numba_native import NumbaBackend

    r = resolve(scenario_text(CELL.format(cell_type="IF_curr_exp", simtime=30.0, i_offset=1.2).replace(
        "tau_refrac = 2.0", "tau_refrac = 2.03")))
    backend = NumbaBackend()
    backend.load()
    backend.build(r, "native", None)
    backend.run()
    out = backend.collect().populations["N"]
    assert [e["what"] for e in backend.translations if "2.03" in e["detail"]] == ["tau_refrac"]
    first = out.spike_time[0]
    after = (out.v_times > first + 1e-9) & (out.v_times <= first + 3.0 + 1e-9)  # before the next spike
    assert (out.v[after, 0] == -70.0).sum() == 21
    assert out.v[np.searchsorted(out.v_times, first + 2.1 + 1e-9), 0] > -70.0  # free again after 21 steps


# ------------------------------------------------------------------------------ method=euler

EULER_INPUT = """
[populations.src]
cell_type = "SpikeSourceArray"
size = 1
parameters = {{ spike_times = [3.0, 20.0, 20.5, 41.0] }}
[[projections]]
name = "exc"
pre = "src"
post = "N"
receptor = "excitatory"
connector = {{ type = "one_to_one" }}
weight = {w_e}
delay = 1.0
[[projections]]
name = "inh"
pre = "src"
post = "N"
receptor = "inhibitory"
connector = {{ type = "one_to_one" }}
weight = {w_i}
delay = 2.0
"""


def _euler_recurrence(cell_type, n_steps, dt, arrivals_e, arrivals_i, i_offset):
    """v at the end of each step by forward Euler, written out step by step (CELL's parameters),
    with the refractory clamp, threshold and reset of the exact path; arrivals_*[k] join the synapse
    at the end of step k."""
    cm, tau_m, v_rest, v_reset, v_thresh, tau_e, tau_i, e_e, e_i = 0.25, 10.0, -65.0, -70.0, -55.0, 2.0, 5.0, 0.0, -70.0
    v, s_e, s_i, refr, out = -65.0, 0.0, 0.0, 0, np.empty(n_steps)
    for k in range(n_steps):
        if cell_type == "IF_cond_exp":
            dv = (cm / tau_m * (v_rest - v) + s_e * (e_e - v) + s_i * (e_i - v) + i_offset) / cm
        else:
            dv = (v_rest - v) / tau_m + (s_e + s_i + i_offset) / cm
        if refr > 0:
            v, refr = v_reset, refr - 1
        elif v + dt * dv >= v_thresh:
            v, refr = v_reset, 20
        else:
            v = v + dt * dv
        out[k] = v
        s_e = s_e - dt * s_e / tau_e + arrivals_e[k]
        s_i = s_i - dt * s_i / tau_i + arrivals_i[k]
    return out


# Weights exact in float32 (native mode stores them so; recorded as a translation).
@pytest.mark.parametrize("cell_type, w_e, w_i", [("IF_curr_exp", 2.0, -1.0), ("IF_cond_exp", 0.125, 0.0625)])
def test_euler_follows_the_forward_euler_recurrence(scenario_text, cell_type, w_e, w_i):
    """method=euler: v at every step equals an Euler recurrence written independently here, through
    synaptic input (both receptors), spikes, refractory clamps and resets."""
    n_steps, dt, i_offset = 600, 0.1, 0.3
    s = scenario_text(CELL.format(cell_type=cell_type, simtime=n_steps * dt, i_offset=i_offset).replace(
        "tau_syn_I = 5.0 }", "tau_syn_I = 5.0, e_rev_I = -70.0 }" if cell_type == "IF_cond_exp" else "tau_syn_I = 5.0 }")
        + EULER_INPUT.format(w_e=w_e, w_i=w_i))
    out = run_in_process(resolve(s), "numba", options={"method": "euler"}).populations["N"]
    arrivals_e, arrivals_i = np.zeros(n_steps), np.zeros(n_steps)
    for t in (3.0, 20.0, 20.5, 41.0):  # a spike at t arrives after its delay, at the end of step (t + d)/dt - 1
        arrivals_e[round((t + 1.0) / dt) - 1] += w_e
        arrivals_i[round((t + 2.0) / dt) - 1] += w_i
    expected = _euler_recurrence(cell_type, n_steps, dt, arrivals_e, arrivals_i, i_offset)
    np.testing.assert_allclose(out.v[:, 0], expected, rtol=0, atol=1e-9)
    assert 1 <= out.n_spikes < 20  # the input made it spike and the clamp held
    single = run_in_process(resolve(s), "numba", options={"method": "euler", "dtype": "float32"}).populations["N"]
    assert single.v.dtype == np.float64 and np.array_equal(single.spike_time, out.spike_time)
    np.testing.assert_allclose(single.v[:, 0], expected, rtol=0, atol=1e-3)  # float32 v: ulps of ~4e-6 mV a step add up
    assert np.abs(single.v[:, 0] - expected).max() > 1e-9  # ... and float32 it is
    exact = run_in_process(resolve(s), "numba").populations["N"]
    assert np.abs(exact.v[:, 0] - out.v[:, 0]).max() > 1e-3  # another scheme, not the exact one relabelled


def test_float32_state_needs_euler(scenario_text):
    from snnbench.backends import backend_class

    from .conftest import MINIMAL

    r, numba = resolve(scenario_text(MINIMAL)), backend_class("numba")
    assert numba.option_scenario_problems(r, {"dtype": "float32"}) == [
        "dtype=float32 needs method=euler (the exact scheme's kernels are float64)"]
    assert numba(options={"method": "euler", "dtype": "float32"}).supports(r, "native") == []


def test_euler_refuses_other_cell_types_before_the_run(tmp_path, capsys, scenario_text):
    from snnbench import cli
    from snnbench.backends import backend_class

    from .conftest import MINIMAL

    alpha = MINIMAL.replace('cell_type = "IF_curr_exp"', 'cell_type = "IF_curr_alpha"')
    (tmp_path / "alpha.toml").write_text(alpha)
    rc = cli.main(["run", str(tmp_path / "alpha.toml"), "--backend", "numba", "--option", "method=euler",
                   "--results", str(tmp_path / "r")])
    err = capsys.readouterr().err
    assert rc == cli.EXIT_BAD_INPUT
    assert "alpha.toml" in err and "population N: method=euler applies to IF_cond_exp and IF_curr_exp only" in err
    assert "IF_curr_alpha" in err and not (tmp_path / "r" / "runs.jsonl").exists()
    numba = backend_class("numba")
    assert numba(options={"method": "exact"}).supports(resolve(scenario_text(alpha)), "native") == []
    for cell_type in ("IF_curr_exp", "IF_cond_exp"):
        lif = resolve(scenario_text(MINIMAL.replace('"IF_curr_exp"', f'"{cell_type}"')))
        assert numba(options={"method": "euler"}).supports(lif, "native") == []
