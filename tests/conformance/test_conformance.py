"""The conformance suite: what every registered backend must do, checked the same way for each.

Parametrized over the registry (`snnbench.backends.REGISTRY`): a new backend is tested here by
adding nothing but its registry line. A backend whose package is absent is skipped with the
reason `available()` gives; a backend that cannot produce spike data here (`validation_possible`,
e.g. sPyNNaker without a board) must refuse validation with a reason, and is checked for that.

  * declarations: name, where it runs, packages, options; an unknown or ill-typed option refused
  * refusal with a reason for what the backend does not support (`supports()`)
  * the exact tier against NEST for every cell type the backend declares (single-neuron, and
    glif.toml for the GLIF variants and their receptor ports: spike times within one dt, v within
    0.05 mV RMS, by `analysis.protocol.compare_exact`); where the
    backend integrates a type by another scheme than NEST's, the measured difference within the
    documented bounds of `OTHER_SCHEMES`
  * every connector, source type, delay form, weight and initial-value distribution and recording
    option (features.toml): in exact mode against NEST by the same rule, in native mode for what
    every realisation must have (synapse counts of the deterministic connectors, the sources'
    spikes, what is recorded)

NEST is the reference: the suite needs nest-simulator (installed by the README's install command).
"""

from __future__ import annotations

import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import pytest

from snnbench.analysis.protocol import compare_exact
from snnbench.backends import REGISTRY, RUNS_ON, OptionError
from snnbench.runner import run_in_process
from snnbench.scenario import Overrides, load_scenario, realise, resolve
from snnbench.scenario.model import CELL_TYPES

from ..conftest import requires_nest

FEATURES = Path(__file__).with_name("features.toml")
MULTIPLICITY = Path(__file__).with_name("multiplicity.toml")  # 20 kHz drives at dt 0.1 ms: rate x dt = 2
GLIF = Path(__file__).with_name("glif.toml")  # one GLIF_curr_alpha cell per variant, three receptor ports
BACKENDS = sorted(REGISTRY)
REFERENCE = "nest"
# The population of single-neuron.toml that holds each cell type.
SINGLE_NEURON_CELLS = {"IF_cond_exp": "cond", "IF_curr_exp": "curr", "IF_curr_alpha": "curr_alpha",
                       "IF_cond_alpha": "cond_alpha", "IF_curr_delta": "delta", "EIF_cond_exp_isfa_ista": "adex",
                       "Izhikevich": "izhikevich", "HH_cond_exp": "hh"}
# The cell types outside PyNN's standard set, each with its own exact-tier scenario (every population of it).
OWN_SCENARIO_CELLS = {"GLIF_curr_alpha": "glif"}


@dataclass(frozen=True)
class OtherScheme:
    """A (backend, cell type) integrated by another scheme than NEST's: what it is, and the bounds
    of its difference from NEST on single-neuron (1 s), set just above what was measured
    (docs/validation.md, "Cell types by other schemes")."""

    scheme: str
    max_spike_count_difference: int  # of NEST's count
    max_shift_ms: float  # of the matched spikes (the first min(n_x, n_y) of each train)
    max_v_rms_mv: float


_BRIAN2_ADEX = OtherScheme("Brian2's fixed-step RK4, the spike checked at the end of the step; NEST: adaptive RKF45, "
                            "the spike checked after every sub-step", max_spike_count_difference=0, max_shift_ms=0.1,
                            max_v_rms_mv=0.35)
OTHER_SCHEMES = {("brian2", "EIF_cond_exp_isfa_ista"): _BRIAN2_ADEX, ("brian2.standalone", "EIF_cond_exp_isfa_ista"): _BRIAN2_ADEX}
# Known, reported discrepancies, each with its reason: strict, so that a fix shows up.
KNOWN_DIFFERENCES: dict[tuple[str, str], str] = {}


@lru_cache(maxsize=None)
def _available(name: str) -> tuple[bool, str]:
    return REGISTRY[name].available()


def _require(name: str) -> None:
    ok, why = _available(name)
    if not ok:
        pytest.skip(f"{name}: {why}")


def _require_output(name: str) -> None:
    """Skip (after checking the refusal is explained) a backend that produces no spike data here."""
    _require(name)
    possible, why = REGISTRY[name].validation_possible({})
    if not possible:
        assert why, f"{name} cannot be validated here but gives no reason"
        pytest.skip(f"{name} produces no spike data here: {why}")


def _known(name: str, case: str) -> None:
    if (name, case) in KNOWN_DIFFERENCES:
        pytest.xfail(KNOWN_DIFFERENCES[name, case])


