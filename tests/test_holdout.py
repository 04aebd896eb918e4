"""`--task-opt holdout=validation|test`: the fixed, seeded 1:4 partition of a code task's problems
(HumanEval and MBPP), never overlapping, recorded in the dataset identity."""

from __future__ import annotations

import math

import pytest
from harness_humaneval import HumanEval
from harness_mbpp import MBPP
from hypothesis import given
from hypothesis import strategies as st

from harness.codetasks.task import HOLDOUT_SEED, holdout_partition
from harness.errors import ConfigError

#: (task class, its other options) -> (validation, test) sizes. HumanEval's 33/131 and MBPP
#: sanitized's 86/341 are the sizes of AFlow's published validation and test files.
SIZES = {
    (HumanEval, ()): (33, 131),
    (MBPP, (("split", "all"),)): (86, 341),
    (MBPP, ()): (52, 205),
    (MBPP, (("config", "full"), ("split", "all"))): (195, 779),
}


@pytest.mark.parametrize(("cls", "options"), list(SIZES))
def test_the_two_sides_are_disjoint_cover_the_task_and_are_recorded(cls, options):
    base = dict(options)
    validation, test, whole = (cls(base | {"holdout": part}) if part else cls(base) for part in ("validation", "test", None))
    v_ids, t_ids = {s.id for s in validation.samples()}, {s.id for s in test.samples()}
    assert (len(v_ids), len(t_ids)) == SIZES[cls, options]
    assert not v_ids & t_ids and v_ids | t_ids == {s.id for s in whole.samples()}
    identity = validation.dataset_identity()
    assert identity["holdout"] == "validation" and identity["holdout_seed"] == HOLDOUT_SEED and identity["holdout_of"] == len(whole.samples())
    assert identity["count"] == len(v_ids) and identity["sha256"] not in (test.dataset_identity()["sha256"], whole.dataset_identity()["sha256"])
    assert "holdout" not in whole.dataset_identity()


def test_the_partition_is_fixed():
    """The same problems every time (the seed is a constant): pinned for HumanEval."""
    validation = sorted((s.id for s in HumanEval({"holdout": "validation"}).samples()), key=lambda i: int(i.split("/")[1]))
    assert validation[:5] == ["HumanEval/2", "HumanEval/11", "HumanEval/18", "HumanEval/23", "HumanEval/24"]


def test_a_side_that_does_not_exist_is_refused():
    with pytest.raises(ConfigError, match=r"holdout='train'; use one of validation, test, all"):
        HumanEval({"holdout": "train"})


@given(st.sets(st.text(min_size=1, max_size=12), max_size=60), st.randoms(use_true_random=False))
def test_partition_properties(ids, rng):
    """Disjoint, covering, ceil(n/5) to validation, and independent of the order the ids come in."""
    validation, test = holdout_partition(ids)
    assert not validation & test and validation | test == ids
    assert len(validation) == math.ceil(len(ids) / 5)
    shuffled = list(ids)
    rng.shuffle(shuffled)
    assert holdout_partition(shuffled) == (validation, test)


@given(st.sets(st.text(min_size=1, max_size=8), min_size=5, max_size=40), st.text(min_size=1, max_size=8))
def test_adding_a_problem_moves_at_most_one_other(ids, extra):
    """The order is by a per-id hash, so a new problem shifts the cut by at most one place."""
    before, _ = holdout_partition(ids)
    after, _ = holdout_partition(ids | {extra})
    assert len(before - after) <= 1
