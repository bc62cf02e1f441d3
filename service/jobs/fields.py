"""marshmallow fields that read JSON strictly: a value must already have the type.

Query strings and form fields arrive as text and use marshmallow's parsing
fields instead; a JSON body has real types, and "2", 1 or true in the wrong
place is a client bug worth reporting.
"""

from __future__ import annotations

import numbers

from marshmallow import fields


class JsonInteger(fields.Integer):
    """An integer, not a fraction, string or boolean.

    A number with a zero fractional part (``2.0``) is an integer, as JSON
    Schema counts them. The JSON parser turns integers beyond 64 bits into
    floats; those are reported as out of range, not as "not an integer".
    """

    # Not ClassVar: marshmallow's Field declares it as a plain attribute.
    default_error_messages = {  # noqa: RUF012
        "too_large": "Integer out of range: must fit in 64 bits (at most 18446744073709551615)."
    }

    def __init__(self, **kwargs: object) -> None:
        # kwargs are Integer's keyword arguments, which marshmallow types with a
        # private TypedDict: passed through unchecked.
        super().__init__(strict=True, **kwargs)  # type: ignore[arg-type]

    def _validated(self, value: object) -> int:
        if isinstance(value, float) and value.is_integer():
            if abs(value) >= 2**63:
                raise self.make_error("too_large")
            value = int(value)
        return super()._validated(value)


class JsonNumber(fields.Float):
    """A number (integer or float), not a string or boolean."""

    def _validated(self, value: object) -> float:
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise self.make_error("invalid", input=value)
        return super()._validated(value)


class JsonBoolean(fields.Boolean):
    """true or false; not 1, 0 or "true"."""

    def _deserialize(self, value: object, attr: str | None, data: object, **kwargs: object) -> bool:
        if not isinstance(value, bool):
            raise self.make_error("invalid", input=value)
        return value


class JsonModelRefs(fields.Field[str | tuple[str, ...]]):
    """A model id or bundled name, or a committee's: a list of 2 or more."""

    # Not ClassVar: marshmallow's Field declares it as a plain attribute.
    default_error_messages = {  # noqa: RUF012
        "invalid": "Expected a model id or bundled name, or a list of them (a committee).",
        "empty": "Expected a non-empty string.",
        "too_few": "A committee has at least 2 members; send one model as a string.",
    }

    def _deserialize(
        self, value: object, attr: str | None, data: object, **kwargs: object
    ) -> str | tuple[str, ...]:
        if isinstance(value, str):
            if not value:
                raise self.make_error("empty")
            return value
        if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
            raise self.make_error("invalid")
        if len(value) < 2:
            raise self.make_error("too_few")
        return tuple(value)
