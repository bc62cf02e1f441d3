"""Declarations of the tunable parameters of strategies and input kinds."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

# The checked values of a request's parameters, by name (see Param).
ParamValue = bool | int | float | str | None
ParamValues = Mapping[str, ParamValue]


@dataclass(frozen=True)
class Param:
    """One named parameter: its JSON type, default and allowed range or values.

    ``kind`` is a JSON Schema type name: "number", "integer", "string" or
    "boolean". Bounds are inclusive unless ``exclusive_minimum`` is set.
    """

    name: str
    kind: str
    default: object
    description: str
    minimum: float | None = None
    maximum: float | None = None
    exclusive_minimum: bool = False
    choices: tuple[str, ...] | None = None

    def describe(self) -> dict[str, object]:
        """A JSON-ready description, as listed by GET /v1/strategies."""
        out: dict[str, object] = {
            "name": self.name,
            "type": self.kind,
            "description": self.description,
        }
        if self.default is not None:  # None: computed per request
            out["default"] = self.default
        if self.minimum is not None:
            key = "exclusiveMinimum" if self.exclusive_minimum else "minimum"
            out[key] = self.minimum
        if self.maximum is not None:
            out["maximum"] = self.maximum
        if self.choices is not None:
            out["enum"] = list(self.choices)
        return out
