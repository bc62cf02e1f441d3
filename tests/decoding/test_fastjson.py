"""The simdjson fast path accepts only what the exact path would decode alike."""

from __future__ import annotations

import json

import numpy as np
import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from service.decoding.fastjson import parse_with_arrays

ARRAYS = ("probabilities", "samples", "embeddings")


def exact(body: bytes) -> tuple[dict, dict]:
    """The slow, obvious decoding the fast path must agree with."""
    document = json.loads(body)
    arrays = {
        name: np.array(document.pop(name), dtype=np.float64) for name in ARRAYS if name in document
    }
    return document, arrays


@pytest.mark.parametrize("shape", [(1, 2), (5, 3), (4, 3, 2), (2, 1, 7)])
def test_dense_arrays_decode_bit_for_bit(shape):
    values = np.random.default_rng(0).standard_normal(shape) * 10.0 ** np.arange(shape[-1])
    body = orjson.dumps(
        {"strategy": "margin", "budget": 1, "probabilities": values.tolist(), "exclude": [1]}
    )
    fields, arrays = parse_with_arrays(body, ARRAYS)
    np.testing.assert_array_equal(arrays["probabilities"], values)
    assert arrays["probabilities"].dtype == np.float64
    assert fields == {"strategy": "margin", "budget": 1, "exclude": [1]}


@pytest.mark.parametrize(
    "pool",
    [
        "[[1, true], [0, 1]]",
        "[[1, null], [0, 1]]",
        '[[1, "0"], [0, 1]]',
        "[[1, 0], [0]]",
        "[[1, 2], [3, [4]]]",
        "[[1, 2], [3, [4]], [5]]",
        "[1, [3, 4]]",
        "[[1, {}], [0, 1]]",
        "[[], []]",
        "[]",
        '"not an array"',
        "[[1, NaN], [0, 1]]",
        "[[1, 1e400], [0, 1]]",
    ],
)
def test_anything_not_a_dense_numeric_array_goes_to_the_exact_path(pool):
    body = f'{{"strategy": "margin", "budget": 1, "probabilities": {pool}}}'.encode()
    assert parse_with_arrays(body, ARRAYS) is None


def test_an_escaped_bracket_elsewhere_cannot_hide_a_nested_list():
    body = b'{"strategy": "\\u005b", "budget": 1, "probabilities": [[1, 2], [3, [4]]]}'
    assert parse_with_arrays(body, ARRAYS) is None


def test_brackets_inside_strings_are_accounted_for():
    body = b'{"strategy": "[x]", "params": {"layout": "\\u005bNTC"}, "probabilities": [[1, 0]]}'
    fields, arrays = parse_with_arrays(body, ARRAYS)
    assert fields["params"] == {"layout": "[NTC"}
    np.testing.assert_array_equal(arrays["probabilities"], [[1.0, 0.0]])


def test_a_top_level_array_goes_to_the_exact_path():
    assert parse_with_arrays(b"[[1, 2]]", ARRAYS) is None


numbers = st.one_of(st.integers(-(2**53), 2**53), st.floats(allow_nan=False, allow_infinity=False))
leaves = st.one_of(numbers, st.booleans(), st.none(), st.text(max_size=3))
nested = st.recursive(leaves, lambda inner: st.lists(inner, max_size=4), max_leaves=20)


@given(pool=nested, other=st.dictionaries(st.text(max_size=4), nested, max_size=3))
def test_whatever_the_fast_path_accepts_equals_the_exact_decoding(pool, other):
    document = {key: value for key, value in other.items() if key not in ARRAYS}
    document["probabilities"] = pool
    body = json.dumps(document).encode()
    parsed = parse_with_arrays(body, ARRAYS)
    if parsed is None:
        return
    fields, arrays = parsed
    expected_fields, expected_arrays = exact(body)
    assert fields == expected_fields
    np.testing.assert_array_equal(arrays["probabilities"], expected_arrays["probabilities"])
    assert arrays["probabilities"].shape == expected_arrays["probabilities"].shape


dense = st.integers(1, 3).flatmap(
    lambda ndim: st.lists(st.integers(1, 4), min_size=ndim, max_size=ndim).flatmap(
        lambda shape: st.lists(
            numbers, min_size=int(np.prod(shape)), max_size=int(np.prod(shape))
        ).map(lambda flat: np.array(flat, dtype=np.float64).reshape(shape))
    )
)


@given(array=dense)
def test_every_dense_numeric_array_takes_the_fast_path(array):
    body = orjson.dumps({"strategy": "margin", "probabilities": array.tolist()})
    parsed = parse_with_arrays(body, ARRAYS)
    assert parsed is not None
    np.testing.assert_array_equal(parsed[1]["probabilities"], array)
