"""One strategy ranked through an alrank service: what the drop-ins share.

A :class:`Ranker` holds a strategy name, the service's URL and the request
fields fixed for every query (``params``, ``seed``, ``selection``, ...). It
asks the service once what the strategy takes (``GET /v1/strategies``), so
that an adapter computes and sends only the arrays the strategy reads, and
sends each ranking the cheaper way: a small float64 pool as one JSON
document, anything larger as ``.npy`` (one array) or multipart (several)
through :class:`service.client.AlrankClient`.

The threshold, :data:`JSON_MAX_ELEMENTS`, is where the two ways cost the
same. Against gunicorn on loopback, a JSON body costs about 1 us per number
to write and parse, a ``.npy`` body a fixed ~0.5 ms more than JSON for its
header and streamed read: JSON answered 0.4 to 0.6 ms sooner for 30 to 150
numbers, the two were level at 300, and ``.npy`` was 0.5 to 1 ms sooner at
900 to 1,000 numbers, 5 ms at 3,000 and 30 ms at 30,000. Both ways send
float64 exactly (JSON numbers are written with ``repr``, which round-trips),
so the answer does not depend on the way.
"""

from __future__ import annotations

import json
import operator
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from service.client import DEFAULT_TIMEOUT_S, AlrankClient, AlrankError, RankResult, Request

# Pools of at most this many numbers (over every array sent) travel as JSON.
JSON_MAX_ELEMENTS = 512
# Request fields a drop-in passes on, at construction or per query.
REQUEST_FIELDS = ("exclude", "seed", "selection", "beta", "normalize")
# Input roles that carry class probabilities (the pool's first array).
CLASS_INPUTS = frozenset({"probabilities", "logits", "samples"})


class RankingRefused(AlrankError):
    """The service refused a ranking; its problem+json says why.

    ``detail`` is the service's explanation, ``field`` the request field it
    names first (``"budget"``, ``"probabilities"``, ... or None), ``errors``
    every field's messages, ``problem`` the whole body, ``status`` the HTTP
    status.
    """

    def __init__(self, strategy: str, status: int, problem: Mapping[str, Any]) -> None:
        self.strategy = strategy
        super().__init__(status, problem)

    def __str__(self) -> str:
        return f"alrank refused {self.strategy!r} ({self.status} {self.title}): {self.detail}"

    @property
    def field(self) -> str | None:
        """The first request field the problem names, or None."""
        return next(iter(self.errors), None)


@dataclass(frozen=True)
class StrategySpec:
    """What one strategy takes, from ``GET /v1/strategies``.

    ``inputs``: the class-probability roles it accepts (empty for strategies
    of embeddings alone); ``arrays``: the arrays it requires;
    ``optional_arrays``: those it reads when sent.
    """

    name: str
    inputs: frozenset[str]
    arrays: frozenset[str]
    optional_arrays: frozenset[str]

    @classmethod
    def from_description(cls, description: Mapping[str, Any]) -> StrategySpec:
        """The spec of one entry of ``GET /v1/strategies``."""
        return cls(
            name=str(description["name"]),
            inputs=frozenset(description.get("inputs", ())),
            arrays=frozenset(description.get("arrays", ())),
            optional_arrays=frozenset(description.get("optional_arrays", ())),
        )

    @classmethod
    def unlisted(cls, name: str) -> StrategySpec:
        """A name the service does not list: probabilities are sent, and its refusal says why."""
        return cls(name, frozenset({"probabilities"}), frozenset(), frozenset())

    @property
    def class_input(self) -> bool:
        """Whether it reads class probabilities (probabilities, logits or samples)."""
        return bool(self.inputs & CLASS_INPUTS)

    def reads(self, role: str) -> bool:
        """Whether it reads the array ``role`` (required or optional)."""
        return role in self.arrays or role in self.optional_arrays

    def requires(self, role: str) -> bool:
        """Whether a request without the array ``role`` is refused."""
        return role in self.arrays


