"""Turn a schema-valid rank request into one the service must accept.

openapi.yaml states every rule a JSON Schema can hold, but a rank request
also obeys rules that tie fields together, which no schema can state: the
budget counts the pool rows left after ``exclude``; probability rows sum to
1; a strategy takes only the inputs and arrays ``GET /v1/strategies`` lists
for it; the arrays of one request share their pool axis and embeddings their
width; ``features`` fit the model's input; ``candidates`` lie between the
budget and the pool, and ``rounds`` at most the budget; a JSON body carries
the whole request, so no query parameter goes beside it. Token kinds hold
the tokens of sequences, with ``lengths`` beside them (or, in JSON, a list
of sequences instead), so that one ``.npy`` body cannot carry them; label
probabilities lie in [0, 1] and ``labeled_labels`` are 0 and 1 with the
pool's labels; label_cardinality_inconsistency takes the label cardinality
or ``labeled_labels``, not both; ``params.aggregate`` goes only to a
strategy that aggregates its units, and ``return_token_scores`` only with a
token kind and a strategy that scores tokens. A request
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
from scipy.special import expit

from service.errors import InvalidInput
from service.jobs.catalog import ARRAY_FIELDS, FEATURE_PARAMS, LENGTHS, TOKEN_FIELDS
from service.jobs.features import FEATURES
from service.models.ids import model_id
from service.ranking.inputs import AGGREGATE, ARRAY_ROLES, INPUT_KINDS, SPACE, InputKind
from service.ranking.multilabel import LABEL_CARDINALITY, LABELED_LABELS
from service.ranking.params import Param
from service.ranking.registry import get_strategy
from service.ranking.strategy import Strategy
from service.web.schemas import split_query
from tests.fuzz_hooks import MAX_ROWS, valid_models

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
# What a model's output is ranked as: the input kinds among its choices.
OUTPUT_KIND = next(param for param in FEATURE_PARAMS if param.name == "output_kind")
# The most tokens a repaired sequence holds: a generated length may be any whole number.
MAX_TOKENS = 8
# The labeled items' mean label count, for label_cardinality_inconsistency
# when the request gives neither it nor labeled_labels.
DEFAULT_CARDINALITY = 1.0


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
    return_token_scores: bool = False
    selection: str = "top"
    beta: float | None = None
    model: str | None = None
    # A token kind sent in JSON as a list of sequences, its lengths implied.
    sequence_lists: bool = False


@functools.cache
def model_widths() -> dict[str, int]:
    """Input width of every model a fuzzing run stores or finds bundled, by reference."""
    return {reference: shapes[0] for reference, shapes in _model_shapes().items()}


@functools.cache
def model_classes() -> dict[str, int]:
    """Columns of the first N x C output (the one ranked) of every model, by reference."""
    return {reference: shapes[1] for reference, shapes in _model_shapes().items()}


@functools.cache
def _model_shapes() -> dict[str, tuple[int, int]]:
    shapes = {}
    for data in valid_models():
        session = onnxruntime.InferenceSession(data, providers=["CPUExecutionProvider"])
        ranked = next(output for output in session.get_outputs() if len(output.shape) == 2)
        shapes[model_id(data)] = (int(session.get_inputs()[0].shape[1]), int(ranked.shape[1]))
    shapes[BUNDLED_NAME] = shapes[model_id(valid_models()[0])]
    return shapes


# --- reading a generated request ---------------------------------------------------


def fields_from_json(body: Mapping[str, Any], query: Mapping[str, Any]) -> RankFields:
    """The request a JSON body holds; query keys the body lacks are taken as fields too."""
    text = {key: value for key, value in query.items() if key not in body}
    fields = fields_from_text(text, {})
    # Without lengths, a token kind is a list of sequences (as the service reads it).
    lists = LENGTHS.name not in body and any(name in body for name in TOKEN_FIELDS)
    arrays = {
        name: rectangular(value)
        for name, value in body.items()
        if name in ARRAY_FIELDS and not (lists and name in TOKEN_FIELDS)
    }
    for name, unit_rank in TOKEN_FIELDS.items():
        if lists and (found := sequences(body.get(name), unit_rank)) is not None:
            arrays[name] = found[0]
            arrays.setdefault(LENGTHS.name, found[1])
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
        return_token_scores=bool(body.get("return_token_scores", fields.return_token_scores)),
        selection=str(selection.get("method", fields.selection)),
        beta=selection.get("beta", fields.beta),
        # A generated committee names no stored model: the repair ranks with one.
        model=model if isinstance(model := body.get("model", fields.model), str) else None,
        sequence_lists=lists,
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
        return_token_scores=_boolean(text.get("return_token_scores")),
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


def sequences(nested: object, unit_rank: int) -> tuple[np.ndarray, np.ndarray] | None:
    """A JSON list of sequences of tokens as (token rows, tokens per sequence): the
    rows flat (sum of lengths) x ..., each token of ``unit_rank`` axes sized as the
    first token that has them (2 each when none has), holding the tokens' numbers;
    None when it is no list of lists."""
    if not isinstance(nested, list) or not nested or not all(isinstance(s, list) for s in nested):
        return None
    tokens = [token for sequence in nested for token in sequence]
    rows = [rectangular(token) if isinstance(token, list) else None for token in tokens]
    shapes = [row.shape for row in rows if row is not None and row.ndim == unit_rank]
    unit = shapes[0] if shapes else (DEFAULT_WIDTH,) * unit_rank
    numbers = [
        row.ravel() if row is not None else np.array([_finite(token)])
        for token, row in zip(tokens, rows, strict=True)
        if row is not None or not isinstance(token, list)
    ]
    generated = np.concatenate(numbers) if numbers else None
    lengths = np.array([len(sequence) for sequence in nested], dtype=np.int64)
    return _resized(generated, (len(tokens), *unit)), lengths


def _finite(value: object) -> float:
    if not isinstance(value, int | float) or isinstance(value, bool):
        return 0.0
    try:
        number = float(value)
    except OverflowError:  # an integer past float64's range
        number = VALUE_LIMIT if value > 0 else -VALUE_LIMIT
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
    if media_type == NPY:
        strategy, input_name, fields = _one_array(fields, strategy, input_name)
    kind = INPUT_KINDS.get(input_name or "")
    # The document fuzzing generates from caps pools at MAX_ROWS rows (not its
    # sequences and labels): a pool sized from those could not be sent as features.
    rows = min(_pool_rows(fields), MAX_ROWS)
    lengths = _lengths(fields, kind, rows) if kind is not None and kind.lengths else None
    arrays = _arrays(fields, strategy, input_name, rows, lengths)
    if media_type == NPY:
        arrays = {name: arrays[name] for name in list(arrays)[:1]}
    params = _params(fields, strategy, input_name, arrays)
    exclude, available = _exclude(fields.exclude, rows, lengths)
    budget = min(max(fields.budget, 1), available)
    if strategy.name == "cluster_margin":
        params = _cluster_params(params, budget, available)
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
        normalize=fields.normalize and kind is not None and kind.normalizable,
        return_all_scores=fields.return_all_scores and bool(described["pointwise"]),
        return_token_scores=fields.return_token_scores and _scores_tokens(strategy, kind),
        selection=fields.selection if fields.selection in described["selections"] else "top",
        beta=fields.beta,
        model=_model(fields) if input_name == FEATURES else None,
        sequence_lists=fields.sequence_lists and media_type == JSON and lengths is not None,
    )


def _scores_tokens(strategy: Strategy, kind: InputKind | None) -> bool:
    """Whether the strategy scores each token of ``kind``'s sequences (and can return them)."""
    return kind is not None and kind.unit == "token" and strategy.unit_scores != "item"


