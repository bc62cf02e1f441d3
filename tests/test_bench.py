"""The benchmark code on tiny pools: every figure yields its rows, the report renders.

Timings here mean nothing; these tests keep the bench code working.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from bench import agreement, core, report, results, samples, selections, transports
from bench.peers import figure as peers_figure
from bench.peers.base import Peer, PeerCase
from bench.plots import write_plots
from bench.service_path import pointwise_strategies
from bench.timing import Budget, best_time

ONCE = Budget(min_repeats=1, max_repeats=1, min_seconds=0.0, max_seconds=0.0)
N = 1_000


@pytest.fixture(scope="module")
def figures() -> dict[str, results.Figure]:
    """Every figure measured once on tiny pools; peers replaced by stand-ins."""
    tiny_sizes = {"json": (N,), "npy": (N,), "multipart": (N,)}
    return {
        "core": core.run([(N, 2, np.float32), (N, 10, np.float32)], ONCE, ONCE),
        "samples": samples.run((N, 3, 4), ONCE, ONCE),
        "selections": selections.run((N, 10), budget=ONCE, floor_budget=ONCE),
        "transports": transports.run(tiny_sizes, [("npy", N)], ONCE, ONCE),
        "peers": peers_figure.run((N, 2 * N), (), STAND_IN_PEERS, ONCE, ONCE, ONCE),
    }


def _least_confident_first(pool: np.ndarray, k: int) -> np.ndarray:
    return np.argsort(pool.max(axis=1), kind="stable")[:k]


def _broken_load() -> list[PeerCase]:
    raise ImportError("not installed")


def _failing_select(pool: np.ndarray, k: int) -> np.ndarray:
    raise RuntimeError("peer bug")


STAND_IN_PEERS = (
    Peer(
        "stand-in",
        "numpy",
        lambda: [
            PeerCase("least_confidence", "stand_in.least_confident", _least_confident_first),
            PeerCase("entropy", "stand_in.failing", _failing_select),
        ],
    ),
    Peer("broken", "numpy", _broken_load),
)


def test_core_has_a_row_per_strategy_and_array(figures: dict[str, results.Figure]) -> None:
    rows = figures["core"]["rows"]
    names = [strategy.name for strategy in pointwise_strategies("probabilities")]
    assert {"least_confidence", "margin", "ratio", "entropy"} <= set(names)
    assert [(row["strategy"], row["c"]) for row in rows] == [
        (name, c) for c in (2, 10) for name in names
    ]
    for row in rows:
        assert row["n"] == N
        assert row["dtype"] == "float32"
        for key in ("scoring_x_read", "scoring_x_copy", "full_x_read", "full_x_copy"):
            assert np.isfinite(row[key])
            assert row[key] > 0


def test_core_skips_arrays_that_do_not_fit() -> None:
    figure = core.run([(10**12, 100, np.float32)], ONCE, ONCE)
    assert figure["rows"] == []
    assert "skipped" in figure["notes"][0]


def test_samples_has_a_row_per_samples_strategy(figures: dict[str, results.Figure]) -> None:
    rows = figures["samples"]["rows"]
    expected = [strategy.name for strategy in pointwise_strategies("samples", form="samples")]
    assert "bald" in expected
    assert [row["strategy"] for row in rows] == expected
    assert all((row["n"], row["t"], row["c"]) == (N, 3, 4) for row in rows)


def test_selections_cover_every_method(figures: dict[str, results.Figure]) -> None:
    rows = figures["selections"]["rows"]
    assert [row["selection"] for row in rows] == ["top", "power", "softmax", "softrank"]
    assert rows[0]["x_top"] == 1.0


def test_transports_answer_like_the_core(figures: dict[str, results.Figure]) -> None:
    figure = figures["transports"]
    assert [row["transport"] for row in figure["rows"]] == ["json", "npy", "multipart"]
    assert all(row["agreement"] == "identical" for row in figure["rows"])
    (rss,) = figure["rss"]
    assert rss["transport"] == "npy"
    assert rss["peak_after_mb"] >= rss["peak_before_mb"] > 0


def test_peers_are_isolated_and_compared(figures: dict[str, results.Figure]) -> None:
    figure = figures["peers"]
    assert [(entry["peer"], entry["status"]) for entry in figure["peers"]] == [
        ("stand-in", "loaded"),
        ("broken", "unavailable"),
    ]
    rows = figure["rows"]
    assert [(row["strategy"], row["n"], row["status"]) for row in rows] == [
        ("least_confidence", N, "ok"),
        ("entropy", N, "error"),
        ("least_confidence", 2 * N, "ok"),
        ("entropy", 2 * N, "error"),
    ]
    assert all(row["agreement"] == "identical" for row in rows if row["status"] == "ok")
    assert "peer bug" in rows[1]["error"]


def test_report_renders_every_section(figures: dict[str, results.Figure], tmp_path: Path) -> None:
    for figure in figures.values():
        results.save(figure, tmp_path)
    loaded = results.load_all(tmp_path)
    assert json.loads((tmp_path / "core.json").read_text())["rows"] == figures["core"]["rows"]
    plots = write_plots(loaded, tmp_path)
    text = report.write(loaded, plots, tmp_path).read_text()
    for heading in ("## Core", "## Samples", "## Selections", "## Transports", "## Peers"):
        assert heading in text
    assert "No peer offers a matching selection for" in text
    for name in plots:
        assert (tmp_path / name).stat().st_size > 0


def test_agreement_allows_ties_at_the_cut() -> None:
    scores = np.array([0.9, 0.5, 0.5, 0.1])
    ours = np.array([0, 1])
    assert agreement.compare(np.array([1, 0]), ours, scores)["agreement"] == "identical"
    assert agreement.compare(np.array([0, 2]), ours, scores)["agreement"] == "same up to ties"
    differs = agreement.compare(np.array([0, 3]), ours, scores)
    assert (differs["agreement"], differs["overlap"]) == ("differs", 1)


def test_best_time_keeps_the_fastest_run() -> None:
    calls = []
    seconds = best_time(lambda: calls.append(1), Budget(min_repeats=4, min_seconds=0.0))
    assert len(calls) == 4
    assert seconds >= 0


def test_bench_imports_without_plotting_or_peer_libraries() -> None:
    code = (
        "import sys, bench.__main__\n"
        "heavy = {'matplotlib', 'torch', 'modAL', 'small_text', 'baal', 'skactiveml'}\n"
        "print(sorted(heavy & set(sys.modules)))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert done.stdout.strip() == "[]"
