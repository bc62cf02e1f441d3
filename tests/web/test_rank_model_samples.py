"""Samples from models: a committee's members, or one model's MC-dropout
passes (params.passes), score raw features for the Bayesian and committee
strategies."""

from __future__ import annotations

import io

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import numpy_helper
from sklearn.datasets import load_digits

import service.models.inference as inference
from service.app import create_app
from service.errors import DeadlineExceeded
from service.models.dropout import TRAINING_INPUT, _node_seed
from service.models.ids import model_id
from tests.contract import ContractClient
from tests.models.builders import dropout_after_output, dropout_two_layer, linear, two_layer
from tests.web.helpers import assert_problem, assert_ranked, npy_bytes, send

WIDTH, HIDDEN, CLASSES, ROWS = 6, 12, 3, 90
RNG = np.random.default_rng(21)


def _weights(seed: int, width: int = WIDTH, classes: int = CLASSES) -> tuple[np.ndarray, ...]:
    rng = np.random.default_rng(seed)
    return (
        rng.normal(size=(width, HIDDEN)),
        rng.normal(size=HIDDEN) * 0.1 + 0.3,
        rng.normal(size=(HIDDEN, classes)),
        rng.normal(size=classes) * 0.1,
    )


# The dropout's output is no graph output: onnxruntime would remove such a node.
DROPOUT_MODEL = dropout_two_layer(*_weights(1), ratio=0.3, dropped_output=False)
MEMBERS = [two_layer(*_weights(seed)) for seed in (2, 3, 4)]
FEATURES = RNG.normal(size=(ROWS, WIDTH)).astype(np.float32)


def _upload(client, data: bytes) -> str:
    response = client.post("/v1/models", data=data, content_type="application/octet-stream")
    assert response.status_code in (200, 201), response.get_data(as_text=True)
    return str(response.get_json()["id"])


def _reference_passes(data: bytes, seed: int, passes: int) -> np.ndarray:
    """N x T x C: the passes of a session of ``data`` with its dropout switched
    on by the onnx library, seeded as the service seeds it, run over the pool."""
    model = onnx.load_from_string(data)
    dropouts = [node for node in model.graph.node if node.op_type == "Dropout"]
    for index, node in enumerate(dropouts):
        node.input.append(TRAINING_INPUT)
        node.attribute.append(onnx.helper.make_attribute("seed", _node_seed(seed, index)))
    model.graph.initializer.append(numpy_helper.from_array(np.array(True), TRAINING_INPUT))
    session = ort.InferenceSession(
        model.SerializeToString(),
        providers=["CPUExecutionProvider"],
        disabled_optimizers=["EliminateDropout"],
    )
    runs = [session.run(["probabilities"], {"features": FEATURES})[0] for _ in range(passes)]
    return np.stack(runs, axis=1)


def _committee_samples(members: list[bytes]) -> np.ndarray:
    outputs = [
        ort.InferenceSession(data, providers=["CPUExecutionProvider"]).run(
            ["probabilities"], {"features": FEATURES}
        )[0]
        for data in members
    ]
    return np.stack(outputs, axis=1)


def _assert_top(indices: list[int], scores: np.ndarray) -> None:
    """``indices`` are a best-first top k of ``scores``, ties within float32 rounding."""
    chosen = scores[indices]
    assert np.all(np.diff(chosen) <= 1e-6)
    rest = np.delete(scores, indices)
    assert chosen.min() >= rest.max() - 1e-6


def _bald_reference(samples: np.ndarray) -> np.ndarray:
    """H(mean over passes) - mean over passes of H, per item, in float64."""
    p = samples.astype(np.float64)
    mean = p.mean(axis=1)
    entropy_of_mean = -(mean * np.log(np.where(mean > 0, mean, 1))).sum(axis=1)
    mean_entropy = -(p * np.log(np.where(p > 0, p, 1))).sum(axis=2).mean(axis=1)
    return entropy_of_mean - mean_entropy


@pytest.mark.parametrize("kind", ["json", "multipart"])
def test_passes_are_the_seeded_dropout_passes_and_rank_as_those_samples_would(client, kind):
    model_id = _upload(client, DROPOUT_MODEL)
    body = assert_ranked(
        send(
            client,
            kind,
            {"features": FEATURES},
            strategy="bald",
            budget=6,
            seed=17,
            model=model_id,
            params={"passes": 20},
            return_all_scores=True,
        )
    )
    samples = _reference_passes(DROPOUT_MODEL, 17, 20)
    assert not np.allclose(samples[:, 0], samples[:, 1])
    np.testing.assert_allclose(body["all_scores"], _bald_reference(samples), atol=2e-5)
    sent = assert_ranked(
        send(client, "json", {"samples": samples}, strategy="bald", budget=6, seed=17)
    )
    assert body["indices"] == sent["indices"]
    assert body["model"] == model_id
    assert body["seed"] == 17