def _input_name(fields: RankFields, strategy: Strategy) -> str | None:
    """The request's input: features when a known model can score them for this strategy
    (its output ranked as an input the strategy takes), else the first generated input
    the strategy takes, else the first it takes."""
    scored = any(kind in strategy.inputs for kind in OUTPUT_KIND.choices)
    if scored and (fields.model in model_widths() or FEATURES in fields.arrays):
        return FEATURES
    for kind in strategy.inputs:
        if kind in fields.arrays:
            return kind
    return strategy.inputs[0] if strategy.inputs else None


def _needs_lengths(input_name: str | None) -> bool:
    kind = INPUT_KINDS.get(input_name or "")
    return kind is not None and kind.lengths is not None


def _one_array(
    fields: RankFields, strategy: Strategy, input_name: str | None
) -> tuple[Strategy, str | None, RankFields]:
    """A strategy and input that one .npy body serves alone: the strategy kept when it
    needs no other array and takes an input without lengths (the one checked as the
    generated one is: probabilities for token_probabilities, say), else the fallback;
    a token kind's numbers go to the input that replaces it."""
    needed = len(strategy.arrays) + (input_name is not None) + _needs_lengths(input_name)
    if needed <= 1:
        return strategy, input_name, fields
    if strategy.arrays or _counterpart(strategy, input_name) is None:
        strategy = get_strategy(FALLBACK_STRATEGY)
        input_name = _input_name(fields, strategy)
    if not _needs_lengths(input_name):
        return strategy, input_name, fields
    replacement = _counterpart(strategy, input_name)
    body = list(fields.arrays.values())[:1]  # the one array of a .npy body, if readable
    arrays = {replacement: body[0]} if replacement is not None and body else {}
    return strategy, replacement, dataclasses.replace(fields, arrays=arrays)


