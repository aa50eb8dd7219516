"""The bindsnet backend: whole networks through the isolated runner, delays/receptors/multapses on
every weight storage (identical rasters to numba), availability and the torchvision workaround."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from snnbench.backends import backend_class
from snnbench.runner import RunSpec, run_in_process, run_isolated
from snnbench.scenario import Overrides, load_scenario, parse_scenario, realise, resolve
from snnbench.store import ResultStore

from .conftest import ROOT, requires

pytestmark = requires("bindsnet", "bindsnet")

STORAGES = [{"connection": "sparse"}, {"connection": "sparse", "sparse_format": "csr"}, {"connection": "dense"}]
STORAGE_IDS = ["sparse-ell", "sparse-csr", "dense"]


def _sorted_raster(pop):
    order = np.lexsort((pop.spike_index, pop.spike_time))
    return pop.spike_time[order], pop.spike_index[order]


# The exact tier against NEST (default storage) and every connector in both modes: the conformance
# suite (tests/conformance/). Here: what is bindsnet's own (storages, options, import).


# ------------------------------------------------------------------ delays, receptors, multapses

MIXED = """
[scenario]
title = "bindsnet test: heterogeneous delays, both receptors, multapses, every connector"
source = "tests"

[run]
dt = 0.1
simtime = 300.0
seed = 3

[populations.A]
cell_type = "IF_curr_exp"
size = 60
record = { spikes = true, v = 2 }
initial_values = { v = { distribution = "uniform", low = -60.0, high = -50.0 } }
parameters = { cm = 0.2, tau_m = 20.0, tau_refrac = 2.0, tau_syn_E = 5.0, tau_syn_I = 10.0, v_rest = -60.0, v_reset = -60.0, v_thresh = -50.0, i_offset = 0.05 }

[populations.B]
cell_type = "IF_cond_exp"
size = 40
record = { spikes = true, v = 1 }
initial_values = { v = -55.0 }
parameters = { cm = 0.2, tau_m = 20.0, tau_refrac = 5.0, tau_syn_E = 5.0, tau_syn_I = 10.0, v_rest = -60.0, v_reset = -60.0, v_thresh = -50.0, e_rev_E = 0.0, e_rev_I = -80.0 }

[populations.src]
cell_type = "SpikeSourcePoisson"
size = 30
parameters = { rate = 40.0 }

[populations.arr]
cell_type = "SpikeSourceArray"
size = 2
parameters = { spike_times = [[5.0, 10.05, 20.0], [7.3]] }

[[projections]]
name = "srcA"
pre = "src"
post = "A"
receptor = "excitatory"
connector = { type = "fixed_in_degree", n = 12, with_replacement = true }
weight = { distribution = "uniform", low = 0.02, high = 0.06 }
delay = { distribution = "uniform", low = 0.1, high = 3.0 }

[[projections]]
name = "srcB"
pre = "src"
post = "B"
receptor = "excitatory"
connector = { type = "fixed_probability", p = 0.3 }
weight = 0.004
delay = { distribution = "uniform", low = 0.1, high = 2.0 }

[[projections]]
name = "AB"
pre = "A"
post = "B"
receptor = "excitatory"
connector = { type = "fixed_probability", p = 0.1 }
weight = 0.003
delay = 1.0

[[projections]]
name = "BA"
pre = "B"
post = "A"
receptor = "inhibitory"
connector = { type = "fixed_total_number", n = 300 }
weight = -0.04
delay = { distribution = "normal_clipped", mu = 1.5, sigma = 0.5, low = 0.1, high = 4.0 }

[[projections]]
name = "BB"
pre = "B"
post = "B"
receptor = "inhibitory"
connector = { type = "fixed_in_degree", n = 5, with_replacement = true, allow_self_connections = false }
weight = 0.01
delay = 0.5

[[projections]]
name = "AAe"
pre = "A"
post = "A"
receptor = "excitatory"
connector = { type = "fixed_probability", p = 0.05, allow_self_connections = false }
weight = 0.02
delay = 0.3

