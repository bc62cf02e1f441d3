"""Saved figures: one JSON document per figure under bench/results/."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
RESULTS_DIR = Path(__file__).resolve().parent / "results"

Figure = dict[str, Any]


def environment() -> dict[str, object]:
    """Where and when a figure was measured."""
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "platform": platform.platform(),
        "commit": _commit(),
    }


def new_figure(name: str) -> Figure:
    """An empty figure document."""
    return {"figure": name, "environment": environment(), "rows": [], "notes": []}


def save(figure: Figure, directory: Path = RESULTS_DIR) -> Path:
    """Write ``figure`` as ``<name>.json`` in ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{figure['figure']}.json"
    path.write_text(json.dumps(figure, indent=1) + "\n", encoding="utf-8")
    return path


def load_all(directory: Path = RESULTS_DIR) -> dict[str, Figure]:
    """Every saved figure in ``directory``, by name."""
    figures = {}
    for path in sorted(directory.glob("*.json")):
        figure = json.loads(path.read_text(encoding="utf-8"))
        figures[figure["figure"]] = figure
    return figures


def progress(message: str) -> None:
    """One line of progress on stderr."""
    print(message, file=sys.stderr, flush=True)


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _commit() -> str:
    try:
        done = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        )
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return done.stdout.strip()
