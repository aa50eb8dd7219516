"""The asv suites: valid for asv, the quick profile runs, and the published site shows graphs offline."""

from __future__ import annotations

import itertools
import json
import math
import re
import shutil
import subprocess
import sys
from pathlib import Path

import json5
import pytest

from snnbench.asv_offline import ASSETS, NODE_MODULES, vendor_site
from snnbench.backends import REGISTRY, backend_class, backend_names

from .conftest import ROOT

ASV = [sys.executable, "-m", "asv"]
CHROMIUM = shutil.which("chromium")
requires_web = pytest.mark.skipif(not (NODE_MODULES / "jquery").exists(),
                                  reason="web/node_modules is missing (install.sh installs it with npm)")


def test_asv_accepts_the_suites():
    proc = subprocess.run(ASV + ["check", "--python=same"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "No problems found" in proc.stdout


def test_config_follows_the_layout():
    conf = json5.loads((ROOT / "asv.conf.json").read_text())
    assert conf["benchmark_dir"] == "benchmarks"
    assert conf["results_dir"] == "results/asv" and conf["html_dir"] == "reports/asv"
    assert conf["default_benchmark_timeout"] >= 600
    assert conf["install_command"][0].endswith("pip install torch==2.13.0")  # the CPU torch first


@requires_web
def test_vendoring_removes_every_cdn_address(tmp_path):
    import asv

    shutil.copytree(Path(asv.__file__).parent / "www", tmp_path / "site")
    (tmp_path / "site" / "index.json").write_text(json.dumps({"project": "x"}))
    replaced = vendor_site(tmp_path / "site")
    html = (tmp_path / "site" / "index.html").read_text()
    assert sorted(replaced) == sorted(ASSETS)
    assert "cdnjs" not in html and "jsdelivr" not in html and "code.jquery.com" not in html
    for rel in ASSETS.values():
        assert (tmp_path / "site" / "vendor" / rel).exists()
    data = (tmp_path / "site" / "vendor" / "snnbench-site-data.js").read_text()
    assert '"index.json":{"project":"x"}' in data


def _asv_in(out: Path, bench: list[str], publish: bool = False, timeout: float = 900) -> None:
    """The asv commands of docs/benchmarks.md (machine, run on this commit with --python=same, publish), with
    results, HTML and snnbench's run records under `out`; each `bench` is one --bench regex."""
    conf = json5.loads((ROOT / "asv.conf.json").read_text())
    conf.update(repo=str(ROOT), benchmark_dir=str(ROOT / "benchmarks"), results_dir=str(out / "results"),
                html_dir=str(out / "html"), env_dir=str(out / "env"))
    conf_file = out / "asv.conf.json"
    conf_file.write_text(json.dumps(conf))
    env = {**__import__("os").environ, "SNNBENCH_ASV_RUN_STORE": str(out / "runs")}
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True).stdout.strip()
    steps = [
        ASV + ["machine", "--machine", "pytest", "--yes", "--config", str(conf_file)],
        ASV + ["run", "--machine", "pytest", "--python=same", f"--set-commit-hash={head}",
               *(arg for regex in bench for arg in ("--bench", regex)), "--config", str(conf_file), "--show-stderr"],
    ] + ([ASV + ["publish", "--config", str(conf_file)]] if publish else [])
    for cmd in steps:
        proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)
        assert proc.returncode == 0, f"{cmd}\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"


def _asv_results(out: Path, benchmark: str) -> dict[tuple, float | None]:
    """{params: value} of one benchmark in the single results file asv wrote under `out`
    (NaN: skipped, NotImplementedError; None: failed or not run; both show as n/a)."""
    from asv.results import Results

    (path,) = [p for p in (out / "results" / "pytest").glob("*.json") if p.name != "machine.json"]
    results = Results.load(str(path))
    params = results.get_result_params(benchmark)
    values = results.get_result_value(benchmark, params)
    return dict(zip(itertools.product(*params), values))


