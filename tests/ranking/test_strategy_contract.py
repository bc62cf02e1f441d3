"""The contract every registered strategy keeps, pointwise or batch.

Every test runs over the whole registry, and each request is built only from
what a strategy declares (``inputs``, ``arrays``, ``optional_arrays``,
``form``), so a newly registered strategy is held to the contract with no
edit here. For any valid request the answer is ``budget`` distinct pool
indices in range, none excluded, with finite scores (best first for a
pointwise strategy under top selection), and:

- permuting the pool permutes the answer (deterministic strategies);
- the same request with the same seed gives the same answer, and the seed
  is echoed exactly when randomness was used;
- a budget of exactly the items left after exclusions returns each once, and
  a larger one is refused (``InvalidInput`` on "budget");
- a pointwise answer, and every score, does not depend on the chunk rows.

Token kinds are sent padded (N x L_max x ..., with lengths), so that every
array has the pool axis first and a permutation moves whole sequences. A
strategy that needs the labeled items' label count takes it as a parameter
when the labeled sets are not sent.
"""

from __future__ import annotations

import inspect
import sys
from dataclasses import dataclass, replace

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from service.errors import InvalidInput
from service.ranking.inputs import ARRAY_ROLES, INPUT_KINDS, LENGTHS
from service.ranking.multilabel import LABEL_CARDINALITY, LABELED_LABELS
from service.ranking.pipeline import Ranking
from service.ranking.registry import STRATEGIES
from service.ranking.selection import SELECTION_METHODS, Selection
from tests.ranking.helpers import DTYPES, normalized, rank_request

NAMES = sorted(STRATEGIES)
POINTWISE_NAMES = sorted(name for name in NAMES if STRATEGIES[name].pointwise)

for_each_strategy = pytest.mark.parametrize("name", NAMES)
for_each_pointwise_strategy = pytest.mark.parametrize("name", POINTWISE_NAMES)

# Small pools: every property is about indices and ties, not size.
PROPERTY = settings(max_examples=20, deadline=None)

# How far a score may move, (rtol, atol), when only the pool's order changes:
# a batch strategy may sum over the pool (a mean, say) in another order.
SCORE_TOL = {np.dtype(np.float32): (1e-4, 1e-4), np.dtype(np.float64): (1e-9, 1e-9)}
SEEDS = st.integers(0, 2**53 - 1)


# A generic request: built from the strategy's declared needs alone.


@dataclass(frozen=True)
class Request:
    name: str
    arrays: dict[str, np.ndarray]
    budget: int
    exclude: tuple[int, ...] = ()

    @property
    def strategy(self):
        return STRATEGIES[self.name]

    @property
    def pool_size(self) -> int:
        return next(len(a) for role, a in self.arrays.items() if axes_of(role)[0] == "N")

    @property
    def dtype(self) -> np.dtype:
        return next(iter(self.arrays.values())).dtype


def axes_of(role: str) -> str:
    """The axes of a request array as sent here, e.g. "NTC", "NSC" (padded
    tokens, S the longest sequence) or "MD" (N: the pool axis)."""
    if role == LENGTHS.name:
        return LENGTHS.axes
    if role in INPUT_KINDS:
        kind = INPUT_KINDS[role]
        return "NS" + kind.axes[1:] if kind.lengths is not None else kind.axes
    return ARRAY_ROLES[role].axes


def input_values(kind: str, rng: np.random.Generator, shape: list[int]) -> np.ndarray:
    """Continuous random values of an input kind, as float64: ties are improbable."""
    if kind.endswith("logits"):
        return 3.0 * rng.standard_normal(shape)
    if INPUT_KINDS[kind].yields == "labels":
        return rng.random(shape)
    # Every other kind holds probability rows over its last (class) axis.
    return normalized(rng.gamma(rng.uniform(0.5, 2.0), size=shape))


def params_for(request: Request) -> dict[str, object]:
    """The label count a strategy needs when the labeled sets are not sent."""
    declared = {param.name for param in request.strategy.params}
    if LABEL_CARDINALITY.name in declared and LABELED_LABELS not in request.arrays:
        return {LABEL_CARDINALITY.name: 1.5}
    return {}


