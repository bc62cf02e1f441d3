"""A multi-label model's N x L output ranked as label_probabilities or label_logits:
through the entry point against the hand-computed sigmoid, its checks naming the
model output and row, and the refusals of what label outputs cannot serve."""

from __future__ import annotations

import io

import numpy as np
import pytest

from service import jobs
from service.decoding.sources import ArraySource
from service.errors import InvalidInput
from service.jobs import RankLimits, RankRequest
from service.models.bundled import SOURCE_DIRECTORY, BundledModels
from service.models.inference import model_output, predict_probabilities
from service.models.sessions import SessionCache, create_session
from service.models.store import ModelStore
from service.models.validation import MiB, ValidationLimits
from service.ranking.registry import get_strategy
from tests.models import builders
from tests.web.helpers import assert_problem, assert_ranked, npy_bytes

WIDTH, LABELS, ROWS = 5, 4, 60
RNG = np.random.default_rng(11)
WEIGHTS = RNG.normal(scale=0.6, size=(WIDTH, LABELS)).astype(np.float32)
BIAS = RNG.normal(scale=0.3, size=LABELS).astype(np.float32)
FEATURES = RNG.normal(size=(ROWS, WIDTH)).astype(np.float32)
SIGMOID_MODEL = builders.multilabel(WEIGHTS, BIAS, logits_output=True)
LOGIT_MODEL = builders.multilabel(WEIGHTS, BIAS, sigmoid=False)
PROBABILITIES, LOGITS = builders.multilabel_reference(FEATURES, WEIGHTS, BIAS)
# A few rows per model run, so the output streams in many chunks.
SMALL_RUNS = RankLimits(inference_chunk_bytes=7 * WIDTH * 4, chunk_bytes=5 * LABELS * 8)
LABEL_STRATEGIES = ["min_confidence", "avg_confidence", "max_score", "avg_score"]
CLASS_STRATEGIES = ["entropy", "margin", "least_confidence", "ratio"]


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> ModelStore:
    return ModelStore(
        tmp_path_factory.mktemp("store"),
        bundled=BundledModels(SOURCE_DIRECTORY),
        max_bytes=64 * MiB,
        limits=ValidationLimits(memory_bytes=512 * MiB, seconds=60),
        sessions=SessionCache(4),
    )


def stored(store: ModelStore, data: bytes) -> str:
    model, _ = store.add(data)
    return model.id


def rank_features(
    store: ModelStore,
    model: str | bytes | tuple[str, ...],
    strategy: str,
    *,
    features: np.ndarray = FEATURES,
    budget: int = 6,
    limits: RankLimits = SMALL_RUNS,
    **params: object,
) -> jobs.RankAnswer:
    request = RankRequest(
        strategy,
        budget,
        arrays={"features": ArraySource(features, name="features")},
        params=params,
        return_all_scores=get_strategy(strategy).pointwise,
        model=model,
    )
    return jobs.rank(request, limits=limits, store=store)


def rank_direct(strategy: str, arrays: dict[str, np.ndarray], *, budget: int = 6, **params):
    sources = {name: ArraySource(array, name=name) for name, array in arrays.items()}
    pointwise = get_strategy(strategy).pointwise
    request = RankRequest(
        strategy, budget, arrays=sources, params=params, return_all_scores=pointwise
    )
    return jobs.rank(request).ranking


def refusal(store: ModelStore, model, strategy: str, **options) -> InvalidInput:
    with pytest.raises(InvalidInput) as caught:
        rank_features(store, model, strategy, **options)
    return caught.value


def assert_same_ranking(through_model, direct, *, atol: float = 1e-6) -> None:
    np.testing.assert_array_equal(through_model.indices, direct.indices)
    np.testing.assert_allclose(through_model.all_scores, direct.all_scores, rtol=0, atol=atol)
    np.testing.assert_allclose(through_model.scores, direct.scores, rtol=0, atol=atol)


