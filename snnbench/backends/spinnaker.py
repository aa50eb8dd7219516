"""spinnaker: the scenario through sPyNNaker (PyNN 0.13 on SpiNNaker), on a board or a virtual board.

Where it runs
    With a SpiNNaker machine configured (`--spinnaker-host HOST`, `--spalloc URL`, i.e. the
    backend options `spinnaker_host` / `spalloc`, or `machine_name` / `spalloc_server` in the
    user's own sPyNNaker cfg), the network is mapped, loaded and run on the machine and spikes
    come back: an ordinary run that can be validated.

    Without one, sPyNNaker runs on a *virtual board* (`[Machine] virtual_board = True`,
    `version = 5`, a 48-chip board that the virtual machine grows to fit). Setup, partitioning,
    placement, routing, key allocation, routing-table generation and data specification writing
    really run on the host; loading, the on-chip expanders, running and extraction are skipped
    and `get_data` returns empty spike trains. `snnbench list` then says "virtual board (no
    SpiNNaker machine configured)".

The cfg never touches the user's home
    sPyNNaker reads `.spynnaker.cfg` from XDG_CONFIG_DIRS' first entry (/etc/xdg), the user
    config dir (XDG_CONFIG_HOME) and HOME, and writes a template into HOME when it finds none.
    `load()` writes the run's own cfg into `<run dir>/spinnaker/home/.spynnaker.cfg` and points
    HOME, XDG_CONFIG_HOME and XDG_CONFIG_DIRS into `<run dir>/spinnaker/` before importing
    sPyNNaker (`close()` restores them). The run dir is the option `run_dir`, by default the
    process's working directory: for a measured run the runner's fresh per-run work dir (the
    child's cwd, removed after the run). sPyNNaker's `reports/` goes to
    `<run dir>/spinnaker/reports` (`[Reports] default_report_file_path`). The user's own cfg, if
    any, is read (never written) and copied into the run's cfg, [Machine] target keys replaced.

Phases and what is measured where (the record)
    build   sim.setup (sPyNNaker's "In Setup"), Populations and Projections (graph only).
    sim     sim.run(): with PyNN, mapping and loading happen inside run(), so the sim phase's wall
            time is sPyNNaker's Mapping + Loading + Running stages. On a virtual board that is
            host-side mapping and data generation only: nothing runs.
    record["phases"]["sim"]["stages"] and record["phases"]["build"]["stages"]: sPyNNaker's own
            timers, read from its provenance database (reports/<timestamp>/global_provenance.sqlite3,
            tables category_timer_provenance and timer_provenance): per category ("Mapping
            Stage", "Loading Stage", "Running Stage", "In run other"; "In Setup" under build)
            {"wall_s": ..., "steps": {algorithm: s}} for the algorithms that ran (e.g. "Graph data
            specification writer" under "Loading Stage"). Measured, in seconds.
    record["estimates"] (virtual board only): the on-board phases (loading, running, extraction)
            from the model below, labelled as an estimate; never stored as a phase.
    record["validation"] (virtual board only): {"possible": False, "why": ...}.
    Spikes: on a virtual board every population's `recorded` is empty (no data came back), so
            rates are None ("n/a (virtual board)" in `snnbench run`), never 0 Hz.

Translations (each recorded in the run record)
    timestep        setup(timestep=dt) at the scenario's dt (sPyNNaker wants whole microseconds).
    time_scale_factor  option `time_scale_factor`, default round(1 ms / dt) (10 at 0.1 ms): one
                    simulated step per 1 ms of wall clock, the tick sPyNNaker's neuron cores are
                    designed for. sPyNNaker 7.4.1 itself would default to 1 (100 us ticks) at
                    0.1 ms; older releases defaulted to 10, which is what the board figures the
                    estimate is calibrated on were (as far as we know) run with.
    delays          put on the dt grid, nearest step, at least one step (sPyNNaker rounds with
                    numpy.rint too; min_delay = dt).
    neurons per core  option `neurons_per_core`, default 256 (sPyNNaker's default for its neuron
                    models), set with set_number_of_neurons_per_core for every cell type used.
    weights         16-bit fixed point per synapse, scaled into the neurons' s1615 input by a
                    per-population, per-receptor ring-buffer shift chosen by sPyNNaker; the
                    resolution (1 / weight scale, in the weight's PyNN unit) is recorded after mapping.
    random numbers  sPyNNaker rejects seeded NumpyRNGs in connectors and synapse distributions;
                    each Population gets `seed=` (derived from the run's seed and its name) and
                    sPyNNaker draws connectivity, weights, delays and Poisson spikes from it.
                    Initial v is drawn by the harness from the run's seed and given as arrays.
    OneToOneConnector  only between whole populations (sPyNNaker 7.4.1 fails with a
                    PopulationView); this adapter never makes projections from views.

Estimate of the board phases (virtual board only; see `board_estimate`)
    on_board_s = load_s + run_s + extract_s
    run_s      = simtime / 1000 x time_scale_factor            (exact, by definition of the factor)
    load_s     = LOAD_S_PER_NEURON x N                           (boot, loading, expanders)
    extract_s  = EXTRACT_S_PER_NEURON_PER_S x N x simtime / 1000 (reading recordings back)
    Calibrated on the measurements the project started from (OpSNN: PyNN on a SpiNNaker board,
    1000 cells, 1 s simulated: 66-68 s sim-phase wall time, i.e. 67 s): 67 s - 10 s running
    (time_scale_factor 10 assumed) = 57 ms per neuron, split between load and extraction in the
    ratio of the terms of the OpSNN cost fit for SpiNNaker's sim phase (T = 24.5 N + 6.5 N
    simtime / 1000 ms; docs/backends.md): 24.5 : 6.5. One calibration point: an order of magnitude,
    not a prediction; host-side mapping and data generation are measured, not modelled.
"""

