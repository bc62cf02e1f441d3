"""JSON responses encoded with orjson (numpy arrays serialized natively)."""

from __future__ import annotations

import orjson
from flask import Response

_OPTIONS = orjson.OPT_SERIALIZE_NUMPY


def json_response(
    payload: object, status: int = 200, *, mimetype: str = "application/json"
) -> Response:
    """A response whose body is ``payload`` as JSON.

    float32 arrays print with the shortest float32 repr (0.1, not 0.10000000149).
    """
    return Response(orjson.dumps(payload, option=_OPTIONS), status=status, mimetype=mimetype)
