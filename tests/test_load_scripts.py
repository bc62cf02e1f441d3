"""The load and fault scripts on a tiny scale against a real gunicorn, and their judging logic.

These keep bench/load.py and bench/faults.py working; they assert the
reports' structure and verdicts, never how fast anything was.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from bench import faults, load, traffic

MiB = 1 << 20


# ---------------------------------------------------------------- judging, without a server


def outcome(status: int | None, expected: int = 200, problem: str | None = None, start: float = 0):
    return traffic.Outcome("kind", expected, start, start + 0.01, status, problem=problem)


def test_failure_counts_tell_5xx_unexpected_broken_and_wrong_apart():
    outcomes = [
        outcome(200),
        outcome(422, expected=422),
        outcome(503),
        outcome(200, expected=422),
        outcome(None),
        outcome(200, problem="differs"),
    ]
    assert [o.failure for o in outcomes] == [
        None,
        None,
        "server_error",
        "unexpected_status",
        "connection_error",
        "wrong_answer",
    ]
    assert traffic.failure_counts(outcomes) == {
        "server_errors": 1,
        "unexpected_statuses": 2,
        "connection_errors": 1,
        "wrong_answers": 1,
    }


def test_top_k_check_accepts_the_best_items_and_names_a_wrong_one():
    scores = np.array([0.1, 0.9, 0.5, 0.7])
    check = traffic.TopK.of(scores, 2)
    assert check({"pool_size": 4, "indices": [1, 3], "scores": [0.9, 0.7]}) is None
    assert "item 2" in check({"pool_size": 4, "indices": [1, 2], "scores": [0.9, 0.5]})
    assert "scores differ" in check({"pool_size": 4, "indices": [1, 3], "scores": [0.9, 0.6]})
    assert "2 indices (1 distinct)" in check({"pool_size": 4, "indices": [1, 1], "scores": [1, 1]})


def test_numpy_reference_scores():
    probs = np.array([[0.7, 0.2, 0.1], [0.4, 0.35, 0.25]], dtype=np.float32)
    assert traffic.reference_scores("least_confidence", probs) == pytest.approx([0.3, 0.6])
    assert traffic.reference_scores("margin", probs) == pytest.approx([0.5, 0.95])
    entropy = -(probs * np.log(probs)).sum(axis=1)
    assert traffic.reference_scores("entropy", probs) == pytest.approx(entropy, rel=1e-6)


def test_same_answer_check_flags_a_different_answer():
    check = traffic.SameAnswer(pool_size=3, budget=2)
    first = {"pool_size": 3, "indices": [2, 0], "scores": [0.9, 0.5]}
    assert check(first) is None
    assert check(dict(first)) is None
    assert check(first | {"indices": [0, 2]}) == "differs from the first answer to the same request"
    assert "pool_size" in check(first | {"pool_size": 4})


def samples(*totals_mib: float) -> list[tuple[float, dict[int, int]]]:
    """One sample a second of two workers sharing each total equally."""
    return [
        (float(t), {1: int(m * MiB) // 2, 2: int(m * MiB) // 2}) for t, m in enumerate(totals_mib)
    ]


def test_memory_is_judged_from_warm_up_end_to_the_end():
    # Growth before warm-up end (at 2 s) does not count; 8 MiB of 200 after it is stable.
    stable = load.memory_report(samples(100, 150, 200, 204, 208), warmup_s=2)
    assert (stable["warm_mib"], stable["end_mib"], stable["growth_mib"]) == (200, 208, 8)
    assert stable["growth_pct"] == pytest.approx(4.0)
    assert stable["second_half_growth_mib"] == 4
    assert stable["stable"]
    assert not stable["workers_replaced"]
    # More than 50 MiB and more than 10%: not stable; the most after warm-up is kept.
    growing = load.memory_report(samples(100, 200, 330, 320), warmup_s=1)
    assert (growing["growth_mib"], growing["max_mib"]) == (120, 330)
    assert not growing["stable"]
    # Past 10% but under 50 MiB is stable.
    assert load.memory_report(samples(100, 100, 140), warmup_s=1)["stable"]


def test_access_log_reads_only_complete_new_lines(tmp_path: Path):
    access = faults.AccessLog(tmp_path / "access.log")
    assert access.read() == []
    access.path.write_text("pid=<11> 200\npid=<12> 503\npid=<1")
    assert access.read() == [11, 12]
    with access.path.open("a") as handle:
        handle.write("3> 200\n")
    assert access.read() == [13]
    assert access.pids == [11, 12, 13]


# ---------------------------------------------------------------- the scripts on a real gunicorn


def test_load_script_passes_on_a_short_run(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    args = ["--seconds", "3", "--warmup", "1", "--clients", "2", "--medium-rows", "20000"]
    assert load.main([*args, "--results-dir", str(tmp_path)]) == 0
    printed = capsys.readouterr().out
    assert "PASS" in printed
    assert "memory stable" in printed
    report = json.loads((tmp_path / "load.json").read_text())
    assert report["passed"]
    assert report["failures_found"] == []
    assert report["settings"]["clients"] == 2
    assert report["settings"]["workers"] == 2
    # Every kind of the mix was sent and got what it must; the bad ones their 4xx.
    kinds = report["kinds"]
    templates = traffic.request_mix(20_000)
    assert set(kinds) == {template.kind for template in templates}
    for kind, row in kinds.items():
        assert row["statuses"] == {str(row["expected"]): row["requests"]}, kind
        assert set(row["latency_ms"]) == {"p50", "p95", "p99", "max"}
    assert {row["expected"] for row in kinds.values()} == {200, 400, 415, 422}
    assert report["requests"] == sum(row["requests"] for row in kinds.values())
    assert set(report["health"]["kinds"]) == {"healthz", "readyz"}
    assert report["health"]["max_latency_ms"] > 0
    for key in ("server_errors", "unexpected_statuses", "connection_errors", "wrong_answers"):
        assert report[key] == 0
    memory = report["memory"]
    assert len(memory["per_worker"]) == 2
    assert memory["warm_mib"] > 0
    assert memory["max_mib"] >= memory["end_mib"]
    assert len(memory["samples"]) >= 3


def test_kill_scenario_recovers_with_no_failure_after(tmp_path: Path):
    args = ["kill", "--before", "2", "--after", "2", "--clients", "2", "--medium-rows", "20000"]
    assert faults.main([*args, "--results-dir", str(tmp_path)]) == 0
    report = json.loads((tmp_path / "faults.json").read_text())
    assert "drain" not in report
    kill = report["kill"]
    assert kill["passed"]
    assert kill["failed_before_kill"] == 0
    assert kill["failed_after_recovery"] == 0
    assert kill["replacement_worker"] not in (None, kill["killed_worker"])
    assert kill["killed_worker"] not in kill["workers_at_end"]
    assert kill["replacement_worker"] in kill["workers_at_end"]
    assert len(kill["workers_at_end"]) == 2
    assert 0 < kill["replacement_started_s"] <= kill["recovery_s"]
    assert kill["requests_after_recovery"] > 0
    assert len(kill["failures_shown"]) == min(kill["failed_around_kill"], faults.FAILURES_SHOWN)


@pytest.fixture(scope="module")
def drained() -> faults.Report:
    """A 40 MB pool streamed over 2 s, the master stopped half a second in."""
    return faults.drain_scenario(rows=1_000_000, stream_s=2.0, term_after_s=0.5)


def test_sigterm_lets_the_in_flight_ranking_finish(drained: faults.Report):
    assert 0 < drained["sent_at_term_pct"] < 100
    assert drained["status"] == 200
    assert drained["answer_checked"]
    assert 0 < drained["drain_s"] <= drained["master_exit_s"]
    assert drained["master_exit_s"] < drained["settings"]["graceful_timeout_s"]
    assert drained["master_exit_code"] == 0
    assert drained["new_connections"]


def test_new_connections_are_refused_once_the_stop_begins(drained: faults.Report):
    assert {attempt["got"] for attempt in drained["new_connections"]} == {"refused"}
    assert drained["passed"]