def build_arrays(
    name: str,
    rng: np.random.Generator,
    n: int,
    dtype,
    *,
    kind: str | None = None,
    optional: bool = False,
    sizes: dict[str, int] | None = None,
) -> dict[str, np.ndarray]:
    """Arrays for a valid request to strategy ``name`` over a pool of ``n`` items.

    The probability-like input is ``kind`` (default: the first the strategy
    accepts; none if it accepts none), then each required array and, when
    ``optional``, each optional one. ``sizes`` gives the other axes' lengths.
    """
    strategy = STRATEGIES[name]
    sizes = {"N": n, "C": 3, "T": 3, "D": 3, "M": 4, "S": 4, "L": 3, **(sizes or {})}
    arrays = {}
    kind = kind or (strategy.inputs[0] if strategy.inputs else None)
    if kind is not None:
        shape = [sizes[axis] for axis in axes_of(kind)]
        arrays[kind] = input_values(kind, rng, shape).astype(dtype)
        if INPUT_KINDS[kind].lengths is not None:
            lengths = rng.integers(1, sizes["S"] + 1, size=n)
            arrays[kind][np.arange(sizes["S"]) >= lengths[:, None]] = np.nan  # padding
            arrays[LENGTHS.name] = lengths
    for role in strategy.arrays + (strategy.optional_arrays if optional else ()):
        shape = [sizes[axis] for axis in axes_of(role)]
        if role == LABELED_LABELS:
            arrays[role] = rng.integers(0, 2, size=shape).astype(dtype)
        else:
            arrays[role] = rng.standard_normal(shape).astype(dtype)
    return arrays


@st.composite
def requests(draw, name: str, *, min_n: int = 1, max_n: int = 20) -> Request:
    """A valid request to ``name``: any accepted input kind and dtype, optional
    arrays or not, some items excluded, any budget the rest allows."""
    strategy = STRATEGIES[name]
    n = draw(st.integers(min_n, max_n))
    arrays = build_arrays(
        name,
        np.random.default_rng(draw(st.integers(0, 2**32 - 1))),
        n,
        draw(st.sampled_from(DTYPES)),
        kind=draw(st.sampled_from(strategy.inputs)) if strategy.inputs else None,
        optional=bool(strategy.optional_arrays) and draw(st.booleans()),
        sizes={
            "C": draw(st.integers(2, 5)),
            "T": draw(st.integers(2, 4)),
            "D": draw(st.integers(1, 4)),
            "M": draw(st.integers(1, 5)),
            "S": draw(st.integers(1, 5)),
            "L": draw(st.integers(1, 4)),
        },
    )
    exclude = draw(st.lists(st.integers(0, n - 1), unique=True, max_size=n - 1))
    budget = draw(st.integers(1, n - len(exclude)))
    return Request(name, arrays, budget, tuple(exclude))


def selections(name: str) -> st.SearchStrategy[Selection]:
    """Top selection, and for a pointwise strategy the stochastic ones too."""
    if not STRATEGIES[name].pointwise:
        return st.just(Selection())
    return st.builds(
        Selection, st.sampled_from(SELECTION_METHODS), st.sampled_from([0.0, 0.5, 1.0, 4.0])
    )


def rank(request: Request, **options) -> Ranking:
    return rank_request(
        request.name,
        request.arrays,
        request.budget,
        exclude=request.exclude,
        params=params_for(request),
        **options,
    )


def permuted(request: Request, perm: np.ndarray) -> Request:
    """``request`` with pool row ``j`` taken from row ``perm[j]``, in every array
    with a pool axis; exclusions follow their items."""
    moved_to = np.argsort(perm)
    arrays = {
        role: array[perm] if axes_of(role)[0] == "N" else array
        for role, array in request.arrays.items()
    }
    return replace(request, arrays=arrays, exclude=tuple(moved_to[list(request.exclude)]))


# What every answer must be.


def assert_valid(ranking: Ranking, request: Request, *, top: bool = True) -> None:
    """``budget`` distinct in-range, non-excluded ints, finite scores; best first
    for a pointwise strategy under ``top`` selection."""
    indices, scores = ranking.indices, ranking.scores
    n = request.pool_size
    assert ranking.pool_size == n
    assert indices.shape == (request.budget,)
    assert scores.shape == (request.budget,)
    assert indices.dtype.kind in "iu"
    assert len(set(indices.tolist())) == request.budget
    assert ((indices >= 0) & (indices < n)).all()
    assert not set(indices.tolist()) & set(request.exclude)
    assert np.isfinite(scores).all()
    if top and request.strategy.pointwise:
        assert (np.diff(scores) <= 0).all(), scores


