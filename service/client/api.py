"""The HTTP client behind service.client: requests, transport, answers."""

from __future__ import annotations

import contextlib
import http.client
import io
import json
import operator
import threading
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any
from urllib.parse import urlencode, urlsplit

import numpy as np

from service import __version__

DEFAULT_URL = "http://127.0.0.1:8000"
# Seconds a socket may wait; a large pool can take the server a while (gunicorn allows 120 s).
DEFAULT_TIMEOUT_S = 120.0
NPY_MEDIA_TYPE = "application/x-npy"
PROBLEM_MEDIA_TYPE = "application/problem+json"
# Roles a pool array can play, in the order they are sent.
ARRAY_ROLES = (
    "probabilities",
    "logits",
    "samples",
    "token_probabilities",
    "token_logits",
    "token_samples",
    "lengths",
    "label_probabilities",
    "label_logits",
    "embeddings",
    "labeled_embeddings",
    "labeled_labels",
    "previous_probabilities",
    "previous_predictions",
    "costs",
)
# Query and form keys the service reads as request fields; any other key is a parameter.
FIELD_NAMES = frozenset(
    {
        "strategy",
        "budget",
        "input",
        "exclude",
        "seed",
        "normalize",
        "return_all_scores",
        "return_token_scores",
        "selection",
        "beta",
        "stopping_kappa",
        "stopping_rounds",
        "stopping_history",
        "budget_cost",
    }
)
# Servers and proxies cap the request line (gunicorn at 4094 bytes); longer
# field lists (a long ``exclude``) travel as multipart form fields instead.
MAX_QUERY_CHARS = 2048
# Exceptions that mean a reused keep-alive connection was closed by the server.
STALE_CONNECTION_ERRORS = (
    http.client.RemoteDisconnected,
    http.client.BadStatusLine,
    BrokenPipeError,
    ConnectionResetError,
    ConnectionAbortedError,
)

Chunks = list[bytes | memoryview]
# (body bytes sent so far, the body's length) -> None
Progress = Callable[[int, int], None]
# Bytes per piece of a body whose sending is reported.
UPLOAD_PIECE_BYTES = 1 << 20


class AlrankError(Exception):
    """The service answered with an error status and an application/problem+json body.

    ``problem`` is the parsed body (RFC 9457): ``type``, ``title``, ``status``,
    ``detail`` and, when request fields were wrong, ``errors`` mapping each
    field name to its messages. An error body that is not problem+json (from
    a proxy, say) is wrapped in one, its text as the ``detail``.
    """

    def __init__(self, status: int, problem: Mapping[str, Any]) -> None:
        self.status = status
        self.problem = dict(problem)
        super().__init__(f"{status} {self.title}: {self.detail}")

    @property
    def title(self) -> str:
        """The problem's short, human-readable summary, e.g. "Unprocessable Content"."""
        return str(self.problem.get("title", "HTTP error"))

    @property
    def detail(self) -> str:
        """What was wrong with this request."""
        return str(self.problem.get("detail", ""))

    @property
    def type(self) -> str:
        """The problem type URI, e.g. "urn:alrank:problem:invalid-input"."""
        return str(self.problem.get("type", "about:blank"))

    @property
    def errors(self) -> dict[str, list[str]]:
        """Per-field messages: request field name to its messages (empty if none)."""
        errors = self.problem.get("errors")
        return dict(errors) if isinstance(errors, Mapping) else {}


class AlrankConnectionError(ConnectionError):
    """The service could not be reached, or the connection failed mid-request."""

    def __init__(self, url: str, reason: str) -> None:
        self.url = url
        self.reason = reason
        super().__init__(f"alrank at {url}: {reason}")


