"""python -m bench.faults: a worker killed under load, and a graceful stop, on a real gunicorn.

Two scenarios, each judged pass or fail:

- **kill**: ``--clients`` threads send rankings to 2 workers; one worker (the
  busiest) gets SIGKILL. The requests that fail around the kill are counted and
  shown. The master must start a new worker, which must answer; then, after
  ``--after`` more seconds of load, no request sent after the recovery may have
  failed, nor any sent before the kill.
- **drain**: one large .npy pool is streamed slowly, so that it is surely in
  flight, and the master gets SIGTERM meanwhile. The request must complete
  with 200 and the right answer (checked against numpy here), the master must
  exit within gunicorn's graceful timeout, and new connections must be
  refused once the stop has begun.

Prints the figures, writes them to bench/results/faults.json, and exits 1
when a scenario fails.
"""

from __future__ import annotations

import argparse
import http.client
import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from time import perf_counter
from typing import Any
from urllib.parse import urlencode

import numpy as np
import orjson

from bench import pools, traffic
from bench.results import RESULTS_DIR, environment, save
from bench.server import HOST, Server, running_server

Report = dict[str, Any]
FAILURES_SHOWN = 20
POLL_S = 0.05
RECOVERY_TIMEOUT_S = 60.0
# Where the master's own loop may add to the graceful timeout before it exits.
EXIT_SLACK_S = 2.0
DRAIN_STRATEGY = "entropy"
DRAIN_BUDGET = 100
BLOCK_BYTES = 1 << 20
# How long a connection attempt during the drain waits for an answer.
CONNECT_PROBE_TIMEOUT_S = 1.0
ACCESS_LINE = re.compile(r"^pid=<(\d+)>")


