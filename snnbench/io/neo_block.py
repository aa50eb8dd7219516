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
    """The arrays back from a Block written by `to_block` (for round trips and analysis)."""
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
