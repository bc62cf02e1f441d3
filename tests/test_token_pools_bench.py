"""bench/token_pools.py on its quick pool: the report's structure, and the
service's picks against a slow reference.

Timings here mean nothing and are never checked; the figures come from
running the bench. The baal comparison runs only where baal is installed.
"""

from __future__ import annotations

import json
import math
from importlib import util
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from bench import token_pools
from bench.__main__ import FIGURES
from tests.ranking import reference

PATH_KEYS = {"strategy", "aggregate", "target_x_read", "met", "forms_agree"}
PATH_KEYS |= {f"{form}_{field}" for form in token_pools.FORMS for field in ("ms", "x_read")}
MEMORY_FORMS = [
    "flat, streamed",
    "flat, streamed",
    "flat, streamed",
    "flat, in memory",
    "padded, in memory",
    "padded, streamed",
]
REDUCERS = {"max": max, "sum": math.fsum, "mean": lambda values: math.fsum(values) / len(values)}


def neg_log_confidence(row: list[float]) -> float:
    return -math.log(max(row))


TOKEN_SCORERS = {**reference.SCORERS, "mnlp": neg_log_confidence}


@pytest.fixture(scope="module")
def figure() -> dict[str, Any]:
    return token_pools.measure(quick=True, python=None)


@pytest.fixture(scope="module")
def forms() -> token_pools.Forms:
    return token_pools.Forms.of(token_pools.make_pool(*token_pools.sizes(quick=True)))


def slow_picks(pool: token_pools.TokenPool, strategy: str, how: str | None) -> list[int]:
    """Each token scored in Python floats, each sequence's scores reduced, the top K."""
    token_scores = [TOKEN_SCORERS[strategy](row) for row in pool.tokens.tolist()]
    reduce = REDUCERS["mean" if how is None else how]
    scores, start = [], 0
    for length in pool.lengths.tolist():
        scores.append(reduce(token_scores[start : start + length]))
        start += length
    return reference.top_k(scores, token_pools.K)


def test_the_quick_pool_adds_up() -> None:
    pool = token_pools.make_pool(*token_pools.sizes(quick=True))
    assert pool.tokens.shape == (token_pools.QUICK_TOKENS, token_pools.CLASSES)
    assert pool.tokens.dtype == np.float32
    assert pool.lengths.shape == (token_pools.QUICK_SEQUENCES,)
    assert int(pool.lengths.sum()) == token_pools.QUICK_TOKENS
    assert 1 <= pool.lengths.min() <= pool.lengths.max() <= token_pools.LONGEST
    np.testing.assert_allclose(pool.tokens.sum(axis=1), 1, atol=1e-5)
    again = token_pools.make_pool(*token_pools.sizes(quick=True))
    np.testing.assert_array_equal(again.tokens, pool.tokens)
    np.testing.assert_array_equal(again.lengths, pool.lengths)


def test_the_padded_form_holds_the_tokens_then_one_hot_rows(forms: token_pools.Forms) -> None:
    pool, padded = forms.pool, forms.padded
    assert padded.shape == (pool.lengths.shape[0], pool.longest, token_pools.CLASSES)
    real = np.arange(pool.longest) < pool.lengths[:, None]
    np.testing.assert_array_equal(padded[real], pool.tokens)
    one_hot = np.zeros(token_pools.CLASSES, np.float32)
    one_hot[0] = 1
    assert (padded[~real] == one_hot).all()


def test_baals_layout_puts_classes_second_and_one_iteration_last(forms: token_pools.Forms) -> None:
    layout = token_pools.baal_layout(forms.padded)
    n, longest, c = forms.padded.shape
    assert layout.shape == (n, c, longest, 1)
    assert layout.flags.c_contiguous
    np.testing.assert_array_equal(layout[..., 0], forms.padded.transpose(0, 2, 1))


@pytest.mark.parametrize(("strategy", "how"), token_pools.CASES)
def test_the_services_picks_equal_a_slow_reference(
    forms: token_pools.Forms, strategy: str, how: str | None
) -> None:
    expected = slow_picks(forms.pool, strategy, how)
    for form in token_pools.FORMS:
        picks = forms.rank(form, strategy, how).indices
        assert picks.tolist() == expected, form


