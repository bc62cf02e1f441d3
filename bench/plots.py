"""Log-log plots of time against pool size, one line per implementation, the floor dashed.

matplotlib is imported only when plotting, so the bench package imports
without it; ``write_plots`` returns no files when it is missing.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from bench.results import RESULTS_DIR, Figure

Series = dict[str, list[tuple[int, float]]]
FLOOR = "read pass (floor)"


def write_plots(figures: Mapping[str, Figure], directory: Path = RESULTS_DIR) -> list[str]:
    """Write a PNG per plotted figure into ``directory``; the file names written."""
    try:
        import matplotlib
    except ImportError:
        return []
    matplotlib.use("Agg")
    makers = {"core": plot_core, "transports": plot_transports, "peers": plot_peers}
    written = []
    for name, make in makers.items():
        if name in figures and figures[name]["rows"]:
            path = directory / f"{name}.png"
            make(figures[name], path)
            written.append(path.name)
    return written


def plot_core(figure: Figure, path: Path) -> None:
    """One panel per class count, float32: full path per strategy, read pass and copy."""
    rows = [row for row in figure["rows"] if row["dtype"] == "float32"]
    classes = sorted({row["c"] for row in rows})
    panels = []
    for c in classes:
        series: Series = defaultdict(list)
        for row in (row for row in rows if row["c"] == c):
            series[row["strategy"]].append((row["n"], row["full_ms"]))
            series[FLOOR].append((row["n"], row["read_ms"]))
            series["copy"].append((row["n"], row["copy_ms"]))
        panels.append((f"C = {c}, float32: full path", series))
    _draw(panels, path, "Core: time vs pool size")


def plot_transports(figure: Figure, path: Path) -> None:
    """Request time per transport, with the in-process path and the read pass."""
    series: Series = defaultdict(list)
    for row in figure["rows"]:
        series[f"HTTP {row['transport']}"].append((row["n"], row["request_ms"]))
        series["in-process full path"].append((row["n"], row["core_ms"]))
        series[FLOOR].append((row["n"], row["read_ms"]))
    _draw([("C = 10, float32, entropy", series)], path, "Transports: time vs pool size")


def plot_peers(figure: Figure, path: Path) -> None:
    """One panel per strategy a peer shares: ours, each peer, and the read pass."""
    panels = []
    for strategy in _ordered(row["strategy"] for row in figure["rows"]):
        series: Series = defaultdict(list)
        for row in figure["rows"]:
            if row["strategy"] != strategy or row["status"] != "ok":
                continue
            series[f"{row['peer']}"].append((row["n"], row["peer_ms"]))
            series["alrank"].append((row["n"], row["ours_ms"]))
            series[FLOOR].append((row["n"], row["read_ms"]))
        if series:
            panels.append((strategy, series))
    _draw(panels, path, "Peers: time to pick 100 items vs pool size")


def _draw(panels: Sequence[tuple[str, Series]], path: Path, title: str) -> None:
    import matplotlib.pyplot as plt

    colors = _colors(label for _, series in panels for label in series)
    columns = min(3, len(panels))
    rows = -(-len(panels) // columns)
    fig, axes = plt.subplots(rows, columns, figsize=(5.2 * columns, 4.2 * rows), squeeze=False)
    for axis, (name, series) in zip(axes.flat, panels, strict=False):
        for label in sorted(series, key=_draw_order):
            _line(axis, label, sorted(set(series[label])), colors.get(label))
        axis.set(xscale="log", yscale="log", xlabel="pool size N", ylabel="ms", title=name)
        axis.grid(True, which="both", alpha=0.3)
        axis.legend(fontsize=7)
    for axis in list(axes.flat)[len(panels) :]:
        axis.set_visible(False)
    fig.suptitle(title)
    fig.tight_layout(rect=(0, 0, 1, 0.97))
    fig.savefig(path, dpi=110)
    plt.close(fig)


OURS = ("alrank", "in-process full path")
SPECIAL = (*OURS, FLOOR, "copy")


def _colors(labels: Iterable[str]) -> dict[str, str]:
    """The same colour for the same implementation in every panel."""
    others = [label for label in _ordered(labels) if label not in SPECIAL]
    return {label: f"C{index % 10}" for index, label in enumerate(others)}


def _draw_order(label: str) -> tuple[int, str]:
    return (SPECIAL.index(label) + 1 if label in SPECIAL else 0, "")


def _line(axis: Any, label: str, points: list[tuple[int, float]], color: str | None) -> None:
    xs = [n for n, _ in points]
    ys = [value for _, value in points]
    if label == FLOOR:
        axis.plot(xs, ys, "k--", label=label, linewidth=1.5)
    elif label == "copy":
        axis.plot(xs, ys, ":", color="grey", label=label)
    elif label in OURS:
        axis.plot(xs, ys, "k-o", label=label, linewidth=2, markersize=4)
    else:
        axis.plot(xs, ys, "-o", color=color, label=label, markersize=3)


def _ordered(names: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(names))
