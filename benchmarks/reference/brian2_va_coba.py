"""VA COBA as a Brian2 user writes it: for comparing snnbench's brian2 and brian2.standalone sim
phases with the simulator's own idiom on the same network.

The network of snnbench's `vogels-abbott-coba` (4000 IF_cond_exp cells, 3200 E and 800 I,
p = 0.02, 4 nS / 51 nS, delays 0.2 ms, 20 Poisson sources at 100 Hz kicking for 50 ms with
p = 0.01 and 100 nS; dt 0.1 ms, 1 s), written the way Brian2's own examples write it: forward
Euler, one NeuronGroup, recording what the scenario records (the spikes of every cell and of the
kick, v of two E cells). On the C++ standalone device (default) or the runtime device (Cython).
It prints, as one JSON line, the time Brian2 spent in its simulation loop (`network.run`'s loop,
Brian2's own measure: the binary's for standalone; there, on one thread, `std::clock()`, the
process's CPU time, and with OpenMP `omp_get_wtime()`, wall time; the runtime device's is
wall time, `time.time()` around the loop), which of the two it is (`loop_clock`: "cpu" or
"wall") and the rates.

    python3.11 benchmarks/reference/brian2_va_coba.py [--device cpp_standalone|runtime] [--threads T] [--directory DIR]

The first run generates and compiles the code (a minute or so); later runs reuse it (the
standalone project in DIR, recompiling only what changed; Brian2's Cython cache).
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", choices=("cpp_standalone", "runtime"), default="cpp_standalone")
    parser.add_argument("--threads", type=int, default=1, help="OpenMP threads of the standalone binary")
    parser.add_argument("--directory", default=os.path.join(tempfile.gettempdir(), "snnbench-reference-brian2-va-coba"),
                        help="where Brian2 generates and builds the standalone project")
    args = parser.parse_args()

    import brian2 as b2
    from brian2 import NeuronGroup, PoissonGroup, SpikeMonitor, StateMonitor, Synapses, ms, mV, nF, second

    if args.device == "cpp_standalone":
        b2.set_device("cpp_standalone", directory=args.directory, build_on_run=True)
        b2.prefs.devices.cpp_standalone.openmp_threads = args.threads if args.threads > 1 else 0  # 0: no OpenMP
    elif args.threads != 1:
        parser.error("the runtime device runs in one thread")
    b2.defaultclock.dt = 0.1 * ms
    b2.seed(98765)

    params = {"C_m": 0.2 * nF, "g_l": 0.2 * nF / (20 * ms), "E_l": -60 * mV, "E_e": 0 * mV, "E_i": -80 * mV,
              "tau_e": 5 * ms, "tau_i": 10 * ms}
    eqs = """
    dv/dt = (g_l * (E_l - v) + ge * (E_e - v) + gi * (E_i - v)) / C_m : volt (unless refractory)
    dge/dt = -ge / tau_e : siemens
    dgi/dt = -gi / tau_i : siemens
    """
    cells = NeuronGroup(4000, eqs, threshold="v > -50*mV", reset="v = -60*mV", refractory=5 * ms,
                        method="euler", namespace=params)
    cells.v = "-60*mV + 10*mV * rand()"
    exc, inh = cells[:3200], cells[3200:]
    ce = Synapses(exc, cells, on_pre="ge += 4*nS", delay=0.2 * ms)
    ce.connect(p=0.02)
    ci = Synapses(inh, cells, on_pre="gi += 51*nS", delay=0.2 * ms)
    ci.connect(p=0.02)
    kick = PoissonGroup(20, rates="100*Hz * int(t < 50*ms)")
    ck = Synapses(kick, cells, on_pre="ge += 100*nS", delay=0.2 * ms)
    ck.connect(p=0.01)
    spikes, kick_spikes = SpikeMonitor(cells), SpikeMonitor(kick)
    v = StateMonitor(cells, "v", record=[0, 1])
    b2.run(1 * second)

    counts = spikes.count[:]
    print(json.dumps({
        "script": "brian2_va_coba", "device": args.device, "brian2": b2.__version__, "threads": args.threads,
        "loop_s": float(b2.get_device()._last_run_time),
        "loop_clock": "cpu" if args.device == "cpp_standalone" and args.threads == 1 else "wall",
        "rate_E_hz": float(counts[:3200].mean()), "rate_I_hz": float(counts[3200:].mean()),
        "synapses": int(len(ce) + len(ci) + len(ck)), "kick_spikes": int(kick_spikes.num_spikes), "v_samples": int(v.t[:].size),
    }))


if __name__ == "__main__":
    main()
