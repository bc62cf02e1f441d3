"""The strategy registry: the one source for validation, GET /v1/strategies and docs."""

from __future__ import annotations

import difflib

import numpy as np

from service.errors import InvalidInput
from service.ranking import batch, bayesian, multilabel, uncertainty
from service.ranking.params import ParamValues
from service.ranking.strategy import Scorer, ScorerFactory, Strategy


def _fixed(score: Scorer) -> ScorerFactory:
    """A factory for a scorer that needs neither parameters nor randomness."""
    return lambda params, rng: score


def _random_scorer(params: ParamValues, rng: np.random.Generator) -> Scorer:
    # Draws advance one per-request generator in pool order, so the scores do
    # not depend on where the chunk boundaries fall.
    def score(cols: np.ndarray) -> np.ndarray:
        return rng.random((cols.shape[-1],))

    return score


STRATEGIES: dict[str, Strategy] = {
    strategy.name: strategy
    for strategy in (
        Strategy(
            "least_confidence",
            "uncertainty",
            "One minus the probability of the most likely class.",
            "1 - p1",
            "probs",
            _fixed(uncertainty.least_confidence_of_columns),
        ),
        Strategy(
            "margin",
            "uncertainty",
            "Small gap between the two most likely classes scores high.",
            "1 - (p1 - p2)",
            "probs",
            _fixed(uncertainty.margin_of_columns),
        ),
        Strategy(
            "ratio",
            "uncertainty",
            "Ratio of the second most likely to the most likely class probability.",
            "p2 / p1",
            "probs",
            _fixed(uncertainty.ratio_of_columns),
        ),
        Strategy(
            "entropy",
            "uncertainty",
            "Shannon entropy of the predicted class distribution, in nats.",
            "-sum_c p_c log p_c (0 log 0 = 0)",
            "probs",
            _fixed(uncertainty.entropy_of_columns),
        ),
        Strategy(
            "random",
            "baseline",
            "Uniform random sample of the pool; the baseline every strategy must beat.",
            "u ~ Uniform[0, 1) per item, from the request's seeded generator",
            "probs",
            _random_scorer,
            randomized=True,
            unit_scores="item",
        ),
        Strategy(
            "bald",
            "bayesian",
            "Mutual information between the label and the model (BALD, Houlsby et al. "
            "2011): passes confident on their own but disagreeing score high.",
            "H(mean_t p_t) - mean_t H(p_t), clipped at 0",
            "samples",
            _fixed(bayesian.bald_of_columns),
        ),
        Strategy(
            "predictive_entropy",
            "bayesian",
            "Entropy of the mean prediction over passes (consensus entropy in modAL).",
            "H(mean_t p_t)",
            "samples",
            _fixed(bayesian.predictive_entropy_of_columns),
            aliases=("consensus_entropy",),
        ),
        Strategy(
            "variation_ratios",
            "bayesian",
            "Share of passes that do not vote for the modal class (Freeman 1965).",
            "1 - max_c votes_c / T, votes from each pass's argmax",
            "samples",
            _fixed(bayesian.variation_ratios_of_columns),
        ),
        Strategy(
            "mean_std",
            "bayesian",
            "Mean over classes of the standard deviation of the class probability "
            "over passes (Kampffmeyer et al. 2016).",
            "mean_c sqrt(mean_t (p_tc - mean_t p_tc)^2)",
            "samples",
            _fixed(bayesian.mean_std_of_columns),
        ),
        Strategy(
            "vote_entropy",
            "committee",
            "Entropy of the committee's vote distribution over classes (Dagan & Engelson 1995).",
            "H(votes / T), votes from each pass's argmax",
            "samples",
            _fixed(bayesian.vote_entropy_of_columns),
        ),
        Strategy(
            "kl_max_disagreement",
            "committee",
            "Largest KL divergence of a member from the consensus (McCallum & Nigam "
            "1998, as in modAL); its mean over members equals BALD.",
            "max_t KL(p_t || mean_t p_t)",
            "samples",
            _fixed(bayesian.kl_max_disagreement_of_columns),
        ),
        Strategy(
            "batchbald",
            "bayesian",
            "BatchBALD (Kirsch et al. 2019): greedy batch of the largest joint mutual "
            "information, so that its members do not repeat one another's information.",
            "argmax H(y_1..y_i) - sum_j E_t H(y_j | t) over the batch so far and a candidate",
            "samples",
            select=batch.batchbald,
            params=batch.BATCHBALD_PARAMS,
            randomized=True,
        ),
        Strategy(
            "coreset",
            "diversity",
            "k-center greedy over embeddings (Sener & Savarese 2018): each pick is the "
            "item farthest from the labeled set and the picks so far.",
            "argmax_i min_j ||h_i - c_j||, centers c = labeled and picked items",
            None,
            select=batch.coreset,
            arrays=("embeddings",),
            optional_arrays=("labeled_embeddings",),
        ),
        Strategy(
            "badge",
            "hybrid",
            "BADGE (Ash et al. 2020): k-means++ seeding over gradient embeddings, "
            "uncertain and diverse at once.",
            "k-means++ over g_i = (p_i - onehot(argmax p_i)) (x) h_i",
            "probs",
            select=batch.badge,
            randomized=True,
            arrays=("embeddings",),
        ),
        Strategy(
            "cluster_margin",
            "hybrid",
            "Cluster-Margin (Citovsky et al. 2021): the smallest margins, taken "
            "round-robin over clusters of their embeddings, smallest cluster first.",
            "round-robin over k-means clusters of the candidates with the smallest p1 - p2",
            "probs",
            select=batch.cluster_margin,
            params=batch.CLUSTER_MARGIN_PARAMS,
            randomized=True,
            arrays=("embeddings",),
        ),
        Strategy(
            "discriminative",
            "diversity",
            "Discriminative active learning (Gissin & Shalev-Shwartz 2019; small-text's "
            "DiscriminativeActiveLearning): in rounds, a classifier learns to tell labeled "
            "from unlabeled items, and the items it finds least like the labeled ones go next.",
            "per round: top P(unlabeled | h) of logistic regression, labeled vs sampled pool",
            None,
            select=batch.discriminative,
            params=batch.DISCRIMINATIVE_PARAMS,
            randomized=True,
            arrays=("embeddings", "labeled_embeddings"),
        ),
        Strategy(
            "embedding_kmeans",
            "diversity",
            "The item nearest each of budget k-means centers of the embeddings "
            "(small-text's EmbeddingKMeans, after BERT-KM, Yuan et al. 2020).",
            "argmin_i ||h_i - mu_j|| for each k-means center mu_j, k = budget",
            None,
            select=batch.embedding_kmeans,
            params=batch.EMBEDDING_KMEANS_PARAMS,
            randomized=True,
            arrays=("embeddings",),
        ),
        Strategy(
            "typiclust",
            "diversity",
            "TypiClust (Hacohen et al. 2022; scikit-activeml's TypiClust): for cold starts "
            "and small budgets, the most typical item of each of the largest clusters "
            "no labeled item covers.",
            "k-means into |L| + budget clusters; in the least covered, largest: "
            "argmax 1 / mean_{k nearest j} ||h - h_j||",
            None,
            select=batch.typiclust,
            params=batch.TYPICLUST_PARAMS,
            randomized=True,
            arrays=("embeddings",),
            optional_arrays=("labeled_embeddings",),
        ),
        Strategy(
            "probcover",
            "diversity",
            "ProbCover (Yehuda et al. 2022; small-text's and scikit-activeml's ProbCover): "
            "for cold starts and small budgets, greedy coverage of the pool by balls of "
            "radius delta, the labeled items' balls counted as covered.",
            "argmax_x |{y uncovered : ||h_x - h_y|| <= delta}| over a bounded k-nearest graph",
            None,
            select=batch.probcover,
            params=batch.PROBCOVER_PARAMS,
            randomized=True,
            arrays=("embeddings",),
            optional_arrays=("labeled_embeddings",),
        ),
        Strategy(
            "ranked_batch",
            "hybrid",
            "Ranked batch-mode sampling (Cardoso et al. 2017; modAL's "
            "uncertainty_batch_sampling): uncertainty traded against closeness to the "
            "labeled items and the picks so far, by the share of the pool still unlabeled.",
            "argmax alpha (1 - 1 / (1 + min_j ||h - c_j||)) + (1 - alpha) u, "
            "alpha = |U| / (|U| + |L u S|)",
            "probs",
            select=batch.ranked_batch,
            params=batch.RANKED_BATCH_PARAMS,
            arrays=("embeddings",),
            optional_arrays=("labeled_embeddings",),
        ),
        Strategy(
            "falcun",
            "hybrid",
            "FALCUN (Gilhuber et al. 2024; scikit-activeml's Falcun): draws that are "
            "uncertain and diverse in the space of class probabilities, for clients "
            "that have no embeddings.",
            "draw x with probability ~ (u(x) + min-max scaled min_j ||p(x) - p(x_j)||_1)^gamma",
            "probs",
            select=batch.falcun,
            params=batch.FALCUN_PARAMS,
            randomized=True,
        ),
        Strategy(
            "information_density",
            "hybrid",
            "Information density (Settles & Craven 2008): uncertainty weighed by how "
            "typical an item is, its mean cosine similarity to the pool.",
            "u(x) * max(0, mean_j cos(h_x, h_j))^density_power",
            "probs",
            select=batch.information_density,
            params=batch.INFORMATION_DENSITY_PARAMS,
            arrays=("embeddings",),
        ),
        Strategy(
            "mnlp",
            "sequence",
            "Maximum normalized log-probability (Shen et al. 2018): a sequence's mean "
            "surprise at its tokens' most likely tags, so that long sequences are not "
            "favoured; for token kinds.",
            "-(1/L) sum_t log max_c p_tc",
            "probs",
            _fixed(uncertainty.neg_log_confidence_of_columns),
            units=("token",),
            unit_scores="mean",
        ),
        Strategy(
            "min_confidence",
            "multilabel",
            "modAL's min_confidence: the item whose least likely label is least likely.",
            "1 - min_k p_k",
            "labels",
            _fixed(multilabel.min_confidence_of_label_columns),
            unit_scores="item",
        ),
        Strategy(
            "avg_confidence",
            "multilabel",
            "modAL's avg_confidence: the largest mean label probability.",
            "mean_k p_k",
            "labels",
            _fixed(multilabel.avg_confidence_of_label_columns),
            unit_scores="item",
        ),
        Strategy(
            "max_score",
            "multilabel",
            "modAL's max_score: the largest label score p_k (y_k - 1/2), y_k the predicted "
            "label (p_k >= threshold); shifted by 1/2 to lie in [0, 1].",
            "max_k p_k (y_k - 1/2) + 1/2",
            "labels",
            multilabel.max_score_scorer,
            params=(multilabel.THRESHOLD,),
            unit_scores="item",
        ),
        Strategy(
            "avg_score",
            "multilabel",
            "modAL's avg_score: the mean label score p_k (y_k - 1/2); shifted by 1/2 to lie "
            "in [0, 1].",
            "mean_k p_k (y_k - 1/2) + 1/2",
            "labels",
            multilabel.avg_score_scorer,
            params=(multilabel.THRESHOLD,),
            unit_scores="item",
        ),
        Strategy(
            "label_cardinality_inconsistency",
            "multilabel",
            "Label cardinality inconsistency (Li & Guo 2013; small-text's "
            "LabelCardinalityInconsistency): how far the predicted label count is from "
            "the labeled items' mean.",
            "|sum_k [p_k >= threshold] - label_cardinality|",
            "labels",
            multilabel.label_cardinality_inconsistency_scorer,
            params=(multilabel.THRESHOLD, multilabel.LABEL_CARDINALITY),
            optional_arrays=(multilabel.LABELED_LABELS,),
            unit_scores="item",
        ),
    )
}

ALIASES: dict[str, str] = {
    alias: strategy.name for strategy in STRATEGIES.values() for alias in strategy.aliases
}


def get_strategy(name: str) -> Strategy:
    """The strategy registered as ``name`` (or an alias of it); InvalidInput
    listing the known ones otherwise."""
    try:
        return STRATEGIES[ALIASES.get(name, name)]
    except KeyError:
        known = ", ".join(sorted(STRATEGIES))
        nearest = difflib.get_close_matches(name, [*STRATEGIES, *ALIASES], n=1)
        hint = f"did you mean {nearest[0]!r}? " if nearest else ""
        raise InvalidInput(
            f"unknown strategy {name!r}; {hint}must be one of: {known}", field="strategy"
        ) from None
