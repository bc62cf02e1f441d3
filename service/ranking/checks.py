"""Up-front checks on pool arrays; each failure raises InvalidInput naming the field.

The fast path costs a few reductions per chunk; only when it fails does the
slow path look for the first offending row to say exactly what is wrong.
The ``*_columns`` checks take a chunk laid out by columns (see rowops): the
class columns (c, m) of rows (m, c), or the pass columns (t, c, n) of
samples (n, t, c). Their fast path reads the columns; the slow path, which
names the first bad row, reads rows.
"""

from __future__ import annotations

import numpy as np

from service.errors import InvalidInput
from service.ranking import kernels
from service.ranking.rowops import column_sum, columns, ordered_sum, pass_columns, pass_rows

# Rows of a probability matrix must sum to 1 within this absolute tolerance.
# It admits float32 rounding over thousands of classes and probabilities
# printed with four or more decimals; send normalize=true for anything looser.
PROBABILITY_ATOL = 1e-3


def check_shape(shape: tuple[int, ...], *, name: str, axes: str) -> None:
    """Check a declared shape against named axes such as "NC" (pool, classes).

    The pool axis N must hold at least one row; the class axis C at least two
    classes; the pass axis T at least two passes; any other axis one entry.
    """
    if len(shape) != len(axes):
        raise InvalidInput(
            f"expected a {len(axes)}-D array ({' x '.join(axes)}), got {len(shape)}-D "
            f"with shape {list(shape)}",
            field=name,
        )
    for axis, size in zip(axes, shape, strict=True):
        if axis == "N" and size < 1:
            raise InvalidInput("the pool is empty: expected at least 1 row, got 0", field=name)
        if axis == "C" and size < 2:
            raise InvalidInput(f"expected at least 2 classes, got {size}", field=name)
        if axis == "T" and size < 2:
            raise InvalidInput(
                f"expected at least 2 passes (Monte-Carlo samples or committee members), "
                f"got {size}",
                field=name,
            )
        if size < 1:
            raise InvalidInput(f"axis {axis} is empty: expected at least 1 entry", field=name)


def check_finite(values: np.ndarray, *, name: str, row_offset: int = 0, passes: int = 1) -> None:
    """Reject NaN and +-Inf anywhere in ``values`` (rows first).

    With ``passes`` > 1 the rows are (pool item, pass) pairs, item-major, as
    in samples (n, t, c) reshaped to (n * t, c); messages name both.
    """
    low, high = values.min(), values.max()
    if np.isfinite(low) and np.isfinite(high):
        return
    row = _first_row(~np.isfinite(values))
    raise InvalidInput(
        f"{_where(row, row_offset, passes)} holds a non-finite value (NaN or +-Inf)",
        field=name,
    )


def check_probability_columns(
    cols: np.ndarray,
    rows: np.ndarray,
    *,
    name: str,
    row_offset: int = 0,
    atol: float = PROBABILITY_ATOL,
) -> None:
    """Check a chunk given as class columns ``cols`` (c, m) and as the rows ``rows``
    (m, c) they hold: every row finite, in [0, 1] and summing to 1 within ``atol``."""
    if not _probability_columns_pass(cols, class_axis=0, atol=atol):
        _reject_probability_rows(rows, name=name, row_offset=row_offset, passes=1, atol=atol)


def check_pass_columns(
    cols: np.ndarray, *, name: str, row_offset: int = 0, atol: float = PROBABILITY_ATOL
) -> None:
    """check_probability_columns on every pass of samples given as pass columns
    (t, c, n) (see rowops.pass_columns)."""
    if not _probability_columns_pass(cols, class_axis=1, atol=atol):
        rows = pass_rows(cols)
        passes = cols.shape[0]
        _reject_probability_rows(rows, name=name, row_offset=row_offset, passes=passes, atol=atol)


def _probability_columns_pass(cols: np.ndarray, *, class_axis: int, atol: float) -> bool:
    """Whether every entry of ``cols`` is >= 0 and every sum over ``class_axis`` is 1
    within ``atol``: the fast path of the probability checks."""
    if class_axis == 0 and kernels.compiled_layout(cols, min_rows=1):
        return kernels.failing_probability_rows(cols, atol) == 0
    # The minimum is NaN if any entry is, and below 0 if any is negative or
    # -Inf; +Inf makes its row's sum +Inf. Entries >= 0 in a row summing to
    # at most 1 + atol are each at most 1 + atol, so no pass for the maximum.
    if not cols.min() >= 0:
        return False
    with np.errstate(over="ignore"):  # a sum past the float's range fails below
        sums = ordered_sum(cols, axis=class_axis)
    # In Python floats, s - 1 is exact wherever it could pass (Sterbenz).
    return -atol <= float(sums.min()) - 1 and float(sums.max()) - 1 <= atol


