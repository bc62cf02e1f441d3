"""What the entry point takes and gives: a typed, decoded rank request and its answer."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from service.decoding.sources import PoolSource
from service.models.inference import INFERENCE_CHUNK_BYTES
from service.ranking.agreement import StoppingRule
from service.ranking.chunks import DEFAULT_CHUNK_BYTES
from service.ranking.composition import Balance, Prefilter
from service.ranking.pipeline import Ranking
from service.ranking.selection import Selection


@dataclass(frozen=True)
class RankRequest:
    """One rank request, decoded but not yet checked against the registry.

    ``arrays`` maps field names ("probabilities", "embeddings", "features",
    ...) to sources not yet read, pool axis first as sent. ``params`` holds
    the strategy's and the input's parameters as sent: typed values from
    JSON when ``params_typed``, text from a query string or form otherwise.
    ``exclude`` holds pool indices as sent (any integer array). ``model`` is
    a model id or bundled name, a committee's (a tuple, or ids and names
    separated by commas), or the bytes of an .onnx file sent with the request.
    ``prefilter`` and ``balance`` compose the selection (see
    ``ranking.composition``). ``return_token_scores`` asks for each pick's
    per-token scores (token kinds). ``stopping`` asks whether the
    stabilizing-predictions rule stops now (see ``ranking.agreement``).
    ``budget`` counts the items to pick; ``budget_cost`` instead spends money
    on the ``costs`` array (see ``ranking.costs``): exactly one is set.
    """

    strategy: str
    budget: int | None
    arrays: Mapping[str, PoolSource]
    params: Mapping[str, object] = field(default_factory=dict)
    params_typed: bool = True
    exclude: np.ndarray = field(default_factory=lambda: np.empty(0, np.int64))
    normalize: bool = False
    seed: int | None = None
    return_all_scores: bool = False
    return_token_scores: bool = False
    selection: Selection = field(default_factory=Selection)
    model: str | bytes | tuple[str, ...] | None = None
    prefilter: Prefilter | None = None
    balance: Balance | None = None
    stopping: StoppingRule | None = None
    budget_cost: float | None = None


@dataclass(frozen=True)
class RankLimits:
    """Bounds a deployment puts on requests, and the chunk sizes it works in.

    None means no bound beyond the core's own. ``chunk_bytes`` is the
    working-precision (float64) size of a pool chunk; ``inference_chunk_bytes``
    the feature bytes per model run. ``max_held_output_bytes`` bounds the
    model output a batch strategy holds whole (as a body of the same array
    would be bounded).
    """

    max_budget: int | None = None
    max_rows: int | None = None
    max_classes: int | None = None
    max_held_output_bytes: int | None = None
    chunk_bytes: int = DEFAULT_CHUNK_BYTES
    inference_chunk_bytes: int = INFERENCE_CHUNK_BYTES


@dataclass(frozen=True)
class JobSummary:
    """What a checked request will do, known before it is ranked (for logs)."""

    strategy: str
    budget: int
    rows: int
    input: str | None
    model: str | None


@dataclass(frozen=True)
class RankAnswer:
    """A ranking and what it answered: the strategy's registered name (an
    alias resolved), the budget, the selection, its prefilter (the registered
    name) and balance, and the model that scored the features, if any (a
    committee's member ids, in order); ``budget_cost`` the money the request
    gave to spend, when it gave money rather than a count."""

    ranking: Ranking
    strategy: str
    budget: int
    selection: Selection
    model_id: str | tuple[str, ...] | None = None
    prefilter: Prefilter | None = None
    balance: Balance | None = None
    budget_cost: float | None = None
