"""Raw features scored by an ONNX model become the request's probability input.

A request that sends ``features`` (N x D) and names a ``model`` (an id or a
bundled name) is ranked on the model's output: ``params.output`` picks the
output (default: the first N x C one) and ``params.output_kind`` says whether
it holds probabilities (default) or logits, or, for a multi-label model, an
N x L output of per-label probabilities (label_probabilities) or logits
(label_logits), ranked as those input kinds. A multipart request may carry the
.onnx file itself in a part named ``model``: checked like an upload, used for
that request only, never stored. Inference runs in row chunks as
the ranking consumes them, each sized to the feature bytes of a run and to
the model's measured memory within the inference memory budget (see
service.models.memory).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from itertools import chain
from typing import cast

import numpy as np
import onnxruntime as ort

from service.decoding.sources import ArraySource, PoolSource
from service.errors import AlrankError, InvalidInput, PayloadTooLarge
from service.jobs.ensembles import SampleRuns, model_refs, predicted_samples, resolve_model
from service.jobs.params import check_params
from service.models.inference import (
    OUTPUT_KINDS,
    InferenceMemory,
    OutputKind,
    inference_chunk_rows,
    is_label_kind,
    predict_probabilities,
    predict_with_embeddings,
)
from service.models.samples import MAX_PASSES, MIN_PASSES
from service.models.store import ModelStore
from service.ranking.checks import check_shape
from service.ranking.inputs import INPUT_KINDS, LAYOUT, SPACE
from service.ranking.params import Param
from service.ranking.pipeline import draw_seed
from service.ranking.registry import STRATEGIES
from service.ranking.strategy import Strategy

FEATURES = "features"
EMBEDDINGS = "embeddings"
SAMPLES = "samples"
# Raw inputs of the labeled items, run through the embeddings output into
# the labeled_embeddings of strategies that take them.
LABELED_FEATURES = "labeled_features"
LABELED_EMBEDDINGS = "labeled_embeddings"

FEATURE_PARAMS = (
    Param(
        "output",
        "string",
        None,
        "features: the model output to rank from; default the first N x C output (N x L "
        "for the label kinds).",
    ),
    Param(
        "embeddings_output",
        "string",
        None,
        "features: a model output (N x E) to use as the embeddings, from the same runs "
        "as the class scores (for the strategies that take embeddings).",
    ),
    Param(
        "passes",
        "integer",
        None,
        "features: run the model this many times with its dropout on (MC dropout); the "
        "passes are the samples, N x T x C, seeded from the request's seed.",
        minimum=MIN_PASSES,
        maximum=MAX_PASSES,
    ),
    Param(
        "output_kind",
        "string",
        "probabilities",
        "features: whether the model output holds class probabilities, logits, or "
        "per-label probabilities or logits (multi-label).",
        choices=OUTPUT_KINDS,
    ),
)


class InferredSource:
    """The models' output over the features, as a probabilities, logits,
    label_probabilities, label_logits or samples source.

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
        self.shape: tuple[int, ...] = (n_rows, *(int(size) for size in first[1].shape[1:]))

    def chunks(self, rows: int) -> Iterator[tuple[int, np.ndarray]]:
        for start, values in chain([self._first], self._rest):
            if rows < 1 or values.shape[0] <= 2 * rows:
                yield start, values
                continue
            for offset in range(0, values.shape[0], rows):
                yield start + offset, values[offset : offset + rows]

    def read_all(self) -> np.ndarray:
        return np.concatenate([values for _, values in self.chunks(0)])


@dataclass(frozen=True)
class ScoredFeatures:
    """A request's arrays with its features turned into the models' output.

    ``params`` are the request's parameters less those of the features;
    ``model`` is the id of the model that scored them, or a committee's
    member ids in order (None: the request sent no features); ``samples``
    says how samples were made, when they were.
    """

    sources: dict[str, PoolSource]
    params: dict[str, object]
    model: str | tuple[str, ...] | None = None
    samples: SampleRuns | None = None


