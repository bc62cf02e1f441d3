"""Inference memory by hand: fitting a footprint, sizing runs, its JSON, onnxruntime's messages."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from service.models.memory import (
    RUN_SHARE,
    MemoryFootprint,
    fit_footprint,
    is_memory_error,
    is_over_cap,
    mib,
    register_arena,
)
from service.models.sessions import ORT_ERRORS, create_session
from tests.models import builders

# fit_footprint


def test_an_affine_set_of_peaks_is_fitted_exactly():
    # 1000 bytes fixed, 100 per row: 1100, 1800, 7400.
    assert fit_footprint({1: 1100, 8: 1800, 64: 7400}) == MemoryFootprint(100, 1000, (1, 8, 64))


def test_the_sizes_are_sorted_whatever_order_they_come_in():
    assert fit_footprint({64: 7400, 1: 1100, 8: 1800}).measured_rows == (1, 8, 64)


def test_the_slope_comes_from_the_two_largest_sizes():
    # The one-row peak (a first run's one-time costs) does not move the fit.
    assert fit_footprint({1: 50_000, 8: 1800, 64: 7400}) == MemoryFootprint(100, 1000, (1, 8, 64))


def test_one_size_alone_is_all_per_row_cost_rounded_up():
    # 1001 / 8 = 125.125 bytes per row, rounded up to 126; nothing fixed.
    assert fit_footprint({8: 1001}) == MemoryFootprint(126, 0, (8,))
    assert fit_footprint({4: 1000}) == MemoryFootprint(250, 0, (4,))


def test_a_negative_fixed_part_is_clamped_to_zero():
    # Slope (7800 - 800) / 56 = 125; 7800 - 125 * 64 = -200, clamped to 0.
    assert fit_footprint({8: 800, 64: 7800}) == MemoryFootprint(125, 0, (8, 64))


def test_a_non_integer_slope_rounds_up():
    # Slope (1100 - 1000) / 56 = 1.79 -> 2; fixed 1100 - 2 * 64 = 972.
    assert fit_footprint({8: 1000, 64: 1100}) == MemoryFootprint(2, 972, (8, 64))


def test_a_slope_that_is_not_positive_is_one_byte_per_row():
    # Peaks that fall with the rows (the grain of the measure): slope -17.9 -> 1.
    assert fit_footprint({8: 2000, 64: 1000}) == MemoryFootprint(1, 936, (8, 64))


# run_bytes and rows_within


def test_run_bytes_is_fixed_plus_rows_times_per_row():
    footprint = MemoryFootprint(40, 100, (1,))
    assert footprint.run_bytes(0) == 100
    assert footprint.run_bytes(1) == 140
    assert footprint.run_bytes(10) == 500


@pytest.mark.parametrize(
    ("budget", "fixed", "per_row", "rows"),
    [
        (1000, 100, 40, 10),  # (1000 * 0.5 - 100) // 40 = 400 // 40
        (1001, 100, 40, 10),  # int(500.5) = 500: never past half the budget
        (1000, 100, 41, 9),  # 400 // 41
        (1000, 0, 1, 500),
        (1000, 100, 500, 1),  # the room (400) is smaller than one row
        (1000, 600, 40, 1),  # the fixed part alone passes half the budget
        (16 << 20, 0, 40000, 209),  # 8 MiB // 40000
    ],
)
def test_rows_within_by_hand(budget, fixed, per_row, rows):
    assert RUN_SHARE == 0.5
    assert MemoryFootprint(per_row, fixed, (1,)).rows_within(budget) == rows


def test_rows_within_fills_half_the_budget_and_no_more():
    footprint = MemoryFootprint(40, 100, (1,))
    rows = footprint.rows_within(1000)
    assert footprint.run_bytes(rows) == 500
    assert footprint.run_bytes(rows + 1) > 500


# JSON


def test_json_round_trip():
    footprint = MemoryFootprint(44480, 233472, (1, 8, 64, 512))
    record = footprint.to_json()
    assert record == {
        "bytes_per_row": 44480,
        "fixed_bytes": 233472,
        "measured_rows": [1, 8, 64, 512],
    }
    assert MemoryFootprint.from_json(json.loads(json.dumps(record))) == footprint


@pytest.mark.parametrize(
    "record",
    [
        None,
        [100, 0, [1]],
        "100",
        100,
        {"bytes_per_row": 100, "fixed_bytes": 0},
        {"fixed_bytes": 0, "measured_rows": [1]},
        {"bytes_per_row": "lots", "fixed_bytes": 0, "measured_rows": [1]},
        {"bytes_per_row": 100, "fixed_bytes": None, "measured_rows": [1]},
        {"bytes_per_row": 100, "fixed_bytes": 0, "measured_rows": ["one"]},
        {"bytes_per_row": 100, "fixed_bytes": 0, "measured_rows": None},
    ],
    ids=[
        "none",
        "list",
        "string",
        "number",
        "no-measured-rows",
        "no-bytes-per-row",
        "text-per-row",
        "null-fixed",
        "text-rows",
        "null-rows",
    ],
)
def test_records_without_a_footprint_read_as_none(record):
    assert MemoryFootprint.from_json(record) is None


# onnxruntime's messages


def test_a_real_cap_error_is_a_memory_error_over_the_cap():
    # 1000 rows of 5000 float32 need 20 MB in the Tile's output alone: past 8 MiB.
    session = create_session(builders.widening(1250), memory_budget=8 << 20)
    with pytest.raises(ORT_ERRORS) as caught:
        session.run(None, {"features": np.zeros((1000, 4), np.float32)})
    assert is_over_cap(caught.value)
    assert is_memory_error(caught.value)


@pytest.mark.parametrize(
    ("message", "memory", "over_cap"),
    [
        ("std::bad_alloc", True, False),
        ("bad allocation", True, False),
        ("Failed to allocate memory for requested buffer of size 4000000000", True, False),
        (
            "bfc_arena.cc:360 Available memory of 8388352 is smaller than requested bytes "
            "of 20000000",
            True,
            True,
        ),
        (
            "Non-zero status code returned while running Add node. Name:'' Status Message: "
            "Incompatible dimensions",
            False,
            False,
        ),
        ("", False, False),
    ],
    ids=["bad-alloc", "bad-allocation", "failed-to-allocate", "cap", "unrelated", "empty"],
)
def test_messages_by_text(message, memory, over_cap):
    error = RuntimeError(message)
    assert is_memory_error(error) is memory
    assert is_over_cap(error) is over_cap


# mib


@pytest.mark.parametrize(
    ("count", "text"),
    [
        (4 << 30, "4096 MiB"),
        (25 << 19, "12.5 MiB"),
        (16 << 20, "16 MiB"),
        (0, "0 MiB"),
        ((1 << 20) + (1 << 20) // 10, "1.1 MiB"),
    ],
)
def test_mib(count, text):
    assert mib(count) == text


# register_arena


@pytest.mark.parametrize("budget", [0, -1, -(1 << 30)])
def test_register_arena_refuses_a_budget_below_one_byte(budget):
    with pytest.raises(ValueError, match="must be positive"):
        register_arena(budget)


# Properties


@given(
    fixed=st.integers(min_value=0, max_value=1 << 32),
    per_row=st.integers(min_value=1, max_value=1 << 24),
    sizes=st.lists(
        st.integers(min_value=1, max_value=1 << 16), min_size=2, max_size=6, unique=True
    ),
)
def test_affine_peaks_are_recovered_exactly(fixed, per_row, sizes):
    peaks = {rows: fixed + per_row * rows for rows in sizes}
    assert fit_footprint(peaks) == MemoryFootprint(per_row, fixed, tuple(sorted(sizes)))


@given(
    fixed=st.integers(min_value=0, max_value=1 << 32),
    per_row=st.integers(min_value=1, max_value=1 << 24),
    budget=st.integers(min_value=1, max_value=1 << 40),
)
def test_rows_within_keeps_a_run_within_its_share(fixed, per_row, budget):
    footprint = MemoryFootprint(per_row, fixed, (1,))
    rows = footprint.rows_within(budget)
    share = budget * RUN_SHARE
    assert rows >= 1
    if footprint.run_bytes(1) <= share:
        assert footprint.run_bytes(rows) <= share
        # ... and as many rows as fit: one more would pass the share.
        assert footprint.run_bytes(rows + 1) > share
    else:
        assert rows == 1
