"""Spike statistics and the cross-backend equivalence protocol."""

from .protocol import compare_exact, compare_statistical, first_divergence, ks_distance
from .statistics import PopulationStatistics, population_statistics, run_statistics

__all__ = ["PopulationStatistics", "compare_exact", "compare_statistical", "first_divergence", "ks_distance",
           "population_statistics", "run_statistics"]
