"""GeNN (PyGeNN 5): the scenario -> model description translation (always; no pygenn needed), and,
where pygenn is built, runs: a small COBA network, a network raster against numba. The exact tier
and every connector in both modes are the conformance suite's (tests/conformance/).

pygenn is not on PyPI: the tests that run GeNN skip without it (docs/backends.md, 'genn, genn.cuda', says how to build it).
GeNN generates and compiles C++ for each model: a first run compiles for ~10-30 s per model, later
runs reuse snnbench's cache (~/.cache/snnbench/genn).
"""

from __future__ import annotations

import importlib.util
import math
import shutil

import numpy as np
import pytest

from snnbench.backends import backend_class
from snnbench.backends import genn as G
from snnbench.scenario import Overrides, load_scenario, realise, resolve

from .conftest import ROOT, requires_nest

HAVE_PYGENN = importlib.util.find_spec("pygenn") is not None
requires_pygenn = pytest.mark.skipif(not HAVE_PYGENN, reason="pygenn (GeNN 5) is not installed: it is not on PyPI, see docs/backends.md")

# The conformance suite's scenario: every connector, source type, delay form and distribution.
FEATURES_FILE = ROOT / "tests" / "conformance" / "features.toml"
FEATURES = FEATURES_FILE.read_text()


@pytest.fixture(scope="module")
def features():
    return resolve(load_scenario(FEATURES_FILE))


def _syn(desc, label):
    return next(s for s in desc.synapses if s.label == label)


def _whats(desc, label=None):
    return [t for t in desc.translations if label is None or t["detail"].startswith(label + ":")]


# ============================================================================= no pygenn needed


def test_coba_description_parameters_and_units():
    r = resolve(load_scenario("vogels-abbott-coba"))
    d = G.describe(r, "native")
    E = d.populations["E"]
    assert E.model == "lif_cond" and E.size == 3200 and E.record_spikes == 3200 and E.record_v == 2
    p = E.params
    assert p["Cm"] == 0.2 and p["GL"] == pytest.approx(0.2 / 20.0)  # nF, uS
    assert (p["Vrest"], p["Vreset"], p["Vthresh"], p["Ee"], p["Ei"], p["Ioffset"]) == (-60.0, -60.0, -50.0, 0.0, -80.0, 0.0)
    assert p["RefracSteps"] == 50  # 5 ms / 0.1 ms
    assert p["DecE"] == pytest.approx(math.exp(-0.1 / 5.0)) and p["DecI"] == pytest.approx(math.exp(-0.1 / 10.0))
    assert p["AvgE"] == pytest.approx(5.0 / 0.1 * (1 - math.exp(-0.02)))  # step mean of g, ~0.990
    assert E.vars["V"] == G.VarInit("Uniform", {"min": -60.0, "max": -50.0})
    assert E.vars["RefracTime"] == 0 and E.vars["gE"] == 0.0 and E.vars["gI"] == 0.0
    e2e, i2e, ext = _syn(d, "e2e"), _syn(d, "i2e"), _syn(d, "ext2e")
    assert e2e.connectivity == ("FixedProbability", {"prob": 0.02}) and e2e.matrix == "SPARSE"
    assert e2e.weight_model == "StaticPulseConstantWeight" and e2e.weight_params == {"g": 0.004}  # uS, as PyNN
    assert (e2e.target, i2e.target) == ("IsynE", "IsynI") and i2e.weight_params == {"g": 0.051}
    assert e2e.axonal_delay_steps == 1  # 0.2 ms = 2 steps: GeNN's axonal delay is d - 1
    assert ext.weight_params == {"g": 0.1} and ext.connectivity == ("FixedProbability", {"prob": 0.01})
    stim = d.populations["stim"]  # 100 Hz for 50 ms: p = 0.01 per step, emission steps 0..499
    assert stim.model == "poisson_window" and stim.params["P"] == pytest.approx(0.01)
    assert stim.params["TStart"] == pytest.approx(-0.05) and stim.params["TStop"] == pytest.approx(49.95)
    assert d.seed == r.seed + 1 and d.precision == "double" and d.n_steps == 10000
    assert not d.empty and all(not s.explicit for s in d.synapses)
    whats = {t["what"] for t in d.translations}
    assert {"neuron model", "spike times", "v sampling", "SpikeSourcePoisson"} <= whats
    assert "connector" not in whats and "delay" not in whats  # nothing drawn by the harness, delays on the grid


def test_cuba_description_matches_numba_propagators():
    from snnbench.backends import numba_kernels as K

    r = resolve(load_scenario("vogels-abbott-cuba"))
    d = G.describe(r, "native")
    E = d.populations["E"]
    q = r.populations["E"].spec.parameters
    row = K.group_parameters(q.cm, q.tau_m, q.tau_syn_E, q.tau_syn_I, q.v_rest, q.v_reset, q.v_thresh, q.i_offset, 0.0, 0.0, 0.1)
    assert E.model == "lif_curr" and set(E.vars) == {"V", "RefracTime", "IE", "II"}
    for key, col in (("P22", K.P22), ("P21E", K.P21E), ("P21I", K.P21I), ("P20", K.P20), ("DecE", K.DEC_E), ("DecI", K.DEC_I)):
        assert E.params[key] == pytest.approx(row[col], rel=1e-14), key
    assert E.params["Vrest"] == -49.0 and E.params["Vreset"] == -60.0
    assert _syn(d, "e2e").weight_params == {"g": 0.0162}  # nA
    i2e = _syn(d, "i2e")
    assert i2e.weight_params == {"g": -0.09} and i2e.target == "IsynI"  # PyNN's negative inhibitory current
    assert "stim" not in d.populations


