"""Spike and weight statistics and the cross-backend equivalence protocol."""

from .protocol import compare_exact, compare_statistical, first_divergence, ks_distance
from .statistics import (
    PopulationStatistics,
    ProjectionStatistics,
    population_statistics,
    projection_statistics,
    run_statistics,
    run_weight_statistics,
)

__all__ = ["PopulationStatistics", "ProjectionStatistics", "compare_exact", "compare_statistical", "first_divergence",
           "ks_distance", "population_statistics", "projection_statistics", "run_statistics", "run_weight_statistics"]
