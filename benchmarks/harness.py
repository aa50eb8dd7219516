"""snnbench's own hot paths, measured in-process by asv's timers (its own regressions)."""

from __future__ import annotations

import tempfile

from .common import ROOT  # noqa: F401  (sets SNNBENCH_SCENARIOS)


class Realise:
    """Drawing a network from its seed (exact mode): edges, weights, delays, initial V, sources."""

    params = [["vogels-abbott-coba"], [1000, 4000]]
    param_names = ["scenario", "N_pop"]
    version = "snnbench-realise-1"

    def setup(self, scenario, n_pop):
        from snnbench.scenario import Overrides, load_scenario, resolve

        self.resolved = resolve(load_scenario(scenario), Overrides(N_pop=n_pop))

    def time_realise(self, *_):
        from snnbench.scenario import realise

        realise(self.resolved)

    def peakmem_realise(self, *_):
        from snnbench.scenario import realise

        realise(self.resolved)


class LoadScenario:
    """Parsing and validating a scenario file."""

    version = "snnbench-load-1"

    def time_load_vogels_abbott_coba(self):
        from snnbench.scenario import load_scenario

        load_scenario("vogels-abbott-coba")


class Write:
    """Writing one VA COBA run (N 4000, 1 s, numba) in each format, from the same arrays."""

    params = [["pickle", "parquet"]]
    param_names = ["format"]
    version = "snnbench-write-1"
    timeout = 300

    def setup_cache(self):
        from snnbench.runner import run_in_process
        from snnbench.scenario import load_scenario, resolve

        return run_in_process(resolve(load_scenario("vogels-abbott-coba")), "numba")

    def setup(self, output, fmt):
        from snnbench import io as snnio

        snnio.prepare(fmt)
        self.dir = tempfile.mkdtemp(prefix="snnbench-asv-write-")

    def time_write(self, output, fmt):
        from snnbench import io as snnio

        snnio.write(output, fmt, f"{self.dir}/run")
