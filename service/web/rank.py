"""POST /v1/rank: decode, delegate to the numpy core, encode."""

from __future__ import annotations

import math

from flask import Blueprint, Response, current_app, request

from service.decoding.limits import ArrayLimits
from service.ranking.chunks import chunk_rows
from service.ranking.pipeline import Ranking, RankPlan, rank_batch, rank_chunks
from service.web import models
from service.web.bodies import NPY_MEDIA_TYPE, read_rank_body
from service.web.encoding import json_response
from service.web.plan import build_job

blueprint = Blueprint("rank", __name__)


@blueprint.post("/v1/rank")
def rank() -> Response:
    """Rank a pool: the indices most worth labeling, best first, and their scores."""
    config = current_app.config
    large = request.mimetype in (NPY_MEDIA_TYPE, "multipart/form-data")
    request.max_content_length = config["MAX_NPY_BYTES" if large else "MAX_JSON_BYTES"]
    limits = ArrayLimits(max_elements=config["MAX_ELEMENTS"])
    body = read_rank_body(request, limits)
    job = build_job(
        body,
        max_budget=config["MAX_BUDGET"],
        max_rows=config["MAX_ROWS"],
        store=models.store(),
        inference_bytes=config.get(
            "INFERENCE_CHUNK_BYTES", models.MODEL_DEFAULTS["INFERENCE_CHUNK_BYTES"]
        ),
    )
    chunks = None
    if job.source is not None:
        row_bytes = math.prod(job.source.shape[1:]) * 8
        chunks = job.source.chunks(chunk_rows(row_bytes, config["CHUNK_BYTES"]))
    if job.plan.strategy.pointwise and chunks is not None:
        ranking = rank_chunks(chunks, pool_size=job.pool_size, plan=job.plan)
    else:
        ranking = rank_batch(chunks, job.read_arrays(), pool_size=job.pool_size, plan=job.plan)
    body = _render(ranking, job.plan)
    if job.model_id is not None:
        body["model"] = job.model_id
    return json_response(body)


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
