"""POST /v1/rank with samples (N x T x C by default): layouts, log space, aliases
and every way a samples array can be wrong."""

from __future__ import annotations

import io
import json
from urllib.parse import urlencode

import numpy as np
import pytest

from service.app import create_app
from service.ranking import bayesian
from service.ranking.registry import STRATEGIES
from service.ranking.rowops import pass_columns
from tests.ranking import reference

# Each pointwise strategy of form "samples", scoring samples (n, t, c) on their
# pass columns.
SAMPLE_STRATEGIES = {
    name: getattr(bayesian, f"{name}_of_columns")
    for name, strategy in STRATEGIES.items()
    if strategy.form == "samples" and strategy.pointwise
}
# The pool axis N, the pass axis T and the class axis C, as sent in each layout.
TRANSPOSE = {"NTC": (0, 1, 2), "TNC": (1, 0, 2), "NCT": (0, 2, 1)}
PROBLEM = "application/problem+json"


def make_samples(n=6, t=3, c=4, seed=0):
    """Dirichlet samples (n, t, c) with one exact zero per item (class 3, pass 0)."""
    samples = np.random.default_rng(seed).dirichlet(np.ones(c), size=(n, t))
    samples[:, 0, 3] = 0.0
    return samples / samples.sum(axis=2, keepdims=True)


def npy_bytes(array: np.ndarray | bytes) -> bytes:
    if isinstance(array, bytes):
        return array
    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()


def npy_header(shape, descr="<f4") -> bytes:
    buffer = io.BytesIO()
    header = {"descr": descr, "fortran_order": False, "shape": shape}
    np.lib.format.write_array_header_1_0(buffer, header)
    return buffer.getvalue()


def post_json(client, samples, strategy="bald", budget=1, **params):
    body = {"strategy": strategy, "budget": budget, "samples": samples}
    if params:
        body["params"] = params
    # json.dumps writes NaN and -Infinity literals, which the service reads.
    return client.post("/v1/rank", data=json.dumps(body), content_type="application/json")


def post_npy(client, array, strategy="bald", budget=1, **query):
    query = {"strategy": strategy, "budget": budget, "input": "samples", **query}
    return client.post(
        f"/v1/rank?{urlencode(query)}", data=npy_bytes(array), content_type="application/x-npy"
    )


def post_multipart(client, array, strategy="bald", budget=1, **fields):
    data = {key: str(value) for key, value in {"strategy": strategy, "budget": budget}.items()}
    data |= {key: str(value) for key, value in fields.items()}
    data["samples"] = (io.BytesIO(npy_bytes(array)), "samples.npy")
    return client.post("/v1/rank", data=data, content_type="multipart/form-data")


def send(client, transport, samples, strategy, budget, **params):
    """Send ``samples`` (an array) as JSON (float64), .npy or multipart (float32)."""
    if transport == "json":
        return post_json(client, samples.tolist(), strategy, budget, **params)
    post = post_npy if transport == "npy" else post_multipart
    return post(client, samples.astype(np.float32), strategy, budget, **params)


def expected_ranking(samples, strategy, budget):
    """The top ``budget`` items of ``samples`` and their scores, in the samples' dtype."""
    scores = SAMPLE_STRATEGIES[strategy](pass_columns(samples))
    order = np.lexsort((np.arange(scores.shape[0]), -scores))[:budget]
    return order.tolist(), scores[order].tolist()


def reference_ranking(samples, strategy, budget):
    """The same from the slow reference in Python floats (tests.ranking.reference)."""
    scores = reference.scores(strategy, samples.astype(np.float64))
    order = reference.top_k(scores, budget)
    return order, [scores[i] for i in order]


@pytest.mark.parametrize("transport", ["json", "npy", "multipart"])
@pytest.mark.parametrize("strategy", list(SAMPLE_STRATEGIES))
def test_every_layout_gives_the_same_answer(client, strategy, transport):
    samples = make_samples()
    dtype = np.float64 if transport == "json" else np.float32
    answers = []
    for layout, axes in TRANSPOSE.items():
        sent = np.ascontiguousarray(samples.transpose(axes))
        response = send(client, transport, sent, strategy, 3, layout=layout)
        assert response.status_code == 200, response.get_json()
        answers.append(response.get_json())
    assert answers[1] == answers[0]
    assert answers[2] == answers[0]
    indices, scores = expected_ranking(samples.astype(dtype), strategy, 3)
    assert answers[0]["strategy"] == strategy
    assert answers[0]["pool_size"] == 6
    assert answers[0]["indices"] == indices
    assert answers[0]["scores"] == pytest.approx(scores, rel=1e-6, abs=1e-7)
    indices, scores = reference_ranking(samples.astype(dtype), strategy, 3)
    tolerance = 1e-12 if transport == "json" else 5e-5
    assert answers[0]["indices"] == indices
    assert answers[0]["scores"] == pytest.approx(scores, rel=tolerance, abs=tolerance)