# ----------------------------------------------------------------------------- scenarios and runs


@lru_cache(maxsize=None)
def _scenario(which: str, cell_types: tuple[str, ...] | None = None):
    """A scenario and its realisation; single-neuron with the cells of `cell_types` only (a backend's)."""
    if which == "single-neuron":
        scenario = load_scenario("single-neuron")
        r = resolve(scenario if cell_types is None else scenario.with_cell_types(cell_types), Overrides(simtime=1000.0))
    else:
        r = resolve(load_scenario({"features": FEATURES, "glif": GLIF}.get(which, MULTIPLICITY)))
    return r, realise(r)


# A backend that generates and compiles code per network (compile_after_build: Brian2, GeNN)
# compiles every cell type's code: the fast tier runs it on these types only, the others in the
# slow tier (Brian2's cold compile of the six other types took minutes here).
FAST_TIER_CODEGEN_TYPES = ("IF_cond_exp", "IF_curr_exp")


def _slow_case(backend: str, cell_type: str) -> bool:
    return REGISTRY[backend].compile_after_build and cell_type not in FAST_TIER_CODEGEN_TYPES


def _single_neuron_types(backend: str, cell_type: str) -> tuple[str, ...]:
    """The cell types of single-neuron that one run of a backend covers with `cell_type`: every type
    it declares, or, for code-generating backends, those of the same tier."""
    return tuple(t for t in SINGLE_NEURON_CELLS
                 if t in REGISTRY[backend].cell_types and _slow_case(backend, t) == _slow_case(backend, cell_type))


_RUNS: dict[tuple, object] = {}


def _run(backend: str, which: str, mode: str, options: dict | None = None, cell_types: tuple[str, ...] | None = None):
    """One run per (backend, scenario, mode) for the whole session, each in a fresh process of its
    own (simulators keep global state: NEST's kernel is shared by nest and pyNN.nest, Brian2's device)."""
    key = (backend, which, mode, cell_types)
    if key not in _RUNS:
        r, network = _scenario(which, cell_types)
        with ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn")) as pool:
            _RUNS[key] = pool.submit(run_in_process, r, backend, connectivity=mode,
                                     network=network if mode == "exact" else None, options=options).result()
    return _RUNS[key]


def _failures(result) -> list[str]:
    return [f"{c.population}[{c.index}]: {c.spikes_x} vs {c.spikes_y} spikes, shift {c.max_shift_ms}, "
            f"v RMS {c.v_rms_mv}" for c in result.cells if not c.passed]


# ----------------------------------------------------------------------------- declarations


@pytest.mark.parametrize("backend", BACKENDS)
def test_the_backend_declares_itself(backend):
    cls = REGISTRY[backend]
    assert cls.name == backend and cls.title and cls.distribution and cls.module
    assert cls.runs_on and set(cls.runs_on) <= set(RUNS_ON)
    assert cls.provenance_packages()
    assert set(cls.connectivity_modes) <= {"native", "exact"} and cls.connectivity_modes
    for option in cls.accepted_options:
        assert option.doc, f"option {option.name} has no doc"
        if option.default is not None:
            assert option.problem(option.default) is None, f"option {option.name}: its default is not accepted"
    ok, why = cls.available()
    assert why, "available() must say the version, or why not"


@pytest.mark.parametrize("backend", BACKENDS)
def test_an_unknown_option_is_refused_naming_the_accepted_ones(backend):
    cls = REGISTRY[backend]
    with pytest.raises(OptionError) as err:
        cls.check_options({"no_such_option": 1})
    message = str(err.value)
    assert "unknown option 'no_such_option'" in message and backend in message
    for option in cls.accepted_options:
        assert option.name in message
    r, _ = _scenario("features")
    assert any("no_such_option" in p for p in cls(options={"no_such_option": 1}).supports(r, "native"))


@pytest.mark.parametrize("backend", BACKENDS)
def test_an_ill_typed_option_is_refused(backend):
    cls = REGISTRY[backend]
    cls.check_options({})  # no options is always valid
    if not cls.accepted_options:
        assert cls.describe_options() == f"{backend} accepts no options"
    for option in cls.accepted_options:
        wrong = 1.5 if option.type in (bool, int, str) else "text"
        with pytest.raises(OptionError, match=option.name):
            cls.check_options({option.name: wrong})
        if option.default is not None:
            cls.check_options({option.name: option.default})  # the declared default is accepted


