"""The repair of generated rank requests: hand-worked cases, and every repaired
request generated from the document accepted by the app.

``make fuzz`` trusts the repair to turn a schema-valid request into one the
service must accept, and to leave alone what it need not change; these
tests hold it to both.
"""

from __future__ import annotations

import numpy as np
import pytest
import schemathesis
from flask import Flask
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.config import SchemathesisConfig

from service.app import create_app
from tests import fuzz_cases
from tests.fuzz_hooks import bounded_document, model_bodies, npy_bodies, npy_file
from tests.fuzz_repair import (
    JSON,
    MULTIPART,
    NPY,
    RankFields,
    fields_from_json,
    fields_from_text,
    form_fields,
    json_body,
    model_widths,
    rankable,
    rectangular,
)

POOL = [[0.5, 0.5], [0.9, 0.1], [0.6, 0.4]]


def test_the_budget_counts_the_rows_left_after_exclude():
    fields = fields_from_json(
        {"strategy": "margin", "budget": 5, "probabilities": POOL, "exclude": [2, 17, 42]}, {}
    )
    repaired = rankable(fields, JSON)
    assert repaired.exclude == [2]
    assert repaired.budget == 2
    np.testing.assert_allclose(repaired.arrays["probabilities"].sum(axis=1), 1.0)


def test_exclude_never_leaves_the_pool_empty():
    fields = fields_from_json(
        {"strategy": "margin", "budget": 1, "probabilities": POOL, "exclude": [0, 1, 2]}, {}
    )
    repaired = rankable(fields, JSON)
    assert repaired.exclude == [0, 1]
    assert repaired.budget == 1


def test_query_parameters_of_a_json_request_move_into_the_body_typed():
    """temperature arrives as query text; the JSON body carries it as a number."""
    fields = fields_from_json(
        {"strategy": "entropy", "budget": 1, "logits": [[1.0, 0.0]]},
        {"temperature": "2.5", "budget": "9"},
    )
    body = json_body(rankable(fields, JSON))
    assert body["params"] == {"temperature": 2.5}
    assert body["budget"] == 1  # the body's own field wins over the query's


def test_a_strategy_gets_the_arrays_it_takes_and_no_others():
    fields = fields_from_json({"strategy": "coreset", "budget": 1, "probabilities": POOL}, {})
    repaired = rankable(fields, JSON)
    assert sorted(repaired.arrays) == ["embeddings"]
    assert repaired.arrays["embeddings"].shape[0] == len(POOL)


def test_labeled_embeddings_take_the_pools_width():
    fields = fields_from_json(
        {
            "strategy": "coreset",
            "budget": 1,
            "embeddings": [[0.0, 1.0, 2.0]] * 2,
            "labeled_embeddings": [[5.0]],
        },
        {},
    )
    repaired = rankable(fields, JSON)
    assert repaired.arrays["labeled_embeddings"].shape == (1, 3)


@pytest.mark.parametrize("layout", ["NTC", "TNC", "NCT"])
def test_samples_keep_their_layout_with_two_passes_and_classes_at_least(layout):
    generated = np.arange(4.0).reshape(1, 1, 4).tolist()
    fields = fields_from_json(
        {"strategy": "bald", "budget": 1, "samples": generated, "params": {"layout": layout}}, {}
    )
    samples = rankable(fields, JSON).arrays["samples"]
    sizes = dict(zip(layout, samples.shape, strict=True))
    assert sizes["T"] >= 2
    assert sizes["C"] >= 2
    np.testing.assert_allclose(samples.sum(axis=layout.index("C")), 1.0)


def test_features_fit_the_model_named():
    fields = fields_from_json(
        {"strategy": "margin", "budget": 1, "features": [[1.0, 2.0]], "model": "digits-logreg"},
        {},
    )
    repaired = rankable(fields, JSON)
    assert repaired.model == "digits-logreg"
    assert repaired.arrays["features"].shape == (1, model_widths()["digits-logreg"])


def test_a_generated_committee_and_passes_give_way_to_one_known_model():
    fields = fields_from_json(
        {
            "strategy": "margin",
            "budget": 1,
            "features": [[1.0, 2.0]],
            "model": ["a", "b"],
            "params": {"passes": 7},
        },
        {},
    )
    repaired = rankable(fields, JSON)
    assert repaired.model in model_widths()
    assert "passes" not in repaired.params


def test_one_npy_body_carries_one_array():
    """badge needs embeddings besides its input: a .npy request takes another strategy."""
    files = {"probabilities": npy_file(np.array(POOL))}
    repaired = rankable(fields_from_text({"strategy": "badge", "budget": "1"}, files), NPY)
    assert repaired.strategy != "badge"
    assert list(repaired.arrays) == ["probabilities"]


def test_an_alias_is_kept_when_it_serves():
    fields = fields_from_json(
        {"strategy": "consensus_entropy", "budget": 1, "samples": [[[0.5, 0.5], [0.2, 0.8]]]}, {}
    )
    assert rankable(fields, JSON).strategy == "consensus_entropy"


def test_form_fields_are_typed_as_the_document_types_them():
    fields = RankFields(
        strategy="random", budget=2, arrays={}, params={"temperature": 2.0}, seed=3, normalize=True
    )
    assert form_fields(fields) == {
        "strategy": "random",
        "budget": 2,
        "seed": 3,
        "normalize": True,
        "selection": "top",
        "temperature": 2.0,
    }


def test_ragged_rows_are_cut_to_the_shortest():
    assert rectangular([[1.0, 2.0, 3.0], [4.0, 5.0]]).tolist() == [[1.0, 2.0], [4.0, 5.0]]
    assert rectangular([[1.0], 2.0]) is None


def test_refused_examples_are_the_ones_without_an_answer():
    refused = fuzz_cases.refused_examples()
    budgets = [example["budget"] for example in refused if "probabilities" in example]
    assert 5 in budgets  # budget-too-large
    assert {"strategy": "margin", "budget": 1, "probs": [[0.5, 0.5]]} in refused


schemathesis.openapi.media_type("application/x-npy", npy_bodies())
schemathesis.openapi.media_type("application/octet-stream", model_bodies())
schema = schemathesis.openapi.from_dict(bounded_document(), config=SchemathesisConfig())


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Flask:
    store = tmp_path_factory.mktemp("repair-models")
    return create_app({"TESTING": True, "MODEL_DIR": str(store)})


@pytest.mark.parametrize("media_type", [JSON, NPY, MULTIPART])
def test_every_repaired_request_generated_as_valid_is_ranked(app, media_type):
    """Generated from the document, repaired, sent: the answer is a ranking."""
    cases = (
        schema["/v1/rank"]["POST"]
        .as_strategy(GenerationMode.POSITIVE)
        .filter(lambda case: case.media_type == media_type)
    )

    @settings(
        max_examples=40,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    )
    @given(case=cases)
    def check(case: schemathesis.Case) -> None:
        repaired = fuzz_cases.prepared(case)
        assert fuzz_cases.is_positive(repaired)
        response = repaired.call(app=app)
        assert response.status_code == 200, (repaired.query, repaired.body, response.text)
        assert len(response.json()["indices"]) == response.json()["budget"]

    check()
