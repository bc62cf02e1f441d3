"""Figure "peers": the same selections made by peer libraries, timed on the same arrays.

For every case a peer shares with us: does it pick the same items (as sets,
allowing for ties), how long does it take, and how much faster is our full
service path (checks, scoring, top-k) on the same array in the same run.
Each peer runs in its own try/except, so one broken peer stops nothing else.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from bench import pools
from bench.agreement import compare
from bench.floor import FLOOR_BUDGET, measure_floor
from bench.peers import PEERS
from bench.peers.baal_peer import as_baal_layout
from bench.peers.base import Peer, PeerCase
from bench.results import Figure, new_figure, progress
from bench.service_path import make_plan, rank_array, reference_ranking
from bench.timing import Budget, best_time, time_once

PROBABILITY_SIZES = (10_000, 100_000, 1_000_000)
SAMPLES_SIZES = (10_000, 100_000)
C, T = 10, 20
K = 100
# A case whose time, scaled linearly from the last size, would pass this is not run.
TIME_LIMIT_S = 60.0
PEER_BUDGET = Budget(min_repeats=3, max_repeats=20, min_seconds=0.5, max_seconds=10.0)
OURS_BUDGET = Budget()


@dataclass
class Loaded:
    """A peer whose cases loaded, and the last time each case took, by call."""

    peer: Peer
    version: str
    cases: list[PeerCase]
    last: dict[tuple[str, str], tuple[int, float]] = field(default_factory=dict)


def run(
    probability_sizes: Sequence[int] = PROBABILITY_SIZES,
    samples_sizes: Sequence[int] = SAMPLES_SIZES,
    peers: Sequence[Peer] = PEERS,
    peer_budget: Budget = PEER_BUDGET,
    ours_budget: Budget = OURS_BUDGET,
    floor_budget: Budget = FLOOR_BUDGET,
) -> Figure:
    """Time and compare every loadable peer on every pool size."""
    figure = new_figure("peers")
    figure["peers"], figure["ours"] = [], []
    loaded = load_peers(peers, figure)
    for kind, sizes in (("probabilities", probability_sizes), ("samples", samples_sizes)):
        for n in sizes:
            arrays = make_arrays(kind, n)
            wanted = [
                (entry, case) for entry in loaded for case in entry.cases if case.pool in arrays
            ]
            strategies = {case.strategy for _, case in wanted}
            budgets = (ours_budget, floor_budget)
            ours = measure_ours(kind, arrays[kind], strategies, budgets, figure)
            for entry, case in wanted:
                figure["rows"].append(
                    run_case(entry, case, arrays[case.pool], ours[case.strategy], peer_budget)
                )
    return figure


def load_peers(peers: Sequence[Peer], figure: Figure) -> list[Loaded]:
    """Import each peer and list its cases; a peer that fails is recorded and left out."""
    loaded = []
    for peer in peers:
        try:
            version = peer.version()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                cases = peer.load()
        except Exception as error:
            figure["peers"].append(
                {"peer": peer.name, "status": "unavailable", "error": _first_line(error)}
            )
            progress(f"peer {peer.name}: unavailable ({_first_line(error)})")
            continue
        figure["peers"].append({"peer": peer.name, "version": version, "status": "loaded"})
        loaded.append(Loaded(peer, version, cases))
    return loaded


def make_arrays(kind: str, n: int) -> dict[str, np.ndarray]:
    """The pool arrays each case may take, by name."""
    if kind == "probabilities":
        return {"probabilities": pools.probabilities(n, C, np.float32)}
    samples = pools.samples(n, T, C, np.float32)
    return {"samples": samples, "samples_nct": as_baal_layout(samples)}


@dataclass(frozen=True)
class Ours:
    """Our full-path time and answer on one array."""

    seconds: float
    indices: np.ndarray
    scores: np.ndarray
    read_s: float


def measure_ours(
    kind: str,
    array: np.ndarray,
    strategies: set[str],
    budgets: tuple[Budget, Budget],
    figure: Figure,
) -> dict[str, Ours]:
    """Our time and answer for each strategy on ``array``, with the array's read pass.

    ``budgets`` are (for our ranking, for the read pass).
    """
    budget, floor_budget = budgets
    read_s = measure_floor(array, floor_budget).read_s
    ours = {}
    for strategy in sorted(strategies):
        plan = make_plan(strategy, input_kind=kind, budget=K)
        seconds = best_time(lambda plan=plan: rank_array(array, plan), budget)
        indices, scores = reference_ranking(array, strategy, input_kind=kind, budget=K)
        ours[strategy] = Ours(seconds, indices, scores, read_s)
        figure["ours"].append(
            {
                "strategy": strategy,
                "pool": kind,
                "n": array.shape[0],
                "ms": seconds * 1e3,
                "read_ms": read_s * 1e3,
            }
        )
    return ours


def run_case(
    entry: Loaded, case: PeerCase, array: np.ndarray, ours: Ours, budget: Budget
) -> dict[str, object]:
    """One row: the peer's time and picks on ``array`` against ours."""
    n = array.shape[0]
    row: dict[str, object] = {
        "peer": entry.peer.name,
        "version": entry.version,
        "call": case.call,
        "strategy": case.strategy,
        "pool": case.pool,
        "n": n,
        "k": K,
        "same_score": case.same_score,
        "note": case.note,
        "ours_ms": ours.seconds * 1e3,
        "read_ms": ours.read_s * 1e3,
    }
    key = (case.call, case.strategy)
    if key in entry.last:
        last_n, last_s = entry.last[key]
        projected = last_s * n / last_n
        if projected > TIME_LIMIT_S:
            progress(f"peer {entry.peer.name} {case.call} N={n}: skipped")
            return row | {
                "status": "skipped",
                "error": f"projected {projected:.0f} s from N={last_n}",
            }
    try:
        seconds, picks = time_peer(case, array, budget)
    except Exception as error:
        progress(f"peer {entry.peer.name} {case.call} N={n}: {_first_line(error)}")
        return row | {"status": "error", "error": _first_line(error)}
    entry.last[key] = (n, seconds)
    progress(
        f"peer {entry.peer.name:>15} {case.strategy:>20} N={n:>8}: "
        f"ours {seconds / ours.seconds:.3g}x faster"
    )
    return row | {
        "status": "ok",
        "peer_ms": seconds * 1e3,
        "speedup": seconds / ours.seconds,
        **compare(picks, ours.indices, ours.scores),
    }


def time_peer(case: PeerCase, array: np.ndarray, budget: Budget) -> tuple[float, np.ndarray]:
    """(best time, picks of the first run); slow cases run once."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        first_s, picks = time_once(lambda: case.select(array, K))
        seconds = first_s
        if 2 * first_s <= budget.max_seconds:
            seconds = min(first_s, best_time(lambda: case.select(array, K), budget))
    return seconds, np.asarray(picks)


def _first_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0] if text else ''}"[:300]