def test_the_model_gives_the_hand_computed_sigmoid():
    session = create_session(SIGMOID_MODEL)
    chunks = predict_probabilities(
        session, FEATURES, output_kind="label_probabilities", chunk_rows=7
    )
    starts, values = zip(*chunks, strict=True)
    assert list(starts) == list(range(0, ROWS, 7))
    probabilities = np.concatenate(values)
    assert probabilities.dtype == np.float32
    assert probabilities.shape == (ROWS, LABELS)
    np.testing.assert_allclose(probabilities, PROBABILITIES, rtol=0, atol=1e-6)


@pytest.mark.parametrize("strategy", LABEL_STRATEGIES + CLASS_STRATEGIES)
def test_label_probabilities_rank_like_the_hand_computed_ones(store, strategy):
    model_id = stored(store, SIGMOID_MODEL)
    answer = rank_features(store, model_id, strategy, output_kind="label_probabilities")
    direct = rank_direct(strategy, {"label_probabilities": PROBABILITIES.astype(np.float32)})
    assert answer.model_id == model_id
    assert answer.ranking.pool_size == ROWS
    assert_same_ranking(answer.ranking, direct)


@pytest.mark.parametrize("aggregate", ["mean", "max", "sum"])
def test_class_strategies_aggregate_a_models_labels(store, aggregate):
    model_id = stored(store, SIGMOID_MODEL)
    answer = rank_features(
        store, model_id, "entropy", output_kind="label_probabilities", aggregate=aggregate
    )
    direct = rank_direct(
        "entropy", {"label_probabilities": PROBABILITIES.astype(np.float32)}, aggregate=aggregate
    )
    assert_same_ranking(answer.ranking, direct)


@pytest.mark.parametrize("strategy", ["max_score", "entropy", "avg_confidence"])
def test_label_logits_rank_as_the_label_probabilities_of_their_sigmoid(store, strategy):
    from_logits = rank_features(
        store, stored(store, LOGIT_MODEL), strategy, output_kind="label_logits"
    )
    from_sigmoid = rank_features(
        store, stored(store, SIGMOID_MODEL), strategy, output_kind="label_probabilities"
    )
    assert_same_ranking(from_logits.ranking, from_sigmoid.ranking)
    direct = rank_direct(strategy, {"label_logits": LOGITS.astype(np.float32)})
    assert_same_ranking(from_logits.ranking, direct)


def test_max_score_ranks_a_models_label_output_by_its_definition(store):
    answer = rank_features(
        store, stored(store, SIGMOID_MODEL), "max_score", output_kind="label_probabilities"
    )
    predicted = (PROBABILITIES > 0.5).astype(np.float64)
    expected = (PROBABILITIES * (predicted - 0.5)).max(axis=1) + 0.5
    np.testing.assert_allclose(answer.ranking.all_scores, expected, rtol=0, atol=1e-6)
    order = sorted(range(ROWS), key=lambda i: (-expected[i], i))[:6]
    assert answer.ranking.indices.tolist() == order


def test_label_cardinality_inconsistency_ranks_a_models_labels(store):
    params = {"output_kind": "label_probabilities", "label_cardinality": 2.0}
    answer = rank_features(
        store, stored(store, SIGMOID_MODEL), "label_cardinality_inconsistency", **params
    )
    direct = rank_direct(
        "label_cardinality_inconsistency",
        {"label_probabilities": PROBABILITIES.astype(np.float32)},
        label_cardinality=2.0,
    )
    assert_same_ranking(answer.ranking, direct)


def test_the_default_output_is_the_first_float_n_x_l_one_and_output_picks_another(store):
    model_id = stored(store, SIGMOID_MODEL)
    session = create_session(SIGMOID_MODEL)
    target = model_output(session, None, "label_probabilities")
    assert (target.name, target.classes, target.labels) == ("scores", LABELS, True)
    by_name = rank_features(
        store, model_id, "avg_score", output_kind="label_logits", output="logits"
    )
    by_default = rank_features(store, model_id, "avg_score", output_kind="label_probabilities")
    assert_same_ranking(by_name.ranking, by_default.ranking)


