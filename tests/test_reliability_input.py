"""Bad input, as a user or a fuzzer gives it: exit 2 with one line naming what is wrong, never a
traceback and never a run. Scenario files and arguments are fuzzed with hypothesis through
`snnbench.cli.main` in-process, on paths that cannot simulate (`show`, `sweep --dry-run`, and
`run` with a memory limit no network fits in)."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from snnbench.cli import main
from snnbench.scenario import ScenarioError, parse_scenario

from .conftest import MINIMAL, SCENARIOS

# Scenarios made from SONATA files are left out of the mutations: a mutated column size would
# build a new column per example (tests/test_sonata.py covers their bad input).
SHIPPED = [p for p in sorted(SCENARIOS.glob("*.toml")) if "\n[sonata]" not in p.read_text()]
FUZZ = settings(max_examples=60, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])


def _cli(capsys, argv: list[str]) -> tuple[int, str, str]:
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def _assert_clean(code: int, err: str, allowed=(0, 2)) -> None:
    assert code in allowed, err
    assert "Traceback" not in err
    if code == 2:
        assert err.startswith("snnbench: "), err
        if "invalid scenario:\n" not in err:  # several problems: one line each, all named
            assert len(err.strip().splitlines()) == 1, err


# ------------------------------------------------------------------ probes from the issue


def _minimal_with(old: str, new: str) -> str:
    assert old in MINIMAL
    return MINIMAL.replace(old, new)


BAD_SCENARIOS = {
    "weight nan": (_minimal_with("weight = 0.1", "weight = nan"), "projections[0].weight: expected a finite number"),
    "delay inf": (_minimal_with("delay = 1.0", "delay = inf"), "projections[0].delay: expected a finite number"),
    "v_rest nan": (_minimal_with("i_offset = 1.0 }", "i_offset = 1.0, v_rest = nan }"), "parameters.v_rest: expected a finite"),
    "tau_m inf": (_minimal_with("i_offset = 1.0 }", "i_offset = 1.0, tau_m = inf }"), "parameters.tau_m: expected a finite"),
    "simtime inf": (_minimal_with("simtime = 50.0", "simtime = inf"), "run.simtime: expected a finite number"),
    "dt nan": (_minimal_with("dt = 0.1", "dt = nan"), "run.dt: expected a finite number"),
    "rate nan": (_minimal_with("rate = 50.0", "rate = nan"), "parameters.rate: expected a finite number"),
    "weight overflows to inf": (_minimal_with("weight = 0.1", 'weight = "1e400 nA"'), "expected a finite weight"),
    "uniform low > high": (_minimal_with("record = { spikes = true, v = 1 }",
                                         'record = { spikes = true, v = 1 }\ninitial_values = { v = { distribution = '
                                         '"uniform", low = -50.0, high = -60.0 } }'),
                           "initial_values.v: uniform needs low < high"),
    "uniform weight with nan": (_minimal_with("weight = 0.1", 'weight = { distribution = "uniform", low = nan, high = 0.2 }'),
                                "weight.low: expected a finite number"),
}


@pytest.mark.parametrize("name", sorted(BAD_SCENARIOS))
def test_non_finite_and_disordered_values_are_refused_with_their_key(tmp_path, capsys, name):
    text, expected = BAD_SCENARIOS[name]
    path = tmp_path / "bad.toml"
    path.write_text(text)
    code, _, err = _cli(capsys, ["show", str(path)])
    _assert_clean(code, err, allowed=(2,))
    assert "bad.toml" in err and expected in err, err


def test_infinity_where_it_means_unbounded_is_still_accepted(scenario_text):
    s = scenario_text(MINIMAL.replace("rate = 50.0", "rate = 50.0, duration = inf")
                      .replace("delay = 1.0", 'delay = { distribution = "normal_clipped", mu = 1.0, sigma = 0.1, low = 0.5, high = inf }'))
    assert s.populations["src"].parameters.duration == float("inf")


def test_binary_and_deeply_nested_files_are_bad_input(tmp_path, capsys):
    binary = tmp_path / "binary.toml"
    binary.write_bytes(b"\xff\xfe[scenario]\x00\x81")
    code, _, err = _cli(capsys, ["show", str(binary)])
    _assert_clean(code, err, allowed=(2,))
    assert "binary.toml: not UTF-8 text" in err
    deep = tmp_path / "deep.toml"
    deep.write_text("a = " + "[" * 5000 + "]" * 5000 + "\n")
    code, _, err = _cli(capsys, ["show", str(deep)])
    _assert_clean(code, err, allowed=(2,))
    assert "deep.toml" in err and "nested too deeply" in err


BAD_ARGUMENTS = [
    (["run", "vogels-abbott-cuba", "--simtime", "nan"], "argument --simtime: expected a finite number > 0"),
    (["run", "vogels-abbott-cuba", "--dt", "nan"], "argument --dt"),
    (["show", "vogels-abbott-cuba", "--scale", "inf"], "argument --scale"),
    (["show", "vogels-abbott-cuba", "--K-scale", "-1"], "argument --K-scale"),
    (["show", "vogels-abbott-cuba", "--N-pop", "1e3"], "argument --N-pop: expected an integer >= 1"),
    (["run", "vogels-abbott-cuba", "--timeout", "-1"], "argument --timeout"),
    (["run", "vogels-abbott-cuba", "--memory-limit", "-1"], "argument --memory-limit"),
    (["run", "vogels-abbott-cuba", "--memory-limit", "inf"], "argument --memory-limit"),
    (["run", "vogels-abbott-cuba", "--repeat", "0"], "argument --repeat"),
    (["sweep", "vogels-abbott-cuba", "--backends", "foo", "--N-pop", "100"], "--backends: unknown backend 'foo'"),
    (["sweep", "vogels-abbott-cuba", "--backends", "numba", "--N-pop", "1:x:3"], "--N-pop"),
    (["sweep", "vogels-abbott-cuba", "--backends", "numba", "--N-pop", "100", "--simtime", "nan"], "--simtime"),
    (["sweep", "vogels-abbott-cuba", "--backends", "numba", "--N-pop", "1:1000:9", "--repeat", "99999"], "points"),
    (["fit", "--predict", "abc"], "--predict"),
    (["fit", "--predict", "1000,inf"], "--predict"),
    (["run", "vogels-abbott-cuba", "--N-pop", "1000000000000"], "needs an estimated"),
    (["sweep", "vogels-abbott-cuba", "--backends", "numba", "--N-pop", "100,1000000000000"], "needs an estimated"),
    (["validate", "vogels-abbott-cuba", "--backend", "numba", "--reference", "numba", "--N-pop", "1000000000000"],
     "needs an estimated"),
    (["show", "no/such/file.toml"], "no such scenario file"),
    (["show", "bad\x00name"], "no scenario named"),
]


@pytest.mark.parametrize("argv,expected", BAD_ARGUMENTS, ids=[" ".join(a)[:60] for a, _ in BAD_ARGUMENTS])
def test_bad_arguments_exit_2_with_one_line_naming_the_option(tmp_path, capsys, monkeypatch, argv, expected):
    monkeypatch.chdir(tmp_path)
    code, _, err = _cli(capsys, argv)
    _assert_clean(code, err, allowed=(2,))
    assert expected in err, err
    assert not (tmp_path / "results" / "runs.jsonl").exists()  # nothing was run


def test_results_that_is_a_file_or_unwritable_is_bad_input(tmp_path, capsys):
    a_file = tmp_path / "results.txt"
    a_file.write_text("not a directory")
    for argv in (["run", "vogels-abbott-cuba", "--results", str(a_file)],
                 ["run", "vogels-abbott-cuba", "--results", str(a_file / "below")],
                 ["table", "--results", str(a_file)], ["fit", "--results", str(a_file)],
                 ["report", "--results", str(a_file)], ["report", "--results", str(tmp_path), "--out", str(a_file)],
                 ["sweep", "vogels-abbott-cuba", "--backends", "numba", "--N-pop", "100", "--results", str(a_file)]):
        code, _, err = _cli(capsys, argv)
        _assert_clean(code, err, allowed=(2,))
        assert "results.txt" in err and ("is a file" in err or "cannot be written" in err), err


def test_a_network_too_large_is_refused_before_anything_starts_and_force_is_offered(tmp_path, capsys):
    code, _, err = _cli(capsys, ["run", "potjans-diesmann", "--memory-limit", "0.5", "--results", str(tmp_path)])
    _assert_clean(code, err, allowed=(2,))
    assert "needs an estimated" in err and "GiB" in err and "--force" in err
    assert not (tmp_path / "logs").exists()


def test_the_memory_estimate_grows_with_synapses_and_is_a_floor():
    from snnbench.runner import estimate_memory
    from snnbench.scenario import Overrides, load_scenario, resolve

    small = estimate_memory(resolve(load_scenario("vogels-abbott-coba")))
    large = estimate_memory(resolve(load_scenario("vogels-abbott-coba"), Overrides(N_pop=40000)))
    assert large.synapses == pytest.approx(10 * small.synapses, rel=0.01)  # in-degree held: synapses ~ N
    assert small.bytes < 231 * 2**20  # below what numba measured for this network (README: 231 MiB)
    pd = estimate_memory(resolve(load_scenario("potjans-diesmann")))
    assert 3.0e8 * 40 < pd.bytes < 17.1 * 2**30  # below NEST's 17.1 GiB at full scale


# ------------------------------------------------------------------ fuzzing: scenario files

_TOKENS = ["nan", "inf", "-inf", "-1", "0", "1e400", "1e-400", '"', "'", "[", "]", "{", "}", "=", "\n", "\x00",
           "true", '"1 nS"', '"abc mV"', "[[projections]]", "[populations.X]", "99999999999999999999", "é", "\ufeff"]


@st.composite
def mutated_scenario(draw) -> bytes:
    data = bytearray(draw(st.sampled_from(SHIPPED)).read_bytes())
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, len(data)))
        op = draw(st.sampled_from(["token", "delete", "bytes", "duplicate"]))
        if op == "token":
            data[at:at] = draw(st.sampled_from(_TOKENS)).encode()
        elif op == "delete":
            del data[at:at + draw(st.integers(1, 40))]
        elif op == "bytes":
            data[at:at + draw(st.integers(0, 8))] = draw(st.binary(min_size=1, max_size=8))
        else:
            chunk = data[at:at + draw(st.integers(1, 200))]
            data[at:at] = chunk
    return bytes(data)


_toml_scalars = st.one_of(st.integers(-2**70, 2**70), st.floats(allow_nan=True, allow_infinity=True), st.booleans(),
                          st.text(max_size=12))
_toml_keys = st.sampled_from(["scenario", "run", "populations", "projections", "title", "source", "dt", "simtime",
                              "size", "cell_type", "weight", "delay", "connector", "type", "p", "pre", "post",
                              "distribution", "low", "high", "E", "I", "parameters", "record", "scaling", "hold"])
_toml_values = st.recursive(_toml_scalars, lambda children: st.one_of(
    st.lists(children, max_size=4), st.dictionaries(_toml_keys, children, max_size=5)), max_leaves=25)


def _toml(value, key_path="") -> str:
    """A dict of values as TOML text (inline tables and arrays)."""
    import json
    import math

    def scalar(v):
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, float):
            return "nan" if math.isnan(v) else ("inf" if v > 0 else "-inf") if math.isinf(v) else repr(v)
        if isinstance(v, int):
            return str(v)
        if isinstance(v, str):
            return json.dumps(v)
        if isinstance(v, list):
            return "[" + ", ".join(scalar(x) for x in v) + "]"
        return "{" + ", ".join(f"{json.dumps(k)} = {scalar(x)}" for k, x in v.items()) + "}"
    return "".join(f"{json.dumps(k)} = {scalar(v)}\n" for k, v in value.items())


def _show_file(capsys, content: bytes) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "fuzzed.toml"
        path.write_bytes(content)
        code, _, err = _cli(capsys, ["show", str(path)])
    _assert_clean(code, err)
    if code == 2:
        assert "fuzzed.toml" in err, err


@FUZZ
@given(content=mutated_scenario())
def test_fuzz_mutations_of_every_shipped_scenario(capsys, content):
    _show_file(capsys, content)


@settings(FUZZ, max_examples=40)
@given(content=st.binary(max_size=2000))
def test_fuzz_random_bytes_as_a_scenario(capsys, content):
    _show_file(capsys, content)


@settings(FUZZ, max_examples=60)
@given(document=st.dictionaries(_toml_keys, _toml_values, max_size=6))
def test_fuzz_random_toml_as_a_scenario(capsys, document):
    _show_file(capsys, _toml(document).encode())


def test_shipped_scenarios_still_parse():
    for path in SHIPPED:
        try:
            parse_scenario(path.read_text(), file=path)
        except ScenarioError as exc:  # pragma: no cover - the message is the point
            pytest.fail(str(exc))


# ------------------------------------------------------------------ fuzzing: arguments

_VALUES = st.sampled_from(["nan", "inf", "-inf", "-1", "0", "1", "0.1", "50", "1e12", "1e308", "1e-300", "abc", "", " ", "1,2",
                           "1:2:3", "100:50:3", "1:1000:9999999", "é", "\x00", "--", "numba", "nest", "foo", "numba,foo"])
_SHOW_OPTIONS = st.sampled_from(["--N-pop", "--scale", "--K-scale", "--simtime", "--seed", "--dt"])
_RUN_OPTIONS = st.sampled_from(["--N-pop", "--scale", "--K-scale", "--simtime", "--seed", "--dt", "--threads", "--repeat",
                                "--timeout", "--memory-limit", "--option", "--connectivity", "--format", "--backend",
                                "--spinnaker-host", "--spalloc"])
_SWEEP_OPTIONS = st.sampled_from(["--backends", "--N-pop", "--simtime", "--repeat", "--threads", "--timeout",
                                  "--connectivity", "--format", "--name"])
_SCENARIO_NAMES = st.sampled_from(["vogels-abbott-cuba", "single-neuron", "potjans-diesmann", "v1-sheet", "nope",
                                   "nope.toml", "", "/", "scenarios"])


def _flat(pairs: list[tuple[str, str]]) -> list[str]:
    return [x for pair in pairs for x in pair]


@settings(FUZZ, max_examples=80)
@given(scenario=_SCENARIO_NAMES, pairs=st.lists(st.tuples(_SHOW_OPTIONS, _VALUES), max_size=4), as_json=st.booleans())
def test_fuzz_show_arguments(capsys, scenario, pairs, as_json):
    argv = ["show", scenario, *_flat(pairs)] + (["--json"] if as_json else [])
    code, _, err = _cli(capsys, argv)
    _assert_clean(code, err)


@settings(FUZZ, max_examples=60)
@given(scenario=_SCENARIO_NAMES, pairs=st.lists(st.tuples(_RUN_OPTIONS, _VALUES), max_size=4))
def test_fuzz_run_arguments_never_start_a_run(tmp_path, capsys, scenario, pairs):
    # A memory limit of 1 KiB (last, so it wins) makes every valid run a refused one: nothing runs.
    argv = ["run", scenario, *_flat(pairs), "--results", str(tmp_path / "r"), "--memory-limit", "0.000001"]
    code, _, err = _cli(capsys, argv)
    _assert_clean(code, err, allowed=(2,))
    assert not (tmp_path / "r" / "runs.jsonl").exists()


@settings(FUZZ, max_examples=40)
@given(scenario=_SCENARIO_NAMES, pairs=st.lists(st.tuples(_SWEEP_OPTIONS, _VALUES), max_size=4))
def test_fuzz_sweep_arguments_dry_run(tmp_path, capsys, scenario, pairs):
    argv = ["sweep", scenario, *_flat(pairs), "--results", str(tmp_path / "r"), "--dry-run"]
    code, _, err = _cli(capsys, argv)
    _assert_clean(code, err)
    assert not (tmp_path / "r" / "runs.jsonl").exists()

