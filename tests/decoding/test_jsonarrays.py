import numpy as np
import pytest

from service.decoding.jsonarrays import (
    array_from_json,
    integers_from_json,
    may_hold_array_booleans,
)
from service.decoding.limits import ArrayLimits
from service.errors import InvalidInput, PayloadTooLarge

LIMITS = ArrayLimits(max_elements=1000)


def decode(value, **kwargs):
    return array_from_json(value, name="probabilities", limits=LIMITS, **kwargs)


def test_numbers_become_a_float64_array():
    out = decode([[0.25, 0.75], [1, 0]])
    assert out.dtype == np.float64
    assert out.tolist() == [[0.25, 0.75], [1.0, 0.0]]


def test_integers_become_float64():
    out = decode([[1, 2], [3, 2**53]])
    assert out.dtype == np.float64
    assert out.tolist() == [[1.0, 2.0], [3.0, float(2**53)]]


def test_nested_rows_keep_their_shape():
    assert decode([[[0.5, 0.5], [1, 0]]]).shape == (1, 2, 2)


@pytest.mark.parametrize(
    ("value", "got"),
    [
        pytest.param({"rows": []}, "got an object", id="object"),
        pytest.param("[[0.5, 0.5]]", "got a string", id="string"),
        pytest.param(0.5, "got a number", id="number"),
        pytest.param(None, "got null", id="null"),
        pytest.param(True, "got a boolean", id="boolean"),
    ],
)
def test_a_non_list_is_refused(value, got):
    with pytest.raises(InvalidInput, match=got) as caught:
        decode(value)
    assert caught.value.field == "probabilities"


def test_an_empty_list_is_an_empty_pool():
    with pytest.raises(InvalidInput, match="the pool is empty") as caught:
        decode([])
    assert caught.value.field == "probabilities"


@pytest.mark.parametrize(
    ("value", "message"),
    [
        pytest.param([[1, 2], [3]], "row 0 has 2 entries, row 1 has 1 entries", id="short-row"),
        pytest.param([[1, 2], [3, 4], [5, 6, 7]], "row 2 has 3 entries", id="long-row"),
        pytest.param([[1, 2], 3], "row 1 has a single value", id="scalar-row"),
        pytest.param([[[1, 2], [3, 4]], [[1, 2], [3]]], "ragged rows", id="nested"),
    ],
)
def test_ragged_rows_are_refused_naming_the_row(value, message):
    with pytest.raises(InvalidInput, match=message) as caught:
        decode(value)
    assert caught.value.field == "probabilities"


@pytest.mark.parametrize(
    "value",
    [
        pytest.param([["0.5", "0.5"]], id="strings"),
        pytest.param([[0.5, "0.5"]], id="number-and-string"),
        pytest.param([[0.5, None]], id="null"),
        pytest.param([[None, None]], id="nulls"),
        pytest.param([[True, False]], id="booleans"),
        pytest.param([[0.5, True]], id="number-and-boolean"),
        pytest.param([[1, 0], [0, False]], id="integer-and-boolean"),
        pytest.param([[{"p": 0.5}, 0.5]], id="object-in-row"),
        pytest.param([{"p": 0.5}], id="object-as-row"),
        pytest.param([[2**70, 1]], id="integer-beyond-64-bits"),
    ],
)
def test_anything_but_numbers_is_refused(value):
    with pytest.raises(InvalidInput, match="expected numbers") as caught:
        decode(value)
    assert caught.value.field == "probabilities"


@pytest.mark.parametrize("depth", [70, 1000])
def test_nesting_deeper_than_an_array_can_hold_is_refused(depth):
    value = 1.0
    for _ in range(depth):
        value = [value]
    with pytest.raises(InvalidInput) as caught:
        decode(value)
    assert caught.value.field == "probabilities"


def test_an_array_over_the_limit_is_too_large():
    with pytest.raises(PayloadTooLarge) as caught:
        decode([[0.5, 0.5]] * 501)
    assert caught.value.field == "probabilities"
    assert decode([[0.5, 0.5]] * 500).shape == (500, 2)


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b'{"probabilities": [[0.5, 0.5]], "return_all_scores": true}', False),
        (b'{"normalize": false, "probabilities": [[1, 0]]}', False),
        (b'{"strategy": "true", "budget": 1}', False),
        (b'{"probabilities": [[0.5, true]]}', True),
        (b'{"probabilities": [[false, 1]]}', True),
        (b'{"probabilities": [[0.5,\n   true]]}', True),
        (b'{"probabilities": [[1,' + b" " * 100 + b"false]]}", True),
    ],
)
def test_may_hold_array_booleans_spots_booleans_in_arrays(body, expected):
    assert may_hold_array_booleans(body) is expected


def test_integers_from_json_gives_int64():
    out = integers_from_json([3, 0, 2**62], name="exclude")
    assert out.dtype == np.int64
    assert out.tolist() == [3, 0, 2**62]
    assert integers_from_json([], name="exclude").dtype == np.int64


def test_integers_from_json_reads_a_zero_fraction_as_an_integer():
    """As JSON Schema does: 3.0 is the integer 3."""
    out = integers_from_json([3.0, 1, 2.0**62], name="exclude")
    assert out.dtype == np.int64
    assert out.tolist() == [3, 1, 2**62]


@pytest.mark.parametrize(
    ("value", "message"),
    [
        pytest.param({"0": 1}, "expected a list of integers, got an object", id="object"),
        pytest.param(3, "expected a list of integers, got a number", id="number"),
        pytest.param([1, 2.5], "expected integers, got a number 2.5", id="fraction"),
        pytest.param([True], "expected integers, got a boolean True", id="boolean"),
        pytest.param(["1"], "expected integers, got a string '1'", id="string"),
        pytest.param([None], "expected integers, got null", id="null"),
        pytest.param([2**64], "does not fit in 64 bits", id="huge"),
        pytest.param([1.8446744073709552e19], "does not fit in 64 bits", id="huge-as-float"),
    ],
)
def test_integers_from_json_refuses_anything_else(value, message):
    with pytest.raises(InvalidInput, match=message) as caught:
        integers_from_json(value, name="exclude")
    assert caught.value.field == "exclude"