def test_a_single_label_model_is_ranked(store):
    weights, bias = WEIGHTS[:, :1], BIAS[:1]
    model_id = stored(store, builders.multilabel(weights, bias))
    answer = rank_features(store, model_id, "entropy", output_kind="label_probabilities")
    probabilities, _ = builders.multilabel_reference(FEATURES, weights, bias)
    direct = rank_direct("entropy", {"label_probabilities": probabilities.astype(np.float32)})
    assert_same_ranking(answer.ranking, direct)


def test_model_bytes_sent_with_the_request_score_labels(store):
    answer = rank_features(store, SIGMOID_MODEL, "max_score", output_kind="label_probabilities")
    direct = rank_direct("max_score", {"label_probabilities": PROBABILITIES.astype(np.float32)})
    assert_same_ranking(answer.ranking, direct)
    assert answer.model_id == stored(store, SIGMOID_MODEL)


def test_a_value_above_one_is_refused_naming_the_model_output_row_and_label(store):
    values = np.full((12, 3), 0.5, np.float32)
    values[9, 1] = 1.2
    model_id = stored(store, builders.identity(3))
    caught = refusal(
        store, model_id, "max_score", features=values, output_kind="label_probabilities"
    )
    assert caught.field == "model"
    assert caught.detail.startswith("model output 'scores', row 9, label 1: 1.2 is outside [0, 1]")
    assert "send output_kind=label_logits if the model emits logits" in caught.detail


@pytest.mark.parametrize("bad", [-0.25, np.nan, np.inf], ids=["negative", "nan", "inf"])
def test_values_outside_zero_one_are_refused_in_any_chunk(store, bad):
    values = np.full((20, 2), 0.25, np.float32)
    values[17, 0] = bad
    model_id = stored(store, builders.identity(2))
    caught = refusal(store, model_id, "entropy", features=values, output_kind="label_probabilities")
    assert caught.field == "model"
    assert "model output 'scores', row 17, label 0" in caught.detail
    if np.isfinite(bad):
        assert "-0.25 is outside [0, 1]" in caught.detail
    else:
        assert "non-finite probability" in caught.detail


def test_label_logits_need_only_be_finite(store):
    values = np.random.default_rng(5).normal(scale=30, size=(20, 3)).astype(np.float32)
    model_id = stored(store, builders.identity(3))
    answer = rank_features(
        store, model_id, "min_confidence", features=values, output_kind="label_logits"
    )
    direct = rank_direct("min_confidence", {"label_logits": values})
    assert_same_ranking(answer.ranking, direct)
    values[13, 2] = np.nan
    caught = refusal(store, model_id, "min_confidence", features=values, output_kind="label_logits")
    assert caught.field == "model"
    assert "model output 'scores', row 13, label 2 holds a non-finite logit" in caught.detail


def test_a_model_without_a_float_n_x_l_output_is_refused(store):
    weights, bias = builders.small_classifier(WIDTH, 3)
    zipmap_id = stored(store, builders.zipmap(weights, bias, [0, 1, 2]))
    caught = refusal(store, zipmap_id, "max_score", output_kind="label_probabilities")
    assert caught.field == "model"
    assert "N x L array of per-label probabilities or logits" in caught.detail
    caught = refusal(
        store,
        stored(store, SIGMOID_MODEL),
        "max_score",
        output_kind="label_probabilities",
        output="label",
    )
    assert caught.field == "output"
    assert "expected an N x L array of per-label probabilities or logits" in caught.detail


def test_passes_with_a_label_kind_are_refused_naming_output_kind(store):
    caught = refusal(
        store, stored(store, SIGMOID_MODEL), "entropy", output_kind="label_probabilities", passes=4
    )
    assert caught.field == "params.output_kind"
    assert "committee or params.passes" in caught.detail


