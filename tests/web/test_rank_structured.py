"""POST /v1/rank with the token kinds (sequence labeling) and the multi-label
kinds: JSON lists of sequences, flat and padded multipart parts, one answer
whatever the transport, and a problem naming the field and item for each
bad input."""

from __future__ import annotations

import math

import numpy as np
import pytest

from tests.web.helpers import RANK, assert_problem, assert_ranked, npy_bytes, send


def ner_pool(seed=0, n=25, classes=5, longest=9):
    """Sentences of per-token tag probabilities: lengths (n,), tokens (sum, classes)."""
    rng = np.random.default_rng(seed)
    lengths = rng.integers(1, longest + 1, size=n)
    lengths[[3, n - 2]] = 0  # two empty sentences
    tokens = rng.dirichlet(np.ones(classes) * 0.3, size=int(lengths.sum()))
    return lengths, tokens


def as_sequences(lengths, tokens):
    """The JSON form: a list of sentences, each a list of token rows."""
    ends = np.cumsum(lengths)
    return [tokens[end - length : end].tolist() for end, length in zip(ends, lengths, strict=True)]


def as_padded(lengths, tokens, fill=np.nan):
    out = np.full((lengths.shape[0], int(lengths.max()), tokens.shape[1]), fill)
    for i, sequence in enumerate(as_sequences(lengths, tokens)):
        if sequence:
            out[i, : len(sequence)] = sequence
    return out


def expected_least_confidence(lengths, tokens, how):
    token_scores = [1 - max(row) for row in tokens.tolist()]
    ends = np.cumsum(lengths).tolist()
    out = []
    for end, length in zip(ends, lengths.tolist(), strict=True):
        scores = token_scores[end - length : end]
        if not scores:
            out.append(0.0)
        elif how == "max":
            out.append(max(scores))
        elif how == "sum":
            out.append(math.fsum(scores))
        else:
            out.append(math.fsum(scores) / len(scores))
    return out


@pytest.mark.parametrize("how", ["mean", "max", "sum"])
def test_json_sequences_flat_parts_and_padded_parts_give_one_answer(client, how):
    lengths, tokens = ner_pool()
    fields = {
        "strategy": "least_confidence",
        "budget": 6,
        "params": {"aggregate": how},
        "return_all_scores": True,
        "return_token_scores": True,
    }
    answers = [
        assert_ranked(
            send(client, "json", {"token_probabilities": as_sequences(lengths, tokens)}, **fields)
        ),
        assert_ranked(
            send(client, "multipart", {"token_probabilities": tokens, "lengths": lengths}, **fields)
        ),
        assert_ranked(
            send(
                client,
                "multipart",
                {"token_probabilities": as_padded(lengths, tokens), "lengths": lengths},
                **fields,
            )
        ),
        assert_ranked(
            send(client, "json", {"token_probabilities": tokens, "lengths": lengths}, **fields)
        ),
    ]
    expected = expected_least_confidence(lengths, tokens, how)
    for body in answers:
        assert body == answers[0]
    body = answers[0]
    assert body["pool_size"] == 25
    np.testing.assert_allclose(body["all_scores"], expected, rtol=1e-12)
    order = sorted((i for i in range(25) if lengths[i]), key=lambda i: (-expected[i], i))
    assert body["indices"] == order[:6]
    ends = np.cumsum(lengths)
    for item, scores in zip(body["indices"], body["token_scores"], strict=True):
        rows = tokens[ends[item] - lengths[item] : ends[item]]
        np.testing.assert_allclose(scores, 1 - rows.max(axis=1), rtol=1e-12)


def test_sentences_of_equal_length_as_one_json_array(client):
    tokens = [[[0.9, 0.1], [0.8, 0.2]], [[0.5, 0.5], [0.6, 0.4]]]
    body = assert_ranked(
        send(client, "json", {"token_probabilities": tokens}, strategy="margin", budget=1)
    )
    assert body["indices"] == [1]
    assert body["scores"] == pytest.approx([(1.0 + 0.8) / 2])


def test_float32_parts_keep_their_type(client):
    lengths, tokens = ner_pool(1)
    body = assert_ranked(
        send(
            client,
            "multipart",
            {"token_probabilities": tokens.astype(np.float32), "lengths": lengths.astype(np.int32)},
            strategy="entropy",
            budget=3,
            aggregate="max",
        )
    )
    float64 = assert_ranked(
        send(
            client,
            "multipart",
            {"token_probabilities": tokens, "lengths": lengths},
            strategy="entropy",
            budget=3,
            aggregate="max",
        )
    )
    assert body["indices"] == float64["indices"]
    np.testing.assert_allclose(body["scores"], float64["scores"], rtol=1e-5)


