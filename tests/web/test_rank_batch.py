"""Batch strategies (coreset, badge, cluster_margin) over HTTP."""

from __future__ import annotations

import numpy as np
import pytest

from service.ranking import diversity
from tests.web.helpers import assert_problem, assert_ranked, send

BLOBS = 5


def blobs(per_blob: int = 12, width: int = 6, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Embeddings in well-separated blobs and uncertain probabilities, one
    distribution per blob (so gradient embeddings form blobs too), float32."""
    rng = np.random.default_rng(seed)
    centers = rng.normal(size=(BLOBS, width)) * 50
    embeddings = np.concatenate([c + rng.normal(size=(per_blob, width)) for c in centers])
    probs = np.repeat(rng.dirichlet(np.ones(3) * 5, size=BLOBS), per_blob, axis=0)
    return embeddings.astype(np.float32), probs.astype(np.float32)


@pytest.mark.parametrize("kind", ["json", "multipart"])
def test_coreset_picks_one_item_per_blob_and_matches_the_core(client, kind):
    embeddings, _ = blobs()
    body = assert_ranked(
        send(client, kind, {"embeddings": embeddings}, strategy="coreset", budget=BLOBS)
    )
    assert sorted(i // 12 for i in body["indices"]) == list(range(BLOBS))
    eligible = np.ones(len(embeddings), dtype=bool)
    indices, scores = diversity.coreset(
        embeddings.astype(np.float64 if kind == "json" else np.float32), BLOBS, eligible=eligible
    )
    assert body["indices"] == indices.tolist()
    np.testing.assert_allclose(body["scores"], scores, rtol=1e-5)
    assert "seed" not in body


def test_coreset_with_npy_body_names_its_role(client):
    embeddings, _ = blobs()
    body = assert_ranked(
        send(client, "npy", {"embeddings": embeddings}, strategy="coreset", budget=3)
    )
    assert len(body["indices"]) == 3


def test_coreset_starts_from_the_labeled_set_and_honours_exclusions(client):
    embeddings, _ = blobs()
    arrays = {"embeddings": embeddings, "labeled_embeddings": embeddings[:2]}
    body = assert_ranked(
        send(client, "multipart", arrays, strategy="coreset", budget=4, exclude=[13, 14])
    )
    assert 0 not in {i // 12 for i in body["indices"]}
    assert not {13, 14} & set(body["indices"])


@pytest.mark.parametrize("strategy", ["badge", "cluster_margin"])
def test_seeded_batch_strategies_repeat_and_return_their_seed(client, strategy):
    embeddings, probs = blobs()
    arrays = {"probabilities": probs, "embeddings": embeddings}
    first = assert_ranked(
        send(client, "multipart", arrays, strategy=strategy, budget=BLOBS, seed=3)
    )
    again = assert_ranked(
        send(client, "multipart", arrays, strategy=strategy, budget=BLOBS, seed=3)
    )
    assert first == again
    assert first["seed"] == 3
    unseeded = assert_ranked(send(client, "json", arrays, strategy=strategy, budget=BLOBS))
    replay = assert_ranked(
        send(client, "json", arrays, strategy=strategy, budget=BLOBS, seed=unseeded["seed"])
    )
    assert replay["indices"] == unseeded["indices"]


def test_badge_picks_one_item_per_blob(client):
    embeddings, probs = blobs()
    arrays = {"probabilities": probs, "embeddings": embeddings}
    for seed in range(5):
        body = assert_ranked(
            send(client, "json", arrays, strategy="badge", budget=BLOBS, seed=seed)
        )
        assert sorted(i // 12 for i in body["indices"]) == list(range(BLOBS))


def bad_requests() -> list:
    embeddings, probs = blobs()
    both = {"probabilities": probs, "embeddings": embeddings}
    return [
        (
            "rows-differ",
            "badge",
            {"probabilities": probs, "embeddings": embeddings[:-1]},
            {},
            422,
            "embeddings",
        ),
        ("embeddings-missing", "badge", {"probabilities": probs}, {}, 422, "embeddings"),
        ("embeddings-1d", "coreset", {"embeddings": embeddings[:, 0]}, {}, 422, "embeddings"),
        (
            "embeddings-width-0",
            "coreset",
            {"embeddings": np.zeros((4, 0), np.float32)},
            {},
            422,
            "embeddings",
        ),
        (
            "embeddings-nan",
            "coreset",
            {"embeddings": np.where(np.eye(60, 6, dtype=bool), np.nan, embeddings)},
            {},
            422,
            "embeddings",
        ),
        (
            "labeled-width",
            "coreset",
            {"embeddings": embeddings, "labeled_embeddings": embeddings[:2, :3]},
            {},
            422,
            "labeled_embeddings",
        ),
        ("probabilities-to-coreset", "coreset", both, {}, 422, "probabilities"),
        (
            "labeled-to-badge",
            "badge",
            both | {"labeled_embeddings": embeddings[:2]},
            {},
            422,
            "labeled_embeddings",
        ),
        ("budget-above-pool", "coreset", {"embeddings": embeddings}, {"budget": 61}, 422, "budget"),
        ("stochastic-selection", "badge", both, {"selection": "power"}, 422, "selection.method"),
        (
            "all-scores",
            "coreset",
            {"embeddings": embeddings},
            {"return_all_scores": True},
            422,
            "return_all_scores",
        ),
        (
            "candidates-below-budget",
            "cluster_margin",
            both,
            {"candidates": 2},
            422,
            "params.candidates",
        ),
        (
            "clusters-above-candidates",
            "cluster_margin",
            both,
            {"candidates": 10, "clusters": 11},
            422,
            "params.clusters",
        ),
    ]


@pytest.mark.parametrize(
    ("strategy", "arrays", "fields", "status", "field"),
    [case[1:] for case in bad_requests()],
    ids=[case[0] for case in bad_requests()],
)
def test_bad_batch_requests_name_the_field(client, strategy, arrays, fields, status, field):
    fields = {"budget": 3} | fields
    if "selection" in fields:
        fields["selection"] = {"method": fields["selection"]}
    params = {key: fields.pop(key) for key in ("candidates", "clusters") if key in fields}
    if params:
        fields["params"] = params
    assert_problem(send(client, "json", arrays, strategy=strategy, **fields), status, field)
