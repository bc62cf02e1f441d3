"""POST /v1/rank: read the body, rank it through the jobs entry point, render."""

from __future__ import annotations

from dataclasses import asdict

from flask import Blueprint, Response, request

from service import config
from service.deadline import within
from service.decoding.limits import ArrayLimits
from service.jobs import JobSummary, RankAnswer, RankLimits, rank
from service.web import admission, models, observability
from service.web.bodies import NPY_MEDIA_TYPE, paced_body, read_rank_body, receive_body
from service.web.encoding import json_response

blueprint = Blueprint("rank", __name__)


@blueprint.post("/v1/rank")
def rank_route() -> Response:
    """Rank a pool: the indices most worth labeling, best first, and their scores."""
    settings = config.settings()
    large = request.mimetype in (NPY_MEDIA_TYPE, "multipart/form-data")
    request.max_content_length = settings.max_npy_bytes if large else settings.max_json_bytes
    # The deadline runs from the request's arrival: receiving the body (a
    # streamed .npy is scored as it arrives), waiting for a slot, ranking.
    with (
        within(settings.compute_deadline_seconds),
        paced_body(request, settings.body_read_timeout_seconds),
    ):
        receive_body(request)
        with admission.computing():
            decoded = read_rank_body(request, ArrayLimits(settings.max_elements))
            answer = rank(
                decoded,
                limits=RankLimits(
                    max_budget=settings.max_budget,
                    max_rows=settings.max_rows,
                    max_classes=settings.max_classes,
                    max_held_output_bytes=settings.max_npy_bytes,
                    chunk_bytes=settings.chunk_bytes,
                    inference_chunk_bytes=settings.inference_chunk_bytes,
                ),
                store=models.store(),
                on_planned=_note,
            )
    return json_response(_render(answer))


def _note(summary: JobSummary) -> None:
    observability.note(**asdict(summary))


def _render(answer: RankAnswer) -> dict[str, object]:
    ranking = answer.ranking
    body: dict[str, object] = {
        "strategy": answer.strategy,
        "budget": answer.budget,
        "pool_size": ranking.pool_size,
        "indices": ranking.indices,
        "scores": ranking.scores,
        "selection": answer.selection.describe(),
    }
    if answer.prefilter is not None:
        body["prefilter"] = answer.prefilter.describe()
    if answer.balance is not None:
        body["balance"] = answer.balance.describe()
    if ranking.seed is not None:
        body["seed"] = ranking.seed
    if ranking.all_scores is not None:
        body["all_scores"] = ranking.all_scores
    if ranking.token_scores is not None:
        body["token_scores"] = list(ranking.token_scores)
    if answer.budget_cost is not None and ranking.cost_used is not None:
        body["budget_cost"] = answer.budget_cost
        body["cost_used"] = ranking.cost_used
    if ranking.diagnostics is not None:
        body["diagnostics"] = ranking.diagnostics.describe()
    if isinstance(answer.model_id, tuple):
        body["model"] = list(answer.model_id)
    elif answer.model_id is not None:
        body["model"] = answer.model_id
    return body
