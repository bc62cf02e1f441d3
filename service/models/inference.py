"""Run a model over a pool of feature rows, chunk by chunk, into class probabilities or
logits, or into per-label probabilities or logits (multi-label).

``predict_probabilities`` checks the features against the model's one input
(width and element type) and picks the output to read before it runs
anything, then yields ``(first row, (rows, C) float32)`` chunks: one
InferenceSession.run per chunk, and every chunk checked to be N x C
probabilities (or finite logits). The label kinds read an N x L output
(L >= 1) instead, each value checked to be in [0, 1] (label_probabilities)
or finite (label_logits). Every failure is an InvalidInput (or a
PayloadTooLarge) naming what was expected and what came.

Memory: a run takes at most the rows that the model's measured footprint
lets it take within its share of the inference memory budget, and the
session's arena is capped at the budget (see service.models.memory). A run
that meets the cap all the same (an estimate that was off, or other rankings
in the worker) is run again on half its rows, down to one row; only a run
of the fewest rows the model takes that still fails is refused.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal

import numpy as np
import onnxruntime as ort

from service import metrics
from service.deadline import check_deadline
from service.errors import InvalidInput, PayloadTooLarge
from service.models.memory import (
    INFERENCE_MEMORY_BYTES,
    MemoryFootprint,
    is_memory_error,
    is_over_cap,
    mib,
)
from service.models.sessions import ORT_ERRORS, ort_message
from service.models.signature import TENSOR_DTYPES, ZIPMAP_TYPES
from service.ranking.checks import PROBABILITY_ATOL

OutputKind = Literal["probabilities", "logits", "label_probabilities", "label_logits"]
OUTPUT_KINDS: tuple[OutputKind, ...] = (
    "probabilities",
    "logits",
    "label_probabilities",
    "label_logits",
)
# The kinds of a multi-label model: N x L independent per-label scores.
LABEL_OUTPUT_KINDS: tuple[OutputKind, ...] = ("label_probabilities", "label_logits")
# Feature bytes per InferenceSession.run: enough rows to spread the fixed cost
# of a run (tens of microseconds), few enough that a chunk's input and output
# stay in cache. 1-4 MiB run 100,000 digit rows as fast as one whole-array run.
INFERENCE_CHUNK_BYTES = 2 << 20


def inference_chunk_rows(
    width: int, *, itemsize: int = 4, target_bytes: int = INFERENCE_CHUNK_BYTES
) -> int:
    """Rows of ``width`` features of ``itemsize`` bytes each per run."""
    return max(1, target_bytes // max(1, width * itemsize))


@dataclass(frozen=True)
class InferenceMemory:
    """What one request's inference may hold: the arena's cap in bytes, and the
    model's footprint when it was measured."""

    budget_bytes: int = INFERENCE_MEMORY_BYTES
    footprint: MemoryFootprint | None = None


class _ArenaFull(Exception):
    """A run ran out of memory: ``cause`` is "cap" (the arena's cap) or "system"."""

    def __init__(self, cause: str) -> None:
        super().__init__(cause)
        self.cause = cause


@dataclass(frozen=True)
class FeatureInput:
    """The model's one input: an N x D numeric tensor.

    ``width`` is D when the model fixes it; ``batch`` is N when the model
    fixes it (such a model is run ``batch`` rows at a time, the last chunk
    padded).
    """

    name: str
    dtype: np.dtype
    width: int | None
    batch: int | None


@dataclass(frozen=True)
class ModelOutput:
    """The output read as class (or label) scores, and what it holds; ``classes``
    is C (L for the label kinds) when the output's signature fixes it."""

    name: str
    kind: OutputKind
    zipmap: bool
    classes: int | None = None

    @property
    def labels(self) -> bool:
        """Whether the output holds per-label scores (N x L) rather than class scores."""
        return self.kind in LABEL_OUTPUT_KINDS


def is_label_kind(kind: str) -> bool:
    """Whether ``kind`` is one of the multi-label output kinds."""
    return kind in LABEL_OUTPUT_KINDS


