"""PyNN's cell types beyond LIF-exp: the scenario model (PyNN's names, defaults, units, initial
values, weight rules), the maths of snnbench.models, and an AdEx network on numba and NEST."""

from __future__ import annotations

import importlib.util
import math

import numpy as np
import pytest

from snnbench.models import adex, alpha, hh, rkf45
from snnbench.scenario import ScenarioError, resolve
from snnbench.scenario.model import CELL_TYPES, PYNN_CELL_TYPES

from .conftest import in_fresh_process, requires_nest

NEW_TYPES = ("IF_curr_alpha", "IF_cond_alpha", "IF_curr_delta", "EIF_cond_exp_isfa_ista", "Izhikevich", "HH_cond_exp")

HEAD = """
[scenario]
title = "cell types"
source = "tests"
[populations.drive]
cell_type = "SpikeSourcePoisson"
size = 2
"""


def _one_cell(scenario_text, cell_type, extra="", weight=None, receptor="excitatory"):
    text = HEAD + f"""
[populations.cell]
cell_type = "{cell_type}"
size = 1
{extra}
"""
    if weight is not None:
        text += f"""
[[projections]]
pre = "drive"
post = "cell"
receptor = "{receptor}"
connector = {{ type = "all_to_all" }}
weight = {weight}
delay = 1.0
"""
    return scenario_text(text)


# ----------------------------------------------------------------------------- the scenario model


@pytest.mark.skipif(importlib.util.find_spec("pyNN") is None, reason="the Python package 'pynn' is not installed")
@pytest.mark.parametrize("cell_type", PYNN_CELL_TYPES)
def test_defaults_are_pynns(scenario_text, cell_type):
    """Every parameter and initial value of each type, with PyNN 0.13's names and defaults."""
    from pyNN.standardmodels import cells

    pynn = getattr(cells, cell_type)
    pop = _one_cell(scenario_text, cell_type).populations["cell"]
    assert pop.parameters.model_dump() == pynn.default_parameters
    initial = pop.initial_values.model_dump()
    pynn_initial = {k: v for k, v in pynn.default_initial_values.items() if not k.startswith(("isyn", "gsyn"))}
    assert set(initial) == set(pynn_initial)
    assert {k: v for k, v in initial.items() if k != "v"} == {k: v for k, v in pynn_initial.items() if k != "v"}
    # v unset means the type's resting potential, which is PyNN's default initial v with the defaults
    assert initial["v"] is None and pop.parameters.resting_v == pynn_initial["v"]


@pytest.mark.parametrize("cell_type", NEW_TYPES)
def test_an_unknown_parameter_is_refused_naming_its_key(scenario_text, cell_type):
    with pytest.raises(ScenarioError) as err:
        _one_cell(scenario_text, cell_type, extra="parameters = { no_such_parameter = 1.0 }")
    assert "populations.cell.parameters" in str(err.value) and "no_such_parameter" in str(err.value)


def test_units_of_the_other_parameters(scenario_text):
    p = _one_cell(scenario_text, "EIF_cond_exp_isfa_ista", 'parameters = { a = "0.004 uS", b = "80.5 pA" }').populations["cell"]
    assert p.parameters.a == pytest.approx(4.0) and p.parameters.b == pytest.approx(0.0805)  # nS, nA
    izh = _one_cell(scenario_text, "Izhikevich", 'parameters = { a = "20 Hz", d = "2000 mV/s" }\n'
                    'initial_values = { u = "-14 mV/ms" }').populations["cell"]
    assert izh.parameters.a == pytest.approx(0.02) and izh.parameters.d == pytest.approx(2.0)
    with pytest.raises(ScenarioError, match="parameters.a"):
        _one_cell(scenario_text, "Izhikevich", 'parameters = { a = "2 mV" }')
    with pytest.raises(ScenarioError, match="initial_values.h"):
        _one_cell(scenario_text, "HH_cond_exp", "initial_values = { h = 1.5 }")
    with pytest.raises(ScenarioError, match="initial_values.w"):
        _one_cell(scenario_text, "IF_cond_alpha", "initial_values = { w = 0.1 }")  # w is AdEx's


