"""Figure "token_pools": pointwise strategies on token-level pools (sequence labeling).

    OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 .venv/bin/python -m bench tokens
    .venv/bin/python -m bench.token_pools [--quick] [--peer-python PATH] [--out DIR]

Writes bench/results/token_pools.md (``python -m bench tokens`` also saves
token_pools.json). The pool: 1e6 tokens x 10 classes, float32, in 50,000
sequences whose lengths are drawn uniformly from 1..39 and then moved by one
token at a time (seeded) until they add up to exactly 1e6; each token row is
a seeded Dirichlet(1, ..., 1) draw. ``--quick``: 20,000 tokens in 1,000
sequences, with a few repeats only, for the tests.

- Full path: ``service.jobs.rank`` (checks, per-token scores, aggregation,
  top-100) for least_confidence, margin and entropy with each aggregate, and
  mnlp, on the flat token array (lengths beside it) in memory, on the padded
  N x L_max x C array in memory, and on the flat array streamed as a .npy
  body; each time as a multiple of one read pass of the flat token array
  (``bench.floor``), all timed in interleaved rounds in this process.
- Memory: the peak traced by tracemalloc while ranking (numpy's buffers
  included), streamed flat at 1e5 and 1e6 tokens, and the padded array from
  memory and streamed, against the sizes of the arrays.
- baal: its heuristics on the same padded values, in baal's layout
  N x C x L_max x 1, beside our full path on the padded array, in one process
  (this one when baal imports here, else the interpreter ``--peer-python`` or
  BENCH_PEER_PYTHON names, run as ``-m bench.token_pools --peer-json``).
  Padding holds the one-hot row [1, 0, ..., 0] everywhere, so it adds no
  uncertainty under any of the three scores.
"""

from __future__ import annotations

import argparse
import importlib
import io
import json
import os
import subprocess
import sys
import tempfile
import warnings
from collections.abc import Callable, Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from functools import partial
from importlib import metadata, util
from pathlib import Path
from typing import Any

import numpy as np

from bench.agreement import compare
from bench.batch_strategies import _peak_mib as peak_mib
from bench.floor import FLOOR_BUDGET, floor_calls, floor_from, measure_floor, read_pass
from bench.results import RESULTS_DIR, ROOT, Figure, new_figure, progress
from bench.tables import count, ms, ratio, table
from bench.timing import DEFAULT_BUDGET, Budget, best_times
from service import jobs
from service.decoding.limits import ArrayLimits
from service.decoding.npy import NpyReader
from service.decoding.sources import ArraySource, PoolSource
from service.jobs import RankRequest
from service.ranking.pipeline import Ranking

TOKENS, SEQUENCES, CLASSES, LONGEST = 1_000_000, 50_000, 10, 39
QUICK_TOKENS, QUICK_SEQUENCES = 20_000, 1_000
# Memory pools as (tokens, sequences), as shares of the full pool: 1e5 tokens
# in 5,000 sequences (the same lengths) and in 50,000 (lengths 1..3).
MEMORY_POOLS = ((0.1, 0.1), (0.1, 1.0), (1.0, 1.0))
K = 100
SEED = 0
FIELD, LENGTHS = "token_probabilities", "lengths"
AGGREGATES = ("mean", "max", "sum")
SCORED = ("least_confidence", "margin", "entropy")
CASES: tuple[tuple[str, str | None], ...] = (
    *((strategy, how) for strategy in SCORED for how in AGGREGATES),
    ("mnlp", None),
)
TARGETS = {"least_confidence": 6.0, "margin": 6.0, "entropy": 8.0}
FORMS = ("flat", "padded", "streamed")
MEMORY_STRATEGY = ("entropy", "mean")
LIMITS = ArrayLimits(max_elements=10**10)
QUICK_BUDGET = Budget(min_repeats=1, max_repeats=2, min_seconds=0.0, max_seconds=0.05)
# baal's calls take up to half a second: enough rounds to ride out a busy machine.
PEER_BUDGET = Budget(min_repeats=5, max_repeats=50, min_seconds=1.5, max_seconds=10.0)
THREAD_VARIABLES = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS")
PEER_PYTHON_VARIABLE = "BENCH_PEER_PYTHON"
# baal's heuristic for each of our strategies, and its reduction for each of
# our aggregates. Certainty and Margin score confidence (sorted ascending), so
# our largest token uncertainty is their smallest token confidence: "min".
BAAL_HEURISTICS = {"least_confidence": "Certainty", "margin": "Margin", "entropy": "Entropy"}
BAAL_REDUCTIONS = {
    "least_confidence": {"mean": "mean", "max": "min", "sum": "sum"},
    "margin": {"mean": "mean", "max": "min", "sum": "sum"},
    "entropy": {"mean": "mean", "max": "max", "sum": "sum"},
}


