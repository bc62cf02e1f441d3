"""The modAL drop-in with the real modAL package against the app on a loopback port.

Picks are compared with modAL's own strategies as sets: modAL returns its
picks unordered (argpartition) and breaks ties its own way, the service
best first with ties toward the lower index. Every comparison first checks
that the pool has no tie at the cut: the k-th and (k+1)-th scores, by
modAL's own measure, differ by more than 1e-9, far above the rounding by
which the two computations can differ, so both must pick the same set.
"""

from __future__ import annotations

import inspect
import pickle
import subprocess
import sys
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pytest

pytest.importorskip("modAL")
pytest.importorskip("sklearn")

from modAL import disagreement, uncertainty
from modAL.models import ActiveLearner, Committee, learners
from sklearn.datasets import load_digits, load_iris
from sklearn.linear_model import LogisticRegression
from sklearn.utils import check_X_y
from threadpoolctl import threadpool_limits

from service.app import create_app
from service.client import AlrankClient
from service.integrations import ranking
from service.integrations.modal import alrank_strategy
from service.integrations.ranking import RankingRefused, fits_json
from tests.servers import serve

CUT_GAP = 1e-9


@pytest.fixture(scope="module")
def url() -> Iterator[str]:
    yield from serve(create_app({"TESTING": True}))


@pytest.fixture(autouse=True, scope="module")
def _one_blas_thread() -> Iterator[None]:
    """The fits here are tiny: more BLAS threads than that only contend for the cores."""
    with threadpool_limits(limits=1):
        yield


@pytest.fixture(autouse=True)
def _modal_on_this_scikit_learn(monkeypatch: pytest.MonkeyPatch) -> None:
    """modAL 0.4.2 passes check_X_y's force_all_finite, which scikit-learn 1.8 renamed."""
    if "force_all_finite" in inspect.signature(check_X_y).parameters:
        return

    def renamed(*args: Any, force_all_finite: bool = True, **kwargs: Any) -> Any:
        return check_X_y(*args, ensure_all_finite=force_all_finite, **kwargs)

    monkeypatch.setattr(learners, "check_X_y", renamed)


@pytest.fixture(scope="module")
def digits() -> tuple[np.ndarray, np.ndarray]:
    """Digits scaled to [0, 1]; no two rows are equal, so no two items tie by equality."""
    x, y = load_digits(return_X_y=True)
    assert len(np.unique(x, axis=0)) == len(x)
    return x / 16.0, y


def logistic() -> LogisticRegression:
    return LogisticRegression(max_iter=2000)


def projection(columns: int, dims: int = 8) -> Callable[[Any], np.ndarray]:
    """A fixed random projection of X to ``dims`` columns: a stand-in for a learned encoder."""
    weights = np.random.default_rng(7).normal(size=(columns, dims))
    return lambda x: np.asarray(x, dtype=np.float64) @ weights


def cut_is_tie_free(values: np.ndarray, k: int, *, descending: bool = True) -> None:
    ordered = np.sort(values)[::-1] if descending else np.sort(values)
    assert abs(ordered[k - 1] - ordered[k]) > CUT_GAP, "the pool ties at the cut"


def as_set(indices: Any) -> set[int]:
    return set(np.asarray(indices).ravel().tolist())


# --- the loop of modAL's own examples ---------------------------------------------------


def test_the_iris_loop_of_modals_examples_runs(url):
    x, y = load_iris(return_X_y=True)
    initial = np.array([0, 50, 100])
    learner = ActiveLearner(
        estimator=logistic(),
        query_strategy=alrank_strategy("margin", url=url),
        X_training=x[initial],
        y_training=y[initial],
    )
    x_pool, y_pool = np.delete(x, initial, axis=0), np.delete(y, initial)
    for _ in range(5):
        query_idx, query_inst = learner.query(x_pool, n_instances=2)
        assert len(as_set(query_idx)) == 2
        np.testing.assert_array_equal(query_inst, x_pool[query_idx])
        learner.teach(X=x_pool[query_idx], y=y_pool[query_idx])
        x_pool, y_pool = np.delete(x_pool, query_idx, axis=0), np.delete(y_pool, query_idx)
    assert learner.X_training.shape == (13, 4)
    assert len(x_pool) == 137
    assert learner.score(x, y) > 0.8


