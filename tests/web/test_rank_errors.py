"""Bad rank requests: each gets a 4xx application/problem+json naming the field and the reason."""

from __future__ import annotations

import io

import numpy as np
import pytest

from service.app import create_app
from service.ranking.registry import STRATEGIES
from tests.web.helpers import (
    BODY_KINDS,
    NPY_MEDIA_TYPE,
    RANK,
    SMALL_POOL,
    assert_problem,
    assert_ranked,
    npy_bytes,
    npy_header,
    send,
)

POOL = np.array(SMALL_POOL)
LOGITS = np.log(POOL)
DROP = object()  # marks a field left out of the request


@pytest.fixture
def app(request):
    """The app, with the configuration overrides a test passes indirectly."""
    return create_app({"TESTING": True, **getattr(request, "param", {})})


def case(case_id, status, field, says, arrays=None, **changes):
    """A bad request: a valid margin request over POOL with ``changes`` applied."""
    fields = {"strategy": "margin", "budget": 1, **changes}
    fields = {key: value for key, value in fields.items() if value is not DROP}
    arrays = {"probabilities": POOL} if arrays is None else arrays
    return pytest.param(arrays, fields, status, field, says, id=case_id)


# Bad requests that can be written in every body type.
EVERY_BODY_KIND = [
    case("missing-strategy", 422, "strategy", ("missing",), strategy=DROP),
    case("missing-budget", 422, "budget", ("missing",), budget=DROP),
    case("budget-ten", 422, "budget", ("integer",), budget="ten"),
    case("budget-2.5", 422, "budget", ("integer",), budget=2.5),
    case("budget-true", 422, "budget", ("integer",), budget=True),
    case("budget-0", 422, "budget", ("at least 1",), budget=0),
    case("budget-negative", 422, "budget", ("at least 1",), budget=-1),
    case("budget-above-pool", 422, "budget", ("budget 4", "3 pool rows"), budget=4),
    case(
        "budget-above-rows-left-after-exclude",
        422,
        "budget",
        ("budget 3", "2 pool rows", "1 excluded"),
        budget=3,
        exclude=[1],
    ),
    case(
        "unknown-strategy",
        422,
        "strategy",
        ("unknown strategy 'best_guess'", *STRATEGIES),
        strategy="best_guess",
    ),
    case("empty-pool", 422, "probabilities", ("empty",), {"probabilities": np.zeros((0, 2))}),
    case("1-d-array", 422, "probabilities", ("2-D", "1-D"), {"probabilities": POOL[0]}),
    case("3-d-array", 422, "probabilities", ("2-D", "3-D"), {"probabilities": POOL[None]}),
    case("one-class", 422, "probabilities", ("2 classes",), {"probabilities": np.ones((3, 1))}),
    case(
        "nan",
        422,
        "probabilities",
        ("row 1", "non-finite"),
        {"probabilities": np.array([[0.5, 0.5], [np.nan, 0.5]])},
    ),
    case(
        "inf",
        422,
        "probabilities",
        ("row 0", "non-finite"),
        {"probabilities": np.array([[np.inf, 0.5], [0.5, 0.5]])},
    ),
    case(
        "minus-inf-logits",
        422,
        "logits",
        ("row 1", "non-finite"),
        {"logits": np.array([[0.0, 1.0], [-np.inf, 0.0]])},
    ),
    case(
        "negative-probability",
        422,
        "probabilities",
        ("row 1, column 0", "-0.25", "outside [0, 1]"),
        {"probabilities": np.array([[0.5, 0.5], [-0.25, 1.25]])},
    ),
    case(
        "probability-above-1",
        422,
        "probabilities",
        ("row 0, column 1", "1.5", "outside [0, 1]"),
        {"probabilities": np.array([[0.0, 1.5], [0.5, 0.5]])},
    ),
    case(
        "rows-not-summing-to-1",
        422,
        "probabilities",
        ("row 1 sums to 0.7", "normalize"),
        {"probabilities": np.array([[0.5, 0.5], [0.3, 0.4]])},
    ),
    case("exclude-out-of-range", 422, "exclude", ("index 3", "outside the pool"), exclude=[3]),
    case("exclude-negative", 422, "exclude", ("index -1", "outside the pool"), exclude=[-1]),
    case("exclude-duplicated", 422, "exclude", ("index 1", "twice"), exclude=[1, 0, 1]),
    case("exclude-non-integer", 422, "exclude", ("integer",), exclude=[1.5]),
    case("exclude-abc", 422, "exclude", ("integer",), exclude=["abc"]),
    case("seed-negative", 422, "seed", ("greater than or equal to 0",), strategy="random", seed=-1),
    case("seed-fraction", 422, "seed", ("integer",), strategy="random", seed=1.5),
    case("seed-word", 422, "seed", ("integer",), strategy="random", seed="seven"),
    case(
        "unknown-param",
        422,
        "params.window",
        ("unknown",),
        params={"window": 3},
    ),
    case(
        "temperature-0",
        422,
        "params.temperature",
        ("greater than 0",),
        {"logits": LOGITS},
        params={"temperature": 0},
    ),
    case(
        "temperature-negative",
        422,
        "params.temperature",
        ("greater than 0",),
        {"logits": LOGITS},
        params={"temperature": -2},
    ),
    case(
        "temperature-not-a-number",
        422,
        "params.temperature",
        ("number",),
        {"logits": LOGITS},
        params={"temperature": "hot"},
    ),
    case(
        "temperature-with-probabilities",
        422,
        "params.temperature",
        ("unknown",),
        params={"temperature": 2},
    ),
    case(
        "normalize-with-logits",
        422,
        "normalize",
        ("normalize",),
        {"logits": LOGITS},
        normalize=True,
    ),
]


