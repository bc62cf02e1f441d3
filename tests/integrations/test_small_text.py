"""The small-text drop-in with the real small-text package against the app on a loopback port.

Picks are compared with small-text's own strategies as sets: small-text
returns its picks unordered (argpartition), the service best first. Every
comparison first checks that the pool has no tie at the cut: the n-th and
(n+1)-th scores, by small-text's own measure, differ by more than 1e-9, far
above the rounding by which the two computations can differ.
"""

from __future__ import annotations

import pickle
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pytest

pytest.importorskip("small_text")
pytest.importorskip("sklearn")

from scipy.sparse import csr_matrix
from scipy.stats import entropy
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression
from small_text import (
    BreakingTies,
    ConfidenceEnhancedLinearSVC,
    LeastConfidence,
    PoolBasedActiveLearner,
    PredictionEntropy,
    SklearnClassifierFactory,
    SklearnDataset,
    random_initialization_balanced,
)
from small_text.query_strategies import PoolExhaustedException, QueryStrategy
from threadpoolctl import threadpool_limits

from service.app import create_app
from service.client import AlrankClient
from service.integrations.ranking import RankingRefused
from service.integrations.small_text import AlrankQueryStrategy
from tests.servers import serve

# small-text warns about its own deprecated helper whenever a dataset is given target_labels.
pytestmark = pytest.mark.filterwarnings(
    "ignore:The function get_flattened_unique_labels:DeprecationWarning"
)

CUT_GAP = 1e-9
CLASSES = 10


@pytest.fixture(scope="module")
def url() -> Iterator[str]:
    yield from serve(create_app({"TESTING": True}))


@pytest.fixture(autouse=True, scope="module")
def _one_blas_thread() -> Iterator[None]:
    """The fits here are tiny: more BLAS threads than that only contend for the cores."""
    with threadpool_limits(limits=1):
        yield


@pytest.fixture(scope="module")
def train() -> SklearnDataset:
    """Digits scaled to [0, 1]; no two rows are equal, so no two items tie by equality."""
    x, y = load_digits(return_X_y=True)
    assert len(np.unique(x, axis=0)) == len(x)
    return SklearnDataset(x[:900] / 16.0, y[:900], target_labels=np.arange(CLASSES))


def first_per_class(y: np.ndarray, per_class: int) -> np.ndarray:
    return np.sort(np.concatenate([np.flatnonzero(y == c)[:per_class] for c in range(CLASSES)]))


def projection(columns: int, dims: int = 8) -> Callable[[Any], np.ndarray]:
    """A fixed random projection of a dataset's x: a stand-in for a learned encoder."""
    weights = np.random.default_rng(7).normal(size=(columns, dims))
    return lambda dataset: np.asarray(dataset.x, dtype=np.float64) @ weights


def initialized(train: SklearnDataset, strategy: Any, estimator: Any) -> PoolBasedActiveLearner:
    factory = SklearnClassifierFactory(estimator, CLASSES)
    learner = PoolBasedActiveLearner(factory, strategy, train)
    initial = first_per_class(train.y, 3)
    learner.initialize_data(initial, train.y[initial])
    return learner


def unlabeled_of(learner: PoolBasedActiveLearner) -> np.ndarray:
    mask = np.ones(len(learner.dataset), dtype=bool)
    mask[learner.indices_labeled] = False
    return np.flatnonzero(mask)


def test_is_a_small_text_query_strategy():
    assert isinstance(AlrankQueryStrategy("margin"), QueryStrategy)
    assert str(AlrankQueryStrategy("margin", url="http://h:1")) == (
        "AlrankQueryStrategy('margin', url='http://h:1')"
    )


# --- the loop of small-text's documentation ---------------------------------------------


def test_the_documented_pool_based_loop_runs(url, train):
    factory = SklearnClassifierFactory(ConfidenceEnhancedLinearSVC(), CLASSES)
    strategy = AlrankQueryStrategy("entropy", url=url)
    learner = PoolBasedActiveLearner(factory, strategy, train)
    indices_initial = random_initialization_balanced(train.y, n_samples=20)
    learner.initialize_data(indices_initial, train.y[indices_initial])
    for _ in range(3):
        labeled = set(learner.indices_labeled.tolist())
        indices_queried = learner.query(num_samples=10)
        assert len(set(indices_queried.tolist())) == 10
        assert not set(indices_queried.tolist()) & labeled
        learner.update(train.y[indices_queried])
    assert learner.indices_labeled.shape == (50,)
    assert learner.classifier.predict(train[:200]).shape == (200,)


# --- the same picks as small-text's strategies ------------------------------------------

PEERS = [
    # (small-text's strategy, its measure of probabilities, whether lower is picked first, name)
    (LeastConfidence, lambda proba: proba.max(axis=1), True, "least_confidence"),
    (PredictionEntropy, lambda proba: entropy(proba, axis=1), False, "entropy"),
    (
        BreakingTies,
        lambda proba: -np.diff(np.sort(proba, axis=1)[:, -2:], axis=1)[:, 0],
        True,
        "margin",
    ),
]


