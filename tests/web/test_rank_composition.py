"""prefilter and balance over HTTP: the same picks as the core composed by hand,
in JSON and as form fields, echoed in the answer, and every refusal naming
its field."""

from __future__ import annotations

import numpy as np
import pytest

from service.ranking import diversity
from service.ranking.composition import class_quotas
from tests.ranking import reference
from tests.web.helpers import assert_problem, assert_ranked, dirichlet_pool, send
from tests.web.test_rank_batch import blobs


def _composition_fields(kind: str, prefilter=None, balance=None) -> dict[str, object]:
    """The prefilter and balance as a JSON object holds them, or as form fields."""
    if kind == "json":
        return {
            **({"prefilter": prefilter} if prefilter else {}),
            **({"balance": balance} if balance else {}),
        }
    fields: dict[str, object] = {}
    if prefilter:
        fields |= {"prefilter": prefilter["strategy"], "prefilter_keep": prefilter["keep"]}
    if balance:
        fields["balance"] = balance.get("by", "predicted_class")
        if "targets" in balance:
            fields["balance_targets"] = balance["targets"]
        if "strict" in balance:
            fields["balance_strict"] = balance["strict"]
    return fields


@pytest.mark.parametrize("kind", ["json", "multipart"])
def test_coreset_after_a_margin_prefilter_is_coreset_on_the_survivors(client, kind):
    embeddings, _ = blobs()
    probs = dirichlet_pool(len(embeddings), 3, seed=4)
    prefilter = {"strategy": "margin", "keep": 20}
    fields = _composition_fields(kind, prefilter=prefilter)
    arrays = {"probabilities": probs, "embeddings": embeddings}
    body = assert_ranked(send(client, kind, arrays, strategy="coreset", budget=5, **fields))
    margins = np.array([reference.margin(list(row)) for row in probs])
    survivors = np.sort(np.argsort(-margins, kind="stable")[:20])
    picks, scores = diversity.coreset(embeddings[survivors], 5, eligible=np.ones(20, bool))
    assert body["indices"] == survivors[picks].tolist()
    np.testing.assert_allclose(body["scores"], scores, rtol=1e-5)
    assert body["prefilter"] == prefilter


def test_a_prefilter_alias_is_answered_by_its_registered_name(client):
    embeddings, probs = blobs()
    body = assert_ranked(
        send(
            client,
            "json",
            {"probabilities": probs, "embeddings": embeddings},
            strategy="badge",
            budget=3,
            seed=1,
            prefilter={"strategy": "least_confidence", "keep": 30},
        )
    )
    assert body["prefilter"] == {"strategy": "least_confidence", "keep": 30}
    assert body["seed"] == 1


def test_batchbald_after_a_bald_prefilter_picks_among_the_top_bald_items(client):
    rng = np.random.default_rng(2)
    samples = rng.dirichlet(np.ones(3), size=(40, 6))
    body = assert_ranked(
        send(
            client,
            "json",
            {"samples": samples},
            strategy="batchbald",
            budget=3,
            seed=5,
            prefilter={"strategy": "bald", "keep": 8},
        )
    )
    bald = np.array([reference.bald([list(p) for p in item]) for item in samples])
    top = set(np.argsort(-bald, kind="stable")[:8].tolist())
    assert set(body["indices"]) <= top


@pytest.mark.parametrize("kind", ["json", "multipart", "npy"])
def test_balanced_margin_takes_each_predicted_class_quota_of_its_best(client, kind):
    probs = dirichlet_pool(90, 3, seed=7)
    balance = {"targets": [2, 1, 1]}
    fields = _composition_fields(kind, balance=balance)
    body = assert_ranked(
        send(
            client,
            kind,
            {"probabilities": probs},
            strategy="margin",
            budget=8,
            exclude=[0, 1],
            **fields,
        )
    )
    predicted = probs.argmax(axis=1)
    margins = np.array([reference.margin(list(row)) for row in probs])
    eligible = np.ones(90, bool)
    eligible[[0, 1]] = False
    available = np.bincount(predicted[eligible], minlength=3)
    quotas = class_quotas(8, available, np.array([2.0, 1.0, 1.0]))
    expected = []
    for c in range(3):
        members = [i for i in np.flatnonzero(eligible & (predicted == c))]
        expected += sorted(members, key=lambda i: (-margins[i], i))[: quotas[c]]
    expected.sort(key=lambda i: (-margins[i], i))
    assert body["indices"] == expected
    assert np.bincount(predicted[body["indices"]], minlength=3).tolist() == quotas.tolist()
    assert body["balance"] == {"by": "predicted_class", "strict": False, "targets": [2.0, 1.0, 1.0]}