@pytest.mark.parametrize("backend", BACKENDS)
def test_what_is_not_supported_is_refused_with_a_reason(backend):
    cls = REGISTRY[backend]
    r, _ = _scenario("features")
    problems = cls().supports(r, "no_such_mode")
    assert any("connectivity mode 'no_such_mode'" in p for p in problems)
    if cls.max_threads is not None:
        many = cls(threads=cls.max_threads + 1).supports(r, "exact")
        assert many and all(p for p in many), "too many threads must be refused with a reason"
    # features.toml uses every cell type, source type and connector: each one a backend does not
    # declare is refused by name, and nothing else is
    undeclared = ({pop.cell_type for pop in r.populations.values()} - set(cls.cell_types) - set(cls.source_types)
                  | {p.connector.type for p in r.projections if not isinstance(p.connector, cls.connectors)})
    for mode in cls.connectivity_modes:
        problems = cls().supports(r, mode)
        assert len(problems) == 0 if not undeclared else all(any(u in p for p in problems) for u in undeclared)


@pytest.mark.parametrize("backend", BACKENDS)
def test_every_cell_type_not_declared_is_refused_with_what_the_simulator_lacks(backend):
    """single-neuron has one cell of each PyNN type snnbench knows, and glif.toml those of the
    GLIF type: each type the backend does not declare is refused by name, with the reason (what is
    missing), and nothing else is refused."""
    cls = REGISTRY[backend]
    undeclared = set(CELL_TYPES) - set(cls.cell_types)
    assert set(cls.cell_type_refusals) == undeclared, "every undeclared cell type needs its reason, and only those"
    problems = []
    for which in ("single-neuron", *sorted(set(OWN_SCENARIO_CELLS.values()))):
        r, _ = _scenario(which)
        problems += list(dict.fromkeys(p.split(": ", 1)[1] for p in cls().supports(r, "exact") if "connectivity mode" not in p))
    assert len(problems) == len(undeclared), problems
    for cell_type in undeclared:
        reason = cls.cell_type_refusals[cell_type]
        assert any(p == f"cell type {cell_type} is not supported: {reason}" for p in problems), problems
        assert len(reason) > 40 and "not yet" not in reason


# ----------------------------------------------------------------------------- exact tier: cell types


def _cell_cases():
    for backend in BACKENDS:
        for cell_type in REGISTRY[backend].cell_types:
            if cell_type in OWN_SCENARIO_CELLS:
                continue
            marks = [pytest.mark.slow] if _slow_case(backend, cell_type) else []
            yield pytest.param(backend, cell_type, marks=marks, id=f"{backend}-{cell_type}")


@requires_nest
@pytest.mark.parametrize(("backend", "cell_type"), list(_cell_cases()))
def test_exact_tier_against_nest(backend, cell_type):
    """Each cell type under the same input as NEST: spikes within one dt, v within 0.05 mV RMS."""
    assert cell_type in SINGLE_NEURON_CELLS, f"no exact-tier population for {cell_type}: add one to single-neuron.toml"
    _require_output(backend)
    population = SINGLE_NEURON_CELLS[cell_type]
    types = _single_neuron_types(backend, cell_type)
    ref, out = _run(REFERENCE, "single-neuron", "exact", cell_types=types), _run(backend, "single-neuron", "exact", cell_types=types)
    assert ref.populations[population].n_spikes >= 5, "the input must make the cell fire for this test to mean anything"
    result = compare_exact(out, ref)
    cells = [c for c in result.cells if c.population == population]
    other = OTHER_SCHEMES.get((backend, cell_type))
    if other is None:
        assert cells and all(c.passed for c in cells), _failures(result)
    else:  # another integration scheme than NEST's: the measured difference, within its documented bounds
        x, y = out.populations[population].spike_time, ref.populations[population].spike_time
        n = min(x.size, y.size)
        shift = float(np.max(np.abs(x[:n] - y[:n]))) if n else 0.0
        v_rms = float(np.sqrt(np.mean((out.populations[population].v - ref.populations[population].v) ** 2)))
        measured = f"{backend} {cell_type} ({other.scheme}): {x.size} vs {y.size} spikes, shift {shift:.2f} ms, v RMS {v_rms:.3f} mV"
        assert abs(x.size - y.size) <= other.max_spike_count_difference, measured
        assert shift <= other.max_shift_ms and v_rms <= other.max_v_rms_mv, measured
    assert out.populations[population].v.shape == ref.populations[population].v.shape == (10000, 1)
    np.testing.assert_allclose(out.populations[population].v_times, ref.populations[population].v_times)
    for source in ("exc", "inh"):  # the same input, spike for spike
        np.testing.assert_allclose(np.sort(out.populations[source].spike_time), np.sort(ref.populations[source].spike_time),
                                   atol=1e-9)
    assert out.synapses == ref.synapses