def test_cond_propagators_match_numba():
    from snnbench.backends import numba_kernels as K

    r = resolve(load_scenario("single-neuron"))
    q = r.populations["cond"].spec.parameters
    p = G.cell_parameters("IF_cond_exp", q, 0.1)
    row = K.group_parameters(q.cm, q.tau_m, q.tau_syn_E, q.tau_syn_I, q.v_rest, q.v_reset, q.v_thresh, q.i_offset, q.e_rev_E, q.e_rev_I, 0.1)
    for key, col in (("GL", K.G_L), ("Cm", K.CM), ("AvgE", K.AVG_E), ("AvgI", K.AVG_I), ("Ee", K.E_E), ("Ei", K.E_I)):
        assert p[key] == pytest.approx(row[col], rel=1e-14), key


def test_other_cell_types_take_numbas_coefficients():
    """IF_curr_alpha, IF_curr_delta, Izhikevich, AdEx and HH: the custom models' parameters are numba's row
    (the same propagators, in the same units), their state starts where PyNN's initial values say."""
    from snnbench.backends import numba_cells as C

    types = ("IF_curr_alpha", "IF_curr_delta", "Izhikevich")
    r = resolve(load_scenario("single-neuron").with_cell_types(types), Overrides(simtime=10.0))
    d = G.describe(r, "native")
    columns = {
        "IF_curr_alpha": {"P33": C.A_P33, "Drive": C.A_DRIVE, "Vrest": C.A_E_L, "Vreset": C.A_RESET, "Vthresh": C.A_THRESH,
                          "P11E": C.A_P11E, "P21E": C.A_P21E, "P31E": C.A_P31E, "P32E": C.A_P32E, "JumpE": C.A_JUMPE,
                          "P11I": C.A_P11I, "P21I": C.A_P21I, "P31I": C.A_P31I, "P32I": C.A_P32I, "JumpI": C.A_JUMPI},
        "IF_curr_delta": {"P33": C.D_P33, "Drive": C.D_DRIVE, "Vrest": C.D_E_L, "Vreset": C.D_RESET, "Vthresh": C.D_THRESH},
        "Izhikevich": {"A": C.I_A, "B": C.I_B, "C": C.I_C, "D": C.I_D, "Drive": C.I_DRIVE},
    }
    for name, pop in r.cells.items():
        spec, q = d.populations[name], pop.spec.parameters
        assert spec.model == G.CELL_MODELS[pop.cell_type]
        row = C.group_row(pop.cell_type, q, 0.1, 20)
        for key, col in columns[pop.cell_type].items():
            assert spec.params[key] == pytest.approx(row[col], rel=1e-14), (name, key)
        if pop.cell_type == "Izhikevich":
            assert "RefracSteps" not in spec.params and spec.params["Vpeak"] == 30.0
            assert spec.vars == {"V": -70.0, "U": -14.0}  # PyNN's defaults
        else:
            assert spec.params["RefracSteps"] == C.refractory_steps(pop.cell_type, q, 0.1) == 50
    assert set(d.populations["curr_alpha"].vars) == {"V", "RefracTime", "XE", "IE", "XI", "II"}
    # the RKF45 types: numba's parameter rows in NEST's units, in the order of snnbench.models
    rkf = resolve(load_scenario("single-neuron").with_cell_types(("EIF_cond_exp_isfa_ista", "HH_cond_exp")), Overrides(simtime=10.0))
    adex, hh = (G.describe(rkf, "native").populations[name] for name in ("adex", "hh"))
    for spec, n in ((adex, 15), (hh, 13)):
        row = C.group_row(spec.cell_type, rkf.populations[spec.name].spec.parameters, 0.1, 20)
        assert list(spec.params.values())[:n] == pytest.approx(list(row[:n]), rel=1e-14), spec.name
        assert spec.vars["Hstep"] == 0.1 and spec.vars["Spiked"] == 0
    assert adex.params["Cm"] == 281.0 and adex.params["B"] == pytest.approx(80.5) and adex.params["Vspike"] == -40.0  # pF, pA
    assert adex.params["RefracSteps"] == 1 and adex.vars["W"] == 0.0
    assert hh.params["RefracSteps"] == 20  # NEST's 2 ms without a second spike
    assert (hh.vars["Mgate"], hh.vars["Hgate"], hh.vars["Ngate"]) == (0.0, 1.0, 0.0)  # PyNN's initial gates
    assert set(d.populations["delta"].vars) == {"V", "RefracTime"}
    for name in ("exc", "inh"):  # the input arrives through IsynE/IsynI, unchanged
        assert {s.target for s in d.synapses if s.pre == name} == {"IsynE" if name == "exc" else "IsynI"}