@pytest.mark.parametrize("kind", BODY_KINDS)
@pytest.mark.parametrize(("arrays", "fields", "status", "field", "says"), EVERY_BODY_KIND)
def test_bad_request_in_every_body_kind(client, kind, arrays, fields, status, field, says):
    response = send(client, kind, arrays, **fields)
    assert_problem(response, status, field, says=says)


@pytest.mark.parametrize("kind", BODY_KINDS)
def test_rows_refused_for_their_sum_are_accepted_with_normalize(client, kind):
    weights = np.array([[0.2, 0.6], [0.3, 0.4], [0.1, 0.1]])
    refused = send(client, kind, {"probabilities": weights}, strategy="margin", budget=3)
    assert_problem(refused, 422, "probabilities", says=("row 0 sums to 0.8", "normalize"))
    accepted = send(
        client, kind, {"probabilities": weights}, strategy="margin", budget=3, normalize=True
    )
    body = assert_ranked(accepted)
    assert body["indices"] == [2, 1, 0]
    assert body["scores"] == pytest.approx([1.0, 1 - 1 / 7, 0.5])


# application/json only: syntax, JSON types and the JSON literals NaN and 1e400.
def post_raw_json(client, body: bytes):
    return client.post(RANK, data=body, content_type="application/json")


@pytest.mark.parametrize(
    ("body", "status", "field", "says"),
    [
        pytest.param(b'{"strategy": "margin",', 400, "body", ("not valid JSON",), id="unparseable"),
        pytest.param(
            b"{'strategy': 'margin'}", 400, "body", ("not valid JSON",), id="single-quotes"
        ),
        pytest.param(b"", 400, "body", ("empty",), id="empty-body"),
        pytest.param(b" \r\n", 400, "body", ("empty",), id="whitespace-body"),
        pytest.param(b"[[0.5, 0.5]]", 422, "body", ("JSON object",), id="top-level-array"),
        pytest.param(b'"margin"', 422, "body", ("JSON object",), id="top-level-string"),
        pytest.param(b"null", 422, "body", ("JSON object",), id="top-level-null"),
        pytest.param(
            b'{"strategy": "margin", "budget": 1, "probabilities": [[NaN, 0.5], [0.5, 0.5]]}',
            422,
            "probabilities",
            ("row 0", "non-finite"),
            id="nan-literal",
        ),
        pytest.param(
            b'{"strategy": "margin", "budget": 1, "probabilities": [[0.5, 0.5], [1e400, 0]]}',
            422,
            "probabilities",
            ("row 1", "non-finite"),
            id="1e400",
        ),
        pytest.param(
            b'{"strategy": "margin", "budget": 1, "logits": [[-1e400, 0.5]]}',
            422,
            "logits",
            ("row 0", "non-finite"),
            id="minus-1e400",
        ),
        pytest.param(
            b'{"strategy": "margin", "budget": 1, "logits": [[Infinity, 0.5]]}',
            422,
            "logits",
            ("row 0", "non-finite"),
            id="infinity-literal",
        ),
    ],
)
def test_bad_json_body(client, body, status, field, says):
    assert_problem(post_raw_json(client, body), status, field, says=says)


