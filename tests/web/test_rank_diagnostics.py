"""POST /v1/rank answers with pool diagnostics: the same for every transport and
chunking, and equal to a summary computed here from the scores' formulas."""

from __future__ import annotations

import math

import numpy as np
import pytest

from service.app import create_app
from tests.web.helpers import BODY_KINDS, assert_ranked, dirichlet_pool, send


def _nearest_rank(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[max(1, math.ceil(q / 100 * len(ordered))) - 1]


def _margin(row: list[float]) -> float:
    first, second = sorted(row, reverse=True)[:2]
    return max(1 - (first - second), 0.0)


def _expected_class_diagnostics(pool: np.ndarray, scores: list[float]) -> dict[str, object]:
    rows = pool.tolist()
    top = [max(row) for row in rows]
    predicted = [0] * pool.shape[1]
    for row in rows:
        predicted[row.index(max(row))] += 1
    return {
        "items_scored": len(rows),
        "scores": {
            "mean": math.fsum(scores) / len(scores),
            "max": max(scores),
            **{f"p{q}": _nearest_rank(scores, q) for q in (50, 90, 99)},
            "percentile_relative_error": 0.0,
        },
        "classes": {
            "unit": "items",
            "predicted": predicted,
            "mean_top_probability": math.fsum(top) / len(top),
        },
    }


def _approx(diagnostics: dict[str, object]) -> object:
    """``diagnostics`` with its floats compared to within rounding of the summation order."""
    if isinstance(diagnostics, dict):
        return {key: _approx(value) for key, value in diagnostics.items()}
    if isinstance(diagnostics, float):
        return pytest.approx(diagnostics, rel=1e-12, abs=1e-15)
    return diagnostics


@pytest.mark.parametrize("kind", BODY_KINDS)
def test_margin_diagnostics_are_the_formulas_summary(client, kind):
    pool = dirichlet_pool(3_000, 4, seed=11)
    body = assert_ranked(send(client, kind, {"probabilities": pool}, strategy="margin", budget=5))
    expected = _expected_class_diagnostics(pool, [_margin(row) for row in pool.tolist()])
    assert body["diagnostics"] == _approx(expected)


def test_small_chunks_give_the_same_diagnostics(client):
    pool = dirichlet_pool(2_000, 3, seed=12)
    whole = assert_ranked(
        send(client, "npy", {"probabilities": pool}, strategy="entropy", budget=3)
    )
    small = create_app({"TESTING": True, "CHUNK_BYTES": 7 * 3 * 8}).test_client()
    chunked = assert_ranked(
        send(small, "npy", {"probabilities": pool}, strategy="entropy", budget=3)
    )
    assert chunked["diagnostics"] == whole["diagnostics"]


def test_excluded_items_are_scored_too(client):
    pool = dirichlet_pool(50, 3, seed=13)
    body = assert_ranked(
        send(client, "json", {"probabilities": pool}, strategy="margin", budget=2, exclude=[0, 1])
    )
    assert body["diagnostics"]["items_scored"] == 50
    assert sum(body["diagnostics"]["classes"]["predicted"]) == 50


def test_a_batch_strategy_scores_only_its_picks(client):
    pool = dirichlet_pool(40, 3, seed=14)
    embeddings = np.random.default_rng(14).normal(size=(40, 4))
    body = assert_ranked(
        send(
            client,
            "json",
            {"probabilities": pool, "embeddings": embeddings},
            strategy="badge",
            budget=3,
            exclude=[5],
        )
    )
    diagnostics = body["diagnostics"]
    assert diagnostics["items_scored"] == 39
    assert diagnostics["scores"] is None
    assert (
        diagnostics["classes"]["predicted"]
        == np.bincount(pool.argmax(axis=1), minlength=3).tolist()
    )


def test_embeddings_alone_have_no_class_summary(client):
    embeddings = np.random.default_rng(15).normal(size=(30, 4))
    body = assert_ranked(
        send(client, "json", {"embeddings": embeddings}, strategy="coreset", budget=2)
    )
    assert body["diagnostics"] == {"items_scored": 30, "scores": None}


def test_token_diagnostics_count_tokens(client):
    sequences = [[[0.7, 0.3], [0.2, 0.8]], [], [[0.6, 0.4]]]
    body = assert_ranked(
        client.post(
            "/v1/rank",
            json={"strategy": "least_confidence", "budget": 1, "token_probabilities": sequences},
        )
    )
    diagnostics = body["diagnostics"]
    assert (diagnostics["items_scored"], diagnostics["units_scored"]) == (3, 3)
    assert diagnostics["classes"] == {
        "unit": "tokens",
        "predicted": [2, 1],
        "mean_top_probability": pytest.approx((0.7 + 0.8 + 0.6) / 3),
    }
    # Mean aggregate: (0.3 + 0.2) / 2, 0 for the empty sentence, 0.4.
    assert diagnostics["scores"]["mean"] == pytest.approx((0.25 + 0.0 + 0.4) / 3)


def test_label_diagnostics_count_labels_at_the_threshold(client):
    labels = [[0.9, 0.5, 0.1], [0.2, 0.6, 0.7]]
    body = assert_ranked(
        client.post(
            "/v1/rank",
            json={
                "strategy": "label_cardinality_inconsistency",
                "budget": 1,
                "label_probabilities": labels,
                "params": {"label_cardinality": 1.0, "threshold": 0.6},
            },
        )
    )
    diagnostics = body["diagnostics"]
    assert diagnostics["units_scored"] == 6
    assert diagnostics["labels"] == {
        "threshold": 0.6,
        "predicted": [1, 1, 1],
        "mean_labels_per_item": 1.5,
    }