@pytest.mark.parametrize(("cell_type", "weight", "receptor", "unit"), [
    ("IF_curr_delta", '"0.5 mV"', "excitatory", None), ("Izhikevich", "-2.0", "inhibitory", None),
    ("IF_curr_delta", '"0.5 nA"', "excitatory", "voltage"), ("Izhikevich", "2.0", "inhibitory", "<= 0 mV"),
    ("IF_curr_alpha", "-0.1", "inhibitory", None), ("IF_curr_alpha", '"4 nS"', "excitatory", "current"),
    ("HH_cond_exp", "0.01", "inhibitory", None), ("EIF_cond_exp_isfa_ista", "-0.01", "inhibitory", ">= 0"),
    ("IF_cond_alpha", '"4 nS"', "excitatory", None),
])
def test_weights_follow_pynns_units_and_signs(scenario_text, cell_type, weight, receptor, unit):
    """mV onto the voltage-step types, nA onto currents, uS onto conductances; PyNN's signs."""
    if unit is None:
        _one_cell(scenario_text, cell_type, weight=weight, receptor=receptor)
        return
    with pytest.raises(ScenarioError) as err:
        _one_cell(scenario_text, cell_type, weight=weight, receptor=receptor)
    assert "projections[0].weight" in str(err.value) and unit in str(err.value)


def test_adex_spike_detection_above_its_threshold(scenario_text):
    with pytest.raises(ScenarioError, match="v_spike"):
        _one_cell(scenario_text, "EIF_cond_exp_isfa_ista", "parameters = { v_spike = -55.0 }")


def test_a_scenario_restricted_to_some_cell_types_keeps_sources_and_their_projections():
    from snnbench.scenario import load_scenario

    s = load_scenario("single-neuron")
    assert {p.cell_type for p in s.cell_populations.values()} == set(PYNN_CELL_TYPES)
    lif = s.with_cell_types(("IF_cond_exp", "IF_curr_exp"))
    assert set(lif.populations) == {"cond", "curr", "exc", "inh"}
    assert {p.post for p in lif.projections} == {"cond", "curr"} and len(lif.projections) == 4
    resolve(lif)  # still a scenario that resolves


# ----------------------------------------------------------------------------- the maths


def test_alpha_propagators_are_the_exact_solution():
    """One step of the propagators equals the matrix exponential of the linear system (x, I, v)."""
    from scipy.linalg import expm

    cm, tau_m, tau_s, dt = 0.2, 20.0, 2.0, 0.1
    a = alpha.alpha_propagators(cm, tau_m, tau_s, dt)
    p33, p30 = alpha.membrane_propagators(cm, tau_m, dt)
    # d/dt [x, I, v, 1] with a constant current of 0.3 nA
    A = np.array([[-1 / tau_s, 0, 0, 0], [1, -1 / tau_s, 0, 0], [0, 1 / cm, -1 / tau_m, 0.3 / cm], [0, 0, 0, 0]])
    step = expm(A * dt)
    np.testing.assert_allclose([step[0, 0], step[1, 0], step[1, 1]], [a.p11, a.p21, a.p11], rtol=1e-12)
    np.testing.assert_allclose([step[2, 0], step[2, 1], step[2, 2], step[2, 3]], [a.p31, a.p32, p33, p30 * 0.3], rtol=1e-10)
    assert a.jump == pytest.approx(math.e / tau_s)
    # tau_m == tau_syn: the limits
    same = alpha.alpha_propagators(cm, tau_m, tau_m, dt)
    assert same.p32 == pytest.approx(dt / cm * math.exp(-dt / tau_m))
    assert same.p31 == pytest.approx(0.5 * dt * dt / cm * math.exp(-dt / tau_m))