@pytest.mark.parametrize("layout", list(TRANSPOSE))
def test_npy_body_and_multipart_part_agree(client, layout):
    sent = np.ascontiguousarray(make_samples().transpose(TRANSPOSE[layout]))
    by_npy = send(client, "npy", sent, "bald", 4, layout=layout)
    by_multipart = send(client, "multipart", sent, "bald", 4, layout=layout)
    assert by_npy.status_code == by_multipart.status_code == 200
    assert by_npy.get_json() == by_multipart.get_json()


@pytest.mark.parametrize(
    ("transport", "tolerance"), [("json", 1e-12), ("npy", 1e-5), ("multipart", 1e-5)]
)
@pytest.mark.parametrize("strategy", list(SAMPLE_STRATEGIES))
def test_log_space_ranks_like_prob_space(client, strategy, transport, tolerance):
    samples = make_samples()
    with np.errstate(divide="ignore"):
        logs = np.log(samples)
    assert np.isneginf(logs).sum() == 6  # each item's zero probability is sent as -inf
    by_prob = send(client, transport, samples, strategy, 6)
    by_log = send(client, transport, logs, strategy, 6, space="log")
    assert by_prob.status_code == by_log.status_code == 200
    assert by_log.get_json()["indices"] == by_prob.get_json()["indices"]
    assert by_log.get_json()["scores"] == pytest.approx(
        by_prob.get_json()["scores"], rel=tolerance, abs=tolerance
    )


def test_consensus_entropy_is_predictive_entropy(client):
    samples = make_samples().tolist()
    alias = post_json(client, samples, "consensus_entropy", 3)
    canonical = post_json(client, samples, "predictive_entropy", 3)
    assert alias.status_code == 200
    assert alias.get_json()["strategy"] == "predictive_entropy"
    assert alias.get_json() == canonical.get_json()


def test_hand_worked_bald_in_log_space_and_tnc_layout(client):
    # Item 0: passes [1, 0] and [0, 1], bald = log 2; item 1: identical passes, 0.
    logs = [[[0.0, -np.inf], [np.log(0.5), np.log(0.5)]], [[-np.inf, 0.0], [np.log(0.5)] * 2]]
    response = post_json(client, logs, "bald", 2, layout="TNC", space="log")
    assert response.status_code == 200
    body = response.get_json()
    assert body["indices"] == [0, 1]
    assert body["scores"] == pytest.approx([np.log(2), 0.0], abs=1e-15)


@pytest.mark.parametrize("strategy", [*SAMPLE_STRATEGIES, "consensus_entropy"])
def test_samples_only_strategy_refuses_probabilities(client, strategy):
    response = client.post(
        "/v1/rank",
        json={"strategy": strategy, "budget": 1, "probabilities": [[0.5, 0.5], [0.9, 0.1]]},
    )
    assert response.status_code == 422
    assert response.mimetype == PROBLEM
    (message,) = response.get_json()["errors"]["probabilities"]
    assert "needs" in message
    assert "samples" in message


@pytest.mark.parametrize(
    "strategy", ["least_confidence", "margin", "ratio", "entropy", "predictive_entropy"]
)
def test_identical_pool_items_tie_and_rank_by_index(client, strategy):
    items = make_samples(n=4, c=7, seed=8).astype(np.float32)
    pool = np.concatenate([items, items, items])  # item i sits at i, i + 4 and i + 8
    response = post_npy(client, pool, strategy, 12, return_all_scores="true")
    assert response.status_code == 200
    body = response.get_json()
    scores = np.array(body["all_scores"]).reshape(3, 4)
    assert scores[1].tolist() == scores[0].tolist()
    assert scores[2].tolist() == scores[0].tolist()
    place = np.argsort(body["indices"])
    for item in range(4):
        assert place[item] < place[item + 4] < place[item + 8], f"item {item}"


