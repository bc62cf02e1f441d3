"""Raw features scored by an ONNX model become the request's probability input.

A request that sends ``features`` (N x D) and names a ``model`` (an id or a
bundled name) is ranked on the model's output: ``params.output`` picks the
output (default: the first N x C one) and ``params.output_kind`` says whether
it holds probabilities (default) or logits. A multipart request may carry the
.onnx file itself in a part named ``model``: checked like an upload, used for
that request only, never stored. Inference runs in row chunks as
the ranking consumes them, each sized to the feature bytes of a run and to
the model's measured memory within the inference memory budget (see
service.models.memory).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from itertools import chain
from typing import Literal

import numpy as np

from service.decoding.sources import PoolSource
from service.errors import InvalidInput
from service.jobs.params import check_params
from service.models.inference import (
    InferenceMemory,
    inference_chunk_rows,
    predict_probabilities,
)
from service.models.store import ModelStore
from service.ranking.checks import check_shape
from service.ranking.params import Param

FEATURES = "features"

FEATURE_PARAMS = (
    Param(
        "output",
        "string",
        None,
        "features: the model output to rank from; default the first N x C output.",
    ),
    Param(
        "output_kind",
        "string",
        "probabilities",
        "features: whether the model output holds probabilities or logits.",
        choices=("probabilities", "logits"),
    ),
)


class InferredSource:
    """The model's output over the features, as a probabilities or logits source.

    ``chunks`` yields the inference chunks, each cut into pieces of the rows
    asked for when it holds more than twice as many: the ranking's working
    memory per chunk stays within twice what it is for any pool, and a model
    of few classes keeps its runs whole.
    """

    def __init__(
        self,
        name: str,
        first: tuple[int, np.ndarray],
        rest: Iterator[tuple[int, np.ndarray]],
        n_rows: int,
    ) -> None:
        self.name = name
        self._first = first
        self._rest = rest
        self.shape: tuple[int, ...] = (n_rows, int(first[1].shape[1]))

    def chunks(self, rows: int) -> Iterator[tuple[int, np.ndarray]]:
        for start, values in chain([self._first], self._rest):
            if rows < 1 or values.shape[0] <= 2 * rows:
                yield start, values
                continue
            for offset in range(0, values.shape[0], rows):
                yield start + offset, values[offset : offset + rows]

    def read_all(self) -> np.ndarray:
        return np.concatenate([values for _, values in self.chunks(0)])


def score_features(
    sources: Mapping[str, PoolSource],
    params: Mapping[str, object],
    model_ref: str | bytes | None,
    *,
    store: ModelStore | None,
    chunk_bytes: int,
    typed: bool,
) -> tuple[dict[str, PoolSource], dict[str, object], str | None]:
    """(sources, remaining params, model id): ``features`` replaced by the
    model's output when the request sent them; unchanged otherwise."""
    if FEATURES not in sources:
        if model_ref is not None:
            raise InvalidInput("a model scores features: send features too", field="features")
        return dict(sources), dict(params), None
    if model_ref is None:
        raise InvalidInput(
            "features need a model: send model (an id or a bundled name)", field="model"
        )
    if store is None:
        raise ValueError("ranking features needs a model store")
    names = {param.name for param in FEATURE_PARAMS}
    options = check_params(
        {key: value for key, value in params.items() if key in names}, FEATURE_PARAMS, strict=typed
    )
    if isinstance(model_ref, bytes):  # an .onnx part of a multipart request
        model_id, session, footprint = store.inline_session(model_ref)
    else:
        model = store.resolve(str(model_ref))
        model_id, session, footprint = model.id, store.session(model), model.memory
    features = sources[FEATURES].read_all()
    check_shape(features.shape, name=FEATURES, axes="ND")
    kind: Literal["probabilities", "logits"] = (
        "logits" if options["output_kind"] == "logits" else "probabilities"
    )
    output = options["output"]
    rows = inference_chunk_rows(
        features.shape[1], itemsize=features.dtype.itemsize, target_bytes=chunk_bytes
    )
    predicted = predict_probabilities(
        session,
        features,
        output=None if output is None else str(output),
        output_kind=kind,
        chunk_rows=rows,
        memory=InferenceMemory(store.limits.inference_memory_bytes, footprint),
    )
    first = next(iter(predicted))
    derived = {key: value for key, value in sources.items() if key != FEATURES}
    derived[kind] = InferredSource(kind, first, iter(predicted), features.shape[0])
    rest = {key: value for key, value in params.items() if key not in names}
    return derived, rest, model_id
