import math

import numpy as np
import pytest

from service.errors import InvalidInput
from service.jobs.planner import check_budget, check_exclude
from service.ranking.checks import (
    PROBABILITY_ATOL,
    check_finite,
    check_log_pass_columns,
    check_log_probabilities,
    check_pass_columns,
    check_probability_columns,
    check_shape,
    normalize_columns,
    normalize_pass_columns,
    normalize_rows,
)
from service.ranking.rowops import columns, pass_columns

ATOL = PROBABILITY_ATOL


def check_rows(probs, **options):
    """check_probability_columns on probability rows (m, c), laid out by columns."""
    check_probability_columns(columns(probs), probs, **options)


def pool_with(bad_row, at=2, n=4):
    """A valid pool of uniform rows with ``bad_row`` at row ``at``."""
    probs = np.full((n, len(bad_row)), 1 / len(bad_row))
    probs[at] = bad_row
    return probs


@pytest.mark.parametrize(
    ("row", "message"),
    [
        pytest.param([math.nan, 0.5, 0.5], "row 2 holds a non-finite value", id="nan"),
        pytest.param([math.inf, 0.0, 0.0], "row 2 holds a non-finite value", id="plus-inf"),
        pytest.param([-math.inf, 0.5, 0.5], "row 2 holds a non-finite value", id="minus-inf"),
        pytest.param([-0.1, 0.6, 0.5], "row 2, column 0: probability -0.1", id="negative"),
        pytest.param([0.0, 1.2, -0.2], "row 2, column 1: probability 1.2", id="above-one"),
        pytest.param([0.5, 0.3, 0.1], "row 2 sums to 0.9", id="sum-too-low"),
        pytest.param([0.5, 0.3, 0.3], "row 2 sums to 1.1", id="sum-too-high"),
    ],
)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_bad_probabilities_name_the_field_and_the_row(row, message, dtype):
    with pytest.raises(InvalidInput) as caught:
        check_rows(pool_with(row).astype(dtype), name="probabilities")
    assert caught.value.field == "probabilities"
    assert message in caught.value.detail


@pytest.mark.parametrize("excess", [0.9 * ATOL, -0.9 * ATOL])
def test_row_sums_within_the_tolerance_pass(excess):
    check_rows(pool_with([0.5, 0.5 + excess]), name="probabilities")


@pytest.mark.parametrize("excess", [1.1 * ATOL, -1.1 * ATOL])
def test_row_sums_beyond_the_tolerance_fail(excess):
    with pytest.raises(InvalidInput, match="row 2 sums to"):
        check_rows(pool_with([0.5, 0.5 + excess]), name="probabilities")


def test_messages_give_the_pool_row_of_a_later_chunk():
    with pytest.raises(InvalidInput, match=r"row 102 sums to 0\.9"):
        check_rows(pool_with([0.5, 0.4]), name="probabilities", row_offset=100)


def test_messages_name_the_item_and_the_pass_of_samples():
    samples = np.full((4, 3, 2), 0.5)
    samples[2, 1] = [0.5, math.nan]
    with pytest.raises(InvalidInput, match="row 12, pass 1 holds a non-finite") as caught:
        check_pass_columns(pass_columns(samples), name="samples", row_offset=10)
    assert caught.value.field == "samples"


def test_valid_probabilities_pass():
    check_rows(np.array([[1.0, 0.0], [0.25, 0.75]]), name="probabilities")


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
def test_check_finite_rejects_nan_and_infinities(value):
    logits = np.zeros((5, 3))
    logits[3, 1] = value
    with pytest.raises(InvalidInput, match="row 3 holds a non-finite") as caught:
        check_finite(logits, name="logits")
    assert caught.value.field == "logits"


def test_log_probabilities_allow_minus_inf_and_reject_nan_and_positive_values():
    check_log_probabilities(np.array([[0.0, -math.inf], [-0.7, -0.7]]), name="samples")
    for value in (math.nan, math.inf, 0.5):
        logs = np.full((3, 2), math.log(0.5))
        logs[1, 1] = value
        with pytest.raises(InvalidInput, match="row 1, column 1") as caught:
            check_log_probabilities(logs, name="samples")
        assert caught.value.field == "samples"