def test_a_single_pick_and_the_metrics(url, digits):
    x, y = digits
    learner = ActiveLearner(logistic(), alrank_strategy("margin", url=url), x[:30], y[:30])
    query_idx, query_inst, metrics = learner.query(x[30:], return_metrics=True)
    proba = learner.predict_proba(x[30:])
    top2 = np.sort(proba, axis=1)[:, -2:]
    margin = 1 - (top2[:, 1] - top2[:, 0])
    assert query_idx.tolist() == [int(np.argmax(margin))]
    np.testing.assert_allclose(metrics, margin[query_idx], rtol=0, atol=1e-12)
    assert query_inst.shape == (1, 64)


# --- the same picks as modAL's strategies -----------------------------------------------

UNCERTAINTY_PEERS = [
    # (modAL's strategy, its measure, whether larger is picked first, alrank's name)
    (uncertainty.margin_sampling, uncertainty.classifier_margin, False, "margin"),
    (
        uncertainty.uncertainty_sampling,
        uncertainty.classifier_uncertainty,
        True,
        "least_confidence",
    ),
    (uncertainty.entropy_sampling, uncertainty.classifier_entropy, True, "entropy"),
]


@pytest.mark.parametrize(("peer", "measure", "descending", "name"), UNCERTAINTY_PEERS)
@pytest.mark.parametrize("k", [1, 25])
def test_uncertainty_picks_equal_modals(url, digits, peer, measure, descending, name, k):
    x, y = digits
    learner = ActiveLearner(logistic(), peer, x[:40], y[:40])
    pool = x[40:700]
    cut_is_tie_free(measure(learner, pool), k, descending=descending)
    theirs, _ = learner.query(pool, n_instances=k)
    learner.query_strategy = alrank_strategy(name, url=url)
    ours, _ = learner.query(pool, n_instances=k)
    assert len(ours) == k
    assert as_set(ours) == as_set(theirs)


def committee_of(x: np.ndarray, y: np.ndarray, strategy: Any) -> Committee:
    """Three logistic regressions on different labeled rows; the last never saw class 9.

    modAL fills that member's class-9 column with zeros and aligns its other
    columns to the committee's classes; the drop-in sends vote_proba, which
    holds exactly those aligned columns.
    """
    rows = [np.arange(0, 40), np.arange(40, 90), np.flatnonzero(y[:150] != 9)[:45]]
    members = [ActiveLearner(logistic(), X_training=x[r], y_training=y[r]) for r in rows]
    committee = Committee(learner_list=members, query_strategy=strategy)
    assert committee.n_classes_ == 10
    assert len(members[2].estimator.classes_) == 9
    return committee


@pytest.mark.parametrize("k", [3, 25])
def test_kl_max_disagreement_picks_equal_modals(url, digits, k):
    x, y = digits
    committee = committee_of(x, y, disagreement.max_disagreement_sampling)
    pool = x[150:900]
    cut_is_tie_free(disagreement.KL_max_disagreement(committee, pool), k)
    theirs, _ = committee.query(pool, n_instances=k)
    committee.query_strategy = alrank_strategy("kl_max_disagreement", url=url)
    ours, _ = committee.query(pool, n_instances=k)
    assert as_set(ours) == as_set(theirs)


def test_vote_entropy_picks_equal_modals(url, digits):
    """modAL counts each member's ``predict`` as its vote, the service each member's
    argmax of the stacked probabilities; for logistic regression the two are
    the same class (predict is the argmax of the decision function, which
    softmax keeps, ties to the lower class either way). An estimator whose
    predict is not the argmax of its predict_proba (SVC with probability=True)
    would vote differently. Vote entropy takes a few values only (the split of
    3 votes), so the budget is the count of items at the top two levels: the
    cut lies between levels by construction and cannot tie.
    """
    x, y = digits
    committee = committee_of(x, y, disagreement.vote_entropy_sampling)
    pool = x[150:900]
    votes = committee.vote(pool)
    np.testing.assert_array_equal(
        votes, committee.classes_[np.argmax(committee.vote_proba(pool), axis=2)]
    )
    scores = disagreement.vote_entropy(committee, pool)
    levels = np.unique(scores)[::-1]
    assert len(levels) == 3
    k = int(np.count_nonzero(scores >= levels[1]))
    assert 0 < k < len(pool)
    cut_is_tie_free(scores, k)
    theirs, _ = committee.query(pool, n_instances=k)
    committee.query_strategy = alrank_strategy("vote_entropy", url=url)
    ours, _ = committee.query(pool, n_instances=k)
    assert as_set(ours) == as_set(theirs)


