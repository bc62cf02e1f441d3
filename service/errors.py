"""Typed errors shared by every layer.

Each error carries the HTTP status it maps to as a class attribute, so the
numpy core and the decoders can raise precise errors without importing the web
layer; the web layer renders any of them as application/problem+json.
"""

from __future__ import annotations


class AlrankError(Exception):
    """Base of every error the service reports to its callers."""

    status: int = 500
    title: str = "Internal Server Error"
    slug: str = "internal"

    def __init__(self, detail: str, *, field: str | None = None, **extra: object) -> None:
        super().__init__(detail)
        self.detail = detail
        self.field = field
        self.extra = extra

    @property
    def fields(self) -> dict[str, list[str]]:
        """Per-field messages, keyed by the request field the error is about."""
        return {self.field: [self.detail]} if self.field else {}


class MalformedBody(AlrankError):
    """The body cannot be parsed at all (bad JSON, truncated .npy, bad header)."""

    status = 400
    title = "Bad Request"
    slug = "malformed-body"


class PayloadTooLarge(AlrankError):
    """The body, or an array it declares, exceeds a configured limit."""

    status = 413
    title = "Content Too Large"
    slug = "payload-too-large"


class UnsupportedMediaType(AlrankError):
    """The request's content type is not one the route accepts."""

    status = 415
    title = "Unsupported Media Type"
    slug = "unsupported-media-type"


class InvalidInput(AlrankError):
    """The body is well-formed but its content is invalid (NaN, bad shape, ...)."""

    status = 422
    title = "Unprocessable Content"
    slug = "invalid-input"


class NotFound(AlrankError):
    """A named resource (a model, say) does not exist."""

    status = 404
    title = "Not Found"
    slug = "not-found"