@pytest.fixture(scope="module")
def quick_site(tmp_path_factory):
    """The asv commands of docs/benchmarks.md, with results and HTML in a temporary directory."""
    out = tmp_path_factory.mktemp("asv")
    _asv_in(out, ["Quick"], publish=True)
    return out


def test_quick_profile_saves_results_and_provenance(quick_site):
    results = [p for p in (quick_site / "results" / "pytest").glob("*.json") if p.name != "machine.json"]
    assert len(results) == 1
    data = json.loads(results[0].read_text())
    names = set(data["results"])
    assert {"phases.Quick.track_sim_s", "phases.Quick.track_build_s", "phases.Quick.track_write_s",
            "phases.Quick.track_peak_rss", "phases.Quick.track_rate"} <= names
    rates = _asv_results(quick_site, "phases.Quick.track_rate")
    assert {params[-1] for params in rates} == {"'E'", "'I'"}  # a track per population of VA COBA
    assert all(v is not None and math.isfinite(v) for p, v in rates.items() if p[1] == "'numba'"), rates
    runs = [json.loads(line) for line in (quick_site / "runs" / "runs.jsonl").read_text().splitlines()]
    assert {r["backend"] for r in runs} >= {"numba"} and all(r["status"] == "ok" for r in runs)
    # asv's runs are tagged in the record; the backend gets no option it does not declare
    assert all(r["options"] == {} and r["tags"] == {"asv": True} and r["provenance"]["git"]["revision"] for r in runs)


def test_full_suite_covers_every_registered_backend():
    from benchmarks.phases import Full

    assert Full.params[1] == backend_names()
    assert set(REGISTRY) <= set(Full.params[1])


def test_scale_suite_skips_what_the_machine_cannot_hold(monkeypatch):
    import psutil

    from benchmarks.phases import MAX_SCALE_VARIABLE, Scale, scale_skipped

    monkeypatch.setenv(MAX_SCALE_VARIABLE, "0.1")
    assert f"above {MAX_SCALE_VARIABLE}=0.1" in scale_skipped("potjans-diesmann", 1.0)
    real = psutil.virtual_memory()
    monkeypatch.setattr(psutil, "virtual_memory", lambda: real._replace(available=2**30))
    why = scale_skipped("potjans-diesmann", 0.1)  # the estimate: 1.2 GiB
    assert "needs an estimated 1." in why and "1 GiB of memory available" in why
    with pytest.raises(NotImplementedError, match="needs an estimated"):
        Scale().setup("no-cache-needed", "potjans-diesmann", "numba", 0.1)
    monkeypatch.setattr(psutil, "virtual_memory", lambda: real._replace(available=2**40))
    assert scale_skipped("potjans-diesmann", 0.1) is None
    monkeypatch.setenv(MAX_SCALE_VARIABLE, "lots")
    with pytest.raises(ValueError, match=f"{MAX_SCALE_VARIABLE}='lots': expected a number"):
        scale_skipped("potjans-diesmann", 0.1)


def test_every_reference_script_exists_and_names_a_registered_backend():
    from benchmarks.overhead import REFERENCES, SCRIPTS

    for backend, (arguments, options) in REFERENCES.items():
        assert (SCRIPTS / arguments[0]).is_file()
        backend_class(backend).check_options(options)  # the matching options are the backend's own


# Runs a script with the simulators' modules unimportable: its --help must not need them.
_WITHOUT_SIMULATORS = """
import runpy, sys
class Blocked:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {"nest", "pyNN", "brian2", "ANNarchy", "brainpy", "jax"}:
            raise ImportError(f"{name} imported by --help")
sys.meta_path.insert(0, Blocked())
sys.argv = sys.argv[1:]
runpy.run_path(sys.argv[0], run_name="__main__")
"""