def test_token_logits_and_token_samples_over_http(client):
    rng = np.random.default_rng(2)
    lengths = np.array([2, 3, 1])
    logits = rng.normal(size=(6, 3))
    body = assert_ranked(
        send(
            client,
            "multipart",
            {"token_logits": logits, "lengths": lengths},
            strategy="mnlp",
            budget=2,
        )
    )
    assert len(body["indices"]) == 2
    samples = rng.dirichlet(np.ones(3), size=(6, 4))
    sequences = [samples[0:2].tolist(), samples[2:5].tolist(), samples[5:6].tolist()]
    by_json = assert_ranked(
        send(
            client,
            "json",
            {"token_samples": sequences},
            strategy="bald",
            budget=2,
            params={"aggregate": "max"},
        )
    )
    by_parts = assert_ranked(
        send(
            client,
            "multipart",
            {"token_samples": samples, "lengths": lengths},
            strategy="bald",
            budget=2,
            aggregate="max",
        )
    )
    assert by_json == by_parts


def test_multi_label_pools_over_every_transport(client):
    probabilities = np.random.default_rng(3).random((30, 6))
    answers = [
        assert_ranked(
            send(
                client,
                kind,
                {"label_probabilities": probabilities},
                strategy="entropy",
                budget=4,
                params={"aggregate": "max"},
            )
        )
        for kind in ("json", "npy", "multipart")
    ]
    assert answers[0] == answers[1] == answers[2]
    for name in ("min_confidence", "avg_confidence", "max_score", "avg_score"):
        assert_ranked(
            send(client, "npy", {"label_probabilities": probabilities}, strategy=name, budget=3)
        )


def test_label_cardinality_from_labeled_label_sets_in_a_multipart_request(client):
    probabilities = np.random.default_rng(4).random((20, 3))
    labeled = np.array([[1, 0, 0], [1, 1, 0]])
    body = assert_ranked(
        send(
            client,
            "multipart",
            {"label_probabilities": probabilities, "labeled_labels": labeled},
            strategy="label_cardinality_inconsistency",
            budget=3,
            return_all_scores=True,
        )
    )
    counts = (probabilities >= 0.5).sum(axis=1)
    np.testing.assert_allclose(body["all_scores"], np.abs(counts - 1.5))


