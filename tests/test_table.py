"""`snnbench table`: one rate column per population of cells the stored runs have."""

from __future__ import annotations

from snnbench import cli
from snnbench.store import ResultStore

from .conftest import ROOT

PD_POPULATIONS = ["L23E", "L23I", "L4E", "L4I", "L5E", "L5I", "L6E", "L6I"]


def test_potjans_diesmann_table_shows_all_eight_populations(capsys):
    assert cli.main(["table", "--results", str(ROOT / "results" / "pd"), "--markdown"]) == cli.EXIT_OK
    header, _, *rows = capsys.readouterr().out.splitlines()
    columns = [c.strip() for c in header.strip("|").split("|")]
    assert columns[-8:] == [f"{name} rate (Hz)" for name in PD_POPULATIONS]
    assert "E rate (Hz)" not in columns
    for row in rows:  # every stored PD run recorded every population
        cells = [c.strip() for c in row.strip("|").split("|")]
        assert all(cell != "-" and float(cell.split()[0]) > 0 for cell in cells[-8:]), row


def test_rates_of_scenarios_without_a_population_show_a_dash():
    records = ResultStore(ROOT / "results" / "pd").runs()[:1] + ResultStore(ROOT / "results" / "example").runs()[:1]
    header, rows = cli.results_table(records)
    assert header[-10:] == [f"{name} rate (Hz)" for name in PD_POPULATIONS + ["E", "I"]]
    (pd_row,) = [r for r in rows if r[0] == "potjans-diesmann"]
    (va_row,) = [r for r in rows if r[0] == "vogels-abbott-coba"]
    assert pd_row[-2:] == ["-", "-"] and all(c == "-" for c in va_row[-10:-2]) and va_row[-1] != "-"