@pytest.mark.parametrize("script", sorted(p.name for p in (ROOT / "benchmarks" / "reference").glob("*.py")))
def test_every_reference_script_answers_help_without_its_simulator(script):
    """Cheap (the scripts' runs are the asv suite's): each parses its arguments, and says what it is,
    before importing its simulator."""
    path = ROOT / "benchmarks" / "reference" / script
    proc = subprocess.run([sys.executable, "-c", _WITHOUT_SIMULATORS, str(path), "--help"], capture_output=True,
                          text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert proc.returncode == 0, proc.stderr
    first_line = path.read_text().split('"""')[1].splitlines()[0]
    assert " ".join(first_line.split()) in " ".join(proc.stdout.split())


def test_overhead_sets_like_time_against_like():
    """The adapter's overhead divides CPU by CPU or wall by wall, as the reference declares."""
    from benchmarks.overhead import AdapterOverhead, reference_loop

    assert reference_loop({"loop_s": 9.0, "loop_cpu_s": 2.0}) == (2.0, "cpu")  # NEST, PyNN
    assert reference_loop({"loop_s": 0.1, "loop_clock": "cpu"}) == (0.1, "cpu")  # Brian2 standalone, 1 thread
    assert reference_loop({"loop_s": 3.0, "loop_clock": "wall"}) == (3.0, "wall")  # Brian2 runtime
    with pytest.raises(ValueError, match="no loop_cpu_s and no loop_clock"):
        reference_loop({"script": "old", "loop_s": 1.0})
    suite = AdapterOverhead()
    suite.record = {"phases": {"sim": {"wall_s": 0.3, "cpu_s": 0.12}}}
    suite.reference = {"loop_s": 0.1, "loop_clock": "cpu"}
    assert suite.track_adapter_overhead() == pytest.approx(0.2)
    suite.reference = {"loop_s": 0.2, "loop_clock": "wall"}
    assert suite.track_adapter_overhead() == pytest.approx(0.5)


FULL_CASE = ("vogels-abbott-cuba", 1000, 250.0)  # the smallest case of the Full suite


# Minutes (every backend's first compile on a fresh machine): the slow tier; the fast tier keeps the
# quick profile through asv and the registry check above (docs/testing.md).
@pytest.mark.slow
def test_full_suite_runs_every_available_backend(tmp_path):
    """One small Full case per registered backend through `asv run`: every backend that is
    available here gives a number, and only the unavailable ones are n/a."""
    scenario, n_pop, simtime = FULL_CASE
    names = "|".join(re.escape(name) for name in REGISTRY)
    _asv_in(tmp_path, [rf"phases\.Full\.track_sim_s\('{scenario}', '({names})', {n_pop}, {simtime!r}\)"], timeout=1800)
    values = {params[1].strip("'"): v for params, v in _asv_results(tmp_path, "phases.Full.track_sim_s").items()
              if params[0] == f"'{scenario}'" and params[2] == str(n_pop) and params[3] == repr(simtime)}
    assert set(values) == set(REGISTRY)
    runs = {r["backend"]: r for r in map(json.loads, (tmp_path / "runs" / "runs.jsonl").read_text().splitlines())}
    for name, value in values.items():
        ok, why = backend_class(name).available()
        if ok:
            failure = (runs.get(name) or {}).get("failure")
            assert value is not None and math.isfinite(value) and value > 0, f"{name}: n/a in asv Full ({failure})"
        else:  # skipped (asv stores NaN; None would be a failure), never run
            assert value is not None and math.isnan(value) and name not in runs, f"{name} is unavailable ({why})"


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (install.sh installs it)")
@requires_web
@pytest.mark.parametrize("graph", ["track_build_s", "track_sim_s", "track_write_s"])
def test_published_site_shows_numba_and_nest_graphs_offline(quick_site, tmp_path, graph):
    index = quick_site / "html" / "index.html"
    assert "cdnjs" not in index.read_text()
    proc = subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         f"--user-data-dir={tmp_path / 'chromium'}", "--virtual-time-budget=10000", "--dump-dom",
         f"file://{index}#phases.Quick.{graph}"],
        capture_output=True, text=True, timeout=120)
    dom = proc.stdout
    assert 'id="graph-display" style="width: 100%; height: 100%;"' in dom  # shown, not display: none
    assert "flot-base" in dom  # the plot canvas
    assert "backend-numba" in dom
    if shutil.which("nest-config") or __import__("importlib").util.find_spec("nest"):
        assert "backend-nest" in dom
