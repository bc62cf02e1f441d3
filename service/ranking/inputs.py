"""Input kinds: how each kind of pool array is checked and turned into probabilities.

An input kind maps one chunk of the client's array (pool axis first) to a
chunk of class probabilities (n, c), raising InvalidInput with the field name
and the global row number of the first bad row.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np

from service.errors import InvalidInput
from service.ranking.checks import (
    check_finite,
    check_log_pass_columns,
    check_log_probabilities,
    check_pass_columns,
    check_probabilities,
    check_probability_columns,
    normalize_columns,
    normalize_pass_columns,
    normalize_rows,
)
from service.ranking.params import Param
from service.ranking.rowops import columns, pass_columns
from service.ranking.transforms import softmax, softmax_of_columns

Prepare = Callable[[np.ndarray, Mapping[str, object], int], np.ndarray]


@dataclass(frozen=True)
class InputKind:
    """A kind of pool array the service accepts.

    ``axes`` names the axes the core works with ("NC": pool, classes; "NTC":
    pool, passes, classes). ``prepare`` takes a chunk in that order, the
    request's options and the chunk's first row number, and returns class
    probabilities of the same shape. ``prepare_columns`` takes the same and
    returns the probabilities laid out by columns, a new array (see rowops):
    class columns (c, n) for axes "NC", pass columns (t, c, n) for "NTC". The
    chunk is copied once, then checked and transformed in cache.
    ``layout_param`` names the parameter, if any, by which a client sends the
    axes in another order.
    """

    name: str
    axes: str
    description: str
    params: tuple[Param, ...]
    prepare: Prepare
    prepare_columns: Prepare | None = None
    layout_param: str | None = None

    def sent_axes(self, options: Mapping[str, object]) -> str:
        """The axis order the client sent, e.g. "TNC"."""
        return str(options[self.layout_param]) if self.layout_param else self.axes


def _prepare_probabilities(
    chunk: np.ndarray, options: Mapping[str, object], row_offset: int
) -> np.ndarray:
    if options.get("normalize"):
        return normalize_rows(chunk, name="probabilities", row_offset=row_offset)
    check_probabilities(chunk, name="probabilities", row_offset=row_offset)
    return chunk


def _prepare_probability_columns(
    chunk: np.ndarray, options: Mapping[str, object], row_offset: int
) -> np.ndarray:
    cols = columns(chunk)
    if options.get("normalize"):
        return normalize_columns(cols, chunk, name="probabilities", row_offset=row_offset)
    check_probability_columns(cols, chunk, name="probabilities", row_offset=row_offset)
    return cols


def _prepare_logits(
    chunk: np.ndarray, options: Mapping[str, object], row_offset: int
) -> np.ndarray:
    temperature = _checked_temperature(chunk, chunk, options, row_offset)
    return softmax(chunk, temperature)


def _prepare_logit_columns(
    chunk: np.ndarray, options: Mapping[str, object], row_offset: int
) -> np.ndarray:
    cols = columns(chunk)
    return softmax_of_columns(cols, _checked_temperature(cols, chunk, options, row_offset))


def _checked_temperature(
    logits: np.ndarray, rows: np.ndarray, options: Mapping[str, object], row_offset: int
) -> float:
    """The request's temperature, once ``logits`` (any layout of the chunk ``rows``)
    are finite and their quotient by it fits the dtype."""
    low, high = float(logits.min()), float(logits.max())
    if not (np.isfinite(low) and np.isfinite(high)):
        check_finite(rows, name="logits", row_offset=row_offset)
    temperature = float(options.get("temperature", 1.0))  # type: ignore[arg-type]
    # Python floats here: the check must not itself overflow or warn.
    in_dtype = float(rows.dtype.type(temperature))
    largest = max(abs(low), abs(high))
    if not (in_dtype > 0 and largest / in_dtype <= float(np.finfo(rows.dtype).max)):
        raise InvalidInput(
            f"logits divided by temperature {temperature:g} overflow {rows.dtype}",
            field="params.temperature",
        )
    return temperature


def _prepare_samples(
    chunk: np.ndarray, options: Mapping[str, object], row_offset: int
) -> np.ndarray:
    samples = np.ascontiguousarray(chunk)
    n, passes, n_classes = samples.shape
    flat = samples.reshape(n * passes, n_classes)
    if options.get("space") == "log":
        check_log_probabilities(flat, name="samples", row_offset=row_offset, passes=passes)
        # exp underflows only below the float's smallest subnormal, where a
        # probability can no longer change any score.
        flat = np.exp(flat)
    if options.get("normalize"):
        flat = normalize_rows(flat, name="samples", row_offset=row_offset, passes=passes)
    else:
        check_probabilities(flat, name="samples", row_offset=row_offset, passes=passes)
    return flat.reshape(n, passes, n_classes)


def _prepare_sample_columns(
    chunk: np.ndarray, options: Mapping[str, object], row_offset: int
) -> np.ndarray:
    cols = pass_columns(chunk)
    if options.get("space") == "log":
        check_log_pass_columns(cols, name="samples", row_offset=row_offset)
        np.exp(cols, out=cols)
    if options.get("normalize"):
        return normalize_pass_columns(cols, name="samples", row_offset=row_offset)
    check_pass_columns(cols, name="samples", row_offset=row_offset)
    return cols


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

INPUT_KINDS: dict[str, InputKind] = {
    kind.name: kind
    for kind in (
        InputKind(
            "probabilities",
            "NC",
            "Class probabilities, N x C; each row sums to 1 within 1e-3 "
            "(or send normalize=true to rescale non-negative rows).",
            (),
            _prepare_probabilities,
            _prepare_probability_columns,
        ),
        InputKind(
            "logits",
            "NC",
            "Unnormalized class scores, N x C; turned into probabilities with a "
            "numerically stable softmax.",
            (TEMPERATURE,),
            _prepare_logits,
            _prepare_logit_columns,
        ),
        InputKind(
            "samples",
            "NTC",
            "Class probabilities from T >= 2 Monte-Carlo passes or committee members, "
            "N x T x C by default (see layout); each pass's row sums to 1 within 1e-3.",
            (LAYOUT, SPACE),
            _prepare_samples,
            _prepare_sample_columns,
            layout_param="layout",
        ),
    )
}


# Arrays other than the probability-like input, by role: their axes (N pool
# items, M labeled items, D features) and what they hold.
ARRAY_ROLES: dict[str, tuple[str, str]] = {
    "embeddings": ("ND", "One feature vector per pool item, N x D (a penultimate layer, say)."),
    "labeled_embeddings": ("MD", "Feature vectors of the already labeled items, M x D."),
}
