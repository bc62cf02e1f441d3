"""bench/strategy_peers.py on tiny pools: the report's shape and its agreement figures.

Timings here mean nothing; the figures are measured by running the bench. Our
side runs everywhere; a peer's rows are checked only where it is installed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from bench import strategy_peers
from bench.__main__ import FIGURES
from bench.strategy_peers import Picks

SCALE = 0.02
KEYS = {"strategy", "ours_call", "peer", "call", "pool", "ours_s", "note", "status"}
PEERS = {
    "baal": "baal",
    "modAL-python": "modAL",
    "small-text": "small_text",
    "scikit-activeml": "skactiveml",
}


@pytest.fixture(scope="module")
def figure() -> dict[str, Any]:
    return strategy_peers.measure(scale=SCALE, repeats=1)


def test_every_case_has_a_row_with_our_time(figure: dict[str, Any]) -> None:
    sizes = strategy_peers.Sizes.at(SCALE)
    _, cases = strategy_peers.all_cases(sizes, strategy_peers.Arrays.make(sizes))
    assert [row["call"] for row in figure["rows"]] == [case.call for case in cases]
    for row in figure["rows"]:
        assert set(row) >= KEYS
        assert row["ours_s"] > 0
        assert row["status"] in {"ok", "unavailable"}, row.get("error")
    assert set(figure["versions"]) == set(PEERS)


def test_agreement_figures_are_shares(figure: dict[str, Any]) -> None:
    for row in (row for row in figure["rows"] if row["status"] == "ok"):
        assert 0.0 <= row["overlap"] <= 1.0
        assert row["peer_s"] > 0
        assert row["ratio"] == pytest.approx(row["peer_s"] / row["ours_s"])
        assert row["same_sequence"] in {None, True, False}
        if row["same_first"] is not None:
            assert row["same_first"] >= 0
        assert all(np.isfinite(value) for value in row["extra"].values())


@pytest.mark.parametrize(("distribution", "module"), PEERS.items())
def test_an_installed_peer_runs_every_case(
    figure: dict[str, Any], distribution: str, module: str
) -> None:
    pytest.importorskip(module)
    rows = [row for row in figure["rows"] if row["peer"] == distribution]
    assert rows
    assert all(row["status"] == "ok" for row in rows), [row.get("error") for row in rows]


def test_agreement_counts_shared_picks_and_the_common_start() -> None:
    ours = np.array([4, 7, 1])
    same = strategy_peers.agreement(ours, Picks(np.array([1, 4, 7]), np.array([4, 7, 1])))
    assert same == {"overlap": 1.0, "same_sequence": True, "same_first": 3}
    apart = strategy_peers.agreement(ours, Picks(np.array([4, 1, 9]), np.array([4, 1, 9])))
    assert apart == {"overlap": pytest.approx(2 / 3), "same_sequence": False, "same_first": 1}
    unordered = strategy_peers.agreement(ours, Picks(np.array([9, 8, 7]), None))
    assert unordered == {"overlap": pytest.approx(1 / 3), "same_sequence": None, "same_first": None}


def test_report_lists_every_row_and_its_reason(figure: dict[str, Any], tmp_path: Path) -> None:
    path = strategy_peers.write(figure, tmp_path)
    text = path.read_text(encoding="utf-8")
    assert path.name == "strategy_peers.md"
    assert f"--scale {SCALE:g}" in text
    table = [line for line in text.splitlines() if line.startswith("| ")]
    assert len(table) == 1 + len(figure["rows"])
    for row in figure["rows"]:
        assert f"`{row['call']}`" in text
        assert row["note"] in text


def test_bench_registers_the_figure() -> None:
    assert FIGURES["strategy_peers"] is strategy_peers.run