class AccessLog:
    """The worker pid of each request gunicorn logged, read as the file grows.

    gunicorn writes it (``--access-logfile``) with the format ``pid=%(p)s ...``,
    set through GUNICORN_CMD_ARGS so it holds whatever gunicorn.conf.py says.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.pids: list[int] = []
        self._offset = 0

    @staticmethod
    def settings(path: Path) -> dict[str, str]:
        """The environment that makes gunicorn write this log."""
        arguments = (
            f"--access-logfile {shlex.quote(str(path))} --access-logformat 'pid=%(p)s %(s)s'"
        )
        return {"GUNICORN_CMD_ARGS": arguments}

    def read(self) -> list[int]:
        """The pids of the requests logged since the last read."""
        try:
            with self.path.open("rb") as handle:
                handle.seek(self._offset)
                text = handle.read()
        except FileNotFoundError:
            return []
        complete = text[: text.rfind(b"\n") + 1]
        self._offset += len(complete)
        new = [
            int(match.group(1))
            for line in complete.decode(errors="replace").splitlines()
            if (match := ACCESS_LINE.match(line))
        ]
        self.pids += new
        return new


# ---------------------------------------------------------------- kill -9 a worker


@dataclass
class Recovery:
    """When the killed worker's replacement appeared, began accepting and first answered
    (``perf_counter`` readings, None if it never did), and the probes sent meanwhile."""

    killed: int
    replacement: int | None = None
    spawned_at: float | None = None
    accepting_at: float | None = None
    answered_at: float | None = None
    probes: list[traffic.Outcome] = field(default_factory=list)


def kill_scenario(
    before_s: float = 5.0,
    after_s: float = 10.0,
    clients: int = 3,
    workers: int = 2,
    medium_rows: int = 200_000,
) -> Report:
    """Kill the busiest worker under load; see the module docstring."""
    templates = traffic.ranking_templates(medium_rows)
    with tempfile.TemporaryDirectory(prefix="alrank-faults-") as logs:
        access = AccessLog(Path(logs) / "access.log")
        settings = {"ALRANK_WORKERS": str(workers), "ALRANK_MAX_REQUESTS": "0"}
        with running_server(Path(logs), settings | AccessLog.settings(access.path)) as server:
            original = set(traffic.wait_workers_accepting(server, workers))
            origin = perf_counter()
            # Clients reconnect now and then, as pools do, so the replacement gets load too.
            load = traffic.Traffic(
                server.port, templates, clients, probe_interval_s=0.25, reconnect_every=25
            ).start()
            try:
                time.sleep(before_s)
                access.read()
                victim = Counter(access.pids).most_common(1)[0][0] if access.pids else min(original)
                killed_at = perf_counter()
                os.kill(victim, signal.SIGKILL)
                recovery = _await_replacement(server, access, original, victim)
                served_before = len(access.pids)
                if recovery.answered_at is not None:
                    time.sleep(after_s)
            finally:
                load.stop()
            access.read()
            master_alive = server.process.poll() is None
            final_workers = server.worker_pids()
    return _kill_report(
        load,
        recovery,
        origin=origin,
        killed_at=killed_at,
        served_after=Counter(access.pids[served_before:]),
        master_alive=master_alive,
        final_workers=final_workers,
        settings={"before_s": before_s, "after_s": after_s, "clients": clients, "workers": workers},
    )


def _await_replacement(
    server: Server, access: AccessLog, original: set[int], victim: int
) -> Recovery:
    """Poll until a new worker is among the master's children, accepts connections, and
    has answered a request.

    Fresh connections are opened once it accepts (GET /readyz), so it gets one
    even while the clients' kept-alive connections stay on the surviving worker.
    """
    recovery = Recovery(killed=victim)
    inodes = traffic.listening_inodes(server.port)
    deadline = perf_counter() + RECOVERY_TIMEOUT_S
    while perf_counter() < deadline:
        if recovery.replacement is None:
            if new := set(server.worker_pids()) - original:
                recovery.spawned_at = perf_counter()
                recovery.replacement = min(new)
        elif recovery.accepting_at is None:
            if traffic.accepting(recovery.replacement, inodes):
                recovery.accepting_at = perf_counter()
        else:
            recovery.probes.append(traffic.probe(server.port, "/readyz"))
            access.read()
            if recovery.replacement in access.pids:
                recovery.answered_at = perf_counter()
                return recovery
        time.sleep(POLL_S)
    return recovery


def _kill_report(
    load: traffic.Traffic,
    recovery: Recovery,
    *,
    origin: float,
    killed_at: float,
    served_after: Counter[int],
    master_alive: bool,
    final_workers: list[int],
    settings: dict[str, Any],
) -> Report:
    recovered_at = recovery.answered_at
    everything = load.outcomes + load.probes
    failed = traffic.failed(everything)
    before = [o for o in failed if o.end < killed_at]
    settled = recovered_at if recovered_at is not None else float("inf")
    around = [o for o in failed if o.end >= killed_at and o.start < settled]
    after = [o for o in failed if o.start >= settled]
    sent_after = [o for o in everything if o.start >= settled]
    reasons = []
    if before:
        reasons.append(f"{len(before)} requests failed before the kill")
    if recovered_at is None:
        reasons.append(f"no replacement worker answered within {RECOVERY_TIMEOUT_S:g} s")
    elif not sent_after:
        reasons.append("no request was sent after the recovery")
    if after:
        reasons.append(f"{len(after)} requests sent after the recovery failed")
    if not master_alive:
        reasons.append("the master exited")
    if len(final_workers) != settings["workers"]:
        reasons.append(f"{len(final_workers)} workers at the end, not {settings['workers']}")

    def since_kill(moment: float | None) -> float | None:
        return None if moment is None else round(moment - killed_at, 3)

    return {
        "settings": settings,
        "killed_worker": recovery.killed,
        "killed_at_s": round(killed_at - origin, 3),
        "replacement_worker": recovery.replacement,
        "replacement_started_s": since_kill(recovery.spawned_at),
        "replacement_accepting_s": since_kill(recovery.accepting_at),
        "recovery_s": since_kill(recovered_at),
        "recovery_probes": Counter(
            str(o.status) if o.status is not None else "connection_error" for o in recovery.probes
        ),
        "workers_at_end": final_workers,
        "requests": len(everything),
        "requests_after_recovery": len(sent_after),
        "served_after_recovery_by_worker": {str(pid): n for pid, n in served_after.items()},
        "kinds": traffic.by_kind(everything),
        "failed_before_kill": len(before),
        "failed_around_kill": len(around),
        "failed_after_recovery": len(after),
        "failures_shown": [
            o.describe(killed_at) for o in (before + around + after)[:FAILURES_SHOWN]
        ],
        "failures_found": reasons,
        "passed": not reasons,
    }


# ---------------------------------------------------------------- SIGTERM drains


@dataclass
class SlowUpload:
    """A file sent as a request body at a steady pace over ``seconds``; counts what went out."""

    path: Path
    seconds: float
    sent: int = 0
    started: threading.Event = field(default_factory=threading.Event)
    size: int = field(init=False)

    def __post_init__(self) -> None:
        self.size = self.path.stat().st_size

    def blocks(self) -> Iterator[bytes]:
        pace = self.seconds / max(1, -(-self.size // BLOCK_BYTES))
        start = perf_counter()
        with self.path.open("rb") as handle:
            number = 0
            while block := handle.read(BLOCK_BYTES):
                pause = start + number * pace - perf_counter()
                if pause > 0:
                    time.sleep(pause)
                yield block
                self.sent += len(block)
                self.started.set()
                number += 1


@dataclass
class Answer:
    """The in-flight request's result: status and body, or the error; when it ended."""

    status: int | None = None
    body: bytes = b""
    error: str | None = None
    ended_at: float | None = None


