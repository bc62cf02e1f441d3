"""Command line: python -m examples.simulation [--datasets ...] [--starts ...] [--quick] ..."""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from threadpoolctl import threadpool_limits

from examples.simulation.datasets import DATASETS, DEFAULT_DATASETS
from examples.simulation.experiment import Runner, run_dataset
from examples.simulation.plans import StrategyPlan, choose, plan_strategies
from examples.simulation.plot import plot_curves
from examples.simulation.progress import Progress
from examples.simulation.report import markdown
from examples.simulation.results import DatasetResult, write_json
from examples.simulation.server import REPO_ROOT, service
from examples.simulation.starts import DEFAULT_STARTS, STARTS
from examples.simulation.stopping import STOP_KAPPA, STOP_ROUNDS
from examples.simulation.stopping_plot import plot_stopping
from examples.simulation.stopping_report import stopping_markdown
from service.client import AlrankClient

DEFAULT_OUT = REPO_ROOT / "examples" / "results"
# Runs at once: a client process and a gunicorn worker each, alternating.
DEFAULT_JOBS = min(4, os.cpu_count() or 1)
QUICK = {"datasets": ["digits"], "seeds": 1, "rounds": 2, "batch": 5, "jobs": 1}
FIGURE = "learning_curves.png"
TABLE = "labels_to_target.md"
RAW = "results.json"
STOP_FIGURE = "stopping.png"
STOP_TABLE = "stopping.md"


def _names(text: str) -> list[str]:
    return [name.strip() for name in text.split(",") if name.strip()]


def parse_targets(text: str) -> dict[str, float]:
    """Start name -> target fraction, from "0.9" (every start) or "cold=0.9,tenth=0.98".

    Starts not named keep their default (see starts.py).
    """
    targets = {name: start.target for name, start in STARTS.items()}
    if not text.strip():
        return targets
    if "=" not in text:
        return dict.fromkeys(targets, float(text))
    for pair in _names(text):
        name, _, value = pair.partition("=")
        if name.strip() not in STARTS:
            raise argparse.ArgumentTypeError(
                f"unknown start {name.strip()!r}; choose from {', '.join(STARTS)}"
            )
        targets[name.strip()] = float(value)
    return targets


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
    parser.add_argument(
        "--starts",
        type=_names,
        help=f"comma-separated, from {', '.join(STARTS)} (default {','.join(DEFAULT_STARTS)}): "
        "2 labels per class, or a stratified random 10%% of the pool",
    )
    parser.add_argument("--seeds", type=int, help="seeds per strategy (default 5)")
    parser.add_argument("--batch", type=int, help="labels per round (default: per dataset)")
    parser.add_argument("--rounds", type=int, help="labeling rounds (default: per dataset)")
    parser.add_argument(
        "--target",
        dest="targets",
        type=parse_targets,
        default=parse_targets(""),
        help="target accuracy, as a fraction of the accuracy with every pool label: one for "
        "every start, or per start as cold=0.95,tenth=0.99 (the defaults)",
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
        "--jobs",
        type=int,
        help=f"runs at once, each in its own process (default {DEFAULT_JOBS}; the service "
        "started here gets as many workers); the results do not depend on it",
    )
    parser.add_argument(
        "--quick", action="store_true", help="a tiny run: digits, 1 seed, 2 rounds of 5, 1 job"
    )
    args = parser.parse_args(argv)
    defaults = dict(QUICK) if args.quick else {"datasets": list(DEFAULT_DATASETS), "seeds": 5}
    defaults = {"starts": list(DEFAULT_STARTS), "jobs": DEFAULT_JOBS, **defaults}
    if args.out is None:
        # A quick run must not replace the full run's results.
        args.out = (
            Path(tempfile.mkdtemp(prefix="alrank-simulation-")) if args.quick else DEFAULT_OUT
        )
    for name, value in defaults.items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    _check(parser, args)
    return args


def _check(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    for option, names, known in (
        ("dataset", args.datasets, DATASETS),
        ("start", args.starts, STARTS),
    ):
        unknown = [name for name in names if name not in known]
        if unknown:
            parser.error(f"unknown {option} {unknown[0]!r}; choose from {', '.join(known)}")
    if args.seeds < 1 or args.jobs < 1:
        parser.error("--seeds and --jobs must be at least 1")
    if not all(0 < value <= 1 for value in args.targets.values()):
        parser.error("--target must be in (0, 1]")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the simulation, write the figures, the tables and the raw JSON; 0 on success."""
    args = parse_args(argv)
    started = time.monotonic()
    # The matrices are small: one BLAS thread fits them an order of magnitude
    # faster than several threads that spend their time synchronizing.
    with (
        threadpool_limits(limits=1),
        service(args.url, workers=args.jobs) as url,
        Runner(url, args.jobs) as runner,
    ):
        with AlrankClient(url) as client:
            plans, skipped = plan_strategies(client.strategies(), committee=not args.no_committee)
        try:
            plans = choose(plans, args.strategies)
        except ValueError as error:
            print(f"error: {error}", file=sys.stderr)
            return 2
        if skipped:
            print("skipped: " + "; ".join(f"{name} ({why})" for name, why in skipped.items()))
        results = simulate(runner, plans, args)
    write_outputs(args.out, results, skipped, args)
    names = (FIGURE, TABLE, STOP_FIGURE, STOP_TABLE, RAW)
    written = ", ".join(str(args.out / name) for name in names)
    print(f"\ndone in {time.monotonic() - started:.0f} s; wrote {written}")
    return 0


def simulate(
    runner: Runner, plans: list[StrategyPlan], args: argparse.Namespace
) -> list[DatasetResult]:
    """Every plan on every dataset from every start: a result per start and dataset."""
    seeds = list(range(args.seeds))
    progress = Progress(len(args.starts) * len(args.datasets) * len(plans) * len(seeds))
    print(
        f"{len(plans)} strategies x {len(seeds)} seeds on {', '.join(args.datasets)}, "
        f"from {', '.join(args.starts)} ({args.jobs} at once): {progress.total} runs"
    )
    return [
        run_dataset(
            runner,
            DATASETS[name],
            STARTS[start],
            plans,
            seeds,
            batch=args.batch or DATASETS[name].batch,
            rounds=args.rounds or DATASETS[name].rounds,
            fraction=args.targets[start],
            progress=progress,
        )
        for start in args.starts
        for name in args.datasets
    ]


def write_outputs(
    out: Path, results: list[DatasetResult], skipped: dict[str, str], args: argparse.Namespace
) -> None:
    """The figures, the labels-to-target and stopping tables and the raw numbers, in ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    plot_curves(results, out / FIGURE)
    (out / TABLE).write_text(markdown(results, skipped), encoding="utf-8")
    plot_stopping(results, out / STOP_FIGURE)
    (out / STOP_TABLE).write_text(stopping_markdown(results), encoding="utf-8")
    config = {
        "datasets": args.datasets,
        "starts": {name: STARTS[name].title for name in args.starts},
        "targets": {name: args.targets[name] for name in args.starts},
        "strategies": sorted({name for result in results for name in result.curves}),
        "skipped": skipped,
        "seeds": args.seeds,
        "batch": args.batch or "per dataset",
        "rounds": args.rounds or "per dataset",
        "committee": not args.no_committee,
        "model": "LogisticRegression(C=1.0) on standardized features",
        "stopping": {
            "rule": "stabilizing_predictions",
            "kappa": STOP_KAPPA,
            "rounds": STOP_ROUNDS,
        },
    }
    write_json(out / RAW, results, config)
