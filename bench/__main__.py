"""python -m bench FIGURE...: measure figures (each in this one process) or write the report.

Figures: core, samples, selections, transports, peers, strategy_peers (which also
writes strategy_peers.md). ``report`` writes results.md and the plots from the
saved figures.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

from bench import (
    core,
    diagnostics_overhead,
    samples,
    selections,
    strategy_peers,
    token_pools,
    transports,
)
from bench.peers import figure as peers_figure
from bench.plots import write_plots
from bench.report import write
from bench.results import RESULTS_DIR, Figure, load_all, progress, save

FIGURES: dict[str, Callable[[], Figure]] = {
    "core": core.run,
    "samples": samples.run,
    "selections": selections.run,
    "transports": transports.run,
    "peers": peers_figure.run,
    "strategy_peers": strategy_peers.run,
    "tokens": token_pools.run,
    "diagnostics": diagnostics_overhead.run,
}


def report() -> None:
    """Write results.md and the PNG plots from every saved figure."""
    figures = load_all(RESULTS_DIR)
    plots = write_plots(figures, RESULTS_DIR)
    path = write(figures, plots, RESULTS_DIR)
    progress(f"wrote {path} and {', '.join(plots) or 'no plots (matplotlib missing)'}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("figures", nargs="+", choices=[*FIGURES, "report"])
    for name in parser.parse_args(argv).figures:
        if name == "report":
            report()
            continue
        path = save(FIGURES[name]())
        progress(f"saved {path}")


if __name__ == "__main__":
    main()