# The RKF45 types: the population of single-neuron, the code and model of genn.py, what the C step
# does after GeNN's sim code (cond_alpha: GeNN's threshold and reset; the others report Spiked),
# and weights (uS) strong enough that the step control rejects and shrinks steps.
RKF45_CASES = {
    "IF_cond_alpha": ("cond_alpha", "cond_alpha_sim_code", "LIF_COND_ALPHA",
                      "int spiked = *V >= Vthresh; if (spiked) { *V = Vreset; *RefracTime = RefracSteps; }", (0.16, 0.4)),
    "EIF_cond_exp_isfa_ista": ("adex", "adex_sim_code", "ADEX", "int spiked = *Spiked;", (0.05, 0.1)),
    "HH_cond_exp": ("hh", "hh_sim_code", "HH", "int spiked = *Spiked;", (0.1, 0.1)),
}


@pytest.mark.skipif(shutil.which("gcc") is None, reason="no C compiler (gcc) to compile the generated code with")
@pytest.mark.parametrize("cell_type", list(RKF45_CASES))
def test_rkf45_code_takes_numbas_steps(cell_type, tmp_path):
    """The step GeNN is given for an RKF45 type (C, NEST's RKF45 unrolled), compiled alone with gcc,
    against numba's kernel under the same random arrivals: the same spikes and v to rounding."""
    import re
    import subprocess

    from snnbench.backends import numba_cells as C

    name, code, model, after, weights = RKF45_CASES[cell_type]
    r = resolve(load_scenario("single-neuron").with_cell_types((cell_type,)), Overrides(simtime=10.0))
    q = r.populations[name].spec.parameters
    spec = G.describe(r, "native").populations[name]
    assert spec.model == G.CELL_MODELS[cell_type] and spec.vars["Hstep"] == 0.1
    names = [v[0] for v in getattr(G, model)["vars"]]
    body = getattr(G, code)()
    for var in names:
        body = re.sub(rf"(?<!\w){var}(?!\w)", f"(*{var})", body)
    consts = "".join(f"static const {'int' if k == 'RefracSteps' else 'double'} {k} = {v!r};\n" for k, v in spec.params.items())
    kinds = {var: ("int" if t == "int" else "double") for var, t, *_ in getattr(G, model)["vars"]}
    state = "".join(f"    {kinds[var]} {var} = {float(np.ravel(spec.vars[var])[0]) if kinds[var] == 'double' else int(spec.vars[var])};\n"
                    for var in names)
    args = ", ".join(f"{kinds[var]} *{var}" for var in names)
    refs = ", ".join(f"&{var}" for var in names)
    source = tmp_path / "step.c"
    source.write_text(f"""#include <math.h>
#include <stdio.h>
typedef double scalar;
{consts}
static int step({args}, double IsynE, double IsynI, double dt) {{
{body}
{after.replace("*V", "(*V)").replace("*RefracTime", "(*RefracTime)").replace("*Spiked", "(*Spiked)")}
    return spiked;
}}
int main(void) {{
{state}    double e, i;
    while (scanf("%lf %lf", &e, &i) == 2) {{
        int spiked = step({refs}, e, i, 0.1);
        printf("%.17g %d\\n", V, spiked);
    }}
    return 0;
}}
""")
    subprocess.run(["gcc", "-O2", "-o", str(tmp_path / "step"), str(source), "-lm"], check=True)
    n = 5000
    rng = np.random.default_rng(1)
    arrive = np.stack([rng.binomial(5, 0.02, n) * weights[0], rng.binomial(2, 0.02, n) * weights[1]], axis=1)
    lines = subprocess.run([str(tmp_path / "step")], input="\n".join(f"{e!r} {i!r}" for e, i in arrive.tolist()),
                           capture_output=True, text=True, check=True).stdout.split()
    c_v, c_spiked = np.array(lines[0::2], dtype=float), np.array(lines[1::2], dtype=int).astype(bool)
    kind = C.KINDS[cell_type]
    row = C.group_row(cell_type, q, 0.1, 20)
    v = np.array([float(np.ravel(spec.vars["V"])[0])])
    syn_e, syn_i, refr, spiked = np.zeros(1), np.zeros(1), np.zeros(1, np.int64), np.zeros(1, bool)
    aux = C.initial_aux(cell_type, r.populations[name].spec.initial_values, 0.1, 1)
    n_v, n_spiked, h = np.empty(n), np.empty(n, bool), np.empty(n)
    r_steps = C.refractory_steps(cell_type, q, 0.1)
    for k in range(n):
        C.update_group(kind, row, r_steps, 0.1, v, syn_e, syn_i, aux, refr, arrive[k, :1].copy(), arrive[k, 1:].copy(), spiked)
        n_v[k], n_spiked[k], h[k] = v[0], spiked[0], aux[0, C.H_INT]
    assert n_spiked.sum() >= 10, "the input must make the cell fire for this test to mean anything"
    assert (h < 0.1).sum() > 100, "the step control must shrink steps for this test to mean anything"
    np.testing.assert_array_equal(np.flatnonzero(c_spiked), np.flatnonzero(n_spiked))
    np.testing.assert_allclose(c_v, n_v, rtol=0, atol=1e-9)