def _send_slowly(port: int, upload: SlowUpload, answer: Answer) -> None:
    query = urlencode({"strategy": DRAIN_STRATEGY, "budget": DRAIN_BUDGET})
    connection = http.client.HTTPConnection(HOST, port, timeout=traffic.REQUEST_TIMEOUT_S)
    headers = traffic.NPY | {"Content-Length": str(upload.size)}
    try:
        connection.request("POST", f"{traffic.RANK}?{query}", body=upload.blocks(), headers=headers)
        response = connection.getresponse()
        answer.body = response.read()
        answer.status = response.status
    except (OSError, http.client.HTTPException) as error:
        answer.error = f"{type(error).__name__}: {error}"
    finally:
        answer.ended_at = perf_counter()
        connection.close()
        upload.started.set()


def try_new_connection(port: int, timeout: float = CONNECT_PROBE_TIMEOUT_S) -> str:
    """What a new client gets now: "refused", "answered <status>", "closed", "reset" or
    "no answer" (connected, but nothing came back within ``timeout``)."""
    try:
        sock = socket.create_connection((HOST, port), timeout=timeout)
    except ConnectionRefusedError:
        return "refused"
    except OSError as error:
        return f"connect failed: {type(error).__name__}"
    with sock:
        try:
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: alrank\r\nConnection: close\r\n\r\n")
            head = sock.recv(64)
        except TimeoutError:
            return "no answer"
        except ConnectionResetError:
            return "reset"
        except OSError as error:
            return f"failed: {type(error).__name__}"
    if not head:
        return "closed"
    parts = head.split(b" ", 2)
    return f"answered {parts[1].decode(errors='replace')}" if len(parts) > 1 else "answered"


