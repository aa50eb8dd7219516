"""The synthetic SONATA column run by bmtk's pointnet (on the installed NEST) beside snnbench's
nest and numba: rates, CVs and correlations per node type compared by the equivalence protocol
(slow tier: six input seeds of a 1 s run of the whole column on three simulators; with three,
D_YY of the CVs is too narrow an estimate and two populations fail: measured)."""

from __future__ import annotations

import pytest

pytest.importorskip("bmtk.simulator.pointnet", reason="bmtk is not installed (extra 'sonata')")
pytest.importorskip("nest", reason="NEST is not installed")


@pytest.mark.slow
def test_column_matches_bmtk_pointnet(tmp_path):
    from snnbench.scenario import load_scenario
    from snnbench.sonata.reference import compare_with_pointnet

    scenario = load_scenario("v1-column-sonata")  # builds the column into the cache on first use
    simulation = next(iter(scenario.cell_populations.values())).sonata.nodes_file
    from pathlib import Path

    config = Path(simulation).parents[1] / "simulation_config.json"
    result = compare_with_pointnet(config, tmp_path, seeds=[1, 2, 3, 4, 5, 6], simtime=1000.0, transient=100.0)
    for backend, verdict in result["verdicts"].items():
        failed = [f"{s.population} {s.statistic}: {s.d_xy_mean:.3f} > {s.limit:.3f}" for s in verdict.statistics if not s.passed]
        failed += [f"{r.population} rate {r.mean_x:.2f} vs {r.mean_y:.2f} Hz" for r in verdict.rates if not r.passed]
        assert verdict.passed, f"{backend} against bmtk pointnet: {'; '.join(failed)}"
