import json

import pytest

from harness.errors import UsageError
from harness.store import RunStore, list_runs


def test_records_append_and_a_torn_tail_is_dropped(tmp_path):
    store = RunStore.create(tmp_path, "r1")
    store.write_spec({"run_id": "r1", "started_at": "2026-01-01"})
    store.append_record({"node_id": "t::1", "repeat": 0, "status": "passed"})
    store.append_record({"node_id": "t::2", "repeat": 0, "status": "failed"})
    with (store.path / "samples.jsonl").open("a") as fh:
        fh.write('{"node_id": "t::3", "rep')  # what a kill -9 mid-write leaves
    assert [r["node_id"] for r in store.read_records()] == ["t::1", "t::2"]
    store.drop_torn_tail()
    store.append_record({"node_id": "t::3", "repeat": 0, "status": "passed"})
    lines = (store.path / "samples.jsonl").read_text().splitlines()
    assert [json.loads(line)["node_id"] for line in lines] == ["t::1", "t::2", "t::3"]


def test_create_refuses_an_existing_run_and_open_a_missing_one(tmp_path):
    RunStore.create(tmp_path, "r1").write_spec({"run_id": "r1"})
    with pytest.raises(UsageError, match="already exists"):
        RunStore.create(tmp_path, "r1")
    with pytest.raises(UsageError, match="no run 'nope'.*Recent runs: r1"):
        RunStore.open(tmp_path, "nope")


def test_transcripts_round_trip_and_runs_sort_by_start(tmp_path):
    late = RunStore.create(tmp_path, "a-late")
    late.write_spec({"started_at": "2026-02-01"})
    early = RunStore.create(tmp_path, "b-early")
    early.write_spec({"started_at": "2026-01-01"})
    ref = early.write_transcript("humaneval::HumanEval/0", 1, [{"role": "default"}])
    assert ref == "transcripts/humaneval_HumanEval_0.r1.json"
    assert early.read_transcript("humaneval::HumanEval/0", 1) == [{"role": "default"}]
    assert [s.run_id for s in list_runs(tmp_path)] == ["b-early", "a-late"]
