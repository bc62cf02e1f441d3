"""python -m bench.load: sustained mixed load on a real gunicorn, judged pass or fail.

Starts gunicorn (gunicorn.conf.py, ``--workers`` workers) on a free loopback
port and runs ``--clients`` threads for ``--seconds``, each on one persistent
connection sending the mix of bench/traffic.py: small JSON rankings, medium
.npy pools, features scored by the bundled model, and bad requests that must
get their 4xx. A prober checks /healthz and /readyz on fresh connections.
Every second the workers' resident memory (VmRSS) is sampled.

Prints the figures, writes them to bench/results/load.json, and exits 1 when
any request got a 5xx, an unexpected status, a wrong answer or a broken
connection, when a worker was replaced, or when memory grew after warm-up.
Worker recycling (ALRANK_MAX_REQUESTS) is off unless ``--max-requests`` is
given, so that memory growth is the workers' own.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from time import perf_counter, sleep
from typing import Any

from bench import traffic
from bench.results import RESULTS_DIR, environment, save
from bench.server import Server, rss_bytes, running_server

WARMUP_S = 10.0
SAMPLE_EVERY_S = 1.0
# Memory is stable when the workers' RSS after warm-up grew by less than either bound.
GROWTH_PCT_LIMIT = 10.0
GROWTH_MIB_LIMIT = 50.0
MiB = 1 << 20
FAILURES_SHOWN = 20
LOG_LINES_SHOWN = 30

Report = dict[str, Any]


@dataclass
class MemorySampler:
    """Samples every worker's VmRSS each ``every_s`` seconds in a thread.

    ``samples`` holds (seconds since ``origin``, {worker pid: RSS bytes}).
    """

    server: Server
    origin: float
    every_s: float = SAMPLE_EVERY_S
    samples: list[tuple[float, dict[int, int]]] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> MemorySampler:
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self.sample()

    def sample(self) -> None:
        rss = {}
        for pid in self.server.worker_pids():
            try:
                rss[pid] = rss_bytes(pid)
            except OSError:  # the worker exited between listing and reading
                continue
        self.samples.append((perf_counter() - self.origin, rss))

    def _loop(self) -> None:
        self.sample()
        while not self._stop.wait(self.every_s):
            self.sample()


def memory_report(
    samples: Sequence[tuple[float, Mapping[int, int]]], warmup_s: float
) -> dict[str, Any]:
    """RSS summed over the workers: at warm-up end, at the end and the most after warm-up;
    the growth from warm-up end to the end, and whether it passes the stability bounds."""
    warm_at = next((i for i, (t, _) in enumerate(samples) if t >= warmup_s), len(samples) - 1)
    after = samples[warm_at:]
    warm_t, warm = after[0]
    end_t, end = after[-1]
    warm_total = sum(warm.values())
    end_total = sum(end.values())
    growth = end_total - warm_total
    # A leak keeps growing; memory that settles grows mostly early. So the
    # second half's share of the growth is reported beside it.
    middle_total = sum(after[len(after) // 2][1].values())
    growth_pct = 100.0 * growth / warm_total if warm_total else float("inf")
    stable = growth / MiB < GROWTH_MIB_LIMIT or growth_pct < GROWTH_PCT_LIMIT
    per_worker = {
        str(pid): {
            "warm_mib": _mib(warm.get(pid)),
            "end_mib": _mib(end.get(pid)),
            "max_mib": _mib(max((rss.get(pid, 0) for _, rss in after), default=0)),
        }
        for pid in sorted(set(warm) | set(end))
    }
    return {
        "warm_at_s": round(warm_t, 1),
        "end_at_s": round(end_t, 1),
        "warm_mib": _mib(warm_total),
        "end_mib": _mib(end_total),
        "max_mib": _mib(max(sum(rss.values()) for _, rss in after)),
        "growth_mib": _mib(growth),
        "growth_pct": round(growth_pct, 1),
        "second_half_growth_mib": _mib(end_total - middle_total),
        "stable": stable,
        "rule": (
            f"stable when the workers' summed RSS grew from warm-up end to the end by "
            f"less than {GROWTH_MIB_LIMIT:g} MiB or less than {GROWTH_PCT_LIMIT:g}%"
        ),
        "per_worker": per_worker,
        "workers_replaced": set(warm) != set(end),
        "samples": [
            {"t_s": round(t, 1), "rss_mib": {str(pid): _mib(v) for pid, v in rss.items()}}
            for t, rss in samples
        ],
    }


def _mib(value: int | None) -> float | None:
    return None if value is None else round(value / MiB, 1)


def run(
    seconds: float = 60.0,
    clients: int | None = None,
    workers: int = 2,
    *,
    warmup_s: float = WARMUP_S,
    medium_rows: int = 200_000,
    max_requests: int = 0,
    threads: int | None = None,
) -> Report:
    """Run the load and return the report (see the module docstring)."""
    clients = clients or 2 * workers
    settings = {"ALRANK_WORKERS": str(workers), "ALRANK_MAX_REQUESTS": str(max_requests)}
    if threads is not None:
        settings["ALRANK_THREADS"] = str(threads)
    templates = traffic.request_mix(medium_rows)
    with tempfile.TemporaryDirectory(prefix="alrank-load-") as logs:
        with running_server(Path(logs), settings) as server:
            traffic.wait_workers_accepting(server, workers)
            origin = perf_counter()
            memory = MemorySampler(server, origin).start()
            load = traffic.Traffic(server.port, templates, clients).start()
            try:
                sleep(seconds)
            finally:
                load.stop()
            elapsed = perf_counter() - origin
            memory.stop()
        log_tail = _log_problems(server.log_path)
    report: Report = {
        "figure": "load",
        "environment": environment(),
        "settings": {
            "seconds": seconds,
            "clients": clients,
            "workers": workers,
            "threads": threads,
            "warmup_s": warmup_s,
            "medium_rows": medium_rows,
            "max_requests": max_requests,
        },
        **_traffic_figures(load, elapsed, origin),
        "memory": memory_report(memory.samples, warmup_s),
    }
    report["failures_found"] = verdict(report)
    report["passed"] = not report["failures_found"]
    if not report["passed"]:
        report["server_log"] = log_tail
    return report


def _log_problems(path: Path) -> list[str]:
    """The server log's last warnings, errors and tracebacks."""
    lines = path.read_text(errors="replace").splitlines()
    marks = ("[WARNING]", "[ERROR]", "[CRITICAL]", "Traceback", "Error")
    return [text for text in lines if any(mark in text for mark in marks)][-LOG_LINES_SHOWN:]