from __future__ import annotations

import configparser
import importlib.util
import math
import os
import sqlite3
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from ..scenario.realise import rng_for, sample
from ..scenario.resolve import ResolvedScenario, expected_connections
from ._pynn_common import PyNNBackend, to_ms
from .base import Option

CFG_NAME = ".spynnaker.cfg"
DEFAULT_VERSION = 5  # a 48-chip SpiNN-5 board; the virtual machine grows to fit
DEFAULT_NEURONS_PER_CORE = 256
VIRTUAL_BOARD = "virtual board (no SpiNNaker machine configured)"
NO_BOARD_WHY = (
    "not possible without a board: sPyNNaker runs on a virtual board (no SpiNNaker machine "
    "configured; pass --spinnaker-host HOST or --spalloc URL, or set machine_name / spalloc_server in your "
    "~/.spynnaker.cfg). A virtual board maps the network and generates its data but runs nothing, so no "
    "spikes come back."
)

# The board estimate's constants (see the module docstring).
CALIBRATION = {
    "source": "OpSNN measurements, PyNN on a SpiNNaker board: 66-68 s sim-phase wall time for 1000 cells, "
              "1 s simulated (the figures this project started from); load/extract split in the ratio of the "
              "OpSNN SpiNNaker sim-phase fit T = 24.5 N + 6.5 N simtime/1000 ms (docs/backends.md)",
    "N": 1000, "simtime_ms": 1000.0, "sim_wall_s": 67.0, "time_scale_factor_assumed": 10,
}
_PER_NEURON_S = (CALIBRATION["sim_wall_s"] - CALIBRATION["simtime_ms"] / 1000 * CALIBRATION["time_scale_factor_assumed"]) / CALIBRATION["N"]
LOAD_S_PER_NEURON = _PER_NEURON_S * 24.5 / 31.0  # 0.04505 s
EXTRACT_S_PER_NEURON_PER_S = _PER_NEURON_S * 6.5 / 31.0  # 0.01195 s per neuron per simulated second