def _counterpart(strategy: Strategy, input_name: str | None) -> str | None:
    """An input ``strategy`` takes that needs no lengths, checked as ``input_name`` is
    where one is; None when it takes none."""
    options = [name for name in strategy.inputs if not _needs_lengths(name)]
    kind = INPUT_KINDS.get(input_name or "")
    alike = [name for name in options if kind is not None and INPUT_KINDS[name].check is kind.check]
    return (alike or options or [None])[0]


def _model(fields: RankFields) -> str:
    return fields.model if fields.model in model_widths() else BUNDLED_NAME


def _output_kind(params: Mapping[str, object], strategy: Strategy) -> InputKind:
    """The kind a model's output is ranked as: the generated output_kind where the
    strategy takes it, else the first kind of output the strategy takes."""
    kinds = [kind for kind in OUTPUT_KIND.choices if kind in strategy.inputs]
    generated = params.get(OUTPUT_KIND.name)
    return INPUT_KINDS[generated if generated in kinds else kinds[0]]


def _pool_rows(fields: RankFields) -> int:
    """The generated pool size: the items of the first input generated (sequences
    of a token kind: its lengths' size, or the first axis of a padded or flat array,
    a flat one's rows taken as sequences of one token), else features' or
    embeddings' rows, else the sequences of a lengths array alone."""
    for name, kind in INPUT_KINDS.items():
        array = fields.arrays.get(name)
        if array is None:
            continue
        lengths = fields.arrays.get(kind.lengths.name) if kind.lengths else None
        if lengths is not None and lengths.ndim == 1:
            return int(lengths.shape[0])
        axes = _sent_axes(kind, fields.params)
        return int(array.shape[axes.index("N")] if array.ndim == len(axes) else array.shape[0])
    for name in (FEATURES, "embeddings", LENGTHS.name):
        if name in fields.arrays:
            return int(fields.arrays[name].shape[0])
    return DEFAULT_ROWS


def _sent_axes(kind: InputKind, params: Mapping[str, object]) -> str:
    """The axes ``kind`` is sent in: its layout parameter's, when valid; the pool
    axis N in place of a token kind's R (one item a sequence)."""
    axes = kind.axes.replace("R", "N")
    if kind.layout_param is None:
        return axes
    layout = str(params.get(kind.layout_param, axes))
    return layout if sorted(layout) == sorted(axes) else axes


def _padded(array: np.ndarray | None, kind: InputKind) -> bool:
    """Whether a token kind's array is N x L_max x ... rather than flat."""
    return array is not None and array.ndim == len(kind.axes) + 1


