"""Per-phase cost of whole simulator runs: build, compile, sim and write time, peak memory, rates.

Three suites with the same benchmarks and different sizes:
    Quick  VA COBA, numba and NEST, N_pop 2000, 250 ms   (CI: `asv run --bench Quick ...`)
    Full   VA COBA and CUBA, every registered backend, N_pop 1000-8000, 250 and 1000 ms (real machines)
    Scale  the Potjans-Diesmann microcircuit on numba (native connectivity), N_s 0.1 and 1.0 (full
           scale), its own 1500 ms; a size is skipped where the machine lacks the memory, or above
           $SNNBENCH_ASV_MAX_SCALE (e.g. 0.1 on a shared machine)

Each case is one run in a fresh process (see common.py); threads = 1 everywhere, so that the
figures compare simulators, not thread counts. The mean rate of every population of cells the
suite's scenarios have is tracked too (`track_rate`, one more parameter: the population): a
change that makes a backend faster by simulating something else shows up as a jump in a rate.
A backend that cannot run here (not installed, no GPU, ...) is skipped: asv shows n/a.
"""

from __future__ import annotations

import math
import os

import psutil

from snnbench.backends import backend_names
from snnbench.runner import estimate_memory
from snnbench.scenario import Overrides, load_scenario, resolve

from .common import measured_run, new_cache_dir


def _populations(scenarios: list[str]) -> list[str]:
    """The populations of cells of these scenarios, in file order, each once."""
    return list(dict.fromkeys(name for s in scenarios for name in load_scenario(s).cell_populations))


def _rate_track(params: list[list], param_names: list[str] | None = None):
    """track_rate for a suite with these params: one more parameter, the population."""

    def track_rate(self, *args):
        return _rate(self.record, args[-1])

    track_rate.params = params + [_populations(params[0])]
    track_rate.param_names = (param_names or _PhaseSuite.param_names) + ["population"]
    track_rate.unit = "Hz"
    return track_rate


def _phase(record: dict, name: str) -> float:
    return float(record["phases"].get(name, {}).get("wall_s", math.nan))


def _rate(record: dict, population: str) -> float:
    pop = record["populations"].get(population)
    return float(pop["rate_hz"]) if pop and pop["rate_hz"] is not None else math.nan


class _PhaseSuite:
    param_names = ["scenario", "backend", "N_pop", "simtime_ms"]
    version = "snnbench-phases-2"

    def setup_cache(self):
        return new_cache_dir()

    def setup(self, cache_dir, scenario, backend, n_pop, simtime, *population):
        self.record = measured_run(cache_dir, scenario, backend, n_pop, simtime, timeout=self.timeout)
        if population and population[0] not in self.record["populations"]:
            raise NotImplementedError(f"{scenario} has no population {population[0]}")

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

    def track_synapses(self, *_):
        return float(self.record["synapses"])

    track_synapses.unit = "synapses"


class Quick(_PhaseSuite):
    params = [["vogels-abbott-coba"], ["numba", "nest"], [2000], [250.0]]
    timeout = 600
    track_rate = _rate_track(params)


class Full(_PhaseSuite):
    params = [
        ["vogels-abbott-coba", "vogels-abbott-cuba"],
        backend_names(),  # every registered backend (and SNNBENCH_EXTRA_BACKENDS)
        [1000, 2000, 4000, 8000],
        [250.0, 1000.0],
    ]
    timeout = 3600
    track_rate = _rate_track(params)


MAX_SCALE_VARIABLE = "SNNBENCH_ASV_MAX_SCALE"


def scale_skipped(scenario: str, scale: float) -> str | None:
    """Why the Scale suite skips N_s `scale` on this machine (None: it runs): above
    $SNNBENCH_ASV_MAX_SCALE, or snnbench's memory estimate (a floor) above the available memory."""
    cap = os.environ.get(MAX_SCALE_VARIABLE)
    if cap:
        try:
            limit = float(cap)
        except ValueError:
            raise ValueError(f"{MAX_SCALE_VARIABLE}={cap!r}: expected a number (the largest N_s to run)") from None
        if scale > limit:
            return f"N_s {scale:g} is above {MAX_SCALE_VARIABLE}={cap}"
    estimate = estimate_memory(resolve(load_scenario(scenario), Overrides(scale=scale)))
    available = psutil.virtual_memory().available
    if estimate.bytes > available:
        return (f"{scenario} at N_s {scale:g} needs an estimated {estimate.describe()}, more than the "
                f"{available / 2**30:.3g} GiB of memory available here")
    return None


class Scale(_PhaseSuite):
    params = [["potjans-diesmann"], ["numba"], [0.1, 1.0]]
    param_names = ["scenario", "backend", "N_s"]
    timeout = 3600
    track_rate = _rate_track(params, param_names)

    def setup(self, cache_dir, scenario, backend, scale, *population):
        why = scale_skipped(scenario, scale)
        if why:
            raise NotImplementedError(why)
        self.record = measured_run(cache_dir, scenario, backend, None, None, scale=scale, timeout=self.timeout)
        if population and population[0] not in self.record["populations"]:
            raise NotImplementedError(f"{scenario} has no population {population[0]}")
