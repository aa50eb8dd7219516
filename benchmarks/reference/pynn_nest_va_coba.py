"""VA COBA as a PyNN user writes it (after PyNN's examples/VAbenchmarks.py), on pyNN.nest: for
comparing snnbench's pynn.nest sim phase with PyNN's own idiom.

The network of snnbench's `vogels-abbott-coba` (4000 IF_cond_exp cells, 3200 E and 800 I,
FixedProbabilityConnector p = 0.02, 4 nS / 51 nS, delays 0.2 ms; 20 SpikeSourcePoisson at 100 Hz
for 50 ms, p = 0.01, 100 nS; dt 0.1 ms, 1 s), recording what the scenario records: the spikes of
every cell and of the kick, v of two E cells. Settings as snnbench's adapter uses them (on-grid
spikes, min_delay = dt). It prints, as one JSON line, the wall and CPU time of `sim.run` and the rates.

    python3.11 benchmarks/reference/pynn_nest_va_coba.py [--threads T]
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
    import pyNN
    import pyNN.nest as sim
    from pyNN.random import NumpyRNG, RandomDistribution

    sim.setup(timestep=0.1, min_delay=0.1, max_delay=1.0, threads=args.threads, rng_seed=98765,
              spike_precision="on_grid", verbosity="error")
    rng = NumpyRNG(seed=98765)
    cell = sim.IF_cond_exp(cm=0.2, tau_m=20.0, tau_refrac=5.0, tau_syn_E=5.0, tau_syn_I=10.0, v_rest=-60.0,
                           v_reset=-60.0, v_thresh=-50.0, e_rev_E=0.0, e_rev_I=-80.0)
    exc = sim.Population(3200, cell, label="E")
    inh = sim.Population(800, cell, label="I")
    cells = exc + inh
    cells.initialize(v=RandomDistribution("uniform", low=-60.0, high=-50.0, rng=rng))
    stim = sim.Population(20, sim.SpikeSourcePoisson(rate=100.0, start=0.0, duration=50.0), label="stim")

    # one projection per pair of populations, as VAbenchmarks.py (pyNN.nest cannot count an Assembly's)
    sparse, kicks = sim.FixedProbabilityConnector(0.02, rng=rng), sim.FixedProbabilityConnector(0.01, rng=rng)
    projections = [
        sim.Projection(pre, post, connector, sim.StaticSynapse(weight=weight, delay=0.2), receptor_type=receptor)
        for pre, connector, weight, receptor in ((exc, sparse, 0.004, "excitatory"), (inh, sparse, 0.051, "inhibitory"),
                                                 (stim, kicks, 0.1, "excitatory"))
        for post in (exc, inh)
    ]
    for pop in (exc, inh, stim):
        pop.record("spikes")
    exc[0:2].record("v")

    start, cpu = time.perf_counter(), time.process_time()
    sim.run(1000.0)
    loop, loop_cpu = time.perf_counter() - start, time.process_time() - cpu

    rates = {pop.label: pop.get_spike_counts() for pop in (exc, inh)}
    print(json.dumps({
        "script": "pynn_nest_va_coba", "pynn": pyNN.__version__,
        "threads": args.threads, "loop_s": loop, "loop_cpu_s": loop_cpu,
        "rate_E_hz": sum(rates["E"].values()) / 3200, "rate_I_hz": sum(rates["I"].values()) / 800,
        "synapses": sum(p.size() for p in projections),
    }))
    sim.end()


if __name__ == "__main__":
    main()
