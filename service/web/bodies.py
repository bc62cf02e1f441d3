"""Read a rank request's body, per content type, into scalar fields and pool sources.

application/json: one object holding every field and the array; query parameters are refused.
application/x-npy: the body is one .npy array, streamed; fields are query parameters.
multipart/form-data: .npy parts named by role; fields are form fields.
"""

from __future__ import annotations

import errno
import json
import math
import socket
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any, BinaryIO, cast

import numpy as np
import orjson
from flask import Request
from marshmallow import ValidationError
from werkzeug.datastructures import MultiDict

from service.deadline import check_deadline, seconds_left
from service.decoding.fastjson import parse_with_arrays
from service.decoding.jsonarrays import (
    array_from_json,
    integers_from_json,
    may_hold_array_booleans,
    sequences_from_json,
)
from service.decoding.limits import ArrayLimits
from service.decoding.npy import ByteStream, NpyReader
from service.decoding.sources import ArraySource, PoolSource
from service.errors import InvalidInput, MalformedBody, ServiceBusy, UnsupportedMediaType
from service.jobs import (
    ARRAY_FIELDS,
    LENGTHS,
    TOKEN_FIELDS,
    Balance,
    Prefilter,
    RankRequest,
    Selection,
    StoppingRule,
)
from service.web.schemas import MAX_STOP_HISTORY, RankJsonSchema, RankQuerySchema, split_query

NPY_MEDIA_TYPE = "application/x-npy"
# A multipart part of this name holds an .onnx model used for this request only.
INLINE_MODEL_PART = "model"
# Temporary space frees as other requests end: worth a retry soon.
MULTIPART_RETRY_AFTER_S = 5
ACCEPTED_MEDIA_TYPES = ("application/json", NPY_MEDIA_TYPE, "multipart/form-data")
# Query fields whose JSON counterpart has another name.
JSON_PLACES = {
    "selection": "selection.method",
    "beta": "selection.beta",
    "prefilter": "prefilter.strategy",
    "prefilter_keep": "prefilter.keep",
    "balance": "balance.by",
    "balance_targets": "balance.targets",
    "balance_strict": "balance.strict",
    "stopping_kappa": "stopping.kappa",
    "stopping_rounds": "stopping.rounds",
    "stopping_history": "stopping.history",
    "input": "the array's own field (probabilities, logits, samples, ...)",
}


@contextmanager
def paced_body(request: Request, per_read_seconds: float) -> Iterator[None]:
    """Bound how long reading the body may wait for the client.

    Under gunicorn a read otherwise blocks for as long as a stalled client
    keeps the connection open. Within the body, each read waits at most
    ``per_read_seconds`` and never past the request's deadline (see
    service.deadline): a client that stops sending gets 400 (werkzeug's
    disconnected client), one too slow to finish in time gets 504. The socket's
    timeout is lifted again before the answer is written. Elsewhere (a test
    client) this does nothing.
    """
    connection = request.environ.get("gunicorn.socket")
    if connection is None:
        yield
        return
    request.environ["wsgi.input"] = _PacedInput(
        request.environ["wsgi.input"], connection, per_read_seconds
    )
    try:
        yield
    finally:
        connection.settimeout(None)


class _PacedInput:
    """A WSGI input stream whose reads respect the per-read wait and the deadline."""

    def __init__(self, stream: BinaryIO, connection: socket.socket, per_read: float) -> None:
        self._stream = stream
        self._connection = connection
        self._per_read = per_read

    def read(self, size: int = -1) -> bytes:
        return self._paced(self._stream.read, size)

    def readline(self, size: int = -1) -> bytes:
        return self._paced(self._stream.readline, size)

    def _paced(self, read: Callable[[int], bytes], size: int) -> bytes:
        check_deadline()
        left = seconds_left()
        self._connection.settimeout(self._per_read if left is None else min(self._per_read, left))
        try:
            return read(size)
        except TimeoutError:
            check_deadline()  # DeadlineExceeded when the deadline is what ran out
            raise


