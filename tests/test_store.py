import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from harness.errors import UsageError
from harness.store import RunStore, list_runs
from harness.types import Record


def record(node_id: str, status: str = "passed", **fields) -> Record:
    return Record(node_id=node_id, sample_id=node_id.split("::")[-1], task="t", repeat=0, status=status, **fields)


def test_records_append_and_a_torn_tail_is_dropped(tmp_path):
    store = RunStore.create(tmp_path, "r1")
    store.write_spec({"run_id": "r1", "started_at": "2026-01-01"})
    store.append_record(record("t::1"))
    store.append_record(record("t::2", "failed"))
    with (store.path / "samples.jsonl").open("a") as fh:
        fh.write('{"node_id": "t::3", "rep')  # what a kill -9 mid-write leaves
    assert [r.node_id for r in store.read_records()] == ["t::1", "t::2"]
    store.drop_torn_tail()
    store.append_record(record("t::3"))
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
    attempt = Record(node_id="humaneval::HumanEval/0", sample_id="HumanEval/0", task="humaneval", repeat=1, status="passed")
    early.commit([(attempt, [{"role": "default", "content": "caf\u00e9 \ud800"}])])
    assert early.transcript_ref("humaneval::HumanEval/0", 1) == "transcripts/humaneval_HumanEval_0.r1.json"
    assert early.read_transcript("humaneval::HumanEval/0", 1) == [{"role": "default", "content": "caf\u00e9 \ud800"}]
    assert [r.node_id for r in early.read_records()] == ["humaneval::HumanEval/0"]
    assert [s.run_id for s in list_runs(tmp_path)] == ["b-early", "a-late"]


# --- any text a model or a program produces is stored losslessly ------------------------------

NASTY = ["\ud800", "a\udcff b", "\x00nul", "caf\u00e9 \U0001F600", "\udfff\ud800", "\u2028\u2029", "\\u0000"]


@pytest.mark.parametrize("text", NASTY)
def test_a_record_with_awkward_text_round_trips_and_the_next_one_too(tmp_path, text):
    store = RunStore.create(tmp_path, "r")
    store.append_record(record("t::1", answer=text, output=text, details={"k": text}, error=text))
    store.append_record(record("t::2"))
    first, second = store.read_records()
    assert (first.answer, first.output, first.details, first.error) == (text, text, {"k": text}, text)
    assert second.node_id == "t::2"


def test_a_lone_surrogate_completion_is_scored_not_a_crashed_run(tmp_path):
    """The issue's input: HumanEval/23 answered with a lone surrogate must leave a record."""
    store = RunStore.create(tmp_path, "r")
    store.append_record(record("humaneval::HumanEval/23", "error", answer="    return '\ud800'\n"))
    assert store.read_records()[0].answer == "    return '\ud800'\n"


def test_a_very_long_output_is_written_whole(tmp_path):
    store = RunStore.create(tmp_path, "r")
    big = "x" * (8 << 20) + "\ud800"
    store.append_record(record("t::1", answer=big))
    assert store.read_records()[0].answer == big


@settings(max_examples=200, deadline=None)
@given(text=st.text(alphabet=st.characters(codec=None, categories=None)), key=st.text(max_size=8))
def test_any_text_round_trips_through_the_record_writer(tmp_path_factory, text, key):
    store = RunStore.create(tmp_path_factory.mktemp("h"), "r")
    store.append_record(record("t::1", answer=text, output=text, details={key: [text]}, tamper=[text]))
    (back,) = store.read_records()
    assert back.answer == text and back.output == text and back.details == {key: [text]} and back.tamper == [text]


def test_unknown_keys_of_a_newer_harness_survive_a_round_trip(tmp_path):
    store = RunStore.create(tmp_path, "r")
    (store.path / "samples.jsonl").write_text(json.dumps(record("t::1").to_json() | {"future": {"x": 1}}) + "\n")
    (back,) = store.read_records()
    assert back.extra == {"future": {"x": 1}} and back.to_json()["future"] == {"x": 1}


def test_a_group_commit_writes_every_record_and_transcript_of_the_batch(tmp_path):
    store = RunStore.create(tmp_path, "r")
    batch = [(record(f"t::{i}"), [{"i": i}]) for i in range(50)]
    store.commit(batch)
    assert [r.node_id for r in store.read_records()] == [f"t::{i}" for i in range(50)]
    assert all(store.read_transcript(f"t::{i}", 0) == [{"i": i}] for i in range(50))


async def test_the_committer_batches_concurrent_attempts_and_never_loses_one(tmp_path, monkeypatch):
    import asyncio

    from harness.engine.scheduler import Committer

    store = RunStore.create(tmp_path, "r")
    sizes: list[int] = []
    real_commit = store.commit

    def counting(attempts):
        sizes.append(len(attempts))
        real_commit(attempts)

    monkeypatch.setattr(store, "commit", counting)
    committer = Committer(store)
    await asyncio.gather(*(committer.commit(record(f"t::{i}"), [{"i": i}]) for i in range(200)))
    await committer.close()
    assert sum(sizes) == 200 and len(sizes) < 200  # batched
    assert len(store.read_records()) == 200