def _lengths(fields: RankFields, kind: InputKind, rows: int) -> np.ndarray:
    """Tokens per sequence: the generated lengths (cut into 0 to MAX_TOKENS), else a
    padded array's L_max, else one token each; one sequence at least has a token."""
    generated = fields.arrays.get(LENGTHS.name)
    tokens = fields.arrays.get(kind.name)
    if generated is not None and generated.ndim == 1:
        values = np.resize(generated, rows)
    elif tokens is not None and _padded(tokens, kind):
        values = np.full(rows, tokens.shape[1])
    else:
        values = np.ones(rows)
    lengths = np.clip(np.floor(values), 0, MAX_TOKENS).astype(np.int64)
    if not lengths.any():
        lengths[0] = 1
    return lengths


def _exclude(generated: list[int], rows: int, lengths: np.ndarray | None) -> tuple[list[int], int]:
    """The generated indices within the pool, one pickable item (a sequence with
    tokens) left out of them at least; and how many pickable items remain."""
    exclude = sorted({index for index in generated if 0 <= index < rows})
    pickable = [i for i in range(rows) if lengths is None or lengths[i] > 0]
    if set(pickable) <= set(exclude):
        exclude.remove(pickable[-1])
    return exclude, len(set(pickable) - set(exclude))


def _arrays(
    fields: RankFields,
    strategy: Strategy,
    input_name: str | None,
    rows: int,
    lengths: np.ndarray | None,
) -> dict[str, np.ndarray]:
    """The input first (and its lengths), then the other arrays the strategy needs or
    may take."""
    arrays: dict[str, np.ndarray] = {}
    kind = INPUT_KINDS.get(input_name or "")
    sizes = {"N": rows, "D": _embedding_width(fields)}
    if input_name == FEATURES:
        width = model_widths()[_model(fields)]
        arrays[FEATURES] = _resized(fields.arrays.get(FEATURES), (rows, width))
        if "L" in _output_kind(fields.params, strategy).axes:
            sizes["L"] = model_classes()[_model(fields)]
    elif input_name == "samples":
        arrays["samples"] = _samples(fields, rows)
    elif kind is not None and lengths is not None:
        arrays[kind.name] = _tokens(fields, kind, lengths)
        arrays[LENGTHS.name] = lengths
    elif kind is not None:
        generated = fields.arrays.get(kind.name)
        shape = (rows, *_unit_sizes(generated, kind.axes[1:]))
        arrays[kind.name] = _valid_values(kind, _resized(generated, shape), fields.params)
    if kind is not None and "L" in kind.axes:
        sizes["L"] = arrays[kind.name].shape[kind.axes.index("L")]
    for role, spec in ARRAY_ROLES.items():
        generated = fields.arrays.get(role)
        if role in strategy.arrays or (role in strategy.optional_arrays and generated is not None):
            # M, the labeled items: as many as generated, 1 at least.
            labeled = generated.shape[0] if generated is not None and generated.ndim == 2 else 1
            values = _resized(generated, tuple(sizes.get(axis, labeled) for axis in spec.axes))
            arrays[role] = (values >= 0.5).astype(np.float64) if role == LABELED_LABELS else values
    return arrays


def _tokens(fields: RankFields, kind: InputKind, lengths: np.ndarray) -> np.ndarray:
    """A token kind's array for ``lengths``: padded when generated padded (and not
    sent as JSON lists), flat otherwise, each token as wide as generated."""
    generated = fields.arrays.get(kind.name)
    unit = _unit_sizes(generated, kind.axes[1:])
    if _padded(generated, kind) and not fields.sequence_lists:
        assert generated is not None
        longest = max(min(generated.shape[1], MAX_TOKENS), int(lengths.max()))
        shape: tuple[int, ...] = (lengths.shape[0], longest, *unit)
    else:
        shape = (int(lengths.sum()), *unit)
    return _valid_values(kind, _resized(generated, shape), fields.params)


def _unit_sizes(generated: np.ndarray | None, axes: str) -> tuple[int, ...]:
    """Sizes of an array's last axes ``axes``: the generated array's where it has more
    axes than these, and at least what the service needs (2 classes, 2 passes, 1 of
    any other)."""
    has = generated is not None and generated.ndim > len(axes)
    sizes = generated.shape[generated.ndim - len(axes) :] if has else (0,) * len(axes)
    return tuple(
        max(2 if axis in "CT" else 1, size) for axis, size in zip(axes, sizes, strict=True)
    )