def find_spec(descriptions: Iterable[Mapping[str, Any]], name: str) -> StrategySpec:
    """The spec of ``name`` (a strategy or one of its aliases) among the service's strategies."""
    for description in descriptions:
        if name == description["name"] or name in description.get("aliases", ()):
            return StrategySpec.from_description(description)
    return StrategySpec.unlisted(name)


@dataclass(frozen=True)
class RequestFields:
    """The request fields a drop-in passes on: see README "The request"."""

    exclude: tuple[int, ...] | None = None
    seed: int | None = None
    selection: str | Mapping[str, object] | None = None
    beta: float | None = None
    normalize: bool = False

    @classmethod
    def of(cls, fields: Mapping[str, object]) -> RequestFields:
        """``fields`` checked; TypeError names a field the drop-ins do not pass on."""
        unknown = sorted(set(fields) - set(REQUEST_FIELDS))
        if unknown:
            raise TypeError(
                f"unexpected request fields {', '.join(unknown)}; expected some of "
                f"{', '.join(REQUEST_FIELDS)} (strategy parameters go in params)"
            )
        exclude, seed = fields.get("exclude"), fields.get("seed")
        selection, beta = fields.get("selection"), fields.get("beta")
        if selection is not None and not isinstance(selection, str | Mapping):
            raise TypeError(f"selection: expected a method name or a mapping, got {selection!r}")
        return cls(
            exclude=None if exclude is None else _indices(exclude),
            seed=None if seed is None else _integer("seed", seed),
            selection=selection,
            beta=None if beta is None else _number("beta", beta),
            normalize=_flag("normalize", fields.get("normalize", False)),
        )

    def as_dict(self) -> dict[str, object]:
        """The fields that are set, by name."""
        values: dict[str, object] = {
            "exclude": self.exclude,
            "seed": self.seed,
            "selection": self.selection,
            "beta": self.beta,
            "normalize": self.normalize or None,
        }
        return {name: value for name, value in values.items() if value is not None}

    def updated(self, fields: Mapping[str, object]) -> RequestFields:
        """These fields with ``fields`` (checked the same way) in place of theirs."""
        return RequestFields.of(self.as_dict() | dict(fields))


