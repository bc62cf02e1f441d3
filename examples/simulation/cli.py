"""Command line: python -m examples.simulation [--datasets ...] [--seeds 5] [--quick] ..."""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from threadpoolctl import threadpool_limits

from examples.simulation.datasets import DATASETS, DEFAULT_DATASETS
from examples.simulation.experiment import run_dataset
from examples.simulation.plans import choose, plan_strategies
from examples.simulation.plot import plot_curves
from examples.simulation.progress import Progress
from examples.simulation.report import markdown
from examples.simulation.results import DatasetResult, write_json
from examples.simulation.server import REPO_ROOT, service
from service.client import AlrankClient

DEFAULT_OUT = REPO_ROOT / "examples" / "results"
DEFAULT_TARGET = 0.95
QUICK = {"datasets": ["digits"], "seeds": 1, "rounds": 2, "batch": 5}
FIGURE = "learning_curves.png"
TABLE = "labels_to_target.md"
RAW = "results.json"


def _names(text: str) -> list[str]:
    return [name.strip() for name in text.split(",") if name.strip()]


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """The options; --quick fills in the ones not given with a tiny run."""
    parser = argparse.ArgumentParser(
        prog="python -m examples.simulation",
        description="Simulate pool-based active learning through the alrank service and "
        "plot accuracy against labels for every strategy, against random.",
    )
    parser.add_argument(
        "--datasets",
        type=_names,
        help=f"comma-separated, from {', '.join(DATASETS)} (default {','.join(DEFAULT_DATASETS)})",
    )
    parser.add_argument(
        "--strategies",
        type=_names,
        help="comma-separated strategy names (default: every one that applies); "
        "random is always run as the baseline",
    )
    parser.add_argument("--seeds", type=int, help="seeds per strategy (default 5)")
    parser.add_argument("--batch", type=int, help="labels per round (default: per dataset)")
    parser.add_argument("--rounds", type=int, help="labeling rounds (default: per dataset)")
    parser.add_argument(
        "--target",
        type=float,
        default=DEFAULT_TARGET,
        help="target accuracy, as a fraction of the accuracy with every pool label "
        f"(default {DEFAULT_TARGET})",
    )
    parser.add_argument(
        "--no-committee",
        action="store_true",
        help="skip the strategies that need samples (a bootstrap committee of 5 models)",
    )
    parser.add_argument(
        "--url",
        help="a running service; default: the local one if it answers, else one started here",
    )
    parser.add_argument(
        "--out",
        type=Path,
        help=f"output folder (default {DEFAULT_OUT.relative_to(REPO_ROOT)}/; "
        "with --quick, a new temporary folder)",
    )
    parser.add_argument(
        "--quick", action="store_true", help="a tiny run: digits, 1 seed, 2 rounds of 5"
    )
    args = parser.parse_args(argv)
    defaults = QUICK if args.quick else {"datasets": list(DEFAULT_DATASETS), "seeds": 5}
    if args.out is None:
        # A quick run must not replace the full run's results.
        args.out = (
            Path(tempfile.mkdtemp(prefix="alrank-simulation-")) if args.quick else DEFAULT_OUT
        )
    for name, value in defaults.items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    unknown = [name for name in args.datasets if name not in DATASETS]
    if unknown:
        parser.error(f"unknown dataset {unknown[0]!r}; choose from {', '.join(DATASETS)}")
    if args.seeds < 1 or not 0 < args.target <= 1:
        parser.error("--seeds must be at least 1 and --target in (0, 1]")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    """Run the simulation, write the figure, the table and the raw JSON; 0 on success."""
    args = parse_args(argv)
    started = time.monotonic()
    # The matrices are small: one BLAS thread fits them an order of magnitude
    # faster than several threads that spend their time synchronizing.
    with threadpool_limits(limits=1), service(args.url) as url, AlrankClient(url) as client:
        plans, skipped = plan_strategies(client.strategies(), committee=not args.no_committee)
        try:
            plans = choose(plans, args.strategies)
        except ValueError as error:
            print(f"error: {error}", file=sys.stderr)
            return 2
        if skipped:
            print("skipped: " + "; ".join(f"{name} ({why})" for name, why in skipped.items()))
        seeds = list(range(args.seeds))
        progress = Progress(len(args.datasets) * len(plans) * len(seeds))
        print(
            f"{len(plans)} strategies x {len(seeds)} seeds on {', '.join(args.datasets)}: "
            f"{progress.total} runs"
        )
        results = [
            run_dataset(
                client,
                DATASETS[name],
                plans,
                seeds,
                batch=args.batch or DATASETS[name].batch,
                rounds=args.rounds or DATASETS[name].rounds,
                fraction=args.target,
                progress=progress,
            )
            for name in args.datasets
        ]
    write_outputs(args.out, results, args)
    written = ", ".join(str(args.out / name) for name in (FIGURE, TABLE, RAW))
    print(f"\ndone in {time.monotonic() - started:.0f} s; wrote {written}")
    return 0


def write_outputs(out: Path, results: list[DatasetResult], args: argparse.Namespace) -> None:
    """The figure, the labels-to-target table and the raw numbers, in ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    plot_curves(results, args.target, out / FIGURE)
    (out / TABLE).write_text(markdown(results, args.target), encoding="utf-8")
    config = {
        "datasets": args.datasets,
        "strategies": sorted({name for result in results for name in result.curves}),
        "seeds": args.seeds,
        "batch": args.batch or "per dataset",
        "rounds": args.rounds or "per dataset",
        "committee": not args.no_committee,
        "model": "LogisticRegression(C=1.0) on standardized features",
    }
    write_json(out / RAW, results, args.target, config)