def drain_scenario(
    rows: int = 8_000_000,
    stream_s: float = 6.0,
    term_after_s: float = 1.5,
    workers: int = 2,
    graceful_timeout: int = 30,
) -> Report:
    """SIGTERM the master while a slowly streamed ranking is in flight; see the module docstring."""
    pool = pools.probabilities(rows, traffic.C, np.float32, seed=11)
    check = traffic.TopK.of(traffic.reference_scores(DRAIN_STRATEGY, pool), DRAIN_BUDGET)
    with tempfile.TemporaryDirectory(prefix="alrank-faults-") as scratch:
        upload = SlowUpload(pools.save_npy(pool, Path(scratch) / "pool.npy"), stream_s)
        del pool
        settings = {
            "ALRANK_WORKERS": str(workers),
            "ALRANK_MAX_REQUESTS": "0",
            "ALRANK_GRACEFUL_TIMEOUT": str(graceful_timeout),
        }
        with running_server(Path(scratch), settings) as server:
            traffic.wait_workers_accepting(server, workers)
            answer = Answer()
            sender = threading.Thread(target=_send_slowly, args=(server.port, upload, answer))
            sender.start()
            upload.started.wait()
            time.sleep(term_after_s)
            sent_at_term = upload.sent
            termed_at = perf_counter()
            server.process.send_signal(signal.SIGTERM)
            attempts = _connection_attempts(server, answer, termed_at)
            sender.join()
            exited_at, exit_code = _await_exit(server, graceful_timeout + EXIT_SLACK_S + 10)
    return _drain_report(
        answer,
        check,
        upload=upload,
        sent_at_term=sent_at_term,
        termed_at=termed_at,
        exited_at=exited_at,
        exit_code=exit_code,
        attempts=attempts,
        settings={
            "rows": rows,
            "body_mib": round(upload.size / (1 << 20), 1),
            "stream_s": stream_s,
            "term_after_s": term_after_s,
            "workers": workers,
            "graceful_timeout_s": graceful_timeout,
        },
    )


def _connection_attempts(server: Server, answer: Answer, termed_at: float) -> list[dict]:
    """New connections tried every half second while the stop goes on (first after 0.2 s)."""
    attempts = []
    time.sleep(0.2)
    while True:
        at = perf_counter() - termed_at
        attempts.append({"at_s": round(at, 2), "got": try_new_connection(server.port)})
        if answer.ended_at is not None or server.process.poll() is not None:
            return attempts
        time.sleep(0.5)


def _await_exit(server: Server, timeout: float) -> tuple[float | None, int | None]:
    try:
        code = server.process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:  # still running: running_server's stop() kills it
        return None, None
    return perf_counter(), code


def _drain_report(
    answer: Answer,
    check: traffic.TopK,
    *,
    upload: SlowUpload,
    sent_at_term: int,
    termed_at: float,
    exited_at: float | None,
    exit_code: int | None,
    attempts: list[dict],
    settings: dict[str, Any],
) -> Report:
    graceful = settings["graceful_timeout_s"]
    problem = None
    if answer.status == 200:
        try:
            problem = check(orjson.loads(answer.body))
        except orjson.JSONDecodeError as error:
            problem = f"answer is not JSON: {error}"
    reasons = []
    if sent_at_term >= upload.size:
        reasons.append("the body had been sent in full before SIGTERM: not surely in flight")
    if answer.status != 200:
        detail = answer.error or answer.body[:300].decode(errors="replace")
        reasons.append(f"the in-flight request got {answer.status}: {detail}")
    elif problem:
        reasons.append(f"the in-flight request's answer is wrong: {problem}")
    exit_s = None if exited_at is None else exited_at - termed_at
    if exit_s is None or exit_s > graceful + EXIT_SLACK_S:
        reasons.append(f"the master did not exit within the graceful timeout ({graceful} s)")
    not_refused = [a for a in attempts if a["got"] != "refused"]
    if not_refused:
        reasons.append(
            f"{len(not_refused)} of {len(attempts)} new connections during the stop were "
            f"not refused ({', '.join(sorted({a['got'] for a in not_refused}))})"
        )
    return {
        "settings": settings,
        "sent_at_term_pct": round(100.0 * sent_at_term / upload.size, 1),
        "status": answer.status,
        "error": answer.error,
        "answer_checked": answer.status == 200 and problem is None,
        "answer_problem": problem if answer.status == 200 else "not checked",
        "drain_s": None if answer.ended_at is None else round(answer.ended_at - termed_at, 3),
        "master_exit_s": None if exit_s is None else round(exit_s, 3),
        "master_exit_code": exit_code,
        "new_connections": attempts,
        "failures_found": reasons,
        "passed": not reasons,
    }


# ---------------------------------------------------------------- both, printed


