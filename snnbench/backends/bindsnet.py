"""bindsnet: BindsNET (0.3.4) on torch; CPU threads, CUDA where torch sees a GPU.

BindsNET simulates a `Network` of `Nodes` (layers) joined by connections, clock-driven:
`Network.run(inputs, time)` takes time in ms and steps it in the network's `dt`. Per step it
(1) asks every connection for its output from its source layer's spikes of the previous step,
(2) updates the layers in the order they were added, (3) calls each connection's `update`
(plasticity) and (4) each monitor's `record`. The adapter keeps that loop and supplies, as
BindsNET classes, what BindsNET lacks for PyNN's standard cells:

IF_curr_exp -> `IFCurrExpNodes` (a `Nodes` subclass): NEST iaf_psc_exp's exact integration with
    the propagators of `snnbench.models.lif`; excitatory and inhibitory exponential
    currents. BindsNET's own `CurrentLIFNodes` has one synaptic current (one time constant),
    adds it to v by an Euler step in the step it arrives and lets v decay while refractory, so
    it is not used.
IF_cond_exp -> `IFCondExpNodes`: BindsNET has no conductance-based node. Exponentially decaying
    conductances; over a step the membrane sees their step average and is integrated exactly
    for that conductance (exponential Euler), exactly as `snnbench.models.lif` documents (NEST
    integrates iaf_cond_exp with an adaptive RK45: they agree to well below 0.05 mV).
Both nodes follow NEST's update order within a step (v from the synaptic state at the start of
the step, refractory clamp at v_reset for round(tau_refrac/dt) steps, threshold, then the
synaptic state decays and takes the input arriving in this step), with float64 state by
default (option `dtype`).

Synapses and delays: BindsNET connections have no delays and one input per target layer (the
tensor `x` handed to `forward`), while PyNN synapses have two receptors and axonal delays. Each
target node therefore owns a ring buffer `ring[slot, receptor, cell]` of future input, as NEST
neurons own theirs, and a `DelayedConnection` (an `AbstractConnection` subclass, one per pair of
layers, holding every projection between them) writes each presynaptic spike's weights into the
slot of the step in which it arrives; `x` carries nothing. Delivery is event-driven: only the
rows of the presynaptic cells that spiked are read. Weights are stored
    sparse (default): per presynaptic cell its synapses (target, receptor, weight, delay):
        ELLPACK rows padded to the largest out-degree (three gathers and one index_add per
        step), or CSR where padding would more than double the memory (option
        `sparse_format`); memory O(synapses), per-synapse delays;
    dense: one n_pre x n_post matrix per projection, as BindsNET's `Connection` stores them
        (memory O(n_pre n_post)); delays constant per projection or a dense delay matrix;
        multapses are summed (the same for linear synapses) unless their delays differ, when
        that projection is kept sparse. The spiking rows are gathered and summed, which is
        what `Connection.compute`'s `s.float() @ w` computes: that product over the whole
        3200 x 3200 float64 matrix took 5.7 ms per step here (57 s per simulated second at
        dt 0.1 ms), the gather 10 us.
Choose with the option `connection` ("sparse" | "dense"); what was used is in the translations.
On VA COBA/CUBA (N = 4000, dt 0.1 ms) both run at ~2 s CPU per simulated second; sparse
keeps the weights in 7 MiB instead of 123 MiB, hence the default.

Threads (`--threads` -> torch.set_num_threads): at N = 4000 torch's elementwise ops stay below
its parallel grain, so more threads do not help; ops that MKL threads (gemm, vector exp) are
avoided in the step because their thread hand-offs cost milliseconds on a busy machine.

Timing (as NEST and numba): in step k (time k dt -> (k+1) dt) a cell that crosses threshold
spikes at (k+1) dt. BindsNET hands the connections that spike at the start of step k+1; the
connection adds the weight to slot k+d of the target's ring, which the target reads at the end
of step k+d: the synaptic variable changes at (k+1+d) dt = spike time + delay, and v from the
next step. A source spike at m dt is the `Input` layer's spike in step m-1, as NEST's
spike_generator emits it. v is sampled at the end of every step, at k dt for k = 1..n_steps.

Sources: `SpikeSourcePoisson` and `SpikeSourceArray` are BindsNET `Input` layers fed with spike
tensors on the dt grid, built chunk by chunk during the run. Exact mode: the harness's spike
steps. Native mode: Poisson trains are Bernoulli draws per step with p = rate dt (BindsNET's
`encoding.bernoulli` scheme: at most one spike per step), from a seeded torch generator.

Connectivity: the template (`common/template.py`) decides what comes from the harness's arrays
(exact mode, explicit lists, gaussian_in_degree, distance-dependent delays). BindsNET has no
connectors (its examples fill dense matrices with torch.rand), so native mode draws edges,
weights, delays and initial V with the harness's own samplers (`snnbench.scenario.realise`) from
streams of their own, seeded from (scenario seed, "bindsnet", item name): a realisation
independent of exact mode's, drawn on the host and moved to the compute device.

Recording: BindsNET's `Monitor` records a whole state variable every step (v of 3200 cells x
10,000 steps = 256 MB); `StepRecorder` (an `AbstractMonitor`) keeps the spikes of the recorded
cells and v of the first k cells in a device buffer, emptied to the host every chunk.

Options (RunSpec.options; `snnbench run --option KEY=VALUE`): connection = sparse | dense;
sparse_format = auto | ell | csr; device = auto | cpu | cuda (auto: CUDA when
torch.cuda.is_available(); `info` then holds the GPU and torch.cuda.max_memory_allocated);
dtype = auto | float64 | float32 (auto: float64 on the CPU, float32 on CUDA); chunk_steps
(steps per Network.run call, default 1000).

Import: PyPI's torchvision 0.28.0 is CUDA-linked; with the CPU build of torch its import (and so
`import bindsnet`) fails with "operator torchvision::nms does not exist" while registering meta
kernels for its compiled operators. `load()` tries the import and, on exactly that failure,
puts empty modules in place of `torchvision._meta_registrations` and
`torchvision._autograd_registrations` and imports again (BindsNET needs none of torchvision's
compiled operators); `info["torchvision_workaround"]` says whether it was needed.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.util
import json
import math
import os
import subprocess
import sys
import tempfile
import types
import zlib
from pathlib import Path
from typing import Any

import numpy as np

from ..models.lif import cell_propagators
from ..scenario.realise import Network, connect, rng_for, sample
from ..scenario.resolve import ResolvedScenario
from .base import BackendUnavailable, Option
from .common.template import SimulatorBackend

DEFAULT_CHUNK_STEPS = 1000  # steps per Network.run call (input tensors and recorder buffers)
OPTIONS = (
    Option("connection", str, "sparse", "weight storage: sparse matrices, or dense pre x post matrices",
           choices=("sparse", "dense")),
    Option("sparse_format", str, "auto", "sparse storage: ELLPACK, CSR, or auto (ELLPACK unless its padding would "
           "double the memory)", choices=("auto", "ell", "csr")),
    Option("device", str, "auto", "torch device; auto: CUDA when torch sees a GPU", choices=("auto", "cpu", "cuda")),
    Option("dtype", str, "auto", "floating-point type; auto: float64 on the CPU, float32 on CUDA",
           choices=("auto", "float64", "float32")),
    Option("chunk_steps", int, DEFAULT_CHUNK_STEPS, "steps per Network.run call (the size of the input tensors and "
           "of the recorder's device buffer)", minimum=1),
)
_TORCHVISION_STUBS = ("torchvision._meta_registrations", "torchvision._autograd_registrations")
_PROBE_TIMEOUT_S = 300


# ----------------------------------------------------------------------------- import


def import_bindsnet() -> tuple[Any, Any, bool]:
    """Import torch and BindsNET; return (torch, bindsnet, whether the torchvision workaround was applied)."""
    import torch

    workaround = False
    if importlib.util.find_spec("torchvision") is not None and "torchvision" not in sys.modules:
        try:
            import torchvision  # noqa: F401
        except RuntimeError as exc:
            if "torchvision::" not in str(exc):
                raise
            # A torchvision built for another torch (PyPI's CUDA build over torch's CPU build):
            # its compiled operators are missing, so registering meta/autograd kernels for them
            # fails. Drop what the failed import left behind and import it without those two.
            for name in [m for m in sys.modules if m == "torchvision" or m.startswith("torchvision.")]:
                del sys.modules[name]
            for name in _TORCHVISION_STUBS:
                sys.modules[name] = types.ModuleType(name)
            import torchvision  # noqa: F401, F811

            workaround = True
    import bindsnet
    import bindsnet.network  # noqa: F401

    return torch, bindsnet, workaround


def _probe_key() -> str:
    parts = [sys.executable, os.environ.get("PYTHONPATH", ""), __file__, str(os.path.getmtime(__file__))]
    for mod in ("torch", "torchvision", "bindsnet"):
        spec = importlib.util.find_spec(mod)
        origin = spec.origin if spec is not None and spec.origin else ""
        parts += [mod, origin, str(os.path.getmtime(origin)) if origin else ""]
        try:
            parts.append(importlib.metadata.version(mod))
        except importlib.metadata.PackageNotFoundError:
            parts.append("")
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()[:20]


def _import_probe() -> tuple[bool, str]:
    """Whether `import_bindsnet()` works, tried in a fresh interpreter (it takes seconds and
    loads torch, so never in the caller's process); cached in the temp directory per installed
    versions, as every isolated run asks again."""
    cache = Path(tempfile.gettempdir()) / f"snnbench-{os.getuid()}" / f"bindsnet-probe-{_probe_key()}.json"
    try:
        saved = json.loads(cache.read_text())
        return bool(saved["ok"]), str(saved["message"])
    except (OSError, ValueError, KeyError):
        pass
    package_root = str(Path(__file__).resolve().parents[2])
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([package_root] + [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p])
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "snnbench.backends.bindsnet", "--probe"], env=env, capture_output=True,
            text=True, timeout=_PROBE_TIMEOUT_S, stdin=subprocess.DEVNULL,
        )
    except subprocess.TimeoutExpired:
        return False, f"importing bindsnet took more than {_PROBE_TIMEOUT_S} s"
    if proc.returncode == 0:
        ok, message = True, proc.stdout.strip().splitlines()[-1] if proc.stdout.strip() else "ok"
    else:
        lines = [ln for ln in (proc.stderr or proc.stdout).strip().splitlines() if ln.strip()]
        ok, message = False, "bindsnet cannot be imported: " + (lines[-1] if lines else f"exit status {proc.returncode}")
    try:
        cache.parent.mkdir(parents=True, exist_ok=True)
        tmp = cache.with_suffix(".tmp")
        tmp.write_text(json.dumps({"ok": ok, "message": message}))
        os.replace(tmp, cache)
    except OSError:
        pass
    return ok, message


# ----------------------------------------------------------------------------- BindsNET classes
#
# Defined when BindsNET is imported (load()), since they subclass its classes.


def _define_classes(torch, bindsnet):
    from bindsnet.network.monitors import AbstractMonitor
    from bindsnet.network.nodes import Nodes
    from bindsnet.network.topology import AbstractConnection

    # The step loop runs ~10^4 times per simulated second: state tensors are read from the
    # module's buffer dict directly and plain counters set with object.__setattr__, bypassing
    # torch.nn.Module's attribute machinery (which cost ~40 % of a step).

    class _PyNNExpNodes(Nodes):
        """A population of PyNN exponential-synapse cells, with two receptors and a delay ring.

        Buffers: v (1, n) mV; syn (2, n) [excitatory, inhibitory] nA or uS; refr (1, n) steps of
        refractoriness left; ring (L, 2, n) input arriving at the end of step k in slot k mod L.
        """

        def __init__(self, n, prm, refr_steps, dt, ring_len, v_init, dtype, device, matmul=True):
            super().__init__(n=n, traces=False, sum_input=False, learning=False)
            # The two-receptor sums as one (1 or 2) x 2 x n matrix product (one op), or as
            # elementwise ops: with several CPU threads MKL's threaded gemm costs milliseconds
            # for so small a product (measured: 2-7 ms instead of 10 us on a busy 2-core machine).
            self.matmul = bool(matmul)
            self.prm = {k: float(v) for k, v in prm.items()}  # one population: scalar parameters
            self.refr_steps = int(refr_steps)
            self.dt_ms = float(dt)
            self.ring_len = int(ring_len)
            self.state_dtype = dtype
            object.__setattr__(self, "t", 0)  # steps done
            v0 = torch.as_tensor(np.asarray(v_init, dtype=np.float64), dtype=dtype, device=device).reshape(1, n)
            self.register_buffer("v_init", v0)
            self.register_buffer("v", v0.clone())
            self.register_buffer("syn", torch.zeros(2, n, dtype=dtype, device=device))
            self.register_buffer("refr", torch.zeros(1, n, dtype=torch.int32, device=device))
            self.register_buffer("ring", torch.zeros(self.ring_len, 2, n, dtype=dtype, device=device))
            self.register_buffer("syn_decay", torch.tensor([[prm["dec_e"]], [prm["dec_i"]]], dtype=dtype, device=device))
            self.s = torch.zeros(1, n, dtype=torch.bool, device=device)

        def compute_decays(self, dt) -> None:
            super().compute_decays(dt)
            if abs(float(dt) - self.dt_ms) > 1e-12:
                raise ValueError(f"the network's dt {dt} ms differs from the node's {self.dt_ms} ms")

        def set_batch_size(self, batch_size) -> None:
            if batch_size != 1:
                raise ValueError("snnbench runs one network at a time (batch size 1)")
            super().set_batch_size(batch_size)
            self.reset_state_variables()

        def reset_state_variables(self) -> None:
            super().reset_state_variables()
            self.v.copy_(self.v_init)
            self.syn.zero_()
            self.refr.zero_()
            self.ring.zero_()
            object.__setattr__(self, "t", 0)

        def forward(self, x) -> None:
            # x (the sum of the connections' outputs) is empty: connections write into `ring`.
            b = self._buffers
            slot = b["ring"][self.t % self.ring_len]
            refractory = b["refr"] > 0
            s = self._membrane(b, refractory)
            b["s"] = s
            b["refr"].sub_(1).clamp_(min=0).masked_fill_(s, self.refr_steps)
            b["syn"].mul_(b["syn_decay"]).add_(slot)  # exact decay, then this step's arrivals
            slot.zero_()
            object.__setattr__(self, "t", self.t + 1)
            super().forward(x)

    class IFCurrExpNodes(_PyNNExpNodes):
        """PyNN IF_curr_exp / NEST iaf_psc_exp: exact integration (Rotter & Diesmann 1999).

        v <- v_rest + (v - v_rest) P22 + P21e I_e + P21i I_i + P20 i_offset (not while refractory);
        spike if v >= v_thresh, then v = v_reset for refr_steps steps.
        """

        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            p, dtype, device = self.prm, self.state_dtype, self.v.device
            self.register_buffer("p21", torch.tensor([[p["p21e"], p["p21i"]]], dtype=dtype, device=device))
            self.v_const = p["v_rest"] * (1.0 - p["p22"]) + p["p20"] * p["i_offset"]

        def _membrane(self, b, refractory):
            p, v, syn = self.prm, b["v"], b["syn"]
            if self.matmul:
                vi = torch.addmm(v, b["p21"], syn, beta=p["p22"]).add_(self.v_const)
            else:
                vi = v.mul(p["p22"]).add_(syn[0:1], alpha=p["p21e"]).add_(syn[1:2], alpha=p["p21i"]).add_(self.v_const)
            vi = torch.where(refractory, v, vi)
            s = vi >= p["v_thresh"]
            b["v"] = vi.masked_fill_(s, p["v_reset"])
            return s

    class IFCondExpNodes(_PyNNExpNodes):
        """PyNN IF_cond_exp (NEST iaf_cond_exp's order): exponential Euler with the step-averaged conductance.

        g_avg = g tau_syn/dt (1 - exp(-dt/tau_syn)); g_tot = g_L + g_e,avg + g_i,avg;
        v_inf = (g_L v_rest + i_offset + g_e,avg e_rev_E + g_i,avg e_rev_I) / g_tot;
        v <- v_inf + (v - v_inf) exp(-dt g_tot / cm); refractory -> v_reset; else spike if v >= v_thresh.
        """

        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            p, dtype, device = self.prm, self.state_dtype, self.v.device
            # [g_tot; g_tot v_inf] = M syn + c: one matrix product for both rows.
            self.register_buffer("cond_m", torch.tensor(
                [[p["avg_e"], p["avg_i"]], [p["avg_e"] * p["e_rev_e"], p["avg_i"] * p["e_rev_i"]]], dtype=dtype, device=device))
            self.register_buffer("cond_c", torch.tensor(
                [[p["g_l"]], [p["g_l"] * p["v_rest"] + p["i_offset"]]], dtype=dtype, device=device))
            # exp(-dt g_tot / cm) as exp2(-dt g_tot log2(e) / cm): torch's float64 exp goes through
            # MKL's threaded vector maths (1 ms a call for 3200 cells with 2 threads on a busy
            # machine), exp2 does not; both are accurate to a few ulp here.
            self.rate_factor = -self.dt_ms / p["cm"] / math.log(2.0)

        def _membrane(self, b, refractory):
            p, v, syn = self.prm, b["v"], b["syn"]
            if self.matmul:
                a = torch.addmm(b["cond_c"], b["cond_m"], syn)
            else:
                m = b["cond_m"]
                a = torch.addcmul(b["cond_c"], m[:, 0:1], syn[0:1]).addcmul_(m[:, 1:2], syn[1:2])
            g_tot, v_inf = a[0:1], a[1:2].div_(a[0:1])
            vi = torch.addcmul(v_inf, v - v_inf, torch.exp2(g_tot.mul_(self.rate_factor)))
            s = (vi >= p["v_thresh"]).masked_fill_(refractory, False)
            b["v"] = vi.masked_fill_(s, p["v_reset"]).masked_fill_(refractory, p["v_reset"])
            return s

    class DelayedConnection(AbstractConnection):
        """Every projection from one layer to another, with receptors and axonal delays.

        `compute(s)` is called at the start of step k with the source's spikes of step k-1; each
        spike's weights go to the target's ring slot of step k-1+d (d: delay in steps), read at
        the end of that step. Event-driven: only the spiking rows are read. Static synapses.
        """

        def __init__(self, source, target, pathways):
            super().__init__(source, target)
            self.pathways = pathways  # _DensePathway / _EllPathway / _CsrPathway
            object.__setattr__(self, "_src", source)  # plain references for the step loop
            object.__setattr__(self, "_tgt", target)

        def compute(self, s):
            idx = _fired(self._src, s)
            if idx.numel():
                target = self._tgt
                ring = target._buffers["ring"]
                base = target.t - 1  # the spikes were emitted in the previous step
                for pw in self.pathways:
                    pw.deliver(idx, base, ring)
            return 0.0

        def update(self, **kwargs) -> None:
            """Static synapses: nothing to learn."""

        def normalize(self) -> None:
            """No weight normalisation."""

        def reset_state_variables(self) -> None:
            """No state of its own (the delay rings belong to the targets)."""

    def _fired(layer, s):
        """Indices of the cells of `layer` that spiked in `s`, computed once per step for all its connections."""
        cached = layer.__dict__.get("_snnbench_fired")
        if cached is not None and cached[0] is s:
            return cached[1]
        idx = s.reshape(-1).nonzero().squeeze(1)
        object.__setattr__(layer, "_snnbench_fired", (s, idx))
        return idx

    class StepRecorder(AbstractMonitor):
        """Spikes of the first n_spk cells and v of the first n_v cells of a layer, every step.

        Rows go into a device buffer; `flush()` (after every Network.run chunk) moves them to the host.
        """

        def __init__(self, layer, n_spk, n_v, chunk_steps, dtype, device):
            super().__init__()
            self.layer, self.n_spk, self.n_v = layer, n_spk, n_v
            self.buf_s = torch.zeros(chunk_steps, n_spk, dtype=torch.bool, device=device)
            self.buf_v = torch.zeros(chunk_steps, n_v, dtype=dtype, device=device)
            self.row = 0
            self.step0 = 0
            self.spike_steps: list[np.ndarray] = []
            self.spike_index: list[np.ndarray] = []
            self.v_chunks: list[np.ndarray] = []

        def record(self) -> None:
            b = self.layer._buffers
            if self.n_spk:
                self.buf_s[self.row] = b["s"][0, : self.n_spk]
            if self.n_v:
                self.buf_v[self.row] = b["v"][0, : self.n_v]
            self.row += 1

        def flush(self) -> None:
            k = self.row
            if self.n_spk and k:
                rows, idx = self.buf_s[:k].nonzero(as_tuple=True)
                self.spike_steps.append(rows.cpu().numpy().astype(np.int64) + self.step0)
                self.spike_index.append(idx.cpu().numpy().astype(np.int64))
            if self.n_v and k:
                self.v_chunks.append(self.buf_v[:k].cpu().numpy().astype(np.float64))
            self.step0 += k
            self.row = 0

        def reset_state_variables(self) -> None:
            self.row = 0

        def spikes(self) -> tuple[np.ndarray, np.ndarray]:
            """(emission step, local index) of every recorded spike."""
            if not self.spike_steps:
                return np.empty(0, np.int64), np.empty(0, np.int64)
            return np.concatenate(self.spike_steps), np.concatenate(self.spike_index)

        def voltages(self) -> np.ndarray:
            return np.concatenate(self.v_chunks) if self.v_chunks else np.zeros((0, self.n_v))

    return types.SimpleNamespace(
        IFCurrExpNodes=IFCurrExpNodes, IFCondExpNodes=IFCondExpNodes,
        DelayedConnection=DelayedConnection, StepRecorder=StepRecorder,
    )


class _DensePathway:
    """One projection as a dense n_pre x n_post weight matrix (BindsNET's `Connection` layout).

    Delivery: the rows of the spiking cells, summed (what `s @ w` computes, without the zero rows).
    """

    def __init__(self, torch, w, receptor, n_post, delay, delays):
        self.w = w  # (n_pre, n_post)
        self.receptor = receptor
        self.n_post = n_post
        self.delay = delay  # steps, when constant; else None and `delays` (n_pre, n_post) int64
        self.delays = delays
        if delays is not None:
            self.cols = torch.arange(n_post, device=w.device) + receptor * n_post

    def deliver(self, idx, base, ring):
        L = ring.shape[0]
        if self.delay is not None:
            ring[(base + self.delay) % L, self.receptor].add_(self.w.index_select(0, idx).sum(0))
            return
        rows = self.w.index_select(0, idx)
        slots = (self.delays.index_select(0, idx) + base) % L
        flat = slots * (2 * self.n_post) + self.cols
        ring.view(-1).index_add_(0, flat.reshape(-1), rows.reshape(-1))

    @property
    def nbytes(self) -> int:
        n = self.w.numel() * self.w.element_size()
        return n + (self.delays.numel() * self.delays.element_size() if self.delays is not None else 0)


class _EllPathway:
    """Synapses as ELLPACK rows: per presynaptic cell, its targets (receptor * n_post + cell),
    weights and delays, padded to the largest out-degree with weight 0 onto column 0.

    Delivery is three gathers and one index_add over (spiking cells x max out-degree).
    """

    def __init__(self, cols, w, delay, delays, n_post):
        self.cols, self.w = cols, w  # (n_pre, width)
        self.delay, self.delays = delay, delays  # constant steps, or (n_pre, width) int64
        self.n_post = n_post

    def deliver(self, idx, base, ring):
        L = ring.shape[0]
        cols = self.cols.index_select(0, idx).reshape(-1)
        w = self.w.index_select(0, idx).reshape(-1)
        if self.delay is not None:
            ring[(base + self.delay) % L].view(-1).index_add_(0, cols, w)
            return
        slots = (self.delays.index_select(0, idx).reshape(-1) + base) % L
        ring.view(-1).index_add_(0, slots * (2 * self.n_post) + cols, w)

    @property
    def nbytes(self) -> int:
        t = [self.cols, self.w] + ([self.delays] if self.delays is not None else [])
        return sum(x.numel() * x.element_size() for x in t)


class _CsrPathway:
    """Synapses in CSR over the presynaptic cells: target column (receptor * n_post + cell), weight, delay.

    For skewed out-degrees, where ELLPACK padding would waste memory.
    """

    def __init__(self, torch, indptr, cols, w, delay, delays, n_post):
        self.torch = torch
        self.indptr, self.cols, self.w = indptr, cols, w
        self.delay, self.delays = delay, delays  # constant steps, or per-synapse steps (int64)
        self.n_post = n_post

    def deliver(self, idx, base, ring):
        torch = self.torch
        start = self.indptr.index_select(0, idx)
        count = self.indptr.index_select(0, idx + 1) - start
        total = int(count.sum())
        if total == 0:
            return
        # synapse indices of the spiking rows: start[j] .. start[j] + count[j] - 1, concatenated
        first = torch.cumsum(count, 0) - count
        syn = torch.repeat_interleave(start - first, count, output_size=total) + torch.arange(total, device=start.device)
        L = ring.shape[0]
        if self.delay is not None:
            ring[(base + self.delay) % L].view(-1).index_add_(0, self.cols.index_select(0, syn), self.w.index_select(0, syn))
            return
        slots = (self.delays.index_select(0, syn) + base) % L
        flat = slots * (2 * self.n_post) + self.cols.index_select(0, syn)
        ring.view(-1).index_add_(0, flat, self.w.index_select(0, syn))

    @property
    def nbytes(self) -> int:
        t = [self.indptr, self.cols, self.w] + ([self.delays] if self.delays is not None else [])
        return sum(x.numel() * x.element_size() for x in t)


# ----------------------------------------------------------------------------- native draws


def _seed_for(seed: int, *keys: str) -> int:
    """A 63-bit seed for a torch generator (native Poisson sources), from (scenario seed, item name)."""
    entropy = [int(seed)] + [zlib.crc32(k.encode()) for k in keys]
    return int(np.random.SeedSequence(entropy).generate_state(1, np.uint64)[0] >> np.uint64(1))


# ----------------------------------------------------------------------------- the backend


class BindsNETBackend(SimulatorBackend):
    name = "bindsnet"
    title = "BindsNET on torch"
    distribution = "bindsnet"
    module = "bindsnet"
    where = "CPU (torch threads); CUDA where torch sees a GPU"
    runs_on = ("CPU", "GPU")
    packages = ("bindsnet", "torch")
    # BindsNET's own nodes are not PyNN's cells (see the module docstring); snnbench brings
    # IFCurrExpNodes and IFCondExpNodes, and has no node for the others:
    cell_type_refusals = {
        "GLIF_curr_alpha": "no BindsNET node with glif_psc's receptor ports (one alpha current each), after-spike "
                           "currents or spike-dependent threshold; snnbench's delay ring here feeds two receptors",
        "IF_curr_alpha": "no BindsNET node with alpha-shaped synaptic currents (snnbench's IFCurrExpNodes hold one "
                         "exponential current per receptor, BindsNET's CurrentLIFNodes one for both)",
        "IF_cond_alpha": "no BindsNET node with alpha-shaped conductances (BindsNET has no conductance-based node; "
                         "snnbench's IFCondExpNodes holds exponential ones)",
        "IF_curr_delta": "no BindsNET node with NEST's refractory rule (BindsNET's LIFNodes step v by their input, but "
                         "let v relax towards v_rest while refractory, where NEST holds it at v_reset)",
        "EIF_cond_exp_isfa_ista": "BindsNET's AdaptiveLIFNodes adapt the threshold; there is no node with the exponential "
                                  "spike current and the adaptation current w of AdEx",
        "Izhikevich": "BindsNET's IzhikevichNodes integrate v in two half steps (Izhikevich's published scheme) and reset "
                      "at the start of the next step, not NEST's forward Euler with the reset in the same step",
        "HH_cond_exp": "no Hodgkin-Huxley node in BindsNET (its nodes are integrate-and-fire or Izhikevich)",
    }
    accepted_options = OPTIONS
    source_multiplicity = False
    one_spike_per_step = "feeds its Input layers boolean spikes: at most one per source and step"

    @classmethod
    def available(cls) -> tuple[bool, str]:
        for module, dist in (("torch", "torch"), ("bindsnet", "bindsnet")):
            if importlib.util.find_spec(module) is None:
                return False, f"Python package {dist!r} is not installed; {cls.install_hint}"
        ok, message = _import_probe()
        if not ok:
            return False, f"{message}; {cls.install_hint}"
        return True, f"{cls.distribution} {cls.version()} ({message})"

    # ------------------------------------------------------------------ options

    def _option(self, key: str) -> str:
        return str(self.option(key))

    # ------------------------------------------------------------------ load

    def load(self) -> None:
        try:
            torch, bindsnet, workaround = import_bindsnet()
        except Exception as exc:  # noqa: BLE001 - the reason goes into the record
            raise BackendUnavailable(f"bindsnet cannot be imported: {type(exc).__name__}: {exc}") from exc
        self.torch = torch
        self.bn = bindsnet
        self.cls = _define_classes(torch, bindsnet)
        torch.set_num_threads(self.threads)
        self.info["threads_used"] = torch.get_num_threads()
        self.info["torch"] = torch.__version__
        try:
            self.info["torchvision"] = importlib.metadata.version("torchvision")
        except importlib.metadata.PackageNotFoundError:
            self.info["torchvision"] = None
        self.info["torchvision_workaround"] = (
            "applied: empty modules for " + ", ".join(_TORCHVISION_STUBS) + " (torchvision::nms missing: torchvision built for another torch)"
            if workaround else "not needed"
        )
        wanted = self._option("device")
        has_cuda = bool(torch.cuda.is_available())
        if wanted == "cuda" and not has_cuda:
            raise BackendUnavailable("option device=cuda, but torch sees no CUDA device")
        self.device = torch.device("cuda" if (wanted == "cuda" or (wanted == "auto" and has_cuda)) else "cpu")
        dtype = self._option("dtype")
        if dtype == "auto":
            dtype = "float32" if self.device.type == "cuda" else "float64"
        self.dtype = getattr(torch, dtype)
        self.info["device"] = str(self.device)
        self.info["dtype"] = dtype
        if self.device.type == "cuda":
            self.info["gpu"] = torch.cuda.get_device_name(self.device)
            torch.cuda.reset_peak_memory_stats(self.device)

    # ------------------------------------------------------------------ the template's hooks: build

    def build(self, resolved: ResolvedScenario, mode: str, network: Network | None) -> None:
        with self.torch.no_grad():
            super().build(resolved, mode, network)

    def setup(self, resolved: ResolvedScenario) -> None:
        # Everything is collected first and made in finish_build(): the ring buffer of each target
        # must hold its longest delay, known only once every projection is drawn.
        self.storage = self._option("connection")
        self.chunk_steps = max(1, min(self.option("chunk_steps"), resolved.n_steps))
        self._record_translations(resolved, self.mode, self.storage)
        self.cell_specs: dict[str, tuple[Any, int, np.ndarray]] = {}  # name -> (parameters, refractory steps, v_init)
        self.projection_tensors: list[dict[str, Any]] = []
        self.synapses: dict[str, int] = {}
        self.native_poisson: dict[str, dict[str, Any]] = {}
        self.source_events: dict[str, tuple[Any, Any, Any]] = {}  # (emission step, same on device, index), by step
        self.to_record: dict[str, tuple[int, int]] = {}

    def create_cells(self, name, pop, v_init) -> None:
        q = pop.spec.parameters
        if not isinstance(v_init, np.ndarray):
            v_init = sample(v_init, rng_for(self.resolved.seed, self.name, "v_init", name), pop.size)
        self.cell_specs[name] = (q, self.refractory_steps(name, q.tau_refrac), v_init)

    def create_poisson_source(self, name, pop) -> bool:
        dt, n_steps, window = self.resolved.dt, self.resolved.n_steps, self.poisson_window(pop)
        stop = min(self.resolved.simtime, window.stop)
        lo = int(round(window.start / dt))  # rows lo..hi-1: spikes at (lo+1) dt .. hi dt, inside (start, stop]
        hi = min(n_steps, int(round(stop / dt)))
        p = window.rate * dt / 1000.0  # <= 1: more is refused with the scenario (source_multiplicity)
        g = self.torch.Generator(device=self.device)
        g.manual_seed(_seed_for(self.resolved.seed, "spikes", name))
        self.native_poisson[name] = {"p": p, "lo": lo, "hi": hi, "gen": g}
        self.translate("SpikeSourcePoisson", f"{name}: Bernoulli trial per {dt} ms step with p = rate*dt "
                       f"(bindsnet.encoding.bernoulli's scheme; at most one spike per step), torch generator")
        return True

    def create_array_source(self, name, pop, steps) -> None:
        ids = np.repeat(np.arange(pop.size, dtype=np.int64), [s.size for s in steps]) if steps else np.zeros(0, np.int64)
        rows = np.concatenate(steps).astype(np.int64) - 1 if steps else np.zeros(0, np.int64)  # emitted in step m-1
        order = np.argsort(rows, kind="stable")
        dev = self.device
        self.source_events[name] = (rows[order], self.torch.as_tensor(rows[order], device=dev),
                                    self.torch.as_tensor(ids[order], device=dev))

    def connect_native(self, proj) -> bool:
        # BindsNET has no connectors: the harness's samplers, on streams of the adapter's own.
        r = self.resolved
        keys = (self.name, proj.label)
        pre, post = connect(proj.connector, r.populations[proj.pre].size, r.populations[proj.post].size,
                            proj.pre == proj.post, rng_for(r.seed, keys[0], "edges", keys[1]))
        weight = sample(proj.weight, rng_for(r.seed, keys[0], "weights", keys[1]), pre.size)
        delay = sample(proj.delay, rng_for(r.seed, keys[0], "delays", keys[1]), pre.size)
        self._add_projection(proj, pre, post, weight, self.delay_steps(delay, r.dt, proj.label))
        return True

    def connect_arrays(self, proj, arrays, delay_steps) -> None:
        self._add_projection(proj, arrays.pre_idx, arrays.post_idx, arrays.weight, delay_steps)

    def _add_projection(self, proj, pre, post, weight, delay_steps) -> None:
        torch, dev = self.torch, self.device
        if self.resolved.populations[proj.post].cell_type == "IF_cond_exp" and np.any(weight < 0):
            raise ValueError(f"projection {proj.label}: conductance weights must be >= 0 (the receptor gives the sign)")
        self.synapses[proj.label] = int(pre.size)
        self.projection_tensors.append({
            "label": proj.label, "pre_name": proj.pre, "post_name": proj.post,
            "receptor": 0 if proj.receptor == "excitatory" else 1,
            "pre": torch.as_tensor(pre, dtype=torch.int64, device=dev),
            "post": torch.as_tensor(post, dtype=torch.int64, device=dev),
            "weight": torch.as_tensor(weight, dtype=self.dtype, device=dev),
            "delay_steps": torch.as_tensor(delay_steps, dtype=torch.int64, device=dev),
        })

    def record(self, name, pop, n_spikes, n_v) -> None:
        self.to_record[name] = (n_spikes, n_v)

    def finish_build(self) -> None:
        torch, C, dev, resolved = self.torch, self.cls, self.device, self.resolved
        from bindsnet.network import Network as BNNetwork
        from bindsnet.network.nodes import Input

        dt = resolved.dt
        projections = self.projection_tensors
        ring_len = {name: 1 for name in resolved.cells}
        for p in projections:
            if p["pre"].numel():
                ring_len[p["post_name"]] = max(ring_len[p["post_name"]], int(p["delay_steps"].max()))

        bn = BNNetwork(dt=dt, batch_size=1, learning=False)
        self.bn_net = bn
        self.layers: dict[str, Any] = {}
        self.layer_name = {name: f"pop_{name}" for name in resolved.populations}
        for name, (q, refractory, v_init) in self.cell_specs.items():
            node_cls = C.IFCondExpNodes if resolved.populations[name].cell_type == "IF_cond_exp" else C.IFCurrExpNodes
            layer = node_cls(resolved.populations[name].size, self._cell_parameters(q, dt), refractory, dt, ring_len[name],
                             v_init, self.dtype, dev, matmul=self.device.type == "cuda" or torch.get_num_threads() == 1)
            bn.add_layer(layer, name=self.layer_name[name])
            self.layers[name] = layer
        for name, pop in resolved.sources.items():
            layer = Input(n=pop.size).to(dev)
            bn.add_layer(layer, name=self.layer_name[name])
            self.layers[name] = layer

        self.sparse_formats: set[str] = set()
        for (pre, post), group in self._group_pairs(projections).items():
            pathways = self._pathways(group, resolved.populations[pre].size, resolved.populations[post].size, self.storage)
            conn = C.DelayedConnection(self.layers[pre], self.layers[post], pathways)
            bn.add_connection(conn, source=self.layer_name[pre], target=self.layer_name[post])
        self.info["connection"] = self.storage
        if self.sparse_formats:
            formats = ", ".join(sorted(self.sparse_formats))
            self.info["sparse_format"] = formats
            self.translate("connection", f"sparse rows stored as {formats} (ell: ELLPACK rows padded to the largest "
                           "out-degree; csr: compressed rows, for skewed out-degrees)")
        self.info["weight_bytes"] = int(sum(pw.nbytes for c in bn.connections.values() for pw in c.pathways))

        self.recorders: dict[str, Any] = {}
        for name, (n_spk, n_v) in self.to_record.items():
            rec = C.StepRecorder(self.layers[name], n_spk, n_v, self.chunk_steps, self.dtype, dev)
            bn.add_monitor(rec, name=self.layer_name[name])
            self.recorders[name] = rec
        self._sync()

    def _record_translations(self, resolved, mode, storage) -> None:
        cell_types = {p.cell_type for p in resolved.cells.values()}
        if "IF_cond_exp" in cell_types:
            self.translate("IF_cond_exp", "BindsNET has no conductance-based node: snnbench's IFCondExpNodes (a bindsnet Nodes "
                           "subclass): exponential Euler with the step-averaged conductance, as the numba simulator (NEST: RK45)")
        if "IF_curr_exp" in cell_types:
            self.translate("IF_curr_exp", "snnbench's IFCurrExpNodes (a bindsnet Nodes subclass): exact integration with two "
                           "exponential synaptic currents, as NEST iaf_psc_exp (BindsNET's CurrentLIFNodes has one current)")
        if resolved.projections:
            self.translate("delays", "BindsNET connections have no delays: each target node holds a ring buffer of future input "
                           "per receptor, filled by snnbench's DelayedConnection (an AbstractConnection subclass)")
            how = ("sparse: the synapses of each presynaptic cell (memory O(synapses))" if storage == "sparse"
                   else "dense: an n_pre x n_post matrix per projection, as bindsnet's Connection (memory O(n_pre n_post))")
            self.translate("connection", f"weights stored {how}; delivery event-driven (rows of the spiking cells only)")
        if resolved.sources:
            self.translate("sources", "spike sources are bindsnet Input layers fed with spike tensors on the dt grid")
        self.translate("recording", "snnbench's StepRecorder monitor (only the recorded cells) instead of bindsnet's Monitor")
        self.translate("precision", f"state and weights in {str(self.dtype).replace('torch.', '')} on {self.device}")
        if mode == "native":
            self.translate("connectivity", "BindsNET has no connectors: native mode draws edges, weights, delays and initial V "
                           "with the harness's samplers on streams of their own, seeded from (seed, 'bindsnet', item name)")

    @staticmethod
    def _group_pairs(projections):
        groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
        for p in projections:
            groups.setdefault((p["pre_name"], p["post_name"]), []).append(p)
        return groups

    def _pathways(self, group, n_pre: int, n_post: int, storage: str) -> list[Any]:
        torch = self.torch
        group = [p for p in group if p["pre"].numel()]
        if not group:
            return []
        if storage == "dense":
            pathways, leftover = [], []
            for p in group:
                pw = self._dense_pathway(p, n_pre, n_post)
                (pathways.append(pw) if pw is not None else leftover.append(p))
            if leftover:
                pathways.append(self._sparse_pathway(leftover, n_pre, n_post))
            return pathways
        return [self._sparse_pathway(group, n_pre, n_post)]

    def _dense_pathway(self, p, n_pre: int, n_post: int):
        torch, dev = self.torch, self.device
        steps = p["delay_steps"]
        flat = p["pre"] * n_post + p["post"]
        uniq, inverse = torch.unique(flat, return_inverse=True)
        constant = bool((steps == steps[0]).all())
        if uniq.numel() < flat.numel():
            if not constant:
                longest = torch.zeros(uniq.numel(), dtype=torch.int64, device=dev).scatter_reduce(
                    0, inverse, steps, reduce="amax", include_self=False)
                shortest = torch.zeros(uniq.numel(), dtype=torch.int64, device=dev).scatter_reduce(
                    0, inverse, steps, reduce="amin", include_self=False)
                if bool((longest != shortest).any()):
                    self.translate("connection", f"{p['label']}: multapses with different delays cannot share a dense "
                                   "matrix entry: this projection is stored sparse")
                    return None
            self.translate("multapses", f"{p['label']}: {flat.numel() - uniq.numel()} multapses summed into one dense "
                           "matrix entry (the same for linear synapses)")
        w = torch.zeros(n_pre * n_post, dtype=self.dtype, device=dev)
        w.index_put_((flat,), p["weight"], accumulate=True)
        delays = None
        if not constant:
            delays = torch.ones(n_pre * n_post, dtype=torch.int64, device=dev)
            delays[flat] = steps
            delays = delays.view(n_pre, n_post)
        return _DensePathway(torch, w.view(n_pre, n_post), p["receptor"], n_post,
                             int(steps[0]) if constant else None, delays)

    def _sparse_pathway(self, group, n_pre: int, n_post: int):
        torch, dev = self.torch, self.device
        pre = torch.cat([p["pre"] for p in group])
        cols = torch.cat([p["post"] + p["receptor"] * n_post for p in group])
        w = torch.cat([p["weight"] for p in group])
        steps = torch.cat([p["delay_steps"] for p in group])
        order = torch.argsort(pre, stable=True)
        pre, cols, w, steps = pre[order], cols[order], w[order], steps[order]
        counts = torch.bincount(pre, minlength=n_pre)
        indptr = torch.zeros(n_pre + 1, dtype=torch.int64, device=dev)
        indptr[1:] = torch.cumsum(counts, 0)
        constant = bool((steps == steps[0]).all())
        delay = int(steps[0]) if constant else None
        width = int(counts.max())
        fmt = self._option("sparse_format")
        if fmt == "auto":
            fmt = "ell" if n_pre * width <= 2 * pre.numel() + 1024 else "csr"
        self.sparse_formats.add(fmt)
        if fmt == "csr":
            return _CsrPathway(torch, indptr, cols.contiguous(), w.contiguous(), delay, None if constant else steps.contiguous(), n_post)
        # ELLPACK: position of each synapse within its row
        pos = torch.arange(pre.numel(), device=dev) - indptr[pre]
        ell_cols = torch.zeros(n_pre, width, dtype=torch.int64, device=dev)
        ell_w = torch.zeros(n_pre, width, dtype=self.dtype, device=dev)
        ell_cols[pre, pos] = cols
        ell_w[pre, pos] = w
        ell_d = None
        if not constant:
            ell_d = torch.ones(n_pre, width, dtype=torch.int64, device=dev)
            ell_d[pre, pos] = steps
        return _EllPathway(ell_cols, ell_w, delay, ell_d, n_post)

    def _cell_parameters(self, q, dt: float) -> dict[str, float]:
        """The node's scalar parameters and propagators (snnbench.models.lif)."""
        return {"v_rest": q.v_rest, "v_reset": q.v_reset, "v_thresh": q.v_thresh, "i_offset": q.i_offset, "cm": q.cm,
                "e_rev_e": getattr(q, "e_rev_E", 0.0), "e_rev_i": getattr(q, "e_rev_I", 0.0),
                **cell_propagators(q, dt).as_dict()}

    def _sync(self) -> None:
        if self.device.type == "cuda":
            self.torch.cuda.synchronize(self.device)

    # ------------------------------------------------------------------ run

    def _input_chunk(self, name: str, k0: int, k1: int):
        torch, dev = self.torch, self.device
        n = self.resolved.populations[name].size
        spikes = torch.zeros(k1 - k0, n, dtype=torch.bool, device=dev)
        if name in self.native_poisson:
            s = self.native_poisson[name]
            a, b = max(k0, s["lo"]), min(k1, s["hi"])
            if b > a and s["p"] > 0:
                spikes[a - k0:b - k0] = torch.rand(b - a, n, generator=s["gen"], device=dev) < s["p"]
            return spikes
        rows_np, rows, ids = self.source_events[name]
        a, b = np.searchsorted(rows_np, [k0, k1])
        if b > a:
            spikes[rows[a:b] - k0, ids[a:b]] = True
        return spikes

    def run(self) -> None:
        with self.torch.no_grad():
            self._run()

    def _run(self) -> None:
        n_steps, dt = self.resolved.n_steps, self.resolved.dt
        k = 0
        while k < n_steps:
            k1 = min(n_steps, k + self.chunk_steps)
            inputs = {self.layer_name[name]: self._input_chunk(name, k, k1) for name in self.resolved.sources}
            # Network.run steps int(time / dt) times: half a step more keeps float rounding out of it.
            self.bn_net.run(inputs=inputs, time=(k1 - k + 0.5) * dt)
            for rec in self.recorders.values():
                rec.flush()
            k = k1
        self._sync()
        if self.device.type == "cuda":
            self.info["gpu_peak_bytes"] = int(self.torch.cuda.max_memory_allocated(self.device))

    # ------------------------------------------------------------------ the template's hooks: collect

    def read_spikes(self, name, pop):
        steps, index = self.recorders[name].spikes()
        return index, (steps + 1) * self.resolved.dt  # a spike in step k is stamped at the end of the step

    def read_v(self, name, pop):
        v = self.recorders[name].voltages()
        return np.arange(1, v.shape[0] + 1) * self.resolved.dt, v

    def synapse_count(self, label: str) -> int:
        return self.synapses.get(label, 0)

    def close(self) -> None:
        for attr in ("bn_net", "layers", "recorders"):
            if hasattr(self, attr):
                delattr(self, attr)
        if getattr(self, "device", None) is not None and self.device.type == "cuda":
            self.torch.cuda.empty_cache()


if __name__ == "__main__" and sys.argv[1:] == ["--probe"]:
    _torch, _bn, _workaround = import_bindsnet()
    print(f"torch {_torch.__version__}" + (", torchvision workaround applied" if _workaround else ""))
