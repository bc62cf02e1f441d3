"""Request builders and response checks shared by the HTTP tests.

``send`` posts one rank request in any of the three body types, so a test can
state a request once and run it as application/json, application/x-npy or
multipart/form-data.
"""

from __future__ import annotations

import io
from collections.abc import Mapping

import numpy as np
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

RANK = "/v1/rank"
PROBLEM_MEDIA_TYPE = "application/problem+json"
NPY_MEDIA_TYPE = "application/x-npy"
BODY_KINDS = ("json", "npy", "multipart")

# Three items, two classes: margin scores 1.0, 0.2 and 0.8.
SMALL_POOL = [[0.5, 0.5], [0.9, 0.1], [0.6, 0.4]]


def npy_bytes(array: np.ndarray, **save_options: object) -> bytes:
    """``array`` as the bytes of a .npy file, written by np.save."""
    buffer = io.BytesIO()
    np.save(buffer, array, **save_options)
    return buffer.getvalue()


def npy_header(shape: tuple[int, ...], descr: str = "<f8") -> bytes:
    """A bare version 1.0 .npy header declaring ``shape``, with no data after it."""
    buffer = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        buffer, {"descr": descr, "fortran_order": False, "shape": shape}
    )
    return buffer.getvalue()


def dirichlet_pool(n: int, c: int, *, seed: int = 0, dtype: type = np.float64) -> np.ndarray:
    """A reproducible (n, c) probability matrix whose rows sum to 1."""
    return np.random.default_rng(seed).dirichlet(np.ones(c), size=n).astype(dtype)


def softmax(logits: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    """Row-wise softmax of ``logits / temperature`` in float64."""
    scaled = np.asarray(logits, dtype=np.float64) / temperature
    scaled -= scaled.max(axis=1, keepdims=True)
    weights = np.exp(scaled)
    return weights / weights.sum(axis=1, keepdims=True)


def as_text(value: object) -> str:
    """A field value as it is written in a query string or a form field."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | tuple):
        return ",".join(str(item) for item in value)
    return str(value)


def text_fields(fields: Mapping[str, object]) -> dict[str, str]:
    """Scalar fields as query or form text; ``params`` become plain keys."""
    flat: dict[str, str] = {}
    for key, value in fields.items():
        if key == "params":
            flat.update({name: as_text(item) for name, item in value.items()})  # type: ignore[attr-defined]
        else:
            flat[key] = as_text(value)
    return flat


def send(
    client: FlaskClient,
    kind: str,
    arrays: Mapping[str, object],
    **fields: object,
) -> TestResponse:
    """POST a rank request holding ``arrays`` (by role) and ``fields`` as ``kind``.

    json: arrays as nested lists beside the fields. npy: the one array is the
    body, the fields (and ``input`` naming its role) go in the query string.
    multipart: each array is a .npy file part named by its role, the fields
    are form fields.
    """
    if kind == "json":
        lists = {
            name: value.tolist() if isinstance(value, np.ndarray) else value
            for name, value in arrays.items()
        }
        return client.post(RANK, json={**fields, **lists})
    if kind == "npy":
        ((name, array),) = arrays.items()
        query = text_fields(fields)
        if name != "probabilities":
            query["input"] = name
        return client.post(
            RANK,
            query_string=query,
            data=npy_bytes(np.asarray(array)),
            content_type=NPY_MEDIA_TYPE,
        )
    if kind == "multipart":
        form: dict[str, object] = dict(text_fields(fields))
        for name, array in arrays.items():
            form[name] = (io.BytesIO(npy_bytes(np.asarray(array))), f"{name}.npy")
        return client.post(RANK, data=form, content_type="multipart/form-data")
    raise ValueError(f"unknown body kind {kind!r}")


def assert_ranked(response: TestResponse) -> dict[str, object]:
    """The body of a successful rank response, after checking its shape."""
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.mimetype == "application/json"
    body = response.get_json()
    for key in ("strategy", "budget", "pool_size", "indices", "scores"):
        assert key in body, f"{key} missing from {body}"
    assert len(body["indices"]) == len(body["scores"]) == body["budget"]
    return body


def assert_problem(
    response: TestResponse,
    status: int,
    field: str | tuple[str, ...] | None = None,
    *,
    says: tuple[str, ...] = (),
) -> dict[str, object]:
    """Check an application/problem+json error response; return its body.

    ``field``: the name (or any one of the names) ``errors`` must hold
    messages for. ``says``: text the detail must contain (case-insensitive).
    """
    text = response.get_data(as_text=True)
    assert response.status_code == status, text
    assert response.mimetype == PROBLEM_MEDIA_TYPE, text
    body = response.get_json()
    assert body["status"] == status
    assert isinstance(body["type"], str)
    assert body["type"]
    assert isinstance(body["title"], str)
    assert body["title"]
    assert isinstance(body["detail"], str)
    assert body["detail"]
    if field is not None:
        names = (field,) if isinstance(field, str) else field
        errors = body.get("errors", {})
        named = [name for name in names if name in errors]
        assert named, f"errors should name one of {names}: {text}"
        messages = errors[named[0]]
        assert isinstance(messages, list)
        assert messages
        assert all(isinstance(message, str) and message for message in messages)
    for phrase in says:
        assert phrase.lower() in body["detail"].lower(), f"{phrase!r} not in {body['detail']!r}"
    return body


def _variants() -> dict[str, tuple[dict[str, np.ndarray], dict[str, object]]]:
    rng = np.random.default_rng(5)
    probs = dirichlet_pool(60, 4, seed=6)
    logits = rng.normal(scale=3.0, size=(60, 4))
    weights = probs * rng.uniform(0.5, 20.0, size=(60, 1))
    return {
        "margin": ({"probabilities": probs}, {"strategy": "margin", "budget": 7}),
        "entropy-all-scores": (
            {"probabilities": probs},
            {"strategy": "entropy", "budget": 5, "return_all_scores": True},
        ),
        "exclude": (
            {"probabilities": probs},
            {"strategy": "least_confidence", "budget": 5, "exclude": [41, 3, 17, 42, 0]},
        ),
        "random-seeded": (
            {"probabilities": probs},
            {"strategy": "random", "budget": 6, "seed": 12345, "return_all_scores": True},
        ),
        "logits-temperature": (
            {"logits": logits},
            {
                "strategy": "margin",
                "budget": 5,
                "params": {"temperature": 2.5},
                "exclude": [1, 2],
                "return_all_scores": True,
            },
        ),
        "normalize": (
            {"probabilities": weights},
            {"strategy": "ratio", "budget": 5, "normalize": True, "return_all_scores": True},
        ),
    }


# The same requests, run through each body type and compared with the JSON answer.
REQUEST_VARIANTS = _variants()
