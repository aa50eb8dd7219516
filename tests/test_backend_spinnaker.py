"""spinnaker: the run's own cfg (never the user's home), virtual-board runs with sPyNNaker's own
stage timers, labelled board estimates, validation refused without a board, and the cfg written
for a board or a spalloc server (which cannot run here)."""

from __future__ import annotations

import configparser
import os
import subprocess
import sys
from pathlib import Path

import pytest

from snnbench import cli
from snnbench.backends import backend_class
from snnbench.runner import RunSpec, run_isolated
from snnbench.scenario import Overrides
from snnbench.store import ResultStore

from .conftest import ROOT, requires

pytestmark = requires("spynnaker", "sPyNNaker")

SMALL = Overrides(scale=0.05, simtime=50.0)  # VA COBA: 160 E + 40 I cells, 20 sources, 50 ms


def _spinnaker():
    from snnbench.backends import spinnaker

    return spinnaker


def _fake_home(tmp: Path) -> dict[str, str]:
    """Environment with HOME and the XDG config dirs in `tmp` (empty): no user cfg anywhere."""
    home = tmp / "home"
    home.mkdir(parents=True, exist_ok=True)
    return {"HOME": str(home), "XDG_CONFIG_HOME": str(home / ".config"), "XDG_CONFIG_DIRS": str(tmp / "etc-xdg")}


def _files_under(path: Path) -> list[str]:
    return sorted(str(p.relative_to(path)) for p in path.rglob("*"))


# ------------------------------------------------------------------ one virtual-board run, isolated


