"""Traffic for the load and fault scripts: a request mix, clients that send it, and tallies.

A :class:`Template` is one request, encoded once and sent again and again,
with the status it must get and a check of its 200 answer. Each client thread
owns one persistent ``http.client`` connection and records an
:class:`Outcome` per request. Health probes open a fresh connection each
time, as an orchestrator's probes do. :func:`wait_workers_accepting` waits
until every gunicorn worker takes connections, so that load does not start
on the first worker alone.
"""

from __future__ import annotations

import http.client
import io
import os
import random
import re
import select
import threading
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from time import perf_counter, sleep
from urllib.parse import urlencode

import numpy as np
import orjson

from bench import pools
from bench.server import HOST, Server

RANK = "/v1/rank"
JSON = {"Content-Type": "application/json"}
NPY = {"Content-Type": "application/x-npy"}
REQUEST_TIMEOUT_S = 60.0
PROBE_TIMEOUT_S = 10.0
# Scores in an answer may differ from the float64 reference by float32 rounding.
SCORE_TOLERANCE = 1e-4
C = 10
DIGITS_MODEL = "digits-logreg"
DIGITS_FEATURES = 64
# How much of a failed answer's body a report keeps.
DETAIL_CHARS = 300
# A watched descriptor's line in /proc/<pid>/fdinfo/<epoll fd>: "tfd: 3 events: 19 ... ino:1f8f4".
WATCHED_INODE = re.compile(r"^tfd:.*\bino:([0-9a-f]+)", re.MULTILINE)

Check = Callable[[dict], "str | None"]


@dataclass(frozen=True)
class Template:
    """One request of the mix: what is sent, the status it must get, how often it is sent.

    ``check`` returns what is wrong with a 200 answer, or None when it is right.
    """

    kind: str
    path: str
    body: bytes | None
    headers: dict[str, str]
    expected: int = 200
    weight: float = 1.0
    check: Check | None = None
    method: str = "POST"


@dataclass(frozen=True)
class Outcome:
    """What one request got: ``status`` is None when the connection failed (see ``error``).

    ``start`` and ``end`` are ``time.perf_counter`` readings; ``reused`` says
    whether the request went out on a kept-alive connection, ``dropped`` whether
    the server had closed the kept-alive one before; ``problem`` says
    what was wrong with a 200 answer, or holds the body of an unexpected status.
    """

    kind: str
    expected: int
    start: float
    end: float
    status: int | None
    error: str | None = None
    problem: str | None = None
    retry_after: str | None = None
    request_id: bool = False
    reused: bool = False
    dropped: bool = False

    @property
    def seconds(self) -> float:
        return self.end - self.start

    @property
    def failure(self) -> str | None:
        """Why this request counts as failed: a category name, or None if it went as expected."""
        if self.status is None:
            return "connection_error"
        if self.status >= 500:
            return "server_error"
        if self.status != self.expected:
            return "unexpected_status"
        if self.problem is not None:
            return "wrong_answer"
        return None

    def describe(self, origin: float = 0.0) -> dict[str, object]:
        """A JSON-ready account of this request; times in seconds after ``origin``."""
        return {
            "kind": self.kind,
            "failure": self.failure,
            "status": self.status,
            "expected": self.expected,
            "error": self.error,
            "problem": self.problem,
            "retry_after": self.retry_after,
            "reused_connection": self.reused,
            "start_s": round(self.start - origin, 3),
            "end_s": round(self.end - origin, 3),
        }


def summary_line(described: Mapping[str, object]) -> str:
    """One line from :meth:`Outcome.describe`: when, what, and what went wrong."""
    status = described["status"]
    got = "connection failed" if status is None else f"got {status}"
    details = "; ".join(str(described[key]) for key in ("error", "problem") if described[key])
    return (
        f"{described['start_s']:+8.3f}..{described['end_s']:+.3f} s  {described['kind']} "
        f"(wants {described['expected']}) {got}{': ' if details else ''}{details[:160]}"
    )


# ---------------------------------------------------------------- answer checks


def reference_scores(strategy: str, probs: np.ndarray, rows_per_step: int = 1 << 20) -> np.ndarray:
    """Every row's score under ``strategy``, computed here in float64 with plain numpy."""
    out = np.empty(probs.shape[0], dtype=np.float64)
    for start in range(0, probs.shape[0], rows_per_step):
        part = probs[start : start + rows_per_step].astype(np.float64)
        if strategy == "least_confidence":
            scores = 1.0 - part.max(axis=1)
        elif strategy == "margin":
            top_two = np.sort(part, axis=1)[:, -2:]
            scores = 1.0 - (top_two[:, 1] - top_two[:, 0])
        elif strategy == "entropy":
            scores = -(part * np.log(np.maximum(part, np.finfo(np.float64).tiny))).sum(axis=1)
        else:
            raise ValueError(f"no numpy reference for {strategy}")
        out[start : start + len(part)] = scores
    return out