@dataclass(frozen=True)
class TokenPool:
    """Token rows ``tokens`` (sum of lengths, c) float32 of sequences of ``lengths`` (n,)."""

    tokens: np.ndarray
    lengths: np.ndarray

    @property
    def longest(self) -> int:
        return int(self.lengths.max())

    def padded(self) -> np.ndarray:
        """The tokens as (n, l_max, c), each padding row the one-hot [1, 0, ..., 0]."""
        n, c = self.lengths.shape[0], self.tokens.shape[1]
        out = np.zeros((n, self.longest, c), self.tokens.dtype)
        out[..., 0] = 1
        out[np.arange(self.longest) < self.lengths[:, None]] = self.tokens
        return out

    def describe(self) -> str:
        n, c = self.lengths.shape[0], self.tokens.shape[1]
        return (
            f"{self.tokens.shape[0]:,} tokens x {c} classes, {self.tokens.dtype.name}, in "
            f"{n:,} sequences of {int(self.lengths.min())} to {self.longest} tokens "
            f"(mean {self.tokens.shape[0] / n:.1f})"
        )


def make_lengths(tokens: int, sequences: int, rng: np.random.Generator) -> np.ndarray:
    """Lengths (sequences,) drawn from 1..LONGEST, then moved one token at a time
    (on distinct random sequences per round) until they add up to ``tokens``."""
    if not sequences <= tokens <= sequences * LONGEST:
        raise ValueError(f"{tokens} tokens do not fit {sequences} sequences of 1..{LONGEST}")
    lengths = rng.integers(1, LONGEST + 1, size=sequences).astype(np.int64)
    while (gap := tokens - int(lengths.sum())) != 0:
        room = np.flatnonzero(lengths < LONGEST if gap > 0 else lengths > 1)
        moved = rng.choice(room, size=min(abs(gap), room.shape[0]), replace=False)
        lengths[moved] += 1 if gap > 0 else -1
    return lengths


def make_pool(tokens: int = TOKENS, sequences: int = SEQUENCES, seed: int = SEED) -> TokenPool:
    """A seeded pool: the lengths, then one Dirichlet(1, ..., 1) row per token."""
    rng = np.random.default_rng(seed)
    lengths = make_lengths(tokens, sequences, rng)
    rows = rng.dirichlet(np.ones(CLASSES), size=tokens).astype(np.float32)
    return TokenPool(rows, lengths)


# The service's entry point ------------------------------------------------------------


def label(strategy: str, how: str | None) -> str:
    return strategy if how is None else f"{strategy} ({how})"


def request(
    strategy: str, how: str | None, sources: Mapping[str, PoolSource], keep_all: bool = False
) -> RankRequest:
    params = {} if how is None else {"aggregate": how}
    return RankRequest(
        strategy, K, arrays=sources, params=params, seed=SEED, return_all_scores=keep_all
    )


def in_memory(tokens: np.ndarray, lengths: np.ndarray) -> dict[str, PoolSource]:
    return {
        FIELD: ArraySource(tokens, name=FIELD),
        LENGTHS: ArraySource(lengths, name=LENGTHS),
    }