def _integer(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise TypeError(f"{name}: expected an integer, got {value!r}")
    return int(value)


def _flag(name: str, value: object) -> bool:
    if not isinstance(value, bool | np.bool_):
        raise TypeError(f"{name}: expected True or False, got {value!r}")
    return bool(value)


def _number(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        raise TypeError(f"{name}: expected a number, got {value!r}")
    return float(value)


def _indices(value: object) -> tuple[int, ...]:
    items = np.asarray(value).ravel().tolist()
    return tuple(_integer("exclude", item) for item in items)


def fits_json(arrays: Mapping[str, np.ndarray], limit: int) -> bool:
    """Whether ``arrays`` travel as JSON: float64, finite, at most ``limit`` numbers in all.

    Other float types go as ``.npy`` so that the service scores them in
    their own type; non-finite values go as ``.npy`` so that the service,
    not the JSON encoder, says which row is wrong.
    """
    if sum(array.size for array in arrays.values()) > limit:
        return False
    return all(
        array.dtype == np.float64 and bool(np.isfinite(array).all()) for array in arrays.values()
    )


def json_document(
    strategy: str,
    budget: int,
    arrays: Mapping[str, np.ndarray],
    params: Mapping[str, object],
    fields: RequestFields,
) -> dict[str, object]:
    """The application/json body of one rank request."""
    document: dict[str, object] = {"strategy": strategy, "budget": operator.index(budget)}
    document.update({role: array.tolist() for role, array in arrays.items()})
    if params:
        document["params"] = dict(params)
    if fields.exclude:
        document["exclude"] = list(fields.exclude)
    if fields.seed is not None:
        document["seed"] = fields.seed
    if isinstance(fields.selection, Mapping):
        document["selection"] = dict(fields.selection)
    elif fields.selection is not None or fields.beta is not None:
        method = "top" if fields.selection is None else fields.selection
        document["selection"] = {"method": method} | (
            {} if fields.beta is None else {"beta": fields.beta}
        )
    if fields.normalize:
        document["normalize"] = True
    return document


def _json_value(value: object) -> object:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"cannot send {type(value).__name__} as JSON")


class RankClient(AlrankClient):
    """AlrankClient that can also send a rank request as one JSON document."""

    def rank_json(self, document: Mapping[str, object]) -> RankResult:
        """POST /v1/rank with ``document`` as its application/json body."""
        body = json.dumps(
            document, allow_nan=False, separators=(",", ":"), default=_json_value
        ).encode("utf-8")
        headers = {"Content-Type": "application/json"}
        request = Request("POST", self._path("/v1/rank"), headers, [body])
        return RankResult.from_body(self._send(request))


class Ranker:
    """Ranks pools by one strategy through the alrank service at ``url``.

    ``params``: strategy and input parameters sent with every request;
    ``fields``: request fields sent with every request (``exclude``,
    ``seed``, ``selection``, ``beta``, ``normalize``), which a query's own
    fields override. The connection opens on first use and is kept alive;
    a pickled Ranker leaves it behind and opens a new one when next used.
    """

    def __init__(
        self,
        strategy: str,
        *,
        url: str,
        params: Mapping[str, object] | None = None,
        timeout: float = DEFAULT_TIMEOUT_S,
        json_max_elements: int = JSON_MAX_ELEMENTS,
        **fields: object,
    ) -> None:
        self.strategy = strategy
        self.url = url
        self.params = dict(params or {})
        self.timeout = timeout
        self.json_max_elements = json_max_elements
        self.fields = RequestFields.of(fields)
        self._client: RankClient | None = None
        self._spec: StrategySpec | None = None
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"Ranker({self.strategy!r}, url={self.url!r})"

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state.update(_client=None, _lock=None)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()

    @property
    def spec(self) -> StrategySpec:
        """What the strategy takes, asked of the service once."""
        if self._spec is None:
            try:
                descriptions = self.client().strategies()
            except AlrankError as error:
                raise RankingRefused(self.strategy, error.status, error.problem) from error
            self._spec = find_spec(descriptions, self.strategy)
        return self._spec

    def client(self) -> RankClient:
        """The kept-alive client, opened on first use."""
        with self._lock:
            if self._client is None:
                self._client = RankClient(self.url, timeout=self.timeout)
            return self._client

    def close(self) -> None:
        """Close the connection; the next ranking opens a new one."""
        with self._lock:
            if self._client is not None:
                self._client.close()
                self._client = None

    def rank(self, budget: int, arrays: Mapping[str, np.ndarray], **fields: object) -> RankResult:
        """The ``budget`` best pool rows of ``arrays`` (each pool-first), best first.

        ``arrays`` maps roles (``probabilities`` N x C, ``samples`` N x T x C,
        ``embeddings`` N x D, ``labeled_embeddings`` M x D) to arrays.
        Raises RankingRefused when the service refuses the request,
        AlrankConnectionError when it cannot be reached.
        """
        merged = self.fields.updated(fields)
        client = self.client()
        try:
            if fits_json(arrays, self.json_max_elements):
                document = json_document(self.strategy, budget, arrays, self.params, merged)
                return client.rank_json(document)
            return client.rank(
                self.strategy,
                budget,
                probabilities=arrays.get("probabilities"),
                logits=arrays.get("logits"),
                samples=arrays.get("samples"),
                embeddings=arrays.get("embeddings"),
                labeled_embeddings=arrays.get("labeled_embeddings"),
                exclude=merged.exclude,
                seed=merged.seed,
                params=self.params,
                selection=merged.selection,
                beta=merged.beta,
                normalize=merged.normalize,
            )
        except AlrankError as error:
            raise RankingRefused(self.strategy, error.status, error.problem) from error
