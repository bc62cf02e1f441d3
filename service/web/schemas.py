"""marshmallow schemas for the scalar fields of POST /v1/rank.

JSON bodies are checked strictly (budget 2.5, "ten" or true are refused);
query strings and multipart form fields arrive as text and are parsed.
"""

from __future__ import annotations

from marshmallow import RAISE, Schema, fields, validate

from service.jobs import (
    ARRAY_FIELDS,
    BALANCE_BY,
    DEFAULT_STOP_KAPPA,
    DEFAULT_STOP_ROUNDS,
    MAX_STOP_ROUNDS,
    SELECTION_METHODS,
)
from service.jobs.fields import JsonBoolean, JsonInteger, JsonModelRefs, JsonNumber

MAX_SEED = 2**64 - 1
# Finite, and far above any real label budget.
MAX_BUDGET_COST = 1e300
# Kappas of earlier rounds a stopping rule may send.
MAX_STOP_HISTORY = 1_000
MAX_BETA = 1e6


def _strict_boolean() -> fields.Boolean:
    return JsonBoolean(load_default=False)


def _beta(*, strict: bool) -> fields.Float:
    kind = JsonNumber if strict else fields.Float
    return kind(load_default=1.0, allow_nan=False, validate=validate.Range(0, MAX_BETA))


class SelectionSchema(Schema):
    """How the k items are drawn from the scores; "top" takes the k best."""

    class Meta:
        unknown = RAISE

    method = fields.String(load_default="top", validate=validate.OneOf(SELECTION_METHODS))
    beta = _beta(strict=True)


class PrefilterSchema(Schema):
    """A pointwise strategy whose ``keep`` best items a batch strategy picks from."""

    class Meta:
        unknown = RAISE

    strategy = fields.String(required=True)
    keep = JsonInteger(required=True, validate=validate.Range(min=1))


class BalanceSchema(Schema):
    """Quotas over the predicted classes, equal or in the proportions ``targets``."""

    class Meta:
        unknown = RAISE

    by = fields.String(load_default="predicted_class", validate=validate.OneOf(BALANCE_BY))
    targets = fields.List(
        JsonNumber(allow_nan=False, validate=validate.Range(min=0)),
        validate=validate.Length(min=1),
    )
    strict = _strict_boolean()


class StoppingSchema(Schema):
    """The stabilizing-predictions rule: stop once the mean of the last ``rounds``
    kappas (``history`` and this round's) reaches ``kappa``."""

    class Meta:
        unknown = RAISE

    kappa = JsonNumber(
        load_default=DEFAULT_STOP_KAPPA,
        allow_nan=False,
        validate=validate.Range(0, 1, min_inclusive=False),
    )
    rounds = JsonInteger(
        load_default=DEFAULT_STOP_ROUNDS, validate=validate.Range(1, MAX_STOP_ROUNDS)
    )
    history = fields.List(
        JsonNumber(allow_nan=False, validate=validate.Range(-1, 1)),
        load_default=list,
        validate=validate.Length(max=MAX_STOP_HISTORY),
    )


class RankJsonSchema(Schema):
    """An application/json rank request; array fields are decoded separately."""

    class Meta:
        unknown = RAISE

    strategy = fields.String(required=True)
    budget = JsonInteger()
    budget_cost = JsonNumber(
        allow_nan=False, validate=validate.Range(min=0, min_inclusive=False, max=MAX_BUDGET_COST)
    )
    model = JsonModelRefs()
    # The API's field names shadow Schema's ``exclude`` option on purpose.
    exclude = fields.Raw(load_default=list)  # type: ignore[assignment]
    seed = JsonInteger(validate=validate.Range(0, MAX_SEED))
    params = fields.Dict(keys=fields.String(), load_default=dict)
    normalize = _strict_boolean()
    return_all_scores = _strict_boolean()
    return_token_scores = _strict_boolean()
    selection = fields.Nested(SelectionSchema, load_default=lambda: {"method": "top"})
    prefilter = fields.Nested(PrefilterSchema)
    balance = fields.Nested(BalanceSchema)
    stopping = fields.Nested(StoppingSchema)


class RankQuerySchema(Schema):
    """Scalar fields of a .npy or multipart rank request, as query or form text.

    Unknown keys are strategy or input parameters (e.g. temperature=2).
    """

    class Meta:
        unknown = RAISE

    strategy = fields.String(required=True)
    budget = fields.Integer()
    budget_cost = fields.Float(
        allow_nan=False, validate=validate.Range(min=0, min_inclusive=False, max=MAX_BUDGET_COST)
    )
    model = fields.String(validate=validate.Length(min=1))
    # Names the role of a .npy body (multipart parts are named by role instead).
    input = fields.String(load_default="probabilities", validate=validate.OneOf(ARRAY_FIELDS))
    exclude = fields.String(load_default="")  # type: ignore[assignment]
    seed = fields.Integer(validate=validate.Range(0, MAX_SEED))
    normalize = fields.Boolean(load_default=False)
    return_all_scores = fields.Boolean(load_default=False)
    return_token_scores = fields.Boolean(load_default=False)
    selection = fields.String(load_default="top", validate=validate.OneOf(SELECTION_METHODS))
    beta = _beta(strict=False)
    prefilter = fields.String(validate=validate.Length(min=1))
    prefilter_keep = fields.Integer(validate=validate.Range(min=1))
    balance = fields.String(validate=validate.OneOf(BALANCE_BY))
    balance_targets = fields.String()
    balance_strict = fields.Boolean(load_default=False)
    stopping_kappa = fields.Float(
        allow_nan=False, validate=validate.Range(0, 1, min_inclusive=False)
    )
    stopping_rounds = fields.Integer(validate=validate.Range(1, MAX_STOP_ROUNDS))
    stopping_history = fields.String()


def split_query(args: dict[str, str]) -> tuple[dict[str, str], dict[str, str]]:
    """Split query or form fields into (scalar fields, strategy/input parameters)."""
    known = set(RankQuerySchema().fields)
    scalars = {key: value for key, value in args.items() if key in known}
    params = {key: value for key, value in args.items() if key not in known}
    return scalars, params
