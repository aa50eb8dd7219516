"""Per-phase cost of whole simulator runs: build, compile, sim and write time, peak memory, rates.

Two suites with the same benchmarks and different sizes:
    Quick  VA COBA, numba and NEST, N_pop 2000, 250 ms   (CI: `asv run --bench Quick ...`)
    Full   VA COBA and CUBA, every backend, N_pop 1000-8000, 250 and 1000 ms (real machines)

Each case is one run in a fresh process (see common.py); threads = 1 everywhere, so that the
figures compare simulators, not thread counts. The mean rates are tracked too: a change that
makes a backend faster by simulating something else shows up as a jump in its rate.
"""

from __future__ import annotations

import math

from .common import measured_run, new_cache_dir


def _phase(record: dict, name: str) -> float:
    return float(record["phases"].get(name, {}).get("wall_s", math.nan))


def _rate(record: dict, population: str) -> float:
    pop = record["populations"].get(population)
    return float(pop["rate_hz"]) if pop and pop["rate_hz"] is not None else math.nan


class _PhaseSuite:
    param_names = ["scenario", "backend", "N_pop", "simtime_ms"]
    version = "snnbench-phases-1"

    def setup_cache(self):
        return new_cache_dir()

    def setup(self, cache_dir, scenario, backend, n_pop, simtime):
        self.record = measured_run(cache_dir, scenario, backend, n_pop, simtime, timeout=self.timeout)

    def track_build_s(self, *_):
        return _phase(self.record, "build")

    track_build_s.unit = "seconds"

    def track_compile_s(self, *_):
        return _phase(self.record, "compile")

    track_compile_s.unit = "seconds"

    def track_sim_s(self, *_):
        return _phase(self.record, "sim")

    track_sim_s.unit = "seconds"

    def track_write_s(self, *_):
        return _phase(self.record, "write")

    track_write_s.unit = "seconds"

    def track_peak_rss(self, *_):
        return float(self.record["peak_rss_bytes"])

    track_peak_rss.unit = "bytes"

    def track_realtime_factor(self, *_):
        return float(self.record["realtime_factor"])

    track_realtime_factor.unit = "sim wall s / biological s"

    def track_rate_E(self, *_):
        return _rate(self.record, "E")

    track_rate_E.unit = "Hz"

    def track_rate_I(self, *_):
        return _rate(self.record, "I")

    track_rate_I.unit = "Hz"

    def track_synapses(self, *_):
        return float(self.record["synapses"])

    track_synapses.unit = "synapses"


class Quick(_PhaseSuite):
    params = [["vogels-abbott-coba"], ["numba", "nest"], [2000], [250.0]]
    timeout = 600


class Full(_PhaseSuite):
    params = [
        ["vogels-abbott-coba", "vogels-abbott-cuba"],
        ["numba", "nest", "pynn.nest", "brian2", "brian2.standalone", "bindsnet", "genn", "spinnaker"],
        [1000, 2000, 4000, 8000],
        [250.0, 1000.0],
    ]
    timeout = 3600
