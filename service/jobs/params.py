"""Check a request's ``params`` against the parameters a strategy and input declare.

Each Param becomes a marshmallow field, so a bad value gets the same
messages, under ``params.<name>``, as the request's other fields.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping
from typing import Any

from marshmallow import RAISE, Schema, ValidationError, fields, validate

from service.jobs.fields import JsonBoolean, JsonInteger, JsonNumber
from service.ranking.params import Param, ParamValue


def _field(param: Param, *, strict: bool) -> fields.Field[Any]:
    """A marshmallow field for ``param``; strict for JSON, parsing text otherwise."""
    validators: list[validate.Validator] = []
    if param.minimum is not None or param.maximum is not None:
        validators.append(
            validate.Range(param.minimum, param.maximum, min_inclusive=not param.exclusive_minimum)
        )
    if param.choices is not None:
        validators.append(validate.OneOf(param.choices))
    kinds: dict[str, type[fields.Field[Any]]] = {
        "number": JsonNumber if strict else fields.Float,
        "integer": JsonInteger if strict else fields.Integer,
        "string": fields.String,
        "boolean": JsonBoolean if strict else fields.Boolean,
    }
    field = kinds[param.kind](validate=validators)
    if isinstance(field, fields.Float):
        field.allow_nan = False
    return field


def check_params(
    given: Mapping[str, object], declared: Iterable[Param], *, strict: bool
) -> dict[str, ParamValue]:
    """``given`` checked and completed with defaults; unknown names are refused.

    ``strict`` (JSON bodies) wants values of the declared type; otherwise
    (query strings, forms) text is parsed.
    """
    declared = tuple(declared)
    try:
        # A fresh schema per request: instances are not shared between threads.
        loaded = _schema_class(declared, strict=strict)(unknown=RAISE).load(dict(given))
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


@functools.cache
def _schema_class(declared: tuple[Param, ...], *, strict: bool) -> type[Schema]:
    """The schema class of ``declared``, built once per combination: building
    one costs more than checking a request with it."""
    fields_by_name = {param.name: _field(param, strict=strict) for param in declared}
    return Schema.from_dict(fields_by_name)
