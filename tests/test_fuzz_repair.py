"""The repair of generated rank requests: hand-worked cases, every registered
strategy with each input it takes, and every repaired request generated from
the document accepted by the app.

``make fuzz`` trusts the repair to turn a schema-valid request into one the
service must accept, and to leave alone what it need not change; these
tests hold it to both.
"""

from __future__ import annotations

import functools

import numpy as np
import pytest
import schemathesis
from flask import Flask
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.config import SchemathesisConfig
from schemathesis.specs.openapi.schemas import OpenApiSchema

from service.app import create_app
from service.ranking.inputs import INPUT_KINDS
from service.ranking.registry import STRATEGIES
from service.ranking.strategy import Strategy
from tests import fuzz_cases
from tests.fuzz_hooks import bounded_document, model_bodies, npy_bodies, npy_file
from tests.fuzz_repair import (
    BUNDLED_NAME,
    FEATURES,
    JSON,
    MAX_TOKENS,
    MULTIPART,
    NPY,
    OUTPUT_KIND,
    RankFields,
    fields_from_json,
    fields_from_text,
    form_fields,
    json_body,
    model_classes,
    model_widths,
    rankable,
    rectangular,
)

POOL = [[0.5, 0.5], [0.9, 0.1], [0.6, 0.4]]
# Two sequences of token rows, as a 2-D list the document allows without lengths.
TOKEN_ROWS = [[3.0, -1.0, 0.5], [0.2, 0.2, 9.0]]


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


@pytest.mark.parametrize(
    ("strategy", "generated", "ranked"),
    [
        ("margin", None, None),
        ("margin", "label_logits", "label_logits"),
        ("min_confidence", None, "label_probabilities"),
        ("min_confidence", "logits", "label_probabilities"),
        ("bald", "label_logits", None),
    ],
)
def test_a_models_output_is_ranked_as_a_kind_the_strategy_takes(strategy, generated, ranked):
    """output_kind kept where the strategy takes it, else its first kind of output
    (bald takes no model output but samples: the repair sends it no features)."""
    params = {} if generated is None else {"output_kind": generated}
    body = {"strategy": strategy, "budget": 1, "features": [[1.0]], "params": params}
    repaired = rankable(fields_from_json(body, {}), JSON)
    assert repaired.params.get("output_kind") == ranked
    assert ("features" in repaired.arrays) is (strategy != "bald")


def test_labeled_labels_of_a_models_pool_have_its_outputs_width():
    body = {
        "strategy": "label_cardinality_inconsistency",
        "budget": 1,
        "features": [[1.0]],
        "model": "digits-logreg",
        "labeled_labels": [[1.0]],
    }
    repaired = rankable(fields_from_json(body, {}), JSON)
    assert repaired.arrays["labeled_labels"].shape == (1, model_classes()["digits-logreg"])


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


def test_a_token_kind_without_lengths_is_read_as_a_list_of_sequences():
    """A 2-D list is two sequences of (refused) number tokens: the repair keeps two
    sequences, of distributions, and sends them as lists with no lengths."""
    fields = fields_from_json(
        {"strategy": "mnlp", "budget": 1, "token_probabilities": TOKEN_ROWS}, {}
    )
    repaired = rankable(fields, JSON)
    assert repaired.arrays["lengths"].tolist() == [3, 3]
    body = json_body(repaired)
    assert "lengths" not in body
    sequences = body["token_probabilities"]
    assert [len(sequence) for sequence in sequences] == [3, 3]
    np.testing.assert_allclose(np.array(sequences).sum(axis=-1), 1.0)


def test_a_ragged_list_of_sequences_keeps_its_sequences_and_token_widths():
    ragged = [[], [[0.1, 0.9, 0.0], [5.0, 1.0, 2.0]], [[0.5, 0.5, 0.0]]]
    fields = fields_from_json(
        {"strategy": "entropy", "budget": 3, "token_probabilities": ragged}, {}
    )
    repaired = rankable(fields, JSON)
    body = json_body(repaired)
    assert [len(sequence) for sequence in body["token_probabilities"]] == [0, 2, 1]
    assert body["budget"] == 2  # the empty sequence is never picked
    assert body["token_probabilities"][1][0] == pytest.approx(_softmax_like([0.1, 0.9, 0.0]))