@dataclass(frozen=True)
class TopK:
    """A 200 answer must hold ``budget`` distinct items from the top of ``scores``.

    Near-ties may be ordered either way after float32 rounding, so an item is
    accepted when its reference score reaches the k-th best within the tolerance.
    """

    scores: np.ndarray
    budget: int
    kth: float

    @classmethod
    def of(cls, scores: np.ndarray, budget: int) -> TopK:
        kth = float(np.partition(scores, scores.size - budget)[scores.size - budget])
        return cls(scores, budget, kth)

    def __call__(self, answer: dict) -> str | None:
        indices = np.asarray(answer.get("indices", []), dtype=np.int64)
        got = np.asarray(answer.get("scores", []), dtype=np.float64)
        if answer.get("pool_size") != self.scores.size:
            return f"pool_size {answer.get('pool_size')}, expected {self.scores.size}"
        if indices.size != self.budget or np.unique(indices).size != self.budget:
            distinct = np.unique(indices).size
            return f"{indices.size} indices ({distinct} distinct), expected {self.budget}"
        if indices.min() < 0 or indices.max() >= self.scores.size or got.shape != indices.shape:
            return "indices out of range or scores missing"
        reference = self.scores[indices]
        if np.any(reference < self.kth - SCORE_TOLERANCE):
            worst = int(indices[np.argmin(reference)])
            return f"item {worst} is not among the {self.budget} best"
        if np.any(np.abs(got - reference) > SCORE_TOLERANCE):
            return f"scores differ from numpy's by up to {np.abs(got - reference).max():.3g}"
        return None


class SameAnswer:
    """A 200 answer must hold ``budget`` items and equal the first answer to the same request.

    The service answers the same request the same way, so any difference,
    under whatever concurrency, is a wrong answer.
    """

    def __init__(self, pool_size: int, budget: int) -> None:
        self.pool_size = pool_size
        self.budget = budget
        self._first: tuple[object, object] | None = None
        self._lock = threading.Lock()

    def __call__(self, answer: dict) -> str | None:
        indices, scores = answer.get("indices"), answer.get("scores")
        if answer.get("pool_size") != self.pool_size:
            return f"pool_size {answer.get('pool_size')}, expected {self.pool_size}"
        if not isinstance(indices, list) or len(set(indices)) != self.budget:
            return f"expected {self.budget} distinct indices"
        with self._lock:
            if self._first is None:
                self._first = (indices, scores)
                return None
            first = self._first
        if (indices, scores) != first:
            return "differs from the first answer to the same request"
        return None


# ---------------------------------------------------------------- the mix


def npy_bytes(array: np.ndarray) -> bytes:
    """``array`` as the bytes of a .npy file."""
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    return buffer.getvalue()


def _json(document: Mapping[str, object]) -> bytes:
    return orjson.dumps(document, option=orjson.OPT_SERIALIZE_NUMPY)


def _digit_features(rows: int, seed: int) -> np.ndarray:
    # 8x8 images with pixel intensities 0..16, as the bundled model was trained on.
    rng = np.random.default_rng(seed)
    return rng.integers(0, 17, size=(rows, DIGITS_FEATURES)).astype(np.float32)


