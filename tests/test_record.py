"""The typed run record: older records load, new ones keep the field names, one configuration key."""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from snnbench.backends import backend_class
from snnbench.provenance import machine
from snnbench.record import SCHEMA_VERSION, ChildResult, RunRecord, configuration_labels
from snnbench.store import ResultStore, append_jsonl

from .conftest import ROOT
from .test_present import _run

# The fields a version-1 record has (README, `--json`): tools reading the JSON rely on them.
VERSION_1_FIELDS = {"schema", "kind", "run_id", "timestamp", "scenario", "scenario_title", "scenario_file", "scenario_hash",
                    "overrides", "backend", "backend_version", "connectivity", "threads", "format", "options", "timeout_s",
                    "status", "failure", "phases", "translations", "backend_info", "provenance", "neurons", "sources",
                    "synapses", "synapses_per_projection", "populations", "synaptic_events", "resolved", "data",
                    "process_tree_peak_rss_bytes", "realtime_factor", "log", "peak_rss_bytes", "machine_id"}


@pytest.mark.parametrize("store", ["example", "pd", "validation"])
def test_the_stored_records_load_as_version_1(store, recwarn):
    """The repository's stores hold records of version 1 (and results/validation, appended to since,
    of version 2 too): every one loads, nothing dropped."""
    path = ROOT / "results" / store / "runs.jsonl"
    lines = path.read_text().splitlines()
    records = ResultStore(path.parent).runs()
    assert len(records) == len(lines) and not [w for w in recwarn if "skipped" in str(w.message)]
    versions = [r.schema_ for r in records]
    assert versions.count(1) >= 8 and set(versions) <= {1, SCHEMA_VERSION}
    ok = [r for r in records if r.ok]
    assert len(ok) >= len(records) - 1 and all(r.resolved.N_pop > 0 and r.wall_s("sim") > 0 for r in ok)
    assert all(set(json.loads(line)) <= set(r.to_dict()) for line, r in zip(lines, records))  # nothing dropped


def test_stored_validations_load():
    validations = ResultStore(ROOT / "results" / "validation").validations()
    assert len(validations) == len((ROOT / "results" / "validation" / "validations.jsonl").read_text().splitlines())
    assert all(v.tier == "statistical" and v.verdict in ("PASS", "FAIL") and v.statistical.rates for v in validations)


def test_a_record_without_a_schema_is_version_1():
    record = _run()
    del record["schema"]
    assert RunRecord.from_json(record).schema_ == 1 and "schema" not in RunRecord.from_json(record)


def test_assembled_records_are_version_2_with_every_version_1_field():
    child = ChildResult.model_validate({k: v for k, v in _run().items() if k in ChildResult.model_fields})
    header = {k: _run()[k] for k in ("kind", "run_id", "timestamp", "scenario", "backend", "scenario_hash", "overrides",
                                     "backend_version", "threads", "connectivity", "format", "options")}
    record = RunRecord.assemble(header, child, tree_peak_rss_bytes=5.0, log=None, simtime_ms=1000.0)
    data = record.to_dict()
    assert data["schema"] == SCHEMA_VERSION == 2
    assert VERSION_1_FIELDS <= set(data)
    assert data["realtime_factor"] == pytest.approx(0.1) and data["peak_rss_bytes"] == 0  # the phases carry no memory here
    assert set(data["phases"]["sim"]) == {"wall_s"}  # parts are written as given, without nulls
    assert RunRecord.from_json(json.loads(json.dumps(data))) == record


def test_unknown_fields_are_kept_and_written_back(tmp_path):
    store = ResultStore(tmp_path)
    append_jsonl(store.runs_file, _run(progress={"step": 7}, phases={"sim": {"wall_s": 0.1, "threads_busy": 0.9}}))
    (record,) = store.runs()
    assert record["progress"] == {"step": 7} and record.phases["sim"]["threads_busy"] == 0.9
    assert record.to_dict()["progress"] == {"step": 7}