def test_glif_models_follow_each_variant_and_port():
    """GLIF_curr_alpha: one model per variant layout, numba's parameter row under names, port k's
    projections onto Isyn<k>, the after-spike currents starting at asc_init."""
    from snnbench.backends import numba_cells as C

    r = resolve(load_scenario(ROOT / "tests" / "conformance" / "glif.toml"))
    d = G.describe(r, "native")
    models = {name: d.populations[name].model for name in r.cells}
    assert models == {"glif1": "glif_0_3_00", "glif2": "glif_0_3_10", "glif3": "glif_2_3_00", "glif4": "glif_2_3_10",
                      "glif5": "glif_2_3_11"}
    for name, pop in r.cells.items():
        spec, q = d.populations[name], pop.spec.parameters
        assert list(spec.params.values())[:-1] == pytest.approx(list(C.group_row("GLIF_curr_alpha", q, 0.1, 0)), rel=1e-14)
        assert spec.params["RefracSteps"] == C.refractory_steps("GLIF_curr_alpha", q, 0.1)
        model = G.glif_model(spec.model)
        assert {v[0] for v in model["vars"]} == set(spec.vars)
        assert [v[0] for v in model["additional_input_vars"]] == ["Isyn1", "Isyn2", "Isyn3"]
        assert [v for v in model["params"] if isinstance(v, str)] == list(spec.params)[:-1]
    assert (d.populations["glif3"].vars["Asc0"], d.populations["glif3"].vars["Asc1"]) == tuple(r.cells["glif3"].spec.parameters.asc_init)
    targets = {(s.post, s.target) for s in d.synapses}
    assert {t for _, t in targets} == {"Isyn1", "Isyn2", "Isyn3"}
    for proj in r.projections:
        assert _syn(d, proj.label).target == "Isyn" + proj.receptor.removeprefix("syn")
    assert "ThV" in G.glif_model("glif_2_3_11")["sim_code"] and "ThV =" not in G.glif_model("glif_2_3_10")["sim_code"]


def test_declared_cell_types_have_models_and_the_others_reasons():
    from snnbench.scenario.model import CELL_TYPES

    for cls in (backend_class("genn"), backend_class("genn.cuda")):
        assert set(cls.cell_types) == set(G.CELL_MODELS)
        assert set(cls.cell_types) == set(CELL_TYPES) and not cls.cell_type_refusals


def test_tau_m_equal_tau_syn_uses_the_limit(features):
    p = G.describe(features, "native").populations["A"].params  # tau_m = tau_syn_E = 10 ms
    assert np.isfinite(p["P21E"]) and p["P21E"] == pytest.approx(0.1 / 0.25 * math.exp(-0.01))


def test_exact_mode_hands_the_harness_arrays_to_genn():
    r = resolve(load_scenario("vogels-abbott-coba"), Overrides(N_pop=400, simtime=100.0))
    net = realise(r)
    d = G.describe(r, "exact", net)
    for proj in net.projections:
        s = _syn(d, proj.label)
        assert s.connectivity is None and s.explicit
        np.testing.assert_array_equal(s.pre_idx, proj.pre_idx)
        np.testing.assert_array_equal(s.post_idx, proj.post_idx)
        np.testing.assert_array_equal(s.weight_vars["g"], proj.weight)
        assert s.weight_model == "StaticPulse" and s.axonal_delay_steps == 1
    np.testing.assert_array_equal(d.populations["E"].vars["V"], net.populations["E"].v_init)
    stim = d.populations["stim"]  # Poisson realised by the harness -> SpikeSourceArray
    steps = net.populations["stim"].spike_steps
    assert stim.model == "SpikeSourceArray"
    np.testing.assert_array_equal(stim.vars["endSpike"], np.cumsum([s.size for s in steps]))
    np.testing.assert_allclose(stim.egps["spikeTimes"], (np.concatenate(steps) - 1.5) * 0.1)
    with pytest.raises(ValueError, match="realised network"):
        G.describe(r, "exact", None)