def ranking_templates(medium_rows: int = 200_000) -> list[Template]:
    """Rankings that must succeed: small JSON pools (several strategies, samples, a
    batch strategy), a medium .npy pool, and features scored by the bundled model."""
    small = pools.probabilities(500, C, np.float32, seed=1)
    medium = pools.probabilities(medium_rows, C, np.float32, seed=2)
    medium_npy = npy_bytes(medium)
    templates = [
        Template(
            "json-small",
            RANK,
            _json({"strategy": name, "budget": 20, "probabilities": small}),
            JSON,
            weight=6,
            check=TopK.of(reference_scores(name, small), 20),
        )
        for name in ("least_confidence", "margin", "entropy")
    ]
    templates.append(
        Template(
            "json-small",
            RANK,
            _json(
                {
                    "strategy": "entropy",
                    "budget": 20,
                    "probabilities": small,
                    "selection": {"method": "power", "beta": 2},
                    "seed": 7,
                }
            ),
            JSON,
            weight=4,
            check=SameAnswer(500, 20),
        )
    )
    templates += [
        Template(
            "json-bald",
            RANK,
            _json({"strategy": "bald", "budget": 10, "samples": pools.samples(200, 8, C, seed=3)}),
            JSON,
            weight=6,
            check=SameAnswer(200, 10),
        ),
        Template(
            "json-coreset",
            RANK,
            _json(
                {
                    "strategy": "coreset",
                    "budget": 10,
                    "embeddings": np.random.default_rng(4).standard_normal((500, 16)),
                }
            ),
            JSON,
            weight=6,
            check=SameAnswer(500, 10),
        ),
    ]
    templates += [
        Template(
            "npy-medium",
            f"{RANK}?{urlencode({'strategy': name, 'budget': 100})}",
            medium_npy,
            NPY,
            weight=5,
            check=TopK.of(reference_scores(name, medium), 100),
        )
        for name in ("entropy", "margin")
    ]
    query = urlencode(
        {"strategy": "margin", "budget": 20, "input": "features", "model": DIGITS_MODEL}
    )
    templates += [
        Template(
            "features-npy",
            f"{RANK}?{query}",
            npy_bytes(_digit_features(2_000, seed=5)),
            NPY,
            weight=8,
            check=SameAnswer(2_000, 20),
        ),
        Template(
            "features-json",
            RANK,
            _json(
                {
                    "strategy": "least_confidence",
                    "budget": 5,
                    "model": DIGITS_MODEL,
                    "features": _digit_features(50, seed=6),
                }
            ),
            JSON,
            weight=6,
            check=SameAnswer(50, 5),
        ),
    ]
    return templates


def bad_templates() -> list[Template]:
    """Requests the service must refuse with a 4xx: each names the status it must get."""
    probs = [[0.5, 0.5], [0.9, 0.1], [0.6, 0.4]]
    truncated = npy_bytes(pools.probabilities(100, C, np.float32, seed=8))[:-40]
    margin = urlencode({"strategy": "margin", "budget": 5})
    return [
        Template("bad-json", RANK, b'{"strategy": "margin", "budget": 2, "prob', JSON, 400),
        Template(
            "bad-nan",
            RANK,
            b'{"strategy": "margin", "budget": 1, "probabilities": [[NaN, 0.5], [0.5, 0.5]]}',
            JSON,
            422,
        ),
        Template(
            "bad-strategy",
            RANK,
            _json({"strategy": "most_confusing", "budget": 1, "probabilities": probs}),
            JSON,
            422,
        ),
        Template(
            "bad-budget",
            RANK,
            _json({"strategy": "margin", "budget": 4, "probabilities": probs}),
            JSON,
            422,
        ),
        Template(
            "bad-content-type",
            RANK,
            _json({"strategy": "margin", "budget": 1, "probabilities": probs}),
            {"Content-Type": "text/plain"},
            415,
        ),
        Template("bad-npy-truncated", f"{RANK}?{margin}", truncated, NPY, 400),
    ]


def request_mix(medium_rows: int = 200_000, bad_share: float = 0.1) -> list[Template]:
    """The load's mix: the rankings, plus the bad requests taking ``bad_share`` of the sends."""
    good = ranking_templates(medium_rows)
    bad = bad_templates()
    good_weight = sum(template.weight for template in good)
    each = good_weight * bad_share / (1 - bad_share) / len(bad) if bad_share else 0.0
    return good + [_reweighted(template, each) for template in bad]


def _reweighted(template: Template, weight: float) -> Template:
    return Template(
        template.kind,
        template.path,
        template.body,
        template.headers,
        template.expected,
        weight,
        template.check,
        template.method,
    )


# ---------------------------------------------------------------- sending