def _scores_of(kind: OutputKind) -> str:
    """What an output of ``kind`` holds, as its messages name it."""
    if is_label_kind(kind):
        return "per-label probabilities or logits"
    return "class probabilities or logits"


def feature_input(session: ort.InferenceSession) -> FeatureInput:
    """The model's input, if it takes exactly one N x D numeric tensor."""
    inputs = session.get_inputs()
    if len(inputs) != 1:
        names = ", ".join(repr(arg.name) for arg in inputs)
        raise InvalidInput(
            f"the model takes {len(inputs)} inputs ({names}); ranking feeds it one "
            "N x D array of features",
            field="model",
        )
    (arg,) = inputs
    dtype = TENSOR_DTYPES.get(arg.type)
    if dtype is None or dtype.kind not in "fiu":
        raise InvalidInput(
            f"the model's input {arg.name!r} is {arg.type}; ranking feeds it numbers",
            field="model",
        )
    if len(arg.shape) != 2:
        raise InvalidInput(
            f"the model's input {arg.name!r} has shape {_shape(arg.shape)}; ranking feeds "
            "it an N x D array of features",
            field="model",
        )
    batch, width = (_fixed(size) for size in arg.shape)
    return FeatureInput(arg.name, dtype, width, batch)


def model_output(
    session: ort.InferenceSession,
    output: str | None = None,
    output_kind: OutputKind | None = None,
) -> ModelOutput:
    """The output named ``output``, else the first that fits ``output_kind``: an
    N x C one (a ZipMap counts) for the class kinds, an N x L float tensor for
    the label kinds."""
    kind: OutputKind = output_kind or "probabilities"
    if kind not in OUTPUT_KINDS:
        raise InvalidInput(
            f"expected one of {', '.join(OUTPUT_KINDS)}, got {kind!r}", field="output_kind"
        )
    fits = _holds_label_scores if is_label_kind(kind) else _holds_class_scores
    shape = "N x L" if is_label_kind(kind) else "N x C"
    outputs = session.get_outputs()
    if output is None:
        arg = next((arg for arg in outputs if fits(arg)), None)
        if arg is None:
            raise InvalidInput(
                f"none of the model's outputs ({_list_args(outputs)}) is an {shape} array "
                f"of {_scores_of(kind)}",
                field="model",
            )
    else:
        arg = next((arg for arg in outputs if arg.name == output), None)
        if arg is None:
            raise InvalidInput(
                f"the model has no output {output!r}; its outputs are {_list_args(outputs)}",
                field="output",
            )
        if not fits(arg):
            raise InvalidInput(
                f"output {output!r} is {_describe_arg(arg)}; expected an {shape} array of "
                f"{_scores_of(kind)}",
                field="output",
            )
    zipmap = arg.type in ZIPMAP_TYPES
    classes = None if zipmap or len(arg.shape) != 2 else _fixed(arg.shape[1])
    return ModelOutput(arg.name, kind, zipmap, classes)


def check_features(features: np.ndarray, spec: FeatureInput) -> None:
    """Check that ``features`` (n, d) has the rows the model's input takes."""
    expected = f"{spec.width} features" if spec.width is not None else "features"
    if features.ndim != 2:
        raise InvalidInput(
            f"expected an N x D array of {expected} ({spec.dtype}), got a "
            f"{features.ndim}-D array of shape {list(features.shape)}",
            field="features",
        )
    if spec.width is not None and features.shape[1] != spec.width:
        raise InvalidInput(
            f"expected {expected} ({spec.dtype}), got {features.shape[1]}", field="features"
        )
    if features.dtype.kind not in "fiu":
        raise InvalidInput(
            f"expected {expected} ({spec.dtype}), got {features.dtype}", field="features"
        )
    if features.shape[0] < 1:
        raise InvalidInput("the pool is empty: expected at least 1 row, got 0", field="features")


