"""service.jobs.rank, the one entry point: what it reports, resolves and refuses."""

from __future__ import annotations

import numpy as np
import pytest

from service import jobs
from service.decoding.sources import ArraySource
from service.errors import InvalidInput, PayloadTooLarge
from service.jobs import JobSummary, RankLimits, RankRequest, Selection
from tests.web.helpers import dirichlet_pool


def request(strategy="margin", budget=2, **arrays_and_fields):
    arrays = {
        name: ArraySource(np.asarray(value), name=name)
        for name, value in arrays_and_fields.items()
        if isinstance(value, np.ndarray)
    }
    fields = {k: v for k, v in arrays_and_fields.items() if not isinstance(v, np.ndarray)}
    return RankRequest(strategy, budget, arrays=arrays, **fields)


def test_the_answer_names_the_registered_strategy_and_what_was_asked():
    probabilities = dirichlet_pool(20, 3, seed=1)
    selection = Selection("softmax", 2.0)
    answer = jobs.rank(
        request(
            "consensus_entropy",
            3,
            samples=np.stack([probabilities] * 2, axis=1),
            seed=4,
            selection=selection,
        )
    )
    assert answer.strategy == "predictive_entropy"
    assert (answer.budget, answer.selection, answer.model_id) == (3, selection, None)
    assert answer.ranking.seed == 4
    assert answer.ranking.indices.shape == (3,)


def test_the_plan_is_reported_before_ranking():
    heard: list[JobSummary] = []
    jobs.rank(request(probabilities=dirichlet_pool(9, 4)), on_planned=heard.append)
    assert heard == [JobSummary("margin", 2, 9, "probabilities", None)]


def test_nothing_is_reported_for_a_request_the_planner_refuses():
    heard: list[JobSummary] = []
    with pytest.raises(InvalidInput):
        jobs.rank(request(budget=10, probabilities=dirichlet_pool(9, 4)), on_planned=heard.append)
    assert heard == []


@pytest.mark.parametrize(
    ("limits", "error", "field"),
    [
        (RankLimits(max_budget=1), InvalidInput, "budget"),
        (RankLimits(max_rows=8), PayloadTooLarge, "probabilities"),
        (RankLimits(max_classes=3), PayloadTooLarge, "probabilities"),
    ],
)
def test_the_deployments_limits_are_enforced(limits, error, field):
    with pytest.raises(error) as caught:
        jobs.rank(request(probabilities=dirichlet_pool(9, 4)), limits=limits)
    assert caught.value.field == field


def test_a_parameter_the_core_refuses_is_named_under_params():
    probabilities = dirichlet_pool(30, 3, seed=2)
    embeddings = np.random.default_rng(0).normal(size=(30, 4))
    with pytest.raises(InvalidInput) as caught:
        jobs.rank(
            request(
                "cluster_margin",
                5,
                probabilities=probabilities,
                embeddings=embeddings,
                params={"candidates": 3},
            )
        )
    assert caught.value.field == "params.candidates"


def test_features_need_a_model_store():
    features = np.zeros((4, 64), np.float32)
    with pytest.raises(ValueError, match="model store"):
        jobs.rank(request(features=features, model="digits-logreg"))


def test_chunk_size_does_not_change_the_answer():
    probabilities = dirichlet_pool(500, 7, seed=3)
    whole = jobs.rank(request("entropy", 20, probabilities=probabilities))
    for chunk_bytes in (7 * 8, 13 * 7 * 8, 1 << 20):
        cut = jobs.rank(
            request("entropy", 20, probabilities=probabilities),
            limits=RankLimits(chunk_bytes=chunk_bytes),
        )
        np.testing.assert_array_equal(cut.ranking.indices, whole.ranking.indices)
        np.testing.assert_array_equal(cut.ranking.scores, whole.ranking.scores)
