"""The learning task: the fixed pool/test split, every sentence's features encoded once.

The split is the same for every seed and strategy (``SPLIT_SEED``): a seed
changes only the seed set and the random strategy's draws. Features are
encoded into CRFsuite's item sequences once per process, since every round
of every run scores the same sentences again.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import pycrfsuite

from examples.ner import corpus
from examples.ner.features import sentence_features

SPLIT_SEED = 2016
TEST_FRACTION = 0.2


@dataclass(frozen=True)
class Task:
    """Pool and test sentences as CRF inputs, their gold tags, and the label order.

    ``pool_x[i]`` and ``pool_tags[i]`` are pool sentence i's encoded features
    and gold tags (the oracle); ``labels`` is the column order of every
    probability row sent to the service.
    """

    labels: tuple[str, ...]
    pool_x: tuple[pycrfsuite.ItemSequence, ...]
    pool_tags: tuple[tuple[str, ...], ...]
    test_x: tuple[pycrfsuite.ItemSequence, ...]
    test_tags: tuple[tuple[str, ...], ...]

    @property
    def lengths(self) -> list[int]:
        """Tokens per pool sentence: what labeling each costs."""
        return [len(tags) for tags in self.pool_tags]

    @property
    def pool_tokens(self) -> int:
        """Tokens in the whole pool."""
        return sum(self.lengths)


def encode(sentences: list[corpus.Sentence]) -> tuple[pycrfsuite.ItemSequence, ...]:
    """Each sentence's token features as one CRFsuite item sequence."""
    return tuple(pycrfsuite.ItemSequence(sentence_features(sentence)) for sentence in sentences)


@cache
def prepare(pool_limit: int | None = None, test_limit: int | None = None) -> Task:
    """The task on the fixed split; ``*_limit`` keep the first sentences of each side only.

    The limits make small tasks for quick runs; the label order is always
    the whole corpus's, so a small task's rows have the same columns.
    """
    sentences = corpus.load()
    fixed = corpus.split(sentences, TEST_FRACTION, SPLIT_SEED)
    pool = fixed.pool_sentences()[:pool_limit]
    test = fixed.test_sentences()[:test_limit]
    return Task(
        labels=corpus.label_order(sentences),
        pool_x=encode(pool),
        pool_tags=tuple(sentence.tags for sentence in pool),
        test_x=encode(test),
        test_tags=tuple(sentence.tags for sentence in test),
    )