@pytest.mark.parametrize("kind", ["label_probabilities", "label_logits"])
def test_a_committee_with_a_label_kind_is_refused_naming_output_kind(store, kind):
    other = builders.multilabel(WEIGHTS[::-1].copy(), BIAS)
    committee = (stored(store, SIGMOID_MODEL), stored(store, other))
    caught = refusal(store, committee, "entropy", output_kind=kind)
    assert caught.field == "params.output_kind"
    assert f"params.output_kind={kind}" in caught.detail


def test_a_strategy_of_no_label_kind_is_refused_naming_output_kind(store):
    caught = refusal(store, stored(store, SIGMOID_MODEL), "bald", output_kind="label_probabilities")
    assert caught.field == "params.output_kind"
    assert "bald does not rank label_probabilities" in caught.detail


def test_a_multi_label_strategy_with_a_class_kind_asks_for_a_label_kind(store):
    weights, bias = builders.small_classifier(WIDTH, 3)
    caught = refusal(store, stored(store, builders.linear(weights, bias)), "max_score")
    assert caught.field == "params.output_kind"
    assert "label_probabilities or label_logits" in caught.detail


def test_embeddings_come_from_the_same_runs_as_a_label_output(store):
    model_id = stored(store, SIGMOID_MODEL)
    answer = rank_features(
        store,
        model_id,
        "coreset",
        output_kind="label_probabilities",
        embeddings_output="logits",
    )
    direct = rank_direct("coreset", {"embeddings": LOGITS.astype(np.float32)})
    np.testing.assert_array_equal(answer.ranking.indices, direct.indices)
    np.testing.assert_allclose(answer.ranking.scores, direct.scores, rtol=0, atol=1e-5)
    caught = refusal(
        store,
        model_id,
        "badge",
        output_kind="label_probabilities",
        embeddings_output="logits",
    )
    assert caught.field == "params.output_kind"


def test_a_label_output_is_checked_beside_the_embeddings(store):
    values = np.full((10, 2), 0.5, np.float32)
    values[4, 1] = 1.5
    caught = refusal(
        store,
        stored(store, builders.identity(2)),
        "coreset",
        features=values,
        output_kind="label_probabilities",
        embeddings_output="scores",
    )
    assert caught.field == "model"
    assert "row 4, label 1: 1.5 is outside [0, 1]" in caught.detail


def test_a_multipart_request_ranks_a_model_parts_label_output(client):
    form = {
        "strategy": "max_score",
        "budget": "5",
        "output_kind": "label_probabilities",
        "return_all_scores": "true",
        "features": (io.BytesIO(npy_bytes(FEATURES)), "features.npy"),
        "model": (io.BytesIO(SIGMOID_MODEL), "model.onnx"),
    }
    body = assert_ranked(client.post("/v1/rank", data=form, content_type="multipart/form-data"))
    direct = rank_direct(
        "max_score", {"label_probabilities": PROBABILITIES.astype(np.float32)}, budget=5
    )
    assert body["indices"] == direct.indices.tolist()
    np.testing.assert_allclose(body["all_scores"], direct.all_scores, rtol=0, atol=1e-6)
    stored_ids = {model["id"] for model in client.get("/v1/models").get_json()["models"]}
    assert body["model"] not in stored_ids


def test_a_multipart_label_output_out_of_range_is_a_problem_naming_model(client):
    values = np.full((6, 2), 0.5, np.float32)
    values[3, 1] = 1.2
    form = {
        "strategy": "max_score",
        "budget": "2",
        "output_kind": "label_probabilities",
        "features": (io.BytesIO(npy_bytes(values)), "features.npy"),
        "model": (io.BytesIO(builders.identity(2)), "model.onnx"),
    }
    response = client.post("/v1/rank", data=form, content_type="multipart/form-data")
    assert_problem(response, 422, "model", says=("row 3, label 1: 1.2 is outside [0, 1]",))