# Machine keys that say where sPyNNaker runs; replaced in the run's cfg (compared in
# sPyNNaker's normalised form: lower case, no underscores, so machineName == machine_name).
_TARGET_KEYS = {"machinename", "spallocserver", "virtualboard", "width", "height", "remotespinnakerurl", "jsonpath"}
_SIM_CATEGORIES = ("Mapping Stage", "Loading Stage", "Running Stage", "In run other")


def _norm(key: str) -> str:
    return key.lower().replace("_", "")


def _none(value: str | None) -> str | None:
    return None if value is None or value.strip() in ("", "None") else value.strip()


# ------------------------------------------------------------------ where sPyNNaker runs


def user_cfg_files(env: dict[str, str] | None = None) -> list[Path]:
    """The user's own sPyNNaker cfg files that exist, where sPyNNaker looks (site, user config, home)."""
    env = dict(os.environ if env is None else env)
    home = Path(env.get("HOME") or os.path.expanduser("~"))
    site = (env.get("XDG_CONFIG_DIRS") or "/etc/xdg").split(os.pathsep)[0]
    user = env.get("XDG_CONFIG_HOME") or str(home / ".config")
    return [p for p in (Path(site) / CFG_NAME, Path(user) / CFG_NAME, home / CFG_NAME) if p.is_file()]


def read_user_cfg(env: dict[str, str] | None = None) -> configparser.ConfigParser:
    """The user's sPyNNaker cfg (read, never written), keys as written."""
    cfg = configparser.ConfigParser(interpolation=None)
    cfg.optionxform = str  # keep the user's spelling
    for path in user_cfg_files(env):
        cfg.read(path)
    return cfg


def _machine_get(cfg: configparser.ConfigParser, key: str) -> str | None:
    if not cfg.has_section("Machine"):
        return None
    for k, v in cfg.items("Machine"):
        if _norm(k) == _norm(key):
            return _none(v)
    return None


def machine_target(options: dict[str, Any] | None, user_cfg: configparser.ConfigParser | None = None) -> dict[str, Any]:
    """Where sPyNNaker will run: {"kind": "board" | "spalloc" | "virtual", ...}.

    Options first (`spinnaker_host`, `spalloc`, `spinnaker_version`), then the user's cfg
    (machine_name or spalloc_server, unless it asks for a virtual board), else a virtual board.
    """
    options = options or {}
    cfg = user_cfg if user_cfg is not None else read_user_cfg()
    host, spalloc = _none(options.get("spinnaker_host")), _none(options.get("spalloc"))
    if host and spalloc:
        raise ValueError("give either a SpiNNaker host (--spinnaker-host) or a spalloc server (--spalloc), not both")
    version = options.get("spinnaker_version") or _machine_get(cfg, "version") or DEFAULT_VERSION
    if host:
        return {"kind": "board", "machine_name": str(host), "version": int(version), "from": "options"}
    if spalloc:
        return {"kind": "spalloc", "spalloc_server": str(spalloc), "version": int(version), "from": "options"}
    virtual = (_machine_get(cfg, "virtual_board") or "False").lower() in ("true", "1", "yes", "on")
    if not virtual:
        if _machine_get(cfg, "machine_name"):
            return {"kind": "board", "machine_name": _machine_get(cfg, "machine_name"), "version": int(version),
                    "from": "user cfg"}
        if _machine_get(cfg, "spalloc_server"):
            return {"kind": "spalloc", "spalloc_server": _machine_get(cfg, "spalloc_server"), "version": int(version),
                    "from": "user cfg"}
    return {"kind": "virtual", "version": int(version), "from": "user cfg" if virtual else "default"}