def receive_body(request: Request) -> None:
    """Read the body of a JSON or multipart request (not yet parsed), so that a slow
    client holds no compute slot while it sends; a .npy body is streamed instead."""
    if request.mimetype == "application/json":
        request.get_data(cache=True)
    elif request.mimetype == "multipart/form-data":
        _form_fields(request)


def _form_fields(request: Request) -> dict[str, str]:
    """The query and form fields of a multipart request; its parts are parsed here."""
    try:
        # Parts over 500 KiB are spooled to TMPDIR while the form is parsed.
        return single_values(request.args, "query string") | single_values(request.form, "form")
    except OSError as error:
        if error.errno not in (errno.ENOSPC, errno.EDQUOT):
            raise
        raise ServiceBusy(
            "no room left in the temporary directory to hold the multipart parts; "
            "retry later, or send the pool as an application/x-npy body, which is "
            f"streamed (retry after {MULTIPART_RETRY_AFTER_S} s)",
            retry_after=MULTIPART_RETRY_AFTER_S,
        ) from None


def read_rank_body(request: Request, limits: ArrayLimits) -> RankRequest:
    """Decode ``request`` according to its content type."""
    readers = {
        "application/json": _read_json,
        NPY_MEDIA_TYPE: _read_npy,
        "multipart/form-data": _read_multipart,
    }
    reader = readers.get(request.mimetype)
    if reader is None:
        got = request.mimetype or "no content type"
        raise UnsupportedMediaType(
            f"expected one of {', '.join(ACCEPTED_MEDIA_TYPES)}, got {got}; "
            f"send .npy bodies with Content-Type: {NPY_MEDIA_TYPE}"
        )
    return reader(request, limits)


def _read_json(request: Request, limits: ArrayLimits) -> RankRequest:
    _refuse_query(request.args)
    body = request.get_data(cache=False)
    parsed = parse_with_arrays(body, ARRAY_FIELDS)
    if parsed is not None:
        document, dense = parsed
        fields = RankJsonSchema().load(document)
        for name, array in dense.items():
            limits.check(array.shape, name=name)
    else:
        parsed_document = parse_json(body)
        if not isinstance(parsed_document, dict):
            raise InvalidInput("expected a JSON object at the top level", field="body")
        arrays = {
            name: parsed_document.pop(name) for name in ARRAY_FIELDS if name in parsed_document
        }
        fields = RankJsonSchema().load(parsed_document)
        check_booleans = may_hold_array_booleans(body)
        dense = {}
        for name, value in arrays.items():
            if name in TOKEN_FIELDS and LENGTHS.name not in arrays:
                dense[name], dense[LENGTHS.name] = sequences_from_json(
                    value,
                    name=name,
                    unit_ndim=TOKEN_FIELDS[name],
                    limits=limits,
                    check_booleans=check_booleans,
                )
            else:
                dense[name] = array_from_json(
                    value, name=name, limits=limits, check_booleans=check_booleans
                )
    _equal_length_sequences(dense)
    sources = {name: ArraySource(array, name=name) for name, array in dense.items()}
    exclude = integers_from_json(fields["exclude"], name="exclude")
    return _request(fields, fields["params"], exclude, sources, typed=True)


def _equal_length_sequences(dense: dict[str, np.ndarray]) -> None:
    """A JSON list of sequences that all have L tokens parses as one N x L x ...
    array: it is the padded form with every length L."""
    if LENGTHS.name in dense:
        return
    for name, unit_ndim in TOKEN_FIELDS.items():
        array = dense.get(name)
        if array is not None and array.ndim == unit_ndim + 2:
            dense[LENGTHS.name] = np.full(array.shape[0], array.shape[1], np.int64)


def _refuse_query(args: Mapping[str, str]) -> None:
    """A JSON body carries the whole request: a query parameter beside it would
    otherwise look as if it took effect. Each one is named with where it belongs."""
    if not args:
        return
    top_level = set(RankJsonSchema().fields)
    messages = {}
    for name in sorted(args):
        place = JSON_PLACES.get(name, name if name in top_level else f"params.{name}")
        messages[name] = [
            "query parameters are not read with an application/json body: "
            f"send it in the JSON object as {place}"
        ]
    raise ValidationError(messages)


