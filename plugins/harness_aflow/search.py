"""AFlow's search rules as pure functions: which rounds may be parents, the probability of each,
whether a modification was tried on a parent already, and when the search has converged.

The numbers are AFlow's (MetaGPT ``metagpt/ext/aflow``, read in code; Zhang et al. 2024):
the parent is drawn from the best ``sample`` rounds (round 1 always among them) with
probabilities mixing a uniform distribution (weight 0.3) and a softmax of the scores x 100 at
temperature factor 0.2; the search has converged when the mean of the top-3 rounds' scores has
not moved (beyond z standard errors, z = 0) for 5 consecutive rounds.
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

#: Weight of the uniform distribution in the parent's (AFlow's lambda).
UNIFORM_WEIGHT = 0.3
#: Scores (shares in [0, 1]) are multiplied by this before the softmax.
SCORE_SCALE = 100.0
#: The softmax's factor on the scaled scores (AFlow's alpha).
TEMPERATURE_FACTOR = 0.2
#: Convergence: the top TOP_K rounds' mean must stay within Z standard errors for CONSECUTIVE rounds.
TOP_K = 3
Z = 0.0
CONSECUTIVE = 5


def candidate_rounds(means: Mapping[int, float], sample: int) -> list[tuple[int, float]]:
    """(round, mean score) of the rounds a parent is drawn from, best first: round 1 always
    (when it is scored), then the best of the others until ``sample`` rounds (equal scores:
    the earlier round first)."""
    ranked = sorted(means.items(), key=lambda item: (-item[1], item[0]))
    chosen = [item for item in ranked if item[0] == 1]
    for item in ranked:
        if len(chosen) >= max(1, sample):
            break
        if item[0] != 1:
            chosen.append(item)
    return sorted(chosen, key=lambda item: (-item[1], item[0]))


def selection_probabilities(scores: Sequence[float], uniform_weight: float = UNIFORM_WEIGHT, factor: float = TEMPERATURE_FACTOR) -> list[float]:
    """P(candidate i) = uniform_weight / n + (1 - uniform_weight) * softmax(factor * 100 * score)_i,
    for scores in [0, 1]. ValueError for no score."""
    if not scores:
        raise ValueError("no candidate to choose a parent from")
    scaled = [SCORE_SCALE * score for score in scores]
    top = max(scaled)
    weights = [math.exp(factor * (value - top)) for value in scaled]  # shifted: no overflow
    total = sum(weights)
    n = len(scores)
    return [uniform_weight / n + (1 - uniform_weight) * weight / total for weight in weights]


@dataclass(frozen=True)
class ParentChoice:
    """The draw of one round's parent, as round.json records it."""

    parent: int
    candidates: list[int]
    scores: list[float]
    probabilities: list[float]

    def describe(self) -> dict[str, object]:
        return {"parent": self.parent, "candidates": self.candidates, "scores": self.scores, "probabilities": self.probabilities}


def choose_parent(means: Mapping[int, float], sample: int, rng: random.Random) -> ParentChoice:
    """Draw a parent among `candidate_rounds` with `selection_probabilities`."""
    candidates = candidate_rounds(means, sample)
    rounds = [number for number, _ in candidates]
    scores = [score for _, score in candidates]
    probabilities = selection_probabilities(scores)
    parent = rng.choices(rounds, weights=probabilities)[0]
    return ParentChoice(parent, rounds, scores, probabilities)


def normalized(modification: str) -> str:
    """A modification as compared for repeats: case and runs of white space do not count."""
    return " ".join(modification.split()).casefold()


def tried_before(modification: str, earlier: Sequence[str]) -> bool:
    """Whether ``modification`` was already tried on the same parent (AFlow rejects it and asks again)."""
    return normalized(modification) in {normalized(text) for text in earlier}


@dataclass(frozen=True)
class Convergence:
    converged: bool
    first_round: int | None = None  # the first of the CONSECUTIVE rounds in which the top-k mean held still
    last_round: int | None = None


def convergence(rounds: Sequence[int], means: Sequence[float], stds: Sequence[float], top_k: int = TOP_K, z: float = Z, consecutive: int = CONSECUTIVE) -> Convergence:
    """Whether the search has converged, over scored rounds in order (their numbers, mean
    scores and standard deviations): after each round, Y = the mean of the top-k means so far
    and sigma_Y = sqrt(sum of their variances) / k; the search has converged once |Y - Y_before|
    <= z * sqrt(sigma_Y^2 + sigma_Y_before^2) has held for ``consecutive`` rounds in a row.
    Fewer than top_k + 1 rounds never converge."""
    if len(means) < top_k + 1:
        return Convergence(False)
    held = 0
    before: tuple[float, float] | None = None
    for i in range(len(means)):
        top = sorted(range(i + 1), key=lambda j: (-means[j], j))[:top_k]
        y = sum(means[j] for j in top) / len(top)
        sigma = math.sqrt(sum(stds[j] ** 2 for j in top)) / top_k
        if before is not None:
            if abs(y - before[0]) <= z * math.sqrt(sigma**2 + before[1] ** 2):
                held += 1
                if held >= consecutive:
                    return Convergence(True, rounds[i - consecutive + 1], rounds[i])
            else:
                held = 0
        before = (y, sigma)
    return Convergence(False)
