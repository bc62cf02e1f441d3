"""The kinds whose rows are class distributions: probabilities, logits and
samples (T passes of class probabilities per item).

Each kind's primary array has the pool axis first and is read in chunks of
items (see items). Each chunk is copied once into its columns (see rowops:
class columns (c, u) for a 2-D array, pass columns (t, c, u) for samples),
then checked and transformed in cache. The check raises InvalidInput naming
the array and the array row (and pass) of the first bad entry.
"""

from __future__ import annotations

import numpy as np

from service.errors import InvalidInput
from service.ranking.checks import (
    check_finite,
    check_log_pass_columns,
    check_pass_columns,
    check_probability_columns,
    normalize_columns,
    normalize_pass_columns,
)
from service.ranking.inputkind import ChunkContext, InputKind
from service.ranking.params import Param
from service.ranking.transforms import softmax_of_columns


def check_probabilities(cols: np.ndarray, rows: np.ndarray, ctx: ChunkContext) -> np.ndarray:
    """Each row a distribution, or rescaled to one under ``normalize``."""
    if ctx.normalize:
        return normalize_columns(cols, rows, name=ctx.name, row_offset=ctx.row_offset)
    check_probability_columns(cols, rows, name=ctx.name, row_offset=ctx.row_offset)
    return cols


def check_logits(cols: np.ndarray, rows: np.ndarray, ctx: ChunkContext) -> np.ndarray:
    """Finite logits whose quotient by the temperature fits the dtype."""
    low, high = float(cols.min()), float(cols.max())
    if not (np.isfinite(low) and np.isfinite(high)):
        check_finite(rows, name=ctx.name, row_offset=ctx.row_offset)
    temperature = temperature_of(ctx)
    # Python floats here: the check must not itself overflow or warn.
    in_dtype = float(rows.dtype.type(fitting_temperature(temperature, rows.dtype)))
    largest = max(abs(low), abs(high))
    if not (in_dtype > 0 and largest / in_dtype <= float(np.finfo(rows.dtype).max)):
        raise InvalidInput(
            f"logits divided by temperature {temperature:g} overflow {rows.dtype}",
            field="temperature",
        )
    return cols


def softmax_logits(cols: np.ndarray, ctx: ChunkContext) -> np.ndarray:
    """The softmax of ``logits / params.temperature``, in place on class columns."""
    return softmax_of_columns(cols, fitting_temperature(temperature_of(ctx), cols.dtype))


def fitting_temperature(temperature: float, dtype: np.dtype) -> float:
    """``temperature``, or the dtype's largest value when it is larger: dividing
    by either gives the same all-but-zero logits, and the cast cannot overflow."""
    return min(temperature, float(np.finfo(dtype).max))


def temperature_of(ctx: ChunkContext) -> float:
    """The request's temperature (1 when the kind takes none)."""
    value = ctx.params.get("temperature", 1.0)
    return float(value) if isinstance(value, int | float) else 1.0


def check_samples(cols: np.ndarray, rows: np.ndarray, ctx: ChunkContext) -> np.ndarray:
    """Each pass's row a distribution, sent as probabilities or natural logs."""
    if ctx.params.get("space") == "log":
        check_log_pass_columns(cols, name=ctx.name, row_offset=ctx.row_offset)
        # exp underflows only below the float's smallest subnormal, where a
        # probability can no longer change any score.
        np.exp(cols, out=cols)
    if ctx.normalize:
        return normalize_pass_columns(cols, name=ctx.name, row_offset=ctx.row_offset)
    check_pass_columns(cols, name=ctx.name, row_offset=ctx.row_offset)
    return cols


# Enough rows for a full block of the compiled loops and a remainder.
EXAMPLE_CLASSES, EXAMPLE_PASSES = 3, 2


def uniform_rows(shape: tuple[int, ...], dtype: type) -> np.ndarray:
    """An array of ``shape`` whose rows (last axis) are uniform distributions."""
    return np.full(shape, 1 / shape[-1], dtype)


TEMPERATURE = Param(
    "temperature",
    "number",
    1.0,
    "Softmax temperature: probabilities = softmax(logits / temperature).",
    minimum=0.0,
    exclusive_minimum=True,
)

LAYOUT = Param(
    "layout",
    "string",
    "NTC",
    "Axis order of samples: N pool items, T passes, C classes.",
    choices=("NTC", "TNC", "NCT"),
)

SPACE = Param(
    "space",
    "string",
    "prob",
    "Whether samples hold probabilities (prob) or natural-log probabilities (log).",
    choices=("prob", "log"),
)

CLASS_KINDS: dict[str, InputKind] = {
    kind.name: kind
    for kind in (
        InputKind(
            "probabilities",
            "NC",
            "Class probabilities, N x C; each row sums to 1 within 1e-3 "
            "(or send normalize=true to rescale non-negative rows).",
            "probability rows",
            check_probabilities,
            lambda n, dtype: {"probabilities": uniform_rows((n, EXAMPLE_CLASSES), dtype)},
            normalizable=True,
        ),
        InputKind(
            "logits",
            "NC",
            "Unnormalized class scores, N x C; turned into probabilities with a "
            "numerically stable softmax.",
            "finite reals",
            check_logits,
            lambda n, dtype: {"logits": np.zeros((n, EXAMPLE_CLASSES), dtype)},
            transform=softmax_logits,
            params=(TEMPERATURE,),
        ),
        InputKind(
            "samples",
            "NTC",
            "Class probabilities from T >= 2 Monte-Carlo passes or committee members, "
            "N x T x C by default (see layout); each pass's row sums to 1 within 1e-3.",
            "probability rows per pass, or their natural logs",
            check_samples,
            lambda n, dtype: {
                "samples": uniform_rows((n, EXAMPLE_PASSES, EXAMPLE_CLASSES), dtype)
            },
            yields="samples",
            params=(LAYOUT, SPACE),
            layout_param="layout",
            normalizable=True,
        ),
    )
}
