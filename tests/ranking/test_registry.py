import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from service.errors import InvalidInput
from service.ranking.inputs import INPUT_KINDS
from service.ranking.registry import ALIASES, STRATEGIES, get_strategy
from service.ranking.rowops import columns, pass_columns
from tests.ranking.helpers import ATOL, DETERMINISTIC, DTYPES, POINTWISE, random_pool


def score(name, pool, seed=0):
    """The strategy's scorer on ``pool`` (n, c) or (n, t, c), laid out by columns."""
    cols = columns(pool) if pool.ndim == 2 else pass_columns(pool)
    return POINTWISE[name].make_scorer({}, np.random.default_rng(seed))(cols)


@pytest.mark.parametrize("name", sorted(STRATEGIES))
def test_every_strategy_is_found_by_its_name(name):
    assert get_strategy(name) is STRATEGIES[name]


def test_an_alias_finds_its_strategy():
    assert ALIASES["consensus_entropy"] == "predictive_entropy"
    assert get_strategy("consensus_entropy") is STRATEGIES["predictive_entropy"]


def test_an_unknown_strategy_lists_the_known_ones():
    with pytest.raises(InvalidInput) as caught:
        get_strategy("most_confused")
    assert caught.value.field == "strategy"
    assert "'most_confused'" in caught.value.detail
    assert ", ".join(sorted(STRATEGIES)) in caught.value.detail


@pytest.mark.parametrize("name", sorted(STRATEGIES))
def test_descriptions_are_json_and_consistent(name):
    strategy = STRATEGIES[name]
    described = json.loads(json.dumps(strategy.describe()))
    assert described["name"] == name
    assert set(strategy.inputs) <= set(INPUT_KINDS)
    assert strategy.form in ("probs", "samples", "labels", None)
    # Pointwise strategies take every kind of their form, units included;
    # batch strategies the kinds with one unit per item.
    of_form = {
        "samples": {k for k, kind in INPUT_KINDS.items() if kind.yields == "samples"},
        "labels": {k for k, kind in INPUT_KINDS.items() if kind.yields == "labels"},
        "probs": set(INPUT_KINDS),
    }
    if strategy.form is not None:
        expected = {
            k
            for k in of_form[strategy.form]
            if INPUT_KINDS[k].unit in strategy.units
            and (strategy.pointwise or not INPUT_KINDS[k].has_units)
        }
        assert set(strategy.inputs) == expected
        assert strategy.inputs
    if strategy.form is None:
        assert strategy.inputs == ()
        assert strategy.arrays
    assert (strategy.make_scorer is None) != (strategy.select is None)


def test_randomized_strategies_are_the_random_baseline_and_seeded_batch_pickers():
    randomized = sorted(name for name, s in STRATEGIES.items() if s.randomized)
    assert randomized == [
        "badge",
        "batchbald",
        "cluster_margin",
        "discriminative",
        "embedding_kmeans",
        "falcun",
        "probcover",
        "random",
        "typiclust",
    ]


@pytest.mark.parametrize("name", sorted(POINTWISE))
@pytest.mark.parametrize("dtype", DTYPES)
def test_a_scorer_gives_one_finite_score_per_item(name, dtype):
    pool = random_pool(np.random.default_rng(1), name, 7, 4, dtype)
    scores = score(name, pool)
    assert scores.shape == (7,)
    assert np.isfinite(scores).all()
    assert (scores >= 0).all()


@settings(max_examples=30)
@given(
    seed=st.integers(0, 2**32 - 1),
    n=st.integers(1, 20),
    c=st.sampled_from([2, 3, 10, 33, 40]),
    dtype=st.sampled_from(DTYPES),
)
@pytest.mark.parametrize("name", DETERMINISTIC)
def test_permuting_classes_leaves_scores_unchanged(name, seed, n, c, dtype):
    rng = np.random.default_rng(seed)
    pool = random_pool(rng, name, n, c, dtype)
    shuffled = pool[..., rng.permutation(c)]
    np.testing.assert_allclose(score(name, shuffled), score(name, pool), rtol=0, atol=ATOL[dtype])
