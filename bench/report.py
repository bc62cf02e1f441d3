"""results.md: the saved figures as markdown tables, with the plots beside them."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from bench.results import RESULTS_DIR, Figure
from bench.tables import count, ms, ratio, table
from service.ranking.registry import STRATEGIES

# The performance targets at N = 1e6, C = 10, float32, as multiples of one read pass.
TARGET_N, TARGET_C, TARGET_DTYPE = 1_000_000, 10, "float32"
TARGETS = {"least_confidence": 5.0, "margin": 5.0, "ratio": 5.0, "entropy": 8.0}
RSS_TARGET_MB = 64
POOL_LAYOUTS = {
    "probabilities": "N x C",
    "samples": "N x T x C",
    "samples_nct": "N x C x T",
}


def render(figures: Mapping[str, Figure], plots: Sequence[str] = ()) -> str:
    """The whole results.md for the figures that were measured."""
    parts = [header(figures)]
    sections: list[tuple[str, Callable[[Figure], str]]] = [
        ("core", targets_section),
        ("core", core_section),
        ("samples", samples_section),
        ("selections", selections_section),
        ("transports", transports_section),
        ("peers", peers_section),
    ]
    parts += [section(figures[name]) for name, section in sections if name in figures]
    if plots:
        parts.append("## Plots\n\n" + "\n".join(f"![{name}]({name})\n" for name in plots))
    return "\n".join(parts)


def write(
    figures: Mapping[str, Figure], plots: Sequence[str] = (), directory: Path = RESULTS_DIR
) -> Path:
    """Write results.md into ``directory``."""
    path = directory / "results.md"
    path.write_text(render(figures, plots), encoding="utf-8")
    return path


def header(figures: Mapping[str, Figure]) -> str:
    rows = []
    for name, figure in figures.items():
        env = figure["environment"]
        rows.append(
            [
                name,
                env["date"],
                env["commit"],
                env["cpu"],
                env["cores"],
                env["python"],
                env["numpy"],
            ]
        )
    return (
        "# alrank benchmark results\n\n"
        "Made by `make bench` (see bench/README.md). Every ratio compares two times "
        "measured in the same process run on the same array; each time is the best of "
        "several repeats (time.perf_counter). The read pass sums every element once "
        "(np.add.reduce over the flattened array); the copy is arr.copy().\n\n"
        + table(["figure", "measured (UTC)", "commit", "CPU", "cores", "Python", "numpy"], rows)
    )


def targets_section(figure: Figure) -> str:
    rows = []
    for row in figure["rows"]:
        target = TARGETS.get(row["strategy"])
        if target is None or (row["n"], row["c"], row["dtype"]) != (
            TARGET_N,
            TARGET_C,
            TARGET_DTYPE,
        ):
            continue
        rows.append(
            [
                row["strategy"],
                ratio(target),
                ratio(row["scoring_x_read"]),
                _within(row["scoring_x_read"], target),
                ratio(row["full_x_read"]),
                _within(row["full_x_read"], target),
                ratio(row["checks_x_read"]),
            ]
        )
    if not rows:
        return ""
    return (
        f"## Targets: N = {count(TARGET_N)}, C = {TARGET_C}, {TARGET_DTYPE}\n\n"
        'Multiples of one read pass over the same array. "Full path" is '
        "service.jobs.rank: planning, input checks, scoring and top-k (budget 100); "
        '"checks alone" is the input preparation of the full path by itself: each chunk '
        "copied into its class columns and checked (scoring reuses that copy, so checks "
        "alone plus scoring alone exceed the full path).\n\n"
        + table(
            [
                "strategy",
                "target",
                "scoring alone",
                "within",
                "full path",
                "within",
                "checks alone",
            ],
            rows,
        )
    )


def core_section(figure: Figure) -> str:
    floors = {}
    rows = []
    for row in figure["rows"]:
        key = (row["n"], row["c"], row["dtype"])
        floors[key] = row
        rows.append(
            [
                row["strategy"],
                count(row["n"]),
                row["c"],
                row["dtype"],
                ms(row["scoring_ms"]),
                ratio(row["scoring_x_read"]),
                ratio(row["scoring_x_copy"]),
                ms(row["full_ms"]),
                ratio(row["full_x_read"]),
                ratio(row["full_x_copy"]),
            ]
        )
    floor_rows = [
        [
            count(n),
            c,
            dtype,
            ms(row["read_ms"]),
            ms(row["copy_ms"]),
            f"{_gigabytes(n * c * _itemsize(dtype)) / (row['read_ms'] / 1e3):.1f}",
            ms(row["checks_ms"]),
            ratio(row["checks_x_read"]),
        ]
        for (n, c, dtype), row in floors.items()
    ]
    return (
        "## Core: pointwise strategies on class probabilities (N x C)\n\n"
        "The memory floor of each array, measured in the same run:\n\n"
        + table(
            [
                "N",
                "C",
                "dtype",
                "read pass ms",
                "copy ms",
                "read GB/s",
                "checks ms",
                "checks x read",
            ],
            floor_rows,
        )
        + "\nScoring alone runs the strategy's scoring function over cache-sized chunks "
        "(the chunk size the web layer uses); the full path adds the checks and top-k "
        "(budget 100).\n\n"
        + table(
            [
                "strategy",
                "N",
                "C",
                "dtype",
                "scoring ms",
                "x read",
                "x copy",
                "full ms",
                "x read",
                "x copy",
            ],
            rows,
        )
        + _notes(figure)
    )


def samples_section(figure: Figure) -> str:
    rows = [
        [
            row["strategy"],
            ms(row["scoring_ms"]),
            ratio(row["scoring_x_read"]),
            ratio(row["scoring_x_copy"]),
            ms(row["full_ms"]),
            ratio(row["full_x_read"]),
            ratio(row["full_x_copy"]),
        ]
        for row in figure["rows"]
    ]
    if not rows:
        return ""
    first = figure["rows"][0]
    return (
        f"## Samples: N = {count(first['n'])}, T = {first['t']}, C = {first['c']}, "
        f"{first['dtype']}\n\n"
        f"Read pass {ms(first['read_ms'])} ms, copy {ms(first['copy_ms'])} ms, "
        f"samples preparation alone (copied into columns and checked) "
        f"{ms(first['checks_ms'])} ms "
        f"({ratio(first['checks_x_read'])} read).\n\n"
        + table(["strategy", "scoring ms", "x read", "x copy", "full ms", "x read", "x copy"], rows)
    )


def selections_section(figure: Figure) -> str:
    rows = [
        [
            row["selection"],
            "-" if row["beta"] is None else row["beta"],
            ms(row["full_ms"]),
            ratio(row["x_read"]),
            ratio(row["x_top"]),
        ]
        for row in figure["rows"]
    ]
    if not rows:
        return ""
    first = figure["rows"][0]
    return (
        f"## Selections: {first['strategy']}, N = {count(first['n'])}, C = {first['c']}, "
        f"{first['dtype']}\n\n"
        "The full path with each way of drawing the batch of 100 from the scores.\n\n"
        + table(["selection", "beta", "full ms", "x read", "x top"], rows)
    )


def transports_section(figure: Figure) -> str:
    rows = [
        [
            row["transport"],
            count(row["n"]),
            f"{row['body_mb']:.3g}",
            ms(row["request_ms"]),
            ms(row["core_ms"]),
            ratio(row["x_core"]),
            f"{row['mb_per_s']:.3g}",
            f"{row['agreement']} ({row['overlap']}/{row['k']})",
        ]
        for row in figure["rows"]
    ]
    rss_rows = [
        [
            row["transport"],
            count(row["n"]),
            f"{row['body_mb']:.0f}",
            ms(row["request_ms"]),
            f"{row['peak_before_mb']:.0f}",
            f"{row['peak_after_mb']:.0f}",
            f"{row['growth_mb']:.1f}",
        ]
        for row in figure.get("rss", [])
    ]
    text = (
        "## Transports: POST /v1/rank over loopback HTTP\n\n"
        "A real gunicorn (gunicorn.conf.py, one worker) on 127.0.0.1; entropy, budget 100, "
        "C = 10, float32 pools. Wall time from sending the first byte to reading the whole "
        "answer, as a multiple of the in-process full path on the same array. JSON bodies "
        "are encoded before the clock starts; .npy and multipart bodies are streamed from a "
        'file. The JSON body limit is raised to 1 GiB for this figure. "answer" compares '
        "the service's picks with the in-process ranking of the same array.\n\n"
        + table(
            ["transport", "N", "body MiB", "request ms", "core ms", "x core", "MiB/s", "answer"],
            rows,
        )
    )
    if rss_rows:
        text += (
            f"\nPeak RSS (VmHWM) of a fresh, warmed-up worker before and after one request; "
            f"the target for a streamed .npy body is growth under about {RSS_TARGET_MB} "
            "MiB.\n\n"
            + table(
                [
                    "transport",
                    "N",
                    "body MiB",
                    "request ms",
                    "peak before MiB",
                    "peak after MiB",
                    "growth MiB",
                ],
                rss_rows,
            )
        )
    return text


def peers_section(figure: Figure) -> str:
    rows = [_peer_row(row) for row in figure["rows"]]
    status = [
        [entry["peer"], entry.get("version", "-"), entry["status"], entry.get("error", "")]
        for entry in figure.get("peers", [])
    ]
    return (
        "## Peers: the same selection with other active-learning libraries\n\n"
        "Each peer is called through its public function on the same float32 array, with "
        'a stand-in fitted model whose predict_proba returns the array. "ours" is the full '
        "service path (checks, scoring, top-k of 100); speed-up = peer time / ours. "
        "Agreement compares the picked sets: identical, the same up to items tied (within "
        "1e-5) with our 100th score, or differing (overlap shown). A peer whose score is "
        "defined differently is marked in the notes; its agreement is for information.\n\n"
        + table(["peer", "version", "status", "error"], status)
        + "\n"
        + table(PEER_HEADERS, rows)
        + _unmatched(figure)
    )


PEER_HEADERS = (
    "strategy",
    "pool",
    "N",
    "peer",
    "call",
    "peer ms",
    "ours ms",
    "speed-up",
    "agreement",
    "note",
)


def _unmatched(figure: Figure) -> str:
    """Our pointwise strategies that no peer's case matched."""
    shared = {row["strategy"] for row in figure["rows"]}
    alone = [
        name for name, strategy in STRATEGIES.items() if strategy.pointwise and name not in shared
    ]
    if not alone:
        return ""
    return f"\nNo peer offers a matching selection for: {', '.join(alone)}.\n"


def _peer_row(row: Mapping[str, object]) -> list[object]:
    if row["status"] == "ok":
        agreement = f"{row['agreement']} ({row['overlap']}/{row['k']})"
        peer_ms, speedup = ms(row["peer_ms"]), ratio(row["speedup"])
    else:
        agreement, peer_ms, speedup = f"{row['status']}: {row['error']}", "-", "-"
    note = str(row["note"])
    if not row["same_score"]:
        note = f"score defined differently: {note}"
    return [
        row["strategy"],
        POOL_LAYOUTS.get(str(row["pool"]), str(row["pool"])),
        count(int(row["n"])),
        row["peer"],
        f"`{row['call']}`",
        peer_ms,
        ms(row["ours_ms"]),
        speedup,
        agreement,
        note,
    ]


def _notes(figure: Figure) -> str:
    notes = figure.get("notes", [])
    return "".join(f"\n- {note}" for note in notes) + ("\n" if notes else "")


def _within(value: float, target: float) -> str:
    return "yes" if value <= target else "no"


def _gigabytes(n_bytes: int) -> float:
    return n_bytes / 1e9


def _itemsize(dtype: str) -> int:
    return {"float32": 4, "float64": 8}[dtype]