def _softmax_like(row: list[float]) -> list[float]:
    """The repair's softmax of one row from a pool whose largest number is 5."""
    scaled = np.array(row) / 6.0
    shifted = np.exp(scaled - scaled.max())
    return (shifted / shifted.sum()).tolist()


def test_generated_lengths_are_kept_and_the_tokens_fit_them():
    """Lengths are cut into 0 to MAX_TOKENS; the flat rows become their sum."""
    files = {
        "token_logits": npy_file(np.ones((2, 4))),
        "lengths": npy_file(np.array([3, 0, 2**40])),
    }
    repaired = rankable(fields_from_text({"strategy": "margin", "budget": "9"}, files), MULTIPART)
    assert repaired.arrays["lengths"].tolist() == [3, 0, MAX_TOKENS]
    assert repaired.arrays["token_logits"].shape == (3 + MAX_TOKENS, 4)
    assert repaired.budget == 2


def test_a_padded_token_array_stays_padded_with_room_for_its_lengths():
    padded = np.arange(2 * 2 * 2 * 3, dtype=float).reshape(2, 2, 2, 3).tolist()
    body = {"strategy": "bald", "budget": 1, "token_samples": padded, "lengths": [1, 3]}
    repaired = rankable(fields_from_json(body, {"space": "log"}), JSON)
    samples = repaired.arrays["token_samples"]
    assert samples.shape == (2, 3, 2, 3)
    assert repaired.arrays["lengths"].tolist() == [1, 3]
    np.testing.assert_allclose(np.exp(samples).sum(axis=-1), 1.0)
    assert repaired.params == {"space": "log"}


def test_every_sequence_empty_gets_one_token():
    body = {"strategy": "entropy", "budget": 1, "token_probabilities": [[], []]}
    repaired = rankable(fields_from_json(body, {}), JSON)
    assert repaired.arrays["lengths"].tolist() == [1, 0]


def test_exclude_leaves_a_sequence_with_tokens():
    files = {
        "token_probabilities": npy_file(np.ones((2, 2))),
        "lengths": npy_file(np.array([0, 2])),
    }
    text = {"strategy": "entropy", "budget": "1", "exclude": "0,1"}
    repaired = rankable(fields_from_text(text, files), MULTIPART)
    assert repaired.exclude == [0]
    assert repaired.budget == 1


@pytest.mark.parametrize(
    ("kind", "counterpart"),
    [
        ("token_probabilities", "probabilities"),
        ("token_logits", "logits"),
        ("token_samples", "samples"),
    ],
)
def test_a_npy_body_of_a_token_kind_becomes_the_kind_checked_alike(kind, counterpart):
    """One .npy body has no room for lengths: the strategy stays, the input changes."""
    files = {kind: npy_file(np.full((2, 2, 3), 4.0))}
    repaired = rankable(fields_from_text({"strategy": "entropy", "budget": "1"}, files), NPY)
    assert repaired.strategy == "entropy"
    assert list(repaired.arrays) == [counterpart]
    assert repaired.arrays[counterpart].shape[0] == 2


def test_a_npy_body_for_a_strategy_of_token_kinds_only_takes_another_strategy():
    files = {"token_probabilities": npy_file(np.full((3, 2), 0.5))}
    repaired = rankable(fields_from_text({"strategy": "mnlp", "budget": "1"}, files), NPY)
    assert repaired.strategy == "entropy"
    assert list(repaired.arrays) == ["probabilities"]
    assert repaired.arrays["probabilities"].shape == (3, 2)


def test_label_probabilities_lie_in_the_unit_interval_keeping_those_that_do():
    body = {
        "strategy": "min_confidence",
        "budget": 1,
        "label_probabilities": [[0.0, 1.0, 0.25, -4.0]],
    }
    labels = rankable(fields_from_json(body, {}), JSON).arrays["label_probabilities"]
    assert labels[0, :3].tolist() == [0.0, 1.0, 0.25]
    assert 0 < labels[0, 3] < 0.5