def test_connector_choice_and_fallbacks(features):
    d = G.describe(features, "native")
    assert _syn(d, "indeg_repl").connectivity == ("FixedNumberPreWithReplacement", {"num": 4})
    assert _syn(d, "total").connectivity == ("FixedNumberTotalWithReplacement", {"num": 100})
    assert _syn(d, "poisson_p").connectivity == ("FixedProbability", {"prob": 0.3})
    assert _syn(d, "prob_noself").connectivity == ("FixedProbabilityNoAutapse", {"prob": 0.1})
    assert _syn(d, "one").connectivity == ("OneToOne", {})
    assert _syn(d, "all").matrix == "DENSE" and _syn(d, "all").connectivity is None
    # weights that are distributions: GeNN's own initialisers
    assert _syn(d, "poisson_p").weight_vars["g"] == G.VarInit("Uniform", {"min": 0.05, "max": 0.15})
    assert d.populations["A"].vars["V"] == G.VarInit("NormalClipped", {"mean": -60.0, "sd": 5.0, "min": -70.0, "max": -53.0})
    assert d.populations["B"].vars["V"] == G.VarInit("Normal", {"mean": -65.0, "sd": 2.0})
    # what GeNN cannot draw comes from the harness, and says why
    for label, why in (("indeg_norepl_noself", "without replacement"), ("total_norepl_noself", "without replacement"),
                       ("all_noself", "autapses"), ("list", "explicit list"), ("indeg_repl_noself", "autapses"),
                       ("gauss", "gaussian_in_degree")):
        s = _syn(d, label)
        assert s.explicit and s.connectivity is None, label
        assert any(t["what"] == "connector" and why in t["detail"] for t in _whats(d, label)), label
    assert _syn(d, "all_noself").n_explicit == 5 * 4
    assert any("with replacement" in t["detail"] for t in _whats(d, "indeg_repl") if t["what"] == "fixed_in_degree")


def test_delays_on_the_grid_axonal_and_dendritic(features):
    d = G.describe(features, "native")
    s = _syn(d, "indeg_repl")  # 1.05 ms: put on the grid, recorded
    assert s.axonal_delay_steps == round(1.05 / 0.1) - 1
    assert any(t["what"] == "delay" for t in _whats(d, "indeg_repl"))
    assert _syn(d, "poisson_p").axonal_delay_steps == 0  # one step (0.1 ms): no axonal delay in GeNN
    dend = _syn(d, "indeg_norepl_noself")  # uniform(0.5, 2.0) delays: dendritic, d - 1 steps
    assert dend.weight_model == "StaticPulseDendriticDelay" and dend.axonal_delay_steps == 0
    assert dend.weight_vars["d"].dtype == np.uint8
    assert dend.weight_vars["d"].min() >= 4 and dend.weight_vars["d"].max() <= 19
    assert dend.max_dendritic_delay_timesteps == int(dend.weight_vars["d"].max()) + 1
    lst = _syn(d, "list")  # from_list delays 1.0, 2.0, 0.2 ms
    np.testing.assert_array_equal(np.sort(lst.weight_vars["d"]), [1, 9, 19])
    assert d.populations["A"].params["RefracSteps"] == 21  # 2.03 ms -> 21 steps (up, as NEST), recorded
    assert any(t["what"] == "tau_refrac" for t in _whats(d, "A"))
    assert d.populations["B"].params["RefracSteps"] == 0


def test_too_long_heterogeneous_delays_are_refused(tmp_path):
    text = FEATURES.replace('delay = { distribution = "uniform", low = 0.5, high = 2.0 }',
                            'delay = { distribution = "uniform", low = 0.5, high = 40.0 }')
    path = tmp_path / "long.toml"
    path.write_text(text)
    with pytest.raises(ValueError, match="dendritic delays"):
        G.describe(resolve(load_scenario(path)), "native")


def test_unsupported_things_are_refused(features, tmp_path):
    r = resolve(load_scenario("vogels-abbott-cuba"), Overrides(N_pop=400, simtime=10.0))
    genn = backend_class("genn")
    assert genn().supports(r, "native") == [] and genn().supports(r, "exact") == []
    (problem,) = genn(threads=2).supports(r, "native")
    assert "one thread" in problem
    (problem,) = genn(options={"cache": "lukewarm"}).supports(r, "native")
    assert "cache='lukewarm'" in problem
    (problem,) = genn(options={"precision": "half"}).supports(r, "native")
    assert "precision='half'" in problem
    (problem,) = genn(options={"optimize": "yes"}).supports(r, "native")
    assert "optimize='yes'" in problem
    assert genn(options={"optimize": False}).supports(r, "native") == []
    (problem,) = genn(options={"turbo": 1}).supports(r, "native")
    assert "turbo" in problem



def test_several_spikes_per_step_are_counted(features, tmp_path):
    """A source whose steps carry several spikes (rate x dt > 1; a time given twice in a step): a
    custom source that counts them, and count_pulse synapses delivering count x weight through a
    dendritic delay; a plastic projection from such a source is refused."""
    path = tmp_path / "fast.toml"
    path.write_text(FEATURES.replace("rate = 200.0", "rate = 20000.0"))
    fast = resolve(load_scenario(path))
    assert backend_class("genn")().supports(fast, "native") == []
    d = G.describe(fast, "native")
    (name,) = [n for n, p in d.populations.items() if p.model == "count_array"]  # native: the harness's Poisson counts
    spec = d.populations[name]
    assert any(s.size and np.unique(s, return_counts=True)[1].max() > 1 for s in spec.source_steps)
    assert spec.vars["endSpike"][-1] == sum(s.size for s in spec.source_steps)
    assert any("Poisson counts per step" in t["detail"] for t in _whats(d, name))
    from_it = [s for s in d.synapses if s.pre == name]
    assert from_it and all(s.weight_model == "count_pulse" and s.axonal_delay_steps == 0 and "d" in s.weight_vars
                           for s in from_it)
    assert all(s.weight_model != "count_pulse" for s in G.describe(features, "native").synapses)
    stdp = STDP_FILE.read_text().replace("spike_times = [10.0, 18.8,", "spike_times = [10.0, 10.0, 18.8,")
    path.write_text(stdp)
    (problem,) = backend_class("genn")().supports(resolve(load_scenario(path)), "exact")
    assert problem.startswith("projection plastic: plastic synapse from pre, whose steps carry several spikes")


