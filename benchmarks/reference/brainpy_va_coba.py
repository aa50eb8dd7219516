"""VA COBA as a BrainPy user writes it: for comparing snnbench's brainpy sim phase with BrainPy's own idiom.

The network of snnbench's `vogels-abbott-coba` (4000 IF_cond_exp cells, 3200 E and 800 I,
p = 0.02, 4 nS / 51 nS, delays 0.2 ms; 20 Poisson sources at 100 Hz kicking for 50 ms with
p = 0.01 and 100 nS; dt 0.1 ms, 1 s), written the way BrainPy's own COBA examples write it:
`bp.dyn.LifRefLTC` cells, one `bp.dyn.ProjAlignPostMg2` per pair of populations with an
event-driven CSR matrix (`bp.dnn.EventCSRLinear` of `bp.conn.FixedProb`), `bp.dyn.Expon`
conductances and `bp.dyn.COBA` outputs, run by `bp.DSRunner`, recording what the scenario
records (the spikes of every cell and of the kick, v of two E cells).

Units are BrainPy's examples': v in mV, R = 1, so a conductance is in units of the leak
conductance g_L = cm / tau_m = 10 nS (weights 0.4, 5.1 and 10). Integration: exponential Euler
for v (LifRefLTC's default method, exp_auto) with the synaptic input held at its start-of-step
value; the adapter's default also integrates v by exponential Euler, but with the step-mean
conductances, and counts refractoriness in whole steps where LifRefLTC compares t with the last
spike time. Precision: float64 (jax's x64 mode), the adapter's default on the CPU; `--dtype
float32` is BrainPy's own default (the adapter's option dtype=float32). BrainPy's FixedProb
draws round(p N_post) distinct targets per source (a fixed out-degree), as in the adapter's
native mode. `bp.dyn.PoissonGroup` has a constant rate: the 50 ms kick is a subclass that fires
only while t < 50 ms. The runner's progress bar is off (a host callback every step).

`bp.DSRunner` compiles the loop (XLA) at its first call: the script runs the second once,
resets the network, and times a second run of the same length (the compiled loop reused), the
wall time of `runner.run`, as `eval_time` measures it, and its CPU time. It prints both, the
first call's time (`first_run_s`, compile and loop) and the rates, as one JSON line.

    python3.11 benchmarks/reference/brainpy_va_coba.py [--dtype float64|float32] [--seed S] [--scale S]
"""

from __future__ import annotations

import argparse
import json
import os
import time


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dtype", choices=("float64", "float32"), default="float64",
                        help="float64 as the adapter's default on the CPU; float32 is BrainPy's")
    parser.add_argument("--seed", type=int, default=98765, help="the network's seed (default: the scenario's)")
    parser.add_argument("--scale", type=float, default=1.0,
                        help="cells x scale at a fixed in-degree (a quick check; the comparison is at 1)")
    args = parser.parse_args()

    os.environ.setdefault("JAX_PLATFORMS", "cpu")
    import brainpy as bp
    import brainpy.math as bm
    import numpy as np

    if args.dtype == "float64":
        bm.enable_x64()
    bm.set_dt(0.1)
    bm.random.seed(args.seed)
    n_exc, n_inh = int(round(3200 * args.scale)), int(round(800 * args.scale))
    p = 0.02 / args.scale  # in-degree 80 at every scale (the scenario's scaling rule)

    class Kick(bp.dyn.PoissonGroup):
        """Poisson sources at 100 Hz for the first 50 ms, silent after."""

        def update(self):
            spikes = super().update()
            self.spike.value = spikes & (bp.share["t"] < 50.0)
            return self.spike.value

    class VACoba(bp.DynSysGroup):
        def __init__(self):
            super().__init__()
            cell = dict(V_rest=-60.0, V_th=-50.0, V_reset=-60.0, tau=20.0, tau_ref=5.0,
                        V_initializer=bp.init.Uniform(-60.0, -50.0))
            self.E = bp.dyn.LifRefLTC(n_exc, **cell)
            self.I = bp.dyn.LifRefLTC(n_inh, **cell)
            self.kick = Kick(20, freqs=100.0)
            # (pre, post, probability, weight in g_L, tau_syn ms, E_rev mV); one seed per projection
            wiring = [(pre, post, prob, w, tau, e_rev)
                      for pre, prob, w, tau, e_rev in ((self.E, p, 0.4, 5.0, 0.0), (self.I, p, 5.1, 10.0, -80.0),
                                                       (self.kick, 0.01, 10.0, 5.0, 0.0))
                      for post in (self.E, self.I)]
            self.projections = [
                bp.dyn.ProjAlignPostMg2(
                    pre=pre, delay=0.2,
                    comm=bp.dnn.EventCSRLinear(bp.conn.FixedProb(prob, pre=pre.num, post=post.num, seed=args.seed + k), w),
                    syn=bp.dyn.Expon.desc(post.num, tau=tau), out=bp.dyn.COBA.desc(E=e_rev), post=post)
                for k, (pre, post, prob, w, tau, e_rev) in enumerate(wiring)
            ]

        def update(self):
            self.kick()
            for projection in self.projections:
                projection()
            self.E()
            self.I()

    net = VACoba()
    synapses = sum(int(proj.comm.indices.size) for proj in net.projections)
    runner = bp.DSRunner(net, monitors={"E.spike": net.E.spike, "I.spike": net.I.spike, "kick.spike": net.kick.spike,
                                        "E.V": (net.E.V, [0, 1])}, progress_bar=False)

    start = time.perf_counter()
    runner.run(1000.0)  # compiles the loop, then runs it
    first_run = time.perf_counter() - start

    start, cpu = time.perf_counter(), time.process_time()
    runner.run(1000.0, reset_state=True)
    loop, loop_cpu = time.perf_counter() - start, time.process_time() - cpu

    counts = {name: np.asarray(runner.mon[f"{name}.spike"]).sum(axis=0) for name in ("E", "I", "kick")}
    print(json.dumps({
        "script": "brainpy_va_coba", "brainpy": bp.__version__, "dtype": args.dtype, "threads": 1, "seed": args.seed,
        "loop_s": loop, "loop_cpu_s": loop_cpu, "loop_clock": "wall", "first_run_s": first_run,
        "rate_E_hz": float(counts["E"].mean()), "rate_I_hz": float(counts["I"].mean()),
        "synapses": synapses, "kick_spikes": int(counts["kick"].sum()), "v_samples": int(np.asarray(runner.mon["E.V"]).shape[0]),
    }))


if __name__ == "__main__":
    main()