def _request(
    fields: Mapping[str, Any],
    params: Mapping[str, object],
    exclude: np.ndarray,
    sources: Mapping[str, PoolSource],
    *,
    typed: bool,
) -> RankRequest:
    """The request of checked scalar ``fields`` (see schemas) and its arrays."""
    return RankRequest(
        strategy=fields["strategy"],
        budget=fields.get("budget"),
        budget_cost=fields.get("budget_cost"),
        arrays=sources,
        params=params,
        params_typed=typed,
        exclude=exclude,
        normalize=fields["normalize"],
        seed=fields.get("seed"),
        return_all_scores=fields["return_all_scores"],
        return_token_scores=fields["return_token_scores"],
        selection=Selection(**fields["selection"]),
        model=fields.get("model"),
        prefilter=Prefilter(**fields["prefilter"]) if fields.get("prefilter") else None,
        balance=_balance(fields.get("balance")),
        stopping=_stopping(fields.get("stopping")),
    )


def _stopping(fields: Mapping[str, Any] | None) -> StoppingRule | None:
    """The rule of checked ``stopping`` fields; those not sent keep the rule's defaults."""
    if fields is None:
        return None
    given = {name: fields[name] for name in ("kappa", "rounds") if name in fields}
    return StoppingRule(**given, history=tuple(float(kappa) for kappa in fields.get("history", ())))


def _balance(fields: Mapping[str, Any] | None) -> Balance | None:
    if fields is None:
        return None
    targets = fields.get("targets")
    return Balance(
        by=fields["by"],
        targets=None if targets is None else tuple(float(t) for t in targets),
        strict=bool(fields.get("strict", False)),
    )


def parse_json(body: bytes) -> object:
    """Parse a JSON document; the non-standard NaN and Infinity literals are read
    as numbers so the array checks can name the field they appear in."""
    if not body.strip():
        raise MalformedBody("the body is empty: expected a JSON object", field="body")
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as strict_error:
        try:
            return json.loads(body)
        except (ValueError, RecursionError):
            raise MalformedBody(
                f"the body is not valid JSON: {strict_error}", field="body"
            ) from None


def single_values(fields: MultiDict[str, str], where: str) -> dict[str, str]:
    """Query or form fields as a dict; a name given twice is refused rather than
    resolved to one of its values."""
    # A part whose name cannot be read comes with the name None.
    repeated = sorted(
        (name for name, values in fields.lists() if len(values) > 1), key=lambda n: n or ""
    )
    if repeated:
        name = repeated[0]
        values = ", ".join(repr(value[:40]) for value in fields.getlist(name)[:4])
        raise InvalidInput(
            f"{name or 'a key with no name'} is given {len(fields.getlist(name))} times in the "
            f"{where} ({values}): send it once",
            # A key with no name is named by where it came from.
            field=name or where.split()[0],
        )
    return dict(fields)


def _read_npy(request: Request, limits: ArrayLimits) -> RankRequest:
    fields, params, exclude = _read_text_fields(single_values(request.args, "query string"))
    name = str(fields["input"])
    source = NpyReader(cast(ByteStream, request.stream), name=name, limits=limits)
    return _request(fields, params, exclude, {name: source}, typed=False)


def _read_multipart(request: Request, limits: ArrayLimits) -> RankRequest:
    text_fields = _form_fields(request)
    as_text = sorted(set(request.form) & set(ARRAY_FIELDS))
    if as_text:
        raise InvalidInput(
            f"{as_text[0]} arrived as a text field: send it as a file part with a filename "
            f"(curl -F {as_text[0]}=@{as_text[0]}.npy)",
            field=as_text[0],
        )
    unknown = sorted(set(request.files) - {*ARRAY_FIELDS, INLINE_MODEL_PART})
    if unknown:
        raise InvalidInput(
            f"unknown file part {unknown[0]!r}; parts are named by role: {', '.join(ARRAY_FIELDS)}",
            field=unknown[0],
        )
    if not request.files and not request.form and request.content_length:
        raise MalformedBody(
            "the multipart body could not be parsed: check its boundary and parts",
            field="body",
        )
    fields, params, exclude = _read_text_fields(text_fields)
    sources = {
        name: NpyReader(cast(ByteStream, part.stream), name=name, limits=limits)
        for name, part in request.files.items()
        if name != INLINE_MODEL_PART
    }
    inline = request.files.get(INLINE_MODEL_PART)
    if inline is not None:
        if "model" in fields:
            raise InvalidInput("send the model as a file part or by name, not both", field="model")
        fields["model"] = inline.read()
    return _request(fields, params, exclude, sources, typed=False)