def assert_same_answer(first: Ranking, second: Ranking) -> None:
    np.testing.assert_array_equal(second.indices, first.indices)
    np.testing.assert_array_equal(second.scores, first.scores)
    if first.all_scores is None:
        assert second.all_scores is None
    else:
        np.testing.assert_array_equal(second.all_scores, first.all_scores)


def assert_same_picks(first: Ranking, second: Ranking, second_indices, tol) -> None:
    """The same scores in answer order and the same items, except that items
    tied at the cut (the lowest score picked) may be swapped for one another."""
    rtol, atol = tol
    np.testing.assert_allclose(second.scores, first.scores, rtol=rtol, atol=atol)
    for picks, scores, others in (
        (first.indices, first.scores, second_indices),
        (second_indices, second.scores, first.indices),
    ):
        missing = ~np.isin(picks, others)
        at_cut = np.isclose(scores, scores.min(), rtol=rtol, atol=atol)
        assert (at_cut | ~missing).all(), f"{picks[missing]} picked only once, not tied"


# The parametrization covers the registry.


def test_every_registered_strategy_is_covered():
    """Each test here runs for every strategy (pointwise-only tests for every
    pointwise one), and both kinds exist, so none can be skipped silently."""
    assert set(NAMES) == set(STRATEGIES)
    assert set(POINTWISE_NAMES) == {n for n, s in STRATEGIES.items() if s.pointwise}
    assert POINTWISE_NAMES
    assert set(NAMES) - set(POINTWISE_NAMES), "no batch strategy registered"
    tests = [
        func
        for name, func in vars(sys.modules[__name__]).items()
        if name.startswith("test_") and "name" in inspect.signature(func).parameters
    ]
    assert len(tests) >= 6
    covered = {test.__name__: names_of(test) for test in tests}
    for test, names in covered.items():
        assert names in (set(STRATEGIES), set(POINTWISE_NAMES)), test
    pointwise_only = {test for test, names in covered.items() if names != set(STRATEGIES)}
    assert pointwise_only == {"test_chunk_rows_change_neither_the_answer_nor_any_score"}


def names_of(test) -> set[str]:
    """The strategy names ``test`` is parametrized over."""
    (mark,) = [m for m in test.pytestmark if m.name == "parametrize" and m.args[0] == "name"]
    return set(mark.args[1])


@for_each_strategy
def test_a_request_built_from_the_declared_needs_is_valid(name):
    strategy = STRATEGIES[name]
    rng = np.random.default_rng(0)
    for kind in strategy.inputs or (None,):
        for optional in {False, bool(strategy.optional_arrays)}:
            for dtype in DTYPES:
                request = Request(
                    name, build_arrays(name, rng, 12, dtype, kind=kind, optional=optional), 4
                )
                assert_valid(rank(request, seed=1), request)


# 1. Permutation equivariance.


def _cold_start_tie(request) -> bool:
    """Whether, without labeled embeddings, the two items nearest the mean of the
    embeddings are within float rounding of each other."""
    embeddings = request.arrays.get("embeddings")
    if embeddings is None or request.arrays.get("labeled_embeddings") is not None:
        return False
    points = np.asarray(embeddings, dtype=np.float64)
    distances = np.sort(np.linalg.norm(points - points.mean(axis=0), axis=1))
    return len(distances) > 1 and distances[1] - distances[0] <= 1e-4 * (1 + distances[1])


@for_each_strategy
@PROPERTY
@given(data=st.data())
def test_permuting_the_pool_permutes_the_answer(name, data):
    request = data.draw(requests(name, min_n=2))
    perm = np.array(data.draw(st.permutations(range(request.pool_size))), dtype=np.int64)
    moved = permuted(request, perm)
    # A randomized strategy draws per pool position (random) or per pick from
    # the pool in its order (badge, cluster_margin): with the same seed a
    # permuted pool gives another, equally valid, draw. Only validity holds.
    if request.strategy.randomized:
        assert_valid(rank(moved, seed=7), moved)
        return
    all_scores = request.strategy.pointwise
    # A cold start picks the item nearest the embeddings' mean, ties to the
    # lower index: with two items nearly as near, either order is right.
    assume(all_scores or not _cold_start_tie(request))
    first = rank(request, return_all_scores=all_scores)
    second = rank(moved, return_all_scores=all_scores)
    assert_valid(first, request)
    assert_valid(second, moved)
    tol = SCORE_TOL[request.dtype]
    assert_same_picks(first, second, perm[second.indices], tol)
    if all_scores:
        rtol, atol = tol
        np.testing.assert_allclose(second.all_scores, first.all_scores[perm], rtol=rtol, atol=atol)