def _own_scenario_cases():
    for backend in BACKENDS:
        for cell_type, which in OWN_SCENARIO_CELLS.items():
            if cell_type in REGISTRY[backend].cell_types:
                marks = [pytest.mark.slow] if _slow_case(backend, cell_type) else []
                yield pytest.param(backend, cell_type, which, marks=marks, id=f"{backend}-{cell_type}")


@requires_nest
@pytest.mark.parametrize(("backend", "cell_type", "which"), list(_own_scenario_cases()))
def test_exact_tier_of_the_extension_types_against_nest(backend, cell_type, which):
    """A type beyond PyNN's (GLIF_curr_alpha: every variant, input on three receptor ports): every
    cell's spikes within one dt of NEST's, v within 0.05 mV RMS."""
    _require_output(backend)
    r, network = _scenario(which)
    ref, out = _run(REFERENCE, which, "exact"), _run(backend, which, "exact")
    assert {pop.cell_type for pop in r.cells.values()} == {cell_type}
    for name in r.cells:
        assert ref.populations[name].n_spikes >= 5, f"{name}: the input must make the cell fire for this test to mean anything"
    result = compare_exact(out, ref)
    assert len(result.cells) == len(r.cells) and result.passed, _failures(result)
    assert out.synapses == ref.synapses == {p.label: p.size for p in network.projections}


# ----------------------------------------------------------------------------- every feature, exact mode


def _feature_cases():
    # A backend that generates and compiles code for each network (compile_after_build: Brian2,
    # GeNN) needs 20 s and more per case even with a warm cache, minutes with a cold one: slow tier.
    for backend in BACKENDS:
        marks = [pytest.mark.slow] if REGISTRY[backend].compile_after_build else []
        yield pytest.param(backend, marks=marks, id=backend)


@requires_nest
@pytest.mark.parametrize("backend", list(_feature_cases()))
def test_every_feature_in_exact_mode_against_nest(backend):
    """Every connector, delay form, distribution, source type and recording option on the same
    realised network as NEST: every recorded cell within one dt and 0.05 mV RMS."""
    _require_output(backend)
    _known(backend, "features")
    r, network = _scenario("features")
    ref, out = _run(REFERENCE, "features", "exact"), _run(backend, "features", "exact")
    assert out.synapses == {p.label: p.size for p in network.projections}
    for name in ("A", "B", "G"):
        assert ref.populations[name].n_spikes > 20, f"{name} must fire for this test to mean anything"
    result = compare_exact(out, ref)
    assert result.passed, _failures(result)[:10]
    for name, pop in r.populations.items():
        got, want = out.populations[name], ref.populations[name]
        np.testing.assert_array_equal(got.recorded, np.arange(pop.n_record_spikes))
        assert set(got.spike_index.tolist()) <= set(got.recorded.tolist()), name
        if pop.n_record_v and not pop.is_source:
            assert got.v.shape == want.v.shape == (r.n_steps, pop.n_record_v), name
        if pop.is_source:
            np.testing.assert_allclose(np.sort(got.spike_time), np.sort(want.spike_time), atol=1e-9, err_msg=name)


# ----------------------------------------------------------------------------- several spikes per step


@requires_nest
@pytest.mark.parametrize("backend", list(_feature_cases()))
def test_several_spikes_per_step_against_nest_or_refused(backend):
    """Sources at rate x dt = 2 (Poisson counts per step, as NEST's poisson_generator) and a
    SpikeSourceArray with several times in one step (each a spike, as NEST's spike_generator): a
    backend that takes them reproduces NEST's cells and every source spike in exact mode; one that
    cannot refuses the scenario, naming the population and its rate x dt or its step."""
    cls = REGISTRY[backend]
    r, network = _scenario("multiplicity")
    if not cls.source_multiplicity:
        for mode in cls.connectivity_modes:
            problems = cls().supports(r, mode)
            for name in ("exc", "inh"):
                assert any(f"population {name}:" in p and "rate x dt = 2 > 1" in p for p in problems), problems
            assert any("population pairs: SpikeSourceArray gives one source 3 spikes in the 0.1 ms step ending at 7 ms"
                       in p for p in problems), problems
        return
    _require_output(backend)
    ref, out = _run(REFERENCE, "multiplicity", "exact"), _run(backend, "multiplicity", "exact")
    for name in ("curr", "cond"):
        assert ref.populations[name].n_spikes >= 5, f"{name} must fire for this test to mean anything"
    result = compare_exact(out, ref)
    assert result.passed, _failures(result)
    assert out.synapses == ref.synapses == {p.label: p.size for p in network.projections}
    assert [s.tolist() for s in network.populations["pairs"].spike_steps] == [
        [50, 50, 200, 200, 334, 334, 1001, 1001], [70, 70, 70, 1501, 1501]]  # each time kept, as NEST stamps it
    for name in ("exc", "inh", "pairs"):  # every spike of a step counted, the same as NEST's
        steps = network.populations[name].spike_steps
        assert out.populations[name].n_spikes == ref.populations[name].n_spikes == sum(s.size for s in steps)
        np.testing.assert_allclose(np.sort(out.populations[name].spike_time), np.sort(ref.populations[name].spike_time),
                                   atol=1e-9)


