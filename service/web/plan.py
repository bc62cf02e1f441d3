"""Turn a decoded rank request into a RankPlan, checking it against the registry."""

from __future__ import annotations

from collections.abc import Mapping

from service.decoding.sources import PoolSource, ReorderedSource
from service.errors import InvalidInput
from service.ranking.checks import check_budget, check_exclude, check_shape
from service.ranking.inputs import INPUT_KINDS
from service.ranking.pipeline import RankPlan
from service.ranking.registry import Strategy, get_strategy
from service.ranking.selection import Selection
from service.web.bodies import RankBody
from service.web.params import check_params


def build_plan(body: RankBody, *, max_budget: int) -> tuple[RankPlan, PoolSource]:
    """The plan and the pool source of a request; InvalidInput names what is wrong."""
    fields = body.fields
    strategy = get_strategy(str(fields["strategy"]))
    source = _input_source(body.sources, strategy)
    kind = INPUT_KINDS[source.name]
    params = check_params(body.params, strategy.params + kind.params)
    source = _reorder(source, kind.sent_axes(params), kind.axes)
    check_shape(source.shape, name=source.name, axes=kind.axes)
    if fields["normalize"] and kind.name == "logits":
        raise InvalidInput("normalize applies to probabilities and samples", field="normalize")
    pool_size = source.shape[0]
    exclude = check_exclude(body.exclude, pool_size=pool_size)
    budget = int(fields["budget"])  # type: ignore[call-overload]
    if budget > max_budget:
        raise InvalidInput(
            f"budget {budget} exceeds the service's limit of {max_budget}", field="budget"
        )
    check_budget(budget, pool_size=pool_size, n_excluded=exclude.shape[0])
    selection = Selection(**fields["selection"])  # type: ignore[arg-type]
    if selection.randomized and not strategy.selectable:
        raise InvalidInput(
            f"strategy {strategy.name!r} picks its batch itself; it only supports "
            "selection method 'top'",
            field="selection.method",
        )
    plan = RankPlan(
        strategy=strategy,
        input_kind=kind,
        budget=budget,
        exclude=exclude,
        options={**params, "normalize": fields["normalize"]},
        seed=fields.get("seed"),  # type: ignore[arg-type]
        keep_all_scores=bool(fields["return_all_scores"]),
        selection=selection,
    )
    return plan, source


def _reorder(source: PoolSource, sent: str, wanted: str) -> PoolSource:
    """``source`` read with its axes in ``wanted`` order; its rank must fit."""
    if len(source.shape) != len(sent):
        check_shape(source.shape, name=source.name, axes=sent)
    if sent == wanted:
        return source
    return ReorderedSource(source, sent=sent, wanted=wanted)


def _input_source(sources: Mapping[str, PoolSource], strategy: Strategy) -> PoolSource:
    """The one input array of the request, which the strategy must accept."""
    given = [name for name in INPUT_KINDS if name in sources]
    if not given:
        raise InvalidInput(
            f"no input array: send one of {', '.join(INPUT_KINDS)}", field="probabilities"
        )
    if len(given) > 1:
        raise InvalidInput(f"send exactly one input array, got {', '.join(given)}", field=given[1])
    if given[0] not in strategy.inputs:
        raise InvalidInput(
            f"strategy {strategy.name!r} does not accept {given[0]}; it needs one of: "
            f"{', '.join(strategy.inputs)}",
            field=given[0],
        )
    return sources[given[0]]
