"""Turn a schema-valid rank request into one the service must accept.

openapi.yaml states every rule a JSON Schema can hold, but a rank request
also obeys rules that tie fields together, which no schema can state: the
budget counts the pool rows left after ``exclude``; probability rows sum to
1; a strategy takes only the inputs and arrays ``GET /v1/strategies`` lists
for it; the arrays of one request share their pool axis and embeddings their
width; ``features`` fit the model's input; ``candidates`` lie between the
budget and the pool, and ``rounds`` at most the budget; a JSON body carries
the whole request, so no query parameter goes beside it. A request
generated from the document alone breaks one of these almost always, and
its 422 says so rightly.

``rankable`` keeps what it can of a generated request (strategy, pool size,
widths, parameters, options, the numbers themselves) and changes only what
those rules forbid, so that whatever the service still refuses is a request
it should have taken. The rules come from the strategy registry, the same
one the service checks requests against, and from the document's own words.
The repair is a pure function of the request: the same request is always
repaired the same way.
"""

from __future__ import annotations

import dataclasses
import functools
import io
from collections.abc import Mapping
from typing import Any

import numpy as np
import onnxruntime

from service.errors import InvalidInput
from service.jobs.catalog import ARRAY_FIELDS, FEATURE_PARAMS
from service.jobs.features import FEATURES
from service.models.ids import model_id
from service.ranking.inputs import INPUT_KINDS
from service.ranking.params import Param
from service.ranking.registry import get_strategy
from service.ranking.strategy import Strategy
from service.web.schemas import split_query
from tests.fuzz_hooks import valid_models

JSON = "application/json"
NPY = "application/x-npy"
MULTIPART = "multipart/form-data"
BUNDLED_NAME = "digits-logreg"
# A pool the generated request gave no size for.
DEFAULT_ROWS = 3
DEFAULT_WIDTH = 2
# Generated numbers are kept, within a range every array role accepts
# (features are float32, and embeddings' squared distances must stay finite).
VALUE_LIMIT = 1e6
FALLBACK_STRATEGY = "entropy"
CLASS_INPUTS = ("probabilities", "logits")


@dataclasses.dataclass
class RankFields:
    """A rank request independent of how it is sent; arrays are float numpy arrays."""

    strategy: str
    budget: int
    arrays: dict[str, np.ndarray]
    params: dict[str, object]
    exclude: list[int] = dataclasses.field(default_factory=list)
    seed: int | None = None
    normalize: bool = False
    return_all_scores: bool = False
    selection: str = "top"
    beta: float | None = None
    model: str | None = None


@functools.cache
def model_widths() -> dict[str, int]:
    """Input width of every model a fuzzing run stores or finds bundled, by reference."""
    widths = {}
    for data in valid_models():
        session = onnxruntime.InferenceSession(data, providers=["CPUExecutionProvider"])
        widths[model_id(data)] = int(session.get_inputs()[0].shape[1])
    widths[BUNDLED_NAME] = widths[model_id(valid_models()[0])]
    return widths


# --- reading a generated request ---------------------------------------------------


def fields_from_json(body: Mapping[str, Any], query: Mapping[str, Any]) -> RankFields:
    """The request a JSON body holds; query keys the body lacks are taken as fields too."""
    text = {key: value for key, value in query.items() if key not in body}
    fields = fields_from_text(text, {})
    arrays = {name: rectangular(value) for name, value in body.items() if name in ARRAY_FIELDS}
    selection = body.get("selection") or {}
    return dataclasses.replace(
        fields,
        strategy=str(body.get("strategy", fields.strategy)),
        budget=_integer(body.get("budget"), fields.budget),
        arrays=fields.arrays | {k: v for k, v in arrays.items() if v is not None},
        params=fields.params | dict(body.get("params") or {}),
        exclude=[int(i) for i in body.get("exclude", fields.exclude) or []],
        seed=_integer(body.get("seed"), fields.seed),
        normalize=bool(body.get("normalize", fields.normalize)),
        return_all_scores=bool(body.get("return_all_scores", fields.return_all_scores)),
        selection=str(selection.get("method", fields.selection)),
        beta=selection.get("beta", fields.beta),
        # A generated committee names no stored model: the repair ranks with one.
        model=model if isinstance(model := body.get("model", fields.model), str) else None,
    )


