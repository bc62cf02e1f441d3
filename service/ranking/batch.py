"""Batch strategies as the registry calls them: BatchInputs in, picks out.

Each adapter takes the arrays it needs from BatchInputs, checks the
parameters that depend on the pool (InvalidInput naming the parameter),
and calls the pure function in ``diversity``.
"""

from __future__ import annotations

import numpy as np

from service.errors import InvalidInput
from service.ranking import batchbald as batchbald_core
from service.ranking import coverage, diversity, representative, uncertainty
from service.ranking import discriminative as discriminative_core
from service.ranking.params import Param
from service.ranking.rowops import columns
from service.ranking.strategy import BatchInputs, Picks

# Citovsky et al. (2021) draw the batch from about ten times as many
# low-margin candidates as it holds.
CANDIDATES_PER_PICK = 10

CLUSTER_MARGIN_PARAMS = (
    Param(
        "candidates",
        "integer",
        None,
        "Smallest-margin items to cluster and draw from; default 10 x budget "
        "(at most the pool left after exclusions).",
        minimum=1,
    ),
    Param(
        "clusters",
        "integer",
        None,
        "Clusters the candidates are split into (k-means); default the budget.",
        minimum=1,
    ),
)


# The pointwise scores ranked_batch and information_density may weigh, by name.
UNCERTAINTY_SCORES = {
    "least_confidence": uncertainty.least_confidence_of_columns,
    "margin": uncertainty.margin_of_columns,
    "ratio": uncertainty.ratio_of_columns,
    "entropy": uncertainty.entropy_of_columns,
}


SCORE = Param(
    "score",
    "string",
    "least_confidence",
    "ranked_batch, information_density: the uncertainty u(x) weighed, a pointwise "
    "strategy of class probabilities.",
    choices=tuple(UNCERTAINTY_SCORES),
)
RANKED_BATCH_PARAMS = (SCORE,)
INFORMATION_DENSITY_PARAMS = (
    SCORE,
    Param(
        "density_power",
        "number",
        1.0,
        "How much density counts: score = u(x) * density(x)^density_power (0: u alone).",
        minimum=0.0,
        maximum=100.0,
    ),
)


def coreset(inputs: BatchInputs, budget: int) -> Picks:
    """k-center greedy over the embeddings, from the labeled set when given."""
    return diversity.coreset(
        inputs.arrays["embeddings"],
        budget,
        eligible=inputs.eligible,
        labeled=inputs.arrays.get("labeled_embeddings"),
    )


def badge(inputs: BatchInputs, budget: int) -> Picks:
    """k-means++ seeding over gradient embeddings, seeded by the request."""
    return diversity.badge(
        _probs(inputs),
        inputs.arrays["embeddings"],
        budget,
        rng=inputs.rng,
        eligible=inputs.eligible,
    )


def cluster_margin(inputs: BatchInputs, budget: int) -> Picks:
    """Smallest margins, spread round-robin over clusters of their embeddings."""
    available = int(inputs.eligible.sum())
    candidates = _int_param(inputs, "candidates", min(available, CANDIDATES_PER_PICK * budget))
    if not budget <= candidates <= available:
        raise InvalidInput(
            f"candidates must lie between the budget ({budget}) and the pool items "
            f"available ({available}), got {candidates}",
            field="candidates",
        )
    clusters = _int_param(inputs, "clusters", budget)
    if clusters > candidates:
        raise InvalidInput(
            f"clusters must be at most candidates ({candidates}), got {clusters}",
            field="clusters",
        )
    return diversity.cluster_margin(
        _probs(inputs),
        inputs.arrays["embeddings"],
        budget,
        rng=inputs.rng,
        eligible=inputs.eligible,
        candidates=candidates,
        clusters=clusters,
    )


EMBEDDING_KMEANS_PARAMS = (
    Param(
        "unit_length",
        "boolean",
        True,
        "embedding_kmeans: scale the embeddings to unit length before clustering "
        "(small-text's normalize=True).",
    ),
)


BATCHBALD_PARAMS = (
    Param(
        "joint_samples",
        "integer",
        batchbald_core.DEFAULT_JOINT_SAMPLES,
        "batchbald: label configurations the joint entropy is computed over; exact "
        "while C^(picks) fits, sampled from the passes beyond.",
        minimum=1,
        maximum=100_000,
    ),
)


def batchbald(inputs: BatchInputs, budget: int) -> Picks:
    """BatchBALD over the samples (n, t, c), seeded by the request once sampled."""
    return batchbald_core.batchbald(
        _probs(inputs),
        budget,
        eligible=inputs.eligible,
        rng=inputs.rng,
        joint_samples=_int_param(inputs, "joint_samples", batchbald_core.DEFAULT_JOINT_SAMPLES),
    )


DISCRIMINATIVE_PARAMS = (
    Param(
        "rounds",
        "integer",
        None,
        "discriminative: sub-batches, each picked by a classifier trained anew; default "
        f"{discriminative_core.DEFAULT_ROUNDS} (at most the budget).",
        minimum=1,
    ),
    Param(
        "unlabeled_factor",
        "integer",
        discriminative_core.DEFAULT_UNLABELED_FACTOR,
        "discriminative: unlabeled items sampled per labeled one to train each classifier.",
        minimum=1,
        maximum=1000,
    ),
)


