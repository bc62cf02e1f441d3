"""Models that score a request's features: one, a committee, or one model's
Monte-Carlo dropout passes.

``model`` names one model, or a committee of 2 to 16 (a JSON list, or ids
and bundled names separated by commas in a query or form). Each member
scores the pool, and their stacked outputs are the request's samples
(N x K x C). ``params.passes: T`` runs one model T times with its dropout on
(see service.models.dropout), the passes stacked the same way (N x T x C).
Both run block by block (see service.models.samples): memory follows the
block, not the pool.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import onnxruntime as ort

from service.errors import InvalidInput
from service.models.dropout import PASSES_FIELD, with_dropout_on
from service.models.inference import (
    InferenceMemory,
    OutputKind,
    feature_input,
    inference_chunk_rows,
    plan_runs,
)
from service.models.memory import MemoryFootprint
from service.models.samples import (
    MAX_MEMBERS,
    SampleMember,
    check_same_width,
    predict_samples,
)
from service.models.sessions import ORT_ERRORS, create_session, ort_message
from service.models.store import ModelStore
from service.ranking.checks import check_shape

COMMITTEE_SEPARATOR = ","

ModelRef = str | bytes


@dataclass(frozen=True)
class ResolvedModel:
    """A model a request names: its id, this process's session, its measured
    footprint (None: not measured) and a reader of its validated bytes."""

    id: str
    session: ort.InferenceSession
    footprint: MemoryFootprint | None
    read_bytes: Callable[[], bytes]


@dataclass(frozen=True)
class SampleRuns:
    """What the samples of a request's features are made with: the members'
    ids, the passes of each, and the seed the passes drew their dropout from."""

    member_ids: tuple[str, ...]
    passes: int
    seed: int | None


def model_refs(model_ref: str | bytes | Sequence[str]) -> tuple[ModelRef, ...]:
    """The models a request's ``model`` names: one, or a committee's members in order."""
    if isinstance(model_ref, bytes):
        return (model_ref,)
    names = model_ref.split(COMMITTEE_SEPARATOR) if isinstance(model_ref, str) else model_ref
    refs = tuple(name.strip() for name in names)
    for index, ref in enumerate(refs):
        if not ref:
            raise InvalidInput(
                f"member {index} of the committee is empty: expected a model id or a bundled name",
                field="model",
            )
    if len(refs) > MAX_MEMBERS:
        raise InvalidInput(
            f"a committee has at most {MAX_MEMBERS} members, got {len(refs)}", field="model"
        )
    return refs


def resolve_model(store: ModelStore, ref: ModelRef) -> ResolvedModel:
    """The model ``ref`` names (an id or bundled name), or the bytes of one a
    multipart request sent, checked like an upload."""
    if isinstance(ref, bytes):
        model_id, session, footprint = store.inline_session(ref)
        return ResolvedModel(model_id, session, footprint, lambda: ref)
    model = store.resolve(ref)
    return ResolvedModel(
        model.id, store.session(model), model.memory, lambda: store.read_bytes(model)
    )


def predicted_samples(
    features: np.ndarray,
    refs: Sequence[ModelRef],
    *,
    passes: int | None,
    output: str | None,
    output_kind: OutputKind,
    store: ModelStore,
    chunk_bytes: int,
    seed: int,
) -> tuple[Iterator[tuple[int, np.ndarray]], SampleRuns]:
    """The samples of ``features`` (n, d): blocks of (rows, K x T, C) float32
    probabilities, and what made them. ``seed`` seeds the dropout of passes."""
    check_shape(features.shape, name="features", axes="ND")
    if passes is not None and len(refs) > 1:
        raise InvalidInput(
            "params.passes runs one model with its dropout on; a committee's members are "
            "its samples already: send one model with passes, or a committee without",
            field=PASSES_FIELD,
        )
    models = [resolve_model(store, ref) for ref in refs]
    _check_distinct(models)
    if passes is not None:
        models = [_with_dropout_on(models[0], store, seed)]
    check_same_width([(model.id, feature_input(model.session).width) for model in models])
    chunk_rows = inference_chunk_rows(
        features.shape[1], itemsize=features.dtype.itemsize, target_bytes=chunk_bytes
    )
    budget = store.limits.inference_memory_bytes
    members = [
        SampleMember(
            model.id,
            plan_runs(
                model.session,
                features,
                output=output,
                output_kind=output_kind,
                chunk_rows=chunk_rows,
                memory=InferenceMemory(budget, model.footprint),
            ),
        )
        for model in models
    ]
    blocks = predict_samples(members, features, passes=passes or 1)
    runs = SampleRuns(
        tuple(model.id for model in models), passes or 1, None if passes is None else seed
    )
    return blocks, runs


def _check_distinct(models: Sequence[ResolvedModel]) -> None:
    """Refuse a committee that names one model twice: its members would agree."""
    first_index: dict[str, int] = {}
    for index, model in enumerate(models):
        if model.id in first_index:
            raise InvalidInput(
                f"members {first_index[model.id]} and {index} of the committee are the same "
                f"model ({model.id}); a committee's members must differ",
                field="model",
            )
        first_index[model.id] = index


def _with_dropout_on(model: ResolvedModel, store: ModelStore, seed: int) -> ResolvedModel:
    """A session of ``model`` with its dropout on, seeded from ``seed``: new for
    each request, so its random streams start where the seed puts them."""
    rewrite = with_dropout_on(model.read_bytes(), seed)
    try:
        session = create_session(
            rewrite.data, memory_budget=store.limits.inference_memory_bytes, keep_dropout=True
        )
    except ORT_ERRORS as error:
        raise InvalidInput(
            f"the model with its dropout on does not load: {ort_message(error)}",
            field=PASSES_FIELD,
        ) from None
    return ResolvedModel(model.id, session, model.footprint, lambda: rewrite.data)