class Client:
    """One persistent connection to the service; not shared between threads."""

    def __init__(self, port: int, timeout: float = REQUEST_TIMEOUT_S) -> None:
        self.connection = http.client.HTTPConnection(HOST, port, timeout=timeout)

    def send(self, template: Template) -> Outcome:
        """Send ``template`` on the kept-alive connection (opening one if there is none).

        A connection that fails is closed, so the next send opens a new one;
        http.client itself reopens after a "Connection: close" answer.
        """
        dropped = self._drop_if_closed()
        reused = self.connection.sock is not None
        start = perf_counter()
        try:
            response, payload, cut_short = self._exchange(template)
        except (OSError, http.client.HTTPException) as error:
            self.connection.close()
            return Outcome(
                template.kind,
                template.expected,
                start,
                perf_counter(),
                None,
                error=f"{type(error).__name__}: {error}",
                reused=reused,
                dropped=dropped,
            )
        end = perf_counter()
        return Outcome(
            template.kind,
            template.expected,
            start,
            end,
            response.status,
            error=cut_short,
            problem=_problem(template, response.status, payload),
            retry_after=response.getheader("Retry-After"),
            request_id=response.getheader("X-Request-ID") is not None,
            reused=reused,
            dropped=dropped,
        )

    def _exchange(self, template: Template) -> tuple[http.client.HTTPResponse, bytes, str | None]:
        """(the answer, its body, why the request body was cut short or None).

        A server may answer, and close, before it has read a large body (a
        refusal, say): the answer is still read, and the connection closed.
        """
        cut_short = None
        try:
            self.connection.request(
                template.method, template.path, body=template.body, headers=template.headers
            )
        except OSError as error:
            cut_short = f"body cut short: {type(error).__name__}"
        try:
            response = self.connection.getresponse()
            payload = response.read()
        except (OSError, http.client.HTTPException) as error:
            if cut_short is not None:
                raise OSError(f"{cut_short}, then {type(error).__name__}: {error}") from error
            raise
        if cut_short is not None:
            self.connection.close()
        return response, payload, cut_short

    def _drop_if_closed(self) -> bool:
        """Close a kept-alive connection the server has closed meanwhile; True if it had.

        As urllib3 does before reusing a pooled connection: a server may close
        an idle connection at any time, and a readable idle socket means it did.
        """
        sock = self.connection.sock
        if sock is None or not select.select([sock], [], [], 0)[0]:
            return False
        self.connection.close()
        return True

    def close(self) -> None:
        self.connection.close()


def _problem(template: Template, status: int, payload: bytes) -> str | None:
    if status != template.expected:
        return payload[:DETAIL_CHARS].decode("utf-8", errors="replace")
    if status != 200 or template.check is None:
        return None
    try:
        answer = orjson.loads(payload)
    except orjson.JSONDecodeError as error:
        return f"answer is not JSON: {error}"
    return template.check(answer)


def probe(port: int, path: str, timeout: float = PROBE_TIMEOUT_S) -> Outcome:
    """GET ``path`` on a fresh connection, as an orchestrator's probe does."""
    template = Template(path.strip("/"), path, None, {}, method="GET")
    client = Client(port, timeout)
    try:
        return client.send(template)
    finally:
        client.close()


@dataclass
class Traffic:
    """Client threads sending a weighted mix, and a prober; every outcome lands in ``outcomes``.

    Each client sends every template once, in its own order, then draws them
    at random by weight. ``reconnect_every`` > 0 makes each client open a new
    connection after that many requests, as connection pools do now and then,
    so that connections spread over the workers again after one is replaced.
    """

    port: int
    templates: Sequence[Template]
    clients: int
    seed: int = 0
    probe_interval_s: float | None = 0.25
    reconnect_every: int = 0
    outcomes: list[Outcome] = field(default_factory=list)
    probes: list[Outcome] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _threads: list[threading.Thread] = field(default_factory=list)

    def start(self) -> Traffic:
        for number in range(self.clients):
            self._spawn(self._client_loop, number)
        if self.probe_interval_s is not None:
            self._spawn(self._probe_loop, 0)
        return self

    def stop(self) -> None:
        """Let every thread finish its current request, then return."""
        self._stop.set()
        for thread in self._threads:
            thread.join()

    def _spawn(self, target: Callable[[int], None], number: int) -> None:
        thread = threading.Thread(target=target, args=(number,), daemon=True)
        thread.start()
        self._threads.append(thread)

    def _client_loop(self, number: int) -> None:
        client = Client(self.port)
        sent = 0
        try:
            for template in self._choices(number):
                if self._stop.is_set():
                    break
                self.outcomes.append(client.send(template))
                sent += 1
                if self.reconnect_every and sent % self.reconnect_every == 0:
                    client.close()
        finally:
            client.close()

    def _choices(self, number: int) -> Iterator[Template]:
        """Every template once (so each kind is sent however short the run), then a
        weighted random draw for as long as asked."""
        rng = random.Random(self.seed * 1000 + number)
        first = list(self.templates)
        rng.shuffle(first)
        yield from first
        weights = [template.weight for template in self.templates]
        while True:
            yield rng.choices(self.templates, weights)[0]

    def _probe_loop(self, _: int) -> None:
        paths = ("/healthz", "/readyz")
        turn = 0
        while not self._stop.wait(self.probe_interval_s):
            self.probes.append(probe(self.port, paths[turn % 2]))
            turn += 1


