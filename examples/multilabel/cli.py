"""Command line: python -m examples.multilabel [--strategies ...] [--seeds N] [--quick] ..."""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from examples.multilabel.experiment import Job, Runner, full_pool_f1
from examples.multilabel.loop import Schedule
from examples.multilabel.model import ModelSettings
from examples.multilabel.plot import plot_curves
from examples.multilabel.progress import Progress
from examples.multilabel.rank import BASELINE, PLANS, PLANS_BY_NAME, Plan, RankClient, rank_body
from examples.multilabel.report import markdown
from examples.multilabel.results import MultilabelResult, read_json, write_json
from examples.multilabel.task import DATA, prepare
from examples.simulation.cli import _names
from examples.simulation.experiment import Failure
from examples.simulation.server import REPO_ROOT, service
from service.client import AlrankError

DEFAULT_OUT = REPO_ROOT / "examples" / "results"
# Runs at once: a client process each, and a gunicorn worker each.
DEFAULT_JOBS = min(2, os.cpu_count() or 1)
FIGURE = "multilabel_f1_vs_labels.png"
TABLE = "multilabel_labels_to_target.md"
RAW = "multilabel_results.json"
DEFAULTS: dict[str, object] = {
    "strategies": [plan.name for plan in PLANS],
    "seeds": 5,
    "initial": 20,
    "batch": 20,
    "rounds": 30,
    "targets": (0.9, 0.95),
    "max_iterations": 1000,
    "pool_limit": None,
    "test_limit": None,
    "jobs": DEFAULT_JOBS,
}
QUICK: dict[str, object] = {
    "strategies": ["random", "label_cardinality_inconsistency"],
    "seeds": 1,
    "initial": 20,
    "batch": 10,
    "rounds": 2,
    "pool_limit": 300,
    "test_limit": 200,
    "jobs": 1,
}


def _fractions(text: str) -> tuple[float, ...]:
    values = tuple(sorted(float(value) for value in _names(text)))
    if not values or not all(0 < value <= 1 for value in values):
        raise argparse.ArgumentTypeError("targets are fractions in (0, 1], e.g. 0.9,0.95")
    return values


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """The options; --quick fills in the ones not given with a tiny run."""
    parser = argparse.ArgumentParser(
        prog="python -m examples.multilabel",
        description="Simulate multi-label active learning through the alrank service "
        "(one-vs-rest logistic regression on synthetic make_multilabel_classification "
        "data) and plot micro-F1 against items labeled for each strategy, against random.",
    )
    parser.add_argument(
        "--strategies",
        type=_names,
        help=f"comma-separated, from {', '.join(PLANS_BY_NAME)} (default: all); "
        "random is always run as the baseline",
    )
    parser.add_argument("--seeds", type=int, help="seeds per strategy (default 5)")
    parser.add_argument("--initial", type=int, help="random items labeled first (default 20)")
    parser.add_argument("--batch", type=int, help="items per round (default 20)")
    parser.add_argument("--rounds", type=int, help="labeling rounds (default 30)")
    parser.add_argument(
        "--targets",
        type=_fractions,
        help="target micro-F1s as fractions of the full-pool one, comma-separated "
        "(default 0.9,0.95)",
    )
    parser.add_argument(
        "--max-iterations",
        type=int,
        help="each logistic regression's L-BFGS iterations (default 1000)",
    )
    parser.add_argument("--pool-limit", type=int, help="keep the pool's first N items only")
    parser.add_argument("--test-limit", type=int, help="keep the test set's first N items only")
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
        "--replot",
        action="store_true",
        help=f"run nothing: redraw the figure and rewrite the table from {RAW} in --out, "
        "with --targets",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="a tiny run: random and label_cardinality_inconsistency, 1 seed, 2 rounds of 10 "
        "on a 300-item pool",
    )
    args = parser.parse_args(argv)
    defaults = DEFAULTS | (QUICK if args.quick else {})
    for name, value in defaults.items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    if args.out is None:
        # A quick run must not replace the full run's results.
        quick_out = Path(tempfile.mkdtemp(prefix="alrank-multilabel-")) if args.quick else None
        args.out = quick_out or DEFAULT_OUT
    _check(parser, args)
    return args