@pytest.mark.parametrize("strategy", ["predictive_entropy", "entropy"])
def test_rows_accepted_within_the_sum_tolerance_never_score_below_zero(client, strategy):
    # Each pass sums to 1.0009, within the accepted 1e-3.
    response = post_json(client, [[[1.0009, 0.0], [1.0009, 0.0]], [[0.5, 0.5]] * 2], strategy, 2)
    assert response.status_code == 200
    assert min(response.get_json()["scores"]) >= 0


GOOD = [[[0.9, 0.1], [0.2, 0.8]], [[0.5, 0.5], [0.6, 0.4]], [[0.3, 0.7], [0.1, 0.9]]]
NOT_NORMALIZED = [[[0.9, 0.1], [0.2, 0.8]], [[0.5, 0.5], [0.6, 0.4]], [[0.3, 0.7], [0.1, 0.95]]]
NAN_NPY = np.array(GOOD, np.float32)
NAN_NPY[1, 0, 1] = np.nan


def as_layout(samples, layout):
    return np.ascontiguousarray(np.array(samples).transpose(TRANSPOSE[layout])).tolist()


BAD_INPUTS = [
    pytest.param(
        lambda c: post_json(c, [[0.5, 0.5], [0.4, 0.6]]), "samples", "got 2-D", id="2-D-json"
    ),
    pytest.param(lambda c: post_json(c, [GOOD]), "samples", "got 4-D", id="4-D-json"),
    pytest.param(
        lambda c: post_npy(c, np.full((3, 2), 0.5, np.float32)), "samples", "got 2-D", id="2-D-npy"
    ),
    pytest.param(
        lambda c: post_json(c, [[[0.5, 0.5]], [[0.4, 0.6]]]),
        "samples",
        "at least 2 passes",
        id="one-pass",
    ),
    pytest.param(
        lambda c: post_json(c, [[[0.5, 0.5], [0.4, 0.6]]], layout="TNC"),
        "samples",
        "at least 2 passes",
        id="one-pass-TNC",
    ),
    pytest.param(
        lambda c: post_json(c, [[[1.0], [1.0]]]), "samples", "at least 2 classes", id="one-class"
    ),
    pytest.param(
        lambda c: post_json(c, [[[1.0, 1.0]]], layout="NCT"),
        "samples",
        "at least 2 classes",
        id="one-class-NCT",
    ),
    pytest.param(
        lambda c: post_json(c, NOT_NORMALIZED), "samples", "row 2, pass 1 sums to", id="sum-NTC"
    ),
    pytest.param(
        lambda c: post_json(c, as_layout(NOT_NORMALIZED, "TNC"), layout="TNC"),
        "samples",
        "row 2, pass 1 sums to",
        id="sum-TNC",
    ),
    pytest.param(
        lambda c: post_npy(c, np.array(as_layout(NOT_NORMALIZED, "NCT")), layout="NCT"),
        "samples",
        "row 2, pass 1 sums to",
        id="sum-NCT-npy",
    ),
    pytest.param(
        lambda c: post_json(c, [[[0.5, 0.5], [float("nan"), 0.5]]]),
        "samples",
        "row 0, pass 1 holds a non-finite value",
        id="NaN-json-literal",
    ),
    pytest.param(
        lambda c: post_npy(c, NAN_NPY), "samples", "row 1, pass 0 holds a non-finite", id="NaN-npy"
    ),
    pytest.param(
        lambda c: post_json(c, [[[0.0, -np.inf], [np.inf, 0.0]]], space="log"),
        "samples",
        "row 0, pass 1",
        id="inf-log-space",
    ),
    pytest.param(
        lambda c: post_npy(c, np.array([[[0.0, -np.inf], [np.nan, 0.0]]]), space="log"),
        "samples",
        "row 0, pass 1",
        id="NaN-log-space-npy",
    ),
    pytest.param(
        lambda c: post_json(c, [[[0.0, -1e9], [800.0, -1e9]]], space="log"),
        "samples",
        "row 0, pass 1",
        id="log-probability-800",
    ),
    pytest.param(
        lambda c: post_json(c, [[[1.2, -0.2], [0.5, 0.5]]]),
        "samples",
        "outside [0, 1]",
        id="negative-probability",
    ),
    pytest.param(
        lambda c: post_json(c, GOOD, layout="CTN"), "params.layout", "NTC", id="layout-json"
    ),
    pytest.param(
        lambda c: post_npy(c, np.array(GOOD), layout="ntc"), "params.layout", "NTC", id="layout-npy"
    ),
    pytest.param(
        lambda c: post_multipart(c, np.array(GOOD), layout="NxTxC"),
        "params.layout",
        "NTC",
        id="layout-multipart",
    ),
    pytest.param(
        lambda c: post_json(c, GOOD, space="log2"), "params.space", "prob", id="space-json"
    ),
    pytest.param(
        lambda c: post_npy(c, np.array(GOOD), space="probability"),
        "params.space",
        "prob",
        id="space-npy",
    ),
]