def _valid_values(kind: InputKind, values: np.ndarray, params: Mapping[str, object]) -> np.ndarray:
    """``values`` as ``kind`` holds them: as they are where a transform makes them
    probabilities (logits), in [0, 1] for independent labels (the generated ones
    already there kept, a sigmoid of the others), else distributions along the last
    axis (log-probabilities for samples in log space)."""
    if kind.transform is not None:
        return values
    if kind.yields == "labels":
        return np.where((values >= 0) & (values <= 1), values, expit(values))
    distributions = _softmax(values)
    if kind.yields == "samples" and params.get(SPACE.name) == "log":
        return np.log(distributions)
    return distributions


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


def _params(
    fields: RankFields, strategy: Strategy, input_name: str | None, arrays: Mapping[str, object]
) -> dict[str, object]:
    """The generated parameters the strategy and input declare, typed; the label
    cardinality for a strategy that needs it, unless labeled_labels give it."""
    declared = _declared_params(strategy, input_name, fields.params)
    params = {
        key: typed
        for key, value in fields.params.items()
        if key in declared and (typed := _typed(declared[key], value)) is not None
    }
    if input_name == FEATURES:
        ranked = _output_kind(fields.params, strategy).name
        if ranked != OUTPUT_KIND.default or OUTPUT_KIND.name in params:
            params[OUTPUT_KIND.name] = ranked
    if any(param is LABEL_CARDINALITY for param in strategy.params):
        if LABELED_LABELS in arrays:
            params.pop(LABEL_CARDINALITY.name, None)
        else:
            params.setdefault(LABEL_CARDINALITY.name, DEFAULT_CARDINALITY)
    return params


def _declared_params(
    strategy: Strategy, input_name: str | None, generated: Mapping[str, object]
) -> dict[str, Param]:
    """The parameters the strategy and the input declare, by name (a model's
    ``output`` and ``embeddings_output`` left out: a generated name is no output
    of the model; ``passes`` too: the models fuzzing stores have no dropout; and
    ``aggregate`` where the strategy does not aggregate the input's units)."""
    params = list(strategy.params)
    if input_name == FEATURES:
        params += [
            param
            for param in FEATURE_PARAMS
            if param.name not in ("output", "embeddings_output", "passes")
        ]
        params += _kind_params(strategy, _output_kind(generated, strategy))
    elif input_name is not None:
        params += _kind_params(strategy, INPUT_KINDS[input_name])
    return {param.name: param for param in params}


def _kind_params(strategy: Strategy, kind: InputKind) -> list[Param]:
    """The parameters of ``kind``, aggregate only for a strategy that aggregates units."""
    aggregates = not kind.has_units or strategy.unit_scores == "aggregated"
    return [param for param in kind.params if param is not AGGREGATE or aggregates]


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
    if fields.sequence_lists and LENGTHS.name in fields.arrays:
        del body[LENGTHS.name]
        for name in TOKEN_FIELDS:
            if name in fields.arrays:
                body[name] = _split(fields.arrays[name], fields.arrays[LENGTHS.name])
    optional = {
        "model": fields.model,
        "seed": fields.seed,
        "exclude": fields.exclude or None,
        "params": fields.params or None,
        "normalize": fields.normalize or None,
        "return_all_scores": fields.return_all_scores or None,
        "return_token_scores": fields.return_token_scores or None,
    }
    body |= {key: value for key, value in optional.items() if value is not None}
    selection: dict[str, object] = {"method": fields.selection}
    if fields.beta is not None:
        selection["beta"] = fields.beta
    body["selection"] = selection
    return body


def _split(tokens: np.ndarray, lengths: np.ndarray) -> list[object]:
    """Flat token rows as a list of sequences, sequence i its lengths[i] tokens."""
    ends = np.cumsum(lengths)
    return [tokens[end - length : end].tolist() for end, length in zip(ends, lengths, strict=True)]


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
        "return_token_scores": fields.return_token_scores or None,
        "selection": fields.selection,
        "beta": fields.beta,
    }
    form |= {key: value for key, value in optional.items() if value is not None}
    return form | fields.params