def json_case(case_id, field, says, **changes):
    document = {"strategy": "margin", "budget": 1, "probabilities": SMALL_POOL, **changes}
    document = {key: value for key, value in document.items() if value is not DROP}
    return pytest.param(document, field, says, id=case_id)


@pytest.mark.parametrize(
    ("document", "field", "says"),
    [
        json_case("unknown-top-level-field", "strategies", ("unknown",), strategies=["margin"]),
        json_case("input-is-not-a-json-field", "input", ("unknown",), input="logits"),
        json_case(
            "ragged-rows",
            "probabilities",
            ("ragged", "row 1"),
            probabilities=[[0.5, 0.5], [1.0]],
        ),
        json_case(
            "row-is-a-number",
            "probabilities",
            ("ragged", "row 1"),
            probabilities=[[0.5, 0.5], 1.0],
        ),
        json_case("pool-is-a-string", "probabilities", ("array",), probabilities="0.5,0.5"),
        json_case("strings-in-pool", "probabilities", ("numbers",), probabilities=[["a", "b"]]),
        json_case("null-in-pool", "probabilities", ("numbers",), probabilities=[[0.5, None]]),
        json_case(
            "booleans-pool", "probabilities", ("numbers",), probabilities=[[True, False]] * 3
        ),
        json_case(
            "boolean-among-numbers",
            "probabilities",
            ("numbers",),
            probabilities=[[True, 0.0], [0.5, 0.5]],
        ),
        json_case("both-probabilities-and-logits", "logits", ("exactly one",), logits=SMALL_POOL),
        json_case(
            "neither-probabilities-nor-logits",
            "probabilities",
            ("no input array", "probabilities, logits"),
            probabilities=DROP,
        ),
        json_case("budget-as-string-number", "budget", ("integer",), budget="1"),
        json_case("seed-as-string-number", "seed", ("integer",), strategy="random", seed="7"),
        json_case(
            "seed-above-64-bits",
            "seed",
            ("18446744073709551615",),
            strategy="random",
            seed=2**64,
        ),
        json_case("exclude-not-a-list", "exclude", ("list",), exclude=1),
        json_case("exclude-booleans", "exclude", ("integer",), exclude=[True]),
        json_case("exclude-nested", "exclude", ("integer",), exclude=[[0]]),
        json_case("params-not-an-object", "params", ("mapping",), params=[2]),
        json_case("normalize-not-a-boolean", "normalize", ("boolean",), normalize="yes"),
        json_case("strategy-not-a-string", "strategy", ("string",), strategy=7),
        json_case(
            "selection-unknown-method", "selection.method", ("top",), selection={"method": "best"}
        ),
    ],
)
def test_bad_json_field(client, document, field, says):
    assert_problem(client.post(RANK, json=document), 422, field, says=says)


@pytest.mark.parametrize(
    ("query", "place"),
    [
        ({"temperature": "0"}, "params.temperature"),
        ({"budget": "2"}, "as budget"),
        ({"selection": "power"}, "selection.method"),
        ({"beta": "2"}, "selection.beta"),
        ({"input": "logits"}, "own field"),
    ],
)
def test_query_parameters_beside_a_json_body_are_refused(client, query, place):
    """A JSON body carries the whole request: a query parameter is never silently dropped."""
    document = {"strategy": "margin", "budget": 1, "probabilities": SMALL_POOL}
    (name,) = query
    body = assert_problem(
        client.post(RANK, json=document, query_string=query), 422, name, says=("query",)
    )
    assert place in body["errors"][name][0]


def test_every_query_parameter_beside_a_json_body_is_named(client):
    document = {"strategy": "margin", "budget": 1, "probabilities": SMALL_POOL}
    response = client.post(RANK, json=document, query_string={"seed": "1", "layout": "NTC"})
    body = assert_problem(response, 422, "seed")
    assert sorted(body["errors"]) == ["layout", "seed"]
    assert "params.layout" in body["errors"]["layout"][0]


