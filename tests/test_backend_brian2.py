"""Brian2, runtime (Cython) and C++ standalone devices: its own native connectors, whole networks
through the isolated runner, the compile phase and its cache, and what the adapter refuses (the
exact tier and every feature against NEST: tests/conformance/).

Brian2 compiles generated code: with an empty cache (snnbench's, ~/.cache/snnbench/brian2) the
first run of this file compiles for several minutes; later runs reuse the cache.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from snnbench.backends import backend_class
from snnbench.runner import RunSpec, run_in_process, run_isolated
from snnbench.scenario import Overrides, load_scenario, realise, resolve
from snnbench.store import ResultStore

from .conftest import ROOT, requires

pytestmark = [
    requires("brian2", "brian2"),
    # Brian2 2.9 calls pyparsing's camelCase names, deprecated in pyparsing 3.3.
    pytest.mark.filterwarnings(r"ignore:'\w+'( argument is)? deprecated[ ,-]+use:DeprecationWarning"),
]

DEVICES = ["brian2", "brian2.standalone"]
NETWORKS = ["vogels-abbott-coba", "vogels-abbott-cuba"]


# ----------------------------------------------------------------------------- Brian2's own connectors
# The exact tier against NEST and every feature in both modes are the conformance suite's
# (tests/conformance/); here: what Brian2 draws itself in native mode, synapse by synapse.

FEATURES_FILE = ROOT / "tests" / "conformance" / "features.toml"


def _run_keeping_synapses(backend: str, r, mode: str, network=None):
    """Run in this process; return the output and each projection's (i, j, w, delay) from Brian2."""
    b = backend_class(backend)()
    assert b.supports(r, mode) == []
    b.load()
    try:
        b.build(r, mode, network)
        b.compile(r)
        b.run()
        out = b.collect()
        syn = {}
        for label, obj in b.synapse_objects.items():
            w = np.asarray(obj.w_[:]) if "w" in obj.variables else None
            syn[label] = (np.asarray(obj.i[:]), np.asarray(obj.j[:]), w, np.asarray(obj.delay_[:]) * 1000.0)
        return out, syn, b.translations
    finally:
        b.close()


# One run per device, so that a test process compiles only the device it tests (with an empty
# cache each device's build of this network is minutes of compiling). The runtime device compiles
# each of the network's code objects as its own Cython module, several seconds each, which on a
# fresh machine made it the longest item of the fast tier: it runs in the slow tier; the two
# devices share every line of the translation, which the standalone case checks in the fast tier.
@pytest.fixture(scope="module", params=[pytest.param("brian2", marks=pytest.mark.slow), "brian2.standalone"])
def features(request):
    r = resolve(load_scenario(FEATURES_FILE))
    return r, _run_keeping_synapses(request.param, r, "native")