def fields_from_text(text: Mapping[str, Any], files: Mapping[str, bytes]) -> RankFields:
    """The request of text fields (query or form) and ``.npy`` files by role."""
    text, params = split_query(dict(text))
    arrays = {name: array for name, data in files.items() if (array := npy_array(data)) is not None}
    beta = _number(text.get("beta"))
    return RankFields(
        strategy=str(text.get("strategy", FALLBACK_STRATEGY)),
        budget=_integer(text.get("budget"), 1),
        arrays=arrays,
        params=params,
        exclude=_index_list(text.get("exclude")),
        seed=_integer(text.get("seed"), None),
        normalize=_boolean(text.get("normalize")),
        return_all_scores=_boolean(text.get("return_all_scores")),
        selection=str(text.get("selection", "top")),
        beta=beta,
        model=None if text.get("model") is None else str(text["model"]),
    )


def rectangular(nested: object) -> np.ndarray | None:
    """Nested lists of numbers as a float array, rows cut to the first row's
    length (the document does not say rows have equal length); None when empty."""
    if not isinstance(nested, list) or not nested:
        return None
    if not isinstance(nested[0], list):
        return np.array([_finite(v) for v in nested], dtype=np.float64)
    rows = [row for item in nested if (row := rectangular(item)) is not None]
    rows = [row for row in rows if row.ndim == rows[0].ndim] if rows else []
    if len(rows) < len(nested):
        return None
    shape = tuple(min(sizes) for sizes in zip(*(row.shape for row in rows), strict=True))
    return np.stack([row[tuple(slice(0, n) for n in shape)] for row in rows])


def _finite(value: object) -> float:
    number = float(value) if isinstance(value, int | float) and not isinstance(value, bool) else 0.0
    return float(np.clip(np.nan_to_num(number), -VALUE_LIMIT, VALUE_LIMIT))


def npy_array(data: bytes) -> np.ndarray | None:
    """The array of a ``.npy`` file, as finite float64; None when it is not one."""
    try:
        array = np.load(io.BytesIO(data), allow_pickle=False)
        if array.dtype.kind not in "fiu" or array.size == 0:
            return None
        return np.clip(np.nan_to_num(array.astype(np.float64)), -VALUE_LIMIT, VALUE_LIMIT)
    except (ValueError, OSError, EOFError, TypeError):
        return None


def _integer(value: object, default: Any) -> Any:
    """``value`` (an int, an integral float or text) as an int; ``default`` otherwise."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    try:
        return int(str(value)) if value is not None and not isinstance(value, bool) else default
    except ValueError:
        return default


def _number(value: object) -> float | None:
    try:
        return float(str(value)) if value is not None else None
    except ValueError:
        return None


def _boolean(value: object) -> bool:
    return str(value).lower() in {"true", "1"}


def _index_list(value: object) -> list[int]:
    if value is None:
        return []
    return [int(item) for item in str(value).split(",") if item.strip().lstrip("-").isdigit()]


# --- the repair ---------------------------------------------------------------------


def rankable(fields: RankFields, media_type: str) -> RankFields:
    """``fields`` changed as little as the service's cross-field rules demand."""
    try:
        strategy = get_strategy(fields.strategy)
    except InvalidInput:
        # A multipart probe of schemathesis' coverage phase sends empty form fields.
        fields = dataclasses.replace(fields, strategy=FALLBACK_STRATEGY)
        strategy = get_strategy(FALLBACK_STRATEGY)
    input_name = _input_name(fields, strategy)
    if media_type == NPY and len(strategy.arrays) + (input_name is not None) > 1:
        # One .npy body carries one array: keep the input, take a strategy that needs no other.
        strategy = get_strategy(FALLBACK_STRATEGY)
    rows = _pool_rows(fields)
    arrays = _arrays(fields, strategy, input_name, rows)
    if media_type == NPY:
        arrays = {name: arrays[name] for name in list(arrays)[:1]}
    declared = _declared_params(strategy, input_name, fields.params)
    params = {
        key: typed
        for key, value in fields.params.items()
        if key in declared and (typed := _typed(declared[key], value)) is not None
    }
    exclude = sorted({index for index in fields.exclude if 0 <= index < rows})[: rows - 1]
    budget = min(max(fields.budget, 1), rows - len(exclude))
    if strategy.name == "cluster_margin":
        params = _cluster_params(params, budget, rows - len(exclude))
    if "rounds" in params:  # discriminative: sub-batches, at most the budget
        params["rounds"] = min(_integer(params["rounds"], 1), budget)
    described = strategy.describe()
    return RankFields(
        strategy=fields.strategy if get_strategy(fields.strategy) is strategy else strategy.name,
        budget=budget,
        arrays=arrays,
        params=params,
        exclude=exclude,
        seed=fields.seed,
        normalize=fields.normalize and input_name in {"probabilities", "samples"},
        return_all_scores=fields.return_all_scores and bool(described["pointwise"]),
        selection=fields.selection if fields.selection in described["selections"] else "top",
        beta=fields.beta,
        model=_model(fields) if input_name == FEATURES else None,
    )