@pytest.mark.parametrize(
    ("arrays", "fields", "status", "field", "says"),
    [
        (
            {"token_probabilities": [[[0.9, 0.1]], [[0.5, 0.3, 0.2]]]},
            {},
            422,
            "token_probabilities",
            ("sequence 1 has tokens of shape [3] but sequence 0 has [2]",),
        ),
        (
            {"token_probabilities": [[[0.9, 0.1], [0.5, 0.3, 0.2]]]},
            {},
            422,
            "token_probabilities",
            ("sequence 0: ragged tokens: token 0 has 2 entries, token 1 has 3 entries",),
        ),
        (
            {"token_probabilities": [[[0.9, 0.1]], [[0.5, 0.1]]]},
            {},
            422,
            "token_probabilities",
            ("sequence 1, token 0", "sums to 0.6"),
        ),
        (
            {"token_probabilities": [[[0.9, 0.1]], [[0.5, "x"]]]},
            {},
            422,
            "token_probabilities",
            ("sequence 1: expected numbers",),
        ),
        (
            {"token_probabilities": [[[0.9, 0.1]], 0.5]},
            {},
            422,
            "token_probabilities",
            ("sequence 1: expected a list of tokens, got a number",),
        ),
        (
            {"token_probabilities": [[], []]},
            {},
            422,
            "token_probabilities",
            ("every sequence is empty",),
        ),
        (
            {"token_probabilities": [[0.9, 0.1], [0.5, 0.5]], "lengths": [1, 2]},
            {},
            422,
            "lengths",
            ("lengths add up to 3 tokens but token_probabilities has 2 token rows",),
        ),
        (
            {"token_probabilities": [[0.9, 0.1], [0.5, 0.5]], "lengths": [1, 1.5]},
            {},
            422,
            "lengths",
            ("sequence 1 has 1.5 tokens",),
        ),
        (
            {"token_probabilities": [[0.9, 0.1], [0.5, 0.5]], "lengths": [3, -1]},
            {},
            422,
            "lengths",
            ("sequence 1 has -1 tokens",),
        ),
        (
            {"token_probabilities": [[[0.9, 0.1], [0.5, 0.5]]], "lengths": [3]},
            {},
            422,
            "lengths",
            ("holds at most 2 (L_max)",),
        ),
        (
            {"token_probabilities": [[[0.9, 0.1], [0.5, 0.5]]], "lengths": [1, 1]},
            {},
            422,
            "lengths",
            ("lengths has 2 sequences but the padded token_probabilities has 1",),
        ),
        (
            {"token_probabilities": [[[0.9, float("nan")]]]},
            {},
            422,
            "token_probabilities",
            ("sequence 0, token 0", "non-finite"),
        ),
        (
            {"label_probabilities": [[0.2, 1.3]]},
            {},
            422,
            "label_probabilities",
            ("row 0, label 1: probability 1.3 is outside [0, 1]",),
        ),
        (
            {"label_probabilities": [[0.2, 0.3]]},
            {"strategy": "mnlp"},
            422,
            "label_probabilities",
            (
                "does not accept label_probabilities",
                "token_probabilities, token_logits, token_samples",
            ),
        ),
        (
            {"token_probabilities": [[[0.9, 0.1]]]},
            {"strategy": "max_score"},
            422,
            "token_probabilities",
            ("does not accept token_probabilities", "label_probabilities, label_logits"),
        ),
        (
            {"token_probabilities": [[[0.9, 0.1]]]},
            {"params": {"aggregate": "median"}},
            422,
            "params.aggregate",
            (),
        ),
        (
            {"probabilities": [[0.9, 0.1]]},
            {"params": {"aggregate": "max"}},
            422,
            "params.aggregate",
            (),
        ),
        (
            {"token_probabilities": [[[0.9, 0.1]]]},
            {"strategy": "mnlp", "params": {"aggregate": "max"}},
            422,
            "params.aggregate",
            ("averages over its tokens",),
        ),
        (
            {"probabilities": [[0.9, 0.1]]},
            {"return_token_scores": True},
            422,
            "return_token_scores",
            ("token kinds",),
        ),
        (
            {"token_probabilities": [[[0.9, 0.1]], [[0.5, 0.5]]]},
            {"budget": 2, "exclude": [0], "strategy": "margin"},
            422,
            "budget",
            ("exceeds",),
        ),
        (
            {"label_probabilities": [[0.2, 0.3]], "labeled_labels": [[1, 2]]},
            {"strategy": "label_cardinality_inconsistency"},
            422,
            "labeled_labels",
            ("row 0, label 1 holds 2.0: expected 0 or 1",),
        ),
        (
            {"label_probabilities": [[0.2, 0.3]]},
            {"strategy": "label_cardinality_inconsistency"},
            422,
            "params.label_cardinality",
            ("labeled_labels",),
        ),
        (
            {"label_probabilities": [[0.2, 0.3]], "labeled_labels": [[1, 0, 1]]},
            {"strategy": "label_cardinality_inconsistency"},
            422,
            "labeled_labels",
            ("labels",),
        ),
    ],
)
def test_bad_structured_json_is_a_problem_naming_the_field_and_item(
    client, arrays, fields, status, field, says
):
    request = {"strategy": "margin", "budget": 1, **fields}
    response = send(client, "json", arrays, **request)
    assert_problem(response, status, field, says=says)


def test_a_token_kind_as_a_single_npy_body_asks_for_lengths(client):
    response = client.post(
        RANK,
        query_string={"strategy": "margin", "budget": "1", "input": "token_probabilities"},
        data=npy_bytes(np.full((3, 2), 0.5)),
        content_type="application/x-npy",
    )
    assert_problem(response, 422, "lengths", says=("send lengths",))


def test_lengths_beside_a_kind_without_tokens_are_refused(client):
    response = send(
        client,
        "multipart",
        {"probabilities": np.full((2, 2), 0.5), "lengths": np.array([1, 1])},
        strategy="margin",
        budget=1,
    )
    assert_problem(response, 422, "lengths", says=("not used",))


def test_a_padded_part_with_a_bad_token_names_the_sequence_and_token(client):
    lengths, tokens = ner_pool(5, n=8)
    padded = as_padded(lengths, tokens, fill=0.0)
    last = int(np.flatnonzero(lengths)[-1])
    padded[last, lengths[last] - 1] = [2.0] + [0.0] * (tokens.shape[1] - 1)
    response = send(
        client,
        "multipart",
        {"token_probabilities": padded, "lengths": lengths},
        strategy="entropy",
        budget=1,
    )
    assert_problem(
        response, 422, "token_probabilities", says=(f"sequence {last}, token {lengths[last] - 1}",)
    )
