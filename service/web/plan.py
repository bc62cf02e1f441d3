"""Turn a decoded rank request into a plan, checking it against the registry."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from service.decoding.limits import check_classes, check_pool_rows
from service.decoding.sources import PoolSource, ReorderedSource
from service.errors import InvalidInput
from service.models.store import ModelStore
from service.ranking.checks import check_budget, check_exclude, check_finite, check_shape
from service.ranking.inputs import ARRAY_ROLES, INPUT_KINDS, InputKind
from service.ranking.pipeline import RankPlan
from service.ranking.registry import get_strategy
from service.ranking.selection import Selection
from service.ranking.strategy import Strategy
from service.web.bodies import RankBody
from service.web.features import score_features
from service.web.params import check_params


@dataclass(frozen=True)
class RankJob:
    """A checked request: the plan, the probability-like input (if the
    strategy takes one) and the other arrays by role, not yet read."""

    plan: RankPlan
    pool_size: int
    source: PoolSource | None
    arrays: Mapping[str, PoolSource]
    model_id: str | None = None

    def read_arrays(self) -> dict[str, np.ndarray]:
        """The other arrays, read whole and checked to be finite."""
        arrays = {}
        for role, source in self.arrays.items():
            array = source.read_all()
            check_finite(array, name=role)
            arrays[role] = array
        return arrays


def build_job(
    body: RankBody,
    *,
    max_budget: int,
    max_rows: int,
    max_classes: int,
    store: ModelStore,
    inference_bytes: int,
) -> RankJob:
    """The job of a request; InvalidInput names what is wrong."""
    fields = body.fields
    strategy = get_strategy(str(fields["strategy"]))
    sources, given_params, model_id = score_features(
        body.sources,
        body.params,
        fields.get("model"),
        store=store,
        chunk_bytes=inference_bytes,
        typed=body.typed,
    )
    source = _input_source(sources, strategy)
    kind = INPUT_KINDS[source.name] if source is not None else None
    declared = strategy.params + (kind.params if kind else ())
    params = check_params(given_params, declared, strict=body.typed)
    if source is not None and kind is not None:
        source = _reorder(source, kind.sent_axes(params), kind.axes)
        check_shape(source.shape, name=source.name, axes=kind.axes)
        check_classes(source.shape[-1], max_classes, name=source.name)
    arrays = _array_sources(sources, strategy)
    pool_size = _pool_size(source, arrays)
    check_pool_rows(pool_size, max_rows, name=source.name if source else "embeddings")
    _check_options(fields, strategy, kind)
    exclude = check_exclude(body.exclude, pool_size=pool_size)
    budget = int(fields["budget"])  # type: ignore[call-overload]
    if budget > max_budget:
        raise InvalidInput(
            f"budget {budget} exceeds the service's limit of {max_budget}", field="budget"
        )
    check_budget(budget, pool_size=pool_size, n_excluded=exclude.shape[0])
    plan = RankPlan(
        strategy=strategy,
        input_kind=kind,
        budget=budget,
        exclude=exclude,
        options={**params, "normalize": fields["normalize"]},
        seed=fields.get("seed"),  # type: ignore[arg-type]
        keep_all_scores=bool(fields["return_all_scores"]),
        selection=Selection(**fields["selection"]),  # type: ignore[arg-type]
    )
    return RankJob(plan, pool_size, source, arrays, model_id)


def _check_options(
    fields: Mapping[str, object], strategy: Strategy, kind: InputKind | None
) -> None:
    if fields["normalize"] and (kind is None or kind.name == "logits"):
        raise InvalidInput("normalize applies to probabilities and samples", field="normalize")
    selection = fields["selection"]
    if selection["method"] != "top" and not strategy.selectable:  # type: ignore[index]
        raise InvalidInput(
            f"strategy {strategy.name!r} picks its batch itself; it supports only "
            "selection method 'top'",
            field="selection.method",
        )
    if fields["return_all_scores"] and not strategy.pointwise:
        raise InvalidInput(
            f"strategy {strategy.name!r} picks a batch and scores only its picks",
            field="return_all_scores",
        )


def _reorder(source: PoolSource, sent: str, wanted: str) -> PoolSource:
    """``source`` read with its axes in ``wanted`` order; its rank must fit."""
    if len(source.shape) != len(sent):
        check_shape(source.shape, name=source.name, axes=sent)
    if sent == wanted:
        return source
    return ReorderedSource(source, sent=sent, wanted=wanted)


def _input_source(sources: Mapping[str, PoolSource], strategy: Strategy) -> PoolSource | None:
    """The one probability-like input of the request, which the strategy must accept."""
    given = [name for name in INPUT_KINDS if name in sources]
    if len(given) > 1:
        raise InvalidInput(f"send exactly one input array, got {', '.join(given)}", field=given[1])
    if not strategy.inputs:
        if given:
            raise InvalidInput(
                f"strategy {strategy.name!r} takes no {given[0]}; it needs "
                f"{', '.join(strategy.arrays)}",
                field=given[0],
            )
        return None
    if not given:
        raise InvalidInput(
            f"no input array: strategy {strategy.name!r} needs one of {', '.join(strategy.inputs)}",
            field=strategy.inputs[0],
        )
    if given[0] not in strategy.inputs:
        raise InvalidInput(
            f"strategy {strategy.name!r} does not accept {given[0]}; it needs one of: "
            f"{', '.join(strategy.inputs)}",
            field=given[0],
        )
    return sources[given[0]]


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
        check_shape(source.shape, name=role, axes=ARRAY_ROLES[role][0])
    widths = {source.shape[1] for source in arrays.values()}
    if len(widths) > 1:
        raise InvalidInput(
            "labeled_embeddings and embeddings differ in width: "
            f"{arrays['labeled_embeddings'].shape[1]} vs {arrays['embeddings'].shape[1]}",
            field="labeled_embeddings",
        )
    return arrays


def _pool_size(source: PoolSource | None, arrays: Mapping[str, PoolSource]) -> int:
    """Rows of the pool; the input and the embeddings must agree on it."""
    embeddings = arrays.get("embeddings")
    if source is None:
        if embeddings is None:
            raise InvalidInput("no pool array was sent", field="embeddings")
        return embeddings.shape[0]
    if embeddings is not None and embeddings.shape[0] != source.shape[0]:
        raise InvalidInput(
            f"embeddings have {embeddings.shape[0]} rows but {source.name} has "
            f"{source.shape[0]}: expected one row per pool item",
            field="embeddings",
        )
    return source.shape[0]