@pytest.mark.parametrize(
    ("peer", "measure", "descending", "name"),
    [
        (
            disagreement.consensus_entropy_sampling,
            disagreement.consensus_entropy,
            True,
            "consensus_entropy",
        ),
        (uncertainty.margin_sampling, uncertainty.classifier_margin, False, "margin"),
    ],
)
def test_committee_consensus_picks_equal_modals(url, digits, peer, measure, descending, name):
    """The probability strategies score the mean over members, as modAL's
    committee.predict_proba does; consensus_entropy is alrank's alias of
    predictive_entropy."""
    x, y = digits
    committee = committee_of(x, y, peer)
    pool, k = x[150:900], 30
    cut_is_tie_free(measure(committee, pool), k, descending=descending)
    theirs, _ = committee.query(pool, n_instances=k)
    committee.query_strategy = alrank_strategy(name, url=url)
    ours, _ = committee.query(pool, n_instances=k)
    assert as_set(ours) == as_set(theirs)


# --- embeddings ------------------------------------------------------------------------


def test_coreset_with_an_embed_function_runs_in_the_loop(url, digits):
    x, y = digits
    embed = projection(x.shape[1])
    initial = np.arange(20)
    learner = ActiveLearner(
        logistic(), alrank_strategy("coreset", url=url, embed=embed), x[initial], y[initial]
    )
    x_pool, y_pool = x[20:400], y[20:400]
    with AlrankClient(url) as client:
        for _ in range(3):
            expected = client.rank(
                "coreset",
                5,
                embeddings=embed(x_pool),
                labeled_embeddings=embed(learner.X_training),
            )
            query_idx, _ = learner.query(x_pool, n_instances=5)
            assert query_idx.tolist() == expected.indices.tolist()
            distances = np.linalg.norm(
                embed(x_pool)[:, None, :] - embed(learner.X_training)[None, :, :], axis=2
            )
            assert query_idx[0] == int(np.argmax(distances.min(axis=1)))
            learner.teach(x_pool[query_idx], y_pool[query_idx])
            x_pool, y_pool = np.delete(x_pool, query_idx, axis=0), np.delete(y_pool, query_idx)
    assert learner.X_training.shape == (35, 64)


def test_coreset_of_a_committee_counts_each_labeled_row_once(url, digits):
    x, y = digits
    embed = projection(x.shape[1])
    committee = committee_of(x, y, alrank_strategy("coreset", url=url, embed=embed))
    labeled = np.unique(np.concatenate([embed(member.X_training) for member in committee]), axis=0)
    pool = x[150:500]
    with AlrankClient(url) as client:
        expected = client.rank("coreset", 4, embeddings=embed(pool), labeled_embeddings=labeled)
    query_idx, _ = committee.query(pool, n_instances=4)
    assert query_idx.tolist() == expected.indices.tolist()


def test_badge_sends_probabilities_and_embeddings(url, digits):
    x, y = digits
    embed = projection(x.shape[1])
    learner = ActiveLearner(
        logistic(), alrank_strategy("badge", url=url, embed=embed, seed=3), x[:30], y[:30]
    )
    pool = x[30:300]
    with AlrankClient(url) as client:
        expected = client.rank(
            "badge", 6, probabilities=learner.predict_proba(pool), embeddings=embed(pool), seed=3
        )
    query_idx, _ = learner.query(pool, n_instances=6)
    assert query_idx.tolist() == expected.indices.tolist()


def test_an_embeddings_strategy_without_embed_is_refused_before_sending(url, digits):
    x, y = digits
    learner = ActiveLearner(logistic(), alrank_strategy("coreset", url=url), x[:30], y[:30])
    with pytest.raises(ValueError, match=r"coreset.*embed="):
        learner.query(x[30:100], n_instances=2)


def test_embed_must_return_a_row_per_item(url, digits):
    x, y = digits
    strategy = alrank_strategy("coreset", url=url, embed=lambda rows: np.zeros((3, 2)))
    learner = ActiveLearner(logistic(), strategy, x[:30], y[:30])
    with pytest.raises(ValueError, match="one row per row"):
        learner.query(x[30:100], n_instances=2)


# --- transport, fields and errors -------------------------------------------------------


