"""A Python client for the alrank HTTP API, on the standard library and numpy.

    from service.client import AlrankClient

    with AlrankClient("http://127.0.0.1:8000") as alrank:
        result = alrank.rank("margin", 100, probabilities=probs)
        to_label = pool_ids[result.indices]

Arrays travel as binary ``.npy``: one array is the body of an
``application/x-npy`` request with the other fields in the query string;
several arrays (``probabilities`` and ``embeddings`` for ``badge``, say) are
``.npy`` parts of one ``multipart/form-data`` request, named by role. The
array's memory is sent as it is, without a text or a second binary copy.

Every 4xx or 5xx answer raises :class:`AlrankError` carrying the service's
``application/problem+json`` body; a service that cannot be reached, or a
connection that breaks, raises :class:`AlrankConnectionError`. One
keep-alive connection is reused across calls; a client may be shared by
threads, which then take turns on it (use one client per thread to send
requests in parallel).
"""

from service.client.api import (
    ARRAY_ROLES,
    DEFAULT_TIMEOUT_S,
    DEFAULT_URL,
    FIELD_NAMES,
    MAX_QUERY_CHARS,
    NPY_MEDIA_TYPE,
    PROBLEM_MEDIA_TYPE,
    STALE_CONNECTION_ERRORS,
    UPLOAD_PIECE_BYTES,
    AlrankClient,
    AlrankConnectionError,
    AlrankError,
    Chunks,
    Progress,
    RankResult,
    Request,
    Transport,
    decode_answer,
    multipart_chunks,
    npy_chunks,
    rank_fields,
    rank_request,
    reported,
)

__all__ = [
    "ARRAY_ROLES",
    "DEFAULT_TIMEOUT_S",
    "DEFAULT_URL",
    "FIELD_NAMES",
    "MAX_QUERY_CHARS",
    "NPY_MEDIA_TYPE",
    "PROBLEM_MEDIA_TYPE",
    "STALE_CONNECTION_ERRORS",
    "UPLOAD_PIECE_BYTES",
    "AlrankClient",
    "AlrankConnectionError",
    "AlrankError",
    "Chunks",
    "Progress",
    "RankResult",
    "Request",
    "Transport",
    "decode_answer",
    "multipart_chunks",
    "npy_chunks",
    "rank_fields",
    "rank_request",
    "reported",
]
