"""Writers round-trip through neo: pickle, NIX and Parquet give back the same spikes and v."""

from __future__ import annotations

import neo
import numpy as np
import pytest
import quantities as pq

from snnbench import io as snnio
from snnbench.runner import run_in_process
from snnbench.scenario import Overrides, load_scenario, resolve


@pytest.fixture(scope="module")
def output():
    r = resolve(load_scenario("vogels-abbott-cuba"), Overrides(N_pop=500, simtime=200.0))
    return run_in_process(r, "numba")


@pytest.mark.parametrize("fmt", ["pickle", "nix", "parquet", "sonata"])
def test_round_trip(tmp_path, output, fmt):
    snnio.prepare(fmt)
    files = snnio.write(output, fmt, tmp_path / "run", {"scenario": "vogels-abbott-cuba", "seed": 98765})
    assert files and all((tmp_path / f).exists() for f in files)
    block = snnio.read_block(files[0])
    assert isinstance(block, neo.Block)
    assert block.annotations["scenario"] == "vogels-abbott-cuba"
    back = snnio.read_output(files[0])
    assert back.simtime == output.simtime and back.dt == output.dt
    for name, pop in output.populations.items():
        got = back.populations[name]
        assert got.size == pop.size and got.cell_type == pop.cell_type
        np.testing.assert_array_equal(got.recorded, pop.recorded)
        for a, b in zip(pop.trains(), got.trains()):
            np.testing.assert_allclose(a, b)
        assert got.n_spikes == pop.n_spikes > 0 or pop.recorded.size == 0
        if pop.v.size:
            np.testing.assert_allclose(got.v, pop.v)
            np.testing.assert_allclose(got.v_times, pop.v_times)
            np.testing.assert_array_equal(got.v_index, pop.v_index)


def test_block_layout_is_pynn_like(output):
    block = snnio.to_block(output, {"scenario": "x"})
    seg = block.segments[0]
    e_trains = [st for st in seg.spiketrains if st.annotations["population"] == "E"]
    assert len(e_trains) == output.populations["E"].recorded.size
    assert all(st.units == pq.ms and st.t_stop >= 200.0 * pq.ms for st in e_trains)
    assert sorted(st.annotations["source_index"] for st in e_trains) == list(range(len(e_trains)))
    v = [sig for sig in seg.analogsignals if sig.annotations["population"] == "E"][0]
    assert v.units == pq.mV and v.sampling_period == 0.1 * pq.ms and v.shape == (2000, 2)
    assert [g.name for g in block.groups] == list(output.populations)


def test_unknown_format_is_an_error(tmp_path, output):
    with pytest.raises(ValueError, match="unknown format 'hdf9'"):
        snnio.write(output, "hdf9", tmp_path / "x")