def _input_name(fields: RankFields, strategy: Strategy) -> str | None:
    """The request's input: features when a known model can score them for this strategy,
    else the first generated input the strategy takes, else the first it takes."""
    takes_classes = any(kind in strategy.inputs for kind in CLASS_INPUTS)
    if takes_classes and (fields.model in model_widths() or FEATURES in fields.arrays):
        return FEATURES
    for kind in strategy.inputs:
        if kind in fields.arrays:
            return kind
    return strategy.inputs[0] if strategy.inputs else None


def _model(fields: RankFields) -> str:
    return fields.model if fields.model in model_widths() else BUNDLED_NAME


def _pool_rows(fields: RankFields) -> int:
    for name in ("probabilities", "logits", FEATURES, "embeddings"):
        if name in fields.arrays:
            return int(fields.arrays[name].shape[0])
    if "samples" in fields.arrays:
        layout = str(fields.params.get("layout", "NTC"))
        return int(fields.arrays["samples"].shape[layout.index("N")])
    return DEFAULT_ROWS


def _arrays(
    fields: RankFields, strategy: Strategy, input_name: str | None, rows: int
) -> dict[str, np.ndarray]:
    """The input first, then the other arrays the strategy needs or may take."""
    arrays: dict[str, np.ndarray] = {}
    if input_name == FEATURES:
        width = model_widths()[_model(fields)]
        arrays[FEATURES] = _resized(fields.arrays.get(FEATURES), (rows, width))
    elif input_name == "samples":
        arrays["samples"] = _samples(fields, rows)
    elif input_name is not None:
        generated = fields.arrays.get(input_name)
        classes = max(2, generated.shape[-1] if generated is not None else 2)
        values = _resized(generated, (rows, classes))
        arrays[input_name] = _softmax(values) if input_name == "probabilities" else values
    width = _embedding_width(fields)
    if "embeddings" in strategy.arrays or "embeddings" in strategy.optional_arrays:
        arrays["embeddings"] = _resized(fields.arrays.get("embeddings"), (rows, width))
    labeled = fields.arrays.get("labeled_embeddings")
    wanted = "labeled_embeddings" in strategy.arrays
    if wanted or ("labeled_embeddings" in strategy.optional_arrays and labeled is not None):
        labeled_rows = labeled.shape[0] if labeled is not None and labeled.ndim == 2 else 1
        arrays["labeled_embeddings"] = _resized(labeled, (labeled_rows, width))
    return arrays


def _embedding_width(fields: RankFields) -> int:
    embeddings = fields.arrays.get("embeddings")
    if embeddings is not None and embeddings.ndim == 2:
        return int(embeddings.shape[1])
    return DEFAULT_WIDTH


def _samples(fields: RankFields, rows: int) -> np.ndarray:
    """Samples in the request's layout: at least 2 passes and 2 classes, each pass a
    distribution (log-probabilities in log space)."""
    layout = str(fields.params.get("layout", "NTC"))
    generated = fields.arrays.get("samples")
    has_axes = generated is not None and generated.ndim == 3
    sizes = dict(zip(layout, generated.shape, strict=True)) if has_axes else {}
    shape = (rows, max(2, sizes.get("T", 2)), max(2, sizes.get("C", 2)))
    in_layout = _resized(generated, tuple(shape["NTC".index(axis)] for axis in layout))
    standard = np.moveaxis(in_layout, [layout.index(axis) for axis in "NTC"], [0, 1, 2])
    distributions = _softmax(standard)
    if fields.params.get("space") == "log":
        distributions = np.log(distributions)
    return np.moveaxis(distributions, [0, 1, 2], [layout.index(axis) for axis in "NTC"])


