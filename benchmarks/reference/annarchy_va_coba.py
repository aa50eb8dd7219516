"""VA COBA as an ANNarchy user writes it: for comparing snnbench's annarchy sim phase with ANNarchy's own idiom.

The network of snnbench's `vogels-abbott-coba` (4000 IF_cond_exp cells, 3200 E and 800 I,
p = 0.02, 4 nS / 51 nS, delays 0.2 ms; 20 Poisson sources at 100 Hz kicking for 50 ms with
p = 0.01 and 100 nS; dt 0.1 ms, 1 s), written the way ANNarchy's COBA example (examples/
vogels_abbott) writes it, in ANNarchy 5's `Network` interface: one `Neuron` with its ODEs and
exponentially decaying g_exc / g_inh, one population of 4000 split into E and I views,
`fixed_probability` projections (a Bernoulli trial per pair), a `TimedPoissonPopulation` for the
kick, recording what the scenario records (the spikes of every cell and of the kick, v of two E
cells). ANNarchy generates, compiles and caches C++ for the network (`--directory`; the first
run builds it, later runs reuse it).

Units are the example's: v in mV, conductances in units of the leak conductance
g_L = cm / tau_m = 10 nS (weights 0.4, 5.1 and 10). Integration: ANNarchy's exponential Euler
(the `exponential` flag of each ODE: the conductances decay exactly, v relaxes exponentially
towards its steady state for the conductances at the start of the step); its default is forward
Euler. The adapter's default writes NEST's update as plain assignments instead: v exact for the
step-mean conductances, and input arriving in a step felt by v from the next step (here a spike
adds to g before the step's update, one step sooner). Refractoriness: ANNarchy's `refractory`
(v held, conductances still decaying), as the adapter's.

It prints, as one JSON line, the wall and CPU time of `Network.simulate` (one OpenMP thread by
default) and the rates.

    python3.11 benchmarks/reference/annarchy_va_coba.py [--threads T] [--directory DIR] [--seed S] [--scale S]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1, help="ANNarchy's OpenMP threads")
    parser.add_argument("--directory", default=os.path.join(tempfile.gettempdir(), "snnbench-reference-annarchy-va-coba"),
                        help="where ANNarchy generates and builds the network's C++")
    parser.add_argument("--seed", type=int, default=98765, help="the network's seed (default: the scenario's)")
    parser.add_argument("--scale", type=float, default=1.0,
                        help="cells x scale at a fixed in-degree (a quick check; the comparison is at 1)")
    args = parser.parse_args()

    # cmake's FindPython takes the first python3 on PATH to find nanobind: this interpreter's.
    os.environ["PATH"] = os.pathsep.join([os.path.dirname(sys.executable), os.environ.get("PATH", "")])
    import ANNarchy as ann

    n_exc, n_inh = int(round(3200 * args.scale)), int(round(800 * args.scale))
    p = 0.02 / args.scale  # in-degree 80 at every scale (the scenario's scaling rule)

    net = ann.Network(dt=0.1, seed=args.seed)
    net.config(num_threads=args.threads)

    coba = ann.Neuron(
        parameters="""
            El = -60.0        : population
            Vr = -60.0        : population
            Vt = -50.0        : population
            Erev_exc = 0.0    : population
            Erev_inh = -80.0  : population
            tau = 20.0        : population
            tau_exc = 5.0     : population
            tau_inh = 10.0    : population
        """,
        equations="""
            tau * dv/dt = (El - v) + g_exc * (Erev_exc - v) + g_inh * (Erev_inh - v) : exponential
            tau_exc * dg_exc/dt = -g_exc : exponential
            tau_inh * dg_inh/dt = -g_inh : exponential
        """,
        spike="v > Vt",
        reset="v = Vr",
        refractory=5.0,
    )
    cells = net.create(geometry=n_exc + n_inh, neuron=coba)
    exc, inh = cells[:n_exc], cells[n_exc:]
    cells.v = ann.Uniform(-60.0, -50.0, rng=net.default_rng)
    kick = net.create(ann.TimedPoissonPopulation(geometry=20, rates=[100.0, 0.0], schedule=[0.0, 50.0]))

    # weights in units of g_L; autapses allowed, as the scenario's (PyNN's) fixed_probability
    projections = []
    for pre, target, weight, prob in ((exc, "exc", 0.4, p), (inh, "inh", 5.1, p), (kick, "exc", 10.0, 0.01)):
        projection = net.connect(pre=pre, post=cells, target=target)
        projection.fixed_probability(probability=prob, weights=weight, delays=0.2, allow_self_connections=True)
        projections.append(projection)

    spikes, kick_spikes = net.monitor(cells, ["spike"]), net.monitor(kick, ["spike"])
    v = net.monitor(cells[:2], ["v"])
    net.compile(directory=args.directory, silent=True)

    start, cpu = time.perf_counter(), time.process_time()
    net.simulate(1000.0)
    loop, loop_cpu = time.perf_counter() - start, time.process_time() - cpu

    per_cell = spikes.get("spike")
    counts = [len(per_cell.get(rank, ())) for rank in range(n_exc + n_inh)]
    print(json.dumps({
        "script": "annarchy_va_coba", "annarchy": ann.__release__, "threads": args.threads, "seed": args.seed,
        "loop_s": loop, "loop_cpu_s": loop_cpu, "loop_clock": "wall",
        "rate_E_hz": sum(counts[:n_exc]) / n_exc, "rate_I_hz": sum(counts[n_exc:]) / n_inh,
        "synapses": int(sum(projection.nb_synapses for projection in projections)),
        "kick_spikes": int(sum(len(s) for s in kick_spikes.get("spike").values())),
        "v_samples": int(len(v.get("v"))),
    }))


if __name__ == "__main__":
    main()
