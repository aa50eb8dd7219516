"""numba's VA COBA beside Brian2's own idiom, side by side: the table of docs/full-scale.md
("VA COBA: the kernel at small scale").

Each round runs, in one interleaved order, `snnbench run vogels-abbott-coba --backend numba
--format none --json` for every combination of --variants (the options method, and dtype after
a slash), --threads and --wait-policies
(OMP_WAIT_POLICY), then `brian2_va_coba.py` (C++ standalone, forward Euler, one thread: its loop
time is `std::clock()`, CPU time). Every run is a fresh process. A warm-up round first (not
counted) fills numba's kernel cache and builds Brian2's project.

Printed: per round, every configuration's sim CPU and wall time and its ratio to that round's
Brian2 loop (CPU against CPU; wall against the loop's CPU time shows what a loaded machine costs),
with the round's load average; then per configuration the median [min-max] over rounds of each,
and compile (warm) + build.

    python3.11 benchmarks/reference/compare_va_coba.py [--rounds 3] [--threads 1 2]
        [--variants exact euler euler/float32] [--wait-policies passive active] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BRIAN2_SCRIPT = Path(__file__).resolve().parent / "brian2_va_coba.py"


def _last_json(text: str, what: str) -> dict:
    lines = [line for line in text.splitlines() if line.startswith("{")]
    if not lines:
        raise RuntimeError(f"{what} printed no JSON line:\n{text[-2000:]}")
    return json.loads(lines[-1])


def numba_run(variant: str, threads: int, policy: str, results: str, timeout: float) -> dict:
    """One measured snnbench run (variant: METHOD or METHOD/DTYPE); its phases' figures."""
    method, _, dtype = variant.partition("/")
    options = ["--option", f"method={method}"] + (["--option", f"dtype={dtype}"] if dtype else [])
    env = dict(os.environ, OMP_WAIT_POLICY=policy, PYTHONPATH=os.pathsep.join(
        [str(ROOT)] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]))
    proc = subprocess.run([sys.executable, "-m", "snnbench", "run", "vogels-abbott-coba", "--backend", "numba",
                           "--format", "none", "--json", "--threads", str(threads), *options, "--results", results], env=env, capture_output=True, text=True, timeout=timeout,
                          stdin=subprocess.DEVNULL, cwd=ROOT)
    if proc.returncode != 0:
        raise RuntimeError(f"snnbench run ({variant}, {threads} threads) failed (exit {proc.returncode}): "
                           f"{proc.stderr[-2000:]}")
    record = _last_json(proc.stdout, "snnbench run")
    phases = record["phases"]
    return {"sim_cpu_s": phases["sim"]["cpu_s"], "sim_wall_s": phases["sim"]["wall_s"],
            "compile_s": phases["compile"]["wall_s"], "build_s": phases["build"]["wall_s"],
            "import_s": phases["import"]["wall_s"], "compile_cache": record["backend_info"].get("compile_cache"),
            "rate_E_hz": record["populations"]["E"]["rate_hz"]}


def brian2_run(timeout: float) -> dict:
    """One run of the Brian2 script (standalone, 1 thread, its default project directory, reused
    between invocations): its loop time (CPU)."""
    env = dict(os.environ, OMP_NUM_THREADS="1")
    proc = subprocess.run([sys.executable, str(BRIAN2_SCRIPT), "--device", "cpp_standalone", "--threads", "1"], env=env, capture_output=True, text=True, timeout=timeout,
                          stdin=subprocess.DEVNULL)
    if proc.returncode != 0:
        raise RuntimeError(f"{BRIAN2_SCRIPT.name} failed (exit {proc.returncode}): {proc.stderr[-2000:]}")
    out = _last_json(proc.stdout, BRIAN2_SCRIPT.name)
    if out["loop_clock"] != "cpu":
        raise RuntimeError(f"{BRIAN2_SCRIPT.name}: expected a CPU-time loop on one thread, got {out['loop_clock']}")
    return out


