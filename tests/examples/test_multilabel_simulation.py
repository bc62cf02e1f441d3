"""The multi-label active-learning example: the data, the seed set, request bodies, a live run."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from examples.multilabel.loop import Curve, checked, covers, seed_set
from examples.multilabel.rank import PLANS, PLANS_BY_NAME, rank_body
from examples.multilabel.results import labels_to_target


def test_the_synthetic_task_is_fixed_and_every_item_has_a_label():
    from examples.multilabel.task import prepare

    task = prepare()
    assert task.pool_x.shape == (2000, 40)
    assert task.pool_y.shape == (2000, 10)
    assert task.test_y.shape == (1000, 10)
    for y in (task.pool_y, task.test_y):
        assert set(np.unique(y).tolist()) == {0, 1}
        assert y.sum(axis=1).min() >= 1  # allow_unlabeled=False
    np.testing.assert_allclose(task.pool_x.mean(axis=0), 0.0, atol=1e-9)
    small = prepare(300, 100)
    np.testing.assert_array_equal(small.pool_y, task.pool_y[:300])
    assert small.test_y.shape == (100, 10)


def test_covers_needs_a_positive_and_a_negative_of_every_label_the_pool_has_both_of():
    pool = np.array([[1, 0, 1], [0, 0, 1], [1, 0, 1], [0, 0, 1]])  # labels 1, 2: one class
    assert covers(pool[[0, 1]], pool)
    assert not covers(pool[[0, 2]], pool)  # label 0 only present
    assert not covers(pool[[1, 3]], pool)  # label 0 only absent


def test_the_seed_set_is_repeatable_and_holds_both_classes_of_every_label():
    rng = np.random.default_rng(1)
    pool_y = (rng.random((500, 6)) < [0.5, 0.5, 0.3, 0.1, 0.05, 0.6]).astype(np.int64)
    for seed in range(5):
        chosen = seed_set(pool_y, 12, seed)
        np.testing.assert_array_equal(chosen, seed_set(pool_y, 12, seed))
        assert len(np.unique(chosen)) == 12
        assert np.all(np.diff(chosen) > 0)
        assert covers(pool_y[chosen], pool_y)
    assert not np.array_equal(seed_set(pool_y, 12, 0), seed_set(pool_y, 12, 1))
    with pytest.raises(ValueError, match="initial"):
        seed_set(pool_y, 0, 0)


def test_a_label_with_one_class_gets_a_constant_predictor():
    from examples.multilabel.model import ModelSettings, f1_scores, fit, probabilities

    x = np.array([[0.0, 1.0], [1.0, 0.0], [0.9, 0.2], [0.1, 0.8]])
    y = np.array([[0, 1, 1], [1, 1, 0], [1, 1, 0], [0, 1, 1]])  # label 1 always present
    with_constant = fit(x, y, ModelSettings())
    p = probabilities(with_constant, x)
    assert p.shape == (4, 3)
    assert np.all((p >= 0) & (p <= 1))
    np.testing.assert_array_equal(p[:, 1], 1.0)
    assert p[1, 0] > 0.5 > p[0, 0]
    assert f1_scores(with_constant, x, y) == (1.0, 1.0)


def test_items_to_target_interpolates_between_rounds():
    curve = Curve(
        labels=[20, 40, 60], positives=[60, 120, 180], micro_f1=[0.4, 0.5, 0.6], macro_f1=[0] * 3
    )
    assert labels_to_target(curve, 0.3) == 20  # the seed set already meets it
    assert labels_to_target(curve, 0.5) == 40
    assert labels_to_target(curve, 0.55) == pytest.approx(50)
    assert labels_to_target(curve, 0.7) is None


def test_request_bodies_follow_the_contract():
    p = np.asfortranarray(np.array([[0.2, 0.9], [0.6, 0.4]]))
    labeled = np.array([[1, 0], [1, 1]])
    assert [plan.name for plan in PLANS] == [
        "random",
        "entropy/mean",
        "margin/mean",
        "least_confidence/max",
        "min_confidence",
        "avg_confidence",
        "max_score",
        "avg_score",
        "label_cardinality_inconsistency",
    ]
    random = rank_body(PLANS_BY_NAME["random"], 1, p, labeled, seed=7)
    assert set(random) == {"strategy", "budget", "label_probabilities", "seed"}
    assert random["label_probabilities"].flags.c_contiguous
    entropy = rank_body(PLANS_BY_NAME["entropy/mean"], 2, p, labeled, seed=7)
    assert (entropy["strategy"], entropy["params"]) == ("entropy", {"aggregate": "mean"})
    assert "seed" not in entropy
    assert "labeled_labels" not in entropy
    modal = rank_body(PLANS_BY_NAME["max_score"], 1, p, labeled, seed=7)
    assert set(modal) == {"strategy", "budget", "label_probabilities"}
    lci = rank_body(PLANS_BY_NAME["label_cardinality_inconsistency"], 1, p, labeled)
    assert lci["labeled_labels"].tolist() == [[1, 0], [1, 1]]
    assert "params" not in lci
    with pytest.raises(ValueError, match="label sets"):
        rank_body(PLANS_BY_NAME["label_cardinality_inconsistency"], 1, p)
    with pytest.raises(ValueError, match="seed"):
        rank_body(PLANS_BY_NAME["random"], 1, p)
    assert {plan.family for plan in PLANS} == {"baseline", "per-label uncertainty", "multi-label"}


def test_checked_refuses_answers_that_are_not_the_budget_of_distinct_pool_items():
    assert checked(np.array([2, 0]), 2, 3).tolist() == [2, 0]
    with pytest.raises(ValueError, match="distinct"):
        checked(np.array([1, 1]), 2, 3)
    with pytest.raises(ValueError, match="outside"):
        checked(np.array([0, 3]), 2, 3)


# --- end to end, through a live service -------------------------------------------------


@pytest.fixture(scope="module")
def url() -> Iterator[str]:
    from service.app import create_app
    from tests.servers import serve

    yield from serve(create_app({"TESTING": True}))


def test_quick_run_through_a_live_service(url, tmp_path: Path, capsys):
    from examples.multilabel.cli import main

    assert main(["--quick", "--url", url, "--out", str(tmp_path)]) == 0
    figure = tmp_path / "multilabel_f1_vs_labels.png"
    assert figure.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    table = (tmp_path / "multilabel_labels_to_target.md").read_text(encoding="utf-8")
    assert "| **random** |" in table
    assert "| label_cardinality_inconsistency |" in table
    assert "10 items per round" in table
    assert "synthetic" in table
    raw = json.loads((tmp_path / "multilabel_results.json").read_text(encoding="utf-8"))
    assert raw["failed"] == {}
    assert set(raw["strategies"]) == {"random", "label_cardinality_inconsistency"}
    starts = set()
    for strategy in raw["strategies"].values():
        (labels,) = strategy["labels"]
        (positives,) = strategy["positives"]
        assert labels == [20, 30, 40]
        assert positives[0] < positives[1] < positives[2]
        starts.add(positives[0])  # the same seed set for every strategy
        for measure in ("micro_f1", "macro_f1"):
            assert all(0.0 <= f1 <= 1.0 for f1 in strategy[measure][0])
    assert len(starts) == 1
    assert 0.0 < raw["full_pool"]["micro_f1"] <= 1.0
    assert "done in" in capsys.readouterr().out
    assert main(["--replot", "--out", str(tmp_path), "--targets", "0.5"]) == 0
    assert "## Items to reach 50% of the full-pool micro-F1" in (
        tmp_path / "multilabel_labels_to_target.md"
    ).read_text(encoding="utf-8")
