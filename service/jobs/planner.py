"""Check a decoded request against the registry and the input kinds' declarations.

One generic planner for every input kind: it finds the request's input
array and the strategy's other arrays, checks each against its declared
axes, and checks that arrays sharing an axis letter agree on its size. Its
errors name the field, and the axis or item at fault.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass

import numpy as np

from service.decoding.limits import check_classes, check_pool_rows
from service.decoding.sources import PoolSource, ReorderedSource, UnpaddedSource
from service.errors import InvalidInput
from service.jobs.costs import check_affordable, check_budget_fields, cost_plan, split_costs
from service.jobs.diagnostics import diagnostics_plan, split_previous
from service.jobs.params import check_params
from service.jobs.request import JobSummary, RankLimits, RankRequest
from service.ranking.checks import check_finite, check_shape
from service.ranking.composition import BALANCED_SELECTIONS, Balance
from service.ranking.costs import CostPlan
from service.ranking.inputs import ARRAY_ROLES, INPUT_KINDS, LENGTHS, ArraySpec, InputKind
from service.ranking.items import Chunk, item_chunks, ragged_chunks
from service.ranking.multilabel import LABEL_CARDINALITY, LABELED_LABELS, label_cardinality
from service.ranking.pipeline import PrefilterPlan, RankPlan
from service.ranking.registry import get_strategy
from service.ranking.strategy import Strategy

# Pool chunks are sized as if every element were float64, the widest working
# dtype, so chunk boundaries do not depend on the dtype a client sent.
WORKING_ITEM_BYTES = 8

# How an axis is named in a disagreement between arrays.
AXIS_NAMES = {"C": "classes", "T": "passes", "D": "width", "L": "labels"}


@dataclass(frozen=True)
class Job:
    """A checked request: the plan, the input (if the strategy takes one), the
    other arrays by role (not yet read) and the model that scored features."""

    plan: RankPlan
    pool_size: int
    source: PoolSource | None
    arrays: Mapping[str, PoolSource]
    lengths: np.ndarray | None = None
    model_id: str | None = None

    def chunks(self, chunk_bytes: int) -> Iterator[Chunk] | None:
        """The input's items in pool order, in chunks of about ``chunk_bytes``
        (float64) each; None when the strategy takes no input."""
        if self.source is None:
            return None
        row_bytes = int(np.prod(self.source.shape[1:])) * WORKING_ITEM_BYTES
        rows = self.source.chunks(max(1, chunk_bytes // max(1, row_bytes)))
        if self.lengths is None:
            return item_chunks(rows)
        return ragged_chunks(rows, self.lengths)

    def read_arrays(self) -> dict[str, np.ndarray]:
        """The other arrays, read whole and checked to be finite."""
        arrays = {}
        for role, source in self.arrays.items():
            array = source.read_all()
            check_finite(array, name=role)
            arrays[role] = array
        return arrays

    def summary(self) -> JobSummary:
        kind = self.plan.input_kind
        return JobSummary(
            strategy=self.plan.strategy.name,
            budget=self.plan.budget,
            rows=self.pool_size,
            input=kind.name if kind is not None and self.source is not None else None,
            model=self.model_id,
        )


def plan_job(
    request: RankRequest,
    strategy: Strategy,
    sources: Mapping[str, PoolSource],
    params: Mapping[str, object],
    *,
    kinds: Mapping[str, InputKind],
    limits: RankLimits,
    model_id: str | None = None,
) -> Job:
    """The job of ``request`` for ``strategy``, given its arrays (features
    already turned into the output of the model ``model_id``) and its
    remaining parameters."""
    prefilter = _prefilter(request, strategy)
    scorer = strategy if strategy.form is not None or prefilter is None else prefilter.strategy
    check_budget_fields(request)
    previous, sources = split_previous(sources)
    costs_source, sources = split_costs(sources)
    kind, source = _input(sources, scorer, kinds)
    declared = strategy.params + (kind.params if kind else ())
    checked = check_params(params, declared, strict=request.params_typed)
    shapes: list[tuple[ArraySpec, tuple[int, ...]]] = []
    lengths = None
    if kind is not None and source is not None:
        if kind.lengths is not None:
            source, lengths = _unpadded(source, sources, kind)
        source = _reorder(source, kind.sent_axes(checked), kind.axes)
        check_shape(source.shape, name=source.name, axes=kind.axes)
        if limits.max_classes is not None:
            check_classes(source.shape[-1], limits.max_classes, name=source.name)
        shapes.append((ArraySpec(kind.name, kind.axes, kind.description), source.shape))
        if lengths is not None:
            shapes.append((LENGTHS, lengths.shape))
    arrays = _array_sources(sources, strategy)
    shapes += [(ARRAY_ROLES[role], array.shape) for role, array in arrays.items()]
    _unused(sources, kind, arrays)
    pool_size = _agreeing(shapes)
    if limits.max_rows is not None:
        check_pool_rows(pool_size, limits.max_rows, name=shapes[0][0].name)
    _check_options(request, strategy, kind)
    _check_units(request, strategy, kind)
    _check_composition(request, strategy, kind, prefilter, source)
    if any(param is LABEL_CARDINALITY for param in strategy.params):
        checked[LABEL_CARDINALITY.name] = _label_cardinality(request, checked, arrays)
        arrays.pop(LABELED_LABELS, None)
    exclude = check_exclude(request.exclude, pool_size=pool_size)
    costs = cost_plan(
        request, costs_source, strategy, pool_size=pool_size, max_items=limits.max_budget
    )
    budget, exclude = _budget(request, costs, exclude, lengths, pool_size, limits)
    plan = RankPlan(
        strategy=strategy,
        input_kind=kind,
        budget=budget,
        exclude=exclude,
        params=checked,
        normalize=request.normalize,
        seed=request.seed,
        keep_all_scores=request.return_all_scores,
        selection=request.selection,
        prefilter=prefilter,
        balance=request.balance,
        keep_token_scores=request.return_token_scores,
        lengths=lengths,
        diagnostics=diagnostics_plan(
            kind,
            checked,
            previous=previous,
            pool_size=pool_size,
            n_classes=source.shape[-1] if source is not None else 0,
            normalize=request.normalize,
            stopping=request.stopping,
        ),
        costs=costs,
    )
    return Job(plan, pool_size, source, arrays, lengths, model_id)


def _budget(
    request: RankRequest,
    costs: CostPlan | None,
    exclude: np.ndarray,
    lengths: np.ndarray | None,
    pool_size: int,
    limits: RankLimits,
) -> tuple[int, np.ndarray]:
    """The plan's budget (1, a placeholder, when money is spent instead) and its
    exclusions, sequences without tokens added: they have nothing to annotate."""
    empty = np.empty(0, np.int64) if lengths is None else np.flatnonzero(lengths == 0)
    exclude_all = np.union1d(exclude, empty) if empty.shape[0] else exclude
    if costs is not None:
        check_affordable(costs, exclude_all)
        return 1, exclude_all
    budget = request.budget
    if budget is None:
        raise ValueError("check_budget_fields lets no request without a budget through")
    if limits.max_budget is not None and budget > limits.max_budget:
        raise InvalidInput(
            f"budget {budget} exceeds the service's limit of {limits.max_budget}",
            field="budget",
        )
    check_budget(
        budget,
        pool_size=pool_size,
        n_excluded=exclude.shape[0],
        n_empty=np.setdiff1d(empty, exclude).shape[0],
    )
    return budget, exclude_all


def _prefilter(request: RankRequest, strategy: Strategy) -> PrefilterPlan | None:
    """The request's prefilter with its strategy resolved: a pointwise strategy
    in front of a batch strategy, keeping at least the budget."""
    if request.prefilter is None:
        return None
    if strategy.pointwise:
        raise InvalidInput(
            f"prefilter narrows the pool for a batch strategy; {strategy.name!r} scores "
            "each item on its own, so its top items need no prefilter",
            field="prefilter",
        )
    try:
        scorer = get_strategy(request.prefilter.strategy)
    except InvalidInput as error:
        error.field = "prefilter.strategy"
        raise
    if not scorer.pointwise:
        raise InvalidInput(
            f"the prefilter must be a pointwise strategy; {scorer.name!r} picks a batch itself",
            field="prefilter.strategy",
        )
    if request.budget is not None and request.prefilter.keep < request.budget:
        raise InvalidInput(
            f"prefilter keep ({request.prefilter.keep}) must be at least the budget "
            f"({request.budget})",
            field="prefilter.keep",
        )
    return PrefilterPlan(scorer, request.prefilter.keep)


def _check_composition(
    request: RankRequest,
    strategy: Strategy,
    kind: InputKind | None,
    prefilter: PrefilterPlan | None,
    source: PoolSource | None,
) -> None:
    """Refuse a prefilter or balance the input kind or strategy cannot serve."""
    if prefilter is not None and kind is not None:
        if kind.has_units:
            raise InvalidInput(
                f"a prefilter needs one class distribution per item; {kind.name} scores "
                "several units per item",
                field="prefilter",
            )
        if not prefilter.strategy.accepts(kind) or (
            prefilter.strategy.form == "samples" and strategy.form == "probs"
        ):
            raise InvalidInput(
                f"prefilter {prefilter.strategy.name!r} cannot score the "
                f"{'class probabilities' if strategy.form == 'probs' else kind.name} "
                f"{strategy.name!r} ranks from; it takes {', '.join(prefilter.strategy.inputs)}",
                field="prefilter.strategy",
            )
    balance = request.balance
    if balance is None:
        return
    if not strategy.pointwise:
        raise InvalidInput(
            f"balance splits the top scores into class quotas; {strategy.name!r} picks its "
            "batch itself (a prefilter can narrow its pool instead)",
            field="balance",
        )
    if kind is None or source is None or kind.has_units:
        name = kind.name if kind is not None else "this input"
        raise InvalidInput(
            f"balance needs one predicted class per item; {name} scores several units per item",
            field="balance",
        )
    if request.selection.method not in BALANCED_SELECTIONS:
        raise InvalidInput(
            f"balance draws with selection {', '.join(BALANCED_SELECTIONS)}, "
            f"not {request.selection.method!r}",
            field="selection.method",
        )
    _check_targets(balance, source.shape[-1])


def _check_targets(balance: Balance, n_classes: int) -> None:
    if balance.targets is None:
        return
    if len(balance.targets) != n_classes:
        raise InvalidInput(
            f"expected one target per class ({n_classes}), got {len(balance.targets)}",
            field="balance.targets",
        )
    if not sum(balance.targets) > 0:
        raise InvalidInput("targets must hold a positive share", field="balance.targets")


def _input(
    sources: Mapping[str, PoolSource], strategy: Strategy, kinds: Mapping[str, InputKind]
) -> tuple[InputKind | None, PoolSource | None]:
    """The one probability-like input of the request, which the strategy must accept."""
    given = [name for name in kinds if name in sources]
    accepted = [name for name, kind in kinds.items() if strategy.accepts(kind)]
    if len(given) > 1:
        raise InvalidInput(f"send exactly one input array, got {', '.join(given)}", field=given[1])
    if not accepted:
        if given:
            raise InvalidInput(
                f"strategy {strategy.name!r} takes no {given[0]}; it needs "
                f"{', '.join(strategy.arrays)}",
                field=given[0],
            )
        return None, None
    if not given:
        raise InvalidInput(
            f"no input array: strategy {strategy.name!r} needs one of {', '.join(accepted)}",
            field=accepted[0],
        )
    if given[0] not in accepted:
        raise InvalidInput(
            f"strategy {strategy.name!r} does not accept {given[0]}; it needs one of: "
            f"{', '.join(accepted)}",
            field=given[0],
        )
    return kinds[given[0]], sources[given[0]]


def _reorder(source: PoolSource, sent: str, wanted: str) -> PoolSource:
    """``source`` read with its axes in ``wanted`` order; its rank must fit."""
    if len(source.shape) != len(sent):
        check_shape(source.shape, name=source.name, axes=sent)
    if sent == wanted:
        return source
    return ReorderedSource(source, sent=sent, wanted=wanted)


def _unpadded(
    source: PoolSource, sources: Mapping[str, PoolSource], kind: InputKind
) -> tuple[PoolSource, np.ndarray]:
    """A token kind's flat token rows and its tokens per sequence, from a flat
    array (sum of lengths) x ... or a padded one N x L_max x ..., and lengths."""
    spec = LENGTHS
    if spec.name not in sources:
        raise InvalidInput(
            f"{kind.name} holds the tokens of sequences: send {spec.name}, the tokens per "
            "sequence (as a multipart part beside it, or in the JSON object; a JSON list "
            "of sequences carries its own)",
            field=spec.name,
        )
    lengths = _whole_lengths(sources[spec.name])
    shape, unit_axes = source.shape, kind.axes[1:]
    flat_form = " x ".join(("(sum of lengths)", *unit_axes))
    padded_form = " x ".join(("N", "L_max", *unit_axes))
    if len(shape) not in (len(kind.axes), len(kind.axes) + 1):
        raise InvalidInput(
            f"expected a flat {flat_form} array or a padded {padded_form} one, got "
            f"{len(shape)}-D with shape {list(shape)}",
            field=source.name,
        )
    padded = len(shape) == len(kind.axes) + 1
    if not shape[0] or (padded and not shape[1]):
        raise InvalidInput(
            f"every sequence is empty: {kind.name} holds no token to rank", field=source.name
        )
    if padded:
        check_shape(shape, name=source.name, axes="NR" + unit_axes)
        if lengths.shape[0] != shape[0]:
            raise InvalidInput(
                f"{spec.name} has {lengths.shape[0]} sequences but the padded {kind.name} "
                f"has {shape[0]}",
                field=spec.name,
            )
        over = np.flatnonzero(lengths > shape[1])
        if over.size:
            item = int(over[0])
            raise InvalidInput(
                f"sequence {item} has {int(lengths[item])} tokens but the padded "
                f"{kind.name} holds at most {shape[1]} (L_max)",
                field=spec.name,
            )
        if not lengths.any():
            raise InvalidInput(
                f"every sequence is empty: {spec.name} are all 0", field=spec.name
            )
        return UnpaddedSource(source, lengths), lengths
    check_shape(shape, name=source.name, axes=kind.axes)
    total = int(lengths.sum(dtype=np.int64))
    if total != shape[0]:
        raise InvalidInput(
            f"{spec.name} add up to {total} tokens but {kind.name} has {shape[0]} token rows",
            field=spec.name,
        )
    return source, lengths


def _whole_lengths(source: PoolSource) -> np.ndarray:
    """Tokens per sequence (n,) as int64: whole numbers >= 0 (decoders may have
    widened them to floats)."""
    values = source.read_all()
    check_shape(values.shape, name=LENGTHS.name, axes=LENGTHS.axes)
    check_finite(values, name=LENGTHS.name)
    bad = np.flatnonzero((values != np.floor(values)) | (values < 0))
    if bad.size:
        item = int(bad[0])
        raise InvalidInput(
            f"sequence {item} has {float(values[item]):g} tokens: expected a whole number "
            ">= 0",
            field=LENGTHS.name,
        )
    if values.size and float(values.max()) >= 2**53:
        raise InvalidInput("a sequence length does not fit in 53 bits", field=LENGTHS.name)
    return values.astype(np.int64, copy=False)


def _array_sources(sources: Mapping[str, PoolSource], strategy: Strategy) -> dict[str, PoolSource]:
    """The other arrays: each required one present, none the strategy cannot use."""
    for role in ARRAY_ROLES:
        if role in sources and role not in strategy.arrays + strategy.optional_arrays:
            raise InvalidInput(f"strategy {strategy.name!r} does not use {role}", field=role)
    for role in strategy.arrays:
        if role not in sources:
            raise InvalidInput(f"strategy {strategy.name!r} needs {role}", field=role)
    arrays = {role: sources[role] for role in ARRAY_ROLES if role in sources}
    for role, source in arrays.items():
        check_shape(source.shape, name=role, axes=ARRAY_ROLES[role].axes)
    return arrays


def _unused(
    sources: Mapping[str, PoolSource], kind: InputKind | None, arrays: Mapping[str, PoolSource]
) -> None:
    """Refuse an array the request sent that nothing reads."""
    used = set(arrays)
    if kind is not None:
        used.add(kind.name)
        if kind.lengths is not None:
            used.add(kind.lengths.name)
    for name in sources:
        if name not in used:
            raise InvalidInput(f"{name} is not used with this input and strategy", field=name)


def _agreeing(shapes: list[tuple[ArraySpec, tuple[int, ...]]]) -> int:
    """The pool size, once arrays sharing an axis letter agree on its size: the
    pool axis N last, the others in the order they first appear."""
    first: dict[str, tuple[str, int]] = {}
    mismatches: list[tuple[str, str, int, str, int]] = []
    for spec, shape in shapes:
        for axis, size in zip(spec.axes, shape, strict=True):
            if axis not in first:
                first[axis] = (spec.name, size)
            elif first[axis][1] != size:
                mismatches.append((axis, spec.name, size, *first[axis]))
    mismatches.sort(key=lambda mismatch: mismatch[0] == "N")
    if mismatches:
        axis, name, size, first_name, first_size = mismatches[0]
        if axis == "N":
            message = (
                f"{name} have {size} rows but {first_name} has {first_size}: expected one "
                "row per pool item"
            )
        else:
            message = (
                f"{name} and {first_name} differ in {AXIS_NAMES.get(axis, f'axis {axis}')}: "
                f"{size} vs {first_size}"
            )
        raise InvalidInput(message, field=name)
    if "N" not in first:
        raise InvalidInput("no pool array was sent", field="embeddings")
    return first["N"][1]


def _check_options(request: RankRequest, strategy: Strategy, kind: InputKind | None) -> None:
    if request.normalize and (kind is None or not kind.normalizable):
        raise InvalidInput("normalize applies to probabilities and samples", field="normalize")
    if request.selection.method != "top" and not strategy.selectable:
        raise InvalidInput(
            f"strategy {strategy.name!r} picks its batch itself; it supports only "
            "selection method 'top'",
            field="selection.method",
        )
    if request.return_all_scores and not strategy.pointwise:
        raise InvalidInput(
            f"strategy {strategy.name!r} picks a batch and scores only its picks",
            field="return_all_scores",
        )


def _check_units(request: RankRequest, strategy: Strategy, kind: InputKind | None) -> None:
    """Refuse the options of kinds with several units per item where they do not apply."""
    has_units = kind is not None and kind.has_units
    if "aggregate" in request.params and has_units and strategy.unit_scores != "aggregated":
        how = (
            "averages over its tokens by definition"
            if strategy.unit_scores == "mean"
            else "scores each item as a whole"
        )
        raise InvalidInput(
            f"strategy {strategy.name!r} {how}: it takes no aggregate", field="params.aggregate"
        )
    if not request.return_token_scores:
        return
    if kind is None or kind.unit != "token":
        token_kinds = ", ".join(name for name, k in INPUT_KINDS.items() if k.unit == "token")
        raise InvalidInput(
            f"return_token_scores returns per-token scores, of the token kinds ({token_kinds})",
            field="return_token_scores",
        )
    if strategy.unit_scores == "item":
        raise InvalidInput(
            f"strategy {strategy.name!r} scores each sequence as a whole, not its tokens",
            field="return_token_scores",
        )


def _label_cardinality(
    request: RankRequest, checked: Mapping[str, object], arrays: Mapping[str, PoolSource]
) -> float:
    """The labeled items' mean label count: as sent, or from labeled_labels."""
    sent = checked.get(LABEL_CARDINALITY.name)
    source = arrays.get(LABELED_LABELS)
    if source is not None and sent is not None:
        raise InvalidInput(
            "send the label cardinality or labeled_labels, not both",
            field=f"params.{LABEL_CARDINALITY.name}",
        )
    if source is not None:
        labels = source.read_all()
        check_finite(labels, name=LABELED_LABELS)
        return label_cardinality(labels)
    if not isinstance(sent, int | float):
        raise InvalidInput(
            f"strategy {request.strategy!r} needs the labeled items' mean number of labels: "
            f"send params.{LABEL_CARDINALITY.name} or labeled_labels (M x L of 0 and 1)",
            field=f"params.{LABEL_CARDINALITY.name}",
        )
    return float(sent)


