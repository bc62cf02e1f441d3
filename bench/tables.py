"""Markdown tables and number formats for results.md."""

from __future__ import annotations

from collections.abc import Sequence


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A GitHub-flavoured markdown table; numbers right-aligned."""
    align = ["---:" if _numeric(rows, i) else "---" for i in range(len(headers))]
    lines = [_line(headers), _line(align)]
    lines += [_line([str(cell) for cell in row]) for row in rows]
    return "\n".join(lines) + "\n"


def ms(value: object) -> str:
    """Milliseconds with three significant digits."""
    if not isinstance(value, int | float):
        return "-"
    return f"{value:.3g}" if value < 1000 else f"{value:,.0f}"


def ratio(value: object) -> str:
    """A ratio such as 3.2x."""
    if not isinstance(value, int | float):
        return "-"
    if value >= 100:
        return f"{value:,.0f}x"
    return f"{value:.3g}x"


def count(value: int) -> str:
    """A pool size: 1e6 for round sizes from 10,000 up, 1,000 or 25,000 otherwise."""
    text = f"{value:.0e}".replace("e+0", "e").replace("e+", "e")
    return text if value >= 10_000 and float(text) == value else f"{value:,}"


def _line(cells: Sequence[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def _numeric(rows: Sequence[Sequence[object]], column: int) -> bool:
    cells = [str(row[column]) for row in rows if str(row[column]) not in ("", "-")]
    return bool(cells) and all(_looks_numeric(cell) for cell in cells)


def _looks_numeric(cell: str) -> bool:
    try:
        float(cell.rstrip("x").replace(",", ""))
    except ValueError:
        return False
    return True