@pytest.mark.parametrize(
    ("shape", "axes", "message"),
    [
        pytest.param((5,), "NC", "expected a 2-D array", id="1-d"),
        pytest.param((2, 3, 4), "NC", "expected a 2-D array", id="3-d"),
        pytest.param((5, 1), "NC", "at least 2 classes, got 1", id="one-class"),
        pytest.param((0, 3), "NC", "the pool is empty", id="empty-pool"),
        pytest.param((4, 1, 3), "NTC", "at least 2 passes", id="one-pass"),
        pytest.param((4, 3), "NTC", "expected a 3-D array", id="samples-2-d"),
    ],
)
def test_bad_shapes_are_refused(shape, axes, message):
    with pytest.raises(InvalidInput, match=message) as caught:
        check_shape(shape, name="probabilities", axes=axes)
    assert caught.value.field == "probabilities"


def test_good_shapes_pass():
    check_shape((1, 2), name="probabilities", axes="NC")
    check_shape((3, 2, 5), name="samples", axes="NTC")


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_normalize_rows_rescales_each_row_to_sum_one(dtype):
    weights = np.array([[2.0, 2.0], [1.0, 3.0], [0.0, 5.0]], dtype=dtype)
    out = normalize_rows(weights, name="probabilities")
    assert out.dtype == dtype
    assert out.tolist() == [[0.5, 0.5], [0.25, 0.75], [0.0, 1.0]]


@pytest.mark.parametrize(
    ("row", "message"),
    [
        pytest.param([0.0, 0.0], "row 1 sums to 0 and cannot be normalized", id="zero-row"),
        pytest.param([-1.0, 2.0], "row 1 holds a negative value", id="negative"),
        pytest.param([math.nan, 1.0], "row 1 holds a non-finite value", id="nan"),
        pytest.param([math.inf, 1.0], "row 1 holds a non-finite value", id="inf"),
    ],
)
def test_normalize_rows_refuses_rows_it_cannot_rescale(row, message):
    weights = np.array([[1.0, 1.0], row, [1.0, 2.0]])
    with pytest.raises(InvalidInput, match=message) as caught:
        normalize_rows(weights, name="probabilities")
    assert caught.value.field == "probabilities"


def test_check_exclude_returns_sorted_int64_indices():
    out = check_exclude(np.array([4, 0, 2], dtype=np.int32), pool_size=5)
    assert out.dtype == np.int64
    assert out.tolist() == [0, 2, 4]
    assert check_exclude(np.empty(0), pool_size=5).tolist() == []


@pytest.mark.parametrize(
    ("exclude", "message"),
    [
        pytest.param([1, 5], "index 5 is outside the pool of 5 rows", id="too-high"),
        pytest.param([-1, 2], "index -1 is outside the pool of 5 rows", id="negative"),
        pytest.param([1, 3, 1], "index 1 is listed twice", id="duplicate"),
        pytest.param([1.0, 2.0], "expected integer pool indices", id="floats"),
        pytest.param([True], "expected integer pool indices", id="booleans"),
        pytest.param([[1, 2]], "expected a flat list", id="nested"),
    ],
)
def test_bad_exclusions_are_refused(exclude, message):
    with pytest.raises(InvalidInput, match=message) as caught:
        check_exclude(np.array(exclude), pool_size=5)
    assert caught.value.field == "exclude"


@pytest.mark.parametrize(
    ("budget", "n_excluded", "message"),
    [
        pytest.param(0, 0, "budget must be at least 1, got 0", id="zero"),
        pytest.param(-3, 0, "budget must be at least 1, got -3", id="negative"),
        pytest.param(6, 0, "budget 6 exceeds the 5 pool rows available", id="above-pool"),
        pytest.param(4, 2, "budget 4 exceeds the 3 pool rows available", id="above-left"),
    ],
)
def test_bad_budgets_are_refused(budget, n_excluded, message):
    with pytest.raises(InvalidInput, match=message) as caught:
        check_budget(budget, pool_size=5, n_excluded=n_excluded)
    assert caught.value.field == "budget"


def test_a_budget_equal_to_the_rows_left_passes():
    check_budget(3, pool_size=5, n_excluded=2)
    check_budget(1, pool_size=1, n_excluded=0)


# The column checks' verdicts, worked out by hand: the field, and the exact
# message naming the first bad row (``where``) of a chunk in the dtype sent.


def non_finite(where, dtype):
    return f"{where} holds a non-finite value (NaN or +-Inf)"


def outside(column, value):
    def message(where, dtype):
        shown = float(dtype(value))  # the value as sent, in the chunk's dtype
        return f"{where}, column {column}: probability {shown!r} is outside [0, 1]"

    return message