def test_native_connectors(features):
    r, (out, syn, translations) = features
    sizes = {name: pop.size for name, pop in r.populations.items()}

    i, j, w, d = syn["indeg_norepl_noself"]  # sample(N_pre - 1, size=K), shifted past j
    assert np.all(np.bincount(j, minlength=sizes["A"]) == 5) and not np.any(i == j)
    assert len(set(zip(i.tolist(), j.tolist()))) == i.size  # without replacement
    assert np.all((w >= 0) & (w <= 0.1e-9 + 1e-18))  # normal_clipped in [0, 0.1] nA
    assert np.all((d >= 0.5 - 1e-9) & (d <= 2.0 + 1e-9)) and np.unique(np.round(d, 6)).size > 5
    i, j, _, _ = syn["indeg_repl"]
    assert np.all(np.bincount(j, minlength=sizes["A"]) == 4) and i.max() < sizes["B"]
    i, j, _, d = syn["indeg_repl_noself"]
    assert np.all(np.bincount(j, minlength=sizes["G"]) == 6) and not np.any(i == j)
    assert np.all((d >= 0.1 - 1e-9) & (d <= 3.0 + 1e-9))  # normal_clipped delays
    assert syn["total"][0].size == 100
    assert 180 < syn["poisson_p"][0].size < 300  # p = 0.3 of 20 x 40 pairs: 240 +- 13
    i, j, _, _ = syn["all_noself"]
    assert i.size == 5 * 4 and not np.any(i == j)
    i, j, w, _ = syn["prob_noself"]
    assert 80 < i.size < 240 and not np.any(i == j) and np.all(w < 0)  # normal(-0.05, 0.01) nA
    i, j, _, _ = syn["total_norepl_noself"]  # without replacement, autapses dropped
    assert i.size <= 50 and not np.any(i == j) and len(set(zip(i.tolist(), j.tolist()))) == i.size
    np.testing.assert_array_equal(syn["one"][0], syn["one"][1])
    np.testing.assert_allclose(np.sort(syn["list"][3]), [0.2, 1.0, 2.0])  # from_list delays
    assert any(t["what"] == "fixed_total_number" for t in translations)

    p = out.populations["P"]  # Poisson, 200 Hz from 20 ms for 100 ms; the first 5 recorded
    assert p.n_spikes > 0 and set(p.spike_index) <= set(range(5))
    assert p.spike_time.min() > 20.0 and p.spike_time.max() <= 120.0 + 1e-9
    s = out.populations["S"]
    np.testing.assert_allclose(np.sort(s.spike_time), [5.0, 7.0, 10.1])
    a = out.populations["A"]
    assert a.v.shape == (2000, 3) and set(a.spike_index) <= set(range(10))
    assert np.all((a.v[0] > -70.0) & (a.v[0] < -52.0))  # from normal_clipped initial values
    assert out.populations["B"].n_spikes > 0
    assert syn["gauss"][0].size == 4 * 25  # from the harness's arrays (no native gaussian_in_degree)


# ----------------------------------------------------------------------------- networks


# Whole VA networks at N = 4000 on both devices: the slow tier (each size is its own standalone
# build, minutes with an empty cache). The fast tier keeps the exact tier, every connector and the
# cache behaviour above and below; the VA validation of both devices is in the slow tier too.
@pytest.fixture(scope="module")
def records(tmp_path_factory):
    store = ResultStore(tmp_path_factory.mktemp("results"))
    return {
        (scenario, device): run_isolated(RunSpec(scenario=scenario, backend=device, timeout=900), store)
        for scenario in NETWORKS for device in DEVICES
    }


@pytest.mark.slow
@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("scenario", NETWORKS)
def test_network_rates_in_the_published_range(records, scenario, device):
    record = records[scenario, device]
    assert record["status"] == "ok", record.get("failure")
    assert record["neurons"] == 4000
    r = resolve(load_scenario(scenario), Overrides())
    expected = r.expected_synapses()
    assert abs(record["synapses"] - expected) < 5 * expected**0.5  # fixed_probability: binomial
    for name, (low, high) in load_scenario(scenario).expected.rate_hz.items():
        pop = record["populations"][name]
        assert low <= pop["rate_hz"] <= high, (name, pop["rate_hz"])
        assert low <= pop["rate_hz_after_transient"] <= high, (name, pop["rate_hz_after_transient"])


@pytest.mark.slow
@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("scenario", NETWORKS)
def test_record_has_the_compile_phase_and_cache_state(records, scenario, device):
    record = records[scenario, device]
    assert record["status"] == "ok", record.get("failure")
    for phase in ("import", "compile", "build", "sim", "collect", "write"):
        assert record["phases"][phase]["wall_s"] >= 0
    info = record["backend_info"]
    assert info["compile_cache"] in ("cold", "warm", "partial")
    compiled = info["modules_compiled"] if device == "brian2" else info["objects_compiled"]
    assert (info["compile_cache"] == "warm") == (compiled == 0)
    assert info["sim_loop_s"] <= record["phases"]["sim"]["wall_s"]
    assert record["backend_version"] == record["provenance"]["software"]["brian2"]
    whats = {t["what"] for t in record["translations"]}
    assert {"spike times", "refractory", "v sampling"} <= whats
    if device == "brian2.standalone":
        assert "children_peak_rss_bytes" in record["phases"]["sim"]  # the binary's memory is measured