def score_features(
    sources: Mapping[str, PoolSource],
    params: Mapping[str, object],
    model_ref: str | bytes | Sequence[str] | None,
    *,
    store: ModelStore | None,
    chunk_bytes: int,
    typed: bool,
    strategy: Strategy | None = None,
    max_held_bytes: int | None = None,
    seed: int | None = None,
) -> ScoredFeatures:
    """The request's arrays, ``features`` replaced by the models' output when the
    request sent them; unchanged otherwise.

    With ``params.embeddings_output`` the named output of the same runs becomes
    ``embeddings`` too, for a ``strategy`` that takes them; both outputs are
    held whole (a batch strategy reads them whole), at most ``max_held_bytes``.
    A committee of models, or ``params.passes``, gives ``samples`` (see
    ensembles); the passes' dropout is seeded from ``seed``, else from a seed
    drawn here and reported.
    """
    if FEATURES not in sources:
        if LABELED_FEATURES in sources:
            raise InvalidInput(
                "labeled_features are run through the model with the pool's features: "
                "send features and model too",
                field=LABELED_FEATURES,
            )
        if model_ref is not None:
            raise InvalidInput("a model scores features: send features too", field="features")
        return ScoredFeatures(dict(sources), dict(params))
    if model_ref is None:
        raise InvalidInput(
            "features need a model: send model (an id or a bundled name)", field="model"
        )
    if store is None:
        raise ValueError("ranking features needs a model store")
    sent_input = next((name for name in INPUT_KINDS if name in sources), None)
    if sent_input is not None:
        raise InvalidInput(
            f"send {sent_input} or features with a model, not both", field=sent_input
        )
    names = {param.name for param in FEATURE_PARAMS}
    options = check_params(
        {key: value for key, value in params.items() if key in names}, FEATURE_PARAMS, strict=typed
    )
    rest = {key: value for key, value in params.items() if key not in names}
    derived = {
        key: value for key, value in sources.items() if key not in (FEATURES, LABELED_FEATURES)
    }
    output = None if options["output"] is None else str(options["output"])
    kind = cast(OutputKind, options["output_kind"])
    refs = model_refs(model_ref)
    passes = options["passes"] if isinstance(options["passes"], int) else None
    _check_kind_wanted(kind, strategy)
    if len(refs) > 1 or passes is not None:
        _check_samples_wanted(sources, options, rest, strategy, kind)
        blocks, runs = predicted_samples(
            sources[FEATURES].read_all(),
            refs,
            passes=passes,
            output=output,
            output_kind=kind,
            store=store,
            chunk_bytes=chunk_bytes,
            seed=draw_seed() if seed is None else seed,
        )
        first = next(blocks)
        n_rows = sources[FEATURES].shape[0]
        derived[SAMPLES] = InferredSource(SAMPLES, first, blocks, n_rows)
        model_ids = runs.member_ids if len(refs) > 1 else runs.member_ids[0]
        return ScoredFeatures(derived, rest, model_ids, runs)
    model = resolve_model(store, refs[0])
    runs_of_model = _ModelRuns(
        model.session,
        output,
        kind,
        chunk_bytes,
        InferenceMemory(store.limits.inference_memory_bytes, model.footprint),
        max_held_bytes,
    )
    if options["embeddings_output"] is not None:
        embedded = _embedded(sources, runs_of_model, str(options["embeddings_output"]), strategy)
        return ScoredFeatures({**derived, **embedded}, rest, model.id)
    if LABELED_FEATURES in sources:
        raise InvalidInput(
            "labeled_features become labeled_embeddings through the model's embeddings "
            "output: send params.embeddings_output too",
            field=LABELED_FEATURES,
        )
    derived[kind] = runs_of_model.streamed(sources[FEATURES].read_all())
    return ScoredFeatures(derived, rest, model.id)


def _check_kind_wanted(kind: OutputKind, strategy: Strategy | None) -> None:
    """Refuse, before anything runs, a label kind for a strategy that ranks no
    label kind, and a class kind for one that ranks label kinds only."""
    if strategy is None or not strategy.inputs or kind in strategy.inputs:
        return
    label_inputs = [name for name in strategy.inputs if is_label_kind(name)]
    if is_label_kind(kind):
        raise InvalidInput(
            f"{strategy.name} does not rank {kind}, the per-label scores of a multi-label "
            f"model; it takes {', '.join(strategy.inputs)}",
            field="params.output_kind",
        )
    if label_inputs and len(label_inputs) == len(strategy.inputs):
        raise InvalidInput(
            f"{strategy.name} ranks the per-label scores of a multi-label model: send "
            f"params.output_kind={' or '.join(label_inputs)}, not {kind}",
            field="params.output_kind",
        )


