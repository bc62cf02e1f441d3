"""POST /v1/rank: decode, delegate to the numpy core, encode."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from flask import Blueprint, Response, current_app, request

from service.deadline import checked, within
from service.decoding.limits import ArrayLimits
from service.ranking.chunks import chunk_rows
from service.ranking.pipeline import Ranking, RankPlan, rank_batch, rank_chunks
from service.web import admission, models, observability
from service.web.bodies import NPY_MEDIA_TYPE, paced_body, read_rank_body, receive_body
from service.web.encoding import json_response
from service.web.plan import RankJob, build_job

blueprint = Blueprint("rank", __name__)


@blueprint.post("/v1/rank")
def rank() -> Response:
    """Rank a pool: the indices most worth labeling, best first, and their scores."""
    config = current_app.config
    large = request.mimetype in (NPY_MEDIA_TYPE, "multipart/form-data")
    request.max_content_length = config["MAX_NPY_BYTES" if large else "MAX_JSON_BYTES"]
    # The deadline runs from the request's arrival: receiving the body (a
    # streamed .npy is scored as it arrives), waiting for a slot, ranking.
    with (
        within(config["COMPUTE_DEADLINE_SECONDS"]),
        paced_body(request, config["BODY_READ_TIMEOUT_SECONDS"]),
    ):
        receive_body(request)
        with admission.computing():
            ranking, job = _rank(config)
    body = _render(ranking, job.plan)
    if job.model_id is not None:
        body["model"] = job.model_id
    return json_response(body)


def _rank(config: Mapping[str, Any]) -> tuple[Ranking, RankJob]:
    limits = ArrayLimits(max_elements=config["MAX_ELEMENTS"])
    body = read_rank_body(request, limits)
    job = build_job(
        body,
        max_budget=config["MAX_BUDGET"],
        max_rows=config["MAX_ROWS"],
        max_classes=config["MAX_CLASSES"],
        store=models.store(),
        inference_bytes=config.get(
            "INFERENCE_CHUNK_BYTES", models.MODEL_DEFAULTS["INFERENCE_CHUNK_BYTES"]
        ),
    )
    observability.note(
        strategy=job.plan.strategy.name,
        budget=job.plan.budget,
        rows=job.pool_size,
        input=job.source.name if job.source is not None else None,
        model=job.model_id,
    )
    chunks = None
    if job.source is not None:
        row_bytes = math.prod(job.source.shape[1:]) * 8
        chunks = checked(job.source.chunks(chunk_rows(row_bytes, config["CHUNK_BYTES"])))
    if job.plan.strategy.pointwise and chunks is not None:
        ranking = rank_chunks(chunks, pool_size=job.pool_size, plan=job.plan)
    else:
        ranking = rank_batch(chunks, job.read_arrays(), pool_size=job.pool_size, plan=job.plan)
    return ranking, job


def _render(ranking: Ranking, plan: RankPlan) -> dict[str, object]:
    body: dict[str, object] = {
        "strategy": plan.strategy.name,
        "budget": plan.budget,
        "pool_size": ranking.pool_size,
        "indices": ranking.indices,
        "scores": ranking.scores,
        "selection": plan.selection.describe(),
    }
    if ranking.seed is not None:
        body["seed"] = ranking.seed
    if ranking.all_scores is not None:
        body["all_scores"] = ranking.all_scores
    return body