def test_labeled_labels_are_zeros_and_ones_with_the_pools_labels_and_no_cardinality():
    body = {
        "strategy": "label_cardinality_inconsistency",
        "budget": 1,
        "label_logits": [[1.0, 2.0, 3.0]],
        "labeled_labels": [[0.0, 1.0], [7.5, -2.0]],
        "params": {"label_cardinality": 2.0},
    }
    repaired = rankable(fields_from_json(body, {}), JSON)
    assert repaired.arrays["labeled_labels"].tolist() == [[0.0, 1.0, 1.0], [0.0, 0.0, 1.0]]
    assert "label_cardinality" not in repaired.params


@pytest.mark.parametrize("media_type", [JSON, MULTIPART, NPY])
def test_label_cardinality_inconsistency_gets_a_cardinality_without_labeled_labels(media_type):
    files = {"label_probabilities": npy_file(np.full((2, 3), 0.5))}
    if media_type != NPY:
        files["labeled_labels"] = npy_file(np.ones((1, 3)))
    text = {"strategy": "label_cardinality_inconsistency", "budget": "1"}
    repaired = rankable(fields_from_text(text, files), media_type)
    if media_type == NPY:
        assert repaired.params == {"label_cardinality": 1.0}
    else:
        assert "labeled_labels" in repaired.arrays
        assert repaired.params == {}
    generated = rankable(fields_from_text(text | {"label_cardinality": "0.5"}, {}), media_type)
    assert generated.params == {"label_cardinality": 0.5}


@pytest.mark.parametrize(
    ("strategy", "kind", "kept"),
    [
        ("entropy", "token_logits", True),
        ("entropy", "label_probabilities", True),
        ("mnlp", "token_logits", False),
        ("random", "token_logits", False),
        ("avg_score", "label_probabilities", False),
    ],
)
def test_aggregate_goes_only_to_strategies_that_aggregate(strategy, kind, kept):
    assert (STRATEGIES[strategy].unit_scores == "aggregated") is kept
    files = {kind: npy_file(np.full((2, 2), 0.5))}
    text = {"strategy": strategy, "budget": "1", "aggregate": "max"}
    repaired = rankable(fields_from_text(text, files), MULTIPART)
    assert ("aggregate" in repaired.params) is kept


@pytest.mark.parametrize(
    ("strategy", "kind", "kept"),
    [
        ("margin", "token_probabilities", True),
        ("mnlp", "token_samples", True),
        ("random", "token_probabilities", False),
        ("margin", "probabilities", False),
        ("margin", "label_probabilities", False),
    ],
)
def test_token_scores_are_asked_for_only_where_tokens_are_scored(strategy, kind, kept):
    body = {"strategy": strategy, "budget": 1, kind: [[[0.5, 0.5]]], "return_token_scores": True}
    repaired = rankable(fields_from_json(body, {}), JSON)
    assert repaired.return_token_scores is kept
    assert ("return_token_scores" in json_body(repaired)) is kept
    assert ("return_token_scores" in form_fields(repaired)) is kept


def test_normalize_goes_to_the_kinds_that_can_be_normalized():
    for name, kind in INPUT_KINDS.items():
        text = {"strategy": "entropy", "budget": "1", "normalize": "true"}
        files = {name: npy_file(np.full((2, 2, 2), 0.5))}
        assert rankable(fields_from_text(text, files), MULTIPART).normalize is kind.normalizable


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


# A generated request as the document alone shapes it: "bare" sends the strategy,
# the budget and its arrays; "loaded" every option and parameter besides, and
# token arrays padded with lengths that do not fit; "ragged" token arrays as
# JSON lists of sequences (one empty), or flat rows whose lengths miss their sum.
VARIANTS = ("bare", "loaded", "ragged")
LOADED_PARAMS = {
    "aggregate": "max",
    "temperature": 2.0,
    "space": "log",
    "layout": "TNC",
    "threshold": 0.25,
    "label_cardinality": 1.5,
    "output_kind": "label_logits",
    "candidates": 50,
    "clusters": 9,
    "rounds": 7,
}


