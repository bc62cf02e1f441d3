"""POST /v1/rank with an application/json body: the values of the answer."""

from __future__ import annotations

import numpy as np
import pytest

from tests.web.helpers import RANK, assert_ranked, dirichlet_pool, softmax


def expected_scores(strategy: str, probs: np.ndarray) -> np.ndarray:
    """Each pointwise uncertainty score, written out from its definition."""
    ordered = np.sort(probs, axis=1)
    first, second = ordered[:, -1], ordered[:, -2]
    if strategy == "least_confidence":
        return 1 - first
    if strategy == "margin":
        return 1 - (first - second)
    if strategy == "ratio":
        return second / first
    if strategy == "entropy":
        logs = np.log(np.where(probs > 0, probs, 1.0))
        return -(probs * logs).sum(axis=1)
    raise ValueError(strategy)


def best_first(scores: list[float], budget: int) -> list[int]:
    """Indices of the ``budget`` highest scores; ties toward the lower index."""
    order = np.lexsort((np.arange(len(scores)), -np.asarray(scores)))
    return order[:budget].tolist()


@pytest.fixture
def pool() -> np.ndarray:
    probs = dirichlet_pool(40, 4, seed=1)
    probs[3] = [0.0, 0.0, 0.25, 0.75]  # zero probabilities: 0 log 0 = 0
    return probs


@pytest.mark.parametrize("strategy", ["least_confidence", "margin", "ratio", "entropy"])
def test_all_scores_follow_the_strategy_definition(client, pool, strategy):
    response = client.post(
        RANK,
        json={
            "strategy": strategy,
            "budget": 6,
            "probabilities": pool.tolist(),
            "return_all_scores": True,
        },
    )
    body = assert_ranked(response)
    assert body["strategy"] == strategy
    assert body["budget"] == 6
    assert body["pool_size"] == 40
    assert body["all_scores"] == pytest.approx(expected_scores(strategy, pool), rel=1e-12)
    assert body["indices"] == best_first(body["all_scores"], 6)
    assert body["scores"] == [body["all_scores"][i] for i in body["indices"]]


def test_ties_break_toward_the_lower_index(client):
    probs = [[0.9, 0.1], [0.5, 0.5], [0.9, 0.1], [0.5, 0.5], [0.5, 0.5]]
    body = assert_ranked(
        client.post(RANK, json={"strategy": "margin", "budget": 4, "probabilities": probs})
    )
    assert body["indices"] == [1, 3, 4, 0]
    assert body["scores"] == pytest.approx([1.0, 1.0, 1.0, 0.2])


def test_seed_and_all_scores_are_absent_unless_used(client, pool):
    body = assert_ranked(
        client.post(RANK, json={"strategy": "entropy", "budget": 2, "probabilities": pool.tolist()})
    )
    assert "seed" not in body
    assert "all_scores" not in body


def test_excluded_items_are_never_returned(client, pool):
    everything = assert_ranked(
        client.post(
            RANK,
            json={"strategy": "margin", "budget": 40, "probabilities": pool.tolist()},
        )
    )
    best = everything["indices"]
    exclude = [best[3], best[0], best[1]]  # any order
    body = assert_ranked(
        client.post(
            RANK,
            json={
                "strategy": "margin",
                "budget": 5,
                "probabilities": pool.tolist(),
                "exclude": exclude,
                "return_all_scores": True,
            },
        )
    )
    assert body["indices"] == [best[2], *best[4:8]]
    assert body["scores"] == [everything["scores"][2], *everything["scores"][4:8]]
    assert not set(body["indices"]) & set(exclude)
    # Excluded items are still scored, in pool order.
    assert len(body["all_scores"]) == 40
    assert body["all_scores"][best[0]] == everything["scores"][0]


def test_budget_may_take_every_row_left_after_exclusions(client):
    body = assert_ranked(
        client.post(
            RANK,
            json={
                "strategy": "margin",
                "budget": 2,
                "probabilities": [[0.5, 0.5], [0.9, 0.1], [0.6, 0.4]],
                "exclude": [0],
            },
        )
    )
    assert body["indices"] == [2, 1]
    assert body["scores"] == pytest.approx([0.8, 0.2])