@pytest.fixture(scope="module")
def virtual_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("spinnaker")
    env = _fake_home(tmp)
    real_home_cfg = Path(os.path.expanduser("~")) / ".spynnaker.cfg"
    before = real_home_cfg.stat().st_mtime_ns if real_home_cfg.exists() else None
    store = ResultStore(tmp / "results")
    with pytest.MonkeyPatch.context() as mp:
        for k, v in env.items():
            mp.setenv(k, v)
        mp.setenv("PYTHONPATH", os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
        record = run_isolated(RunSpec("vogels-abbott-coba", backend="spinnaker", overrides=SMALL, timeout=600), store)
    after = real_home_cfg.stat().st_mtime_ns if real_home_cfg.exists() else None
    return {"record": record, "home": Path(env["HOME"]), "tmp": tmp, "store": store,
            "real_home_cfg": (before, after)}


def test_virtual_board_run_succeeds(virtual_run):
    r = virtual_run["record"]
    assert r["status"] == "ok", (r.get("failure") or {}).get("message")
    assert r["backend_info"]["machine"] == "virtual board (no SpiNNaker machine configured)"
    assert r["backend_info"]["machine_vertices"]["E"] >= 1


def test_nothing_is_written_into_home(virtual_run):
    assert _files_under(virtual_run["home"]) == []  # the HOME the run was started with stays empty
    before, after = virtual_run["real_home_cfg"]
    assert before == after  # the real home's cfg (absent or not) is untouched
    cfg = Path(virtual_run["record"]["backend_info"]["cfg"])
    assert not str(cfg).startswith(str(virtual_run["home"]))
    assert cfg.parent.name == "home" and cfg.parent.parent.name == "spinnaker"  # <run work dir>/spinnaker/home


def test_provenance_stages_are_measured_sub_phases(virtual_run):
    r = virtual_run["record"]
    stages = r["phases"]["sim"]["stages"]
    assert {"Mapping Stage", "Loading Stage", "Running Stage"} <= set(stages)
    assert all(s["wall_s"] > 0 for s in stages.values())
    assert stages["Mapping Stage"]["steps"]["Application Placer"] > 0
    assert stages["Loading Stage"]["steps"]["Graph data specification writer"] > 0
    # sPyNNaker's stages lie inside the sim phase that snnbench measured around sim.run()
    assert sum(s["wall_s"] for s in stages.values()) <= r["phases"]["sim"]["wall_s"] * 1.05
    assert r["phases"]["build"]["stages"]["In Setup"]["wall_s"] > 0
    assert "Application runner" in r["backend_info"]["skipped_on_virtual_board"]


def test_board_phases_are_estimates_kept_apart(virtual_run):
    r = virtual_run["record"]
    est = r["estimates"]
    assert est["label"].startswith("ESTIMATE, not measured")
    assert set(est["phases"]) == {"load_s", "run_s", "extract_s", "on_board_s"}
    assert est["phases"]["run_s"] == pytest.approx(0.050 * 10)  # 50 ms x time_scale_factor 10
    assert not set(r["phases"]) & {"load", "extract", "on_board"}  # never mixed with measured phases
    sp = _spinnaker()
    # the calibration point itself: 1000 cells, 1 s, time scale factor 10 -> 67 s
    assert sp.board_estimate(1000, 1000.0, 10, None)["phases"]["on_board_s"] == pytest.approx(67.0)


def test_validation_marked_impossible_and_rates_not_faked(virtual_run):
    r = virtual_run["record"]
    assert r["validation"]["possible"] is False and "without a board" in r["validation"]["why"]
    for name in ("E", "I"):
        assert r["populations"][name]["rate_hz"] is None and r["populations"][name]["recorded"] == 0
    assert r["synapses"] > 0  # expected counts, said so in a translation
    assert Path(r["data"]["files"][0]).exists()


def test_translations_recorded(virtual_run):
    t = {x["what"]: x for x in virtual_run["record"]["translations"]}
    assert t["timestep"]["dt_ms"] == 0.1 and t["timestep"]["time_scale_factor"] == 10
    assert t["delay"]["grid_ms"] == 0.1
    assert t["neurons_per_core"]["neurons_per_core"] == 256
    assert 0 < t["weights"]["resolution"]["excitatory"] < 1e-3 and t["weights"]["unit"] == "uS"
    assert {"random numbers", "spikes", "synapses"} <= set(t)


def test_summary_prints_stages_estimates_and_no_fake_rates(virtual_run, capsys):
    cli.print_summary([virtual_run["record"]], str(virtual_run["store"].root))
    out = capsys.readouterr().out
    assert "E rate                 : n/a (virtual board)" in out
    assert "Mapping Stage" in out and "Loading Stage" in out
    assert "Board phases           : ESTIMATE, not measured" in out
    assert "Validation             : not possible without a board" in out
    header, rows = cli.results_table([virtual_run["record"]])
    assert rows and rows[0][header.index("E rate (Hz)")] == "-"


def test_exact_mode_builds_from_lists(tmp_path, monkeypatch):
    for k, v in _fake_home(tmp_path).items():
        monkeypatch.setenv(k, v)
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
    r = run_isolated(RunSpec("vogels-abbott-coba", backend="spinnaker", overrides=Overrides(scale=0.02, simtime=20.0),
                             connectivity="exact", format="parquet", timeout=600), ResultStore(tmp_path / "results"))
    assert r["status"] == "ok", (r.get("failure") or {}).get("message")
    assert r["synapses"] > 0 and r["phases"]["sim"]["stages"]["Mapping Stage"]["wall_s"] > 0


# ------------------------------------------------------------------ validate refuses without a board


def test_validate_refuses_without_a_board(tmp_path, monkeypatch, capsys):
    for k, v in _fake_home(tmp_path).items():
        monkeypatch.setenv(k, v)
    rc = cli.main(["validate", "vogels-abbott-coba", "--backend", "spinnaker", "--quick", "--results", str(tmp_path / "r")])
    err = capsys.readouterr().err
    assert rc == cli.EXIT_BAD_INPUT
    assert "not possible without a board" in err and "virtual board" in err
    assert not (tmp_path / "r" / "runs.jsonl").exists()  # nothing ran


def test_machine_flags_are_spinnaker_only(tmp_path, capsys):
    rc = cli.main(["run", "single-neuron", "--backend", "numba", "--spalloc", "https://x", "--results", str(tmp_path)])
    assert rc == cli.EXIT_BAD_INPUT and "--spalloc is an option of --backend spinnaker" in capsys.readouterr().err


# ------------------------------------------------------------------ the cfg for a board, spalloc, or none


def _parse(text: str) -> configparser.ConfigParser:
    cfg = configparser.ConfigParser(interpolation=None)
    cfg.read_string(text)
    return cfg


def _user_cfg(tmp_path: Path, text: str) -> dict[str, str]:
    env = _fake_home(tmp_path)
    (Path(env["HOME"]) / ".spynnaker.cfg").write_text(text)
    return env


def test_virtual_board_cfg(tmp_path):
    sp = _spinnaker()
    target = sp.machine_target({}, sp.read_user_cfg(_fake_home(tmp_path)))
    assert target["kind"] == "virtual"
    cfg = _parse(sp.cfg_text(target, tmp_path / "run"))
    assert cfg["Machine"]["virtual_board"] == "True" and cfg["Machine"]["version"] == "5"
    assert "machine_name" not in cfg["Machine"] and "spalloc_server" not in cfg["Machine"]
    assert cfg["Reports"]["default_report_file_path"] == str((tmp_path / "run").resolve())


def test_host_option_gives_a_board_cfg(tmp_path):
    sp = _spinnaker()
    user = sp.read_user_cfg(_user_cfg(tmp_path, "[Machine]\nvirtual_board = True\nversion = 5\n"))
    target = sp.machine_target({"spinnaker_host": "192.168.240.253"}, user)
    assert target == {"kind": "board", "machine_name": "192.168.240.253", "version": 5, "from": "options"}
    cfg = _parse(sp.cfg_text(target, tmp_path, user))
    assert cfg["Machine"]["machine_name"] == "192.168.240.253" and cfg["Machine"]["version"] == "5"
    assert "virtual_board" not in cfg["Machine"]  # the option wins over the user's virtual board
    assert sp.SpiNNakerBackend.validation_possible({"spinnaker_host": "192.168.240.253"}) == (True, "")


def test_spalloc_option_gives_a_spalloc_cfg_keeping_the_users_spalloc_settings(tmp_path):
    sp = _spinnaker()
    user = sp.read_user_cfg(_user_cfg(tmp_path, "[Machine]\nspalloc_user = alice\nspalloc_group = lab\n"
                                                "[Java]\nuse_java = True\n"))
    target = sp.machine_target({"spalloc": "https://spalloc.example.org/spalloc/"}, user)
    cfg = _parse(sp.cfg_text(target, tmp_path, user))
    m = cfg["Machine"]
    assert m["spalloc_server"] == "https://spalloc.example.org/spalloc/"
    assert "virtual_board" not in m and "machine_name" not in m
    assert m["spalloc_user"] == "alice" and m["spalloc_group"] == "lab" and cfg["Java"]["use_java"] == "True"


def test_users_own_board_is_used_and_its_spelling_replaced(tmp_path):
    sp = _spinnaker()
    env = _user_cfg(tmp_path, "[Machine]\nmachineName = spinn-4.cs.man.ac.uk\nversion = 5\n")
    user = sp.read_user_cfg(env)
    target = sp.machine_target({}, user)
    assert target["kind"] == "board" and target["machine_name"] == "spinn-4.cs.man.ac.uk" and target["from"] == "user cfg"
    cfg = _parse(sp.cfg_text(target, tmp_path, user))
    assert [k for k in cfg["Machine"] if k.lower().replace("_", "") == "machinename"] == ["machine_name"]


def test_host_and_spalloc_together_are_refused():
    sp = _spinnaker()
    with pytest.raises(ValueError, match="not both"):
        sp.machine_target({"spinnaker_host": "h", "spalloc": "u"}, configparser.ConfigParser())


def test_list_says_virtual_board_or_the_configured_board(tmp_path, monkeypatch):
    cls = backend_class("spinnaker")
    for k, v in _fake_home(tmp_path / "a").items():
        monkeypatch.setenv(k, v)
    ok, why = cls.available()
    assert ok and why.endswith("virtual board (no SpiNNaker machine configured)")
    for k, v in _user_cfg(tmp_path / "b", "[Machine]\nmachine_name = 10.0.0.1\nversion = 5\n").items():
        monkeypatch.setenv(k, v)
    assert cls.available()[1].endswith("SpiNNaker board 10.0.0.1 (version 5)")


def test_load_writes_the_cfg_in_the_run_dir_and_restores_home(tmp_path, monkeypatch):
    env = _fake_home(tmp_path)
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    backend = backend_class("spinnaker")(options={"run_dir": str(tmp_path / "run")})
    backend.load()
    try:
        cfg = tmp_path / "run" / "spinnaker" / "home" / ".spynnaker.cfg"
        assert cfg.is_file() and os.environ["HOME"] == str(cfg.parent)
        assert _parse(cfg.read_text())["Machine"]["virtual_board"] == "True"
    finally:
        backend.close()
    assert os.environ["HOME"] == env["HOME"] and _files_under(Path(env["HOME"])) == []


def test_pynn_nest_and_spinnaker_import_together(tmp_path):
    env = {**os.environ, **_fake_home(tmp_path), "PYNEST_QUIET": "1"}
    code = "import pyNN.nest, pyNN.spiNNaker, pyNN; print(pyNN.__version__)"
    out = subprocess.run([sys.executable, "-c", code], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().splitlines()[-1] == "0.13.0"