def describe_target(target: dict[str, Any]) -> str:
    if target["kind"] == "board":
        return f"SpiNNaker board {target['machine_name']} (version {target['version']})"
    if target["kind"] == "spalloc":
        return f"spalloc server {target['spalloc_server']}"
    return VIRTUAL_BOARD


def cfg_text(target: dict[str, Any], run_dir: Path, user_cfg: configparser.ConfigParser | None = None) -> str:
    """The run's .spynnaker.cfg: the user's cfg (if any) with the target set and sPyNNaker's reports
    in `run_dir`/reports."""
    cfg = configparser.ConfigParser(interpolation=None)
    cfg.optionxform = str
    if user_cfg is not None:
        cfg.read_dict({s: dict(user_cfg.items(s)) for s in user_cfg.sections()})
    for section in ("Machine", "Reports"):
        if not cfg.has_section(section):
            cfg.add_section(section)
    for key in list(cfg["Machine"]):
        if _norm(key) in _TARGET_KEYS | {"version"}:
            del cfg["Machine"][key]
    for key in list(cfg["Reports"]):
        if _norm(key) == "defaultreportfilepath":
            del cfg["Reports"][key]
    machine = cfg["Machine"]
    if target["kind"] == "virtual":
        machine["virtual_board"] = "True"
    elif target["kind"] == "board":
        machine["machine_name"] = target["machine_name"]
    else:
        machine["spalloc_server"] = target["spalloc_server"]
    machine["version"] = str(target["version"])
    cfg["Reports"]["default_report_file_path"] = str(Path(run_dir).resolve())  # sPyNNaker adds reports/
    lines = ["# Written by snnbench for one run (snnbench/backends/spinnaker.py); not the user's cfg.\n"]
    for section in cfg.sections():
        lines.append(f"[{section}]\n")
        lines.extend(f"{k} = {v}\n" for k, v in cfg[section].items())
        lines.append("\n")
    return "".join(lines)


# ------------------------------------------------------------------ sPyNNaker's own timers


def read_provenance(db_path: str | Path) -> dict[str, Any]:
    """Category and algorithm timers from sPyNNaker's global_provenance.sqlite3, in seconds.

    {"categories": {category: {"wall_s": s, "steps": {algorithm: s}}}, "skipped": {algorithm: reason}};
    a category or algorithm that occurs several times is summed; skipped algorithms are listed, not timed.
    """
    con = sqlite3.connect(f"file:{Path(db_path).resolve()}?mode=ro", uri=True)
    try:
        categories: dict[str, dict[str, Any]] = {}
        for category, ms in con.execute("SELECT category, time_taken FROM category_timer_provenance ORDER BY category_id"):
            c = categories.setdefault(category, {"wall_s": 0.0, "steps": {}})
            c["wall_s"] += (ms or 0.0) / 1000.0
        skipped: dict[str, str] = {}
        rows = con.execute(
            "SELECT c.category, t.algorithm, t.time_taken, t.skip_reason FROM timer_provenance t "
            "JOIN category_timer_provenance c ON t.category_id = c.category_id ORDER BY t.timer_id")
        for category, algorithm, ms, skip in rows:
            if skip:
                skipped.setdefault(algorithm, skip)
                continue
            steps = categories.setdefault(category, {"wall_s": 0.0, "steps": {}})["steps"]
            steps[algorithm] = steps.get(algorithm, 0.0) + (ms or 0.0) / 1000.0
    finally:
        con.close()
    return {"categories": categories, "skipped": skipped}


