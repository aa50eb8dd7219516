"""GLIF_curr_alpha (NEST's glif_psc): the scenario type (NEST's defaults in PyNN's units, the
variants, the receptor ports and their errors) and the maths of snnbench.models.glif. The exact
tier against NEST (every variant, three ports) is the conformance suite's (glif.toml)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from snnbench.models import glif
from snnbench.scenario import ScenarioError
from snnbench.scenario.model import GLIFCurrAlphaParameters, receptor_index, receptor_port

from .conftest import in_fresh_process, requires_nest

HEAD = """
[scenario]
title = "glif"
source = "tests"
[populations.drive]
cell_type = "SpikeSourcePoisson"
size = 2
[populations.other]
cell_type = "IF_curr_exp"
size = 1
[populations.cell]
cell_type = "GLIF_curr_alpha"
size = 1
parameters = { variant = 3, tau_syn = [2.0, 5.0, 0.5] }
"""


def _projection(post, receptor, weight="0.1"):
    return f"""
[[projections]]
pre = "drive"
post = "{post}"
receptor = "{receptor}"
connector = {{ type = "all_to_all" }}
weight = {weight}
delay = 1.0
"""


def _nest_defaults():
    import nest

    nest.ResetKernel()
    return {k: (v.tolist() if hasattr(v, "tolist") else v) for k, v in nest.GetDefaults("glif_psc").items()}


@requires_nest
def test_the_defaults_are_glif_pscs_in_pynns_units():
    from snnbench.backends.nest import nest_cell_parameters

    ours = nest_cell_parameters("GLIF_curr_alpha", GLIFCurrAlphaParameters())
    theirs = in_fresh_process(_nest_defaults)
    assert set(ours) <= set(theirs)
    for key, value in ours.items():
        assert value == pytest.approx(theirs[key], rel=1e-12), key


def test_ports_are_named_syn_k_one_based():
    assert [receptor_port(r) for r in ("syn1", "syn12", "excitatory")] == [1, 12, None]
    assert [receptor_index(r) for r in ("excitatory", "inhibitory", "syn1", "syn3")] == [0, 1, 0, 2]


def test_a_port_with_a_weight_of_either_sign(scenario_text):
    s = scenario_text(HEAD + _projection("cell", "syn3", "-0.2") + _projection("cell", "syn1", '"150 pA"').replace(
        'pre = "drive"', 'name = "second"\npre = "drive"'))
    assert [(p.receptor, p.weight) for p in s.projections] == [("syn3", -0.2), ("syn1", pytest.approx(0.15))]


@pytest.mark.parametrize(("post", "receptor", "key", "words"), [
    ("cell", "syn4", "projections[0].receptor", "has 3 receptor port(s), syn1..syn3"),
    ("cell", "excitatory", "projections[0].receptor", "whose receptors are its ports syn1..syn3"),
    ("other", "syn1", "projections[0].receptor", "'other' is IF_curr_exp: use 'excitatory' or 'inhibitory'"),
    ("cell", "port1", "projections[0].receptor", "expected 'excitatory', 'inhibitory' or a receptor port 'syn1'"),
    ("cell", "syn0", "projections[0].receptor", "got 'syn0'"),
])
def test_a_receptor_the_target_does_not_have_is_refused(scenario_text, post, receptor, key, words):
    with pytest.raises(ScenarioError) as err:
        scenario_text(HEAD + _projection(post, receptor))
    assert key in str(err.value) and words in str(err.value)


def test_a_port_error_exits_2_naming_the_file_and_key(tmp_path, capsys):
    from snnbench.cli import main

    path = tmp_path / "glif.toml"
    path.write_text(HEAD + _projection("cell", "syn7"))
    assert main(["show", str(path)]) == 2
    err = capsys.readouterr().err
    assert "glif.toml" in err and "projections[0].receptor" in err and "syn7" in err


@pytest.mark.parametrize(("extra", "key"), [
    ("asc_amps = [0.1]", "asc_decay"),  # three lists of two, one of one
    ("v_reset = -40.0", "v_reset"),
    ("tau_syn = [2.0, 5.0, 0.5]", "tau_syn"),
    ("variant = 6", "variant"),
    ("tau_refrac = 0.0", "tau_refrac"),
    ("asc_r = [1.5, 1.0]", "asc_r"),
])
def test_parameters_glif_psc_would_refuse_are_refused(scenario_text, extra, key):
    if extra.startswith(("variant", "tau_syn")):  # a key HEAD has: replaced
        text = HEAD.replace("tau_syn = [2.0, 5.0, 0.5]", "tau_syn = []") if key == "tau_syn" else HEAD.replace("variant = 3", extra)
    else:
        text = HEAD.replace("variant = 3,", f"variant = 3, {extra},")
    with pytest.raises(ScenarioError) as err:
        scenario_text(text)
    message = str(err.value)
    assert f"populations.cell.parameters.{key}" in message or ("populations.cell.parameters" in message and key in message), message


def test_the_after_spike_lists_matter_only_with_after_spike_currents(scenario_text):
    s = scenario_text(HEAD.replace("variant = 3,", "variant = 2, asc_amps = [0.1],"))
    assert s.populations["cell"].parameters.has_theta_spike and not s.populations["cell"].parameters.has_asc
    assert glif.state_length(s.populations["cell"].parameters) == glif.N_STATE_FIXED + 2 * 3  # no after-spike currents


# ----------------------------------------------------------------------------- the maths


def _free_run(q, u0, steps, dt=0.1):
    p, s = np.array(glif.parameters(q, dt)), np.array(glif.initial_state(q))
    v, out = q.v_rest + u0, []
    for _ in range(steps):
        v, spiked = glif.step(p, False, v, s, np.zeros(q.n_ports))
        assert not spiked
        out.append((v - q.v_rest, s.copy()))
    return out


def test_glif5_threshold_and_after_spike_currents_are_the_exact_solution():
    """Without input, one step of `step` equals the ODEs integrated finely: dU/dt = (-g U + sum I_j)/C,
    dI_j/dt = -k_j I_j, dtheta_v/dt = a U - b theta_v (the currents held at their step mean, as glif_psc)."""
    from scipy.integrate import solve_ivp

    q = GLIFCurrAlphaParameters(variant=5, asc_init=[0.05, -0.02], th_voltage_index=0.05)
    dt, u0 = 0.1, 10.0
    (u1, s1), = _free_run(q, u0, 1, dt)
    g, cm = q.cm / q.tau_m, q.cm
    k = np.array(q.asc_decay)
    mean_current = float(np.sum(np.array(q.asc_init) * (1 - np.exp(-k * dt)) / (k * dt)))

    def rhs(t, y):
        u, th = y
        return [(-g * u + mean_current) / cm, q.th_voltage_index * u - q.th_voltage_decay * th]

    exact = solve_ivp(rhs, (0.0, dt), [u0, 0.0], rtol=1e-12, atol=1e-14).y[:, -1]
    assert u1 == pytest.approx(exact[0], rel=1e-9)
    assert s1[glif.TH_VOLTAGE] == pytest.approx(exact[1], rel=1e-7)
    np.testing.assert_allclose(s1[glif.N_STATE_FIXED:glif.N_STATE_FIXED + 2], np.array(q.asc_init) * np.exp(-k * dt))


def test_a_spike_resets_as_each_variant_says():
    dt = 0.1
    for variant in (1, 2, 3, 4, 5):
        q = GLIFCurrAlphaParameters(variant=variant)
        p, s = np.array(glif.parameters(q, dt)), np.array(glif.initial_state(q))
        v_above = q.v_thresh + 5.0
        v, spiked = glif.step(p, False, v_above, s, np.zeros(1))
        assert spiked, variant
        if q.has_theta_spike:  # reset from the last v, the threshold raised
            assert v - q.v_rest == pytest.approx(q.voltage_reset_fraction * (v_above - q.v_rest) + q.voltage_reset_add)
            assert s[glif.TH_SPIKE] == pytest.approx(q.th_spike_add)
        else:
            assert v == pytest.approx(q.v_reset)
        if q.has_asc:  # each current: its amplitude plus what is left of it
            np.testing.assert_allclose(s[2:4], q.asc_amps)
        held, again = glif.step(p, True, v, s, np.zeros(1))  # refractory: v held
        assert held == v and not again


def test_an_arrival_starts_an_alpha_current_that_peaks_at_its_weight_after_tau():
    q = GLIFCurrAlphaParameters(tau_syn=[2.0, 0.5])
    dt = 0.01
    p, s = np.array(glif.parameters(q, dt)), np.array(glif.initial_state(q))
    v = q.v_rest
    v, _ = glif.step(p, False, v, s, np.array([0.0, 0.3]))
    ys = []
    for _ in range(200):
        v, _ = glif.step(p, False, v, s, np.zeros(2))
        ys.append(s[glif.N_STATE_FIXED + 3])  # y of port 2
    peak = int(np.argmax(ys))
    assert (peak + 1) * dt == pytest.approx(0.5, abs=dt) and max(ys) == pytest.approx(0.3, rel=1e-3)
    assert s[glif.N_STATE_FIXED + 1] == 0.0 and v > q.v_rest  # port 1 untouched; the current depolarises
    assert math.isfinite(v)


PLASTIC = """
[scenario]
title = "STDP onto a GLIF port"
source = "tests"
[run]
dt = 0.1
simtime = 500.0
seed = 2018
[populations.exc]
cell_type = "SpikeSourcePoisson"
size = 80
parameters = { rate = 20.0 }
[populations.inh]
cell_type = "SpikeSourcePoisson"
size = 20
parameters = { rate = 20.0 }
[populations.cell]
cell_type = "GLIF_curr_alpha"
size = 4
record = { spikes = true, v = 2 }
parameters = { variant = 3, tau_syn = [2.0, 8.0, 0.5] }
[[projections]]
name = "plastic"
pre = "exc"
post = "cell"
receptor = "syn1"
connector = { type = "fixed_probability", p = 0.8 }
weight = 0.08
delay = 1.0
synapse = { type = "STDPMechanism", timing_dependence = { type = "SpikePairRule", A_plus = 0.05, A_minus = 0.06 }, weight_dependence = { type = "AdditiveWeightDependence", w_min = 0.0, w_max = 0.12 } }
record = { weights = { times = [500.0] } }
[[projections]]
name = "inh"
pre = "inh"
post = "cell"
receptor = "syn2"
connector = { type = "all_to_all" }
weight = -0.05
delay = 1.0
"""


@requires_nest
def test_stdp_onto_a_glif_port_numba_as_nest(scenario_text):
    """A plastic projection onto port 1 (NEST: stdp_synapse with receptor_type 1): the same spikes
    and the same weights at the end."""
    from snnbench.analysis.protocol import compare_exact
    from snnbench.runner import run_in_process
    from snnbench.scenario import realise, resolve

    r = resolve(scenario_text(PLASTIC))
    network = realise(r)
    ref = in_fresh_process(run_in_process, r, "nest", connectivity="exact", network=network)
    out = in_fresh_process(run_in_process, r, "numba", connectivity="exact", network=network)
    assert ref.populations["cell"].n_spikes >= 20 and compare_exact(out, ref).passed
    w_numba, w_nest = np.asarray(out.weights["plastic"].values), np.asarray(ref.weights["plastic"].values)
    assert np.ptp(w_nest) > 0.01  # the weights moved
    np.testing.assert_allclose(w_numba, w_nest, atol=1e-12)