# ----------------------------------------------------------------------------- every feature, native mode


@pytest.mark.parametrize("backend", list(_feature_cases()))
def test_every_feature_in_native_mode(backend):
    """The simulator's own connectors and random numbers: what every realisation must have."""
    _require_output(backend)
    cls = REGISTRY[backend]
    if "native" not in cls.connectivity_modes:
        pytest.skip(f"{backend} has no native connectivity mode")
    r, _ = _scenario("features")
    out = _run(backend, "features", "native")
    syn = out.synapses
    assert set(syn) == {p.label for p in r.projections}
    # deterministic counts
    assert syn["indeg_norepl_noself"] == 5 * 40 and syn["indeg_repl"] == 4 * 40 and syn["indeg_repl_noself"] == 6 * 25
    assert syn["total"] == 100 and syn["one"] == 3 and syn["list"] == 3 and syn["pairs"] == 4
    assert syn["all"] == 2 * 30 and syn["all_noself"] == 5 * 4 and syn["gauss"] == 4 * 25 and syn["drive_G"] == 2 * 25
    assert 0 < syn["total_norepl_noself"] <= 50  # pairs drawn without replacement, autapses dropped
    assert 180 < syn["poisson_p"] < 300  # p = 0.3 of 20 x 40 pairs: 240 +- 13
    assert 80 < syn["prob_noself"] < 240  # p = 0.1 of 40 x 39 pairs: 156 +- 12
    # sources: the arrays exactly; Poisson in its window (pyNN.nest shifts it by its 1 ms origin, recorded)
    np.testing.assert_allclose(np.sort(out.populations["S"].spike_time), [5.0, 7.0, 10.1])
    np.testing.assert_allclose(np.sort(out.populations["T"].spike_time), [12.0, 12.0, 30.0, 30.0, 31.3, 31.3])
    p = out.populations["P"]
    assert p.n_spikes > 0 and set(p.spike_index.tolist()) <= set(range(5))
    assert p.spike_time.min() > 20.0 and p.spike_time.max() <= 121.0 + 1e-9
    assert 0.6 * 200 < p.n_spikes / 5 / 0.1 < 1.4 * 200  # 200 Hz over 100 ms, 5 recorded
    # recording
    for name, pop in r.populations.items():
        got = out.populations[name]
        np.testing.assert_array_equal(got.recorded, np.arange(pop.n_record_spikes))
        n_v = 0 if pop.is_source else pop.n_record_v
        if n_v:
            assert got.v.shape == (r.n_steps, n_v), name
            assert got.v_times[0] == pytest.approx(r.dt) and got.v_times[-1] == pytest.approx(r.simtime)
    a = out.populations["A"]
    assert np.all((a.v[0] > -70.0 - 1e-9) & (a.v[0] < -50.0))  # from normal_clipped initial values, one step on
    for name in ("A", "B", "G"):
        assert out.populations[name].n_spikes > 20, name
    assert out.populations["N"].n_spikes == 0 and out.populations["N"].recorded.size == 0


# ----------------------------------------------------------------------------- no spike data: refused


@pytest.mark.parametrize("backend", BACKENDS)
def test_validation_is_possible_or_refused_with_a_reason(backend, tmp_path):
    """A backend that cannot produce spike data here (sPyNNaker's virtual board) says why before
    anything runs, still runs the scenario, and reports no recorded cells rather than 0 Hz."""
    cls = REGISTRY[backend]
    possible, why = cls.validation_possible({})
    if possible:  # what it produces is checked against NEST above
        assert why == ""
        return
    assert why, f"{backend} cannot be validated here but gives no reason"
    _require(backend)
    # where the backend writes its own files, if it says (not into the repository)
    options = {"run_dir": str(tmp_path)} if cls.declared_option("run_dir") else None
    out = _run(backend, "features", "native", options)
    assert all(p.recorded.size == 0 and p.n_spikes == 0 for p in out.populations.values())
    assert set(out.synapses) == {p.label for p in _scenario("features")[0].projections}