# application/x-npy and multipart/form-data: the .npy bytes themselves.
def post_npy_bytes(client, kind: str, data: bytes):
    fields = {"strategy": "margin", "budget": "1"}
    if kind == "npy":
        return client.post(RANK, query_string=fields, data=data, content_type=NPY_MEDIA_TYPE)
    form = {**fields, "probabilities": (io.BytesIO(data), "pool.npy")}
    return client.post(RANK, data=form, content_type="multipart/form-data")


def raw_header(text: str) -> bytes:
    """A version 1.0 .npy magic string and length around an arbitrary header text."""
    encoded = text.encode("latin1")
    encoded += b" " * (63 - (10 + len(encoded)) % 64) + b"\n"
    return b"\x93NUMPY\x01\x00" + len(encoded).to_bytes(2, "little") + encoded


GOOD_NPY = npy_bytes(POOL)


@pytest.mark.parametrize("kind", ["npy", "multipart"])
@pytest.mark.parametrize(
    ("data", "status", "says"),
    [
        pytest.param(GOOD_NPY[:-5], 400, ("truncated", "[3, 2]"), id="truncated-data"),
        pytest.param(GOOD_NPY[:30], 400, ("not a valid .npy",), id="truncated-header"),
        pytest.param(GOOD_NPY + b"\0" * 8, 400, ("longer than its header",), id="trailing-bytes"),
        pytest.param(b"", 400, ("not a valid .npy",), id="empty-body"),
        pytest.param(b"PK\x03\x04 a zip, not a .npy", 400, ("not a valid .npy",), id="bad-magic"),
        pytest.param(
            raw_header("{'descr': '<f8', 'fortran_order': False, 'shape': (3, 2)") + GOOD_NPY[128:],
            400,
            ("not a valid .npy",),
            id="unterminated-header",
        ),
        pytest.param(
            raw_header("{'descr': '<f8', 'fortran_order': False}") + GOOD_NPY[128:],
            400,
            ("not a valid .npy",),
            id="header-without-shape",
        ),
        pytest.param(raw_header("[3, 2]"), 400, ("not a valid .npy",), id="header-not-a-dict"),
        pytest.param(
            raw_header("{'descr': 'no-such-type', 'fortran_order': False, 'shape': (3, 2)}"),
            400,
            ("not a valid .npy",),
            id="header-bad-dtype",
        ),
        pytest.param(
            npy_bytes(np.array([[0.5, None], [0.5, 0.5]], dtype=object), allow_pickle=True),
            422,
            ("object", "pickle"),
            id="object-dtype",
        ),
        pytest.param(npy_bytes(POOL > 0.5), 422, ("dtype", "b1"), id="bool-dtype"),
        pytest.param(npy_bytes(POOL.astype(complex)), 422, ("dtype", "c16"), id="complex-dtype"),
        pytest.param(npy_bytes(POOL.astype(str)), 422, ("dtype",), id="string-dtype"),
        pytest.param(
            npy_bytes(np.zeros(3, dtype=[("p", "<f8"), ("q", "<f8")])),
            422,
            ("dtype",),
            id="structured-dtype",
        ),
        pytest.param(npy_bytes(np.float64(0.5)), 422, ("2-D", "0-D"), id="scalar-array"),
    ],
)
def test_bad_npy(client, kind, data, status, says):
    assert_problem(post_npy_bytes(client, kind, data), status, "probabilities", says=says)


@pytest.mark.parametrize(
    ("query", "field", "says"),
    [
        pytest.param(
            "exclude=3,abc,5", "exclude", ("comma-separated integers", "abc"), id="exclude-abc"
        ),
        pytest.param(
            "exclude=1;2", "exclude", ("comma-separated integers",), id="exclude-semicolon"
        ),
        pytest.param("input=weights", "input", ("probabilities", "logits"), id="unknown-input"),
        pytest.param(
            "return_all_scores=maybe", "return_all_scores", ("boolean",), id="bad-boolean"
        ),
    ],
)
def test_bad_npy_query_string(client, query, field, says):
    response = client.post(
        f"{RANK}?strategy=margin&budget=1&{query}", data=GOOD_NPY, content_type=NPY_MEDIA_TYPE
    )
    assert_problem(response, 422, field, says=says)


def test_multipart_unknown_file_part(client):
    response = client.post(
        RANK,
        data={"strategy": "margin", "budget": "1", "probs": (io.BytesIO(GOOD_NPY), "probs.npy")},
        content_type="multipart/form-data",
    )
    assert_problem(response, 422, "probs", says=("unknown file part 'probs'", "probabilities"))