STDP_FILE = ROOT / "tests" / "conformance" / "stdp.toml"
_PAIR_RULE = ('synapse = { type = "STDPMechanism", timing_dependence = { type = "SpikePairRule", tau_plus = 20.0, '
              'tau_minus = 15.0, A_plus = 0.3, A_minus = 0.4 }, weight_dependence = { type = "AdditiveWeightDependence", '
              'w_min = 0.0, w_max = 0.1 } }')


def _stdp(tmp_path, *replacements):
    text = STDP_FILE.read_text()
    for old, new in replacements:
        assert old in text
        text = text.replace(old, new)
    path = tmp_path / "stdp.toml"
    path.write_text(text)
    return resolve(load_scenario(path))


def test_plastic_projection_description(tmp_path):
    """NEST's STDP as a custom weight update model: no axonal delay, back-propagation delay d - 1,
    transmitted through a dendritic delay of d - 1, post traces read d + 1 steps back."""
    r = resolve(load_scenario(STDP_FILE))
    d = G.describe(r, "exact", realise(r))
    s = _syn(d, "plastic")  # 2 ms = 20 steps
    assert s.rule == "AdditiveWeightDependence" and s.weight_model == "stdp_AdditiveWeightDependence"
    assert (s.axonal_delay_steps, s.back_prop_delay_steps, s.max_dendritic_delay_timesteps) == (0, 19, 22)
    assert s.weight_params == {"TauPlus": 20.0, "TauMinus": 15.0, "Aplus": 0.3, "Aminus": 0.4, "Wmin": 0.0, "Wmax": 0.1,
                               "Delay": 2.0, "Den": 19, "Seen": 21}
    np.testing.assert_array_equal(s.weight_vars["g"], [0.05])
    assert any(t["what"] == "plasticity" for t in _whats(d, "plastic"))
    static = _syn(d, "drive")  # untouched: 1 ms, axonal delay 9
    assert static.rule is None and static.axonal_delay_steps == 9 and static.back_prop_delay_steps == 0
    # native mode: a constant plastic weight is still a variable per synapse
    va = resolve(load_scenario("vogels-abbott-coba-stdp"), Overrides(N_pop=400))
    e2e = _syn(G.describe(va, "native"), "e2e")
    assert e2e.connectivity[0] == "FixedProbability" and e2e.weight_vars == {"g": 0.004} and "g" not in e2e.weight_params
    assert (e2e.back_prop_delay_steps, e2e.weight_params["Den"], e2e.weight_params["Seen"]) == (1, 1, 3)
    # the power law reads w^mu in NEST's unit: pA onto IF_curr_exp, mV onto IF_curr_delta
    power = ('synapse = { type = "stdp_pl_synapse_hom", tau_plus = 20.0, tau_minus = 15.0, lambda = 0.05, alpha = 1.2, '
             'mu = 0.4 }')
    pl = _syn(G.describe(_stdp(tmp_path, (_PAIR_RULE, power)), "native"), "plastic").weight_params
    assert pl["UnitPow"] == pytest.approx(1000.0 ** -0.6) and (pl["Lambda"], pl["Alpha"], pl["Mu"]) == (0.05, 1.2, 0.4)
    delta = _stdp(tmp_path, (_PAIR_RULE, power), ('cell_type = "IF_curr_exp"\nsize = 1\nparameters = { tau_syn_E = 1.0, tau_refrac = 5.0 }',
                                                   'cell_type = "IF_curr_delta"\nsize = 1\nparameters = { tau_refrac = 5.0 }'))
    assert _syn(G.describe(delta, "native"), "plastic").weight_params["UnitPow"] == 1.0


