"""ANNarchy: what is specific to its adapter (the exact tier and every feature against NEST are the
conformance suite's, tests/conformance/): the build of the generated code with cmake and nanobind
whatever python3 comes first on PATH, the compile cache and its cold option, and the CUDA
backend's refusal where there is no GPU.

ANNarchy builds each network's generated C++ (cmake, make, g++); the two tests that build into
empty directories compile from nothing (tens of seconds each): slow tier.
"""

from __future__ import annotations

import multiprocessing
import os
import subprocess
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pytest

from snnbench.backends import annarchy as A
from snnbench.backends import backend_class
from snnbench.scenario import Overrides, load_scenario, resolve

from .conftest import requires

needs_annarchy = requires("ANNarchy", "ANNarchy")


def _tiny():
    return resolve(load_scenario("vogels-abbott-cuba"), Overrides(N_pop=200, simtime=50.0))


def _compile_and_run(options: dict | None = None):
    """Build, compile, run and collect in this process; the backend's info, stages and output.
    (ANNarchy numbers the networks of a process, and its library by that number: like snnbench's
    runs, a run that is to find the cache warm is the first of a fresh process, `_in_fresh_process`.)"""
    r = _tiny()
    backend = backend_class("annarchy")(options=options)
    assert backend.supports(r, "native") == []
    backend.load()
    try:
        backend.build(r, "native", None)
        backend.compile(r)
        backend.run()
        out = backend.collect()
        return dict(backend.info), dict(backend.phase_stages), out
    finally:
        backend.close()


def _in_fresh_process(options: dict | None = None):
    with ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn")) as pool:
        return pool.submit(_compile_and_run, options).result()


@pytest.fixture
def python3_without_nanobind(tmp_path, monkeypatch):
    """PATH whose first python3 is a virtual environment without nanobind (nor numpy)."""
    venv = tmp_path / "bare-venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    bare = venv / "bin" / "python3"
    assert subprocess.run([str(bare), "-c", "import nanobind"], capture_output=True).returncode != 0
    monkeypatch.setenv("PATH", f"{venv / 'bin'}{os.pathsep}{os.environ['PATH']}")
    return bare


@pytest.mark.slow
@needs_annarchy
def test_compile_finds_nanobind_whatever_python3_is_first_on_path(python3_without_nanobind, tmp_path, monkeypatch):
    """cmake asks the first python3 on PATH for nanobind: the adapter puts this interpreter first,
    builds (a cold project) and leaves PATH as it was; the cold project is removed on close."""
    monkeypatch.setenv("SNNBENCH_CACHE_DIR", str(tmp_path / "cache"))
    path = os.environ["PATH"]
    info, stages, out = _compile_and_run({"cache": "cold"})
    assert os.environ["PATH"] == path
    assert info["compile_cache"] == "cold"
    project = Path(info["project_dir"])
    assert tmp_path / "cache" / "annarchy" / "cold" in project.parents and not project.exists()
    assert set(stages["compile"]) == {"generate_and_build", "instantiate"}
    assert out.populations["E"].n_spikes > 0


@pytest.mark.slow
@needs_annarchy
def test_warm_cache_reuses_the_built_library(tmp_path, monkeypatch):
    monkeypatch.setenv("SNNBENCH_CACHE_DIR", str(tmp_path / "cache"))
    first, _, out1 = _in_fresh_process()
    second, _, out2 = _in_fresh_process()
    r = _tiny()
    assert Path(first["project_dir"]) == tmp_path / "cache" / "annarchy" / "openmp" / f"{r.hash}-native-N{r.N_pop}-t1"
    assert (first["compile_cache"], second["compile_cache"]) == ("cold", "warm")
    # the same seed draws the same network and input: the same spikes
    assert out1.populations["E"].spike_time.tolist() == out2.populations["E"].spike_time.tolist()


def test_path_puts_the_interpreter_first_once():
    assert A._on_path_first("/py/bin", "/a:/py/bin:/b") == "/py/bin:/a:/b"
    assert A._on_path_first("/py/bin", "") == "/py/bin"


def test_cuda_backend_says_why_it_is_unavailable(monkeypatch):
    cls = backend_class("annarchy.cuda")
    assert cls.runs_on == ("GPU",) and cls.paradigm == "cuda"
    ok, why = cls.available()
    if ok:
        pytest.skip(f"annarchy.cuda is available here ({why})")
    assert why
    if A.ANNarchyBackend.available()[0]:  # ANNarchy is there: the reason is the GPU or nvcc
        assert "NVIDIA" in why or "nvcc" in why
        monkeypatch.setattr(A, "gpu_status", lambda: (True, "1 GPU(s)"))
        monkeypatch.setattr(A.shutil, "which", lambda tool: None if tool == "nvcc" else "/usr/bin/" + tool)
        ok, why = cls.available()
        assert not ok and "nvcc" in why
    r = _tiny()
    (problem,) = cls(threads=2).supports(r, "native")
    assert "one GPU" in problem and "2 asked for" in problem