def test_balance_gives_a_short_class_rest_to_the_others(client):
    probs = np.array([[0.9, 0.1]] * 2 + [[0.2, 0.8]] * 20)
    probs[:, 0] += np.linspace(0, 0.01, 22)
    probs /= probs.sum(axis=1, keepdims=True)
    body = assert_ranked(
        send(client, "json", {"probabilities": probs}, strategy="entropy", budget=10, balance={})
    )
    assert sorted(i for i in body["indices"] if i < 2) == [0, 1]
    strict = send(
        client,
        "json",
        {"probabilities": probs},
        strategy="entropy",
        budget=10,
        balance={"strict": True},
    )
    assert_problem(strict, 422, "balance.strict", says=("class 0",))


def test_balanced_samples_use_the_class_of_the_mean_prediction(client):
    rng = np.random.default_rng(8)
    samples = rng.dirichlet(np.ones(2), size=(30, 4))
    body = assert_ranked(
        send(client, "json", {"samples": samples}, strategy="bald", budget=6, balance={})
    )
    predicted = samples.mean(axis=1).argmax(axis=1)
    counts = np.bincount(predicted, minlength=2)
    quotas = class_quotas(6, counts, np.ones(2))
    assert np.bincount(predicted[body["indices"]], minlength=2).tolist() == quotas.tolist()


@pytest.mark.parametrize(
    ("strategy", "arrays", "extra", "field"),
    [
        ("margin", "probabilities", {"prefilter": {"strategy": "entropy", "keep": 5}}, "prefilter"),
        ("coreset", "both", {"prefilter": {"strategy": "nope", "keep": 5}}, "prefilter.strategy"),
        ("coreset", "both", {"prefilter": {"strategy": "badge", "keep": 5}}, "prefilter.strategy"),
        ("coreset", "both", {"prefilter": {"strategy": "margin", "keep": 2}}, "prefilter.keep"),
        ("coreset", "both", {"prefilter": {"strategy": "margin", "keep": 0}}, "prefilter.keep"),
        ("coreset", "both", {"prefilter": {"strategy": "margin"}}, "prefilter.keep"),
        (
            "coreset",
            "both",
            {"prefilter": {"strategy": "margin", "keep": 9, "x": 1}},
            "prefilter.x",
        ),
        (
            "coreset",
            "embeddings",
            {"prefilter": {"strategy": "margin", "keep": 9}},
            "probabilities",
        ),
        ("badge", "both", {"prefilter": {"strategy": "bald", "keep": 9}}, "prefilter.strategy"),
        ("coreset", "embeddings", {"balance": {}}, "balance"),
        ("margin", "probabilities", {"balance": {"by": "label"}}, "balance.by"),
        ("margin", "probabilities", {"balance": {"targets": [1, 1]}}, "balance.targets"),
        ("margin", "probabilities", {"balance": {"targets": [1, -1, 1]}}, "balance.targets.1"),
        ("margin", "probabilities", {"balance": {"targets": [0, 0, 0]}}, "balance.targets"),
        ("margin", "probabilities", {"balance": {"targets": []}}, "balance.targets"),
        ("margin", "probabilities", {"balance": {"strict": "yes"}}, "balance.strict"),
        (
            "margin",
            "probabilities",
            {"balance": {}, "selection": {"method": "softrank"}},
            "selection.method",
        ),
    ],
)
def test_bad_composition_is_refused_naming_the_field(client, strategy, arrays, extra, field):
    embeddings, probs = blobs()
    sent = {
        "probabilities": {"probabilities": probs},
        "embeddings": {"embeddings": embeddings},
        "both": {"probabilities": probs, "embeddings": embeddings},
    }[arrays]
    response = send(client, "json", sent, strategy=strategy, budget=3, **extra)
    assert_problem(response, 422, field)


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"prefilter": "margin"}, "prefilter_keep"),
        ({"prefilter_keep": 10}, "prefilter"),
        ({"balance": "predicted_class", "balance_targets": "1,x,1"}, "balance_targets"),
        ({"balance": "predicted_class", "balance_targets": "1,inf,1"}, "balance_targets"),
        ({"balance_targets": "1,1,1"}, "balance"),
        ({"balance": "predicted_class", "balance_strict": "maybe"}, "balance_strict"),
    ],
)
def test_bad_composition_form_fields_are_refused_naming_them(client, fields, field):
    _, probs = blobs()
    response = send(
        client, "multipart", {"probabilities": probs}, strategy="margin", budget=3, **fields
    )
    assert_problem(response, 422, field)
