"""typiclust and probcover over HTTP: the core's picks, every body type, and the
refusals naming the field."""

from __future__ import annotations

import numpy as np
import pytest

from service.ranking import coverage
from tests.web.helpers import assert_problem, assert_ranked, send
from tests.web.test_rank_batch import BLOBS, blobs


def _request_rng(seed: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence(seed).spawn(2)[0])


@pytest.mark.parametrize("kind", ["json", "multipart"])
def test_typiclust_takes_one_item_per_uncovered_blob_as_the_core_does(client, kind):
    embeddings, _ = blobs()
    arrays = {"embeddings": embeddings[12:], "labeled_embeddings": embeddings[:12]}
    fields = {"strategy": "typiclust", "budget": BLOBS - 1, "seed": 4}
    body = assert_ranked(send(client, kind, arrays, **fields))
    # The labeled items fill the first blob's cluster: one pick in each other blob.
    assert sorted(1 + i // 12 for i in body["indices"]) == list(range(1, BLOBS))
    indices, scores = coverage.typiclust(
        embeddings[12:],
        BLOBS - 1,
        eligible=np.ones(len(embeddings) - 12, bool),
        rng=_request_rng(4),
        labeled=embeddings[:12],
    )
    assert body["indices"] == indices.tolist()
    # JSON numbers arrive as float64, the core ran on float32 here.
    np.testing.assert_allclose(body["scores"], scores, rtol=1e-4)
    assert body["seed"] == 4


@pytest.mark.parametrize("kind", ["json", "multipart"])
def test_probcover_covers_the_blobs_as_the_core_does(client, kind):
    embeddings, _ = blobs()
    fields = {
        "strategy": "probcover",
        "budget": BLOBS,
        "seed": 2,
        "params": {"delta": 10.0, "cover_neighbours": 16},
        "exclude": [0, 1],
    }
    body = assert_ranked(send(client, kind, {"embeddings": embeddings}, **fields))
    eligible = np.ones(len(embeddings), bool)
    eligible[[0, 1]] = False
    indices, scores = coverage.probcover(
        embeddings, BLOBS, eligible=eligible, rng=_request_rng(2), delta=10.0, neighbours=16
    )
    assert body["indices"] == indices.tolist()
    assert body["scores"] == scores.tolist()
    # A ball of radius 10 holds its whole blob (12 items, within 11 neighbours).
    assert sorted(i // 12 for i in body["indices"]) == list(range(BLOBS))
    assert not {0, 1} & set(body["indices"])


@pytest.mark.parametrize(
    ("strategy", "arrays", "params", "field"),
    [
        ("typiclust", "probabilities", {}, "probabilities"),
        ("probcover", "labeled", {}, "embeddings"),
        ("typiclust", "labeled-width", {}, "labeled_embeddings"),
        ("probcover", "labeled-width", {}, "labeled_embeddings"),
        ("typiclust", "embeddings", {"max_clusters": 0}, "params.max_clusters"),
        ("typiclust", "embeddings", {"typicality_neighbours": 0}, "params.typicality_neighbours"),
        ("typiclust", "embeddings", {"delta": 1.0}, "params.delta"),
        ("probcover", "embeddings", {"delta": -1.0}, "params.delta"),
        ("probcover", "embeddings", {"delta": "wide"}, "params.delta"),
        ("probcover", "embeddings", {"cover_neighbours": 129}, "params.cover_neighbours"),
        ("probcover", "embeddings", {"max_clusters": 5}, "params.max_clusters"),
    ],
)
def test_bad_input_is_refused_naming_the_field(client, strategy, arrays, params, field):
    embeddings, probs = blobs()
    sent = {
        "probabilities": {"probabilities": probs},
        "embeddings": {"embeddings": embeddings},
        "labeled": {"labeled_embeddings": embeddings[:2]},
        "labeled-width": {"embeddings": embeddings, "labeled_embeddings": embeddings[:2, :3]},
    }[arrays]
    response = send(client, "json", sent, strategy=strategy, budget=3, params=params)
    assert_problem(response, 422, field)