@dataclass(frozen=True)
class RankResult:
    """One ranking: the pool indices to label, best first, and their scores."""

    strategy: str
    budget: int
    pool_size: int
    indices: np.ndarray
    scores: np.ndarray
    selection: dict[str, Any]
    seed: int | None = None
    all_scores: np.ndarray | None = None
    # Each pick's per-token scores (L_i,), when they were asked for.
    token_scores: tuple[np.ndarray, ...] | None = None
    # What the ranking saw of the pool (scores' summary, classes, agreement).
    diagnostics: dict[str, Any] = field(default_factory=dict, compare=False)
    # The whole decoded answer, for fields this client does not name.
    body: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_body(cls, body: Mapping[str, Any]) -> RankResult:
        """Build a result from the decoded JSON answer of POST /v1/rank."""
        all_scores = body.get("all_scores")
        token_scores = body.get("token_scores")
        return cls(
            strategy=str(body["strategy"]),
            budget=int(body["budget"]),
            pool_size=int(body["pool_size"]),
            indices=np.asarray(body["indices"], dtype=np.int64),
            scores=np.asarray(body["scores"], dtype=np.float64),
            selection=dict(body.get("selection") or {"method": "top"}),
            seed=body.get("seed"),
            all_scores=None if all_scores is None else np.asarray(all_scores, dtype=np.float64),
            token_scores=None
            if token_scores is None
            else tuple(np.asarray(scores, dtype=np.float64) for scores in token_scores),
            diagnostics=dict(body.get("diagnostics") or {}),
            body=dict(body),
        )


@dataclass(frozen=True)
class Request:
    """One HTTP request, ready to send; ``chunks`` may be sent more than once."""

    method: str
    path: str
    headers: dict[str, str]
    chunks: Chunks = field(default_factory=list)

    @property
    def length(self) -> int:
        """The body's length in bytes."""
        return sum(memoryview(chunk).nbytes for chunk in self.chunks)


