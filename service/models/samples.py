"""Several runs over the same feature rows, stacked as samples: the members of
a committee, or one model's Monte-Carlo dropout passes.

``predict_samples`` runs every member (each ``passes`` times) over one block
of rows before it moves to the next, and yields each block as
``(first row, (rows, K x passes, C) float32 class probabilities)``: the
N x T x C samples the Bayesian and committee strategies score, never held
whole. A block's rows are those of one member's run (see
inference.plan_runs), fewer when the stacked block would pass
``max_block_bytes``. Logits are turned into probabilities by a softmax.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
from scipy.special import softmax

from service.errors import InvalidInput
from service.models.inference import PlannedRuns

MAX_MEMBERS = 16
MIN_PASSES, MAX_PASSES = 2, 100
# The stacked samples of one block: 8192 rows of 16 members x 10 classes fit.
SAMPLES_BLOCK_BYTES = 32 << 20
_FLOAT32_BYTES = 4


@dataclass(frozen=True)
class SampleMember:
    """One model of the samples: the name errors give it (its id) and its runs."""

    name: str
    runs: PlannedRuns


def check_same_width(widths: Sequence[tuple[str, int | None]]) -> None:
    """Refuse committee members, as (name, fixed input width or None), whose
    inputs take different numbers of features (field model)."""
    _check_same(widths, "takes {} features per row")


def predict_samples(
    members: Sequence[SampleMember],
    features: np.ndarray,
    *,
    passes: int = 1,
    max_block_bytes: int = SAMPLES_BLOCK_BYTES,
) -> Iterator[tuple[int, np.ndarray]]:
    """(first row, (rows, len(members) x passes, C) float32 probabilities) per
    block of ``features`` (n, d).

    With ``passes`` > 1 the first block is checked to differ between passes:
    a model whose dropout does not change its output is refused (field
    params.passes) rather than given back as identical samples.
    """
    _check_same(
        [(member.name, member.runs.target.classes) for member in members], "gives {} classes"
    )
    n_rows = features.shape[0]
    rows = _block_rows(members, len(members) * passes, max_block_bytes)
    start = 0
    while start < n_rows:
        block = features[start : start + rows]
        stacked = _stacked(members, block, start, passes)
        if start == 0 and passes > 1:
            _check_passes_differ(stacked, members[0].name)
        yield start, stacked
        start += block.shape[0]
        # The class count is known now: later blocks keep within the bound.
        per_row = stacked.shape[1] * stacked.shape[2] * _FLOAT32_BYTES
        rows = max(1, min(rows, max_block_bytes // per_row))


def _block_rows(members: Sequence[SampleMember], columns: int, max_bytes: int) -> int:
    """Rows per block: the fewest any member runs at once (a model of fixed
    batch runs its own batches inside a block), within ``max_bytes`` when the
    signatures fix the class count."""
    free = [member.runs.rows for member in members if member.runs.spec.batch is None]
    rows = min(free) if free else max(member.runs.rows for member in members)
    classes = members[0].runs.target.classes
    if classes is not None:
        rows = min(rows, max(1, max_bytes // (columns * classes * _FLOAT32_BYTES)))
    return rows


def _stacked(
    members: Sequence[SampleMember], block: np.ndarray, start: int, passes: int
) -> np.ndarray:
    """The block's samples (rows, K x passes, C): a view of one run per
    contiguous (rows, C) slab, so stacking a run is one copy."""
    slabs: np.ndarray | None = None
    column = 0
    for member in members:
        for _ in range(passes):
            scores = _probabilities(member, block, start)
            if slabs is None:
                slabs = np.empty(
                    (len(members) * passes, block.shape[0], scores.shape[1]), np.float32
                )
            elif scores.shape[1] != slabs.shape[2]:
                raise InvalidInput(
                    f"committee members disagree: {members[0].name} gives {slabs.shape[2]} "
                    f"classes, {member.name} gives {scores.shape[1]}",
                    field="model",
                )
            slabs[column] = scores
            column += 1
    if slabs is None:
        raise ValueError("samples need at least one member")
    return slabs.transpose(1, 0, 2)


def _probabilities(member: SampleMember, block: np.ndarray, start: int) -> np.ndarray:
    """One run of ``member`` over ``block`` as (rows, c) class probabilities."""
    pieces = [scores for _, scores, _ in member.runs.chunks(block, row_offset=start)]
    scores = pieces[0] if len(pieces) == 1 else np.concatenate(pieces)
    if member.runs.target.kind == "logits":
        return softmax(scores, axis=1).astype(np.float32, copy=False)
    return scores


def _check_passes_differ(stacked: np.ndarray, name: str) -> None:
    first = stacked[:, 0]
    if all(np.array_equal(first, stacked[:, t]) for t in range(1, stacked.shape[1])):
        raise InvalidInput(
            f"model {name} gave the same output in all {stacked.shape[1]} passes with its "
            f"dropout on (rows 0 to {stacked.shape[0] - 1}): its dropout ratio may be 0, or "
            "its Dropout nodes do not reach the output read; MC dropout needs passes that "
            "differ",
            field="params.passes",
        )


def _check_same(values: Sequence[tuple[str, int | None]], phrase: str) -> None:
    known = [(name, value) for name, value in values if value is not None]
    for name, value in known[1:]:
        if value != known[0][1]:
            first_name, first_value = known[0]
            raise InvalidInput(
                f"committee members disagree: {first_name} {phrase.format(first_value)}, "
                f"{name} {phrase.format(value)}",
                field="model",
            )