@pytest.mark.slow
def test_the_two_devices_draw_the_same_network(records):
    """Native mode, same seed: Brian2's own connect() and random numbers on both devices."""
    for scenario in NETWORKS:
        a, b = records[scenario, "brian2"], records[scenario, "brian2.standalone"]
        assert a["synapses_per_projection"] == b["synapses_per_projection"]


# ----------------------------------------------------------------------------- what is refused


def _resolved(name="vogels-abbott-cuba"):
    return resolve(load_scenario(name), Overrides(N_pop=400, simtime=10.0))


def test_runtime_device_is_single_threaded():
    problems = backend_class("brian2")(threads=2).supports(_resolved(), "native")
    assert len(problems) == 1 and "one thread" in problems[0] and "brian2.standalone" in problems[0]
    assert backend_class("brian2.standalone")(threads=2).supports(_resolved(), "native") == []


@pytest.mark.parametrize("device", DEVICES)
def test_bad_options_are_refused(device):
    cls = backend_class(device)
    assert cls(options={"cache": "cold"}).supports(_resolved(), "exact") == []
    (problem,) = cls(options={"cache": "lukewarm"}).supports(_resolved(), "exact")
    assert "cache='lukewarm'" in problem and "cold" in problem
    (problem,) = cls(options={"turbo": True}).supports(_resolved(), "exact")
    assert "turbo" in problem


def test_an_unsupported_run_is_recorded_with_its_reason(tmp_path):
    record = run_isolated(RunSpec(scenario="vogels-abbott-cuba", backend="brian2", threads=2,
                                  overrides=Overrides(N_pop=400, simtime=10.0)), ResultStore(tmp_path))
    assert record["status"] == "failed"
    assert record["failure"]["kind"] == "unsupported" and "one thread" in record["failure"]["message"]


# ----------------------------------------------------------------------------- integration method


def test_the_method_option_chooses_the_integrator_and_says_so():
    from snnbench.backends.brian2 import cell_model

    p = _resolved("vogels-abbott-coba").cells["E"].spec.parameters
    m = cell_model("IF_cond_exp", p, 0.1, 50)
    assert m.method == "exponential_euler" and "mean_e*g_e" in m.equations and not any("method=" in d for _, d in m.notes)
    m = cell_model("IF_cond_exp", p, 0.1, 50, "euler")
    assert m.method == "euler" and "mean_e" not in m.equations and "mean_e" not in m.namespace
    assert any("method=euler" in d and "exponential_euler" in d for _, d in m.notes)
    q = _resolved("vogels-abbott-cuba").cells["E"].spec.parameters
    assert cell_model("IF_curr_exp", q, 0.1, 50).method == "exact"
    assert cell_model("IF_curr_exp", q, 0.1, 50, "euler").method == "euler"


@pytest.mark.parametrize("device", DEVICES)
def test_exact_integration_of_conductance_cells_is_refused(device):
    cls = backend_class(device)
    problems = cls(options={"method": "exact"}).supports(_resolved("vogels-abbott-coba"), "native")
    assert len(problems) == 2 and all("method=exact" in p and "IF_cond_exp" in p for p in problems)  # E and I
    assert cls(options={"method": "exact"}).supports(_resolved("vogels-abbott-cuba"), "native") == []
    assert cls(options={"method": "euler"}).supports(_resolved("vogels-abbott-coba"), "native") == []


def test_the_method_reaches_brian2_and_has_a_project_of_its_own(monkeypatch, tmp_path):
    monkeypatch.setenv("SNNBENCH_CACHE_DIR", str(tmp_path / "cache"))
    r = _resolved("vogels-abbott-coba")
    backend = backend_class("brian2.standalone")(options={"method": "euler"})
    backend.load()
    try:
        backend.build(r, "native", None)  # standalone: nothing is generated or compiled yet
        assert {backend.groups[name].method_choice for name in ("E", "I")} == {"euler"}
        assert Path(backend.info["project_dir"]).name.endswith("-euler")
        assert any("method=euler" in t["detail"] for t in backend.translations)
    finally:
        backend.close()


# ----------------------------------------------------------------------------- caches


