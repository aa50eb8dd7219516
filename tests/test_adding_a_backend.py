"""docs/adding-a-backend.md: its example adapter, taken from the page itself, really works."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import numpy as np
import pytest

from snnbench.runner import run_in_process
from snnbench.scenario import Overrides, load_scenario, realise, resolve

from .conftest import ROOT

DOC = ROOT / "docs" / "adding-a-backend.md"


@pytest.fixture
def numpy_lif(tmp_path, monkeypatch):
    """The page's example module, registered as the page says (SNNBENCH_EXTRA_BACKENDS)."""
    code = re.search(r"<!-- example: numpy_lif.py -->\n```python\n(.*?)```", DOC.read_text(), re.S).group(1)
    (tmp_path / "numpy_lif.py").write_text(code)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(tmp_path), str(ROOT), os.environ.get("PYTHONPATH", "")]))
    monkeypatch.setenv("SNNBENCH_EXTRA_BACKENDS", "numpy-lif=numpy_lif:NumpyLIF")
    yield tmp_path
    sys.modules.pop("numpy_lif", None)


def _sorted_spikes(pop):
    order = np.lexsort((pop.spike_time, pop.spike_index))
    return pop.spike_index[order], pop.spike_time[order]


def test_example_equals_numba_spike_for_spike(numpy_lif):
    resolved = resolve(load_scenario("vogels-abbott-cuba"), Overrides(N_pop=1000, simtime=200.0))
    network = realise(resolved)
    mine = run_in_process(resolved, "numpy-lif", connectivity="exact", network=network)
    numba = run_in_process(resolved, "numba", connectivity="exact", network=network)
    for name, pop in numba.populations.items():
        assert pop.n_spikes > 0
        got, want = _sorted_spikes(mine.populations[name]), _sorted_spikes(pop)
        assert np.array_equal(got[0], want[0]) and np.array_equal(got[1], want[1]), name
        assert mine.populations[name].v.size == pop.v.size
        if pop.v.size:
            assert np.allclose(mine.populations[name].v, pop.v, atol=1e-9)
    assert mine.synapses == numba.synapses


def test_example_runs_through_the_command_line_as_the_page_shows(numpy_lif):
    def snnbench(*args):
        return subprocess.run([sys.executable, "-m", "snnbench", *args, "--results", str(numpy_lif / "res")],
                              capture_output=True, text=True, cwd=numpy_lif, timeout=300)

    proc = snnbench("run", "vogels-abbott-cuba", "--backend", "numpy-lif", "--N-pop", "400", "--simtime", "100", "--json")
    assert proc.returncode == 0, proc.stderr
    record = json.loads(proc.stdout)
    assert record["status"] == "ok" and record["synapses"] > 0
    assert record["populations"]["E"]["rate_hz"] > 0
    assert record["backend_version"] == np.__version__  # from `distribution`

    refused = snnbench("run", "vogels-abbott-coba", "--backend", "numpy-lif", "--N-pop", "400", "--simtime", "100", "--json")
    assert refused.returncode == 1
    failure = json.loads(refused.stdout)["failure"]
    assert failure["kind"] == "unsupported" and "cell type IF_cond_exp is not supported" in failure["message"]

    bad = snnbench("run", "vogels-abbott-cuba", "--backend", "numpy-lif", "--option", "v_dtype=float16")
    assert bad.returncode == 2 and "v_dtype (str: float64|float32, default float64)" in bad.stderr
