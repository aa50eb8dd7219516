"""Scenarios: the typed model, loading, overrides and exact realisation."""

from .errors import ScenarioError
from .load import find_scenario, list_scenarios, load_scenario, parse_scenario, scenario_hash
from .model import Scenario
from .realise import Network, realise
from .resolve import Overrides, ResolvedScenario, resolve

__all__ = [
    "Network", "Overrides", "ResolvedScenario", "Scenario", "ScenarioError", "find_scenario",
    "list_scenarios", "load_scenario", "parse_scenario", "realise", "resolve", "scenario_hash",
]