def board_estimate(n_neurons: int, simtime_ms: float, time_scale_factor: float, host_s: float | None) -> dict[str, Any]:
    """The on-board phases a virtual board cannot measure, from the model in the module docstring."""
    sim_s = simtime_ms / 1000.0
    run_s = sim_s * time_scale_factor
    load_s = LOAD_S_PER_NEURON * n_neurons
    extract_s = EXTRACT_S_PER_NEURON_PER_S * n_neurons * sim_s
    on_board = load_s + run_s + extract_s
    out = {
        "label": "ESTIMATE, not measured: no SpiNNaker machine; on-board phases from a model calibrated on published figures",
        "model": "on_board_s = load_s + run_s + extract_s; run_s = simtime x time_scale_factor; "
                 "load_s = a N; extract_s = b N simtime",
        "constants": {"a_load_s_per_neuron": LOAD_S_PER_NEURON, "b_extract_s_per_neuron_per_s": EXTRACT_S_PER_NEURON_PER_S,
                      "time_scale_factor": time_scale_factor},
        "calibration": CALIBRATION,
        "inputs": {"N": n_neurons, "simtime_ms": simtime_ms},
        "phases": {"load_s": load_s, "run_s": run_s, "extract_s": extract_s, "on_board_s": on_board},
    }
    if host_s is not None:
        out["sim_phase_with_board_s"] = host_s + on_board
        out["sim_phase_with_board_note"] = ("the host stages measured here (sPyNNaker's Mapping, Loading, Running and "
                                            "other run stages on the virtual board) + the estimated on-board phases")
    return out


# ------------------------------------------------------------------ the adapter