def _integrate(rhs, p, y, t_end, tolerance, refractory=False):
    work = np.zeros((rkf45.WORK_ROWS, y.size))
    t, h, steps = 0.0, 0.1, 0
    while t < t_end:
        t, h = rkf45.for_model(rhs)(p, refractory, y, t, t_end, h, work, *tolerance)
        steps += 1
    return y, steps


def test_rkf45_meets_its_tolerance_on_a_decay_and_adapts_its_step():
    def decay(p, refractory, y, f):
        f[0] = -y[0] / p[0]
        f[1] = -y[1] * y[1]  # y' = -y^2: y = 1 / (1 + t)
    y, steps = _integrate(decay, [5.0], np.array([70.0, 1.0]), 10.0, (1e-6, 0.0, 1.0, 0.0))
    assert y[0] == pytest.approx(70.0 * math.exp(-2.0), abs=1e-5)
    assert y[1] == pytest.approx(1.0 / 11.0, abs=1e-5)
    assert 10 < steps < 1000  # neither one step nor the smallest


def test_adex_and_hh_right_hand_sides_match_their_equations():
    from snnbench.scenario.model import EIFCondExpIsfaIstaParameters, HHCondExpParameters

    q = EIFCondExpIsfaIstaParameters()
    p = adex.parameters(q)
    f = np.zeros(adex.STATE)
    adex.rhs(p, False, np.array([-55.0, 10.0, 5.0, 50.0]), f)  # v mV, g nS, g nS, w pA
    g_l = 1000 * q.cm / q.tau_m
    dv = (-g_l * (-55 - q.v_rest) + g_l * q.delta_T * math.exp((-55 - q.v_thresh) / q.delta_T)
          - 10 * (-55 - q.e_rev_E) - 5 * (-55 - q.e_rev_I) - 50) / (1000 * q.cm)
    assert f[adex.V] == pytest.approx(dv)
    assert f[adex.W] == pytest.approx((q.a * (-55 - q.v_rest) - 50) / q.tau_w)
    adex.rhs(p, True, np.array([-55.0, 10.0, 5.0, 50.0]), f)
    assert f[adex.V] == 0.0  # refractory: v held
    # HH at rest with PyNN's initial gates: no sodium current, m and n open, h closes
    qh = HHCondExpParameters()
    f = np.zeros(hh.STATE)
    hh.rhs(hh.parameters(qh), False, np.array([-65.0, 0.0, 1.0, 0.0, 0.0, 0.0]), f)
    assert f[hh.V] == pytest.approx(0.0) and f[hh.M] > 0 and f[hh.N] > 0 and f[hh.H] < 0


# ----------------------------------------------------------------------------- an AdEx network

ADEX_NETWORK = """
# A hand-written network in the scenario format: 400 AdEx cells (PyNN's default parameters, a
# quarter of them inhibitory by their projections) under Poisson drive, sparse recurrence.
[scenario]
title = "AdEx network"
source = "tests: snnbench's scenario format (docs/scenario-format.md)"

[run]
dt = 0.1
simtime = 1000.0
seed = 7
transient = 100.0

[populations.E]
cell_type = "EIF_cond_exp_isfa_ista"
size = 300
initial_values = { v = { distribution = "uniform", low = -70.6, high = -55.0 } }

[populations.I]
cell_type = "EIF_cond_exp_isfa_ista"
size = 100
parameters = { b = 0.0, a = 0.0, tau_m = 5.0 }
initial_values = { v = { distribution = "uniform", low = -70.6, high = -55.0 } }

[populations.drive]
cell_type = "SpikeSourcePoisson"
size = 400
parameters = { rate = 20.0 }

[[projections]]
pre = "drive"
post = "E"
receptor = "excitatory"
connector = { type = "fixed_in_degree", n = 40 }
weight = 0.004
delay = 1.0

[[projections]]
pre = "drive"
post = "I"
receptor = "excitatory"
connector = { type = "fixed_in_degree", n = 40 }
weight = 0.004
delay = 1.0

[[projections]]
pre = "E"
post = "E"
receptor = "excitatory"
connector = { type = "fixed_probability", p = 0.05 }
weight = 0.002
delay = 1.5

[[projections]]
pre = "E"
post = "I"
receptor = "excitatory"
connector = { type = "fixed_probability", p = 0.05 }
weight = 0.002
delay = 1.5

[[projections]]
pre = "I"
post = "E"
receptor = "inhibitory"
connector = { type = "fixed_probability", p = 0.1 }
weight = 0.01
delay = 1.5

[[projections]]
pre = "I"
post = "I"
receptor = "inhibitory"
connector = { type = "fixed_probability", p = 0.1 }
weight = 0.01
delay = 1.5
"""


