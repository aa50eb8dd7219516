"""SONATA output: a spike report and a membrane-potential report, in HDF5 (h5py).

What bmtk and NEST write, and what bmtk's readers (`bmtk.utils.reports`) and libsonata read:

    <stem>.spikes.h5   /spikes/<population>/timestamps   float64, attrs units = "ms"
                       /spikes/<population>/node_ids     uint64 (the cell's index in its population)
                       /spikes/<population> attrs sorting = "by_time"
    <stem>.v.h5        /report/<population>/data          float64 (samples, cells), attrs units = "mV"
                       /report/<population>/mapping/node_ids, element_ids (0: a point cell),
                       element_pos, index_pointer, time = [t_start, t_stop, dt] (attrs units = "ms")

Both files carry the SONATA magic and version attributes, and an `snnbench` attribute (JSON:
simtime, dt, the run's annotations and per population its size, cell type and which cells were
recorded), because a spike report alone cannot tell a silent recorded cell from an unrecorded one.
Times follow snnbench's convention (spikes stamped at the end of their step, v at k dt,
k = 1..n_steps), so `time` starts at dt.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from ..output import PopulationOutput, SimulationOutput

SPIKES_SUFFIX, V_SUFFIX = ".spikes.h5", ".v.h5"
_MAGIC = np.uint32(0x0A7A)  # SONATA's HDF5 magic number
_VERSION = np.array([0, 1], dtype=np.uint32)


def _meta(output: SimulationOutput, annotations: dict[str, Any]) -> str:
    return json.dumps({
        "simtime_ms": output.simtime, "dt_ms": output.dt, "annotations": annotations,
        "populations": {
            name: {"size": p.size, "cell_type": p.cell_type, "recorded": p.recorded.tolist()}
            for name, p in output.populations.items()
        },
    }, default=str)


def _stamp(h5, meta: str) -> None:
    h5.attrs["magic"] = _MAGIC
    h5.attrs["version"] = _VERSION
    h5.attrs["snnbench"] = meta


def write_sonata(output: SimulationOutput, stem: Path, annotations: dict[str, Any]) -> list[str]:
    """Write the spike report (always) and the membrane report (when v was recorded)."""
    import h5py

    meta = _meta(output, annotations)
    spikes_path = stem.with_name(stem.name + SPIKES_SUFFIX)
    with h5py.File(spikes_path, "w") as h5:
        _stamp(h5, meta)
        root = h5.create_group("spikes")
        root.attrs["sorting"] = "by_time"
        for name, pop in output.populations.items():
            order = np.argsort(pop.spike_time, kind="stable")
            group = root.create_group(name)
            group.attrs["sorting"] = "by_time"
            ts = group.create_dataset("timestamps", data=pop.spike_time[order].astype(np.float64))
            ts.attrs["units"] = "ms"
            group.create_dataset("node_ids", data=pop.spike_index[order].astype(np.uint64))
    files = [str(spikes_path)]
    with_v = {name: p for name, p in output.populations.items() if p.v.size}
    if with_v:
        v_path = stem.with_name(stem.name + V_SUFFIX)
        with h5py.File(v_path, "w") as h5:
            _stamp(h5, meta)
            for name, pop in with_v.items():
                group = h5.create_group(f"report/{name}")
                data = group.create_dataset("data", data=pop.v.astype(np.float64))
                data.attrs["units"] = "mV"
                k = pop.v_index.size
                mapping = group.create_group("mapping")
                mapping.create_dataset("node_ids", data=pop.v_index.astype(np.uint64))
                mapping.create_dataset("element_ids", data=np.zeros(k, dtype=np.uint64))
                mapping.create_dataset("element_pos", data=np.zeros(k, dtype=np.float64))
                mapping.create_dataset("index_pointer", data=np.arange(k + 1, dtype=np.uint64))
                step = float(pop.v_times[1] - pop.v_times[0]) if pop.v_times.size > 1 else output.dt
                time = mapping.create_dataset("time", data=np.array([pop.v_times[0], pop.v_times[-1] + step, step]))
                time.attrs["units"] = "ms"
        files.append(str(v_path))
    return files


def is_sonata(path: Path) -> bool:
    return path.name.endswith(SPIKES_SUFFIX) or path.name.endswith(V_SUFFIX)


def read_sonata(path: Path) -> SimulationOutput:
    """The arrays of a run written by `write_sonata` (either of its two files may be named)."""
    import h5py

    base = str(path)[: -len(V_SUFFIX)] if path.name.endswith(V_SUFFIX) else str(path)[: -len(SPIKES_SUFFIX)]
    spikes_path, v_path = Path(base + SPIKES_SUFFIX), Path(base + V_SUFFIX)
    with h5py.File(spikes_path, "r") as h5:
        meta = json.loads(h5.attrs["snnbench"])
        pops = {}
        for name, info in meta["populations"].items():
            group = h5["spikes"].get(name)
            index = group["node_ids"][()].astype(np.int64) if group is not None else np.empty(0, np.int64)
            times = group["timestamps"][()] if group is not None else np.empty(0)
            pops[name] = PopulationOutput(name, info["size"], info["cell_type"],
                                          np.asarray(info["recorded"], dtype=np.int64), index, times)
    if v_path.exists():
        with h5py.File(v_path, "r") as h5:
            for name, group in h5["report"].items():
                start, _stop, step = group["mapping/time"][()]
                pop = pops[name]
                pop.v = group["data"][()].astype(np.float64)
                pop.v_index = group["mapping/node_ids"][()].astype(np.int64)
                pop.v_times = start + step * np.arange(pop.v.shape[0])
    return SimulationOutput(simtime=meta["simtime_ms"], dt=meta["dt_ms"], populations=pops, synapses={})


def annotations_of(path: Path) -> dict[str, Any]:
    import h5py

    with h5py.File(path, "r") as h5:
        return json.loads(h5.attrs["snnbench"]).get("annotations") or {}