@pytest.mark.parametrize("temperature", [0.25, 1, 2, 10])
def test_logits_with_temperature_equal_their_softmax_as_probabilities(client, temperature):
    logits = np.random.default_rng(2).normal(scale=3.0, size=(30, 5))
    common = {"strategy": "entropy", "budget": 5, "return_all_scores": True}
    from_logits = assert_ranked(
        client.post(
            RANK,
            json={**common, "logits": logits.tolist(), "params": {"temperature": temperature}},
        )
    )
    probabilities = softmax(logits, temperature)
    from_probs = assert_ranked(
        client.post(RANK, json={**common, "probabilities": probabilities.tolist()})
    )
    assert from_logits["all_scores"] == pytest.approx(from_probs["all_scores"], rel=1e-9)
    assert from_logits["indices"] == from_probs["indices"]
    assert from_logits["all_scores"] == pytest.approx(
        expected_scores("entropy", probabilities), rel=1e-9
    )


def test_logits_temperature_defaults_to_one(client):
    logits = np.random.default_rng(3).normal(size=(10, 3))
    common = {"strategy": "margin", "budget": 3, "logits": logits.tolist()}
    default = assert_ranked(client.post(RANK, json=common))
    explicit = assert_ranked(client.post(RANK, json={**common, "params": {"temperature": 1}}))
    assert default == explicit
    assert default["scores"] == pytest.approx(
        np.sort(expected_scores("margin", softmax(logits)))[::-1][:3], rel=1e-12
    )


def test_extreme_finite_logits_are_ranked(client):
    # Finite logits whose difference overflows a float: softmax is still [1, 0].
    logits = [[1.5e308, -1.5e308], [0.0, 0.0]]
    body = assert_ranked(
        client.post(
            RANK,
            json={"strategy": "margin", "budget": 2, "logits": logits, "return_all_scores": True},
        )
    )
    assert body["all_scores"] == [0.0, 1.0]


def random_request(pool: np.ndarray, **fields: object) -> dict[str, object]:
    return {
        "strategy": "random",
        "budget": 5,
        "probabilities": pool.tolist(),
        "return_all_scores": True,
        **fields,
    }


def test_a_seed_makes_random_deterministic(client, pool):
    first = assert_ranked(client.post(RANK, json=random_request(pool, seed=42)))
    again = assert_ranked(client.post(RANK, json=random_request(pool, seed=42)))
    other = assert_ranked(client.post(RANK, json=random_request(pool, seed=43)))
    assert first == again
    assert first["seed"] == 42
    assert other["all_scores"] != first["all_scores"]
    assert all(0 <= score < 1 for score in first["all_scores"])
    assert first["indices"] == best_first(first["all_scores"], 5)


def test_an_unseeded_random_answer_returns_the_seed_that_reproduces_it(client, pool):
    drawn = assert_ranked(client.post(RANK, json=random_request(pool)))
    seed = drawn["seed"]
    assert isinstance(seed, int)
    assert 0 <= seed < 2**53
    replay = assert_ranked(client.post(RANK, json=random_request(pool, seed=seed)))
    assert replay == drawn
    another = assert_ranked(client.post(RANK, json=random_request(pool)))
    assert another["seed"] != seed


def test_normalize_rescales_rows_that_do_not_sum_to_one(client, pool):
    weights = pool * np.random.default_rng(4).uniform(0.5, 20.0, size=(40, 1))
    common = {"strategy": "ratio", "budget": 4, "return_all_scores": True}
    rescaled = assert_ranked(
        client.post(RANK, json={**common, "probabilities": weights.tolist(), "normalize": True})
    )
    assert rescaled["all_scores"] == pytest.approx(expected_scores("ratio", pool), rel=1e-12)
    assert rescaled["indices"] == best_first(rescaled["all_scores"], 4)


def test_a_strategy_alias_answers_with_the_canonical_name(client):
    samples = [[[0.9, 0.1], [0.1, 0.9]], [[0.8, 0.2], [0.8, 0.2]]]
    body = assert_ranked(
        client.post(RANK, json={"strategy": "consensus_entropy", "budget": 1, "samples": samples})
    )
    assert body["strategy"] == "predictive_entropy"
    assert body["indices"] == [0]
    assert body["scores"] == pytest.approx([np.log(2)])