def test_every_case_has_a_row_with_its_target(figure: dict[str, Any]) -> None:
    assert figure["figure"] == "token_pools"
    assert figure["quick"] is True
    rows = figure["rows"]
    assert [(row["strategy"], row["aggregate"]) for row in rows] == [
        (strategy, how or "mean (fixed)") for strategy, how in token_pools.CASES
    ]
    for row in rows:
        assert set(row) >= PATH_KEYS
        assert row["target_x_read"] == token_pools.TARGETS.get(row["strategy"])
        assert row["met"] in ({None} if row["target_x_read"] is None else {True, False})
        assert row["forms_agree"] is True
        assert all(row[f"{form}_ms"] > 0 for form in token_pools.FORMS)
    floor = figure["floor"]
    assert floor["read_ms"] > 0
    assert floor["tokens_mib"] == pytest.approx(token_pools.QUICK_TOKENS * 10 * 4 / 2**20)
    assert "SIMD" in figure["simd"]


def test_memory_rows_cover_each_form_with_the_array_sizes(figure: dict[str, Any]) -> None:
    rows = figure["memory"]
    assert [row["form"] for row in rows] == MEMORY_FORMS
    streamed_tokens = [row["tokens"] for row in rows[:3]]
    assert streamed_tokens == [token_pools.QUICK_TOKENS // 10] * 2 + [token_pools.QUICK_TOKENS]
    for row in rows:
        assert row["peak_mib"] > 0
        assert row["tokens_mib"] == pytest.approx(row["tokens"] * 10 * 4 / 2**20)
        if row["form"].startswith("padded"):
            n, longest, c = row["array_shape"]
            assert (n, c) == (token_pools.QUICK_SEQUENCES, token_pools.CLASSES)
            assert row["array_mib"] == pytest.approx(n * longest * c * 4 / 2**20)
    assert set(figure["memory_verdicts"]) == {
        "streamed_growth_mib",
        "streamed_token_growth_mib",
        "flat_in_tokens",
        "padding_not_copied",
    }


def test_the_report_has_its_tables_pool_cpu_and_command(
    figure: dict[str, Any], tmp_path: Path
) -> None:
    path = token_pools.write(figure, tmp_path)
    text = path.read_text(encoding="utf-8")
    assert path.name == "token_pools.md"
    assert "python -m bench.token_pools --quick" in text
    assert figure["pool"] in text
    assert f"CPU: {figure['environment']['cpu']}" in text
    assert figure["simd"] in text
    for heading in ("## Full path", "## Memory", "## Beside baal"):
        assert heading in text
    for strategy, how in token_pools.CASES:
        assert f"| {strategy} | {how or 'mean (fixed)'} |" in text
    json.dumps(figure)


def test_the_registry_runs_it_as_tokens() -> None:
    assert FIGURES["tokens"] is token_pools.run


def test_without_baal_the_peer_part_says_so(figure: dict[str, Any]) -> None:
    if util.find_spec("baal") is not None:
        pytest.skip("baal is installed here: its figures are checked by the next test")
    assert figure["peer"]["status"] == "unavailable"
    assert "baal" in figure["peer"]["error"]


def test_baal_picks_as_ours_for_sum_and_max_not_for_its_mean(figure: dict[str, Any]) -> None:
    pytest.importorskip(
        "baal", reason="baal comes with .[bench] (or the peer venv), not with .[test]"
    )
    peer = figure["peer"]
    assert peer["status"] == "ok", peer.get("error")
    rows = {(row["strategy"], row["aggregate"]): row for row in peer["rows"]}
    assert set(rows) == {(s, how) for s, how in token_pools.CASES if how is not None}
    for (_, how), row in rows.items():
        assert row["k"] == token_pools.K
        if how == "mean":
            assert row["overlap"] < row["k"]
            assert row["overlap_with_our_sum"] == row["k"]
        else:
            assert row["agreement"] in {"identical", "same up to ties"}