def test_the_same_request_gives_the_same_passes_and_another_seed_others(client):
    model_id = _upload(client, DROPOUT_MODEL)

    def scores(seed: int) -> list[float]:
        body = assert_ranked(
            send(
                client,
                "json",
                {"features": FEATURES},
                strategy="variation_ratios",
                budget=4,
                seed=seed,
                model=model_id,
                params={"passes": 8},
                return_all_scores=True,
            )
        )
        return body["all_scores"]

    assert scores(3) == scores(3)
    assert scores(3) != scores(4)


def test_passes_without_a_seed_name_the_seed_that_repeats_them(client):
    model_id = _upload(client, DROPOUT_MODEL)
    request = {
        "strategy": "bald",
        "budget": 5,
        "model": model_id,
        "features": FEATURES.tolist(),
        "params": {"passes": 5},
        "return_all_scores": True,
    }
    first = assert_ranked(client.post("/v1/rank", json=request))
    again = assert_ranked(client.post("/v1/rank", json={**request, "seed": first["seed"]}))
    assert again["all_scores"] == first["all_scores"]


def test_the_bundled_mlp_runs_passes_by_name(client):
    digits = load_digits().data[:40].astype(np.float32)
    body = assert_ranked(
        send(
            client,
            "json",
            {"features": digits},
            strategy="bald",
            budget=5,
            seed=1,
            model="digits-mlp",
            params={"passes": 10},
        )
    )
    assert body["model"].startswith("sha256:")


def test_the_bundled_mlp_gives_embeddings_and_joins_a_committee(client):
    digits = load_digits().data[:60].astype(np.float32)
    for fields in (
        {
            "strategy": "badge",
            "model": "digits-mlp",
            "params": {"embeddings_output": "embeddings"},
            "seed": 2,
        },
        {"strategy": "vote_entropy", "model": ["digits-logreg", "digits-mlp"]},
    ):
        body = assert_ranked(send(client, "json", {"features": digits}, budget=5, **fields))
        assert len(set(body["indices"])) == 5


@pytest.mark.parametrize("kind", ["json", "multipart"])
@pytest.mark.parametrize("strategy", ["vote_entropy", "kl_max_disagreement", "bald", "entropy"])
def test_a_committee_ranks_as_its_stacked_outputs_would(client, kind, strategy):
    ids = [_upload(client, data) for data in MEMBERS]
    model = ids if kind == "json" else ",".join(ids)
    body = assert_ranked(
        send(
            client,
            kind,
            {"features": FEATURES},
            strategy=strategy,
            budget=7,
            model=model,
            return_all_scores=True,
        )
    )
    samples = _committee_samples(MEMBERS)
    sent = assert_ranked(
        send(
            client,
            "json",
            {"samples": samples},
            strategy=strategy,
            budget=7,
            return_all_scores=True,
        )
    )
    np.testing.assert_allclose(body["all_scores"], sent["all_scores"], rtol=1e-5, atol=1e-6)
    _assert_top(body["indices"], np.asarray(sent["all_scores"]))
    assert body["model"] == ids


def test_a_committee_bald_score_is_the_hand_computed_one(client):
    ids = [_upload(client, data) for data in MEMBERS]
    body = assert_ranked(
        send(
            client,
            "json",
            {"features": FEATURES},
            strategy="bald",
            budget=3,
            model=ids,
            return_all_scores=True,
        )
    )
    expected = _bald_reference(_committee_samples(MEMBERS))
    np.testing.assert_allclose(body["all_scores"], expected, atol=2e-5)


def test_a_committee_of_logits_members_is_softmaxed(client):
    weights = [np.random.default_rng(seed).normal(size=(WIDTH, CLASSES)) for seed in (5, 6)]
    members = [
        linear(w, np.zeros(CLASSES), softmax=False, label=False, output_name="logits")
        for w in weights
    ]
    ids = [_upload(client, data) for data in members]
    body = assert_ranked(
        send(
            client,
            "json",
            {"features": FEATURES},
            strategy="bald",
            budget=3,
            model=ids,
            params={"output_kind": "logits"},
            return_all_scores=True,
        )
    )
    logits = np.stack([FEATURES.astype(np.float64) @ w for w in weights], axis=1)
    probabilities = np.exp(logits - logits.max(axis=2, keepdims=True))
    probabilities /= probabilities.sum(axis=2, keepdims=True)
    np.testing.assert_allclose(body["all_scores"], _bald_reference(probabilities), atol=2e-5)


