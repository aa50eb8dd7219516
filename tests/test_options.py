"""Declared backend options and the registry: one validation for every backend, before any run."""

from __future__ import annotations

import ast
import inspect
import json
import subprocess
import sys

import pytest

from snnbench import cli
from snnbench.backends import REGISTRY, RUNS_ON, Option, OptionError, backend_class, backend_names
from snnbench.provenance import software
from snnbench.runner import RunSpec, run_isolated
from snnbench.scenario import Overrides
from snnbench.store import ResultStore

BACKENDS = list(REGISTRY)


# ------------------------------------------------------------------------------ the declarations


@pytest.mark.parametrize("name", BACKENDS)
def test_declarations_are_complete_and_their_defaults_valid(name):
    cls = REGISTRY[name]
    assert cls.name == name and set(cls.runs_on) <= set(RUNS_ON) and cls.runs_on
    names = [o.name for o in cls.accepted_options]
    assert len(names) == len(set(names))
    for option in cls.accepted_options:
        assert option.doc.strip(), f"{name}: option {option.name} has no doc"
        if option.default is not None:
            assert option.problem(option.default) is None, f"{name}: the default of {option.name} is refused"


def _option_keys_read(cls) -> set[str]:
    """Literal keys of self.option(...), self.options.get(...) and self.options[...] in a class's module."""
    tree = ast.parse(inspect.getsource(sys.modules[cls.__module__]))
    keys = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant):
            f = node.func
            if isinstance(f, ast.Attribute) and f.attr == "option" and isinstance(f.value, ast.Name) and f.value.id == "self":
                keys.add(node.args[0].value)
            if (isinstance(f, ast.Attribute) and f.attr == "get" and isinstance(f.value, ast.Attribute)
                    and f.value.attr == "options"):
                keys.add(node.args[0].value)
        if isinstance(node, ast.Subscript) and isinstance(node.value, ast.Attribute) and node.value.attr == "options" \
                and isinstance(node.slice, ast.Constant):
            keys.add(node.slice.value)
    return keys


@pytest.mark.parametrize("name", BACKENDS)
def test_a_backend_reads_only_options_it_declares(name):
    cls = REGISTRY[name]
    declared = {o.name for c in REGISTRY.values() if c.__module__ == cls.__module__ for o in c.accepted_options}
    assert _option_keys_read(cls) <= declared


def test_reading_an_undeclared_option_is_a_programming_error():
    with pytest.raises(KeyError, match="does not declare"):
        backend_class("numba")().option("cache")
    assert backend_class("brian2")().option("cache") == "warm"  # the declared default
    assert backend_class("brian2")(options={"cache": "cold"}).option("cache") == "cold"


def test_option_types_and_limits():
    chunk = Option("chunk", int, 10, "steps", minimum=1)
    assert chunk.problem(5) is None
    assert "expected int" in chunk.problem(True) and "expected int" in chunk.problem("5")
    assert ">= 1" in chunk.problem(0)
    assert Option("x", float, 1.0, "a float").problem(2) is None  # an int is a float
    flag = Option("flag", bool, True, "a flag")
    assert flag.parse("false") is False and flag.parse("1") is True and "expected bool" in flag.problem(flag.parse("maybe"))
    mode = Option("mode", str, "a", "a mode", choices=("a", "b"))
    assert "expected one of a, b" in mode.problem("c")
    assert mode.describe() == "mode (str: a|b, default a)" and chunk.describe() == "chunk (int >= 1, default 10)"
    with pytest.raises(TypeError):
        Option("bad", list, [], "lists are not options")


# ------------------------------------------------------------------------------ refused as bad input


@pytest.mark.parametrize("name", BACKENDS)
def test_unknown_option_exits_2_naming_the_accepted_ones(name, tmp_path, capsys):
    """Also for backends that are not installed: validation needs only the class."""
    rc = cli.main(["run", "vogels-abbott-coba", "--backend", name, "--option", "bogus=1", "--results", str(tmp_path)])
    err = capsys.readouterr().err.strip()
    assert rc == cli.EXIT_BAD_INPUT
    assert len(err.splitlines()) == 1 and err.startswith("snnbench: ") and "'bogus'" in err
    cls = REGISTRY[name]
    for option in cls.accepted_options:
        assert option.describe() in err
    if not cls.accepted_options:
        assert "accepts no options" in err
    assert not (tmp_path / "runs.jsonl").exists()  # nothing was run


@pytest.mark.parametrize("name, item, expected", [
    ("genn", "optimize=maybe", "optimize='maybe': expected bool"),
    ("brian2", "cache=lukewarm", "cache='lukewarm': expected one of warm, cold"),
    ("bindsnet", "chunk_steps=0", "chunk_steps=0: expected a value >= 1"),
    ("spinnaker", "neurons_per_core=many", "neurons_per_core='many': expected int"),
])
def test_ill_typed_option_exits_2(name, item, expected, tmp_path, capsys):
    rc = cli.main(["run", "vogels-abbott-cuba", "--backend", name, "--option", item, "--results", str(tmp_path)])
    err = capsys.readouterr().err
    assert rc == cli.EXIT_BAD_INPUT and expected in err and REGISTRY[name].describe_options() in err


