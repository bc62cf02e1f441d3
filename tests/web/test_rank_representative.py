"""ranked_batch, information_density, embedding_kmeans, discriminative and
falcun over HTTP: the core's picks, every body type, and the refusals."""

from __future__ import annotations

import numpy as np
import pytest

from service.ranking import discriminative, representative, uncertainty
from service.ranking.rowops import columns
from tests.web.helpers import assert_problem, assert_ranked, send
from tests.web.test_rank_batch import blobs


@pytest.mark.parametrize("kind", ["json", "multipart"])
@pytest.mark.parametrize("score", ["least_confidence", "entropy"])
def test_ranked_batch_matches_the_core_from_a_labeled_set(client, kind, score):
    embeddings, probs = blobs()
    arrays = {
        "probabilities": probs,
        "embeddings": embeddings,
        "labeled_embeddings": embeddings[:3],
    }
    body = assert_ranked(
        send(
            client,
            kind,
            arrays,
            strategy="ranked_batch",
            budget=6,
            exclude=[20],
            params={"score": score},
        )
    )
    dtype = np.float64 if kind == "json" else np.float32
    eligible = np.ones(len(embeddings), bool)
    eligible[20] = False
    scorer = getattr(uncertainty, f"{score}_of_columns")
    indices, scores = representative.ranked_batch(
        scorer(columns(probs.astype(dtype))),
        embeddings.astype(dtype),
        6,
        eligible=eligible,
        labeled=embeddings[:3].astype(dtype),
    )
    assert body["indices"] == indices.tolist()
    np.testing.assert_allclose(body["scores"], scores, rtol=1e-5)
    # Far from the labeled blob first: the first pick is in another blob.
    assert body["indices"][0] // 12 != 0


def test_information_density_matches_the_core(client):
    embeddings, probs = blobs()
    body = assert_ranked(
        send(
            client,
            "json",
            {"probabilities": probs, "embeddings": embeddings},
            strategy="information_density",
            budget=5,
            params={"density_power": 2},
        )
    )
    indices, scores = representative.information_density(
        uncertainty.least_confidence_of_columns(columns(probs.astype(np.float64))),
        embeddings.astype(np.float64),
        5,
        eligible=np.ones(len(embeddings), bool),
        power=2.0,
    )
    assert body["indices"] == indices.tolist()
    np.testing.assert_allclose(body["scores"], scores, rtol=1e-6)


def test_embedding_kmeans_takes_one_item_per_blob_and_repeats_with_its_seed(client):
    embeddings, _ = blobs()
    fields = {"strategy": "embedding_kmeans", "budget": 5, "seed": 9}
    body = assert_ranked(send(client, "multipart", {"embeddings": embeddings}, **fields))
    assert sorted(i // 12 for i in body["indices"]) == list(range(5))
    again = assert_ranked(send(client, "json", {"embeddings": embeddings}, **fields))
    assert again["indices"] == body["indices"]
    assert body["seed"] == 9


def test_discriminative_picks_away_from_the_labeled_blob_as_the_core_does(client):
    embeddings, _ = blobs()
    arrays = {"embeddings": embeddings, "labeled_embeddings": embeddings[:12]}
    fields = {"strategy": "discriminative", "budget": 6, "seed": 3, "params": {"rounds": 2}}
    body = assert_ranked(send(client, "multipart", arrays, **fields))
    assert all(index >= 12 for index in body["indices"])
    indices, scores = discriminative.discriminative(
        embeddings,
        embeddings[:12],
        6,
        eligible=np.ones(len(embeddings), bool),
        rng=np.random.default_rng(np.random.SeedSequence(3).spawn(2)[0]),
        rounds=2,
    )
    assert body["indices"] == indices.tolist()
    np.testing.assert_allclose(body["scores"], scores, rtol=1e-5)
    assert body["seed"] == 3


def test_falcun_ranks_from_probabilities_alone_as_the_core_does(client):
    _, probs = blobs()
    fields = {"strategy": "falcun", "budget": 5, "seed": 8, "params": {"gamma": 2}}
    body = assert_ranked(send(client, "npy", {"probabilities": probs}, **fields))
    indices, scores = representative.falcun(
        probs,
        5,
        eligible=np.ones(len(probs), bool),
        rng=np.random.default_rng(np.random.SeedSequence(8).spawn(2)[0]),
        gamma=2.0,
    )
    assert body["indices"] == indices.tolist()
    np.testing.assert_allclose(body["scores"], scores, rtol=1e-5)


@pytest.mark.parametrize(
    ("strategy", "arrays", "fields", "field"),
    [
        ("ranked_batch", "probabilities", {}, "embeddings"),
        ("information_density", "probabilities", {}, "embeddings"),
        ("ranked_batch", "both", {"params": {"score": "bald"}}, "params.score"),
        ("information_density", "both", {"params": {"density_power": -1}}, "params.density_power"),
        ("ranked_batch", "labeled-width", {}, "labeled_embeddings"),
        ("information_density", "labeled", {}, "labeled_embeddings"),
        ("ranked_batch", "embeddings", {}, "probabilities"),
        ("embedding_kmeans", "both", {}, "probabilities"),
        ("embedding_kmeans", "embeddings", {"params": {"unit_length": 3}}, "params.unit_length"),
        ("discriminative", "embeddings", {}, "labeled_embeddings"),
        ("falcun", "probabilities", {"params": {"gamma": -1}}, "params.gamma"),
        ("falcun", "both", {}, "embeddings"),
        ("discriminative", "pool-labeled-width", {}, "labeled_embeddings"),
        ("discriminative", "pool-labeled", {"params": {"rounds": 4}}, "params.rounds"),
        (
            "discriminative",
            "pool-labeled",
            {"params": {"unlabeled_factor": 0}},
            "params.unlabeled_factor",
        ),
    ],
)
def test_bad_input_is_refused_naming_the_field(client, strategy, arrays, fields, field):
    embeddings, probs = blobs()
    sent = {
        "probabilities": {"probabilities": probs},
        "embeddings": {"embeddings": embeddings},
        "both": {"probabilities": probs, "embeddings": embeddings},
        "labeled-width": {
            "probabilities": probs,
            "embeddings": embeddings,
            "labeled_embeddings": embeddings[:2, :3],
        },
        "labeled": {
            "probabilities": probs,
            "embeddings": embeddings,
            "labeled_embeddings": embeddings[:2],
        },
        "pool-labeled": {"embeddings": embeddings, "labeled_embeddings": embeddings[:2]},
        "pool-labeled-width": {"embeddings": embeddings, "labeled_embeddings": embeddings[:2, :3]},
    }[arrays]
    response = send(client, "json", sent, strategy=strategy, budget=3, **fields)
    assert_problem(response, 422, field)