@pytest.mark.slow  # two 1 s runs of 400 cells integrated by RKF45: more than a few seconds
@requires_nest
def test_an_adex_network_has_the_same_rates_on_numba_and_nest(scenario_text):
    """The same realised network (exact mode) on both: a recurrent network is chaotic, so the
    rasters part, but every population's rate after the transient must agree within 5 %."""
    from snnbench.runner import run_in_process
    from snnbench.scenario import realise

    r = resolve(scenario_text(ADEX_NETWORK, "adex-network"))
    network = realise(r)
    rates = {}
    for backend in ("numba", "nest"):
        out = in_fresh_process(run_in_process, r, backend, connectivity="exact", network=network)
        rates[backend] = {name: float(np.sum(out.populations[name].spike_time > 100.0)) / out.populations[name].size / 0.9
                          for name in ("E", "I")}
    for name in ("E", "I"):
        assert rates["nest"][name] > 2.0, f"{name} must fire for this test to mean anything: {rates}"
        assert rates["numba"][name] == pytest.approx(rates["nest"][name], rel=0.05), rates


# ----------------------------------------------------------------------------- the README's matrix


def test_the_readme_support_matrix_is_the_generated_one():
    """README's table equals `snnbench list --matrix` (from the registry's declarations)."""
    import re

    from snnbench import present
    from snnbench.backends import REGISTRY

    from .conftest import ROOT

    readme = (ROOT / "README.md").read_text()
    found = re.search(r"<!-- support matrix: snnbench list --matrix -->\n(.*?)\n<!-- end of support matrix -->", readme, re.S)
    assert found, "README.md has lost its support matrix markers"
    assert found.group(1).splitlines() == present.support_matrix_lines(list(REGISTRY.items())), \
        "README.md's support matrix is out of date: paste the output of `snnbench list --matrix`"


def test_snnbench_list_matrix_prints_it(capsys):
    from snnbench import cli

    assert cli.main(["list", "--matrix"]) == 0
    out = capsys.readouterr().out.splitlines()
    from snnbench.backends import REGISTRY
    from snnbench.scenario.model import PLASTICITY_RULES

    assert out[0].startswith("| cell type, synapse or source | `numba` | `nest` |")
    assert len(out) == 2 + len(CELL_TYPES) + len(PLASTICITY_RULES) + 1
    cells = [[c.strip() for c in line.strip().strip("|").split("|")] for line in out[2:]]
    rows = {row[0]: dict(zip(REGISTRY, row[1:])) for row in cells}
    assert all(row["nest"] == "yes" for row in rows.values())  # NEST runs every one
    # pynn.nest: PyNN's three weight dependences, not NEST's power-law extension
    assert rows["STDP `stdp_pl_synapse_hom`"]["pynn.nest"] == "no"
    assert rows["STDP `AdditiveWeightDependence`"]["pynn.nest"] == "yes"
    assert rows["sources with several spikes per step"]["bindsnet"] == "no"
