"""marshmallow schemas for the scalar fields of POST /v1/rank.

JSON bodies are checked strictly (budget 2.5, "ten" or true are refused);
query strings and multipart form fields arrive as text and are parsed.
"""

from __future__ import annotations

from typing import ClassVar

from marshmallow import RAISE, Schema, fields, validate

from service.ranking.inputs import ARRAY_ROLES, INPUT_KINDS
from service.ranking.selection import SELECTION_METHODS

MAX_SEED = 2**64 - 1
MAX_BETA = 1e6
INPUT_FIELDS = tuple(INPUT_KINDS)
ARRAY_FIELDS = INPUT_FIELDS + tuple(ARRAY_ROLES)


class JsonInteger(fields.Integer):
    """A strict integer. The JSON parser turns integers beyond 64 bits into
    floats; those are reported as out of range, not as "not an integer"."""

    default_error_messages: ClassVar[dict[str, str]] = {
        "too_large": "Integer out of range: must fit in 64 bits (at most 18446744073709551615)."
    }

    def __init__(self, **kwargs: object) -> None:
        super().__init__(strict=True, **kwargs)  # type: ignore[arg-type]

    def _validated(self, value: object) -> int:
        if isinstance(value, float) and value.is_integer() and abs(value) >= 2**63:
            raise self.make_error("too_large")
        return super()._validated(value)


def _strict_boolean() -> fields.Boolean:
    return fields.Boolean(truthy={True}, falsy={False}, load_default=False)


def _beta() -> fields.Float:
    return fields.Float(load_default=1.0, allow_nan=False, validate=validate.Range(0, MAX_BETA))


class SelectionSchema(Schema):
    """How the k items are drawn from the scores; "top" takes the k best."""

    class Meta:
        unknown = RAISE

    method = fields.String(load_default="top", validate=validate.OneOf(SELECTION_METHODS))
    beta = _beta()


class RankJsonSchema(Schema):
    """An application/json rank request; array fields are decoded separately."""

    class Meta:
        unknown = RAISE

    strategy = fields.String(required=True)
    budget = JsonInteger(required=True)
    exclude = fields.Raw(load_default=list)
    seed = JsonInteger(validate=validate.Range(0, MAX_SEED))
    params = fields.Dict(keys=fields.String(), load_default=dict)
    normalize = _strict_boolean()
    return_all_scores = _strict_boolean()
    selection = fields.Nested(SelectionSchema, load_default=lambda: {"method": "top"})


class RankQuerySchema(Schema):
    """Scalar fields of a .npy or multipart rank request, as query or form text.

    Unknown keys are strategy or input parameters (e.g. temperature=2).
    """

    class Meta:
        unknown = RAISE

    strategy = fields.String(required=True)
    budget = fields.Integer(required=True)
    # Names the role of a .npy body (multipart parts are named by role instead).
    input = fields.String(load_default="probabilities", validate=validate.OneOf(ARRAY_FIELDS))
    exclude = fields.String(load_default="")
    seed = fields.Integer(validate=validate.Range(0, MAX_SEED))
    normalize = fields.Boolean(load_default=False)
    return_all_scores = fields.Boolean(load_default=False)
    selection = fields.String(load_default="top", validate=validate.OneOf(SELECTION_METHODS))
    beta = _beta()


def split_query(args: dict[str, str]) -> tuple[dict[str, str], dict[str, str]]:
    """Split query or form fields into (scalar fields, strategy/input parameters)."""
    known = set(RankQuerySchema().fields)
    scalars = {key: value for key, value in args.items() if key in known}
    params = {key: value for key, value in args.items() if key not in known}
    return scalars, params