def test_cold_option_uses_a_fresh_cache_and_removes_it(monkeypatch, tmp_path):
    monkeypatch.setenv("SNNBENCH_CACHE_DIR", str(tmp_path / "cache"))
    warm = backend_class("brian2")()
    warm.load()
    cold = backend_class("brian2")(options={"cache": "cold"})
    cold.load()
    try:
        warm_dir, cold_dir = Path(warm.info["cache_dir"]), Path(cold.info["cache_dir"])
        assert warm_dir == tmp_path / "cache" / "brian2" / "cython"
        assert cold_dir != warm_dir and cold_dir.is_dir() and not any(cold_dir.iterdir())
        assert tmp_path / "cache" in cold_dir.parents  # snnbench's cache, never ~/.cython
    finally:
        cold.close()
        warm.close()
    assert not cold_dir.exists() and warm_dir.exists()


def test_standalone_project_per_scenario_and_cold_project_removed(monkeypatch, tmp_path):
    monkeypatch.setenv("SNNBENCH_CACHE_DIR", str(tmp_path / "cache"))
    r = _resolved()
    for options in ({}, {"cache": "cold"}):
        backend = backend_class("brian2.standalone")(options=options)
        backend.load()
        try:
            backend.build(r, "native", None)  # writes nothing yet: code is generated in compile
            project = Path(backend.info["project_dir"])
        finally:
            backend.close()
        if options:
            assert not project.exists()
        else:
            assert project == tmp_path / "cache" / "brian2" / "standalone" / f"{r.hash}-native-N{r.N_pop}-t1"


# ----------------------------------------------------------------------------- GLIF_curr_alpha's code
# The devices run it against NEST in the conformance suite (glif.toml, slow tier: each device
# compiles it); here the code itself, on Brian2's numpy target (nothing compiled), step for step.


@pytest.mark.parametrize("variant", [1, 2, 3, 4, 5])
def test_glif_code_is_glif_psc_step_for_step(variant):
    """cell_model's GLIF code (in the runtime device, numpy target) against models/glif.py's `step`
    (numba's kernel, which equals NEST's glif_psc: tests/conformance), driven on three ports by
    the same spikes, delivered through the adapter's receptor code: the same spike steps, v within
    1e-9 mV at every step (refractory steps included)."""
    import brian2 as b2

    from snnbench.backends.brian2 import cell_model
    from snnbench.backends.common.translations import Translations, refractory_steps
    from snnbench.models import glif
    from snnbench.scenario.model import GLIFCurrAlphaParameters

    dt, n_steps, n_src = 0.1, 6000, 100
    q = GLIFCurrAlphaParameters(variant=variant, tau_syn=[2.0, 8.0, 0.5], asc_init=[0.01, -0.02])
    r_steps = refractory_steps(q.tau_refrac, dt, "glif", Translations())  # 3.75 ms: 38 steps, as NEST
    model = cell_model("GLIF_curr_alpha", q, dt, r_steps)
    rng = np.random.default_rng(variant)
    fires = rng.random((n_src, n_steps)) < 20.0 * dt / 1000.0  # 20 Hz per source
    fires[:, 0] = False
    src, steps = np.nonzero(fires)
    port_of = np.arange(n_src) % 3  # sources 0, 3, ... onto syn1, 1, 4, ... syn2, 2, 5, ... syn3
    weights = np.array([0.12, -0.03, 0.18])  # nA
    arrivals = np.zeros((3, n_steps))
    np.add.at(arrivals, (port_of[src], steps), weights[port_of[src]])

    v_ref, spikes_ref, s, r = np.empty(n_steps), [], glif.initial_state(q), 0
    p, v = glif.parameters(q, dt), q.v_rest
    for k in range(n_steps):
        v, crossed = glif.step(p, r > 0, v, s, arrivals[:, k])
        r = max(r - 1, 0)
        if crossed:
            r = r_steps
            spikes_ref.append(k)
        v_ref[k] = v
    assert len(spikes_ref) >= 5, "the input must make the cell fire for this test to mean anything"

    b2.start_scope()
    b2.set_device("runtime")
    b2.prefs.codegen.target = "numpy"
    b2.defaultclock.dt = dt * b2.ms
    cell = b2.NeuronGroup(1, model.equations, threshold=model.threshold, reset=model.reset, method=model.method,
                          namespace={k: float(value) for k, (unit, value) in model.namespace.items()})
    assert {unit for unit, _ in model.namespace.values()} == {"1"}
    cell.v = q.v_rest * b2.mV
    for var, value in model.initial_from_parameters.items():
        setattr(cell, var, value)
    step = cell.run_regularly(model.step_code, when="groups")
    source = b2.SpikeGeneratorGroup(n_src, src, steps * dt * b2.ms)  # emitted and delivered in step k (no delay)
    synapses = []
    for k, port in enumerate(("syn1", "syn2", "syn3")):
        syn = b2.Synapses(source, cell, on_pre=model.on_pre[port].format(w="w_syn"), namespace={"w_syn": weights[k] * b2.nA})
        syn.connect(i=np.flatnonzero(port_of == k), j=0)
        synapses.append(syn)
    v_mon = b2.StateMonitor(cell, "v", record=0, when="end")
    spike_mon = b2.SpikeMonitor(cell)
    b2.Network(cell, step, source, *synapses, v_mon, spike_mon).run(n_steps * dt * b2.ms)

    np.testing.assert_array_equal(np.round(np.asarray(spike_mon.t_) / (dt / 1000.0)).astype(int), spikes_ref)
    np.testing.assert_allclose(np.asarray(v_mon.v_[0]) * 1000.0, v_ref, rtol=0, atol=1e-9)