def test_a_committee_streams_in_blocks_as_a_whole_run_would(client):
    ids = [_upload(client, data) for data in MEMBERS]
    request = {"features": FEATURES}
    fields = {"strategy": "bald", "budget": 5, "model": ids, "return_all_scores": True}
    whole = assert_ranked(send(client, "json", request, **fields))
    app = create_app({"TESTING": True, "INFERENCE_CHUNK_BYTES": 7 * WIDTH * 4})
    app.test_client_class = ContractClient
    small = assert_ranked(send(app.test_client(), "json", request, **fields))
    np.testing.assert_allclose(small["all_scores"], whole["all_scores"], rtol=1e-6)


# Refusals


def _refused(client, status, field, says, **fields):
    fields.setdefault("features", FEATURES)
    features = fields.pop("features")
    fields.setdefault("strategy", "bald")
    fields.setdefault("budget", 3)
    return assert_problem(
        send(client, "json", {"features": features}, **fields), status, field, says=says
    )


def test_members_that_disagree_on_the_classes_are_refused(client):
    ids = [_upload(client, MEMBERS[0]), _upload(client, two_layer(*_weights(8, classes=4)))]
    _refused(client, 422, "model", ("disagree", "3 classes", "4"), model=ids)


def test_members_that_disagree_on_the_input_width_are_refused(client):
    ids = [_upload(client, MEMBERS[0]), _upload(client, two_layer(*_weights(8, width=5)))]
    _refused(client, 422, "model", ("disagree", "6 features", "5 features"), model=ids)


def test_more_members_than_allowed_are_refused(client):
    _refused(client, 422, "model", ("at most 16",), model=["digits-logreg"] * 17)


def test_a_committee_naming_one_model_twice_is_refused(client):
    model_id = _upload(client, MEMBERS[0])
    _refused(client, 422, "model", ("same model",), model=[model_id, model_id])


@pytest.mark.parametrize("model", [[], ["digits-logreg"], ["digits-logreg", ""], [1, 2]])
def test_a_malformed_committee_is_refused(client, model):
    _refused(client, 422, "model", (), model=model)


def test_an_unknown_member_is_refused(client):
    model_id = _upload(client, MEMBERS[0])
    _refused(client, 404, "model", (), model=[model_id, "sha256:" + "0" * 64])


def test_an_unknown_output_of_a_committee_is_refused(client):
    ids = [_upload(client, data) for data in MEMBERS[:2]]
    _refused(client, 422, "output", ("no output 'nope'",), model=ids, params={"output": "nope"})


@pytest.mark.parametrize("passes", [1, 101, 2.5, "many"])
def test_passes_out_of_range_are_refused(client, passes):
    model_id = _upload(client, DROPOUT_MODEL)
    _refused(client, 422, "params.passes", (), model=model_id, params={"passes": passes})


def test_passes_on_a_model_without_dropout_are_refused(client):
    model_id = _upload(client, MEMBERS[0])
    _refused(
        client, 422, "params.passes", ("no Dropout node",), model=model_id, params={"passes": 4}
    )
    _refused(
        client,
        422,
        "params.passes",
        ("no Dropout node",),
        model="digits-logreg",
        features=np.zeros((4, 64), np.float32),
        params={"passes": 4},
    )


def test_passes_on_an_opset_without_training_mode_are_refused(client):
    model_id = _upload(client, dropout_two_layer(*_weights(1), opset=11))
    _refused(client, 422, "params.passes", ("opset 11",), model=model_id, params={"passes": 4})


def test_passes_whose_dropout_does_not_reach_the_output_are_refused(client):
    model_id = _upload(client, dropout_after_output())
    _refused(
        client,
        422,
        "params.passes",
        ("same output in all 4 passes",),
        model=model_id,
        features=np.ones((5, 3), np.float32),
        params={"passes": 4},
    )


def test_passes_with_a_zero_ratio_are_refused(client):
    model_id = _upload(client, dropout_two_layer(*_weights(1), ratio=0.0))
    _refused(client, 422, "params.passes", ("same output",), model=model_id, params={"passes": 3})


def test_passes_with_a_committee_are_refused(client):
    ids = [_upload(client, DROPOUT_MODEL), _upload(client, MEMBERS[0])]
    _refused(client, 422, "params.passes", ("one model",), model=ids, params={"passes": 3})


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"passes": 3, "embeddings_output": "hidden"}, "params.embeddings_output"),
        ({"passes": 3, "layout": "TNC"}, "params.layout"),
        ({"passes": 3, "space": "log"}, "params.space"),
    ],
)
def test_what_samples_from_passes_cannot_serve_is_refused(client, params, field):
    model_id = _upload(client, DROPOUT_MODEL)
    _refused(client, 422, field, (), model=model_id, params=params)