def predict_probabilities(
    session: ort.InferenceSession,
    features: np.ndarray,
    *,
    output: str | None = None,
    output_kind: OutputKind | None = None,
    chunk_rows: int,
    memory: InferenceMemory | None = None,
) -> Iterator[tuple[int, np.ndarray]]:
    """Run the model over ``features`` (n, d): (first row, (rows, c) float32) chunks.

    The input, the output and the features are checked before this returns,
    so a mismatch raises here, not while iterating. ``output_kind``
    "probabilities" (the default) checks each row is a probability
    distribution; "logits" only that it is finite; "label_probabilities"
    that each value is in [0, 1], "label_logits" that it is finite (both
    (rows, l) with l >= 1). Runs take at most
    ``chunk_rows`` rows, and fewer when ``memory``'s footprint says so.
    """
    runs = plan_runs(
        session,
        features,
        output=output,
        output_kind=output_kind,
        chunk_rows=chunk_rows,
        memory=memory,
    )
    return ((start, scores) for start, scores, _ in runs.chunks(features))


def predict_with_embeddings(
    session: ort.InferenceSession,
    features: np.ndarray,
    *,
    embeddings_output: str,
    output: str | None = None,
    output_kind: OutputKind | None = None,
    chunk_rows: int,
    memory: InferenceMemory | None = None,
) -> Iterator[tuple[int, np.ndarray, np.ndarray]]:
    """predict_probabilities, with the output ``embeddings_output`` of the same
    runs: (first row, (rows, c) scores, (rows, e) float32 embeddings) chunks.

    The embeddings output is checked to exist and to be a 2-D float tensor
    before this returns, and each chunk of it to have the chunk's rows and
    finite values.
    """
    check_embeddings_output(session, embeddings_output)
    runs = plan_runs(
        session,
        features,
        output=output,
        output_kind=output_kind,
        embeddings_output=embeddings_output,
        chunk_rows=chunk_rows,
        memory=memory,
    )
    return (
        (start, scores, embeddings)
        for start, scores, embeddings in runs.chunks(features)
        if embeddings is not None
    )


@dataclass(frozen=True)
class PlannedRuns:
    """How one model runs over a pool's features: its session, input and
    outputs (checked), the rows per run and the memory it may hold."""

    session: ort.InferenceSession
    spec: FeatureInput
    target: ModelOutput
    embeddings_output: str | None
    rows: int
    memory: InferenceMemory

    def chunks(
        self, features: np.ndarray, *, row_offset: int = 0
    ) -> Iterator[tuple[int, np.ndarray, np.ndarray | None]]:
        """(first row, (rows, c) scores, (rows, e) embeddings or None) per run over
        ``features``, pool rows ``row_offset`` on (as errors and starts name them)."""
        return _chunks(self, features, row_offset)


def plan_runs(
    session: ort.InferenceSession,
    features: np.ndarray,
    *,
    output: str | None = None,
    output_kind: OutputKind | None = None,
    embeddings_output: str | None = None,
    chunk_rows: int,
    memory: InferenceMemory | None = None,
) -> PlannedRuns:
    """The checks every prediction makes before running (the model's input and
    output, the features), and the rows per run: at most ``chunk_rows``, fewer
    when the model's footprint needs it, the model's batch when it fixes one."""
    spec = feature_input(session)
    check_features(features, spec)
    target = model_output(session, output, output_kind)
    memory = memory or InferenceMemory()
    rows = spec.batch or max(1, chunk_rows)
    footprint = memory.footprint
    if footprint is not None:
        if footprint.run_bytes(spec.batch or 1) > memory.budget_bytes:
            raise _over_budget(spec, memory, start=0, count=spec.batch or 1)
        if spec.batch is None:
            rows = min(rows, footprint.rows_within(memory.budget_bytes))
    return PlannedRuns(session, spec, target, embeddings_output, rows, memory)


def check_embeddings_output(session: ort.InferenceSession, name: str) -> None:
    """Check that the model has an output ``name`` that can be N x E embeddings."""
    arg = next((arg for arg in session.get_outputs() if arg.name == name), None)
    field = "params.embeddings_output"
    if arg is None:
        raise InvalidInput(
            f"the model has no output {name!r}; its outputs are "
            f"{_list_args(session.get_outputs())}",
            field=field,
        )
    dtype = TENSOR_DTYPES.get(arg.type)
    if dtype is None or dtype.kind != "f" or len(arg.shape) != 2:
        raise InvalidInput(
            f"output {name!r} is {_describe_arg(arg)}; embeddings are an N x E float array, "
            "one row per pool item",
            field=field,
        )