def test_stdp_code_updates_the_weight_as_numba():
    """Each rule's GeNN code (potentiation, depression), run here as Python, against numba_plastic's."""
    from snnbench.backends import numba_plastic as P
    from snnbench.scenario.model import PowerLawSTDP, STDPMechanism

    stdp = {"type": "SpikePairRule", "tau_plus": 20.0, "tau_minus": 15.0, "A_plus": 0.3, "A_minus": 0.4}
    synapses = [STDPMechanism(type="STDPMechanism", timing_dependence=stdp,
                              weight_dependence={"type": rule, "w_min": 0.01, "w_max": 0.1}) for rule in
                ("AdditiveWeightDependence", "MultiplicativeWeightDependence", "AdditivePotentiationMultiplicativeDepression")]
    synapses.append(PowerLawSTDP(type="stdp_pl_synapse_hom", tau_plus=20.0, tau_minus=15.0, **{"lambda": 0.05}, alpha=1.2, mu=0.4))
    funcs = {"fmin": min, "fmax": max, "pow": pow}
    for syn in synapses:
        up, down = G.STDP_UPDATES[syn.rule]
        params = G.stdp_parameters(syn, 20, 0.1, 1000.0)
        row = P.rule_row(syn, 1000.0)
        for w, k in [(0.05, 0.7), (0.099, 2.5), (0.011, 1.3), (0.05, 0.0)]:
            for code, reference in ((up, P._potentiate), (down, P._depress)):
                env = {**funcs, **params, "g": w, "k": k}
                exec(code.replace(";", ""), {}, env)
                assert env["g"] == pytest.approx(reference(w, k, row), rel=1e-14, abs=1e-300), (syn.rule, code, w, k)
    model = G.stdp_model("MultiplicativeWeightDependence")
    assert "Kminus[Seen]" in model["pre_spike_syn_code"] and "addToPostDelay(g, Den)" in model["pre_spike_syn_code"]


def test_plastic_synapses_refused_where_genn_cannot(tmp_path):
    genn = backend_class("genn")
    r = resolve(load_scenario(STDP_FILE))
    assert genn().supports(r, "exact") == []
    half = _stdp(tmp_path, ("w_max = 0.1 } }", "w_max = 0.1 }, dendritic_delay_fraction = 0.5 }"))
    (problem,) = genn().supports(half, "exact")
    assert "dendritic_delay_fraction 0.5" in problem and "whole delay dendritic" in problem


def test_plastic_projection_with_several_delays_is_one_group_per_delay(tmp_path):
    """GeNN's back-propagation delay is one per synapse group: a plastic projection whose delays
    differ becomes one group per delay, each remembering its edges' places in the harness's arrays."""
    listed = _stdp(tmp_path, ('connector = { type = "one_to_one" }\nweight = 0.05\ndelay = 2.0',
                              'connector = { type = "from_list", connections = [[0, 0, 0.05, 2.0], [0, 0, 0.04, 1.0], '
                              '[0, 0, 0.03, 2.0]] }\nweight = 0.05\ndelay = 2.0'))
    assert backend_class("genn")().supports(listed, "exact") == []
    d = G.describe(listed, "exact", realise(listed))
    groups = [s for s in d.synapses if s.label == "plastic"]
    assert [(s.weight_params["Den"], s.back_prop_delay_steps, s.edge_index.tolist()) for s in groups] == [(9, 9, [1]), (19, 19, [0, 2])]
    assert len({s.genn_name for s in d.synapses}) == len(d.synapses)
    np.testing.assert_array_equal(groups[1].weight_vars["g"], [0.05, 0.03])
    assert any("2 delays (10 to 20 steps): one GeNN synapse group per delay" in t["detail"] for t in _whats(d, "plastic"))


def test_seed_is_never_genns_random_seed():
    assert G.genn_seed(0) == 1 and G.genn_seed(2**32 - 1) == 1 and G.genn_seed(5) == 6


def test_unavailable_reasons(monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "pygenn" else real(name, *a))
    for name in ("genn", "genn.cuda"):
        ok, why = backend_class(name).available()
        assert not ok and "not on PyPI" in why and "docs/backends.md" in why
    monkeypatch.undo()
    monkeypatch.setattr(G.GeNNBackend, "available", classmethod(lambda cls: (True, "pygenn test")))
    monkeypatch.setattr(G, "_cuda_backend_built", lambda: False)
    ok, why = G.GeNNCudaBackend.available()
    assert not ok and "without the CUDA backend" in why and "CUDA_PATH" in why
    monkeypatch.setattr(G, "_cuda_backend_built", lambda: True)
    monkeypatch.setattr(G, "_gpu_status", lambda: (False, "no NVIDIA GPU (cuDeviceGetCount = 0)"))
    assert G.GeNNCudaBackend.available() == (False, "no NVIDIA GPU (cuDeviceGetCount = 0)")


# ============================================================================= with pygenn


def _run_genn(r, mode, network=None, options=None):
    b = backend_class("genn")(options=options)
    assert b.supports(r, mode) == []
    b.load()
    try:
        b.build(r, mode, network)
        b.compile(r)
        b.run()
        return b.collect(), b.translations, dict(b.info)
    finally:
        b.close()