class AlrankClient:
    """Talks to one alrank service over HTTP: ``rank``, ``strategies``, ``health``.

    ``base_url`` may carry a path prefix (``https://ml.example.com/alrank``);
    ``timeout`` bounds each socket operation, in seconds; ``headers`` are sent
    with every request (an ``Authorization`` header for a gateway, say);
    ``on_upload(sent, total)`` hears how many body bytes have been sent.
    """

    def __init__(
        self,
        base_url: str = DEFAULT_URL,
        *,
        timeout: float = DEFAULT_TIMEOUT_S,
        headers: Mapping[str, str] | None = None,
        on_upload: Progress | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self._transport = Transport(self.base_url, timeout, on_upload=on_upload)
        self._headers = {"User-Agent": f"alrank-client/{__version__}"} | dict(headers or {})

    def __enter__(self) -> AlrankClient:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"AlrankClient({self.base_url!r}, timeout={self.timeout!r})"

    def close(self) -> None:
        """Close the kept-alive connection; the next call opens a new one."""
        self._transport.close()

    def health(self) -> dict[str, Any]:
        """GET /healthz: ``{"status": "ok", "version": ...}`` when the process answers."""
        return self._get("/healthz")

    def ready(self) -> dict[str, Any]:
        """GET /readyz: ``{"status": "ready", "strategies": ...}`` when it can rank."""
        return self._get("/readyz")

    def strategies(self) -> list[dict[str, Any]]:
        """GET /v1/strategies: each strategy's name, family, inputs, arrays, params, ..."""
        return list(self._get("/v1/strategies")["strategies"])

    def rank(
        self,
        strategy: str,
        budget: int | None = None,
        *,
        probabilities: np.ndarray | None = None,
        logits: np.ndarray | None = None,
        samples: np.ndarray | None = None,
        embeddings: np.ndarray | None = None,
        labeled_embeddings: np.ndarray | None = None,
        arrays: Mapping[str, np.ndarray] | None = None,
        exclude: Iterable[int] | None = None,
        seed: int | None = None,
        params: Mapping[str, object] | None = None,
        selection: str | Mapping[str, object] | None = None,
        beta: float | None = None,
        normalize: bool = False,
        return_all_scores: bool = False,
        return_token_scores: bool = False,
        stopping: Mapping[str, object] | None = None,
        budget_cost: float | None = None,
    ) -> RankResult:
        """POST /v1/rank: the ``budget`` pool items most worth labeling, best first.

        Send one input array (``probabilities``, ``logits`` or ``samples``) and
        the arrays the strategy needs (``embeddings``, ``labeled_embeddings``);
        ``coreset`` takes embeddings only. Arrays keep their float type, so
        float32 halves the bytes sent. ``exclude``: pool indices never
        returned. ``params``: strategy and input parameters, e.g.
        ``{"temperature": 2}``. ``arrays`` sends other roles by name: the
        token kinds with their ``lengths``, the label kinds,
        ``labeled_labels``. ``selection``: ``"top"`` (default) or a
        stochastic draw, ``"power"``, ``"softmax"`` or ``"softrank"``, with
        ``beta``; ``{"method": "power", "beta": 2}`` works too. ``stopping``
        (``{"kappa": 0.99, "rounds": 3, "history": [...]}``, with
        ``previous_probabilities`` or ``previous_predictions`` in ``arrays``)
        asks for the stopping rule's verdict in ``diagnostics``.
        ``budget_cost`` spends money instead of taking ``budget`` items, on
        ``arrays={"costs": ...}`` (N positive numbers); the result's ``body``
        holds ``cost_used``.

        Raises AlrankError for any error answer (422 for an invalid request,
        with ``errors`` naming the fields), AlrankConnectionError when the
        service cannot be reached, ValueError when no array is given.
        """
        given = {
            "probabilities": probabilities,
            "logits": logits,
            "samples": samples,
            "embeddings": embeddings,
            "labeled_embeddings": labeled_embeddings,
        }
        for role, array in (arrays or {}).items():
            if given.get(role) is not None:
                raise ValueError(f"{role} is given twice: as a keyword and in arrays")
            given[role] = array
        named = _named_arrays(**given)
        fields = rank_fields(
            strategy,
            budget,
            exclude=exclude,
            seed=seed,
            params=params,
            selection=selection,
            beta=beta,
            normalize=normalize,
            return_all_scores=return_all_scores,
            return_token_scores=return_token_scores,
            stopping=stopping,
            budget_cost=budget_cost,
        )
        request = rank_request(self._path("/v1/rank"), fields, named)
        return RankResult.from_body(self._send(request))

    def _path(self, route: str) -> str:
        return self._transport.prefix + route

    def _get(self, route: str) -> dict[str, Any]:
        return self._send(Request("GET", self._path(route), {}))

    def _send(self, request: Request) -> dict[str, Any]:
        headers = self._headers | {"Accept": "application/json"} | request.headers
        status, content_type, payload = self._transport.send(
            Request(request.method, request.path, headers, request.chunks)
        )
        return decode_answer(status, content_type, payload)


class Transport:
    """One kept-alive HTTP(S) connection to the service, reopened when it goes stale."""

    def __init__(self, base_url: str, timeout: float, *, on_upload: Progress | None = None) -> None:
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"expected an http:// or https:// URL, got {base_url!r}")
        self.url = base_url
        self.prefix = parts.path.rstrip("/")
        self._scheme = parts.scheme
        self._host = parts.hostname
        self._port = parts.port
        self._timeout = timeout
        self._connection: http.client.HTTPConnection | None = None
        self._lock = threading.Lock()
        self._on_upload = on_upload

    def close(self) -> None:
        """Close the connection, if one is open."""
        with self._lock:
            self._drop()

    def send(self, request: Request) -> tuple[int, str, bytes]:
        """Send ``request``; (status, media type, body) of the answer.

        A request on a reused connection that the server had closed while it
        sat idle is sent once more on a new one; the API is stateless, so
        sending a rank request twice cannot change its answer.
        """
        with self._lock:
            reused = self._connection is not None
            try:
                return self._exchange(request)
            except STALE_CONNECTION_ERRORS as error:
                self._drop()
                if not reused:
                    raise self._failure(error) from error
            except (OSError, http.client.HTTPException) as error:
                self._drop()
                raise self._failure(error) from error
            try:
                return self._exchange(request)
            except (OSError, http.client.HTTPException) as error:
                self._drop()
                raise self._failure(error) from error

    def _exchange(self, request: Request) -> tuple[int, str, bytes]:
        connection = self._open()
        headers = dict(request.headers)
        body: Iterable[bytes | memoryview] | None = request.chunks or None
        if body is not None:
            # Declared up front, so the chunks are not sent with chunked encoding.
            headers["Content-Length"] = str(request.length)
            if self._on_upload is not None:
                body = reported(request.chunks, request.length, self._on_upload)
        # The service may refuse a body early (413) and close the connection
        # before reading all of it; its answer is still worth reading.
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            connection.request(request.method, request.path, body=body, headers=headers)
        response = connection.getresponse()
        payload = response.read()
        if response.will_close:
            self._drop()
        return response.status, response.headers.get_content_type(), payload

    def _open(self) -> http.client.HTTPConnection:
        if self._connection is None:
            secure = self._scheme == "https"
            kind = http.client.HTTPSConnection if secure else http.client.HTTPConnection
            self._connection = kind(self._host, self._port, timeout=self._timeout)
        return self._connection

    def _drop(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    def _failure(self, error: BaseException) -> AlrankConnectionError:
        if isinstance(error, TimeoutError):
            return AlrankConnectionError(self.url, f"no answer within {self._timeout:g} s")
        if isinstance(error, ConnectionRefusedError):
            return AlrankConnectionError(self.url, "connection refused; is the service running?")
        return AlrankConnectionError(self.url, f"{type(error).__name__}: {error}")


def reported(chunks: Chunks, total: int, on_upload: Progress) -> Iterator[bytes | memoryview]:
    """``chunks`` in pieces of at most UPLOAD_PIECE_BYTES, calling
    ``on_upload(sent, total)`` after each piece is handed to the socket."""
    sent = 0
    for chunk in chunks:
        view = memoryview(chunk).cast("B")
        for start in range(0, max(1, view.nbytes), UPLOAD_PIECE_BYTES):
            piece = view[start : start + UPLOAD_PIECE_BYTES]
            yield piece
            sent += piece.nbytes
            on_upload(sent, total)


def decode_answer(status: int, content_type: str, payload: bytes) -> dict[str, Any]:
    """The JSON object of a 2xx answer; raise AlrankError for any other status."""
    document = _json_object(payload)
    if 200 <= status < 300:
        if document is None:
            raise AlrankError(
                status,
                {
                    "title": "Unreadable answer",
                    "status": status,
                    "detail": f"expected a JSON object, got {content_type}: {payload[:200]!r}",
                },
            )
        return document
    if document is None or content_type not in (PROBLEM_MEDIA_TYPE, "application/json"):
        reason = http.client.responses.get(status, "HTTP error")
        text = payload.decode("utf-8", errors="replace").strip()[:1000]
        document = {"type": "about:blank", "title": reason, "status": status, "detail": text}
    raise AlrankError(status, document)


def _json_object(payload: bytes) -> dict[str, Any] | None:
    try:
        document = json.loads(payload)
    except (ValueError, UnicodeDecodeError):
        return None
    return document if isinstance(document, dict) else None


def rank_fields(
    strategy: str,
    budget: int | None,
    *,
    exclude: Iterable[int] | None = None,
    seed: int | None = None,
    params: Mapping[str, object] | None = None,
    selection: str | Mapping[str, object] | None = None,
    beta: float | None = None,
    normalize: bool = False,
    return_all_scores: bool = False,
    return_token_scores: bool = False,
    stopping: Mapping[str, object] | None = None,
    budget_cost: float | None = None,
) -> dict[str, str]:
    """The scalar fields of a rank request as query or form text; unset ones are left out."""
    beta_field: object = beta
    if isinstance(selection, Mapping):
        beta_field = selection.get("beta", beta)
        selection = str(selection["method"])
    values: dict[str, object] = {
        "strategy": strategy,
        "budget": None if budget is None else operator.index(budget),
        "budget_cost": None if budget_cost is None else float(budget_cost),
        "exclude": _index_list(exclude),
        "seed": None if seed is None else operator.index(seed),
        "selection": selection,
        "beta": beta_field,
        "normalize": normalize or None,
        "return_all_scores": return_all_scores or None,
        "return_token_scores": return_token_scores or None,
    }
    for name, value in (stopping or {}).items():
        if name not in ("kappa", "rounds", "history"):
            raise ValueError(f"stopping takes kappa, rounds and history, not {name!r}")
        if name == "history":
            value = ",".join(repr(float(kappa)) for kappa in value) or None  # type: ignore[attr-defined]
        values[f"stopping_{name}"] = value
    fields = {name: _text(value) for name, value in values.items() if value is not None}
    for name, value in (params or {}).items():
        if name in FIELD_NAMES or name in ARRAY_ROLES:
            raise ValueError(f"params may not be named like a request field: {name!r}")
        fields[name] = _text(value)
    return fields


def _index_list(indices: Iterable[int] | None) -> str | None:
    """Pool indices as "3,17,42"; None when there are none."""
    if indices is None:
        return None
    items = indices.ravel().tolist() if isinstance(indices, np.ndarray) else list(indices)
    return ",".join(str(operator.index(item)) for item in items) or None


def _text(value: object) -> str:
    if isinstance(value, bool | np.bool_):
        return "true" if value else "false"
    if isinstance(value, float | np.floating):
        return repr(float(value))
    return str(value)


def _named_arrays(**arrays: np.ndarray | None) -> dict[str, np.ndarray]:
    unknown = sorted(set(arrays) - set(ARRAY_ROLES))
    if unknown:
        raise ValueError(f"unknown array role {unknown[0]!r}; roles: {', '.join(ARRAY_ROLES)}")
    named = {name: _checked(name, array) for name, array in arrays.items() if array is not None}
    if not named:
        raise ValueError(f"send at least one array: {', '.join(ARRAY_ROLES)}")
    return named


def _checked(name: str, array: object) -> np.ndarray:
    checked = np.ascontiguousarray(array)
    if checked.dtype.hasobject:
        raise ValueError(f"{name}: object arrays cannot be sent as .npy; convert to float")
    return checked


def rank_request(path: str, fields: Mapping[str, str], arrays: Mapping[str, np.ndarray]) -> Request:
    """A POST /v1/rank request: one array as an .npy body, several as multipart."""
    if len(arrays) == 1:
        ((role, array),) = arrays.items()
        query = dict(fields) | ({} if role == "probabilities" else {"input": role})
        query_string = urlencode(query, safe=",")
        if len(query_string) <= MAX_QUERY_CHARS:
            headers = {"Content-Type": NPY_MEDIA_TYPE}
            return Request("POST", f"{path}?{query_string}", headers, npy_chunks(array))
    boundary = uuid.uuid4().hex
    headers = {"Content-Type": f"multipart/form-data; boundary={boundary}"}
    return Request("POST", path, headers, multipart_chunks(boundary, fields, arrays))


def npy_chunks(array: np.ndarray) -> Chunks:
    """``array`` as the chunks of a .npy file: its header, then its memory as is."""
    contiguous = np.ascontiguousarray(array)
    header = io.BytesIO()
    metadata = np.lib.format.header_data_from_array_1_0(contiguous)
    try:
        np.lib.format.write_array_header_1_0(header, metadata)
    except ValueError:
        header = io.BytesIO()
        np.lib.format.write_array_header_2_0(header, metadata)
    # ``.data`` is memoryview(array); numpy declares the buffer protocol for 3.12+ only.
    data = contiguous.reshape(-1).data.cast("B") if contiguous.size else b""
    return [header.getvalue(), data]


def multipart_chunks(
    boundary: str, fields: Mapping[str, str], arrays: Mapping[str, np.ndarray]
) -> Chunks:
    """A multipart/form-data body: one text part per field, one .npy part per array."""
    chunks: Chunks = []
    for name, value in fields.items():
        chunks.append(_part_head(boundary, name) + value.encode("utf-8") + b"\r\n")
    for role in sorted(arrays, key=ARRAY_ROLES.index):
        chunks.append(_part_head(boundary, role, filename=f"{role}.npy"))
        chunks.extend(npy_chunks(arrays[role]))
        chunks.append(b"\r\n")
    chunks.append(f"--{boundary}--\r\n".encode("ascii"))
    return chunks


def _part_head(boundary: str, name: str, *, filename: str | None = None) -> bytes:
    if any(character in name for character in '"\r\n'):
        raise ValueError(f"a form field name may not hold quotes or line breaks: {name!r}")
    disposition = f'form-data; name="{name}"'
    lines = [f"--{boundary}", f"Content-Disposition: {disposition}"]
    if filename is not None:
        lines[1] += f'; filename="{filename}"'
        lines.append(f"Content-Type: {NPY_MEDIA_TYPE}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8")