[[projections]]
name = "AAi"
pre = "A"
post = "A"
receptor = "inhibitory"
connector = { type = "fixed_probability", p = 0.05 }
weight = -0.03
delay = 2.0

[[projections]]
name = "arrA"
pre = "arr"
post = "A"
receptor = "excitatory"
connector = { type = "all_to_all" }
weight = 0.3
delay = 0.1
"""


@pytest.fixture(scope="module")
def mixed():
    r = resolve(parse_scenario(textwrap.dedent(MIXED), file="bindsnet-mixed.toml"), Overrides())
    network = realise(r)
    return r, network, run_in_process(r, "numba", connectivity="exact", network=network)


@pytest.mark.parametrize("options", STORAGES, ids=STORAGE_IDS)
def test_exact_network_with_delays_and_receptors_matches_numba(mixed, options):
    """Recurrent, heterogeneous delays, multapses, both receptors on one pair: identical rasters."""
    r, network, ref = mixed
    got = run_in_process(r, "bindsnet", connectivity="exact", network=network, options=options)
    assert got.synapses == {p.label: p.size for p in network.projections}
    for name in ("A", "B"):
        assert ref.populations[name].n_spikes > 50
        t_ref, i_ref = _sorted_raster(ref.populations[name])
        t_got, i_got = _sorted_raster(got.populations[name])
        np.testing.assert_allclose(t_got, t_ref, atol=1e-9)
        np.testing.assert_array_equal(i_got, i_ref)
        assert float(np.sqrt(np.mean((got.populations[name].v - ref.populations[name].v) ** 2))) < 1e-6


def test_dense_storage_records_how_multapses_were_stored(mixed):
    r, network, _ = mixed
    backend = backend_class("bindsnet")(options={"connection": "dense"})
    backend.load()
    backend.build(r, "exact", network)
    details = " ".join(t["detail"] for t in backend.translations)
    assert "srcA: multapses with different delays" in details  # kept sparse
    assert "BB: " in details and "multapses summed" in details  # same delay: one matrix entry
    assert backend.info["connection"] == "dense" and backend.info["weight_bytes"] > 0
    backend.close()


def test_native_mode_draws_every_connector_whatever_the_storage(mixed):
    r, _, _ = mixed
    a = run_in_process(r, "bindsnet", connectivity="native")
    b = run_in_process(r, "bindsnet", connectivity="native", options={"connection": "dense"})
    assert a.synapses["srcA"] == 12 * 60 and a.synapses["BB"] == 5 * 40
    assert a.synapses["BA"] == 300 and a.synapses["arrA"] == 2 * 60
    assert 0.15 * 30 * 40 < a.synapses["srcB"] < 0.45 * 30 * 40
    assert a.synapses == b.synapses  # the same draws whatever the storage
    for name in ("A", "B"):
        assert a.populations[name].n_spikes > 50
        np.testing.assert_array_equal(_sorted_raster(a.populations[name])[0], _sorted_raster(b.populations[name])[0])
    assert a.populations["src"].n_spikes > 0  # native Poisson trains are recorded from the Input layer
    np.testing.assert_allclose(np.sort(a.populations["arr"].spike_time), [5.0, 7.3, 10.1, 20.0])


def test_unknown_or_bad_options_are_refused(mixed):
    r, _, _ = mixed
    cls = backend_class("bindsnet")
    assert cls(options={"connection": "dense"}).supports(r, "exact") == []
    problems = cls(options={"connection": "csr", "colour": 1}).supports(r, "native")
    assert any("connection='csr'" in p for p in problems) and any("unknown option 'colour'" in p for p in problems)


# ------------------------------------------------------------------ whole networks, isolated


@pytest.fixture(scope="module")
def va_records(tmp_path_factory):
    store = ResultStore(tmp_path_factory.mktemp("results"))
    return {s: run_isolated(RunSpec(scenario=s, backend="bindsnet", threads=1, timeout=900), store)
            for s in ("vogels-abbott-coba", "vogels-abbott-cuba")}


@pytest.mark.parametrize("scenario", ["vogels-abbott-coba", "vogels-abbott-cuba"])
def test_vogels_abbott_rates_in_the_published_band(va_records, scenario):
    record = va_records[scenario]
    assert record["status"] == "ok", record.get("failure")
    assert record["resolved"]["N_pop"] == 4000 and record["resolved"]["simtime"] == 1000.0
    for name, (low, high) in load_scenario(scenario).expected.rate_hz.items():
        pop = record["populations"][name]
        assert low <= pop["rate_hz"] <= high, (name, pop["rate_hz"])
        assert low <= pop["rate_hz_after_transient"] <= high, (name, pop["rate_hz_after_transient"])


@pytest.mark.parametrize("scenario", ["vogels-abbott-coba", "vogels-abbott-cuba"])
def test_vogels_abbott_record_says_what_was_used(va_records, scenario):
    record = va_records[scenario]
    expected = resolve(load_scenario(scenario), Overrides()).expected_synapses()
    assert abs(record["synapses"] - expected) < 5 * expected**0.5
    info = record["backend_info"]
    assert info["device"] in ("cpu", "cuda") and info["dtype"] in ("float64", "float32")
    assert info["connection"] == "sparse" and info["threads_used"] == 1
    assert info["torchvision_workaround"].startswith(("applied", "not needed"))
    whats = {t["what"] for t in record["translations"]}
    assert {"delays", "connection", "precision", "connectivity"} <= whats
    assert ("IF_cond_exp" if scenario.endswith("coba") else "IF_curr_exp") in whats
    assert record["backend_version"] == record["provenance"]["software"]["bindsnet"]
    for phase in ("import", "build", "sim", "write"):
        assert record["phases"][phase]["wall_s"] >= 0


# ------------------------------------------------------------------ import and availability


def _python(code: str, **env: str) -> subprocess.CompletedProcess:
    full_env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]), **env}
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=full_env, timeout=300, cwd=ROOT)


def test_the_torchvision_workaround_makes_bindsnet_importable():
    """Where torchvision's compiled operators are missing (PyPI's CUDA torchvision over CPU torch),
    a plain import fails and the adapter's import applies the workaround; elsewhere it is not needed."""
    plain = _python("import torchvision")
    broken = plain.returncode != 0 and "torchvision::" in plain.stderr
    ours = _python(
        "from snnbench.backends.bindsnet import import_bindsnet\n"
        "torch, bindsnet, workaround = import_bindsnet()\n"
        "from bindsnet.network import Network\n"
        "print('workaround', workaround)"
    )
    assert ours.returncode == 0, ours.stderr[-2000:]
    assert f"workaround {broken}" in ours.stdout