@requires_pygenn
def test_small_coba_network_plausible_and_cache_warm(tmp_path, monkeypatch):
    monkeypatch.setenv("SNNBENCH_CACHE_DIR", str(tmp_path / "cache"))
    r = resolve(load_scenario("vogels-abbott-coba"), Overrides(scale=0.1, simtime=200.0))
    out, _, info = _run_genn(r, "native")
    assert info["compile_cache"] == "cold"
    e = out.populations["E"]
    rate = e.rate_hz(0.0, 200.0)
    assert 1.0 < rate < 100.0  # the 50 ms kick drives the 400-cell net; it may die out afterwards
    from snnbench.scenario.resolve import expected_connections

    proj = next(p for p in r.projections if p.label == "e2e")
    expected = expected_connections(proj.connector, 320, 320, True)  # K kept (hold in_degree): p = 64 / 320
    assert abs(out.synapses["e2e"] - expected) < 5 * expected**0.5
    again, _, info2 = _run_genn(r, "native")
    assert info2["compile_cache"] == "warm" and info2["objects_compiled"] == 0
    assert again.populations["E"].n_spikes == e.n_spikes  # same seed, same GeNN random numbers
    assert info["optimize_code"] is True and info["code_dir"] == info2["code_dir"]
    _, _, plain = _run_genn(r, "native", options={"optimize": False})  # GeNN's default: no -O flag
    assert plain["optimize_code"] is False and plain["code_dir"] != info["code_dir"]  # not in GeNN's hash
    assert plain["compile_cache"] == "cold"


@requires_pygenn
def test_exact_mode_network_raster_identical_to_numba():
    """Same arrays, same integration: GeNN reproduces numba's raster spike for spike (measured: the
    whole 1 s of VA COBA and CUBA at N = 4000 without divergence)."""
    from snnbench.analysis.protocol import compare_exact
    from snnbench.runner import run_in_process

    r = resolve(load_scenario("vogels-abbott-cuba"), Overrides(N_pop=1000, simtime=200.0))
    network = realise(r)
    ref = run_in_process(r, "numba", connectivity="exact", network=network)
    out, _, _ = _run_genn(r, "exact", network)
    assert ref.populations["E"].n_spikes > 100
    assert compare_exact(out, ref).first_divergence_ms is None
    for name in ("E", "I"):
        a, b = ref.populations[name], out.populations[name]
        order_a, order_b = np.lexsort((a.spike_index, a.spike_time)), np.lexsort((b.spike_index, b.spike_time))
        np.testing.assert_array_equal(b.spike_index[order_b], a.spike_index[order_a])
        np.testing.assert_allclose(b.spike_time[order_b], a.spike_time[order_a], atol=1e-9)


@requires_pygenn
def test_stdp_weight_trajectory_follows_the_rule(tmp_path, monkeypatch):
    """One plastic synapse on GeNN, the multiplicative rule (whose updates do not commute, so their
    order counts): the weight at each recording time is the rule computed from the spike times with
    NEST's pairing (a pre and a post spike seen in the same step unpaired). The slow tier compares
    every rule with NEST (tests/conformance/test_plasticity.py)."""
    from .conformance.test_plasticity import RULES, _rule_by_hand, _scenario

    monkeypatch.setenv("SNNBENCH_CACHE_DIR", str(tmp_path / "cache"))
    rule = "MultiplicativeWeightDependence"
    r, network = _scenario(rule)
    out, _, _ = _run_genn(r, "exact", network)
    post = out.populations["post"].spike_time
    assert post.size == 5, "one post spike per drive spike"
    pre = np.asarray(r.populations["pre"].spec.parameters.spike_times)
    spec = r.projections[0].spec
    samples = out.weights["plastic"]
    expected = _rule_by_hand(RULES[rule], pre, post, spec.delay, spec.weight, samples.times, r.dt)
    assert samples.chosen.tolist() == [[0, 0]] and samples.values.shape == (len(samples.times), 1)
    np.testing.assert_allclose(samples.trajectory[:, 0], expected, rtol=1e-9)
    assert np.ptp(expected) > 0.01 * expected[0]  # potentiation and depression both happened


@pytest.mark.slow
@requires_pygenn
@requires_nest
def test_plastic_projection_split_by_delay_agrees_with_nest(tmp_path, monkeypatch):
    """Three plastic synapses from one source onto one cell with delays 2, 1 and 2 ms (two GeNN
    groups): every weight trajectory and the post spikes are NEST's within 1e-6 relative."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    from snnbench.runner import run_in_process

    monkeypatch.setenv("SNNBENCH_CACHE_DIR", str(tmp_path / "cache"))
    listed = _stdp(tmp_path, ('connector = { type = "one_to_one" }\nweight = 0.05\ndelay = 2.0',
                              'connector = { type = "from_list", connections = [[0, 0, 0.05, 2.0], [0, 0, 0.04, 1.0], '
                              '[0, 0, 0.03, 2.0]] }\nweight = 0.05\ndelay = 2.0'),
                   ("synapses = 1 }", "synapses = 3 }"))
    network = realise(listed)
    with ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn")) as pool:  # NEST's kernel is global
        reference = pool.submit(run_in_process, listed, "nest", connectivity="exact", network=network).result()
    out, _, _ = _run_genn(listed, "exact", network)
    np.testing.assert_allclose(out.populations["post"].spike_time, reference.populations["post"].spike_time, atol=1e-9)
    got, want = out.weights["plastic"], reference.weights["plastic"]
    assert got.chosen.tolist() == want.chosen.tolist() == [[0, 0]] * 3
    assert np.ptp(want.trajectory, axis=0).min() > 1e-3  # every synapse's weight moves
    np.testing.assert_allclose(got.trajectory, want.trajectory, rtol=1e-6)