def sums_to(total):
    def message(where, dtype):
        return (
            f"{where} sums to {total}, expected 1 within 0.001; send normalize=true to rescale rows"
        )

    return message


def passes(where, dtype):
    return None


BAD_ROWS = [
    pytest.param([math.nan, 0.5, 0.5], non_finite, id="nan"),
    pytest.param([math.inf, 0.0, 0.0], non_finite, id="plus-inf"),
    pytest.param([-math.inf, 0.5, 0.5], non_finite, id="minus-inf"),
    pytest.param([-0.1, 0.6, 0.5], outside(0, -0.1), id="negative"),
    pytest.param([0.0, 1.2, -0.2], outside(1, 1.2), id="above-one-before-a-negative"),
    pytest.param([0.5, 0.3, 0.1], sums_to("0.9"), id="sum-too-low"),
    pytest.param([0.5, 0.3, 0.3], sums_to("1.1"), id="sum-too-high"),
    # Finite in float32, but their sum is past its range: outside [0, 1] first.
    pytest.param([3e38, 3e38, 0.0], outside(0, 3e38), id="sum-past-float32-range"),
    pytest.param([-0.0, 0.5, 0.5], passes, id="minus-zero-is-probability-zero"),
    pytest.param([0.5, 0.5, 0.0], passes, id="valid"),
]


def verdict(check, *args, **kwargs):
    """None if ``check`` passes, else the field and detail it raised."""
    try:
        check(*args, **kwargs)
    except InvalidInput as error:
        return error.field, error.detail
    return None


def expected_verdict(message, field, where, dtype):
    detail = message(where, dtype)
    return None if detail is None else (field, detail)


@pytest.mark.parametrize(("row", "message"), BAD_ROWS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_column_checks_give_the_worked_out_verdict(row, message, dtype):
    probs = pool_with(row).astype(dtype)
    got = verdict(
        check_probability_columns, columns(probs), probs, name="probabilities", row_offset=7
    )
    assert got == expected_verdict(message, "probabilities", "row 9", dtype)
    normalized = verdict(normalize_rows, probs, name="probabilities", row_offset=7)
    assert (
        verdict(normalize_columns, columns(probs), probs, name="probabilities", row_offset=7)
        == normalized
    )


@pytest.mark.parametrize(("row", "message"), BAD_ROWS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_pass_column_checks_give_the_worked_out_verdict(row, message, dtype):
    samples = np.full((4, 3, 3), 1 / 3, dtype=dtype)
    samples[2, 1] = row
    rows = samples.reshape(12, 3)
    cols = pass_columns(samples)
    expected = expected_verdict(message, "samples", "row 12, pass 1", dtype)
    assert verdict(check_pass_columns, cols, name="samples", row_offset=10) == expected
    expected = verdict(normalize_rows, rows, name="samples", row_offset=10, passes=3)
    assert verdict(normalize_pass_columns, cols, name="samples", row_offset=10) == expected


@pytest.mark.parametrize("value", [math.nan, math.inf, 0.5, -math.inf])
def test_log_pass_column_checks_give_the_row_checks_verdict(value):
    logs = np.full((3, 2, 2), math.log(0.5))
    logs[1, 1, 0] = value
    expected = verdict(check_log_probabilities, logs.reshape(6, 2), name="samples", passes=2)
    got = verdict(check_log_pass_columns, pass_columns(logs), name="samples")
    assert got == expected


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_normalized_columns_are_the_normalized_rows_laid_out_by_columns(dtype):
    weights = np.random.default_rng(1).random((9, 5)).astype(dtype)
    expected = normalize_rows(weights, name="probabilities")
    cols = columns(weights)
    out = normalize_columns(cols, weights, name="probabilities")
    assert out is cols
    np.testing.assert_array_equal(out, columns(expected))
    samples = weights.reshape(3, 3, 5)
    out = normalize_pass_columns(pass_columns(samples), name="samples")
    np.testing.assert_array_equal(out, pass_columns(expected.reshape(3, 3, 5)))


def test_column_checks_accept_rows_summing_to_one_within_the_tolerance():
    probs = pool_with([0.5, 0.5 + 0.9 * ATOL])
    check_probability_columns(columns(probs), probs, name="probabilities")
    samples = np.stack([probs, probs], axis=1)
    check_pass_columns(pass_columns(samples), name="samples")