def npy_bytes(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    return buffer.getvalue()


def streamed(bodies: Mapping[str, bytes]) -> dict[str, PoolSource]:
    """Fresh readers over in-memory .npy bodies (a reader is read once)."""
    return {
        name: NpyReader(io.BytesIO(body), name=name, limits=LIMITS) for name, body in bodies.items()
    }


def rank(
    strategy: str, how: str | None, sources: Mapping[str, PoolSource], keep_all: bool = False
) -> Ranking:
    """The full service path: ``service.jobs.rank``'s ranking."""
    return jobs.rank(request(strategy, how, sources, keep_all)).ranking


@dataclass(frozen=True)
class Forms:
    """One pool in each form the service takes: ``make`` builds a form's sources afresh."""

    pool: TokenPool
    padded: np.ndarray
    bodies: dict[str, bytes]

    @classmethod
    def of(cls, pool: TokenPool) -> Forms:
        bodies = {FIELD: npy_bytes(pool.tokens), LENGTHS: npy_bytes(pool.lengths)}
        return cls(pool, pool.padded(), bodies)

    def make(self, form: str) -> dict[str, PoolSource]:
        if form == "flat":
            return in_memory(self.pool.tokens, self.pool.lengths)
        if form == "padded":
            return in_memory(self.padded, self.pool.lengths)
        if form == "streamed":
            return streamed(self.bodies)
        raise ValueError(f"unknown form {form!r}")

    def rank(self, form: str, strategy: str, how: str | None, keep_all: bool = False) -> Ranking:
        return rank(strategy, how, self.make(form), keep_all)


# Full path against the read pass ------------------------------------------------------


def timing_calls(forms: Forms) -> dict[str, Callable[[], object]]:
    """The floor of the flat token array, the padded array's read pass, and
    every case in every form, by name."""
    calls = floor_calls(forms.pool.tokens)
    calls["padded read pass"] = partial(read_pass, forms.padded)
    for strategy, how in CASES:
        for form in FORMS:
            calls[f"{form} {label(strategy, how)}"] = partial(forms.rank, form, strategy, how)
    return calls


def forms_agree(forms: Forms, strategy: str, how: str | None) -> bool:
    """Whether the three forms pick the same items in the same order."""
    picks = [forms.rank(form, strategy, how).indices for form in FORMS]
    return all(np.array_equal(picks[0], other) for other in picks[1:])


def measure_paths(forms: Forms, budget: Budget, floor_budget: Budget) -> tuple[dict, list]:
    """(the floor in ms, one row per case)."""
    tokens = forms.pool.tokens
    floor = measure_floor(tokens, floor_budget)
    times = best_times(timing_calls(forms), budget)
    floor = floor.best(floor_from(times))
    floor_row = {
        "read_ms": floor.read_s * 1e3,
        "copy_ms": floor.copy_s * 1e3,
        "padded_read_ms": times["padded read pass"] * 1e3,
        "tokens_mib": tokens.nbytes / 2**20,
        "padded_mib": forms.padded.nbytes / 2**20,
    }
    rows = []
    for strategy, how in CASES:
        row: dict[str, Any] = {"strategy": strategy, "aggregate": how or "mean (fixed)"}
        for form in FORMS:
            seconds = times[f"{form} {label(strategy, how)}"]
            row[f"{form}_ms"] = seconds * 1e3
            row[f"{form}_x_read"] = seconds / floor.read_s
        target = TARGETS.get(strategy)
        row["target_x_read"] = target
        row["met"] = None if target is None else bool(row["flat_x_read"] <= target)
        row["forms_agree"] = forms_agree(forms, strategy, how)
        rows.append(row)
        progress(
            f"tokens {label(strategy, how):>24}: flat {row['flat_x_read']:5.2f}x read, "
            f"padded {row['padded_x_read']:5.2f}x, streamed {row['streamed_x_read']:5.2f}x"
        )
    return floor_row, rows


# Memory -------------------------------------------------------------------------------


@contextmanager
def npy_files(arrays: Mapping[str, np.ndarray]) -> Iterator[dict[str, Path]]:
    """Each array saved as a .npy file in a temporary directory, by name."""
    with tempfile.TemporaryDirectory(prefix="alrank-tokens-") as directory:
        paths = {}
        for name, array in arrays.items():
            paths[name] = Path(directory) / f"{name}.npy"
            paths[name].write_bytes(npy_bytes(array))
        yield paths


def rank_files(paths: Mapping[str, Path], strategy: str, how: str | None) -> Ranking:
    """The full path on .npy bodies streamed from files."""
    with ExitStack() as stack:
        sources: dict[str, PoolSource] = {
            name: NpyReader(stack.enter_context(path.open("rb")), name=name, limits=LIMITS)
            for name, path in paths.items()
        }
        return rank(strategy, how, sources)


def memory_row(form: str, pool: TokenPool, sent: np.ndarray, call: Callable[[], object]) -> dict:
    peak = peak_mib(call)
    row = {
        "form": form,
        "tokens": int(pool.tokens.shape[0]),
        "sequences": int(pool.lengths.shape[0]),
        "array_shape": list(sent.shape),
        "array_mib": sent.nbytes / 2**20,
        "tokens_mib": pool.tokens.nbytes / 2**20,
        "lengths_mib": pool.lengths.nbytes / 2**20,
        "peak_mib": peak,
    }
    progress(
        f"tokens memory {form:>16} {row['tokens']:>9,} tokens {row['sequences']:>6,} sequences: "
        f"peak {peak:6.2f} MiB of a {row['array_mib']:.1f} MiB array"
    )
    return row


def measure_memory(full: Forms, tokens: int, sequences: int) -> list[dict]:
    """Traced peaks of ranking (MEMORY_STRATEGY), streamed flat at each of
    MEMORY_POOLS, then the full pool flat and padded, in memory and streamed."""
    strategy, how = MEMORY_STRATEGY
    rows = []
    for token_share, sequence_share in MEMORY_POOLS:
        shares = (int(tokens * token_share), int(sequences * sequence_share))
        pool = full.pool if shares == (tokens, sequences) else make_pool(*shares)
        with npy_files({FIELD: pool.tokens, LENGTHS: pool.lengths}) as paths:
            call = partial(rank_files, paths, strategy, how)
            rows.append(memory_row("flat, streamed", pool, pool.tokens, call))
    pool, padded = full.pool, full.padded
    flat = partial(rank, strategy, how, in_memory(pool.tokens, pool.lengths))
    rows.append(memory_row("flat, in memory", pool, pool.tokens, flat))
    in_place = partial(rank, strategy, how, in_memory(padded, pool.lengths))
    rows.append(memory_row("padded, in memory", pool, padded, in_place))
    with npy_files({FIELD: padded, LENGTHS: pool.lengths}) as paths:
        call = partial(rank_files, paths, strategy, how)
        rows.append(memory_row("padded, streamed", pool, padded, call))
    return rows


def memory_verdicts(rows: list[dict]) -> dict[str, Any]:
    """Flat in tokens: at the same sequences, ten times the tokens leave the
    streamed peak within the 1e5-token pool's token array. No padding copied:
    each padded peak below the real tokens' size (a whole copy of the tokens
    alone would reach it)."""
    streamed_rows = [row for row in rows if row["form"] == "flat, streamed"]
    few, many = streamed_rows[1], streamed_rows[2]
    growth = many["peak_mib"] - few["peak_mib"]
    padded_rows = [row for row in rows if row["form"].startswith("padded")]
    return {
        "streamed_growth_mib": growth,
        "streamed_token_growth_mib": many["tokens_mib"] - few["tokens_mib"],
        "flat_in_tokens": bool(many["peak_mib"] < few["tokens_mib"]),
        "padding_not_copied": all(row["peak_mib"] < row["tokens_mib"] for row in padded_rows),
    }


# baal ---------------------------------------------------------------------------------


def baal_layout(padded: np.ndarray) -> np.ndarray:
    """(n, l_max, c) as baal's predictions [n_sample, n_classes, ..., n_iterations]:
    (n, c, l_max, 1), contiguous. Without the iterations axis, baal's singlepass
    would take the mean over the tokens as if they were passes."""
    return np.ascontiguousarray(padded.transpose(0, 2, 1))[..., None]


def baal_call(strategy: str, how: str, predictions: np.ndarray) -> Callable[[], np.ndarray]:
    from baal.active import heuristics

    heuristic = getattr(heuristics, BAAL_HEURISTICS[strategy])(
        reduction=BAAL_REDUCTIONS[strategy][how]
    )

    def select() -> np.ndarray:
        return np.asarray(heuristic(predictions)[:K])

    return select


def peer_rows(forms: Forms, budget: Budget) -> dict[str, Any]:
    """baal beside our full path on the padded array, each case timed in
    interleaved rounds in this process."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            importlib.import_module("baal.active.heuristics")
        version = metadata.version("baal")
    except ImportError as error:
        return {"status": "unavailable", "error": f"{type(error).__name__}: {error}"}
    predictions = baal_layout(forms.padded)
    rows = [
        peer_case(forms, predictions, strategy, how, budget)
        for strategy, how in CASES
        if how is not None
    ]
    return {
        "status": "ok",
        "version": version,
        "interpreter": sys.executable,
        "layout": list(predictions.shape),
        "rows": rows,
    }


def peer_case(
    forms: Forms, predictions: np.ndarray, strategy: str, how: str, budget: Budget
) -> dict[str, Any]:
    ours = forms.rank("padded", strategy, how, keep_all=True)
    if ours.all_scores is None:
        raise RuntimeError("the ranking kept no scores")
    select = baal_call(strategy, how, predictions)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        picks = select()
        times = best_times(
            {"ours": partial(forms.rank, "padded", strategy, how), "baal": select}, budget
        )
    agreement = compare(picks, ours.indices, ours.all_scores)
    row: dict[str, Any] = {
        "strategy": strategy,
        "aggregate": how,
        "baal_call": f"{BAAL_HEURISTICS[strategy]}(reduction={BAAL_REDUCTIONS[strategy][how]!r})",
        "ours_ms": times["ours"] * 1e3,
        "baal_ms": times["baal"] * 1e3,
        "baal_over_ours": times["baal"] / times["ours"],
        "same_order": bool(np.array_equal(picks, ours.indices)),
        **agreement,
    }
    if how == "mean":
        our_sum = forms.rank("padded", strategy, "sum").indices
        row["overlap_with_our_sum"] = int(np.intersect1d(picks, our_sum).shape[0])
    progress(
        f"tokens baal {row['baal_call']:>32}: {row['baal_over_ours']:5.2f}x ours, "
        f"{row['overlap']}/{row['k']} picks shared"
    )
    return row


def peer_python() -> str | None:
    return os.environ.get(PEER_PYTHON_VARIABLE) or None


def peer_in(python: str | None, quick: bool, forms: Forms, budget: Budget) -> dict[str, Any]:
    """The peer figures: here when baal imports, else from ``python``."""
    if util.find_spec("baal") is not None or python is None:
        return peer_rows(forms, budget) | {"run": "in the bench's own process"}
    command = [python, "-m", "bench.token_pools", "--peer-json", *(["--quick"] if quick else [])]
    progress(f"tokens baal: running {' '.join(command)}")
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)
    sys.stderr.write(done.stderr)
    if done.returncode != 0:
        lines = done.stderr.strip().splitlines() or [f"exit status {done.returncode}"]
        return {"status": "error", "error": lines[-1], "run": python}
    peer: dict[str, Any] = json.loads(done.stdout)
    return peer | {"run": "in a separate process, `-m bench.token_pools --peer-json`"}


# The figure and its report ------------------------------------------------------------


def simd_line() -> str:
    """numpy's SIMD baseline and the dispatch targets this CPU supports."""
    from numpy._core import _multiarray_umath as umath

    features = umath.__cpu_features__
    supported = [name for name in umath.__cpu_dispatch__ if features.get(name)]
    return (
        f"numpy {np.__version__} SIMD baseline {' '.join(umath.__cpu_baseline__)}; "
        f"dispatched to {' '.join(supported) or 'none'}"
    )


def sizes(quick: bool) -> tuple[int, int]:
    return (QUICK_TOKENS, QUICK_SEQUENCES) if quick else (TOKENS, SEQUENCES)


def measure(quick: bool = False, python: str | None = None) -> Figure:
    """Every figure on the full pool (or the quick one)."""
    tokens, sequences = sizes(quick)
    budget = QUICK_BUDGET if quick else DEFAULT_BUDGET
    figure = new_figure("token_pools")
    forms = Forms.of(make_pool(tokens, sequences))
    figure |= {
        "quick": quick,
        "pool": forms.pool.describe(),
        "padded": f"{' x '.join(map(str, forms.padded.shape))}, one-hot padding rows",
        "simd": simd_line(),
        "threads": {name: os.environ.get(name, "unset") for name in THREAD_VARIABLES},
        "k": K,
    }
    figure["floor"], figure["rows"] = measure_paths(
        forms, budget, QUICK_BUDGET if quick else FLOOR_BUDGET
    )
    figure["memory"] = measure_memory(forms, tokens, sequences)
    figure["memory_verdicts"] = memory_verdicts(figure["memory"])
    figure["peer"] = peer_in(python, quick, forms, QUICK_BUDGET if quick else PEER_BUDGET)
    return figure


def _yes(value: bool | None) -> str:
    return "-" if value is None else ("yes" if value else "no")


def command(figure: Figure) -> str:
    threads = " ".join(f"{name}={value}" for name, value in figure["threads"].items())
    if figure["quick"]:
        return f"{threads} python -m bench.token_pools --quick"
    return f"{threads} python -m bench tokens"


def head(figure: Figure) -> str:
    env, floor = figure["environment"], figure["floor"]
    return (
        "# Token pools: sequence labeling through the service's entry point\n\n"
        f"Written by `{command(figure)}` (bench/token_pools.py).\n\n"
        f"- Pool: {figure['pool']}; token rows seeded Dirichlet(1, ..., 1) draws, lengths "
        f"drawn from 1..{LONGEST} and adjusted to the exact total. Padded form: "
        f"{figure['padded']}.\n"
        f"- CPU: {env['cpu']} ({env['cores']} cores); {figure['simd']}.\n"
        f"- Measured {env['date']} at commit {env['commit']}, Python {env['python']}, "
        f"{env['platform']}.\n"
        f"- One read pass of the flat token array ({floor['tokens_mib']:.1f} MiB, "
        "np.add.reduce over every element, bench/floor.py): "
        f"{ms(floor['read_ms'])} ms; one copy {ms(floor['copy_ms'])} ms; one read pass of "
        f"the padded array ({floor['padded_mib']:.1f} MiB) {ms(floor['padded_read_ms'])} ms.\n"
    )


def paths_section(figure: Figure) -> str:
    headers = ["strategy", "aggregate", "flat ms", "flat x read", "target", "met?"]
    headers += ["padded x read", "streamed x read", "forms agree"]
    rows = [
        [
            row["strategy"],
            row["aggregate"],
            ms(row["flat_ms"]),
            ratio(row["flat_x_read"]),
            ratio(row["target_x_read"]),
            _yes(row["met"]),
            ratio(row["padded_x_read"]),
            ratio(row["streamed_x_read"]),
            _yes(row["forms_agree"]),
        ]
        for row in figure["rows"]
    ]
    return (
        f"## Full path, top-{figure['k']}, as multiples of one read pass\n\n"
        "`service.jobs.rank` with the tokens and lengths: checks, one score per token, "
        "the aggregate per sequence, top-k. Every time is the best of several runs in "
        "interleaved rounds (bench/timing.py), each a multiple of the flat token array's "
        "read pass from the same rounds. flat: the (sum of lengths) x C array in memory "
        "(the target's case); padded: the N x L_max x C array in memory; streamed: the "
        "flat array as a .npy body read by NpyReader from memory. forms agree: the three "
        "pick the same sequences in the same order. mnlp has no target.\n\n" + table(headers, rows)
    )


def memory_section(figure: Figure) -> str:
    strategy, how = MEMORY_STRATEGY
    headers = ["form", "tokens", "sequences", "array", "array MiB", "real tokens MiB"]
    headers += ["lengths MiB", "peak MiB", "peak / array"]
    rows = [
        [
            row["form"],
            count(row["tokens"]),
            f"{row['sequences']:,}",
            " x ".join(map(str, row["array_shape"])),
            f"{row['array_mib']:.2f}",
            f"{row['tokens_mib']:.2f}",
            f"{row['lengths_mib']:.2f}",
            f"{row['peak_mib']:.2f}",
            f"{row['peak_mib'] / row['array_mib']:.3f}",
        ]
        for row in figure["memory"]
    ]
    verdicts = figure["memory_verdicts"]
    return (
        "## Memory: peak traced while ranking\n\n"
        f"`{label(strategy, how)}`, the peak tracemalloc records (numpy's buffers "
        "included) from just before the request's sources are opened until the ranking "
        "is back; the arrays, and the .npy files streamed from, exist before. streamed: "
        "NpyReader over a .npy file on disk.\n\n"
        + table(headers, rows)
        + "\n"
        + table(
            ["target", "figure", "met?"],
            [
                [
                    "streamed flat: flat in tokens (10x the tokens at the same "
                    "sequences, the peak below the smaller pool's token array)",
                    f"{verdicts['streamed_growth_mib']:+.2f} MiB for "
                    f"+{verdicts['streamed_token_growth_mib']:.1f} MiB of tokens",
                    _yes(verdicts["flat_in_tokens"]),
                ],
                [
                    "padded: padding never copied (each padded peak below the real tokens' size)",
                    ", ".join(
                        f"{row['form']} {row['peak_mib']:.2f} MiB"
                        for row in figure["memory"]
                        if row["form"].startswith("padded")
                    ),
                    _yes(verdicts["padding_not_copied"]),
                ],
            ],
        )
    )


def _shared(row: Mapping[str, Any]) -> str:
    shared = f"{row['overlap']}/{row['k']}"
    if "overlap_with_our_sum" in row:
        shared += f" ({row['overlap_with_our_sum']}/{row['k']} with our sum)"
    return shared


def peer_section(figure: Figure) -> str:
    peer = figure["peer"]
    title = "## Beside baal\n\n"
    if peer["status"] != "ok":
        return title + f"baal {peer['status']}: {peer.get('error', '')}\n"
    headers = ["ours", "baal.active.heuristics", "ours ms", "baal ms", "baal / ours"]
    headers += ["picks shared", "agreement", "same order"]
    rows = [
        [
            label(row["strategy"], row["aggregate"]),
            f"`{row['baal_call']}`",
            ms(row["ours_ms"]),
            ms(row["baal_ms"]),
            ratio(row["baal_over_ours"]),
            _shared(row),
            row["agreement"],
            _yes(row["same_order"]),
        ]
        for row in peer["rows"]
    ]
    layout = " x ".join(map(str, peer["layout"]))
    return (
        title + f"baal {peer['version']}, run {peer['run']} by {peer['interpreter']}. Ours: "
        "the full path on the padded array in memory; baal: the heuristic called on the "
        f"same values laid out as its predictions {layout} (N x C x L_max x 1 iterations, "
        "made once, not timed), its whole ranking cut to the first "
        f"{figure['k']}. Both timed in interleaved rounds in that one process (best of "
        "several runs each); baal / ours above 1: ours is faster.\n\n" + table(headers, rows) + "\n"
        "- Padding rows are [1, 0, ..., 0]: zero least confidence, margin and entropy, "
        "certainty and margin p1 - p2 both 1. baal's 'sum' then ranks as our sum "
        "(Certainty and Margin sum confidences, L_max - our sum, sorted ascending), "
        "'max' for Entropy and 'min' for Certainty and Margin as our max (their "
        "confidences, so our largest token uncertainty is their smallest confidence; "
        "baal has both reductions, no callable needed).\n"
        "- baal's 'mean' divides by L_max, padding included, not by each sequence's "
        "length: it ranks as a sum, so its picks differ from our length-normalized mean; "
        "picks shared counts how many of the picks still agree, and in brackets how many "
        "of baal's picks our sum picks too.\n"
        "- agreement (bench/agreement.py): identical sets, the same up to ties at our "
        "k-th score (within 1e-5), or differs. baal ranks with np.argsort (not stable); "
        "float32 rounding of its sums can reorder near-ties.\n"
        "- baal scores whole arrays: Margin sorts every token row, Entropy goes through "
        "scipy.stats.entropy (rows renormalized), and each builds the N x L_max score "
        "matrix, padding included.\n"
    )


def render(figure: Figure) -> str:
    """The markdown report of a measured ``figure``."""
    sections = [head, paths_section, memory_section, peer_section]
    return "\n".join(section(figure) for section in sections)


def write(figure: Figure, directory: Path = RESULTS_DIR) -> Path:
    """Write ``figure``'s report as token_pools.md in ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "token_pools.md"
    path.write_text(render(figure), encoding="utf-8")
    return path


def run(quick: bool = False, directory: Path = RESULTS_DIR, python: str | None = None) -> Figure:
    """Measure, write the report, return the figure. The peer interpreter
    defaults to BENCH_PEER_PYTHON."""
    figure = measure(quick, python if python is not None else peer_python())
    progress(f"wrote {write(figure, directory)}")
    return figure


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--peer-python", default=None)
    parser.add_argument("--out", type=Path, default=RESULTS_DIR)
    parser.add_argument("--peer-json", action="store_true", help="print baal's figures as JSON")
    options = parser.parse_args(argv)
    if options.peer_json:
        forms = Forms.of(make_pool(*sizes(options.quick)))
        budget = QUICK_BUDGET if options.quick else PEER_BUDGET
        print(json.dumps(peer_rows(forms, budget)))
        return
    run(options.quick, options.out, options.peer_python)


if __name__ == "__main__":
    main()