def spread(values: list[float], digits: int = 3) -> str:
    """median [min-max]"""
    return f"{statistics.median(values):.{digits}f} [{min(values):.{digits}f}-{max(values):.{digits}f}]"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--variants", nargs="+", default=["exact", "euler", "euler/float32"],
                        choices=("exact", "euler", "euler/float32"), help="numba's options: method, or method/dtype")
    parser.add_argument("--wait-policies", nargs="+", default=["passive", "active"], choices=("passive", "active"))
    parser.add_argument("--no-warm-up", action="store_true", help="count the first round too")
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds per run")
    parser.add_argument("--json", help="write every run's figures to this file")
    args = parser.parse_args()
    if args.rounds < 1:
        parser.error("--rounds must be >= 1")

    configs = [(m, t, p) for m in args.variants for t in args.threads for p in args.wait_policies]
    label = {c: f"numba {c[0]}, {c[1]} thread{'s' if c[1] > 1 else ''}, {c[2]}" for c in configs}
    if any(t < 1 for t in args.threads):
        parser.error("--threads must be >= 1")
    with tempfile.TemporaryDirectory(prefix="snnbench-compare-va-coba-") as results:  # the runs' records: not kept
        rounds = run_rounds(args, configs, label, results)
    report(args, configs, label, rounds)


def run_rounds(args, configs, label, results) -> list[dict]:
    rounds = []
    for r in range(args.rounds + (0 if args.no_warm_up else 1)):
        warm_up = not args.no_warm_up and r == 0
        load = os.getloadavg()[0]
        runs = {c: numba_run(*c, results, args.timeout) for c in configs}
        brian2 = brian2_run(args.timeout)
        if warm_up:
            print(f"warm-up round done (load {load:.1f})", flush=True)
            continue
        loop = brian2["loop_s"]
        rounds.append({"load_average": load, "brian2_loop_cpu_s": loop, "numba": {label[c]: runs[c] for c in configs}})
        print(f"round {len(rounds)}: load average {load:.1f}, Brian2 loop (CPU) {loop:.3f} s", flush=True)
        for c in configs:
            x = runs[c]
            print(f"  {label[c]:38s} sim CPU {x['sim_cpu_s']:.3f} ({x['sim_cpu_s'] / loop:.2f}x)  "
                  f"wall {x['sim_wall_s']:.3f} ({x['sim_wall_s'] / loop:.2f}x)  compile+build "
                  f"{x['compile_s'] + x['build_s']:.3f} ({x['compile_cache']})", flush=True)
    return rounds


def report(args, configs, label, rounds) -> None:
    print(f"\n{len(rounds)} rounds, median [min-max]; ratios per round to that round's Brian2 loop (CPU)")
    print(f"Brian2 script, loop (CPU): {spread([x['brian2_loop_cpu_s'] for x in rounds])} s; "
          f"load average {min(x['load_average'] for x in rounds):.1f}-{max(x['load_average'] for x in rounds):.1f}")
    print("| | sim CPU (s) | / loop | sim wall (s) | / loop | compile (warm) + build (s) |")
    print("|---|---|---|---|---|---|")
    for c in configs:
        xs = [x["numba"][label[c]] for x in rounds]
        loops = [x["brian2_loop_cpu_s"] for x in rounds]
        print(f"| {label[c]} | {spread([x['sim_cpu_s'] for x in xs])} | "
              f"{spread([x['sim_cpu_s'] / lp for x, lp in zip(xs, loops)], 2)} | {spread([x['sim_wall_s'] for x in xs])} | "
              f"{spread([x['sim_wall_s'] / lp for x, lp in zip(xs, loops)], 2)} | "
              f"{spread([x['compile_s'] + x['build_s'] for x in xs])} |")
    if args.json:
        Path(args.json).write_text(json.dumps({"rounds": rounds}, indent=1))


if __name__ == "__main__":
    main()
