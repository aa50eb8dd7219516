"""SimulationOutput <-> neo.Block, laid out as PyNN's `get_data()` lays it out.

One Block, one Segment. Each recorded cell has a SpikeTrain annotated with `population` and
`source_index` (its index in the population); each population with recorded v has one
AnalogSignal named "v" (mV, one channel per cell, `source_index` as array annotation). A
neo Group per population gathers its trains and signals. Annotations are flat keyword values
(NIX turns nested dicts into strings).
"""

from __future__ import annotations

from typing import Any

import neo
import numpy as np
import quantities as pq
from neo.core.spiketrainlist import SpikeTrainList

from ..output import PopulationOutput, SimulationOutput


def _flat(annotations: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for key, value in annotations.items():
        if value is None:
            continue
        out[key] = value if isinstance(value, (str, int, float, bool)) else str(value)
    return out


def to_block(output: SimulationOutput, annotations: dict[str, Any] | None = None) -> neo.Block:
    block = neo.Block(name=str((annotations or {}).get("scenario", "snnbench")), **_flat(annotations or {}))
    block.annotate(simtime_ms=output.simtime, dt_ms=output.dt)
    segment = neo.Segment(name="run")
    block.segments.append(segment)
    ms, t_start = pq.ms, 0.0 * pq.ms
    all_trains = []
    for name, pop in output.populations.items():
        group = neo.Group(name=name, population=name, size=pop.size, cell_type=pop.cell_type)
        block.groups.append(group)
        trains = []
        for index, times in zip(pop.recorded, pop.trains()):
            t_stop = max(output.simtime, float(times[-1]) if times.size else 0.0) * ms
            train = neo.SpikeTrain(times, units=ms, t_start=t_start, t_stop=t_stop, population=name, source_index=int(index))
            train.segment = segment
            trains.append(train)
        # neo's list append checks identity against every earlier item (quadratic in the number
        # of cells); build the lists whole instead.
        group.spiketrains = SpikeTrainList(items=trains)
        all_trains += trains
        if pop.v.size:
            signal = neo.AnalogSignal(
                pop.v, units="mV", sampling_period=output.dt * ms, t_start=pop.v_times[0] * ms,
                name="v", population=name,
                array_annotations={"source_index": pop.v_index.astype(np.int64)},
            )
            segment.analogsignals.append(signal)
            group.add(signal)
    segment.spiketrains = SpikeTrainList(items=all_trains, parent=segment)
    return block


def from_block(block: neo.Block) -> SimulationOutput:
    """The arrays back from a Block written by `to_block` or by the pynn.nest backend (for round trips and analysis)."""
    if block.annotations.get("layout") == "pyNN":
        return _from_pynn_block(block)
    segment = block.segments[0]
    dt = float(block.annotations["dt_ms"])
    simtime = float(block.annotations["simtime_ms"])
    by_population: dict[str, list] = {}
    for st in segment.spiketrains:
        by_population.setdefault(st.annotations.get("population"), []).append(st)
    signals = {sig.annotations.get("population"): sig for sig in segment.analogsignals}
    pops: dict[str, PopulationOutput] = {}
    for group in block.groups:
        name = group.annotations["population"]
        trains = by_population.get(name, [])
        recorded = np.array([int(st.annotations["source_index"]) for st in trains], dtype=np.int64)
        index = np.repeat(recorded, [len(st) for st in trains]) if trains else np.empty(0, np.int64)
        times = np.concatenate([st.rescale("ms").magnitude for st in trains]) if trains else np.empty(0)
        pop = PopulationOutput(name, int(group.annotations["size"]), str(group.annotations["cell_type"]), recorded, index, times)
        sig = signals.get(name)
        if sig is not None:
            pop.v = np.asarray(sig.rescale("mV").magnitude)
            pop.v_times = np.asarray(sig.times.rescale("ms").magnitude)
            pop.v_index = np.asarray(sig.array_annotations["source_index"], dtype=np.int64)
        pops[name] = pop
    return SimulationOutput(simtime=simtime, dt=dt, populations=pops, synapses={})


def _from_pynn_block(block: neo.Block) -> SimulationOutput:
    """The arrays back from a Block written by PyNN's write_data (the pynn.nest backend).

    PyNN's layout: each SpikeTrain annotated with `source_population` and `source_index`; one
    AnalogSignal "v" per population, annotated with `source_population`, with a first sample at
    t = 0 (the initial value) and a `channel_index` array annotation (for an Assembly's file it
    counts across the Assembly: the sizes of the populations before are added). The backend adds
    flat annotations for what PyNN's file lacks: dt_ms, simtime_ms, the populations (in Assembly
    order) and per population its size, cell type and how many cells record spikes (the first n)
    and v. The t = 0 sample is dropped, as in snnbench's own convention (v at k*dt, k = 1..n_steps).
    """
    ann = block.annotations
    dt, simtime = float(ann["dt_ms"]), float(ann["simtime_ms"])
    names = [n for n in str(ann["populations"]).split(",") if n]
    segment = block.segments[0]
    trains: dict[str, list] = {}
    for st in segment.spiketrains:
        trains.setdefault(str(st.annotations.get("source_population")), []).append(st)
    signals = {str(sig.annotations.get("source_population")): sig for sig in segment.analogsignals if sig.name == "v"}
    pops: dict[str, PopulationOutput] = {}
    offset = 0
    for name in names:
        size = int(ann[f"size_{name}"])
        recorded = np.arange(int(ann[f"record_spikes_{name}"]), dtype=np.int64)
        sts = trains.get(name, [])
        index = np.repeat(np.array([int(st.annotations["source_index"]) for st in sts], dtype=np.int64),
                          [len(st) for st in sts]) if sts else np.empty(0, np.int64)
        times = np.concatenate([st.rescale(pq.ms).magnitude for st in sts]).astype(float) if sts else np.empty(0)
        pop = PopulationOutput(name, size, str(ann[f"cell_type_{name}"]), recorded, index, times)
        sig = signals.get(name)
        if sig is not None:
            t = np.asarray(sig.times.rescale("ms").magnitude, dtype=float)
            keep = t > 0.5 * dt
            channels = np.asarray(sig.array_annotations["channel_index"], dtype=np.int64) - offset
            order = np.argsort(channels, kind="stable")
            pop.v = np.asarray(sig.rescale("mV").magnitude, dtype=float)[keep][:, order]
            pop.v_times = t[keep]
            pop.v_index = channels[order]
        pops[name] = pop
        offset += size
    return SimulationOutput(simtime=simtime, dt=dt, populations=pops, synapses={})