def test_available_names_the_real_reason(tmp_path, monkeypatch):
    cls = backend_class("bindsnet")
    ok, why = cls.available()
    assert ok, why
    # A bindsnet that cannot be imported: the reason is the import's own error.
    fake = tmp_path / "fake"
    (fake / "bindsnet").mkdir(parents=True)
    (fake / "bindsnet" / "__init__.py").write_text("raise ImportError('deliberately broken for a test')\n")
    monkeypatch.setattr(sys, "path", [str(fake)] + sys.path)
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(fake), os.environ.get("PYTHONPATH", "")]))
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path))
    ok, why = cls.available()
    assert not ok and "cannot be imported" in why and "deliberately broken for a test" in why
    # A missing package.
    real_find_spec = __import__("importlib.util").util.find_spec
    monkeypatch.setattr("importlib.util.find_spec", lambda name, *a: None if name == "torch" else real_find_spec(name, *a))
    ok, why = cls.available()
    assert not ok and "'torch' is not installed" in why


def test_the_import_phase_does_not_import_numba():
    """bindsnet's measured import phase is BindsNET's and torch's, not numba's (the LIF propagators
    come from snnbench.models.lif)."""
    proc = _python(
        "import sys\n"
        "from snnbench.backends import backend_class\n"
        "backend = backend_class('bindsnet')()\n"
        "backend.load()\n"
        "print('numba imported', 'numba' in sys.modules)"
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "numba imported False" in proc.stdout
