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

    @property
    def headers(self) -> dict[str, str]:
        """HTTP headers the answer carries besides the body (Retry-After, say)."""
        return {}


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


class ServiceBusy(AlrankError):
    """Every compute slot stayed busy for the whole wait: retry after a pause."""

    status = 503
    title = "Service Unavailable"
    slug = "busy"

    def __init__(self, detail: str, *, retry_after: int) -> None:
        super().__init__(detail)
        self.retry_after = retry_after

    @property
    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after)}


class StoreUnavailable(AlrankError):
    """The model store cannot be written (read-only, not permitted, or gone and
    not recreatable): an operator must fix its disk; retry after a pause."""

    status = 503
    title = "Service Unavailable"
    slug = "store-unavailable"
    retry_after = 30

    @property
    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after)}


class InsufficientStorage(AlrankError):
    """The model store's file system has no room left for what was sent."""

    status = 507
    title = "Insufficient Storage"
    slug = "insufficient-storage"


class DeadlineExceeded(AlrankError):
    """The work did not finish within the server's compute deadline."""

    status = 504
    title = "Gateway Timeout"
    slug = "deadline-exceeded"