# ----------------------------------------------------------------------------- HH_cond_exp through GSL
# Both devices against NEST: the conformance suite's exact tier (slow tier: each device compiles
# GSL code); here what is handed to Brian2 and what happens without GSL (nothing compiled).


def test_hh_is_integrated_by_gsl_rkf45_with_nests_tolerances():
    """hh_cond_exp_traub's control, gsl_odeiv_control_y_new(1e-3, 0): 1e-3 of every state variable
    in NEST's units (mV, nS, the gates), the step size kept per cell across steps."""
    import brian2 as b2

    from snnbench.backends.brian2 import cell_model

    r = resolve(load_scenario("brette-hh-coba"), Overrides(N_pop=400, simtime=10.0))
    m = cell_model("HH_cond_exp", r.cells["E"].spec.parameters, 0.1, None)
    assert m.method == "gsl_rkf45"
    errors = m.method_options["absolute_error_per_variable"]
    assert errors == {"v": ("mV", 1e-3), "m": ("1", 1e-3), "h": ("1", 1e-3), "n": ("1", 1e-3), "g_e": ("nS", 1e-3),
                      "g_i": ("nS", 1e-3)}
    assert set(errors) == {line.split("/")[0][1:] for line in m.equations.splitlines() if line.startswith("d")}  # every ODE
    assert m.method_options["use_last_timestep"] is True and m.method_options.get("adaptable_timestep", True) is True
    backend = backend_class("brian2")()
    backend.b2 = b2
    assert float(backend._quantity(*errors["v"])) == pytest.approx(1e-6)  # volt: Brian2 compares in SI units
    assert float(backend._quantity(*errors["g_e"])) == pytest.approx(1e-12)  # siemens
    assert any("gsl_rkf45" in detail and "1e-3" in detail.replace("0.001", "1e-3") for _, detail in m.notes)


@pytest.mark.parametrize("device", DEVICES)
def test_hh_without_gsl_is_refused_naming_what_is_missing(device, monkeypatch):
    from snnbench.backends import brian2 as adapter

    missing = adapter.GSLLocation(problem="no GSL here")
    monkeypatch.setattr(adapter, "find_gsl", lambda: missing)
    cls = backend_class(device)
    problems = cls().supports(_resolved("brette-hh-coba"), "native")
    assert problems == ["population E: cell type HH_cond_exp: no GSL here", "population I: cell type HH_cond_exp: no GSL here"]
    assert cls().supports(_resolved("vogels-abbott-coba"), "native") == []  # only HH needs GSL
    monkeypatch.setattr(adapter, "find_gsl", lambda: adapter.GSLLocation())
    assert cls().supports(_resolved("brette-hh-coba"), "native") == []