def _traffic_figures(load: traffic.Traffic, elapsed: float, origin: float) -> Report:
    everything = load.outcomes + load.probes
    failed = traffic.failed(everything)
    return {
        "elapsed_s": round(elapsed, 2),
        "requests": len(load.outcomes),
        "throughput_rps": round(len(load.outcomes) / elapsed, 1),
        "rankings_per_s": round(sum(o.expected == 200 for o in load.outcomes) / elapsed, 1),
        "kinds": traffic.by_kind(load.outcomes),
        "health": {
            "kinds": traffic.by_kind(load.probes),
            "max_latency_ms": traffic.latency_ms(o.seconds for o in load.probes).get("max"),
        },
        **traffic.failure_counts(everything),
        "stale_connections_reopened": sum(o.dropped for o in everything),
        "with_request_id": sum(o.request_id for o in everything),
        "retry_after_seen": traffic.retry_after_values(everything),
        "failed_requests": len(failed),
        "failures_shown": [o.describe(origin) for o in failed[:FAILURES_SHOWN]],
    }


def verdict(report: Report) -> list[str]:
    """Why the run fails; empty when it passes."""
    reasons = []
    for key in ("server_errors", "unexpected_statuses", "connection_errors", "wrong_answers"):
        if report[key]:
            reasons.append(f"{report[key]} {key.replace('_', ' ')}")
    if not report["requests"]:
        reasons.append("no request was sent")
    memory = report["memory"]
    if memory["workers_replaced"] and not report["settings"]["max_requests"]:
        reasons.append("a worker was replaced while recycling was off")
    if not memory["stable"]:
        reasons.append(
            f"worker memory grew {memory['growth_mib']} MiB ({memory['growth_pct']}%) after warm-up"
        )
    return reasons