def test_json_and_npy_requests_give_the_same_answer(url, digits, monkeypatch):
    x, y = digits
    learner = ActiveLearner(logistic(), X_training=x[:30], y_training=y[:30])
    pool = x[30:60]  # 30 x 10 = 300 probabilities: JSON under the default threshold
    sent_as_json: list[int] = []
    rank_json = ranking.RankClient.rank_json

    def spy(self: ranking.RankClient, document: Any) -> Any:
        sent_as_json.append(len(document["probabilities"]))
        return rank_json(self, document)

    monkeypatch.setattr(ranking.RankClient, "rank_json", spy)
    as_json = alrank_strategy("entropy", url=url)(learner, pool, n_instances=10)
    assert sent_as_json == [30]
    as_npy = alrank_strategy("entropy", url=url, json_max_elements=0)(learner, pool, 10)
    assert sent_as_json == [30]
    assert as_json[0].tolist() == as_npy[0].tolist()
    assert as_json[1].tolist() == as_npy[1].tolist()


def test_what_travels_as_json():
    small = np.full((4, 2), 0.5)
    assert fits_json({"probabilities": small}, 8)
    assert not fits_json({"probabilities": small}, 7)
    assert not fits_json({"probabilities": small, "embeddings": small}, 15)
    assert not fits_json({"probabilities": small.astype(np.float32)}, 8)
    assert not fits_json({"probabilities": np.array([[np.nan, 1.0]])}, 8)


def test_request_fields_at_construction_and_per_query(url, digits):
    x, y = digits
    learner = ActiveLearner(logistic(), X_training=x[:30], y_training=y[:30])
    pool = x[30:90]
    proba = learner.predict_proba(pool)
    strategy = alrank_strategy("margin", url=url, exclude=[0, 1, 2])
    with AlrankClient(url) as client:
        expected = client.rank("margin", 5, probabilities=proba, exclude=[0, 1, 2])
        drawn = client.rank(
            "margin", 5, probabilities=proba, exclude=[0, 1, 2], selection="power", beta=2, seed=11
        )
    assert strategy(learner, pool, 5)[0].tolist() == expected.indices.tolist()
    picks, _ = strategy(learner, pool, n_instances=5, selection="power", beta=2, seed=11)
    assert picks.tolist() == drawn.indices.tolist()
    assert strategy.last_result is not None
    assert strategy.last_result.selection["method"] == "power"
    assert not as_set(picks) & {0, 1, 2}


def test_an_unknown_keyword_is_refused(url, digits):
    x, y = digits
    learner = ActiveLearner(logistic(), alrank_strategy("margin", url=url), x[:30], y[:30])
    with pytest.raises(TypeError, match="random_tie_break"):
        learner.query(x[30:60], n_instances=2, random_tie_break=True)
    with pytest.raises(TypeError, match="seed"):
        alrank_strategy("margin", url=url, seed=1.5)


def test_a_refused_ranking_carries_the_problems_detail_and_field(url, digits):
    x, y = digits
    learner = ActiveLearner(logistic(), alrank_strategy("bald", url=url), x[:30], y[:30])
    with pytest.raises(RankingRefused) as refused:
        learner.query(x[30:60], n_instances=2)
    assert refused.value.status == 422
    assert refused.value.field == "probabilities"
    assert "needs one of: samples" in refused.value.detail
    assert str(refused.value).startswith("alrank refused 'bald' (422 Unprocessable Content)")
    with pytest.raises(RankingRefused) as refused:
        alrank_strategy("margin", url=url)(learner, x[30:35], n_instances=6)
    assert refused.value.field == "budget"
    with pytest.raises(RankingRefused) as refused:
        alrank_strategy("nope", url=url)(learner, x[30:35], n_instances=1)
    assert refused.value.field == "strategy"


def test_a_strategy_survives_pickling(url, digits):
    x, y = digits
    strategy = alrank_strategy("margin", url=url)
    learner = ActiveLearner(logistic(), strategy, x[:30], y[:30])
    first, _ = learner.query(x[30:90], n_instances=3)
    copy = pickle.loads(pickle.dumps(strategy))
    assert copy(learner, x[30:90], n_instances=3)[0].tolist() == first.tolist()


def test_importing_the_service_needs_neither_library():
    code = (
        "import sys, service, service.integrations, service.integrations.modal\n"
        "assert not [m for m in sys.modules if m.startswith(('modAL', 'small_text'))]\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