@pytest.mark.parametrize("change, where", [
    ({"resolved": {"N_pop": "4000", "simtime": 1000.0}}, "resolved.N_pop"),  # strict: a string is not a number
    ({"phases": {"sim": {"wall_s": -1.0}}}, "phases.sim.wall_s"),
    ({"resolved": None}, "without resolved"),  # a successful run must have its figures
])
def test_wrong_shapes_are_refused(tmp_path, change, where):
    store = ResultStore(tmp_path)
    append_jsonl(store.runs_file, _run(**change))
    with pytest.warns(UserWarning, match=where):
        assert store.runs() == []


def test_dict_style_access_for_older_callers():
    record = RunRecord.from_json(_run(failure=None))
    assert record["phases"]["sim"]["wall_s"] == record.phases["sim"].wall_s == 0.1
    assert record.get("estimates", "absent") == "absent" and "estimates" not in record
    assert "failure" in record and record.get("failure") is None
    with pytest.raises(KeyError):
        record["no such field"]


def test_configuration_key_what_counts():
    base = RunRecord.from_json(_run())
    same = RunRecord.from_json(_run("other-id", timestamp="2027-01-01T00:00:00+00:00", sim=9.0, options={"asv": True},
                                    repeat={"index": 2}))
    assert same.configuration_key() == base.configuration_key()  # time, results, repeat and the asv marker do not count
    for change in ({"backend_version": "2.0"}, {"machine_id": "m2"}, {"threads": 2}, {"connectivity": "exact"},
                   {"format": "parquet"}, {"options": {"cache": "cold"}}, {"scenario_hash": "def"},
                   {"overrides": {"seed": 2}}, {"overrides": {"N_pop": 400}}):
        assert RunRecord.from_json(_run(**change)).configuration_key() != base.configuration_key(), change
    seeded = RunRecord.from_json(_run(overrides={"seed": 2, "N_pop": 400, "simtime": 50.0}))
    assert seeded.configuration_key(size=False, seed=False) == base.configuration_key(size=False, seed=False)  # fit


def test_configuration_labels_say_only_what_differs():
    records = [RunRecord.from_json(_run(**c)) for c in ({}, {"threads": 2}, {"options": {"cache": "cold"}},
                                                        {"backend": "nest"}, {"backend": "nest", "machine_id": "m2"})]
    labels = sorted(configuration_labels(records).values())
    assert labels == ["nest (m1)", "nest (m2)", "numba", "numba@2t", "numba[cache=cold]"]


def test_a_sweep_point_has_the_key_of_its_records():
    from snnbench.sweep import Point, point_key

    point = Point("vogels-abbott-cuba", "numba", 400, 100.0, 0, 1, "native", "parquet", 60.0, (("cache", "cold"),))
    record = RunRecord.from_json(_run(scenario_hash="h", overrides={"N_pop": 400, "simtime": 100.0}, format="parquet",
                                      backend_version=backend_class("numba").version(), machine_id=machine()["machine_id"],
                                      options={"cache": "cold"}))
    assert point_key(point, "h") == record.configuration_key()


def test_a_child_result_with_a_wrong_shape_becomes_a_failed_run(tmp_path):
    from snnbench.runner import _child_result

    result = _child_result({"status": "ok", "phases": {"sim": {"wall_s": "fast"}}}, tmp_path / "log")
    assert result.status == "failed" and result.failure.kind == "exception"
    assert "wrong shape" in result.failure.message and "phases.sim.wall_s" in result.failure.message
    assert _child_result({}, tmp_path / "log") is None  # no result at all: the runner says how the child ended


def test_validation_records_must_have_their_verdict():
    from snnbench.record import ValidationRecord

    with pytest.raises(ValidationError):
        ValidationRecord.model_validate({"kind": "validation", "scenario": "s", "candidate": "a", "reference": "b",
                                         "tier": "exact", "passed": True, "timestamp": "t"})
