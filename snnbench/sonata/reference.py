"""The same SONATA network run by bmtk's pointnet (on the installed NEST), as a reference.

`run_pointnet` runs a simulation config in a fresh Python process (bmtk drives NEST's kernel,
which must not be shared with another run) and returns the spikes of each node type as a
SimulationOutput whose populations are named as snnbench names them, so that the statistics and
the equivalence protocol (snnbench.analysis) compare it with snnbench's runs directly.
`lgn_inputs` writes one Poisson spike file per seed with bmtk's own generator: a SONATA circuit
is fixed by its files, so the seed-to-seed spread the protocol needs comes from its inputs.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np

from ..output import PopulationOutput, SimulationOutput
from . import files as sf

_POINTNET = textwrap.dedent("""
    import sys
    from bmtk.simulator import pointnet
    conf = pointnet.Config.from_json(sys.argv[1])
    conf.build_env()
    net = pointnet.PointNetwork.from_config(conf)
    sim = pointnet.PointSimulator.from_config(conf, net)
    sim.run()
""")


def poisson_input(path: Path, population: str, n: int, rate_hz: float, duration_ms: float, seed: int) -> None:
    """A SONATA spike file of n Poisson trains (bmtk's PoissonSpikeGenerator)."""
    from bmtk.utils.reports.spike_trains import PoissonSpikeGenerator

    spikes = PoissonSpikeGenerator(population=population, seed=seed)
    spikes.add(node_ids=list(range(n)), firing_rate=rate_hz, times=(0.0, duration_ms / 1000.0))
    spikes.to_sonata(str(path))


def with_input(simulation: Path, folder: Path, inputs: dict[str, Path], tstop: float, dt: float) -> Path:
    """A copy of a simulation config (in `folder`) with other spike inputs, run length and output folder."""
    config = _absolute_paths(sf.read_config(simulation), simulation.parent)
    config["run"] = {**config.get("run", {}), "tstop": tstop, "dt": dt}
    config["inputs"] = {f"{pop}_spikes": {"input_type": "spikes", "module": "sonata", "input_file": str(file),
                                          "node_set": pop} for pop, file in inputs.items()}
    config["output"] = {"output_dir": str(folder / "output"), "spikes_file": "spikes.h5", "log_file": "log.txt",
                        "overwrite_output_dir": True}
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "simulation_config.json"
    path.write_text(json.dumps(config, indent=1))
    return path


_PATH_KEYS = ("network", "circuit", "node_sets_file")


def _absolute_paths(config, base: Path):
    """The config's relative file paths (`network`, `*_file`, `*_dir`, ...) made absolute from `base`,
    its own folder, so that a copy of it written elsewhere still names the same files."""
    if isinstance(config, dict):
        return {k: (str(sf.resolve_path(v, base)) if isinstance(v, str) and v and (k in _PATH_KEYS or k.endswith(("_file", "_dir")))
                    else _absolute_paths(v, base)) for k, v in config.items()}
    if isinstance(config, list):
        return [_absolute_paths(v, base) for v in config]
    return config


def run_pointnet(config: Path, scenario, timeout: float = 1800.0, cwd: Path | None = None) -> SimulationOutput:
    """Run `config` with bmtk's pointnet; the spikes per node type of `scenario`'s populations.
    `cwd`: the folder bmtk runs in, the original config's (bmtk reads a manifest's "." from the
    working directory, as its examples are run)."""
    proc = subprocess.run([sys.executable, "-c", _POINTNET, str(config)], capture_output=True, text=True, timeout=timeout,
                          cwd=cwd)
    if proc.returncode != 0:
        raise RuntimeError(f"bmtk pointnet failed ({proc.returncode}): {proc.stderr[-2000:]}")
    out = sf.read_config(config)["output"]
    from bmtk.utils.reports import SpikeTrains

    trains = SpikeTrains.load(str(Path(out["output_dir"]) / out["spikes_file"]))
    run = sf.read_config(config)["run"]
    pops = {}
    from .arrays import node_population

    for name, spec in scenario.cell_populations.items():
        origin = spec.sonata
        ids = node_population(origin).ids_of_type(origin.node_type_id)
        frame = trains.to_dataframe(populations=origin.population)
        node, times = frame["node_ids"].to_numpy().astype(np.int64), frame["timestamps"].to_numpy().astype(float)
        at = np.searchsorted(ids, node)
        inside = (at < ids.size) & (ids[np.minimum(at, ids.size - 1)] == node)
        pops[name] = PopulationOutput(name, ids.size, spec.cell_type, np.arange(ids.size, dtype=np.int64),
                                      at[inside], times[inside])
    return SimulationOutput(simtime=float(run["tstop"]), dt=float(run["dt"]), populations=pops, synapses={})


def compare_with_pointnet(simulation: Path, folder: Path, seeds: list[int], simtime: float, transient: float,
                          backends: tuple[str, ...] = ("nest", "numba"), lgn_rate: float | None = None,
                          dt: float = 0.1) -> dict:
    """Run one SONATA network with bmtk's pointnet and with snnbench's `backends`, each seed with
    its own Poisson input file for every input of the simulation config (same size and rate: the
    config's own file's, or `lgn_rate`); compare the per-node-type statistics with the
    equivalence protocol, bmtk as the reference. Returns the verdicts and the rates per node type."""
    from ..analysis.protocol import compare_statistical
    from ..analysis.statistics import run_statistics
    from ..io import read_outputs
    from ..runner import RunSpec, run_repeated
    from ..scenario import load_scenario
    from ..store import ResultStore

    base = sf.read_config(simulation)
    inputs = {}
    for spec in base.get("inputs", {}).values():
        pop = spec["node_set"]
        ids, times = sf.spike_input(sf.resolve_path(spec["input_file"], simulation.parent), pop)
        n = int(ids.max()) + 1 if ids.size else 0
        duration = float(times.max()) if times.size else simtime
        inputs[pop] = (n, lgn_rate if lgn_rate is not None else ids.size / max(n, 1) / (duration / 1000.0))
    ref, cand = [], {b: [] for b in backends}
    rates: dict[str, dict[str, list[float]]] = {}
    for seed in seeds:
        here = folder / f"seed{seed}"
        here.mkdir(parents=True, exist_ok=True)
        files = {}
        for pop, (n, rate) in inputs.items():
            files[pop] = here / f"{pop}_spikes.h5"
            poisson_input(files[pop], pop, n, rate, simtime, seed)
        config = with_input(simulation, here / "pointnet", files, simtime, dt)
        toml = here / "network.toml"
        toml.write_text(f'[scenario]\ntitle = "reference"\nsource = "bmtk pointnet reference"\n'
                        f"[run]\ndt = {dt}\nsimtime = {simtime}\nseed = {seed}\ntransient = {transient}\n"
                        f'[sonata]\nsimulation = "{config}"\n')
        scenario = load_scenario(toml)
        out = run_pointnet(config, scenario, cwd=simulation.parent)
        ref.append(run_statistics(out, transient))
        _add_rates(rates, "bmtk pointnet", out, transient)
        for backend in backends:  # each in a fresh process, measured and recorded, written as SONATA reports
            record = run_repeated(RunSpec(scenario=str(toml), backend=backend, connectivity="exact", format="sonata"),
                                  ResultStore(folder / "results"), 1)[0]
            if not record.ok:
                raise RuntimeError(f"{backend} failed on seed {seed}: {record.failure}")
            got = read_outputs(record.data.files)
            cand[backend].append(run_statistics(got, transient))
            _add_rates(rates, backend, got, transient)
    verdicts = {b: compare_statistical(ref, cand[b]) for b in backends}
    return {"verdicts": verdicts, "rates": rates}


def _add_rates(rates: dict, who: str, out: SimulationOutput, transient: float) -> None:
    for name, pop in out.populations.items():
        if not pop.cell_type.startswith("SpikeSource") and pop.recorded.size:
            rates.setdefault(name, {}).setdefault(who, []).append(pop.rate_hz(transient, out.simtime))
