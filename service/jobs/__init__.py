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
from service.ranking.composition import BALANCE_BY, Balance, Prefilter
from service.ranking.selection import Selection

__all__ = [
    "ARRAY_FIELDS",
    "BALANCE_BY",
    "LENGTHS",
    "SELECTION_METHODS",
    "TOKEN_FIELDS",
    "Balance",
    "JobSummary",
    "Prefilter",
    "RankAnswer",
    "RankLimits",
    "RankRequest",
    "Selection",
    "describe_inputs",
    "rank",
]
