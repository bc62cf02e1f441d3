"""POST /v1/rank with the previous round's predictions: agreement (Cohen's kappa,
as scikit-learn computes it), the stopping rule, and a problem for each bad input."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import cohen_kappa_score

from tests.web.helpers import BODY_KINDS, assert_problem, assert_ranked, dirichlet_pool, send

POOL = dirichlet_pool(300, 4, seed=21)
CLASSES = POOL.argmax(axis=1)


def _previous(seed: int = 22, changed: float = 0.3) -> np.ndarray:
    """The pool's classes with a share of them redrawn."""
    rng = np.random.default_rng(seed)
    redrawn = rng.random(CLASSES.shape[0]) < changed
    return np.where(redrawn, rng.integers(0, 4, CLASSES.shape[0]), CLASSES)


@pytest.mark.parametrize("kind", ["json", "multipart"])
def test_agreement_is_scikit_learns_kappa(client, kind):
    previous = _previous()
    body = assert_ranked(
        send(
            client,
            kind,
            {"probabilities": POOL, "previous_predictions": previous},
            strategy="entropy",
            budget=3,
        )
    )
    agreement = body["diagnostics"]["agreement"]
    assert agreement["compared"] == 300
    assert agreement["kappa"] == pytest.approx(cohen_kappa_score(previous, CLASSES), abs=1e-12)
    assert agreement["changed_fraction"] == pytest.approx(np.mean(previous != CLASSES))


def test_previous_probabilities_count_by_their_argmax(client):
    previous = dirichlet_pool(300, 4, seed=23)
    by_rows = assert_ranked(
        send(
            client,
            "multipart",
            {"probabilities": POOL, "previous_probabilities": previous},
            strategy="margin",
            budget=2,
        )
    )
    by_ids = assert_ranked(
        send(
            client,
            "json",
            {"probabilities": POOL, "previous_predictions": previous.argmax(axis=1)},
            strategy="margin",
            budget=2,
        )
    )
    assert by_rows["diagnostics"] == by_ids["diagnostics"]


def test_logits_and_samples_and_batch_strategies_compare_too(client):
    logits = np.log(POOL)
    previous = _previous(24)
    expected = cohen_kappa_score(previous, CLASSES)
    for arrays, strategy in [
        ({"logits": logits}, "margin"),
        ({"samples": np.stack([POOL, POOL], axis=1)}, "bald"),
        ({"probabilities": POOL, "embeddings": POOL[:, :3]}, "badge"),
    ]:
        body = assert_ranked(
            send(
                client,
                "json",
                {**arrays, "previous_predictions": previous},
                strategy=strategy,
                budget=2,
            )
        )
        assert body["diagnostics"]["agreement"]["kappa"] == pytest.approx(expected, abs=1e-9)


def test_the_stopping_rule_judges_the_window(client):
    same = CLASSES  # kappa 1 this round
    for rounds, history, stops in [
        (3, [0.95, 1.0], True),
        (4, [0.95, 1.0], False),
        (2, [0.5], False),
    ]:
        body = assert_ranked(
            send(
                client,
                "json",
                {"probabilities": POOL, "previous_predictions": same},
                strategy="margin",
                budget=1,
                stopping={"kappa": 0.9, "rounds": rounds, "history": history},
            )
        )
        diagnostics = body["diagnostics"]
        assert diagnostics["stop_suggested"] is stops
        assert diagnostics["stopping"]["window"] == [*history, 1.0][-rounds:]


def test_stopping_as_form_fields(client):
    body = assert_ranked(
        send(
            client,
            "multipart",
            {"probabilities": POOL, "previous_predictions": CLASSES},
            strategy="margin",
            budget=1,
            stopping_kappa=0.99,
            stopping_history="0.995,1",
        )
    )
    assert body["diagnostics"]["stop_suggested"] is True
    assert body["diagnostics"]["stopping"]["rounds"] == 3


@pytest.mark.parametrize(
    ("arrays", "fields", "field", "says"),
    [
        ({"previous_predictions": CLASSES[:-1]}, {}, "previous_predictions", "299 rows"),
        ({"previous_predictions": CLASSES + 0.5}, {}, "previous_predictions", "whole number"),
        ({"previous_predictions": np.full(300, 4)}, {}, "previous_predictions", "0 .. 3"),
        ({"previous_probabilities": POOL[:, :3]}, {}, "previous_probabilities", "3 classes"),
        (
            {"previous_probabilities": np.where(POOL > 0.5, np.nan, POOL)},
            {},
            "previous_probabilities",
            "",
        ),
        (
            {"previous_probabilities": POOL, "previous_predictions": CLASSES},
            {},
            "previous_predictions",
            "not both",
        ),
        ({}, {"stopping": {"kappa": 0.9}}, "stopping", "previous_probabilities"),
        ({"previous_predictions": CLASSES}, {"stopping": {"kappa": 0}}, "stopping.kappa", ""),
        ({"previous_predictions": CLASSES}, {"stopping": {"kappa": 1.5}}, "stopping.kappa", ""),
        ({"previous_predictions": CLASSES}, {"stopping": {"rounds": 0}}, "stopping.rounds", ""),
        (
            {"previous_predictions": CLASSES},
            {"stopping": {"history": [0.5, 2]}},
            "stopping.history.1",
            "",
        ),
        ({"previous_predictions": CLASSES}, {"stopping": {"when": 1}}, "stopping.when", ""),
    ],
)
def test_bad_agreement_inputs_are_refused_by_name(client, arrays, fields, field, says):
    response = send(
        client, "json", {"probabilities": POOL, **arrays}, strategy="margin", budget=1, **fields
    )
    assert_problem(response, 422, field, says=(says,) if says else ())


def test_bad_stopping_form_fields_are_refused_by_name(client):
    arrays = {"probabilities": POOL, "previous_predictions": CLASSES}
    for fields, field in [
        ({"stopping_kappa": 2}, "stopping_kappa"),
        ({"stopping_rounds": 0}, "stopping_rounds"),
        ({"stopping_history": "0.5,x"}, "stopping_history"),
        ({"stopping_history": "0.5,3"}, "stopping_history"),
    ]:
        response = send(client, "multipart", arrays, strategy="margin", budget=1, **fields)
        assert_problem(response, 422, field)


@pytest.mark.parametrize("kind", BODY_KINDS[:1])
def test_kinds_without_one_class_per_item_refuse_previous_predictions(client, kind):
    sequences = [[[0.7, 0.3], [0.2, 0.8]], [[0.6, 0.4]]]
    response = send(
        client,
        kind,
        {"token_probabilities": sequences, "previous_predictions": [0, 1]},
        strategy="least_confidence",
        budget=1,
    )
    assert_problem(response, 422, "previous_predictions", says=("token_probabilities",))
    response = send(
        client,
        kind,
        {"embeddings": POOL, "previous_predictions": CLASSES},
        strategy="coreset",
        budget=1,
    )
    assert_problem(response, 422, "previous_predictions", says=("no class input",))
