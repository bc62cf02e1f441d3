"""The tagger: a linear-chain CRF (sklearn-crfsuite), its marginals as probability rows, F1.

A fitted CRF's ``predict_marginals`` gives, per sentence, per token, a dict
``{label: probability}`` over the labels it saw in training. The service
takes a fixed column order instead: :func:`marginal_rows` lays each token's
dict out over the corpus's label order, 0 for labels the model has not seen.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pycrfsuite
from seqeval.metrics import f1_score
from sklearn_crfsuite import CRF

from examples.ner.features import Features

# Per sentence, its tokens' features: CRFsuite item sequences or lists of dicts.
Inputs = Sequence[pycrfsuite.ItemSequence | list[Features]]


@dataclass(frozen=True)
class CrfSettings:
    """The CRF's training settings: L1 and L2 penalties, L-BFGS iterations."""

    c1: float = 0.1
    c2: float = 0.1
    max_iterations: int = 100

    def describe(self) -> str:
        """The model as one would write it, for the report."""
        return (
            f'CRF(algorithm="lbfgs", c1={self.c1:g}, c2={self.c2:g}, '
            f"max_iterations={self.max_iterations}, all_possible_transitions=True)"
        )


def fit(features: Inputs, tags: Sequence[Sequence[str]], settings: CrfSettings) -> CRF:
    """A CRF trained on ``features`` (per sentence, per token) and their ``tags``."""
    model = CRF(
        algorithm="lbfgs",
        c1=settings.c1,
        c2=settings.c2,
        max_iterations=settings.max_iterations,
        all_possible_transitions=True,
    )
    model.fit(list(features), [list(row) for row in tags])
    return model


def marginal_rows(
    marginals: Sequence[Sequence[Mapping[str, float]]], labels: Sequence[str]
) -> list[np.ndarray]:
    """Per sentence, a (tokens, len(labels)) float64 array: row t is token t's distribution.

    Column j is ``labels[j]``; a label missing from a token's dict gets 0,
    and each row is divided by its sum, so it sums to 1 to rounding. A label
    in a dict that is not in ``labels`` is an error.
    """
    column = {label: j for j, label in enumerate(labels)}
    rows: list[np.ndarray] = []
    for sentence in marginals:
        array = np.zeros((len(sentence), len(labels)), dtype=np.float64)
        for t, token in enumerate(sentence):
            unknown = token.keys() - column.keys()
            if unknown:
                raise ValueError(f"labels not in the label order: {sorted(unknown)}")
            for label, probability in token.items():
                array[t, column[label]] = probability
        totals = array.sum(axis=1, keepdims=True)
        if np.any(totals <= 0):
            raise ValueError("a token's marginals sum to 0")
        rows.append(array / totals)
    return rows


def probability_rows(model: CRF, features: Inputs, labels: Sequence[str]) -> list[np.ndarray]:
    """The model's per-token label distributions for ``features``, as :func:`marginal_rows`."""
    if not features:
        return []
    return marginal_rows(model.predict_marginals(list(features)), labels)


def entity_f1(model: CRF, features: Inputs, tags: Sequence[Sequence[str]]) -> float:
    """Entity-level F1 (seqeval, micro-averaged over types) of ``model`` on ``features``.

    An F1 that is undefined (no entity predicted and none in ``tags``) counts as 0.
    """
    predicted = model.predict(list(features))
    return float(f1_score([list(row) for row in tags], predicted, zero_division=0))