def _reject_probability_rows(
    probs: np.ndarray, *, name: str, row_offset: int, passes: int, atol: float
) -> None:
    """Raise InvalidInput naming the first of the rows ``probs`` (m, c) that is not
    finite, in [0, 1] and summing to 1 within ``atol``."""
    check_finite(probs, name=name, row_offset=row_offset, passes=passes)
    outside = (probs < 0) | (probs > 1 + atol)
    if outside.any():
        row = _first_row(outside)
        col = int(np.flatnonzero(outside[row])[0])
        raise InvalidInput(
            f"{_where(row, row_offset, passes)}, column {col}: probability "
            f"{float(probs[row, col])!r} is outside [0, 1]",
            field=name,
        )
    # Entries in [0, 1 + atol] here: no sum leaves the float's range.
    sums = column_sum(columns(probs))
    off = np.flatnonzero(np.abs(sums - 1) > atol)
    if off.size:
        row = int(off[0])
        raise InvalidInput(
            f"{_where(row, row_offset, passes)} sums to {float(sums[row]):.6g}, expected 1 "
            f"within {atol:g}; send normalize=true to rescale rows",
            field=name,
        )


def check_log_probabilities(
    logs: np.ndarray,
    *,
    name: str,
    row_offset: int = 0,
    passes: int = 1,
    atol: float = PROBABILITY_ATOL,
) -> None:
    """Check log-probabilities (m, c) are not NaN and at most log(1 + atol).

    -Inf (probability 0) is allowed. Checked before exponentiating, so exp
    cannot overflow.
    """
    highest = float(np.log1p(atol))
    if not np.isnan(logs.min()) and logs.max() <= highest:
        return
    bad = np.isnan(logs) | (logs > highest)
    row = _first_row(bad)
    col = int(np.flatnonzero(bad[row])[0])
    raise InvalidInput(
        f"{_where(row, row_offset, passes)}, column {col}: {float(logs[row, col])!r} is no "
        "log-probability (expected a value <= 0, or -inf for probability 0)",
        field=name,
    )


def normalize_rows(
    values: np.ndarray, *, name: str, row_offset: int = 0, passes: int = 1
) -> np.ndarray:
    """Rescale non-negative (m, c) rows to sum to 1; rows must have a positive sum."""
    check_finite(values, name=name, row_offset=row_offset, passes=passes)
    if values.min() < 0:
        row = _first_row(values < 0)
        raise InvalidInput(
            f"{_where(row, row_offset, passes)} holds a negative value; normalize needs "
            "non-negative weights",
            field=name,
        )
    with np.errstate(over="ignore"):  # an overflowing sum is reported below
        sums = column_sum(columns(values))
    bad = ~((sums > 0) & np.isfinite(sums))
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise InvalidInput(
            f"{_where(row, row_offset, passes)} sums to {float(sums[row]):g} and cannot "
            "be normalized",
            field=name,
        )
    rescaled: np.ndarray = values / sums[:, None]
    return rescaled


def normalize_columns(
    cols: np.ndarray, rows: np.ndarray, *, name: str, row_offset: int = 0
) -> np.ndarray:
    """normalize_rows on a chunk given as class columns ``cols`` (c, m) and as the
    rows ``rows`` (m, c) they hold; rescales ``cols`` in place and returns it."""
    sums = _column_sums_to_rescale(cols, class_axis=0)
    if sums is None:
        # The slow path names the first row it cannot rescale.
        return columns(normalize_rows(rows, name=name, row_offset=row_offset))
    cols /= sums
    return cols


def normalize_pass_columns(cols: np.ndarray, *, name: str, row_offset: int = 0) -> np.ndarray:
    """normalize_rows on every pass of samples given as pass columns (t, c, n);
    rescales ``cols`` in place and returns it."""
    t, c, n = cols.shape
    sums = _column_sums_to_rescale(cols, class_axis=1)
    if sums is None:
        # The slow path names the first row it cannot rescale.
        rows = normalize_rows(pass_rows(cols), name=name, row_offset=row_offset, passes=t)
        return pass_columns(rows.reshape(n, t, c))
    cols /= sums[:, None, :]
    return cols


def _column_sums_to_rescale(cols: np.ndarray, *, class_axis: int) -> np.ndarray | None:
    """The sums over ``class_axis`` of finite, non-negative ``cols`` when all are
    positive and finite; None when some row cannot be rescaled."""
    if not (cols.min() >= 0 and np.isfinite(cols.max())):
        return None
    with np.errstate(over="ignore"):  # an overflowing sum is refused below
        sums = ordered_sum(cols, axis=class_axis)
    if not (sums.min() > 0 and np.isfinite(sums.max())):
        return None
    return sums


def check_log_pass_columns(
    cols: np.ndarray, *, name: str, row_offset: int = 0, atol: float = PROBABILITY_ATOL
) -> None:
    """check_log_probabilities on every pass of samples given as pass columns (t, c, n)."""
    if np.isnan(cols.min()) or not cols.max() <= float(np.log1p(atol)):
        check_log_probabilities(
            pass_rows(cols), name=name, row_offset=row_offset, passes=cols.shape[0], atol=atol
        )


def _first_row(mask: np.ndarray) -> int:
    """Index of the first row (axis 0) where ``mask`` holds anywhere."""
    flat = mask.reshape(mask.shape[0], -1).any(axis=1)
    return int(np.flatnonzero(flat)[0])


def _where(row: int, row_offset: int, passes: int) -> str:
    """Name a row of a chunk by its pool row (and pass, for samples)."""
    if passes == 1:
        return f"row {row + row_offset}"
    return f"row {row // passes + row_offset}, pass {row % passes}"
