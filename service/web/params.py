"""Check a request's ``params`` against the parameters a strategy and input declare."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from marshmallow import RAISE, Schema, ValidationError, fields, validate

from service.ranking.params import Param


def _field(param: Param) -> fields.Field:
    """A marshmallow field for ``param``; text is parsed (query strings, forms)."""
    validators: list[validate.Validator] = []
    if param.minimum is not None or param.maximum is not None:
        validators.append(
            validate.Range(param.minimum, param.maximum, min_inclusive=not param.exclusive_minimum)
        )
    if param.choices is not None:
        validators.append(validate.OneOf(param.choices))
    kinds = {
        "number": lambda: fields.Float(allow_nan=False, validate=validators),
        "integer": lambda: fields.Integer(validate=validators),
        "string": lambda: fields.String(validate=validators),
        "boolean": lambda: fields.Boolean(validate=validators),
    }
    return kinds[param.kind]()


def check_params(given: Mapping[str, object], declared: Iterable[Param]) -> dict[str, object]:
    """``given`` checked and completed with defaults; unknown names are refused."""
    declared = tuple(declared)
    schema_class = Schema.from_dict({param.name: _field(param) for param in declared})
    try:
        loaded = schema_class(unknown=RAISE).load(dict(given))
    except ValidationError as error:
        known = ", ".join(param.name for param in declared) or "none"
        messages = {
            name: [
                f"{message} Parameters here: {known}." if message == "Unknown field." else message
                for message in field_messages
            ]
            for name, field_messages in error.normalized_messages().items()
        }
        raise ValidationError({"params": messages}) from None
    return {param.name: loaded.get(param.name, param.default) for param in declared}