def check_embeddings(
    values: object, name: str, *, rows: int, row_offset: int, batch: int | None = None
) -> np.ndarray:
    """One chunk of the embeddings output as (rows, e) float32, checked; a model
    of fixed ``batch`` returns that many rows, the padding cut off here."""
    field = "params.embeddings_output"
    if isinstance(values, np.ndarray) and batch is not None and values.ndim == 2:
        values = values[:rows] if values.shape[0] == batch else values
    if not isinstance(values, np.ndarray) or values.dtype.kind != "f":
        got = values.dtype if isinstance(values, np.ndarray) else type(values).__name__
        raise InvalidInput(
            f"model output {name!r} holds {got}, expected float embeddings", field=field
        )
    if values.ndim != 2 or values.shape[0] != rows or values.shape[1] < 1:
        raise InvalidInput(
            f"model output {name!r} has shape {list(values.shape)} for {rows} rows; expected "
            f"{rows} x E embeddings, one row per pool item",
            field=field,
        )
    if not (np.isfinite(values.min()) and np.isfinite(values.max())):
        row = int(np.flatnonzero(~np.isfinite(values).all(axis=1))[0])
        raise InvalidInput(
            f"model output {name!r}, row {row + row_offset}, holds a non-finite value "
            "(NaN or +-Inf)",
            field=field,
        )
    return values.astype(np.float32, copy=False)