def check_exclude(exclude: np.ndarray, *, pool_size: int) -> np.ndarray:
    """Check pool indices to exclude (m,): integers in [0, pool_size), no repeats.

    Returns them sorted ascending as int64.
    """
    if exclude.ndim != 1:
        raise InvalidInput(
            f"expected a flat list of pool indices, got a {exclude.ndim}-D array",
            field="exclude",
        )
    if exclude.size and exclude.dtype.kind not in "iu":
        raise InvalidInput(f"expected integer pool indices, got {exclude.dtype}", field="exclude")
    indices = np.sort(exclude.astype(np.int64, copy=False))
    if indices.size and (indices[0] < 0 or indices[-1] >= pool_size):
        bad = indices[0] if indices[0] < 0 else indices[-1]
        raise InvalidInput(
            f"index {int(bad)} is outside the pool of {pool_size} rows "
            f"(expected 0 <= index < {pool_size})",
            field="exclude",
        )
    repeated = indices[1:][indices[1:] == indices[:-1]]
    if repeated.size:
        raise InvalidInput(f"index {int(repeated[0])} is listed twice", field="exclude")
    return indices


def check_budget(budget: int, *, pool_size: int, n_excluded: int, n_empty: int = 0) -> None:
    """Check 1 <= budget <= the pool rows left after exclusions (and, for
    sequences, the empty ones not among them)."""
    available = pool_size - n_excluded - n_empty
    if budget < 1:
        raise InvalidInput(f"budget must be at least 1, got {budget}", field="budget")
    if budget > available:
        empty = f", {n_empty} empty sequences" if n_empty else ""
        raise InvalidInput(
            f"budget {budget} exceeds the {available} pool rows available "
            f"({pool_size} rows, {n_excluded} excluded{empty})",
            field="budget",
        )