def _numbers(*shape: int) -> np.ndarray:
    """Numbers of any sign, no row a distribution, as the document allows."""
    return np.linspace(-3.0, 7.5, int(np.prod(shape))).reshape(shape)


def _token_unit(name: str) -> tuple[int, ...]:
    """A token's axes as generated: 3 classes (and 1 pass, too few)."""
    return (3,) if len(INPUT_KINDS[name].axes) == 2 else (1, 3)


def _generated_input(name: str, variant: str, media_type: str) -> dict[str, object]:
    """The input ``name`` and its lengths (token kinds), arrays as numpy or JSON lists."""
    kind = INPUT_KINDS[name]
    if kind.lengths is None:
        return {name: _numbers(3, 1, 3) if len(kind.axes) == 3 else _numbers(3, 4)}
    unit = _token_unit(name)
    if variant == "bare":
        return {name: _numbers(4, *unit)}
    if variant == "loaded":
        return {name: _numbers(3, 2, *unit), "lengths": np.array([2, 0, 9])}
    if media_type == JSON:
        token = _numbers(*unit).tolist()
        return {name: [[], [token] * 3, [token]]}
    return {name: _numbers(5, *unit), "lengths": np.array([1, 1])}


def _generated_request(
    strategy: Strategy, kind: str | None, variant: str, media_type: str
) -> dict[str, object]:
    """A request for ``strategy`` and ``kind`` breaking the rules no schema states."""
    request: dict[str, object] = {"strategy": strategy.name, "budget": 2}
    if kind == FEATURES:
        request |= {FEATURES: _numbers(3, 5), "model": BUNDLED_NAME}
    elif kind is not None:
        request |= _generated_input(kind, variant, media_type)
    roles = strategy.arrays + (strategy.optional_arrays if variant == "loaded" else ())
    widths = {"embeddings": (3, 2), "labeled_embeddings": (1, 5), "labeled_labels": (2, 3)}
    request |= {role: _numbers(*widths[role]) for role in roles}
    if variant == "loaded":
        request |= {
            "budget": 99,
            "exclude": [0, 7],
            "seed": 5,
            "normalize": True,
            "return_all_scores": True,
            "return_token_scores": True,
            "selection": "softmax",
            "params": LOADED_PARAMS,
        }
    return request


def _case(request: dict[str, object], kind: str | None, media_type: str) -> schemathesis.Case:
    """``request`` as a case of POST /v1/rank sent as ``media_type``."""
    operation = schema["/v1/rank"]["POST"]
    arrays = {
        k: v for k, v in request.items() if isinstance(v, np.ndarray | list) and k != "exclude"
    }
    text = {k: v for k, v in request.items() if k not in arrays and k != "params"}
    if media_type == JSON:
        body = text | {k: v.tolist() if isinstance(v, np.ndarray) else v for k, v in arrays.items()}
        body["selection"] = {"method": body.get("selection", "top")}
        if "params" in request:
            body["params"] = request["params"]
        return operation.Case(body=body, media_type=JSON, query={})
    fields = {k: _text(v) for k, v in text.items()} | {
        k: _text(v) for k, v in dict(request.get("params") or {}).items()
    }
    files = {k: npy_file(np.asarray(v)) for k, v in arrays.items()}
    if media_type == MULTIPART:
        return operation.Case(body=fields | files, media_type=MULTIPART, query={})
    role = kind or next(iter(files))
    return operation.Case(body=files[role], media_type=NPY, query=fields | {"input": role})


def _text(value: object) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, list):
        return ",".join(map(str, value))
    return str(value)