@pytest.mark.parametrize(("peer", "measure", "ascending", "name"), PEERS)
@pytest.mark.parametrize("n", [1, 25])
def test_picks_equal_small_texts(url, train, peer, measure, ascending, name, n):
    learner = initialized(train, peer(), LogisticRegression(max_iter=2000))
    unlabeled = unlabeled_of(learner)
    clf, labeled, y = learner.classifier, learner.indices_labeled, learner.y
    values = np.sort(measure(clf.predict_proba(train[unlabeled])))
    at_cut = values[n - 1 : n + 1] if ascending else values[::-1][n - 1 : n + 1]
    assert abs(at_cut[0] - at_cut[1]) > CUT_GAP, "the pool ties at the cut"
    theirs = peer().query(clf, train, unlabeled, labeled, y, n=n)
    ours = AlrankQueryStrategy(name, url=url).query(clf, train, unlabeled, labeled, y, n=n)
    assert ours.dtype == np.int64
    assert len(ours) == n
    assert set(ours.tolist()) == set(theirs.tolist())


def test_picks_are_indices_into_the_dataset(url, train):
    learner = initialized(train, LeastConfidence(), LogisticRegression(max_iter=2000))
    clf = learner.classifier
    unlabeled = np.arange(1, 900, 3)
    strategy = AlrankQueryStrategy("least_confidence", url=url)
    picks = strategy.query(clf, train, unlabeled, learner.indices_labeled, learner.y, n=5)
    assert strategy.last_result is not None
    np.testing.assert_array_equal(picks, unlabeled[strategy.last_result.indices])
    confidence = clf.predict_proba(train[unlabeled]).max(axis=1)
    assert picks.tolist() == unlabeled[np.argsort(confidence, kind="stable")[:5]].tolist()


# --- embeddings ------------------------------------------------------------------------


def test_coreset_with_an_embed_function_runs_in_the_loop(url, train):
    embed = projection(train.x.shape[1])
    strategy = AlrankQueryStrategy("coreset", url=url, embed=embed)
    learner = initialized(train, strategy, LogisticRegression(max_iter=2000))
    with AlrankClient(url) as client:
        for _ in range(3):
            unlabeled, labeled = unlabeled_of(learner), learner.indices_labeled
            expected = client.rank(
                "coreset",
                6,
                embeddings=embed(train[unlabeled]),
                labeled_embeddings=embed(train[labeled]),
            )
            indices_queried = learner.query(num_samples=6)
            assert indices_queried.tolist() == unlabeled[expected.indices].tolist()
            learner.update(train.y[indices_queried])
    assert learner.indices_labeled.shape == (48,)


def test_coreset_from_a_cold_start_needs_no_classifier(url, train):
    embed = projection(train.x.shape[1])
    strategy = AlrankQueryStrategy("coreset", url=url, embed=embed)
    unlabeled = np.arange(100)
    empty = np.empty(0, dtype=np.int64)
    picks = strategy.query(None, train, unlabeled, empty, np.empty(0), n=4)
    with AlrankClient(url) as client:
        expected = client.rank("coreset", 4, embeddings=embed(train[unlabeled]))
    assert picks.tolist() == expected.indices.tolist()


def test_an_embeddings_strategy_without_embed_is_refused_before_sending(url, train):
    strategy = AlrankQueryStrategy("typiclust", url=url)
    with pytest.raises(ValueError, match="typiclust"):
        strategy.query(None, train, np.arange(50), np.arange(50, 60), train.y[50:60], n=2)


# --- fields and errors ------------------------------------------------------------------


def test_query_keywords_are_request_fields(url, train):
    learner = initialized(train, LeastConfidence(), LogisticRegression(max_iter=2000))
    clf, unlabeled = learner.classifier, unlabeled_of(learner)
    strategy = AlrankQueryStrategy("margin", url=url, selection="power", beta=1, seed=5)
    with AlrankClient(url) as client:
        expected = client.rank(
            "margin",
            4,
            probabilities=clf.predict_proba(train[unlabeled]),
            selection="power",
            beta=1,
            seed=5,
        )
        reseeded = client.rank(
            "margin",
            4,
            probabilities=clf.predict_proba(train[unlabeled]),
            selection="power",
            beta=1,
            seed=6,
        )
    arguments = (clf, train, unlabeled, learner.indices_labeled, learner.y)
    assert strategy.query(*arguments, n=4).tolist() == unlabeled[expected.indices].tolist()
    assert strategy.query(*arguments, n=4, seed=6).tolist() == unlabeled[reseeded.indices].tolist()
    with pytest.raises(TypeError, match="pbar"):
        strategy.query(*arguments, n=4, pbar=None)


def test_small_texts_own_checks_and_the_services_refusals(url, train):
    learner = initialized(train, LeastConfidence(), LogisticRegression(max_iter=2000))
    clf, labeled, y = learner.classifier, learner.indices_labeled, learner.y
    with pytest.raises(PoolExhaustedException):
        AlrankQueryStrategy("margin", url=url).query(clf, train, np.arange(3), labeled, y, n=4)
    with pytest.raises(RankingRefused) as refused:
        AlrankQueryStrategy("bald", url=url).query(clf, train, np.arange(40, 60), labeled, y, n=2)
    assert refused.value.field == "probabilities"
    assert "samples" in refused.value.detail
    multi_label = csr_matrix(np.eye(2, CLASSES, dtype=np.int64))
    with pytest.raises(ValueError, match="multi-label"):
        AlrankQueryStrategy("margin", url=url).query(
            clf, train, np.arange(5), labeled, multi_label, n=2
        )


def test_the_strategy_survives_pickling_with_its_learner(url, train):
    strategy = AlrankQueryStrategy("margin", url=url)
    learner = initialized(train, strategy, LogisticRegression(max_iter=2000))
    first = learner.query(num_samples=3)
    copy = pickle.loads(pickle.dumps(learner))
    assert copy.query(num_samples=3).tolist() == first.tolist()
