"""Jobs: from a typed, decoded rank request to a ranking, through one call (``rank``)."""

from service.jobs.catalog import (
    ARRAY_FIELDS,
    LENGTHS,
    SELECTION_METHODS,
    TOKEN_FIELDS,
    describe_inputs,
)
from service.jobs.request import JobSummary, RankAnswer, RankLimits, RankRequest
from service.jobs.run import rank
from service.ranking.agreement import (
    DEFAULT_STOP_KAPPA,
    DEFAULT_STOP_ROUNDS,
    MAX_STOP_ROUNDS,
    StoppingRule,
)
from service.ranking.composition import BALANCE_BY, Balance, Prefilter
from service.ranking.selection import Selection

__all__ = [
    "ARRAY_FIELDS",
    "BALANCE_BY",
    "DEFAULT_STOP_KAPPA",
    "DEFAULT_STOP_ROUNDS",
    "LENGTHS",
    "MAX_STOP_ROUNDS",
    "SELECTION_METHODS",
    "TOKEN_FIELDS",
    "Balance",
    "JobSummary",
    "Prefilter",
    "RankAnswer",
    "RankLimits",
    "RankRequest",
    "Selection",
    "StoppingRule",
    "describe_inputs",
    "rank",
]