@pytest.mark.parametrize(("request_with", "field", "fragment"), BAD_INPUTS)
def test_bad_samples_are_refused_naming_the_field(client, request_with, field, fragment):
    response = request_with(client)
    assert response.status_code == 422, response.get_json()
    assert response.mimetype == PROBLEM
    problem = response.get_json()
    assert problem["status"] == 422
    assert fragment in " ".join(problem["errors"][field])


@pytest.mark.parametrize(
    "request_with",
    [
        pytest.param(lambda c, body: post_npy(c, body), id="npy"),
        pytest.param(lambda c, body: post_npy(c, body, layout="TNC"), id="npy-TNC"),
        pytest.param(lambda c, body: post_multipart(c, body), id="multipart"),
    ],
)
def test_truncated_npy_is_a_bad_request(client, request_with):
    truncated = npy_bytes(np.array(GOOD, np.float32))[:-6]
    response = request_with(client, truncated)
    assert response.status_code == 400
    assert response.mimetype == PROBLEM
    assert "truncated" in " ".join(response.get_json()["errors"]["samples"])


def test_declared_shape_over_the_element_limit_is_refused_before_reading():
    client = create_app({"TESTING": True, "MAX_ELEMENTS": 100}).test_client()
    response = client.post(
        "/v1/rank?strategy=bald&budget=1&input=samples",
        data=npy_header((20, 2, 3)),  # 120 elements; no data follows
        content_type="application/x-npy",
    )
    assert response.status_code == 413
    assert response.mimetype == PROBLEM
    assert "120 elements" in " ".join(response.get_json()["errors"]["samples"])


def test_json_samples_over_the_element_limit_are_refused():
    client = create_app({"TESTING": True, "MAX_ELEMENTS": 100}).test_client()
    response = post_json(client, make_samples(n=10).tolist())  # 10 x 3 x 4 = 120
    assert response.status_code == 413
    assert "samples" in response.get_json()["errors"]


@pytest.mark.parametrize(
    ("n", "t", "status"),
    [
        pytest.param(5, 2, 413, id="pool-of-5-over-the-limit"),
        pytest.param(3, 6, 200, id="pool-of-3-with-6-passes-within-the-limit"),
    ],
)
@pytest.mark.parametrize("layout", list(TRANSPOSE))
def test_row_limit_counts_pool_rows_in_every_layout(layout, n, t, status):
    client = create_app({"TESTING": True, "MAX_ROWS": 4}).test_client()
    samples = make_samples(n=n, t=t).transpose(TRANSPOSE[layout])
    response = send(client, "npy", np.ascontiguousarray(samples), "bald", 1, layout=layout)
    assert response.status_code == status, response.get_json()


def test_strategies_lists_samples_strategies_and_the_alias(client):
    response = client.get("/v1/strategies")
    assert response.status_code == 200
    listed = {strategy["name"]: strategy for strategy in response.get_json()["strategies"]}
    for name in SAMPLE_STRATEGIES:
        assert listed[name]["inputs"] == ["samples", "token_samples"], name
    assert listed["predictive_entropy"]["aliases"] == ["consensus_entropy"]
    assert "consensus_entropy" not in listed
    for name in ("least_confidence", "margin", "ratio", "entropy", "random"):
        assert "samples" in listed[name]["inputs"], name
    (kind,) = [kind for kind in response.get_json()["inputs"] if kind["name"] == "samples"]
    assert kind["axes"] == "NTC"
    params = {param["name"]: param for param in kind["params"]}
    assert params["layout"]["enum"] == ["NTC", "TNC", "NCT"]
    assert params["layout"]["default"] == "NTC"
    assert params["space"]["enum"] == ["prob", "log"]
    assert params["space"]["default"] == "prob"
