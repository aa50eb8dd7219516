"""Writing and reading a run's spikes and membrane potentials.

Formats:
    pickle   neo Block, pickled (neo.io.PickleIO): what PyNN's write_data(.pkl) produces
    nix      neo Block in a NIX (HDF5) file (neo.io.NixIO, nixio): self-describing, slow to write
    parquet  Apache Parquet through pyarrow, columnar and fast: <stem>.spikes.parquet
             (population, index, time_ms) and <stem>.v.parquet (population, index, time_ms, v_mV)
    sonata   SONATA spike report <stem>.spikes.h5 and membrane report <stem>.v.h5 (HDF5 via h5py),
             as bmtk and NEST write them (snnbench/io/sonata.py)
    none     nothing written (the write phase then measures nothing)

The weights a scenario records on plastic projections (`SimulationOutput.weights`) are written
beside any of these as <stem>.weights.npz (`write_weights`, `read_weights`; numpy's format,
arrays named "<projection>::<field>").

`write` turns a SimulationOutput into files; its cost, including building the neo Block that
the neo formats need, is what the runner measures as the 'write' phase. `read_block` reads any
of them back as a neo Block; `read_output` reads a file back as arrays (also a file that the
pynn.nest backend wrote through PyNN), `read_outputs` several files of one run.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterable

import neo
import numpy as np

from ..output import PopulationOutput, SimulationOutput, WeightSamples
from . import sonata
from .neo_block import from_block, to_block

FORMATS = ("pickle", "nix", "parquet", "sonata", "none")
SUFFIXES = {"pickle": ".pkl", "nix": ".nix", "parquet": ".spikes.parquet", "sonata": sonata.SPIKES_SUFFIX}
WEIGHTS_SUFFIX = ".weights.npz"


def prepare(fmt: str) -> None:
    """Import what writing `fmt` needs, so that the write phase measures writing, not imports."""
    if fmt == "parquet":
        import io

        import pyarrow as pa
        import pyarrow.parquet as pq

        # pyarrow initialises lazily on its first write (~0.4 s here): pay that here, once.
        pq.write_table(pa.table({"x": pa.array(np.zeros(1))}), io.BytesIO())
    elif fmt == "sonata":
        import h5py  # noqa: F401
    elif fmt == "nix":
        import nixio  # noqa: F401
        import neo.io.nixio  # noqa: F401


def write(output: SimulationOutput, fmt: str, stem: str | Path, annotations: dict[str, Any] | None = None) -> list[str]:
    """Write `output` as `fmt` next to `stem` (a path without suffix); return the files written."""
    stem = Path(stem)
    stem.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "none":
        return []
    if fmt == "pickle":
        path = stem.with_name(stem.name + ".pkl")
        neo.io.PickleIO(str(path)).write_block(to_block(output, annotations))
        return [str(path)]
    if fmt == "nix":
        path = stem.with_name(stem.name + ".nix")
        if path.exists():
            path.unlink()
        io = neo.io.NixIO(str(path), mode="ow")
        try:
            io.write_block(to_block(output, annotations))
        finally:
            io.close()
        return [str(path)]
    if fmt == "parquet":
        return _write_parquet(output, stem, annotations or {})
    if fmt == "sonata":
        return sonata.write_sonata(output, stem, annotations or {})
    raise ValueError(f"unknown format {fmt!r}; expected one of: {', '.join(FORMATS)}")


def write_weights(output: SimulationOutput, stem: str | Path) -> list[str]:
    """The recorded weights as <stem>.weights.npz; no file when nothing was recorded."""
    if not output.weights:
        return []
    stem = Path(stem)
    path = stem.with_name(stem.name + WEIGHTS_SUFFIX)
    arrays = {f"{label}::{key}": value for label, samples in output.weights.items()
              for key, value in vars(samples).items() if value is not None}
    np.savez(path, **arrays)
    return [str(path)]


def read_weights(path: str | Path) -> dict[str, WeightSamples]:
    with np.load(path) as data:
        fields: dict[str, dict[str, np.ndarray]] = {}
        for name in data.files:
            label, key = name.rsplit("::", 1)
            fields.setdefault(label, {})[key] = data[name]
    return {label: WeightSamples(**f) for label, f in fields.items()}


def read_block(path: str | Path) -> neo.Block:
    path = Path(path)
    if path.suffix == ".pkl":
        return neo.io.PickleIO(str(path)).read_block()
    if path.suffix == ".nix":
        io = neo.io.NixIO(str(path), mode="ro")
        try:
            return io.read_block()
        finally:
            io.close()
    if path.name.endswith(".parquet"):
        return to_block(_read_parquet(path), _parquet_meta(path).get("annotations"))
    if sonata.is_sonata(path):
        return to_block(sonata.read_sonata(path), sonata.annotations_of(path))
    raise ValueError(f"cannot tell the format of {path}")


def read_output(path: str | Path) -> SimulationOutput:
    """The arrays of a written run, whatever its format."""
    path = Path(path)
    if path.name.endswith(".parquet"):
        return _read_parquet(path)
    if sonata.is_sonata(path):
        return sonata.read_sonata(path)
    return from_block(read_block(path))


def read_outputs(paths: Iterable[str | Path]) -> SimulationOutput:
    """The arrays of a run written as several files (the pynn.nest backend writes one per population;
    recorded weights are a file of their own)."""
    paths = [Path(p) for p in paths]
    outputs = [read_output(p) for p in paths if not p.name.endswith(WEIGHTS_SUFFIX)]
    if not outputs:
        raise ValueError("no files to read")
    populations = {name: pop for out in outputs for name, pop in out.populations.items()}
    weights = {label: w for p in paths if p.name.endswith(WEIGHTS_SUFFIX) for label, w in read_weights(p).items()}
    return SimulationOutput(simtime=outputs[0].simtime, dt=outputs[0].dt, populations=populations, synapses={}, weights=weights)


# ------------------------------------------------------------------------------ parquet


def _write_parquet(output: SimulationOutput, stem: Path, annotations: dict[str, Any]) -> list[str]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    meta = {
        "simtime_ms": output.simtime, "dt_ms": output.dt, "annotations": annotations,
        "populations": {
            name: {"size": p.size, "cell_type": p.cell_type, "recorded": p.recorded.tolist(), "v_index": p.v_index.tolist()}
            for name, p in output.populations.items()
        },
    }
    schema_meta = {b"snnbench": json.dumps(meta, default=str).encode()}
    names = list(output.populations)
    pops = list(output.populations.values())
    spikes = pa.table({
        "population": pa.DictionaryArray.from_arrays(
            np.repeat(np.arange(len(pops), dtype=np.int32), [p.n_spikes for p in pops]), pa.array(names)),
        "index": pa.array(np.concatenate([p.spike_index for p in pops]).astype(np.int32) if pops else np.empty(0, np.int32)),
        "time_ms": pa.array(np.concatenate([p.spike_time for p in pops]) if pops else np.empty(0)),
    }).replace_schema_metadata(schema_meta)
    spikes_path = stem.with_name(stem.name + ".spikes.parquet")
    pq.write_table(spikes, spikes_path, compression="snappy")
    files = [str(spikes_path)]
    with_v = [p for p in pops if p.v.size]
    if with_v:
        counts = [p.v.size for p in with_v]
        v = pa.table({
            "population": pa.DictionaryArray.from_arrays(
                np.repeat(np.arange(len(with_v), dtype=np.int32), counts), pa.array([p.name for p in with_v])),
            "index": pa.array(np.concatenate([np.tile(p.v_index, p.v.shape[0]) for p in with_v]).astype(np.int32)),
            "time_ms": pa.array(np.concatenate([np.repeat(p.v_times, p.v.shape[1]) for p in with_v])),
            "v_mV": pa.array(np.concatenate([p.v.reshape(-1) for p in with_v])),
        }).replace_schema_metadata(schema_meta)
        v_path = stem.with_name(stem.name + ".v.parquet")
        pq.write_table(v, v_path, compression="snappy")
        files.append(str(v_path))
    return files


def _parquet_meta(path: Path) -> dict[str, Any]:
    import pyarrow.parquet as pq

    return json.loads(pq.read_schema(path).metadata[b"snnbench"])


def _read_parquet(path: Path) -> SimulationOutput:
    import pyarrow.parquet as pq

    spikes_path = Path(str(path).replace(".v.parquet", ".spikes.parquet"))
    meta = _parquet_meta(spikes_path)
    table = pq.read_table(spikes_path)
    pop_col = table.column("population").combine_chunks()
    names = np.asarray(pop_col.dictionary.to_pylist(), dtype=object)
    codes = pop_col.indices.to_numpy()
    index = table.column("index").to_numpy().astype(np.int64)
    times = table.column("time_ms").to_numpy()
    v_path = Path(str(spikes_path).replace(".spikes.parquet", ".v.parquet"))
    v_table = pq.read_table(v_path) if v_path.exists() else None
    pops = {}
    for name, info in meta["populations"].items():
        code = np.nonzero(names == name)[0]
        mask = codes == code[0] if code.size else np.zeros(codes.size, bool)
        pop = PopulationOutput(
            name, info["size"], info["cell_type"], np.asarray(info["recorded"], dtype=np.int64), index[mask], times[mask]
        )
        if v_table is not None and info["v_index"]:
            col = v_table.column("population").combine_chunks()
            sel = np.asarray(col.dictionary.to_pylist(), dtype=object)[col.indices.to_numpy()] == name
            k = len(info["v_index"])
            pop.v = v_table.column("v_mV").to_numpy()[sel].reshape(-1, k)
            pop.v_times = v_table.column("time_ms").to_numpy()[sel][::k]
            pop.v_index = np.asarray(info["v_index"], dtype=np.int64)
        pops[name] = pop
    return SimulationOutput(simtime=meta["simtime_ms"], dt=meta["dt_ms"], populations=pops, synapses={})