def _resized(generated: np.ndarray | None, shape: tuple[int, ...]) -> np.ndarray:
    """An array of ``shape`` holding the generated numbers, repeated where too few."""
    if generated is None or generated.size == 0:
        base = np.linspace(-1.0, 1.0, int(np.prod(shape))) if np.prod(shape) else np.zeros(0)
    else:
        base = np.resize(generated.ravel(), int(np.prod(shape)))
    return base.reshape(shape)


def _softmax(values: np.ndarray) -> np.ndarray:
    """Rows along the last axis made into distributions (kept close to uniform where
    the generated numbers are huge, so no class underflows far)."""
    scaled = values / (1.0 + np.abs(values).max())
    shifted = np.exp(scaled - scaled.max(axis=-1, keepdims=True))
    return shifted / shifted.sum(axis=-1, keepdims=True)


def _declared_params(
    strategy: Strategy, input_name: str | None, generated: Mapping[str, object]
) -> dict[str, Param]:
    """The parameters the strategy and the input declare, by name (a model's
    ``output`` and ``embeddings_output`` left out: a generated name is no output
    of the model; ``passes`` too: the models fuzzing stores have no dropout)."""
    params = list(strategy.params)
    if input_name == FEATURES:
        params += [
            param
            for param in FEATURE_PARAMS
            if param.name not in ("output", "embeddings_output", "passes")
        ]
        if generated.get("output_kind") == "logits":
            params += INPUT_KINDS["logits"].params
    elif input_name is not None:
        params += INPUT_KINDS[input_name].params
    return {param.name: param for param in params}


def _typed(param: Param, value: object) -> object:
    """``value`` (typed, or text from a query or form) as ``param``'s JSON type; None
    when text does not parse, which schema-valid text always does."""
    if not isinstance(value, str) or param.kind == "string":
        return value
    if param.kind == "boolean":
        return value.lower() == "true"
    number = _number(value)
    if number is None:
        return None
    return int(number) if param.kind == "integer" else number


def _cluster_params(params: dict[str, object], budget: int, available: int) -> dict[str, object]:
    """candidates between the budget and the items available; clusters at most candidates."""
    repaired = dict(params)
    candidates = available
    if "candidates" in params:
        candidates = min(max(_integer(params["candidates"], budget), budget), available)
        repaired["candidates"] = candidates
    elif "clusters" in params:
        candidates = min(available, 10 * budget)
    if "clusters" in params:
        repaired["clusters"] = min(max(_integer(params["clusters"], 1), 1), candidates)
    return repaired


# --- sending it ---------------------------------------------------------------------


def json_body(fields: RankFields) -> dict[str, object]:
    """The request as an application/json body."""
    body: dict[str, object] = {"strategy": fields.strategy, "budget": fields.budget}
    body |= {name: array.tolist() for name, array in fields.arrays.items()}
    optional = {
        "model": fields.model,
        "seed": fields.seed,
        "exclude": fields.exclude or None,
        "params": fields.params or None,
        "normalize": fields.normalize or None,
        "return_all_scores": fields.return_all_scores or None,
    }
    body |= {key: value for key, value in optional.items() if value is not None}
    selection: dict[str, object] = {"method": fields.selection}
    if fields.beta is not None:
        selection["beta"] = fields.beta
    body["selection"] = selection
    return body


def form_fields(fields: RankFields) -> dict[str, object]:
    """The request's scalar fields and parameters as query or form fields, typed as
    the document types them (schemathesis writes them as text)."""
    form: dict[str, object] = {"strategy": fields.strategy, "budget": fields.budget}
    optional = {
        "model": fields.model,
        "seed": fields.seed,
        "exclude": ",".join(map(str, fields.exclude)) or None,
        "normalize": fields.normalize or None,
        "return_all_scores": fields.return_all_scores or None,
        "selection": fields.selection,
        "beta": fields.beta,
    }
    form |= {key: value for key, value in optional.items() if value is not None}
    return form | fields.params
