"""Shared fixtures: scenario text helpers, result stores, skip rules for absent packages."""

from __future__ import annotations

import importlib.util
import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor
import textwrap
from pathlib import Path

import pytest

from snnbench.scenario import parse_scenario

ROOT = Path(__file__).resolve().parents[1]
SCENARIOS = ROOT / "scenarios"

# Fault-injecting backends (tests/fault_backends.py), visible to isolated child runs too.
FAULT_BACKENDS = ",".join(
    f"fault.{name}=tests.fault_backends:{cls}"
    for name, cls in [("raise", "RaiseInBuild"), ("kill", "KillSelfInSim"), ("segv", "SegfaultInSim"),
                      ("hang", "HangInSim"), ("hog", "MemoryHogInSim"), ("exit", "ExitInSim"),
                      ("wrong", "WrongWeights"), ("fork", "ForkInSim")]
)


def requires(module: str, distribution: str):
    """Skip when a backend's package is genuinely absent, saying which."""
    return pytest.mark.skipif(
        importlib.util.find_spec(module) is None,
        reason=f"the Python package {distribution!r} is not installed (the README's install command installs it)",
    )


requires_nest = requires("nest", "nest-simulator")


def in_fresh_process(fn, *args, **kwargs):
    """fn(*args, **kwargs) in a new Python process (spawned), its result returned. For simulators
    whose state lives in the process (NEST's kernel): a pytest worker that ran other simulators
    before has crashed in NEST's ResetKernel (a segmentation fault seen under pytest-xdist only)."""
    with ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn")) as pool:
        return pool.submit(fn, *args, **kwargs).result()


@pytest.fixture(scope="session")
def validation_store(tmp_path_factory):
    """One results store for every validation in the session: reference runs are made once."""
    from snnbench.store import ResultStore

    return ResultStore(tmp_path_factory.mktemp("validation"))


@pytest.fixture
def scenario_text():
    """Parse dedented TOML text as a scenario file called `name`.toml."""
    def parse(text: str, name: str = "test-scenario"):
        return parse_scenario(textwrap.dedent(text), file=f"{name}.toml")
    return parse


@pytest.fixture
def fault_backends(monkeypatch):
    monkeypatch.setenv("SNNBENCH_EXTRA_BACKENDS", FAULT_BACKENDS)
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))


MINIMAL = """
[scenario]
title = "minimal"
source = "tests"

[run]
dt = 0.1
simtime = 50.0
seed = 7

[populations.N]
cell_type = "IF_curr_exp"
size = 10
parameters = { i_offset = 1.0 }
record = { spikes = true, v = 1 }

[populations.src]
cell_type = "SpikeSourcePoisson"
size = 5
parameters = { rate = 50.0 }

[[projections]]
pre = "src"
post = "N"
receptor = "excitatory"
connector = { type = "fixed_probability", p = 0.5 }
weight = 0.1
delay = 1.0
"""


@pytest.fixture
def minimal_file(tmp_path):
    path = tmp_path / "minimal.toml"
    path.write_text(MINIMAL)
    return path