# 2. Determinism with a seed.


@for_each_strategy
@PROPERTY
@given(data=st.data(), seed=SEEDS)
def test_the_same_seed_gives_the_same_answer(name, data, seed):
    request = data.draw(requests(name))
    all_scores = request.strategy.pointwise  # a batch strategy scores only its picks
    first = rank(request, seed=seed, return_all_scores=all_scores)
    assert_valid(first, request)
    assert_same_answer(first, rank(request, seed=seed, return_all_scores=all_scores))
    if request.strategy.randomized:
        assert first.seed == seed
        drawn = rank(request)  # no seed sent: one is drawn, echoed, and replays
        assert isinstance(drawn.seed, int)
        assert_same_answer(drawn, rank(request, seed=drawn.seed))
    else:
        assert first.seed is None
        unseeded = rank(request, return_all_scores=all_scores)
        assert unseeded.seed is None
        assert_same_answer(first, unseeded)


# 3. Exclusions.


@for_each_strategy
@PROPERTY
@given(data=st.data(), seed=SEEDS)
def test_no_excluded_item_is_ever_returned(name, data, seed):
    request = data.draw(requests(name))
    selection = data.draw(selections(name))
    ranking = rank(request, seed=seed, selection=selection)
    assert_valid(ranking, request, top=selection.method == "top")


@for_each_strategy
@PROPERTY
@given(data=st.data(), seed=SEEDS)
def test_excluding_all_but_budget_items_returns_exactly_those(name, data, seed):
    request = data.draw(requests(name))
    n = request.pool_size
    kept = data.draw(st.lists(st.integers(0, n - 1), unique=True, min_size=1, max_size=n))
    selection = data.draw(selections(name))
    request = replace(request, budget=len(kept), exclude=tuple(sorted(set(range(n)) - set(kept))))
    ranking = rank(request, seed=seed, selection=selection)
    assert_valid(ranking, request, top=selection.method == "top")
    assert sorted(ranking.indices.tolist()) == sorted(kept)


# 4. Budget edges.


@for_each_strategy
@pytest.mark.parametrize("dtype", DTYPES)
def test_a_budget_of_one_picks_one_item(name, dtype):
    request = Request(name, build_arrays(name, np.random.default_rng(3), 9, dtype), 1, (0, 4))
    assert_valid(rank(request, seed=5), request)


@for_each_strategy
@pytest.mark.parametrize("dtype", DTYPES)
def test_a_budget_of_the_whole_pool_returns_each_item_once(name, dtype):
    request = Request(name, build_arrays(name, np.random.default_rng(4), 9, dtype), 9)
    ranking = rank(request, seed=5)
    assert_valid(ranking, request)
    assert sorted(ranking.indices.tolist()) == list(range(9))


@for_each_strategy
@pytest.mark.parametrize(("n_excluded", "over"), [(0, 1), (3, 1), (8, 1), (0, 5)])
def test_a_budget_over_the_eligible_items_is_refused(name, n_excluded, over):
    arrays = build_arrays(name, np.random.default_rng(5), 9, np.float64)
    request = Request(name, arrays, 9 - n_excluded + over, tuple(range(n_excluded)))
    with pytest.raises(InvalidInput) as caught:
        rank(request, seed=5)
    assert caught.value.field == "budget"


@for_each_strategy
def test_a_budget_below_one_is_refused(name):
    request = Request(name, build_arrays(name, np.random.default_rng(6), 5, np.float64), 0)
    with pytest.raises(InvalidInput) as caught:
        rank(request, seed=5)
    assert caught.value.field == "budget"


# 5. Chunk invariance (pointwise strategies read the pool chunk by chunk).


@for_each_pointwise_strategy
@PROPERTY
@given(data=st.data(), seed=SEEDS)
def test_chunk_rows_change_neither_the_answer_nor_any_score(name, data, seed):
    # Float-exact, `random` included: its draws come from one generator in
    # pool order, so item i gets the i-th draw wherever the chunks break.
    request = data.draw(requests(name, max_n=24))
    selection = data.draw(selections(name))
    answers = [
        rank(request, seed=seed, selection=selection, chunk_rows=rows, return_all_scores=True)
        for rows in (request.pool_size, 1, 3, 7)
    ]
    assert_valid(answers[0], request, top=selection.method == "top")
    assert answers[0].all_scores.shape == (request.pool_size,)
    for other in answers[1:]:
        assert_same_answer(answers[0], other)
