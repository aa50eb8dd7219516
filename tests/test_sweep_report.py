"""Sweeps (resumable, failures recorded) and the HTML report, looked at in headless Chromium."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys

import pytest

from snnbench.store import ResultStore
from snnbench.sweep import Design, expand, parse_n_pop, plan, run_sweep
from snnbench.validate import validate
from snnbench.scenario import Overrides

from .conftest import requires_nest

CHROMIUM = shutil.which("chromium")


def test_n_pop_specs():
    assert parse_n_pop("500:8000:5") == [500, 1000, 2000, 4000, 8000]  # log-spaced
    assert parse_n_pop("500:2000:4:lin") == [500, 1000, 1500, 2000]
    assert parse_n_pop("300,100,200,100") == [100, 200, 300]
    for bad in ("0:10:3", "10:5:2", "1:2", "a,b"):
        with pytest.raises(ValueError):
            parse_n_pop(bad)


def test_points_are_ordered_round_by_round():
    sweep = expand([Design(scenario="vogels-abbott-cuba", backends=["numba", "nest"], N_pop="200,400", simtime="100", repeat=2)])
    assert [p.repeat for p in sweep.points] == [0, 0, 0, 0, 1, 1, 1, 1]
    assert {p.backend for p in sweep.points[:4]} == {"numba", "nest"}


def test_sweep_resumes_and_records_failures(tmp_path, fault_backends):
    store = ResultStore(tmp_path)
    design = dict(scenario="vogels-abbott-cuba", N_pop="200,400", simtime="50", timeout=300)
    first = run_sweep(expand([Design(backends=["numba", "fault.raise"], repeat=1, **design)]), store, show_progress=False)
    assert (first["ok"], first["failed"], first["skipped"]) == (2, 2, 0)
    assert "deliberate failure in build" in first["failures"][0]
    again = run_sweep(expand([Design(backends=["numba", "fault.raise"], repeat=1, **design)]), store, show_progress=False)
    assert (again["ok"], again["failed"], again["skipped"]) == (0, 0, 4)  # everything already recorded
    more = expand([Design(backends=["numba"], repeat=2, **design)])
    todo, done = plan(more, store)
    assert len(done) == 2 and len(todo) == 2 and all(p.repeat == 1 for p in todo)  # only the new repeats
    retry, _ = plan(expand([Design(backends=["fault.raise"], repeat=1, **design)]), store, retry_failed=True)
    assert len(retry) == 2
    records = store.runs()
    assert len(records) == 4 and all(r["tags"] == {"sweep": "vogels-abbott-cuba"} for r in records)


def test_sweep_cli_validates_its_arguments(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "snnbench", "sweep", "vogels-abbott-cuba", "--backends", "numba",
                           "--N-pop", "0:5:2", "--results", str(tmp_path)], capture_output=True, text=True)
    assert proc.returncode == 2 and "start" in proc.stderr
    proc = subprocess.run([sys.executable, "-m", "snnbench", "sweep", "vogels-abbott-cuba", "--backends", "numba",
                           "--N-pop", "200,400", "--simtime", "50,100", "--repeat", "2", "--dry-run",
                           "--results", str(tmp_path)], capture_output=True, text=True)
    assert proc.returncode == 0 and "8 points, 0 already recorded, 8 to run" in proc.stdout


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    results = tmp_path_factory.mktemp("sweep")
    store = ResultStore(results)
    backends = ["numba", "nest"] if __import__("importlib").util.find_spec("nest") else ["numba"]
    sweep = expand([Design(scenario="vogels-abbott-cuba", backends=backends, N_pop="250,500,1000", simtime="100,200",
                           repeat=2, timeout=300)])
    outcome = run_sweep(sweep, store, show_progress=False)
    assert outcome["failed"] == 0
    if "nest" in backends:
        validate("vogels-abbott-cuba", "numba", "nest", seeds=3, reference_seeds=3, store=store,
                 overrides=Overrides(N_pop=1000, simtime=400.0))
    out = results / "report"
    proc = subprocess.run([sys.executable, "-m", "snnbench", "report", "--results", str(results), "--out", str(out)],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    return out / "index.html", backends


def test_report_has_every_section(report):
    path, backends = report
    html = path.read_text()
    sections = ("answer", "phases", "scaling", "published", "models", "crossovers", "validation", "activity", "failures",
                "provenance")
    positions = [html.index(f'id="{section}"') for section in sections]
    assert positions == sorted(positions)  # the answer first, the evidence after, provenance last
    for fig in ("phase-bars", "memory-bars", "rates", "sim-vs-N", "sim-vs-simtime", "memory-vs-N", "distributions"):
        assert f'id="fig-{fig}"' in html
    assert 'id="recommendation-table"' in html and 'id="answer-paragraph"' in html
    if "nest" in backends:  # the paragraph, from the data (the validation's runs add N_pop 1000 x 400 ms)
        assert "Over the 7 sizes measured (N_pop 250-1,000, simtime 100-400 ms)" in html
    else:
        assert "No validated configuration was measured" in html
    for backend in backends:
        assert f'id="fig-raster-{backend}"' in html
    assert "sim time (ms) = " in html  # a fitted formula
    assert "https://" not in html.split("</head>")[0]  # self-contained: nothing loaded from elsewhere
    if "nest" in backends:
        assert re.search(r'class="(pass|fail)">(PASS|FAIL)</td>', html)
        assert 'id="fig-winner-map"' in html  # numba validated, nest the reference: a cheapest validated backend


def chromium(path, tmp_path, *args: str) -> subprocess.CompletedProcess:
    """Headless Chromium on a local page, a 1280 px wide window, its log (console messages) on stderr."""
    base = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync", "--enable-logging=stderr",
            f"--user-data-dir={tmp_path / 'chromium'}", "--virtual-time-budget=5000", "--window-size=1280,900"]
    return subprocess.run(base + list(args) + [f"file://{path}"], capture_output=True, text=True, timeout=120)


def assert_renders_cleanly(path, tmp_path) -> str:
    """No script error or console message, no horizontal scrolling at 1280 px; returns the DOM."""
    proc = chromium(path, tmp_path, "--dump-dom")
    html_tag = re.search(r"<html[^>]*>", proc.stdout).group(0)
    assert "data-js-errors" not in html_tag, html_tag  # no script error on the page
    assert 'data-overflow-x="0"' in html_tag, html_tag  # readable at 1280 px: no horizontal scrolling
    assert ":CONSOLE" not in proc.stderr, proc.stderr  # the page logs nothing to the console ("INFO:CONSOLE:1] ...")
    return proc.stdout


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (install.sh installs it)")
def test_report_renders_in_chromium_without_errors(report, tmp_path):
    path, backends = report
    dom = assert_renders_cleanly(path, tmp_path)
    figures = re.findall(r'<figure id="fig-([^"]+)"><img alt="[^"]+" src="data:image/png;base64,', dom)
    expected = {"phase-bars", "memory-bars", "rates", "sim-vs-N", "sim-vs-simtime", "build-vs-N", "total-vs-N", "memory-vs-N"}
    assert expected <= set(figures), figures
    assert 'id="recommendation-table"' in dom and ("winner-map" in figures or "nest" not in backends)
    shot = tmp_path / "report.png"
    chromium(path, tmp_path, f"--screenshot={shot}")
    assert shot.exists() and shot.stat().st_size > 20_000  # a rendered page, not a blank one (that is ~5 kB)


def test_sweep_file_errors_name_the_key(tmp_path):
    from snnbench.scenario import ScenarioError
    from snnbench.sweep import load_sweep_file

    bad = tmp_path / "bad-sweep.toml"
    bad.write_text('[[design]]\nscenario = "vogels-abbott-cuba"\nbackends = ["numba"]\nN_pop = "100"\nrepeats = 3\n')
    with pytest.raises(ScenarioError, match=r"bad-sweep.toml: design\[0\].repeats"):
        load_sweep_file(bad)


def test_shipped_sweep_file_expands():
    from snnbench.sweep import load_sweep_file

    from .conftest import SCENARIOS

    sweep = load_sweep_file(SCENARIOS / "sweeps" / "va-coba-scaling.toml")
    assert sweep.name == "va-coba-scaling"
    assert len(sweep.points) == 6 * 4 * 4 * 3
    assert sorted({p.N_pop for p in sweep.points}) == [500, 871, 1516, 2639, 4595, 8000]
