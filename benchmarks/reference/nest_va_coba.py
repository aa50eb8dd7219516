"""VA COBA as a PyNEST user writes it: for comparing snnbench's nest sim phase with NEST's own idiom.

The network of snnbench's `vogels-abbott-coba` (4000 iaf_cond_exp cells, 3200 E and 800 I,
pairwise_bernoulli p = 0.02, 4 nS / 51 nS, delays 0.2 ms; 20 poisson_generators at 100 Hz for 50 ms,
each through a parrot_neuron so that it sends one train to all its targets, p = 0.01, 100 nS;
dt 0.1 ms, 1 s), recording what the scenario records: the spikes of every cell and of the kick,
v of two E cells. It prints, as one JSON line, the wall and CPU time of `nest.Simulate` and the rates.

    python3.11 benchmarks/reference/nest_va_coba.py [--threads T]
"""

from __future__ import annotations

import argparse
import json
import os
import time


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1, help="NEST's OpenMP threads")
    args = parser.parse_args()

    os.environ.setdefault("PYNEST_QUIET", "1")
    import nest

    nest.verbosity = nest.VerbosityLevel.ERROR
    nest.ResetKernel()
    nest.SetKernelStatus({"resolution": 0.1, "local_num_threads": args.threads, "rng_seed": 98765})

    # pF, nS, mV, ms: PyNN's cm 0.2 nF, tau_m 20 ms
    cell = {"C_m": 200.0, "g_L": 10.0, "E_L": -60.0, "V_th": -50.0, "V_reset": -60.0, "t_ref": 5.0,
            "E_ex": 0.0, "E_in": -80.0, "tau_syn_ex": 5.0, "tau_syn_in": 10.0}
    exc = nest.Create("iaf_cond_exp", 3200, params=cell)
    inh = nest.Create("iaf_cond_exp", 800, params=cell)
    cells = exc + inh
    cells.V_m = nest.random.uniform(min=-60.0, max=-50.0)
    kick = nest.Create("poisson_generator", 20, params={"rate": 100.0, "start": 0.0, "stop": 50.0})
    stim = nest.Create("parrot_neuron", 20)
    nest.Connect(kick, stim, "one_to_one", syn_spec={"delay": 0.1})

    sparse = {"rule": "pairwise_bernoulli", "p": 0.02}
    nest.Connect(exc, cells, sparse, syn_spec={"weight": 4.0, "delay": 0.2})
    nest.Connect(inh, cells, sparse, syn_spec={"weight": -51.0, "delay": 0.2})
    nest.Connect(stim, cells, {"rule": "pairwise_bernoulli", "p": 0.01}, syn_spec={"weight": 100.0, "delay": 0.2})
    synapses = nest.num_connections - 20  # without the generator -> parrot hop

    recorders = {name: nest.Create("spike_recorder") for name in ("E", "I", "stim")}
    for name, nodes in (("E", exc), ("I", inh), ("stim", stim)):
        nest.Connect(nodes, recorders[name])
    meter = nest.Create("multimeter", params={"record_from": ["V_m"], "interval": 0.1})
    nest.Connect(meter, exc[:2])

    start, cpu = time.perf_counter(), time.process_time()
    nest.Simulate(1000.0)
    loop, loop_cpu = time.perf_counter() - start, time.process_time() - cpu

    print(json.dumps({
        "script": "nest_va_coba", "nest": nest.__version__, "threads": args.threads, "loop_s": loop, "loop_cpu_s": loop_cpu,
        "rate_E_hz": recorders["E"].n_events / 3200, "rate_I_hz": recorders["I"].n_events / 800,
        "synapses": synapses,
    }))


if __name__ == "__main__":
    main()