# Each strategy with each input kind it takes (None: it takes none), and with
# features when a model's output can be one of them.
STRATEGY_INPUTS = [
    (name, kind)
    for name, strategy in STRATEGIES.items()
    for kind in (strategy.inputs or (None,))
    + ((FEATURES,) if set(strategy.inputs) & set(OUTPUT_KIND.choices) else ())
]


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("media_type", [JSON, MULTIPART, NPY])
@pytest.mark.parametrize(("name", "kind"), STRATEGY_INPUTS)
def test_every_strategy_ranks_each_input_it_takes_once_repaired(
    app, name, kind, media_type, variant
):
    """Every registered strategy, with each input kind it takes, in every media type:
    the repaired request ranks. JSON and multipart keep the strategy and the input;
    a .npy body keeps them when that one array serves them."""
    strategy = STRATEGIES[name]
    case = fuzz_cases.rankable_case(
        _case(_generated_request(strategy, kind, variant, media_type), kind, media_type)
    )
    response = case.call(app=app)
    assert response.status_code == 200, (case.query, case.body, response.text)
    answer = response.json()
    assert len(answer["indices"]) == answer["budget"]
    if media_type == NPY:
        lengths = kind in INPUT_KINDS and INPUT_KINDS[kind].lengths is not None
        served = any(INPUT_KINDS[other].lengths is None for other in strategy.inputs)
        alone = len(strategy.arrays) + (kind is not None) <= 1 and (served or not lengths)
        assert (answer["strategy"] == name) is alone
        return
    assert answer["strategy"] == name
    if kind is not None:
        assert kind in case.body
    if variant == "loaded" and kind in INPUT_KINDS and INPUT_KINDS[kind].unit == "token":
        assert ("token_scores" in answer) is (strategy.unit_scores != "item")


@pytest.mark.parametrize("media_type", [JSON, NPY, MULTIPART])
def test_every_repaired_request_generated_as_valid_is_ranked(app, media_type):
    """Generated from the document, repaired, sent: the answer is a ranking."""
    cases = (
        schema["/v1/rank"]["POST"]
        .as_strategy(GenerationMode.POSITIVE)
        .filter(lambda case: case.media_type == media_type)
    )

    assert_ranked_once_repaired(app, cases, max_examples=40)


def assert_ranked_once_repaired(app, cases, max_examples: int, strategy: str | None = None) -> None:
    """Each case drawn from ``cases``, repaired and sent, is answered with a ranking
    of its budget (by ``strategy`` when given)."""

    @settings(
        max_examples=max_examples,
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
        if strategy is not None:
            assert response.json()["strategy"] == strategy
        assert len(response.json()["indices"]) == response.json()["budget"]

    check()


@functools.cache
def strategy_schema(name: str) -> OpenApiSchema:
    """The bounded document with ``name`` (and its aliases) the only strategy it allows."""
    document = bounded_document()
    schemas = document["components"]["schemas"]
    schemas["StrategyName"]["enum"] = [name]
    schemas["StrategyAlias"]["enum"] = list(STRATEGIES[name].aliases) or [name]
    return schemathesis.openapi.from_dict(document, config=SchemathesisConfig())


def in_whole_document(case: schemathesis.Case) -> schemathesis.Case:
    """``case`` as a case of the whole document, by which its repair is judged (the
    fallback of a .npy body is no strategy of the one-strategy copy)."""
    return schemathesis.Case(
        schema["/v1/rank"]["POST"],
        case.method,
        case.path,
        headers=case.headers,
        query=case.query,
        body=case.body,
        media_type=case.media_type,
        meta=case.meta,
    )


@pytest.mark.parametrize("media_type", [JSON, NPY, MULTIPART])
@pytest.mark.parametrize("name", list(STRATEGIES))
def test_every_strategy_of_requests_generated_as_valid_is_ranked(app, name, media_type):
    """Generated from the document for each registered strategy, repaired, sent: the
    answer is a ranking by that strategy (or by the fallback, for a .npy body the
    strategy needs more than)."""
    cases = (
        strategy_schema(name)["/v1/rank"]["POST"]
        .as_strategy(GenerationMode.POSITIVE)
        .filter(lambda case: case.media_type == media_type)
        .map(in_whole_document)
    )

    assert_ranked_once_repaired(
        app, cases, max_examples=5, strategy=None if media_type == NPY else name
    )