def discriminative(inputs: BatchInputs, budget: int) -> Picks:
    """Rounds of a labeled-against-unlabeled classifier, seeded by the request."""
    rounds = inputs.params.get("rounds")
    if isinstance(rounds, int) and rounds > budget:
        raise InvalidInput(
            f"rounds must be at most the budget ({budget}), got {rounds}", field="rounds"
        )
    return discriminative_core.discriminative(
        inputs.arrays["embeddings"],
        inputs.arrays["labeled_embeddings"],
        budget,
        eligible=inputs.eligible,
        rng=inputs.rng,
        rounds=rounds if isinstance(rounds, int) else None,
        unlabeled_factor=_int_param(
            inputs, "unlabeled_factor", discriminative_core.DEFAULT_UNLABELED_FACTOR
        ),
    )


def embedding_kmeans(inputs: BatchInputs, budget: int) -> Picks:
    """The item nearest each k-means center of the embeddings, seeded by the request."""
    return diversity.embedding_kmeans(
        inputs.arrays["embeddings"],
        budget,
        rng=inputs.rng,
        eligible=inputs.eligible,
        unit_length=inputs.params.get("unit_length", True) is not False,
    )


def ranked_batch(inputs: BatchInputs, budget: int) -> Picks:
    """Uncertainty against distance to the labeled set and the picks, as modAL ranks."""
    return representative.ranked_batch(
        _uncertainty(inputs),
        inputs.arrays["embeddings"],
        budget,
        eligible=inputs.eligible,
        labeled=inputs.arrays.get("labeled_embeddings"),
    )


FALCUN_PARAMS = (
    Param(
        "gamma",
        "number",
        1.0,
        "falcun: how greedy the draws are: 0 draws uniformly, larger values favour "
        "the most relevant items.",
        minimum=0.0,
        maximum=100.0,
    ),
)


def falcun(inputs: BatchInputs, budget: int) -> Picks:
    """Uncertain and diverse draws in probability space, seeded by the request."""
    return representative.falcun(
        _probs(inputs),
        budget,
        eligible=inputs.eligible,
        rng=inputs.rng,
        gamma=_float_param(inputs, "gamma", 1.0),
    )


TYPICLUST_PARAMS = (
    Param(
        "max_clusters",
        "integer",
        coverage.DEFAULT_MAX_CLUSTERS,
        "typiclust: at most this many k-means clusters (labeled + budget when fewer); "
        "past it, clusters take further picks, the least covered first.",
        minimum=1,
        maximum=10_000,
    ),
    Param(
        "typicality_neighbours",
        "integer",
        coverage.DEFAULT_TYPICALITY_NEIGHBOURS,
        "typiclust: nearest members of its cluster whose mean distance an item's "
        "typicality inverts.",
        minimum=1,
        maximum=1000,
    ),
)


def typiclust(inputs: BatchInputs, budget: int) -> Picks:
    """The most typical item of the largest uncovered clusters, seeded by the request."""
    return coverage.typiclust(
        inputs.arrays["embeddings"],
        budget,
        eligible=inputs.eligible,
        rng=inputs.rng,
        labeled=inputs.arrays.get("labeled_embeddings"),
        max_clusters=_int_param(inputs, "max_clusters", coverage.DEFAULT_MAX_CLUSTERS),
        neighbours=_int_param(
            inputs, "typicality_neighbours", coverage.DEFAULT_TYPICALITY_NEIGHBOURS
        ),
    )


PROBCOVER_PARAMS = (
    Param(
        "delta",
        "number",
        None,
        "probcover: the radius of the balls, in embedding units; default the median "
        f"distance from an item to its {coverage.DEFAULT_DELTA_NEIGHBOUR}th nearest neighbour.",
        minimum=0.0,
    ),
    Param(
        "cover_neighbours",
        "integer",
        coverage.DEFAULT_COVER_NEIGHBOURS,
        "probcover: at most this many nearest items lie in a ball (edges kept per item, "
        "memory n x cover_neighbours).",
        minimum=1,
        maximum=128,
    ),
)


def probcover(inputs: BatchInputs, budget: int) -> Picks:
    """Greedy coverage of delta-balls around the pool items, seeded by the request."""
    delta = inputs.params.get("delta")
    return coverage.probcover(
        inputs.arrays["embeddings"],
        budget,
        eligible=inputs.eligible,
        rng=inputs.rng,
        labeled=inputs.arrays.get("labeled_embeddings"),
        delta=None if delta is None else float(delta),
        neighbours=_int_param(inputs, "cover_neighbours", coverage.DEFAULT_COVER_NEIGHBOURS),
    )


def information_density(inputs: BatchInputs, budget: int) -> Picks:
    """Uncertainty weighed by the mean cosine similarity to the pool."""
    return representative.information_density(
        _uncertainty(inputs),
        inputs.arrays["embeddings"],
        budget,
        eligible=inputs.eligible,
        power=_float_param(inputs, "density_power", 1.0),
    )


def _uncertainty(inputs: BatchInputs) -> np.ndarray:
    """The scores (n,) of the pointwise strategy ``params.score`` over the probabilities."""
    name = str(inputs.params.get("score", "least_confidence"))
    return UNCERTAINTY_SCORES[name](columns(_probs(inputs)))


def _probs(inputs: BatchInputs) -> np.ndarray:
    if inputs.probs is None:
        raise ValueError("this strategy needs a probability input")
    return inputs.probs


def _int_param(inputs: BatchInputs, name: str, default: int) -> int:
    value = inputs.params.get(name)
    return default if value is None else int(value)


def _float_param(inputs: BatchInputs, name: str, default: float) -> float:
    value = inputs.params.get(name)
    return default if value is None else float(value)
