"""Agreement between rounds (Cohen's kappa) and the stabilizing-predictions stopping rule."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import cohen_kappa_score

from service.ranking.agreement import AgreementTally, StoppingRule, cohen_kappa


def test_the_textbook_example():
    # Two raters, 50 items: yes/yes 20, yes/no 5, no/yes 10, no/no 15.
    # p_o = 35/50 = 0.7; p_e = 0.5 * 0.6 + 0.5 * 0.4 = 0.5; kappa = 0.2 / 0.5.
    assert cohen_kappa(np.array([[20, 5], [10, 15]])) == pytest.approx(0.4)


def test_one_class_for_everything_agrees_perfectly():
    assert cohen_kappa(np.array([[7, 0], [0, 0]])) == 1.0
    assert cohen_kappa(np.zeros((3, 3), dtype=np.int64)) == 1.0


@st.composite
def two_rounds(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray, int, list[int]]:
    classes = draw(st.integers(2, 6))
    n = draw(st.integers(2, 400))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    before = rng.integers(0, classes, n)
    after = np.where(rng.random(n) < draw(st.floats(0, 1)), before, rng.integers(0, classes, n))
    cuts = sorted(draw(st.lists(st.integers(0, n), max_size=4)))
    return before, after, classes, cuts


@settings(max_examples=60, deadline=None)
@given(two_rounds())
def test_kappa_and_changes_match_scikit_learn_in_any_chunking(case):
    before, after, classes, cuts = case
    tally = AgreementTally(before.astype(np.int32), classes)
    offset = 0
    for part in np.split(after.astype(np.int8), cuts):
        tally.push(offset, part)
        offset += part.shape[0]
    result = tally.result()
    assert result.compared == before.shape[0]
    assert result.changed_fraction == pytest.approx(np.mean(before != after))
    if len(set(before.tolist()) | set(after.tolist())) > 1:
        expected = cohen_kappa_score(before, after, labels=list(range(classes)))
        assert result.kappa == pytest.approx(expected, abs=1e-12)


def test_the_rule_stops_once_the_window_mean_reaches_the_threshold():
    rule = StoppingRule(kappa=0.99, rounds=3, history=(0.97, 0.995, 0.99))
    advice = rule.advise(0.992)
    # The window is the last three: 0.995, 0.99 and this round's 0.992.
    assert advice.window == (0.995, 0.99, 0.992)
    assert advice.mean_kappa == pytest.approx(0.99233333)
    assert advice.suggested
    assert not rule.advise(0.97).suggested  # mean 0.985


def test_the_rule_waits_for_a_full_window():
    advice = StoppingRule(kappa=0.9, rounds=3, history=(1.0,)).advise(1.0)
    assert advice.window == (1.0, 1.0)
    assert not advice.suggested
    assert StoppingRule(kappa=0.9, rounds=1).advise(0.95).suggested