def _read_text_fields(
    args: Mapping[str, str],
) -> tuple[dict[str, Any], dict[str, str], np.ndarray]:
    scalars, params = split_query(dict(args))
    fields = RankQuerySchema().load(scalars)
    fields["selection"] = {"method": fields["selection"], "beta": fields.pop("beta")}
    _nest_composition(fields)
    exclude = _parse_index_list(str(fields["exclude"]))
    return fields, params, exclude


def _nest_composition(fields: dict[str, Any]) -> None:
    """Gather the flat prefilter and balance text fields as the JSON objects."""
    strategy, keep = fields.pop("prefilter", None), fields.pop("prefilter_keep", None)
    if (strategy is None) != (keep is None):
        missing = "prefilter_keep" if keep is None else "prefilter"
        raise InvalidInput(
            "send prefilter (a pointwise strategy) and prefilter_keep (items to keep) together",
            field=missing,
        )
    if strategy is not None:
        fields["prefilter"] = {"strategy": strategy, "keep": keep}
    by, targets = fields.pop("balance", None), fields.pop("balance_targets", None)
    strict = fields.pop("balance_strict")
    _nest_stopping(fields)
    if by is None:
        if targets is not None:
            raise InvalidInput("balance_targets needs balance=predicted_class", field="balance")
        return
    fields["balance"] = {"by": by, "strict": strict}
    if targets is not None:
        fields["balance"]["targets"] = _parse_targets(targets)


def _nest_stopping(fields: dict[str, Any]) -> None:
    """Gather stopping_kappa, stopping_rounds and stopping_history as the JSON
    ``stopping`` object; any one of them asks for the rule."""
    given = {
        name: fields.pop(f"stopping_{name}")
        for name in ("kappa", "rounds", "history")
        if f"stopping_{name}" in fields
    }
    if not given:
        return
    if "history" in given:
        text = str(given["history"])
        history = _parse_numbers(text, field="stopping_history") if text else []
        # The range check also refuses inf and NaN.
        if len(history) > MAX_STOP_HISTORY or not all(-1 <= kappa <= 1 for kappa in history):
            raise InvalidInput(
                f"stopping_history holds at most {MAX_STOP_HISTORY} kappas in [-1, 1], got "
                f"{str(given['history'])[:80]!r}",
                field="stopping_history",
            )
        given["history"] = history
    fields["stopping"] = given


def _parse_numbers(text: str, *, field: str) -> list[float]:
    """Comma-separated numbers, e.g. "0.5,0.25,0.25", refused naming ``field``."""
    try:
        return [float(item) for item in text.split(",")]
    except ValueError:
        raise InvalidInput(
            f"expected comma-separated numbers, got {text[:80]!r}", field=field
        ) from None


def _parse_targets(text: str) -> list[float]:
    """Comma-separated class proportions, e.g. "0.5,0.25,0.25": finite, >= 0."""
    values = _parse_numbers(text, field="balance_targets")
    if not all(math.isfinite(value) and value >= 0 for value in values):
        raise InvalidInput(
            f"targets must be finite and at least 0, got {text[:80]!r}", field="balance_targets"
        )
    return values


def _parse_index_list(text: str) -> np.ndarray:
    """Comma-separated pool indices, e.g. "3,17,42"; "" is none."""
    if not text.strip():
        return np.empty(0, np.int64)
    items = [item.strip() for item in text.split(",")]
    if not all(items):
        position = items.index("")
        raise InvalidInput(
            f"item {position} of {text[:80]!r} is empty: expected comma-separated integers",
            field="exclude",
        )
    try:
        return np.array([int(item) for item in items], dtype=np.int64)
    except (ValueError, OverflowError):
        raise InvalidInput(
            f"expected comma-separated integers, got {text[:80]!r}", field="exclude"
        ) from None