def _check(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    unknown = [name for name in args.strategies if name not in PLANS_BY_NAME]
    if unknown:
        parser.error(f"unknown strategy {unknown[0]!r}; choose from {', '.join(PLANS_BY_NAME)}")
    for option in ("seeds", "initial", "batch", "rounds", "jobs", "max_iterations"):
        if getattr(args, option) < 1:
            parser.error(f"--{option.replace('_', '-')} must be at least 1")


def plans_for(names: Sequence[str]) -> list[Plan]:
    """The named plans in the registry's order, random first and always there."""
    wanted = {BASELINE.name, *names}
    return [plan for plan in PLANS if plan.name in wanted]


def probe(url: str, plans: Sequence[Plan]) -> dict[str, str]:
    """Ask the service once per plan on a two-item pool; plan name -> error answer."""
    probabilities = np.array([[0.6, 0.3, 0.1], [0.9, 0.5, 0.05]])
    labeled = np.array([[1, 0, 1]])
    failed: dict[str, str] = {}
    with RankClient(url) as client:
        for plan in plans:
            try:
                client.rank(rank_body(plan, 1, probabilities, labeled, seed=0))
            except AlrankError as error:
                failed[plan.name] = (
                    f"HTTP {error.status}: {json.dumps(error.problem, sort_keys=True)}"
                )
    return failed


def main(argv: Sequence[str] | None = None) -> int:
    """Run the simulation, write the figure, the table and the raw JSON; 0 on success."""
    args = parse_args(argv)
    if args.replot:
        return replot(args)
    started = time.monotonic()
    plans = plans_for(args.strategies)
    with service(args.url, workers=args.jobs) as url, Runner(args.jobs) as runner:
        failed = probe(url, plans)
        if BASELINE.name in failed:
            print(
                f"error: the service cannot rank multi-label items: {failed[BASELINE.name]}",
                file=sys.stderr,
            )
            return 1
        for name, answer in failed.items():
            print(f"left out {name}: {answer}")
        result = simulate(runner, url, [plan for plan in plans if plan.name not in failed], args)
        result.failed |= failed
    elapsed = time.monotonic() - started
    write_outputs(args.out, result, run_config(result, args, elapsed))
    written = ", ".join(str(args.out / name) for name in (FIGURE, TABLE, RAW))
    print(f"\ndone in {elapsed:.0f} s; wrote {written}")
    return 0


def replot(args: argparse.Namespace) -> int:
    """Rewrite the outputs in ``args.out`` from its raw JSON, with ``args.targets``."""
    raw = args.out / RAW
    if not raw.is_file():
        print(f"error: no {raw} to redraw from", file=sys.stderr)
        return 2
    config = json.loads(raw.read_text(encoding="utf-8"))["config"]
    result = read_json(raw, args.targets)
    write_outputs(args.out, result, config | {"targets": list(result.fractions)})
    print(f"rewrote {', '.join(str(args.out / name) for name in (FIGURE, TABLE, RAW))}")
    return 0


def simulate(
    runner: Runner, url: str, plans: Sequence[Plan], args: argparse.Namespace
) -> MultilabelResult:
    """Every plan on every seed, and the full-pool F1 computed beside them."""
    settings = ModelSettings(max_iterations=args.max_iterations)
    schedule = Schedule(args.initial, args.batch, args.rounds)
    seeds = list(range(args.seeds))
    ceiling = runner.submit(full_pool_f1, settings, args.pool_limit, args.test_limit)
    result = _empty_result(args, settings, schedule, seeds)
    progress = Progress(len(plans) * len(seeds))
    progress.say(
        f"{len(plans)} strategies x {len(seeds)} seeds, synthetic pool {result.pool_size:,} "
        f"items ({result.labels} labels, {result.cardinality:.2f} per item), test "
        f"{result.test_size:,} ({args.jobs} at once): {progress.total} runs"
    )
    jobs = [
        Job(url, plan, seed, schedule, settings, args.pool_limit, args.test_limit)
        for plan in plans
        for seed in seeds
    ]
    outcomes = runner.outcomes(jobs)
    ceiling_known = False
    for plan in plans:
        curves, failures = [], []
        for seed in seeds:
            outcome = next(outcomes)
            if isinstance(outcome, Failure):
                failures.append(f"seed {seed}: {outcome.reason}")
            else:
                curves.append(outcome)
            progress.run_finished(plan.name, seed)
        if not ceiling_known:
            result.full_micro, result.full_macro = ceiling.result()
            ceiling_known = True
            progress.say(
                f"  the model on the whole pool: test micro-F1 {result.full_micro:.3f}, "
                f"macro-F1 {result.full_macro:.3f}"
            )
        if failures:
            result.failed[plan.name] = failures[0]
            progress.say(f"  {plan.name} left out: {failures[0]}")
            continue
        result.curves[plan.name] = curves
        progress.strategy_finished(result, plan.name)
    return result


def _empty_result(
    args: argparse.Namespace, settings: ModelSettings, schedule: Schedule, seeds: list[int]
) -> MultilabelResult:
    task = prepare(args.pool_limit, args.test_limit)
    return MultilabelResult(
        data=DATA.describe(),
        schedule=schedule,
        settings=settings,
        seeds=seeds,
        pool_size=len(task.pool_y),
        test_size=len(task.test_y),
        labels=task.labels,
        cardinality=task.cardinality,
        full_micro=0.0,
        full_macro=0.0,
        fractions=args.targets,
    )


def run_config(
    result: MultilabelResult, args: argparse.Namespace, elapsed: float
) -> dict[str, object]:
    """What the raw JSON records about how the run was made."""
    return {
        "strategies": list(result.curves),
        "failed": result.failed,
        "targets": list(result.fractions),
        "pool_limit": args.pool_limit,
        "test_limit": args.test_limit,
        "jobs": args.jobs,
        "elapsed_s": round(elapsed, 1),
        "model": asdict(result.settings),
    }


def write_outputs(out: Path, result: MultilabelResult, config: dict[str, Any]) -> None:
    """The figure, the labels-to-target table and the raw numbers, in ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    plot_curves(result, out / FIGURE)
    table = markdown(result, config["elapsed_s"], config["jobs"])
    (out / TABLE).write_text(table, encoding="utf-8")
    write_json(out / RAW, result, config)
