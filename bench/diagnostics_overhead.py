"""What the pool diagnostics cost: the full path with and without them, in one run.

``python -m bench diagnostics`` (one BLAS thread) times ``service.jobs.rank``'s
path, planning included, on a 1,000,000 x 10 float32 probability pool (seeded
Dirichlet rows, synthetic), once as it runs and once with the plan's
diagnostics switched off, in interleaved rounds (bench/timing.py), and a
token pool of as many tokens in 50,000 sentences. The target: at most 5% of
the full path.
"""

from __future__ import annotations

from dataclasses import replace
from functools import partial
from pathlib import Path

import numpy as np

from bench.floor import READ, floor_calls
from bench.results import RESULTS_DIR, Figure, new_figure, progress
from bench.timing import Budget, best_times
from service.decoding.sources import ArraySource, PoolSource
from service.jobs import RankLimits, RankRequest
from service.jobs.planner import plan_job
from service.ranking.chunks import DEFAULT_CHUNK_BYTES
from service.ranking.inputs import INPUT_KINDS, LENGTHS
from service.ranking.pipeline import Ranking, rank_pool
from service.ranking.registry import get_strategy

ROWS, CLASSES = 1_000_000, 10
SEQUENCES = 50_000
SEED = 0
BUDGET = 100
TARGET = 1.05
CASES = (
    ("probabilities", "least_confidence"),
    ("probabilities", "margin"),
    ("probabilities", "entropy"),
    ("token_probabilities", "least_confidence"),
    ("token_probabilities", "entropy"),
)
TIMING = Budget(min_repeats=12, max_repeats=60, min_seconds=6.0)


def pools() -> dict[str, dict[str, np.ndarray]]:
    """The arrays of each input kind, by role."""
    rng = np.random.default_rng(SEED)
    rows = rng.dirichlet(np.ones(CLASSES), size=ROWS).astype(np.float32)
    lengths = rng.multinomial(ROWS - SEQUENCES, np.full(SEQUENCES, 1 / SEQUENCES)) + 1
    return {
        "probabilities": {"probabilities": rows},
        "token_probabilities": {"token_probabilities": rows, LENGTHS.name: lengths},
    }


def ranking(arrays: dict[str, np.ndarray], strategy: str, diagnostics: bool) -> Ranking:
    """The entry point's path (plan, chunks, rank_pool), its diagnostics on or off."""
    sources: dict[str, PoolSource] = {
        role: ArraySource(array, name=role) for role, array in arrays.items()
    }
    request = RankRequest(strategy, BUDGET, arrays=sources, seed=SEED)
    job = plan_job(
        request, get_strategy(strategy), sources, {}, kinds=INPUT_KINDS, limits=RankLimits()
    )
    plan = job.plan if diagnostics else replace(job.plan, diagnostics=None)
    return rank_pool(job.chunks(DEFAULT_CHUNK_BYTES), {}, pool_size=job.pool_size, plan=plan)


def run(directory: Path = RESULTS_DIR) -> Figure:
    """Measure, write diagnostics.md in ``directory``, return the figure."""
    figure = measure()
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "diagnostics.md"
    path.write_text(render(figure), encoding="utf-8")
    progress(f"wrote {path}")
    return figure


def measure() -> Figure:
    """Time every case with and without its diagnostics."""
    figure = new_figure("diagnostics")
    figure["target"] = f"with diagnostics / without at most {TARGET}x"
    for kind, arrays in pools().items():
        calls = floor_calls(next(iter(arrays.values())))
        for input_kind, strategy in CASES:
            if input_kind != kind:
                continue
            for on in (True, False):
                calls[f"{strategy} {on}"] = partial(ranking, arrays, strategy, on)
        progress(f"diagnostics: timing {kind}")
        times = best_times(calls, TIMING)
        for input_kind, strategy in CASES:
            if input_kind != kind:
                continue
            with_s, without_s = times[f"{strategy} True"], times[f"{strategy} False"]
            same = ranking(arrays, strategy, True).indices.tolist() == (
                ranking(arrays, strategy, False).indices.tolist()
            )
            figure["rows"].append(
                {
                    "input": kind,
                    "strategy": strategy,
                    "with_ms": with_s * 1e3,
                    "without_ms": without_s * 1e3,
                    "ratio": with_s / without_s,
                    "with_x_read": with_s / times[READ],
                    "met": with_s / without_s <= TARGET,
                    "same_picks": same,
                }
            )
    return figure


def render(figure: Figure) -> str:
    env = figure["environment"]
    lines = [
        "# Pool diagnostics: their cost on the full path",
        "",
        "Written by `OPENBLAS_NUM_THREADS=1 python -m bench diagnostics` "
        "(bench/diagnostics_overhead.py).",
        "",
        f"- Pools: {ROWS:,} x {CLASSES} float32 seeded Dirichlet rows (synthetic); the same "
        f"rows as tokens of {SEQUENCES:,} sentences.",
        f"- CPU: {env['cpu']} ({env['cores']} cores); measured {env['date']} at commit "
        f"{env['commit']}.",
        f"- Target: {figure['target']}. Best of interleaved rounds each.",
        "",
        "| input | strategy | with ms | without ms | with / without | met? | with x read pass "
        "| same picks |",
        "| --- | --- | ---: | ---: | ---: | --- | ---: | --- |",
    ]
    for row in figure["rows"]:
        lines.append(
            f"| {row['input']} | {row['strategy']} | {row['with_ms']:.1f} | "
            f"{row['without_ms']:.1f} | {row['ratio']:.3f}x | {'yes' if row['met'] else 'no'} | "
            f"{row['with_x_read']:.2f}x | {'yes' if row['same_picks'] else 'no'} |"
        )
    return "\n".join(lines) + "\n"