def test_gsl_is_found_in_the_standard_directories_or_by_gsl_config(monkeypatch, tmp_path):
    from snnbench.backends.brian2 import find_gsl

    prefix = tmp_path / "gsl"
    (prefix / "include" / "gsl").mkdir(parents=True)
    for header in ("gsl_odeiv2.h", "gsl_errno.h", "gsl_matrix.h"):
        (prefix / "include" / "gsl" / header).write_text("")
    assert find_gsl(standard_dirs=(str(prefix / "include"),)).directory is None  # the compiler finds it: nothing to set
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    config = bin_dir / "gsl-config"
    config.write_text(f"#!/bin/sh\necho {prefix}\n")  # what GSL's own gsl-config --prefix prints
    config.chmod(0o755)
    monkeypatch.setenv("PATH", str(bin_dir))
    found = find_gsl(standard_dirs=(str(tmp_path / "elsewhere"),))
    assert found.directory == str(prefix / "include") and found.problem is None
    (prefix / "include" / "gsl" / "gsl_odeiv2.h").unlink()
    gone = find_gsl(standard_dirs=(str(tmp_path / "elsewhere"),))
    assert gone.directory is None and "libgsl-dev" in gone.problem and "gsl_odeiv2.h" in gone.problem


def test_hh_network_builds_on_standalone_with_drawn_initial_v(monkeypatch, tmp_path):
    """brette-hh-coba in native mode: v drawn by Brian2's code, v_before set from it by code too
    (standalone has no values to read back before its run); the GSL options reach the state
    updater; Brian2 2.9's standalone GSL code object is fixed (brian-team/brian2#1687). Nothing
    compiled: the standalone device generates code in compile()."""
    from brian2.devices.cpp_standalone import CPPStandaloneCodeObject
    from brian2.devices.cpp_standalone.GSLcodeobject import GSLCPPStandaloneCodeObject

    monkeypatch.setenv("SNNBENCH_CACHE_DIR", str(tmp_path / "cache"))
    r = resolve(load_scenario("brette-hh-coba"), Overrides(N_pop=400, simtime=10.0))
    backend = backend_class("brian2.standalone")()
    assert backend.supports(r, "native") == []
    backend.load()
    try:
        backend.build(r, "native", None)
        for name in ("E", "I"):
            group = backend.groups[name]
            assert group.method_choice == "gsl_rkf45"
            options = group.state_updater.method_options
            assert float(options["absolute_error_per_variable"]["v"]) == pytest.approx(1e-6)  # 1e-3 mV
            assert options["use_last_timestep"] is True
        assert issubclass(GSLCPPStandaloneCodeObject, CPPStandaloneCodeObject)
        assert "1687" in backend.info["gsl_standalone_fix"]
    finally:
        backend.close()


def test_the_runtime_heap_is_frozen_from_compile_to_the_end_of_the_run(monkeypatch):
    # Network.run()'s own gc.collect() would look at the whole worker's heap inside 'sim'
    # (docs/benchmarks.md, adapter overhead): compile() collects and freezes it, run() thaws it.
    import gc

    from snnbench.backends.brian2 import Brian2Backend

    frozen = []
    run = Brian2Backend.run

    def spy(self):
        frozen.append(gc.get_freeze_count())
        run(self)
        frozen.append(gc.get_freeze_count())

    monkeypatch.setattr(Brian2Backend, "run", spy)
    # the fast tier's exact-tier network (tests/conformance/): its code objects are compiled there already
    r = resolve(load_scenario("single-neuron").with_cell_types(("IF_cond_exp", "IF_curr_exp")), Overrides(simtime=1000.0))
    out = run_in_process(r, "brian2", connectivity="exact", network=realise(r))
    assert sum(pop.n_spikes for pop in out.populations.values()) > 0
    assert frozen[0] > 0 and frozen[1] == 0
    assert gc.get_freeze_count() == 0