def _check_samples_wanted(
    sources: Mapping[str, PoolSource],
    options: Mapping[str, object],
    rest: Mapping[str, object],
    strategy: Strategy | None,
    kind: OutputKind,
) -> None:
    """Refuse, before anything runs, what samples made by models cannot serve:
    a label kind, embeddings from them, a strategy that scores no samples, and
    the layout and space parameters of samples a request sends."""
    if is_label_kind(kind):
        raise InvalidInput(
            f"params.output_kind={kind} reads one N x L output of a multi-label model; a "
            "committee or params.passes make samples of class probabilities (N x T x C): "
            "send one model without passes, or a class output_kind",
            field="params.output_kind",
        )
    if options["embeddings_output"] is not None or LABELED_FEATURES in sources:
        field = (
            "params.embeddings_output"
            if options["embeddings_output"] is not None
            else LABELED_FEATURES
        )
        raise InvalidInput(
            "embeddings come from one deterministic run of one model: send "
            "params.embeddings_output without a committee or passes",
            field=field,
        )
    if strategy is not None and SAMPLES not in strategy.inputs:
        raise InvalidInput(
            f"{strategy.name} ranks from embeddings alone; a committee or params.passes "
            "give samples, for the strategies that score them",
            field="model",
        )
    for param in (LAYOUT, SPACE):
        if param.name in rest:
            raise InvalidInput(
                f"params.{param.name} describes samples a request sends; the samples of "
                "a committee or of passes are N x T x C probabilities",
                field=f"params.{param.name}",
            )


@dataclass(frozen=True)
class _ModelRuns:
    """How one request runs its model: the session, the output read as class
    (or label) scores and what it holds, and the bounds on runs and held outputs."""

    session: ort.InferenceSession
    output: str | None
    kind: OutputKind
    chunk_bytes: int
    memory: InferenceMemory
    max_held_bytes: int | None

    def _rows(self, features: np.ndarray, field: str) -> int:
        check_shape(features.shape, name=field, axes="ND" if field == FEATURES else "MD")
        return inference_chunk_rows(
            features.shape[1], itemsize=features.dtype.itemsize, target_bytes=self.chunk_bytes
        )

    def streamed(self, features: np.ndarray) -> InferredSource:
        """The class (or label) scores of ``features`` (n, d), run as the ranking reads them."""
        predicted = predict_probabilities(
            self.session,
            features,
            output=self.output,
            output_kind=self.kind,
            chunk_rows=self._rows(features, FEATURES),
            memory=self.memory,
        )
        first = next(iter(predicted))
        return InferredSource(self.kind, first, iter(predicted), features.shape[0])

    def held(
        self, features: np.ndarray, embeddings_output: str, *, field: str = FEATURES
    ) -> tuple[np.ndarray, np.ndarray]:
        """The class scores and the embeddings of ``features`` (the request's
        ``field``), whole; the model's refusals of the features name ``field``."""
        try:
            chunks = predict_with_embeddings(
                self.session,
                features,
                embeddings_output=embeddings_output,
                output=self.output,
                output_kind=self.kind,
                chunk_rows=self._rows(features, field),
                memory=self.memory,
            )
            return held_outputs(chunks, features.shape[0], self.max_held_bytes)
        except AlrankError as error:
            if error.field == FEATURES:
                error.field = field
            raise