def test_option_text_is_read_as_the_declared_type():
    assert cli._options(["optimize=false", "cache=cold", "precision=float"], "genn") == {
        "optimize": False, "cache": "cold", "precision": "float"}
    assert cli._options(["chunk_steps=500", "device=cpu"], "bindsnet") == {"chunk_steps": 500, "device": "cpu"}
    assert cli._options(["spinnaker_host=10", "neurons_per_core=64"], "spinnaker") == {
        "spinnaker_host": "10", "neurons_per_core": 64}  # a host name stays text


def test_the_command_line_refuses_before_anything_runs(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "snnbench", "run", "vogels-abbott-coba", "--backend", "brian2",
                           "--option", "bogus=1"], capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.strip() == ("snnbench: backend brian2: unknown option 'bogus' "
                                   "(brian2 accepts: cache (str: warm|cold, default warm), "
                                   "method (str: exponential_euler|euler|exact))")
    assert not (tmp_path / "results").exists()


def test_run_isolated_refuses_bad_options_in_the_parent(tmp_path):
    store = ResultStore(tmp_path)
    spec = RunSpec(scenario="vogels-abbott-cuba", backend="nest", overrides=Overrides(N_pop=200, simtime=50.0),
                   options={"asv": True})
    with pytest.raises(OptionError, match="nest accepts no options"):
        run_isolated(spec, store)
    assert store.runs() == []


def test_validate_refuses_a_bad_candidate_option(tmp_path, capsys):
    rc = cli.main(["validate", "vogels-abbott-cuba", "--backend", "bindsnet", "--option", "connection=triangular",
                   "--results", str(tmp_path)])
    assert rc == cli.EXIT_BAD_INPUT and "connection='triangular'" in capsys.readouterr().err


def test_sweep_file_options_are_checked_naming_file_and_key(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text('[[design]]\nscenario = "vogels-abbott-cuba"\nbackends = ["numba", "brian2"]\nN_pop = [200]\n'
                    'options = { brian2 = { cache = "hot" } }\n')
    proc = subprocess.run([sys.executable, "-m", "snnbench", "sweep", str(path), "--results", str(tmp_path / "res")],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert f"{path}: design[0].options.brian2: option cache='hot': expected one of warm, cold" in proc.stderr
    assert not (tmp_path / "res" / "runs.jsonl").exists()


def test_worker_side_supports_refuses_too():
    """A backend instance given bad options (e.g. in-process) refuses with the same words."""
    from snnbench.scenario import load_scenario, resolve

    resolved = resolve(load_scenario("vogels-abbott-cuba"), Overrides(N_pop=200, simtime=10.0))
    problems = backend_class("numba")(options={"turbo": 1}).supports(resolved, "native")
    assert problems == ["unknown option 'turbo' (numba accepts: method (str: exact|euler, default exact), "
                        "dtype (str: float64|float32, default float64))"]


def test_numba_method_round_trips_in_the_record(tmp_path):
    store = ResultStore(tmp_path)
    spec = RunSpec(scenario="vogels-abbott-coba", backend="numba", overrides=Overrides(N_pop=200, simtime=20.0),
                   options={"method": "euler"})
    record = run_isolated(spec, store)
    assert record.failure is None and record.options == {"method": "euler"}
    assert any("method=euler" in t["detail"] for t in record.translations)
    (stored,) = store.runs()
    assert stored.options == {"method": "euler"}


# ------------------------------------------------------------------------------ the registry


def test_importing_the_registry_imports_no_simulator():
    modules = sorted({cls.module for cls in REGISTRY.values()} | {"torch", "pyNN", "numba"})
    code = ("import sys, json; import snnbench.backends as b; "
            "[c.check_options({}) for c in b.REGISTRY.values()]; "
            f"print(json.dumps([m for m in {modules!r} if m in sys.modules]))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == []


@pytest.mark.parametrize("name", BACKENDS)
def test_provenance_reports_the_packages_the_class_names(name):
    cls = REGISTRY[name]
    assert set(cls.provenance_packages()) <= set(software(name))
    assert cls.provenance_packages()[0] in software(name)


def test_list_shows_options_and_extra_backends_still_register(tmp_path, fault_backends):
    assert "fault.raise" in backend_names() and backend_class("fault.raise").name == "fault.raise"
    assert backend_names(runs_on="GPU") == [n for n, c in REGISTRY.items() if "GPU" in c.runs_on]
    proc = subprocess.run([sys.executable, "-m", "snnbench", "list", "--options"], capture_output=True, text=True,
                          cwd=tmp_path, timeout=120)
    assert proc.returncode == 0
    assert "cache (str: warm|cold, default warm)" in proc.stdout and "nest: none" in proc.stdout
    assert "  fault.raise\n    method (str: exact|euler, default exact)" in proc.stdout  # numba's, inherited


def test_a_scenario_the_options_cannot_run_is_refused_before_the_results_folder_exists(tmp_path, capsys):
    from snnbench import cli

    results = tmp_path / "results"
    assert cli.main(["run", "vogels-abbott-coba", "--option", "dtype=float32", "--results", str(results)]) == 2
    assert "dtype=float32 needs method=euler" in capsys.readouterr().err
    assert not results.exists()
