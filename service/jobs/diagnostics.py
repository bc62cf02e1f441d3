"""What a ranking's pool diagnostics gather: tallies by input kind, and the
agreement with the previous round's predictions a request may send."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from service.decoding.sources import PoolSource
from service.errors import InvalidInput
from service.ranking.agreement import StoppingRule
from service.ranking.checks import check_shape
from service.ranking.diagnostics import DiagnosticsPlan
from service.ranking.inputs import INPUT_KINDS, ArraySpec, ChunkContext, InputKind
from service.ranking.multilabel import THRESHOLD
from service.ranking.params import ParamValues

PREVIOUS_PROBABILITIES = ArraySpec(
    "previous_probabilities",
    "NC",
    "The same pool's class probabilities from the previous round's model, N x C: "
    "diagnostics.agreement compares its predicted classes with this round's.",
)
PREVIOUS_PREDICTIONS = ArraySpec(
    "previous_predictions",
    "N",
    "The previous round's predicted class of each pool item, N class ids in 0 .. C - 1.",
)
PREVIOUS_ROLES: dict[str, ArraySpec] = {
    spec.name: spec for spec in (PREVIOUS_PROBABILITIES, PREVIOUS_PREDICTIONS)
}
# The kinds whose items each have one class distribution to compare.
COMPARABLE_KINDS = tuple(
    name for name, kind in INPUT_KINDS.items() if kind.unit == "item" and kind.yields != "labels"
)


def split_previous(
    sources: Mapping[str, PoolSource],
) -> tuple[dict[str, PoolSource], dict[str, PoolSource]]:
    """(the previous round's arrays, every other array) of a request's ``sources``."""
    previous = {name: source for name, source in sources.items() if name in PREVIOUS_ROLES}
    others = {name: source for name, source in sources.items() if name not in PREVIOUS_ROLES}
    return previous, others


def diagnostics_plan(
    kind: InputKind | None,
    params: ParamValues,
    *,
    previous: Mapping[str, PoolSource] | None = None,
    pool_size: int = 0,
    n_classes: int = 0,
    normalize: bool = False,
    stopping: StoppingRule | None = None,
) -> DiagnosticsPlan:
    """Class tallies for class distributions (per token for a token kind), label
    tallies at the request's threshold (else its default) for multi-label
    kinds, none for a strategy without such an input; with the previous
    round's classes (n,) when the request sent them, checked against the
    pool's ``pool_size`` items and ``n_classes`` classes."""
    previous_classes = _previous_classes(previous or {}, kind, pool_size, n_classes, normalize)
    if stopping is not None and previous_classes is None:
        raise InvalidInput(
            "stopping judges the agreement with the previous round: send "
            f"{PREVIOUS_PROBABILITIES.name} or {PREVIOUS_PREDICTIONS.name} with it",
            field="stopping",
        )
    if kind is None:
        return DiagnosticsPlan()
    if kind.yields == "labels":
        threshold = params.get(THRESHOLD.name, THRESHOLD.default)
        if not isinstance(threshold, int | float):
            raise TypeError(f"{THRESHOLD.name} must be a number, got {threshold!r}")
        return DiagnosticsPlan(tally="labels", unit="labels", threshold=float(threshold))
    return DiagnosticsPlan(
        tally="classes",
        unit="tokens" if kind.unit == "token" else "items",
        previous_classes=previous_classes,
        stopping=stopping,
    )


def _previous_classes(
    previous: Mapping[str, PoolSource],
    kind: InputKind | None,
    pool_size: int,
    n_classes: int,
    normalize: bool,
) -> np.ndarray | None:
    """The previous round's class of each pool item (n,) int32, or None."""
    if not previous:
        return None
    if len(previous) > 1:
        raise InvalidInput(
            f"send {PREVIOUS_PROBABILITIES.name} or {PREVIOUS_PREDICTIONS.name}, not both",
            field=PREVIOUS_PREDICTIONS.name,
        )
    ((name, source),) = previous.items()
    if kind is None or kind.name not in COMPARABLE_KINDS:
        sent = "no class input" if kind is None else kind.name
        raise InvalidInput(
            f"{name} is compared with this round's predicted class of each item, from "
            f"{', '.join(COMPARABLE_KINDS)}; this request sends {sent}",
            field=name,
        )
    spec = PREVIOUS_ROLES[name]
    check_shape(source.shape, name=name, axes=spec.axes)
    if source.shape[0] != pool_size:
        raise InvalidInput(
            f"{name} has {source.shape[0]} rows but the pool has {pool_size} items: "
            "send the previous round's predictions for the same pool, in its order",
            field=name,
        )
    values = source.read_all()
    if spec is PREVIOUS_PROBABILITIES:
        return _classes_of_probabilities(values, name, n_classes, normalize)
    return _class_ids(values, name, n_classes)


def _classes_of_probabilities(
    rows: np.ndarray, name: str, n_classes: int, normalize: bool
) -> np.ndarray:
    if rows.shape[1] != n_classes:
        raise InvalidInput(
            f"{name} has {rows.shape[1]} classes but this round's input has {n_classes}",
            field=name,
        )
    # The same checks as a probabilities input (finite, in [0, 1], rows summing to 1).
    checked = INPUT_KINDS["probabilities"].prepare(
        rows, ChunkContext(name, 0, {}, normalize=normalize)
    )
    classes: np.ndarray = np.argmax(checked, axis=0).astype(np.int32)
    return classes


def _class_ids(values: np.ndarray, name: str, n_classes: int) -> np.ndarray:
    numbers = np.asarray(values)
    if numbers.dtype.kind not in "iuf":
        raise InvalidInput(f"{name} must hold class ids, got dtype {numbers.dtype}", field=name)
    bad = ~np.isfinite(numbers) if numbers.dtype.kind == "f" else np.zeros(numbers.shape, bool)
    with np.errstate(invalid="ignore"):
        bad |= (numbers < 0) | (numbers >= n_classes) | (numbers != np.floor(numbers))
    if bad.any():
        item = int(np.flatnonzero(bad)[0])
        raise InvalidInput(
            f"item {item} is {numbers[item].item()!r}: expected a class id, a whole number "
            f"in 0 .. {n_classes - 1}",
            field=name,
        )
    return numbers.astype(np.int32)
