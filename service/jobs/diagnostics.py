"""What a ranking's pool diagnostics gather, from the request's input kind."""

from __future__ import annotations

from service.ranking.diagnostics import DiagnosticsPlan
from service.ranking.inputs import InputKind
from service.ranking.multilabel import THRESHOLD
from service.ranking.params import ParamValues


def diagnostics_plan(kind: InputKind | None, params: ParamValues) -> DiagnosticsPlan:
    """Class tallies for class distributions (per token for a token kind), label
    tallies at the request's threshold (else its default) for multi-label
    kinds, none for a strategy without such an input."""
    if kind is None:
        return DiagnosticsPlan()
    if kind.yields == "labels":
        threshold = params.get(THRESHOLD.name, THRESHOLD.default)
        if not isinstance(threshold, int | float):
            raise TypeError(f"{THRESHOLD.name} must be a number, got {threshold!r}")
        return DiagnosticsPlan(tally="labels", unit="labels", threshold=float(threshold))
    return DiagnosticsPlan(tally="classes", unit="tokens" if kind.unit == "token" else "items")