class SpiNNakerBackend(PyNNBackend):
    name = "spinnaker"
    title = "sPyNNaker (SpiNNaker)"
    distribution = "sPyNNaker"
    module = "spynnaker"
    install_hint = "pip install 'snnbench[spinnaker]' (sPyNNaker==1!7.4.1)"
    where = "SpiNNaker (a virtual board when none is configured: host-side mapping and data generation only)"
    runs_on = ("board",)
    packages = ("sPyNNaker", "SpiNNFrontEndCommon", "SpiNNaker_PACMAN", "SpiNNMan", "pynn")
    # sPyNNaker 1!7.4.1: what its models lack for PyNN's other standard cell types
    cell_type_refusals = {
        "GLIF_curr_alpha": "sPyNNaker 1!7.4.1 has no GLIF cell (no binary with glif_psc's after-spike currents, "
                           "threshold components and numbered receptor ports)",
        "IF_curr_alpha": "sPyNNaker's IF_curr_alpha exists, but its spikes and v have not been compared with NEST's "
                         "iaf_psc_alpha (no board here: sPyNNaker returns no spike data without one)",
        "IF_cond_alpha": "sPyNNaker 1!7.4.1 raises SpynnakerException for IF_cond_alpha (no alpha-conductance binary)",
        "IF_curr_delta": "sPyNNaker's IF_curr_delta takes a weight as an input current scaled by the time step "
                         "(its InputTypeDelta), where PyNN's steps v by the weight in mV",
        "EIF_cond_exp_isfa_ista": "sPyNNaker 1!7.4.1 has no adaptive exponential cell with exponential conductances "
                                  "(only EIF_cond_alpha_isfa_ista, which raises SpynnakerException)",
        "Izhikevich": "sPyNNaker's Izhikevich has exponentially decaying synaptic currents (IzkCurrExpBase), "
                      "where PyNN's steps v by the weight (delta synapses)",
        "HH_cond_exp": "sPyNNaker 1!7.4.1 raises SpynnakerException for HH_cond_exp (no Hodgkin-Huxley binary)",
    }
    accepted_options = (
        Option("spinnaker_host", str, None, "a SpiNNaker board's host name or IP address (--spinnaker-host); "
               "default: the user's sPyNNaker cfg, else a virtual board"),
        Option("spalloc", str, None, "a spalloc server to allocate boards from (--spalloc)"),
        Option("spinnaker_version", int, None, f"the board version; default: the user's cfg, else {DEFAULT_VERSION}"),
        Option("time_scale_factor", int, None, "wall-clock slow-down of the simulation; default round(1 ms / dt) "
               "(10 at dt 0.1 ms)", minimum=1),
        Option("neurons_per_core", int, DEFAULT_NEURONS_PER_CORE, "at most this many neurons per core, every cell type",
               minimum=1),
        Option("run_dir", str, None, "where the run's sPyNNaker cfg, HOME and reports go; default: the working "
               "directory (a measured run's own, removed after it)"),
    )
    delay_grid_by = "sPyNNaker"
    one_spike_per_step = "cannot be checked here to deliver several spikes of one source in one step (no board)"
    max_threads = 1  # the host side is one Python process
    source_types: ClassVar[tuple[str, ...]] = ("SpikeSourcePoisson", "SpikeSourceArray")

    @classmethod
    def available(cls) -> tuple[bool, str]:
        ok, why = super().available()
        if not ok:
            return ok, why
        if importlib.util.find_spec("pyNN") is None:
            return False, f"sPyNNaker needs PyNN: the Python package 'pynn' is not installed; {cls.install_hint}"
        try:
            target = machine_target({})
        except (ValueError, configparser.Error) as exc:
            return False, f"the sPyNNaker cfg cannot be read: {exc}"
        return True, f"{why}, {describe_target(target)}"

    @classmethod
    def validation_possible(cls, options: dict[str, Any] | None = None) -> tuple[bool, str]:
        if machine_target(options)["kind"] == "virtual":
            return False, NO_BOARD_WHY
        return True, ""

    # ------------------------------------------------------------------ load: the run's own cfg and HOME

    def load(self) -> None:
        user_cfg = read_user_cfg()  # before HOME moves: the user's own cfg
        self.target = machine_target(self.options, user_cfg)
        self.virtual = self.target["kind"] == "virtual"
        base = Path(self.option("run_dir") or os.getcwd()).resolve() / "spinnaker"
        home = base / "home"
        self.reports_dir = base / "reports"  # sPyNNaker writes <default_report_file_path>/reports/<timestamp>
        for d in (home, base / "xdg-config", base / "xdg-site"):
            d.mkdir(parents=True, exist_ok=True)
        self.cfg_path = home / CFG_NAME
        self.cfg_path.write_text(cfg_text(self.target, base, user_cfg))
        self._saved_env = {k: os.environ.get(k) for k in ("HOME", "XDG_CONFIG_HOME", "XDG_CONFIG_DIRS")}
        os.environ.update(HOME=str(home), XDG_CONFIG_HOME=str(base / "xdg-config"), XDG_CONFIG_DIRS=str(base / "xdg-site"))
        import pyNN.spiNNaker as sim
        from pyNN.random import RandomDistribution

        self.sim, self.RandomDistribution = sim, RandomDistribution
        self.info.update(machine=describe_target(self.target), machine_from=self.target["from"], cfg=str(self.cfg_path))
        if self.virtual:
            self.validation = {"possible": False, "why": NO_BOARD_WHY}
            self.info["spike_data"] = "none: virtual board"

    # ------------------------------------------------------------------ the template's hooks: build

    def setup(self, resolved: ResolvedScenario) -> None:
        super().setup(resolved)
        sim = self.sim
        dt = resolved.dt
        step_us = dt * 1000.0
        if abs(step_us - round(step_us)) > 1e-6:
            raise ValueError(f"sPyNNaker needs a timestep in whole microseconds; dt = {dt} ms is not")
        self.time_scale_factor = int(self.option("time_scale_factor") or max(1, round(1.0 / dt)))
        sim.setup(timestep=dt, min_delay=dt, time_scale_factor=self.time_scale_factor)
        self.translate("timestep", f"sPyNNaker at the scenario's dt = {dt:g} ms ({round(step_us)} us) with "
                       f"time_scale_factor {self.time_scale_factor}: {dt * self.time_scale_factor:g} ms of wall clock per "
                       f"step, {self.time_scale_factor:g}x slower than real time (sPyNNaker 7.4.1 alone would choose "
                       f"{max(1, math.ceil(step_us / 10000.0))})",
                       dt_ms=dt, time_scale_factor=self.time_scale_factor)
        per_core = int(self.option("neurons_per_core"))
        for cell_type in sorted({p.cell_type for p in resolved.cells.values()}):
            sim.set_number_of_neurons_per_core(getattr(sim, cell_type), per_core)
        self.translate("neurons_per_core", f"at most {per_core} neurons per core for every cell type (sPyNNaker's "
                       "default is 256; the option neurons_per_core changes it)", neurons_per_core=per_core)
        self.translate("random numbers", "sPyNNaker rejects seeded NumpyRNGs: each Population gets its own seed, "
                       "derived from the run's seed and its name; sPyNNaker draws connectivity, weights, delays and "
                       "Poisson spikes from the postsynaptic (or source) population's seed; initial v is drawn by "
                       "the harness from the run's seed")
        self.info.update(time_scale_factor=self.time_scale_factor, neurons_per_core=per_core)

    def finish_build(self) -> None:
        dt = self.resolved.dt
        self.translate("delay", f"sPyNNaker's delays are whole steps of {dt:g} ms (min_delay = dt); each is put on the "
                       "grid at its nearest step, at least one (a separate entry names any projection where that "
                       "changed a delay); delays beyond the synapse core's 16 steps go through delay-extension cores",
                       grid_ms=dt)

    def _rng(self, *keys: str):
        """None: sPyNNaker draws random items from the populations' seeds (see `setup`)."""
        return None

    def _seed(self, name: str) -> int:
        return int(rng_for(self.resolved.seed, self.name, "population", name).integers(1, 2**31 - 1))

    def _population_kwargs(self, name: str) -> dict[str, Any]:
        return {"additional_parameters": {"seed": self._seed(name)}}

    def _initial_v(self, v_init, name: str):
        # sPyNNaker takes no seeded RandomDistribution: a distribution is sampled by the harness.
        if isinstance(v_init, (np.ndarray, int, float)):
            return v_init
        return sample(v_init, rng_for(self.resolved.seed, self.name, "v_init", name), self.resolved.populations[name].size)

    def create_poisson_source(self, name, pop) -> bool:
        sim = self.sim
        self.translate("SpikeSourcePoisson", f"{name}: sPyNNaker's on-core Poisson generator, seeded from the "
                       "population's seed")
        self.pops[name] = sim.Population(pop.size, sim.SpikeSourcePoisson(**self._poisson_parameters(pop)), label=name,
                                         **self._population_kwargs(name))
        return True

    def create_array_source(self, name, pop, steps) -> None:
        sim, dt = self.sim, self.resolved.dt
        times = [list(np.asarray(s, dtype=float) * dt) for s in steps]
        self.pops[name] = sim.Population(pop.size, sim.SpikeSourceArray(spike_times=times), label=name,
                                         **self._population_kwargs(name))

    # ------------------------------------------------------------------ run, collect

    def run(self) -> None:
        self.sim.run(self.resolved.simtime)

    def _after_run(self) -> None:
        """What the mapping decided and what sPyNNaker's timers measured (read once, after run)."""
        if getattr(self, "_read_after_run", False):
            return
        self._read_after_run = True
        self._record_weight_resolution()
        cores = {}
        for name, cells in self.pops.items():
            try:
                cores[name] = len(cells._vertex.machine_vertices)
            except Exception:  # noqa: BLE001 - information only
                pass
        self.info["machine_vertices"] = cores
        from spinn_front_end_common.data import FecDataView

        db = Path(FecDataView.get_timestamp_dir_path()) / "global_provenance.sqlite3"
        self.info["provenance_db"] = str(db)
        prov = read_provenance(db)
        cats = prov["categories"]
        self.phase_stages["sim"] = {c: cats[c] for c in _SIM_CATEGORIES if c in cats}
        if "In Setup" in cats:
            self.phase_stages["build"] = {"In Setup": cats["In Setup"]}
        if self.virtual:
            self.info["skipped_on_virtual_board"] = sorted(a for a, why in prov["skipped"].items() if why == "virtual_board")
            host_s = sum(v["wall_s"] for v in self.phase_stages["sim"].values())
            n = sum(p.size for p in self.resolved.cells.values())
            self.estimates = board_estimate(n, self.resolved.simtime, self.time_scale_factor, host_s)

    def _record_weight_resolution(self) -> None:
        receptors = ("excitatory", "inhibitory")
        for name in self.resolved.cells:
            vertex = self.pops[name]._vertex
            try:
                scales = vertex.get_weight_scales(vertex.get_ring_buffer_shifts())
            except Exception as exc:  # noqa: BLE001 - the figure is information; its absence is said
                self.translate("weights", f"{name}: 16-bit fixed-point weights (resolution not readable: {exc})")
                continue
            unit = "uS" if "cond" in self.resolved.populations[name].cell_type else "nA"
            res = {r: float(1.0 / s) for r, s in zip(receptors, scales)}
            self.translate("weights", f"{name}: weights as 16-bit fixed point scaled into s1615 inputs; resolution "
                           + ", ".join(f"{r} {v:.3g} {unit}" for r, v in res.items()),
                           resolution=res, unit=unit)

    # ------------------------------------------------------------------ the template's hooks: collect

    def before_collect(self) -> None:
        super().before_collect()
        self._after_run()
        self.has_output = not self.virtual
        if self.virtual:
            self.translate("spikes", "virtual board: nothing ran, sPyNNaker returned empty spike trains; recorded "
                           "populations are reported with no recorded cells (rates n/a, not 0 Hz)")
        self.translate("synapses", "synapse counts are the realised counts in exact mode, else the scenario's expected "
                       "counts: sPyNNaker draws native connectivity on the board's cores (not at all on a virtual "
                       "board), and Projection.size() would read every synapse back from the machine")
        self._synapse_counts = self._expected_synapses()

    def read_spikes(self, name, pop):
        idx, times = [np.empty(0, np.int64)], [np.empty(0)]
        for st in self._segment(name).spiketrains:
            idx.append(np.full(len(st), int(st.annotations["source_index"]), dtype=np.int64))
            times.append(np.asarray(st.magnitude, dtype=float) * to_ms(st))
        return np.concatenate(idx), np.concatenate(times)

    def read_v(self, name, pop):
        sig = next(s for s in self._segment(name).analogsignals if s.name == "v")
        self.translate("v_times", f"{name}: v sample times as sPyNNaker returns them (not re-aligned; "
                       "unchecked against snnbench's k*dt convention without a board)")
        order = np.argsort(np.asarray(sig.array_annotations["channel_index"], dtype=np.int64), kind="stable")
        return np.asarray(sig.times.rescale("ms").magnitude, dtype=float), np.asarray(sig.rescale("mV").magnitude, dtype=float)[:, order]

    def synapse_count(self, label: str) -> int:
        return self._synapse_counts[label]

    def _expected_synapses(self) -> dict[str, int]:
        """Synapses per projection when the board that draws them is virtual: the realised counts in
        exact mode (the lists handed over), else the scenario's expected counts."""
        if self.exact:
            return {p.label: int(p.size) for p in self.network.projections}
        counts = {}
        for proj in self.resolved.projections:
            n_pre, n_post = self.resolved.populations[proj.pre].size, self.resolved.populations[proj.post].size
            counts[proj.label] = int(round(expected_connections(proj.connector, n_pre, n_post, proj.pre == proj.post)))
        return counts

    def close(self) -> None:
        if hasattr(self, "sim"):
            try:
                if hasattr(self, "resolved"):  # setup ran (in build)
                    self.sim.end()
            finally:
                for k, v in getattr(self, "_saved_env", {}).items():
                    if v is None:
                        os.environ.pop(k, None)
                    else:
                        os.environ[k] = v
