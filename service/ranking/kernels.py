"""Compiled loops for the per-chunk passes numpy can only do in many calls.

Laying a chunk of rows out by class columns is a transpose numpy does one
column at a time, sweeping the whole chunk per class; checking and scoring
it then takes a dozen ufunc calls, each a few microseconds of overhead on a
chunk that takes a few microseconds to read. Each loop here does its pass in
one call, without the GIL; the transpose works through ``BLOCK`` rows at a
time, so the rows it reads stay in the first-level cache.

The loops add the classes in order, in the array's own dtype, and nothing
is reassociated or fused (no fast-math), so a row's result depends on that
row alone; the probability check gives bit-for-bit the verdict of the numpy
check it shares its callers with (see checks).

Arrays are float32 or float64 and C-contiguous (see ``compiled_layout``):
the working dtypes, laid out by rowops.columns. The scores take nothing
else (see rowops.require_columns); the transpose and the probability check
fall back to numpy for other layouts.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

import numba
import numpy as np

if TYPE_CHECKING:
    from numba.core.dispatcher import Dispatcher

# Rows per block: 16 float32 rows of up to 16 classes fill 16 cache lines.
BLOCK = 16

_Function = TypeVar("_Function", bound=Callable[..., object])


def _compiled(func: _Function) -> Dispatcher[_Function]:
    """``func`` compiled to release the GIL, its machine code cached on disk when
    some cache directory is writable (see NUMBA_CACHE_DIR in the README).

    Division follows numpy (x / 0 is inf or NaN) rather than raising, which
    also lets the compiler vectorize it.
    """
    try:
        return numba.njit(cache=True, nogil=True, error_model="numpy")(func)
    except RuntimeError:  # no writable cache directory: compile in memory
        return numba.njit(nogil=True, error_model="numpy")(func)


def compiled_layout(values: np.ndarray, *, min_rows: int = 0) -> bool:
    """Whether the loops here take ``values``: a C-contiguous float32 or float64
    matrix with at least ``min_rows`` rows (for class columns, classes)."""
    return (
        values.ndim == 2
        and values.shape[0] >= min_rows
        and values.dtype in (np.float32, np.float64)
        and values.flags.c_contiguous
    )


@_compiled
def transpose_into(rows: np.ndarray, cols: np.ndarray) -> None:
    """Write ``rows`` (m, c) into ``cols`` (c, m): cols[k, i] = rows[i, k]."""
    m, c = rows.shape
    full = m - m % BLOCK
    for start in range(0, full, BLOCK):
        for k in range(c):
            for j in range(BLOCK):
                cols[k, start + j] = rows[start + j, k]
    for i in range(full, m):
        for k in range(c):
            cols[k, i] = rows[i, k]


@_compiled
def failing_probability_rows(cols: np.ndarray, atol: float) -> int:
    """How many rows, given as class columns ``cols`` (c, m), fail the probability check.

    A row fails if an entry is not >= 0 (negative or NaN) or its sum, added
    in class order in the dtype of ``cols``, differs from 1 by more than
    ``atol``; the difference is taken in float64, so it is exact wherever it
    could pass. 0 means every row passes.
    """
    c, m = cols.shape
    sums = cols[0].copy()
    bad = np.empty(m, np.uint8)
    for i in range(m):
        bad[i] = 0 if cols[0, i] >= 0 else 1
    for k in range(1, c):
        for i in range(m):
            value = cols[k, i]
            sums[i] += value
            bad[i] |= 0 if value >= 0 else 1
    failing = 0
    for i in range(m):
        failing += bad[i] | (0 if abs(np.float64(sums[i]) - 1.0) <= atol else 1)
    return failing


@_compiled
def max_into(cols: np.ndarray, out: np.ndarray) -> None:
    """Largest entry of each column of ``cols`` (c, m), written to ``out`` (m,).
    ``cols`` must hold no NaN."""
    c, m = cols.shape
    for i in range(m):
        out[i] = cols[0, i]
    for k in range(1, c):
        for i in range(m):
            value = cols[k, i]
            out[i] = value if value > out[i] else out[i]


@_compiled
def top_two_into(cols: np.ndarray, first: np.ndarray, second: np.ndarray) -> None:
    """Largest and second-largest entry of each column of ``cols`` (c >= 2, m),
    written to ``first`` and ``second`` (m,). ``cols`` must hold no NaN (the
    input checks run first)."""
    c, m = cols.shape
    for i in range(m):
        a, b = cols[0, i], cols[1, i]
        first[i] = a if a >= b else b
        second[i] = b if a >= b else a
    for k in range(2, c):
        for i in range(m):
            value, top = cols[k, i], first[i]
            # The new second is the larger of the old one and min(top, value).
            low = value if value < top else top
            second[i] = low if low > second[i] else second[i]
            first[i] = value if value > top else top


@_compiled
def least_confidence_into(cols: np.ndarray, out: np.ndarray) -> None:
    """max(1 - p1, 0) of each column of ``cols`` (c, m), p1 its largest entry,
    written to ``out`` (m,). ``cols`` must hold no NaN."""
    max_into(cols, out)
    for i in range(out.shape[0]):
        # Rounded to the dtype of ``out``, as numpy's subtraction would be.
        score = out.dtype.type(1 - out[i])
        out[i] = score if score > 0 else 0


@_compiled
def margin_into(cols: np.ndarray, out: np.ndarray) -> None:
    """max(1 - (p1 - p2), 0) of each column of ``cols`` (c >= 2, m), p1 and p2
    its two largest entries, written to ``out`` (m,). ``cols`` must hold no NaN."""
    second = np.empty_like(out)
    top_two_into(cols, out, second)
    for i in range(out.shape[0]):
        # Each operation is rounded to the dtype of ``out``, as numpy's would be.
        score = out.dtype.type(1 - (out[i] - second[i]))
        out[i] = score if score > 0 else 0


@_compiled
def ratio_into(cols: np.ndarray, out: np.ndarray) -> None:
    """p2 / p1 of each column of ``cols`` (c >= 2, m), written to ``out`` (m,).
    ``cols`` must hold no NaN."""
    first = np.empty_like(out)
    top_two_into(cols, first, out)
    for i in range(out.shape[0]):
        out[i] = out[i] / first[i]


@_compiled
def entropy_into(cols: np.ndarray, logs: np.ndarray, tiny: float, out: np.ndarray) -> None:
    """max(-sum_k p_k log(max(p_k, tiny)), 0) of each column of probabilities
    ``cols`` (c, m), given ``logs`` = log(cols) (c, m), written to ``out`` (m,).

    ``tiny`` is the dtype's smallest normal number; entries below it (zeros
    included) use log(tiny), so 0 log 0 = 0. The terms are added in class order.
    """
    c, m = cols.shape
    log_tiny = np.log(out.dtype.type(tiny))
    for i in range(m):
        p = cols[0, i]
        out[i] = p * (logs[0, i] if p >= tiny else log_tiny)
    for k in range(1, c):
        for i in range(m):
            p = cols[k, i]
            out[i] += p * (logs[k, i] if p >= tiny else log_tiny)
    for i in range(m):
        score = -out[i]
        out[i] = score if score > 0 else 0


@_compiled
def segment_max_into(values: np.ndarray, lengths: np.ndarray, out: np.ndarray) -> None:
    """out[i] = the largest of item i's ``lengths[i]`` consecutive ``values``, or 0
    for an item with none: (u,), (n,) -> (n,). ``values`` must hold no NaN."""
    start = 0
    for i in range(lengths.shape[0]):
        stop = start + lengths[i]
        if stop == start:
            out[i] = 0.0
            continue
        largest = values[start]
        for j in range(start + 1, stop):
            if values[j] > largest:
                largest = values[j]
        out[i] = largest
        start = stop


# Lanes of the chunk-invariant sums: the value at pool position p goes to lane
# p % LANES, each lane adds in pool order, and the lanes are added in order at
# the end; eight independent chains also keep the adder busy.
LANES = 8


@_compiled
def top_class_into(
    cols: np.ndarray,
    first: int,
    best: np.ndarray,
    arg: np.ndarray,
    lanes: np.ndarray,
    counts: np.ndarray,
) -> None:
    """Each column's largest entry and its row (the lower row among equals) of
    ``cols`` (c, m), the columns being pool positions ``first`` .. first + m - 1:
    written to ``best`` (m,) and ``arg`` (m,) int32; each largest entry added to
    ``lanes`` (LANES,) float64 by position, and each row counted in ``counts``
    (c,). ``cols`` must hold no NaN."""
    c, m = cols.shape
    for i in range(m):
        best[i] = cols[0, i]
        arg[i] = 0
    for k in range(1, c):
        for i in range(m):
            value = cols[k, i]
            higher = value > best[i]
            best[i] = value if higher else best[i]
            arg[i] = k if higher else arg[i]
    _add_by_lane(best, first, lanes)
    # One vectorized pass per class: an increment per entry would wait on
    # the counter of the previous entry's class.
    for k in range(c):
        wanted = np.int32(k)
        found = np.int32(0)
        for i in range(m):
            found += arg[i] == wanted
        counts[k] += found


@_compiled
def _add_by_lane(values: np.ndarray, first: int, lanes: np.ndarray) -> None:
    """lanes[p % LANES] += the value at pool position p, for ``values`` (m,) at
    positions ``first`` .., each lane in position order."""
    m = values.shape[0]
    i = 0
    while i < m and (first + i) % LANES:
        lanes[(first + i) % LANES] += values[i]
        i += 1
    a0, a1, a2, a3 = lanes[0], lanes[1], lanes[2], lanes[3]
    a4, a5, a6, a7 = lanes[4], lanes[5], lanes[6], lanes[7]
    while i + LANES <= m:
        a0 += values[i]
        a1 += values[i + 1]
        a2 += values[i + 2]
        a3 += values[i + 3]
        a4 += values[i + 4]
        a5 += values[i + 5]
        a6 += values[i + 6]
        a7 += values[i + 7]
        i += LANES
    lanes[0], lanes[1], lanes[2], lanes[3] = a0, a1, a2, a3
    lanes[4], lanes[5], lanes[6], lanes[7] = a4, a5, a6, a7
    while i < m:
        lanes[(first + i) % LANES] += values[i]
        i += 1


@_compiled
def sketch_into(
    scores: np.ndarray,
    first: int,
    narrow: np.ndarray,
    shift: int,
    buckets: np.ndarray,
    lanes: np.ndarray,
) -> None:
    """Count ``scores`` (m,), the scores of pool positions ``first`` ..
    first + m - 1, in the order-preserving float32 bucket counts ``buckets``,
    and add them to ``lanes`` (3, LANES) float64: their sums by position (see
    LANES), and in the first column of the other two rows the minimum and
    the maximum so far.

    Each score is rounded to float32 in ``narrow`` (a scratch block) and its
    bits mapped to an unsigned key that sorts as the values do (negative:
    the bits inverted; otherwise the sign bit set); a bucket is a key without
    its ``shift`` lowest bits. ``scores`` must hold no NaN.
    """
    _add_by_lane(scores, first, lanes[0])
    low, high = lanes[1, 0], lanes[2, 0]
    for i in range(scores.shape[0]):
        value = scores[i]
        low = value if value < low else low
        high = value if value > high else high
    lanes[1, 0], lanes[2, 0] = low, high
    block = narrow.shape[0]
    bits = narrow.view(np.uint32)
    for start in range(0, scores.shape[0], block):
        stop = min(start + block, scores.shape[0])
        for i in range(start, stop):
            narrow[i - start] = scores[i]
        for i in range(stop - start):
            word = bits[i]
            key = ~word if word >> 31 else word | np.uint32(0x80000000)
            buckets[key >> shift] += 1


@_compiled
def confusion_into(first: np.ndarray, second: np.ndarray, counts: np.ndarray) -> None:
    """counts[first[i], second[i]] += 1 for each i of the class ids (m,), (m,)."""
    for i in range(first.shape[0]):
        counts[first[i], second[i]] += 1


@_compiled
def greedy_fill_into(
    order: np.ndarray, costs: np.ndarray, budget: float, max_items: int, taken: np.ndarray
) -> tuple[int, float]:
    """Walk ``order`` (m,) of item positions, taking each item whose cost (of
    ``costs``) still fits: the spend so far plus its cost, added in walk order,
    at most ``budget``; stop after ``max_items``. Write the taken positions to
    ``taken`` in order; return how many were taken and the spend (so the
    spend reported is the one compared, never above the budget)."""
    spent = 0.0
    count = 0
    for j in range(order.shape[0]):
        if count == max_items:
            break
        item = order[j]
        after = spent + costs[item]
        if after <= budget:
            spent = after
            taken[count] = item
            count += 1
    return count, spent