def test_a_strategy_that_scores_no_samples_refuses_a_committee(client):
    ids = [_upload(client, data) for data in MEMBERS[:2]]
    _refused(client, 422, "model", ("coreset",), model=ids, strategy="coreset")


def test_features_sent_with_samples_are_refused(client):
    model_id = _upload(client, DROPOUT_MODEL)
    response = send(
        client,
        "json",
        {"features": FEATURES, "samples": np.full((ROWS, 2, CLASSES), 1 / CLASSES)},
        strategy="bald",
        budget=3,
        model=model_id,
        params={"passes": 3},
    )
    assert_problem(response, 422, "samples", says=("not both",))


@pytest.mark.parametrize(
    "fields",
    [{"params": {"passes": 50}}, {"committee": True}],
    ids=["passes", "committee"],
)
def test_every_pass_and_member_run_is_stopped_by_the_deadline(client, monkeypatch, fields):
    """A run checks the deadline before it starts: with the deadline passing at
    the fourth check, the request ends there with 504, not after T x K runs."""
    checks = []

    def deadline_after_three() -> None:
        checks.append(1)
        if len(checks) > 3:
            raise DeadlineExceeded("the ranking did not finish within the deadline of 1 s")

    # Runs of 7 rows: 13 blocks of the pool, each run by every member or pass.
    app = create_app({"TESTING": True, "INFERENCE_CHUNK_BYTES": 7 * WIDTH * 4})
    app.test_client_class = ContractClient
    small = app.test_client()
    if fields.pop("committee", False):
        model = [_upload(small, data) for data in MEMBERS]
    else:
        model = _upload(small, DROPOUT_MODEL)
    monkeypatch.setattr(inference, "check_deadline", deadline_after_three)
    response = send(
        small, "json", {"features": FEATURES}, strategy="bald", budget=3, model=model, **fields
    )
    assert_problem(response, 504, None, says=("within the deadline",))
    assert len(checks) == 4


def test_a_model_part_runs_passes_for_this_request_only(client):
    form = {
        "strategy": "bald",
        "budget": "4",
        "seed": "17",
        "passes": "6",
        "return_all_scores": "true",
        "features": (io.BytesIO(npy_bytes(FEATURES)), "features.npy"),
        "model": (io.BytesIO(DROPOUT_MODEL), "model.onnx"),
    }
    response = client.post("/v1/rank", data=form, content_type="multipart/form-data")
    body = assert_ranked(response)
    expected = _bald_reference(_reference_passes(DROPOUT_MODEL, 17, 6))
    np.testing.assert_allclose(body["all_scores"], expected, atol=2e-5)
    assert body["model"] == model_id(DROPOUT_MODEL)


def test_a_batch_strategy_ranks_a_committees_mean_with_the_embeddings_sent(client):
    ids = [_upload(client, data) for data in MEMBERS]
    embeddings = np.random.default_rng(2).normal(size=(ROWS, 5))
    from_models = assert_ranked(
        send(
            client,
            "json",
            {"features": FEATURES, "embeddings": embeddings},
            strategy="badge",
            budget=6,
            seed=4,
            model=ids,
        )
    )
    sent = assert_ranked(
        send(
            client,
            "json",
            {"samples": _committee_samples(MEMBERS), "embeddings": embeddings},
            strategy="badge",
            budget=6,
            seed=4,
        )
    )
    assert from_models["indices"] == sent["indices"]


def test_batchbald_ranks_the_passes_as_the_core_ranks_those_samples(client):
    model_id = _upload(client, DROPOUT_MODEL)
    body = assert_ranked(
        send(
            client,
            "json",
            {"features": FEATURES},
            strategy="batchbald",
            budget=4,
            seed=17,
            model=model_id,
            params={"passes": 6},
        )
    )
    samples = _reference_passes(DROPOUT_MODEL, 17, 6)
    sent = assert_ranked(
        send(client, "json", {"samples": samples}, strategy="batchbald", budget=4, seed=17)
    )
    assert body["indices"] == sent["indices"]
    np.testing.assert_allclose(body["scores"], sent["scores"], rtol=1e-5)


@pytest.mark.parametrize("joint_samples", [0, 10**6, "many"])
def test_batchbald_refuses_joint_samples_out_of_range(client, joint_samples):
    samples = np.full((10, 3, 2), 0.5)
    response = send(
        client,
        "json",
        {"samples": samples},
        strategy="batchbald",
        budget=2,
        params={"joint_samples": joint_samples},
    )
    assert_problem(response, 422, "params.joint_samples")