def _chunks(
    runs: PlannedRuns, features: np.ndarray, row_offset: int
) -> Iterator[tuple[int, np.ndarray, np.ndarray | None]]:
    spec, target, embeddings, memory = runs.spec, runs.target, runs.embeddings_output, runs.memory
    rows = runs.rows
    spent = 0.0
    start, total = 0, features.shape[0]
    try:
        while start < total:
            check_deadline()
            count = min(rows, total - start)
            first = row_offset + start
            chunk = cast_features(features[start : start + count], spec.dtype, row_offset=first)
            if spec.batch is not None and count < spec.batch:
                chunk = np.concatenate([chunk, np.repeat(chunk[-1:], spec.batch - count, axis=0)])
            began = time.perf_counter()
            try:
                values, extra = _run(
                    runs.session, {spec.name: chunk}, target, embeddings, first, count
                )
            except _ArenaFull as full:
                if spec.batch is not None or count == 1:
                    raise _over_budget(spec, memory, start=first, count=count) from None
                metrics.INFERENCE_MEMORY_SPLITS.labels(full.cause).inc()
                rows = max(1, count // 2)
                continue
            finally:
                spent += time.perf_counter() - began
            values = values[:count]
            check_scores(values, target, rows=count, row_offset=first)
            if embeddings is not None:
                extra = check_embeddings(
                    extra, embeddings, rows=count, row_offset=first, batch=spec.batch
                )
            yield first, values, extra
            start += count
    finally:
        metrics.INFERENCE_SECONDS.observe(spent)


def _over_budget(
    spec: FeatureInput, memory: InferenceMemory, *, start: int, count: int
) -> InvalidInput | PayloadTooLarge:
    """The refusal of a run of the fewest rows the model takes that needs more
    than the budget: the model's fault (422) when it fixes its row width, the
    request's (413) when the width it sent decides the cost."""
    rows = f"its fixed batch of {spec.batch} rows" if spec.batch not in (None, 1) else "one row"
    footprint = memory.footprint
    measured = (
        f"; its measured footprint is {mib(footprint.bytes_per_row)} per row plus "
        f"{mib(footprint.fixed_bytes)}"
        if footprint is not None
        else ""
    )
    detail = (
        f"the model needs more than the inference memory budget of "
        f"{mib(memory.budget_bytes)} (ALRANK_INFERENCE_MEMORY_BYTES) to run on {rows} "
        f"(rows {start} to {start + count - 1}){measured}"
    )
    if spec.width is None:
        return PayloadTooLarge(f"{detail}; send fewer features per row", field="features")
    return InvalidInput(detail, field="model")


def cast_features(chunk: np.ndarray, dtype: np.dtype, *, row_offset: int) -> np.ndarray:
    """``chunk`` in the model's element type; InvalidInput where a value does not fit."""
    if chunk.dtype == dtype:
        return chunk
    if dtype.kind == "f":
        try:
            with np.errstate(over="raise"):
                return chunk.astype(dtype)
        except FloatingPointError:
            bad = np.isfinite(chunk) & (np.abs(chunk) > np.finfo(dtype).max)
            raise _unfit(chunk, bad, dtype, row_offset, "beyond the range of") from None
    info = np.iinfo(dtype)
    low, high = chunk.min(), chunk.max()
    integral = chunk.dtype.kind in "iu" or bool(np.all(np.trunc(chunk) == chunk))
    if not (integral and low >= info.min and high <= info.max):
        bad = (chunk < info.min) | (chunk > info.max)
        if chunk.dtype.kind == "f":
            bad |= ~np.isfinite(chunk) | (np.trunc(chunk) != chunk)
        raise _unfit(chunk, bad, dtype, row_offset, "no value of")
    return chunk.astype(dtype)


def check_scores(values: np.ndarray, target: ModelOutput, *, rows: int, row_offset: int) -> None:
    """Check one chunk of the output: ``rows`` x C (C >= 2), probabilities or finite
    logits; for the label kinds ``rows`` x L (L >= 1), each in [0, 1] or finite."""
    if target.labels:
        _check_label_scores(values, target, rows=rows, row_offset=row_offset)
        return
    if values.ndim != 2 or values.shape[0] != rows or values.shape[1] < 2:
        raise InvalidInput(
            f"model output {target.name!r} has shape {list(values.shape)} for {rows} rows; "
            f"expected {rows} x C class {target.kind} with C >= 2",
            field="model",
        )
    if target.kind == "logits":
        if not (np.isfinite(values.min()) and np.isfinite(values.max())):
            row = int(np.flatnonzero(~np.isfinite(values).all(axis=1))[0])
            raise InvalidInput(
                f"model output {target.name!r}, row {row + row_offset}, holds a non-finite "
                "logit (NaN or +-Inf)",
                field="model",
            )
        return
    # A matrix-vector product sums the rows several times faster than a
    # reduction along the short axis; NaN or Inf fail the test all the same.
    sums = values @ np.ones(values.shape[1], values.dtype)
    if values.min() >= 0 and np.abs(sums - 1).max() <= PROBABILITY_ATOL:
        return
    bad = ~(np.abs(sums - 1) <= PROBABILITY_ATOL) | (values < 0).any(axis=1)
    row = int(np.flatnonzero(bad)[0])
    raise InvalidInput(
        f"model output {target.name!r} is not class probabilities: row {row + row_offset} "
        f"sums to {float(sums[row]):.6g} with smallest entry {float(values[row].min()):.6g} "
        f"(expected entries >= 0 summing to 1 within {PROBABILITY_ATOL:g}); "
        "send output_kind=logits if the model emits logits",
        field="model",
    )


def _check_label_scores(
    values: np.ndarray, target: ModelOutput, *, rows: int, row_offset: int
) -> None:
    """One chunk of a label output: ``rows`` x L (L >= 1); label_probabilities each
    in [0, 1], label_logits each finite."""
    probabilities = target.kind == "label_probabilities"
    what = "per-label probabilities" if probabilities else "per-label logits"
    if values.ndim != 2 or values.shape[0] != rows or values.shape[1] < 1:
        raise InvalidInput(
            f"model output {target.name!r} has shape {list(values.shape)} for {rows} rows; "
            f"expected {rows} x L {what} with L >= 1",
            field="model",
        )
    low, high = values.min(), values.max()
    if probabilities:
        if low >= 0 and high <= 1:
            return
        bad = ~((values >= 0) & (values <= 1))
    else:
        if np.isfinite(low) and np.isfinite(high):
            return
        bad = ~np.isfinite(values)
    row, label = (int(index[0]) for index in np.nonzero(bad))
    value = float(values[row, label])
    where = f"model output {target.name!r}, row {row + row_offset}, label {label}"
    if not np.isfinite(value):
        noun = "probability" if probabilities else "logit"
        raise InvalidInput(
            f"{where} holds a non-finite {noun} ({value!r}; NaN or +-Inf)", field="model"
        )
    raise InvalidInput(
        f"{where}: {value:.6g} is outside [0, 1]; send output_kind=label_logits if the "
        "model emits logits",
        field="model",
    )


def _run(
    session: ort.InferenceSession,
    feed: dict[str, np.ndarray],
    target: ModelOutput,
    embeddings: str | None,
    start: int,
    count: int,
) -> tuple[np.ndarray, np.ndarray | None]:
    """One run: the class (or label) scores, and the embeddings output when one is named."""
    names = [target.name] if embeddings is None else [target.name, embeddings]
    try:
        values, *extra = session.run(names, feed)
    except ORT_ERRORS as error:
        if is_memory_error(error):
            raise _ArenaFull("cap" if is_over_cap(error) else "system") from None
        raise InvalidInput(
            f"the model failed on rows {start} to {start + count - 1}: {ort_message(error)}",
            field="model",
        ) from None
    embedded = extra[0] if extra else None
    if target.zipmap:
        return _zipmap_rows(values, target, count), embedded
    if not isinstance(values, np.ndarray) or values.dtype.kind != "f":
        got = values.dtype if isinstance(values, np.ndarray) else type(values).__name__
        raise InvalidInput(
            f"model output {target.name!r} holds {got}, expected float "
            f"{'' if target.labels else 'class '}{target.kind}",
            field="model",
        )
    return values.astype(np.float32, copy=False), embedded


def _zipmap_rows(rows: list[dict[object, float]], target: ModelOutput, count: int) -> np.ndarray:
    """A ZipMap's sequence of {class: probability} maps as an (n, c) array, classes
    in the maps' order."""
    n_classes = len(rows[0]) if rows else 0
    try:
        flat = np.fromiter(
            itertools.chain.from_iterable(row.values() for row in rows),
            dtype=np.float32,
            count=len(rows) * n_classes,
        )
    except ValueError:
        raise InvalidInput(
            f"model output {target.name!r}: the maps of class probabilities differ in length",
            field="model",
        ) from None
    return flat.reshape(len(rows), n_classes)


def _unfit(
    chunk: np.ndarray, bad: np.ndarray, dtype: np.dtype, row_offset: int, relation: str
) -> InvalidInput:
    row, column = (int(index[0]) for index in np.nonzero(bad))
    return InvalidInput(
        f"row {row + row_offset}, column {column}: {chunk[row, column].item()!r} is "
        f"{relation} the model's {dtype} input",
        field="features",
    )


def _holds_class_scores(arg: ort.NodeArg) -> bool:
    if arg.type in ZIPMAP_TYPES:
        return True
    dtype = TENSOR_DTYPES.get(arg.type)
    if dtype is None or dtype.kind != "f" or len(arg.shape) != 2:
        return False
    classes = _fixed(arg.shape[1])
    return classes is None or classes >= 2


def _holds_label_scores(arg: ort.NodeArg) -> bool:
    """An N x L float tensor (L >= 1, or not fixed); a ZipMap holds class scores only."""
    dtype = TENSOR_DTYPES.get(arg.type)
    return dtype is not None and dtype.kind == "f" and len(arg.shape) == 2


def _fixed(size: object) -> int | None:
    return size if isinstance(size, int) and not isinstance(size, bool) and size > 0 else None


def _shape(shape: list[object]) -> list[object]:
    return [size if _fixed(size) is not None or isinstance(size, str) else None for size in shape]


def _describe_arg(arg: ort.NodeArg) -> str:
    type_name: str = arg.type
    if type_name.startswith("tensor("):
        return f"{type_name} with shape {_shape(arg.shape)}"
    return type_name


def _list_args(args: list[ort.NodeArg]) -> str:
    return ", ".join(f"{arg.name!r}: {_describe_arg(arg)}" for arg in args)