@pytest.mark.parametrize(
    ("parts", "field", "says"),
    [
        pytest.param({}, "probabilities", ("no input array",), id="neither"),
        pytest.param(
            {"probabilities": GOOD_NPY, "logits": GOOD_NPY},
            "logits",
            ("exactly one",),
            id="both",
        ),
    ],
)
def test_multipart_needs_exactly_one_input(client, parts, field, says):
    form = {name: (io.BytesIO(data), f"{name}.npy") for name, data in parts.items()}
    response = client.post(
        RANK,
        data={"strategy": "margin", "budget": "1", **form},
        content_type="multipart/form-data",
    )
    assert_problem(response, 422, field, says=says)


# Content types.
@pytest.mark.parametrize(
    ("content_type", "data", "named"),
    [
        pytest.param("text/plain", b"margin 1 0.5 0.5", "text/plain", id="text-plain"),
        pytest.param(
            "application/x-www-form-urlencoded",
            GOOD_NPY,
            "application/x-www-form-urlencoded",
            id="npy-as-curl-default-form-urlencoded",
        ),
        pytest.param("application/octet-stream", GOOD_NPY, "application/octet-stream", id="octet"),
        pytest.param(None, GOOD_NPY, "no content type", id="no-content-type"),
    ],
)
def test_unsupported_content_type(client, content_type, data, named):
    headers = {} if content_type is None else {"Content-Type": content_type}
    response = client.post(f"{RANK}?strategy=margin&budget=1", data=data, headers=headers)
    body = assert_problem(response, 415, says=(named, NPY_MEDIA_TYPE, "application/json"))
    assert body["title"] == "Unsupported Media Type"


# Size limits: 413, before the array is allocated.
@pytest.mark.parametrize("kind", BODY_KINDS)
@pytest.mark.parametrize(
    ("app", "says"),
    [
        pytest.param({"MAX_ROWS": 2}, ("3", "rows", "limit is 2"), id="max-rows"),
        pytest.param({"MAX_ELEMENTS": 5}, ("6 elements", "limit is 5"), id="max-elements"),
    ],
    indirect=["app"],
)
def test_array_larger_than_the_configured_limit(client, kind, says):
    response = send(client, kind, {"probabilities": POOL}, strategy="margin", budget=1)
    body = assert_problem(response, 413, "probabilities", says=says)
    assert body["title"] == "Content Too Large"


@pytest.mark.parametrize("kind", ["npy", "multipart"])
@pytest.mark.parametrize(
    ("app", "shape", "says"),
    [
        pytest.param({}, (10**12, 2), ("declared", "limit"), id="default-limits"),
        pytest.param({"MAX_ROWS": 100}, (1000, 2), ("1000", "rows", "limit is 100"), id="max-rows"),
        pytest.param(
            {"MAX_ELEMENTS": 10**6}, (2, 10**7), ("20000000", "limit is 1000000"), id="max-elements"
        ),
    ],
    indirect=["app"],
)
def test_npy_header_declaring_a_huge_shape_is_refused_before_reading(client, kind, shape, says):
    # Only the header is sent: the refusal must come before the missing data is noticed.
    response = post_npy_bytes(client, kind, npy_header(shape))
    assert_problem(response, 413, "probabilities", says=says)


@pytest.mark.parametrize("app", [{"MAX_JSON_BYTES": 64}], indirect=True, ids=["limit-64"])
def test_json_body_larger_than_max_json_bytes(client):
    response = send(client, "json", {"probabilities": POOL}, strategy="margin", budget=1)
    assert response.request.content_length > 64
    assert_problem(response, 413, "body", says=("64",))
    # The limit applies to JSON bodies only: the same pool as .npy is ranked.
    assert_ranked(send(client, "npy", {"probabilities": POOL}, strategy="margin", budget=1))


@pytest.mark.parametrize("kind", ["npy", "multipart"])
@pytest.mark.parametrize("app", [{"MAX_NPY_BYTES": 100}], indirect=True, ids=["limit-100"])
def test_npy_body_larger_than_max_npy_bytes(client, kind):
    response = send(client, kind, {"probabilities": POOL}, strategy="margin", budget=1)
    assert_problem(response, 413, ("body", "probabilities"), says=("100",))
