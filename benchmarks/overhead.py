"""What an adapter costs: each backend's sim phase beside the same network in the simulator's own idiom.

`benchmarks/reference/` holds VA COBA written as each simulator's users write it (PyNEST, PyNN,
Brian2's runtime and standalone devices, ANNarchy, BrainPy), each timing its simulation loop the
way that simulator's users would. The suite `AdapterOverhead` runs, per backend, that script and
one measured snnbench run of `vogels-abbott-coba` at its own size (N 4000, 1 s, native
connectivity, 1 thread), each in a fresh process, with the backend options that make the adapter
integrate as the script does (Brian2: `method=euler`). It tracks the reference's loop, the
adapter's sim phase, and the adapter's overhead, adapter sim / reference loop - 1 (the goal: below
0.2), with both sides the same kind of time (`reference_loop`): CPU time where the script gives
its loop's (`loop_cpu_s`: NEST's, PyNN's, ANNarchy's and BrainPy's scripts; Brian2's standalone
binary on one thread, whose own measure is `std::clock()`), against the adapter's sim `cpu_s`;
wall time otherwise (Brian2's runtime device), against its sim `wall_s`. On a shared machine the
two differ by the share of a core a process gets.

numba, snnbench's own simulator, has no idiom of its own: it runs with `method=euler` beside Brian2's
standalone script, the same network by the same scheme written as Brian2's users write it (its
"overhead" is the kernel against Brian2's generated C++). Not here: bindsnet (BindsNET has no
conductance-based cell: its users would write the cell the adapter writes), spinnaker and genn
(a board; PyGeNN, which is built from source), and the GPU variants (annarchy.cuda, brainpy.gpu).
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys

from .common import ROOT, measured_run, new_cache_dir

SCRIPTS = ROOT / "benchmarks" / "reference"
# backend: (reference script and its arguments, the adapter's options that match the script)
REFERENCES = {
    "nest": (["nest_va_coba.py"], {}),
    "pynn.nest": (["pynn_nest_va_coba.py"], {}),
    "brian2": (["brian2_va_coba.py", "--device", "runtime"], {"method": "euler"}),
    "brian2.standalone": (["brian2_va_coba.py", "--device", "cpp_standalone"], {"method": "euler"}),
    # ANNarchy's exponential Euler and BrainPy's exp_auto are the nearest to the adapters' default
    # schemes (no option of theirs integrates otherwise); BrainPy in float64, the adapter's default
    "annarchy": (["annarchy_va_coba.py"], {}),
    "brainpy": (["brainpy_va_coba.py"], {}),
    "numba": (["brian2_va_coba.py", "--device", "cpp_standalone"], {"method": "euler"}),
}


def reference_run(cache_dir: str, backend: str, timeout: float) -> dict:
    """The JSON line a reference script prints, run once per asv run in a fresh process (1 thread)."""
    path = os.path.join(cache_dir, f"reference-{backend}.json")
    if os.path.exists(path):
        with open(path) as fh:
            return json.load(fh)
    script, *arguments = REFERENCES[backend][0]
    env = dict(os.environ, **{var: "1" for var in ("OMP_NUM_THREADS", "NUMBA_NUM_THREADS", "MKL_NUM_THREADS",
                                                   "OPENBLAS_NUM_THREADS")})
    proc = subprocess.run([sys.executable, str(SCRIPTS / script), *arguments], env=env, capture_output=True, text=True,
                          timeout=timeout, stdin=subprocess.DEVNULL)
    if proc.returncode != 0:
        raise RuntimeError(f"{script} failed (exit {proc.returncode}): {proc.stderr[-2000:]}")
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    with open(path, "w") as fh:
        json.dump(result, fh)
    return result


def reference_loop(reference: dict) -> tuple[float, str]:
    """A reference script's loop time and its kind, "cpu" or "wall": CPU time when the script
    reports it (`loop_cpu_s`), else `loop_s` of the kind the script declares (`loop_clock`)."""
    if "loop_cpu_s" in reference:
        return float(reference["loop_cpu_s"]), "cpu"
    clock = reference.get("loop_clock")
    if clock not in ("cpu", "wall"):
        raise ValueError(f"reference {reference.get('script')}: no loop_cpu_s and no loop_clock ('cpu' or 'wall')")
    return float(reference["loop_s"]), clock


class AdapterOverhead:
    params = [list(REFERENCES)]
    param_names = ["backend"]
    version = "snnbench-overhead-2"  # 2: the overhead compares like with like (reference_loop)
    timeout = 1800

    def setup_cache(self):
        return new_cache_dir()

    def setup(self, cache_dir, backend):
        # the adapter's run first: an unavailable backend is skipped (NotImplementedError) before its script runs
        self.record = measured_run(cache_dir, "vogels-abbott-coba", backend, None, None, options=REFERENCES[backend][1],
                                   timeout=self.timeout)
        self.reference = reference_run(cache_dir, backend, self.timeout)

    def _adapter_sim_s(self, clock: str = "wall") -> float:
        return float(self.record["phases"].get("sim", {}).get(f"{clock}_s", math.nan))

    def track_reference_sim_s(self, *_):
        return float(self.reference["loop_s"])

    track_reference_sim_s.unit = "seconds"

    def track_adapter_sim_s(self, *_):
        return self._adapter_sim_s()

    track_adapter_sim_s.unit = "seconds"

    def track_adapter_overhead(self, *_):
        loop, clock = reference_loop(self.reference)
        return self._adapter_sim_s(clock) / loop - 1.0

    track_adapter_overhead.unit = "adapter sim / reference loop - 1, the same kind of time on both sides"
