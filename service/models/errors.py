"""Typed errors of model management, beside the shared ones in service.errors."""

from __future__ import annotations

from service.errors import AlrankError, InvalidInput


class Unauthorized(AlrankError):
    """Model management needs an API key and the request carries none."""

    status = 401
    title = "Unauthorized"
    slug = "unauthorized"


class Forbidden(AlrankError):
    """The request's API key is wrong, or the operation is never allowed."""

    status = 403
    title = "Forbidden"
    slug = "forbidden"


class ModelDamaged(AlrankError):
    """A stored model's bytes no longer match its id: moved aside, not usable."""

    status = 409
    title = "Conflict"
    slug = "model-damaged"


class ModelRejected(InvalidInput):
    """Uploaded bytes are not a model the service will store or run.

    The error is about the request body (the model's bytes) unless told otherwise.
    """

    slug = "model-rejected"

    def __init__(self, detail: str, *, field: str | None = "body", **extra: object) -> None:
        super().__init__(detail, field=field, **extra)