def print_kill(report: Report) -> None:
    settings = report["settings"]
    print(
        f"kill: {settings['clients']} clients, {settings['workers']} workers; worker "
        f"{report['killed_worker']} got SIGKILL at {report['killed_at_s']} s"
    )
    print(
        f"  replacement {report['replacement_worker']} started after "
        f"{report['replacement_started_s']} s, accepted connections after "
        f"{report['replacement_accepting_s']} s, answered after {report['recovery_s']} s "
        f"(time to recovery); workers at the end: {report['workers_at_end']}"
    )
    print(
        f"  requests: {report['requests']}, {report['requests_after_recovery']} sent after "
        f"recovery (served by worker: {report['served_after_recovery_by_worker']})"
    )
    print(
        f"  failed: {report['failed_before_kill']} before the kill, "
        f"{report['failed_around_kill']} around it, {report['failed_after_recovery']} after "
        "recovery"
    )
    for failure in report["failures_shown"]:
        print(f"    {traffic.summary_line(failure)}")
    _print_verdict(report)


def print_drain(report: Report) -> None:
    settings = report["settings"]
    print(
        f"drain: {settings['rows']:,} rows ({settings['body_mib']} MiB .npy) streamed over "
        f"{settings['stream_s']} s; SIGTERM with {report['sent_at_term_pct']}% sent"
    )
    print(
        f"  in-flight request: {report['status'] or report['error']}, answer "
        f"{report['answer_problem'] or 'matches numpy'}; completed "
        f"{report['drain_s']} s after SIGTERM (drain time)"
    )
    print(
        f"  master exited {report['master_exit_s']} s after SIGTERM with code "
        f"{report['master_exit_code']} (graceful timeout {settings['graceful_timeout_s']} s)"
    )
    got = ", ".join(f"{a['at_s']} s: {a['got']}" for a in report["new_connections"])
    print(f"  new connections after SIGTERM: {got}")
    _print_verdict(report)


def _print_verdict(report: Report) -> None:
    verdict = "PASS" if report["passed"] else "FAIL: " + "; ".join(report["failures_found"])
    print(f"  {verdict}")


SCENARIOS = ("kill", "drain")


def run(args: argparse.Namespace) -> Report:
    """Run the chosen scenarios, print each, and gather them in one report."""
    report: Report = {"figure": "faults", "environment": environment()}
    if "kill" in args.scenarios:
        report["kill"] = kill_scenario(
            args.before, args.after, args.clients, args.workers, args.medium_rows
        )
        print_kill(report["kill"])
    if "drain" in args.scenarios:
        report["drain"] = drain_scenario(
            args.drain_rows, args.stream, args.term_after, args.workers, args.graceful_timeout
        )
        print_drain(report["drain"])
    report["passed"] = all(report[name]["passed"] for name in SCENARIOS if name in report)
    return report


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.faults",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("scenarios", nargs="*", help="kill, drain or both (both)")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers (2)")
    parser.add_argument("--clients", type=int, default=3, help="kill: client threads (3)")
    parser.add_argument("--before", type=float, default=5.0, help="kill: load before it (5 s)")
    parser.add_argument("--after", type=float, default=10.0, help="kill: load after recovery")
    parser.add_argument("--medium-rows", type=int, default=200_000, help="kill: .npy pool rows")
    parser.add_argument("--drain-rows", type=int, default=8_000_000, help="drain: pool rows")
    parser.add_argument("--stream", type=float, default=6.0, help="drain: upload seconds (6)")
    parser.add_argument("--term-after", type=float, default=1.5, help="drain: SIGTERM after")
    parser.add_argument("--graceful-timeout", type=int, default=30, help="drain: seconds (30)")
    parser.add_argument("--results-dir", type=Path, default=RESULTS_DIR)
    args = parser.parse_args(argv)
    args.scenarios = args.scenarios or list(SCENARIOS)
    if unknown := set(args.scenarios) - set(SCENARIOS):
        parser.error(f"unknown scenarios {sorted(unknown)}; choose from {', '.join(SCENARIOS)}")
    report = run(args)
    print(f"{'PASS' if report['passed'] else 'FAIL'}; wrote {save(report, args.results_dir)}")
    return 0 if report["passed"] else 1


if __name__ == "__main__":
    sys.exit(main())
