"""The report's answer section, its figures' rules and the published figures, on synthetic stores
whose costs are known (no simulator runs: the sweep-based report tests are in test_sweep_report.py)."""

from __future__ import annotations

import re

import matplotlib
import pytest

from snnbench.fit import fit_report, frame
from snnbench.published import MODELS, RATES, comparisons
from snnbench.record import as_run_records
from snnbench.recommend import measured_winners
from snnbench.report import build_report, figures
from snnbench.store import ResultStore, append_jsonl

from .conftest import ROOT
from .test_fit import _records
from .test_recommend import _validation
from .test_sweep_report import CHROMIUM, assert_renders_cleanly


def _store(tmp_path, scenarios=("synthetic",)):
    store = ResultStore(tmp_path / "results")
    for scenario in scenarios:
        runs = _records("fast", lambda N, T: 1e-5 * N * T, seed=1) + _records("slow", lambda N, T: 2e-4 * N * T, seed=2)
        for r in runs:
            r["scenario"] = scenario
            append_jsonl(store.runs_file, r)
        for candidate in ("fast", "slow"):
            append_jsonl(store.validations_file, {**_validation(candidate), "scenario": scenario})
    return store


def test_measured_winners_rank_validated_configurations_by_median_total(tmp_path):
    store = _store(tmp_path)
    points = measured_winners(store.runs(), store.validations(), "synthetic")
    assert len(points) == 24  # 6 sizes x 4 simtimes
    assert {p.winner for p in points} == {"fast"}
    # total = sim + build (0.01 N): at N 8000, 2000 ms, (2e-4 * 8000 * 2000 + 80) / (1e-5 * 8000 * 2000 + 80) = 13.1
    largest = next(p for p in points if p.N_pop == 8000 and p.simtime == 2000.0)
    assert largest.ratio == pytest.approx(3280 / 240, rel=0.1) and largest.clear
    # without the verdicts nobody is validated: no winner; the unvalidated are listed, cheapest first
    points = measured_winners(store.runs(), [], "synthetic")
    assert all(p.winner is None and p.cheaper_unvalidated == ["fast", "slow"] for p in points)


def test_report_leads_with_the_answer_and_an_index_for_several_scenarios(tmp_path):
    store = _store(tmp_path, ("alpha", "beta"))
    index = build_report(store, tmp_path / "out")
    assert index == tmp_path / "out" / "index.html"
    html = index.read_text()
    for scenario in ("alpha", "beta"):
        page = (tmp_path / "out" / scenario / "index.html").read_text()
        assert f'href="{scenario}/index.html"' in html
        assert page.index('id="answer"') < page.index('id="phases"') < page.index('id="provenance"')
        assert 'id="fig-winner-map"' in page and 'id="recommendation-table"' in page
        assert re.search(r"Over the 24 sizes measured \(N_pop 500-8,000, simtime 250-2000 ms\), fast has the lowest "
                         r"median total time .* at 24 of them, ahead of the next backend by", page)
    assert html.count("fast has the lowest median total time") == 2
    # one scenario chosen: its page only, at the top of --out
    single = build_report(store, tmp_path / "one", scenario="beta")
    assert single == tmp_path / "one" / "index.html" and "fast has the lowest" in single.read_text()


def test_log_axes_label_few_ticks_that_do_not_collide():
    fig, ax = matplotlib.pyplot.subplots()
    ax.set_xscale("log")
    ax.set_xlim(400, 10000)
    figures.log_axis(ax.xaxis, 400, 10000)
    fig.canvas.draw()
    labels = [t.get_text() for t in ax.xaxis.get_ticklabels(which="both")
              if t.get_text() and 400 <= t.get_position()[0] <= 10000]  # the visible ones
    assert labels and len(labels) <= 8, labels
    assert all(re.fullmatch(r"[0-9,.]+", label) for label in labels), labels  # 2,000 and 500, never 5e+02
    assert "4000500060007000800090000" not in "".join(labels)
    matplotlib.pyplot.close(fig)


def test_a_fit_that_misses_its_points_is_not_drawn_and_the_reason_is_given():
    records = as_run_records(_records("curved", lambda N, T: 2e-4 * N**2 * (1 + T / 1000), noise=0.01)
                             + _records("linear", lambda N, T: 1e-4 * N * T, seed=2))
    models = {(m.backend, m.phase): m for m in fit_report(records, phases=("sim",))["models"]}
    png, notes = figures.scaling(frame(records), models, ["curved", "linear"], "sim", "N_pop", 2000.0,
                                 {"curved": "curved", "linear": "linear"})
    assert png
    curved = next(n for n in notes if n.startswith("curved:"))
    linear = next(n for n in notes if n.startswith("linear:"))
    assert "measured points only" in curved and ("outside its 95 % prediction interval" in curved or "x off" in curved)
    assert "sim time (ms) =" in linear and "R²" in linear and "Jarque-Bera" in linear


def test_published_figures_carry_hardware_and_source_and_sit_beside_ours():
    for p in MODELS + RATES:
        assert p.hardware and p.source and p.backends
    records = _records("nest", lambda N, T: 1.9e-3 * N * T)
    for r in records:
        r["scenario"] = "vogels-abbott-coba"
    records = as_run_records(records)
    models = fit_report(records, phases=("sim",))["models"]
    rows = {row["published"].label: row for row in comparisons(records, models, "vogels-abbott-coba")}
    ours = rows["NEST sim (through PyNN)"]["ours"]
    assert ours["configuration"] == "nest" and ours["b_ms_per_neuron_per_s"] == pytest.approx(1.9, rel=0.05)
    assert rows["SpiNNaker sim"]["ours"] is None and "spinnaker" in rows["SpiNNaker sim"]["why_not"]
    # the COBA rates need runs at N_pop 4000: the synthetic sizes are 500-8000 log-spaced, none is 4000
    assert rows["NEST"]["ours"] is None and "N_pop 4,000" in rows["NEST"]["why_not"]
    assert rows["NEST"]["published"].seconds_per_biological_second == 15.4


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (install.sh installs it)")
def test_the_example_report_renders_cleanly_and_leads_with_the_answer(tmp_path):
    """reports/example/index.html as checked in (regenerate it with the command in docs/results.md)."""
    path = ROOT / "reports" / "example" / "index.html"
    dom = assert_renders_cleanly(path, tmp_path)
    assert dom.index('id="answer"') < dom.index('id="fig-winner-map"') < dom.index('id="phases"')
    assert "numba (parquet) has the lowest median total time" in dom
    for fig in ("sim-vs-N", "total-vs-N", "memory-vs-N", "rates"):
        assert f'id="fig-{fig}"' in dom