def print_report(report: Report) -> None:
    """The figures as a few plain tables."""
    settings = report["settings"]

    print(
        f"load: {settings['clients']} clients, {settings['workers']} workers, "
        f"{report['elapsed_s']} s, {report['requests']} requests, "
        f"{report['throughput_rps']} req/s ({report['rankings_per_s']} rankings/s)"
    )
    print()
    _print_kinds(report["kinds"])
    print()
    _print_kinds(report["health"]["kinds"])
    print(f"health probe max latency: {report['health']['max_latency_ms']} ms")
    print()
    print(
        f"5xx: {report['server_errors']}  unexpected statuses: {report['unexpected_statuses']}  "
        f"connection errors: {report['connection_errors']}  "
        f"wrong answers: {report['wrong_answers']}"
    )
    print(
        f"Retry-After seen: {report['retry_after_seen'] or 'never'}  "
        f"stale keep-alive connections reopened: {report['stale_connections_reopened']}  "
        f"answers with X-Request-ID: {report['with_request_id']}"
    )
    for failure in report["failures_shown"]:
        print(f"  {traffic.summary_line(failure)}")
    memory = report["memory"]
    print()
    print(
        f"worker RSS (sum): {memory['warm_mib']} MiB at {memory['warm_at_s']} s (warm-up end), "
        f"{memory['end_mib']} MiB at the end, {memory['max_mib']} MiB at most; "
        f"growth {memory['growth_mib']} MiB ({memory['growth_pct']}%), "
        f"{memory['second_half_growth_mib']} MiB of it in the second half"
    )
    for pid, figures in memory["per_worker"].items():
        print(
            f"  worker {pid}: {figures['warm_mib']} -> {figures['end_mib']} MiB "
            f"(max {figures['max_mib']})"
        )
    if memory["workers_replaced"]:
        print("  (workers were replaced during the run: the sums compare different processes)")
    print(f"memory {'stable' if memory['stable'] else 'NOT stable'}: {memory['rule']}")
    print()
    if report["passed"]:
        print("PASS")
    else:
        print("FAIL: " + "; ".join(report["failures_found"]))
        for text in report.get("server_log", []):
            print(f"  log: {text}")


def _print_kinds(kinds: Mapping[str, Mapping[str, Any]]) -> None:
    quantiles = " ".join(f"{name:>7}" for name in ("p50 ms", "p95", "p99", "max"))
    print(f"{'kind':<18} {'want':>4} {'requests':>8}  {quantiles}  statuses")
    for kind, row in kinds.items():
        latency = row["latency_ms"]
        cells = " ".join(
            f"{latency.get(key, float('nan')):7.1f}" for key in ("p50", "p95", "p99", "max")
        )
        statuses = ", ".join(f"{status}: {count}" for status, count in row["statuses"].items())
        print(f"{kind:<18} {row['expected']:>4} {row['requests']:>8}  {cells}  {statuses}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.load",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--seconds", type=float, default=60.0, help="load duration (60)")
    parser.add_argument("--clients", type=int, help="client threads (2 x workers)")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers (2)")
    parser.add_argument("--threads", type=int, help="threads per worker (gunicorn.conf.py's)")
    parser.add_argument("--warmup", type=float, default=WARMUP_S, help="warm-up seconds (10)")
    parser.add_argument("--medium-rows", type=int, default=200_000, help=".npy pool rows")
    parser.add_argument(
        "--max-requests", type=int, default=0, help="recycle workers after this many (0: never)"
    )
    parser.add_argument("--results-dir", type=Path, default=RESULTS_DIR)
    args = parser.parse_args(argv)
    if args.warmup >= args.seconds:
        parser.error("--warmup must be shorter than --seconds")
    report = run(
        args.seconds,
        args.clients,
        args.workers,
        warmup_s=args.warmup,
        medium_rows=args.medium_rows,
        max_requests=args.max_requests,
        threads=args.threads,
    )
    print_report(report)
    print(f"wrote {save(report, args.results_dir)}")
    return 0 if report["passed"] else 1


if __name__ == "__main__":
    sys.exit(main())