def _embedded(
    sources: Mapping[str, PoolSource],
    runs: _ModelRuns,
    embeddings_output: str,
    strategy: Strategy | None,
) -> dict[str, PoolSource]:
    """The class scores (for a strategy that takes an input), the embeddings,
    and the labeled embeddings when labeled features came, all held whole."""
    _check_embeddings_wanted(sources, strategy)
    if LABELED_FEATURES in sources:
        _check_labeled_wanted(sources, strategy)
    scores, embeddings = runs.held(sources[FEATURES].read_all(), embeddings_output)
    derived: dict[str, PoolSource] = {EMBEDDINGS: ArraySource(embeddings, name=EMBEDDINGS)}
    if strategy is None or strategy.inputs:
        derived[runs.kind] = ArraySource(scores, name=runs.kind)
    if LABELED_FEATURES in sources:
        labeled = sources[LABELED_FEATURES].read_all()
        _, labeled_embeddings = runs.held(labeled, embeddings_output, field=LABELED_FEATURES)
        derived[LABELED_EMBEDDINGS] = ArraySource(labeled_embeddings, name=LABELED_EMBEDDINGS)
    return derived


def _check_embeddings_wanted(sources: Mapping[str, PoolSource], strategy: Strategy | None) -> None:
    """Refuse params.embeddings_output before anything runs when the request sends
    embeddings itself or its strategy takes none."""
    if EMBEDDINGS in sources:
        raise InvalidInput(
            "send embeddings or params.embeddings_output, not both",
            field="params.embeddings_output",
        )
    if strategy is not None and EMBEDDINGS not in (*strategy.arrays, *strategy.optional_arrays):
        raise InvalidInput(
            f"{strategy.name} takes no embeddings; params.embeddings_output is for "
            f"strategies that do ({', '.join(_taking(EMBEDDINGS))})",
            field="params.embeddings_output",
        )


def _check_labeled_wanted(sources: Mapping[str, PoolSource], strategy: Strategy | None) -> None:
    """Refuse labeled_features sent with labeled_embeddings, or to a strategy
    that takes no labeled embeddings."""
    if LABELED_EMBEDDINGS in sources:
        raise InvalidInput(
            "send labeled_embeddings or labeled_features, not both", field=LABELED_FEATURES
        )
    if strategy is not None and LABELED_EMBEDDINGS not in (
        *strategy.arrays,
        *strategy.optional_arrays,
    ):
        raise InvalidInput(
            f"{strategy.name} takes no labeled embeddings; labeled_features are for "
            f"strategies that do ({', '.join(_taking(LABELED_EMBEDDINGS))})",
            field=LABELED_FEATURES,
        )


def _taking(array: str) -> list[str]:
    """The registered strategies that take ``array``, by name."""
    return [
        name
        for name, strategy in STRATEGIES.items()
        if array in (*strategy.arrays, *strategy.optional_arrays)
    ]


def held_outputs(
    chunks: Iterator[tuple[int, np.ndarray, np.ndarray]], n_rows: int, max_bytes: int | None
) -> tuple[np.ndarray, np.ndarray]:
    """The class scores (n, c) and embeddings (n, e) of every chunk, refused with
    413 once the first chunk shows that both would pass ``max_bytes``."""
    iterator = iter(chunks)
    _, first_scores, first_embeddings = next(iterator)
    width = first_scores.shape[1] + first_embeddings.shape[1]
    held = n_rows * width * np.dtype(np.float32).itemsize
    if max_bytes is not None and held > max_bytes:
        raise PayloadTooLarge(
            f"the model's class scores and embeddings for these features would be "
            f"{n_rows} x {width} float32 ({held} bytes), more than the {max_bytes} bytes a "
            "body may hold (ALRANK_MAX_NPY_BYTES); send fewer rows",
            field="features",
        )
    scores = np.empty((n_rows, first_scores.shape[1]), np.float32)
    embeddings = np.empty((n_rows, first_embeddings.shape[1]), np.float32)
    for start, chunk_scores, chunk_embeddings in chain(
        [(0, first_scores, first_embeddings)], iterator
    ):
        stop = start + chunk_scores.shape[0]
        if chunk_embeddings.shape[1] != embeddings.shape[1]:
            raise InvalidInput(
                f"the embeddings output has {chunk_embeddings.shape[1]} columns from row "
                f"{start}, {embeddings.shape[1]} before",
                field="params.embeddings_output",
            )
        scores[start:stop] = chunk_scores
        embeddings[start:stop] = chunk_embeddings
    return scores, embeddings