# ---------------------------------------------------------------- the workers


def listening_inodes(port: int) -> set[int]:
    """Inodes of the sockets listening on ``port`` (from /proc/net/tcp and tcp6)."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            rows = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            cells = row.split()
            listening = cells[3] == "0A"
            if listening and int(cells[1].rsplit(":", 1)[1], 16) == port:
                inodes.add(int(cells[9]))
    return inodes


def accepting(pid: int, inodes: set[int]) -> bool:
    """Whether process ``pid`` waits for connections on a socket of ``inodes``: one of its
    epoll sets watches it (a gthread worker adds the listener once its app is loaded)."""
    try:
        descriptors = list(Path(f"/proc/{pid}/fd").iterdir())
    except OSError:
        return False
    for descriptor in descriptors:
        try:
            if os.readlink(descriptor) != "anon_inode:[eventpoll]":
                continue
            watched = Path(f"/proc/{pid}/fdinfo/{descriptor.name}").read_text()
        except OSError:
            continue
        if any(int(ino, 16) in inodes for ino in WATCHED_INODE.findall(watched)):
            return True
    return False


def wait_workers_accepting(server: Server, workers: int, timeout_s: float = 60.0) -> list[int]:
    """Wait until the master has ``workers`` workers and each accepts connections; their pids.

    /readyz answers as soon as one worker is up; load sent before the others
    are would all land on that one.
    """
    deadline = perf_counter() + timeout_s
    inodes = listening_inodes(server.port)
    while perf_counter() < deadline:
        pids = server.worker_pids()
        if len(pids) == workers and all(accepting(pid, inodes) for pid in pids):
            return pids
        sleep(0.05)
    raise TimeoutError(f"{workers} workers were not all accepting within {timeout_s:g} s")


# ---------------------------------------------------------------- tallies


def latency_ms(seconds: Iterable[float]) -> dict[str, float]:
    """p50, p95, p99 and max of ``seconds``, in milliseconds."""
    values = np.asarray(list(seconds), dtype=np.float64) * 1e3
    if values.size == 0:
        return {}
    p50, p95, p99 = np.percentile(values, [50, 95, 99])
    return {
        "p50": round(float(p50), 2),
        "p95": round(float(p95), 2),
        "p99": round(float(p99), 2),
        "max": round(float(values.max()), 2),
    }


def by_kind(outcomes: Iterable[Outcome]) -> dict[str, dict[str, object]]:
    """Per kind: requests, the status it must get, requests per status, latency of answered ones."""
    groups: dict[str, list[Outcome]] = defaultdict(list)
    for outcome in outcomes:
        groups[outcome.kind].append(outcome)
    table: dict[str, dict[str, object]] = {}
    for kind, group in sorted(groups.items()):
        statuses = Counter(
            str(outcome.status) if outcome.status is not None else "connection_error"
            for outcome in group
        )
        table[kind] = {
            "requests": len(group),
            "expected": group[0].expected,
            "statuses": dict(sorted(statuses.items())),
            "latency_ms": latency_ms(o.seconds for o in group if o.status is not None),
        }
    return table


def failure_counts(outcomes: Iterable[Outcome]) -> dict[str, int]:
    """How many requests went wrong, by how: 5xx answers, answers with another status than
    expected (5xx included), connections that failed, 200 answers that were wrong."""
    counts = dict.fromkeys(
        ("server_errors", "unexpected_statuses", "connection_errors", "wrong_answers"), 0
    )
    for outcome in outcomes:
        if outcome.status is None:
            counts["connection_errors"] += 1
            continue
        counts["server_errors"] += outcome.status >= 500
        counts["unexpected_statuses"] += outcome.status != outcome.expected
        counts["wrong_answers"] += outcome.failure == "wrong_answer"
    return counts


def failed(outcomes: Iterable[Outcome]) -> list[Outcome]:
    """The outcomes that did not go as expected, in the order they started."""
    return sorted((o for o in outcomes if o.failure is not None), key=lambda o: o.start)


def retry_after_values(outcomes: Iterable[Outcome]) -> dict[str, int]:
    """Retry-After header values seen, with how often."""
    return dict(Counter(o.retry_after for o in outcomes if o.retry_after is not None))
