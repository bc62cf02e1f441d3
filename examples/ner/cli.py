"""Command line: python -m examples.ner [--strategies ...] [--seeds N] [--quick] ..."""

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

from examples.ner import corpus
from examples.ner.experiment import Job, Runner, full_pool_f1
from examples.ner.loop import Schedule
from examples.ner.model import CrfSettings
from examples.ner.plot import plot_curves
from examples.ner.progress import Progress
from examples.ner.rank import BASELINE, PLANS, PLANS_BY_NAME, Plan, RankClient, rank_body
from examples.ner.report import markdown
from examples.ner.results import NerResult, read_json, write_json
from examples.ner.task import prepare
from examples.simulation.experiment import Failure
from examples.simulation.server import REPO_ROOT, service
from service.client import AlrankError

DEFAULT_OUT = REPO_ROOT / "examples" / "results"
# Runs at once: a client process each, and a gunicorn worker each.
DEFAULT_JOBS = min(2, os.cpu_count() or 1)
FIGURE = "ner_f1_vs_tokens.png"
TABLE = "ner_tokens_to_target.md"
RAW = "ner_results.json"
DEFAULTS: dict[str, object] = {
    "strategies": [plan.name for plan in PLANS],
    "seeds": 5,
    "initial": 20,
    "batch": 80,
    "rounds": 10,
    # 0.9 of the ceiling, and 0.65, which random too reaches within the default rounds.
    "targets": (0.65, 0.9),
    "max_iterations": 50,
    "pool_limit": None,
    "test_limit": None,
    "jobs": DEFAULT_JOBS,
}
QUICK: dict[str, object] = {
    "strategies": ["random", "mnlp"],
    "seeds": 1,
    "initial": 10,
    "batch": 10,
    "rounds": 2,
    "pool_limit": 300,
    "test_limit": 100,
    "jobs": 1,
}


def _names(text: str) -> list[str]:
    return [name.strip() for name in text.split(",") if name.strip()]


def _fractions(text: str) -> tuple[float, ...]:
    values = tuple(sorted(float(value) for value in _names(text)))
    if not values or not all(0 < value <= 1 for value in values):
        raise argparse.ArgumentTypeError("targets are fractions in (0, 1], e.g. 0.8,0.9")
    return values


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """The options; --quick fills in the ones not given with a tiny run."""
    parser = argparse.ArgumentParser(
        prog="python -m examples.ner",
        description="Simulate active learning for named-entity recognition through the "
        "alrank service (a CRF on annotated tweets) and plot entity F1 against tokens "
        "labeled for each strategy, against random.",
    )
    parser.add_argument(
        "--strategies",
        type=_names,
        help=f"comma-separated, from {', '.join(PLANS_BY_NAME)} (default: all); "
        "random is always run as the baseline",
    )
    parser.add_argument("--seeds", type=int, help="seeds per strategy (default 5)")
    parser.add_argument("--initial", type=int, help="random sentences labeled first (default 20)")
    parser.add_argument("--batch", type=int, help="sentences per round (default 80)")
    parser.add_argument("--rounds", type=int, help="labeling rounds (default 10)")
    parser.add_argument(
        "--targets",
        type=_fractions,
        help="target F1s as fractions of the full-pool F1, comma-separated (default 0.65,0.9)",
    )
    parser.add_argument(
        "--max-iterations", type=int, help="the CRF's L-BFGS iterations (default 50)"
    )
    parser.add_argument("--pool-limit", type=int, help="keep the pool's first N sentences only")
    parser.add_argument("--test-limit", type=int, help="keep the test set's first N sentences only")
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
        help="a tiny run: random and mnlp, 1 seed, 2 rounds of 10 on a 300-sentence pool",
    )
    args = parser.parse_args(argv)
    defaults = DEFAULTS | (QUICK if args.quick else {})
    for name, value in defaults.items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    if args.out is None:
        # A quick run must not replace the full run's results.
        args.out = Path(tempfile.mkdtemp(prefix="alrank-ner-")) if args.quick else DEFAULT_OUT
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
    """Ask the service once per plan on a two-sentence pool; plan name -> error answer."""
    rows = [np.array([[0.6, 0.3, 0.1]]), np.array([[0.9, 0.05, 0.05], [0.4, 0.4, 0.2]])]
    failed: dict[str, str] = {}
    with RankClient(url) as client:
        for plan in plans:
            try:
                client.rank(rank_body(plan, 1, rows, seed=0))
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
                f"error: the service cannot rank sentences: {failed[BASELINE.name]}",
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
) -> NerResult:
    """Every plan on every seed, and the full-pool F1 computed beside them."""
    settings = CrfSettings(max_iterations=args.max_iterations)
    schedule = Schedule(args.initial, args.batch, args.rounds)
    seeds = list(range(args.seeds))
    ceiling = runner.submit(full_pool_f1, settings, args.pool_limit, args.test_limit)
    result = _empty_result(args, settings, schedule, seeds)
    progress = Progress(len(plans) * len(seeds))
    progress.say(
        f"{len(plans)} strategies x {len(seeds)} seeds, pool {result.pool_size:,} sentences "
        f"({result.pool_tokens:,} tokens), test {result.test_size:,} "
        f"({args.jobs} at once): {progress.total} runs"
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
            result.full_f1 = ceiling.result()
            ceiling_known = True
            progress.say(f"  the CRF on the whole pool: test F1 {result.full_f1:.3f}")
        if failures:
            result.failed[plan.name] = failures[0]
            progress.say(f"  {plan.name} left out: {failures[0]}")
            continue
        result.curves[plan.name] = curves
        progress.strategy_finished(result, plan.name)
    return result


def _empty_result(
    args: argparse.Namespace, settings: CrfSettings, schedule: Schedule, seeds: list[int]
) -> NerResult:
    task = prepare(args.pool_limit, args.test_limit)
    test_entities = sum(tag.startswith("B-") for tags in task.test_tags for tag in tags)
    return NerResult(
        corpus=corpus.describe(corpus.load()),
        schedule=schedule,
        settings=settings,
        seeds=seeds,
        pool_size=len(task.pool_tags),
        pool_tokens=task.pool_tokens,
        test_size=len(task.test_tags),
        test_tokens=sum(len(tags) for tags in task.test_tags),
        test_entities=test_entities,
        labels=len(task.labels),
        full_f1=0.0,
        fractions=args.targets,
    )


def run_config(result: NerResult, args: argparse.Namespace, elapsed: float) -> dict[str, object]:
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


def write_outputs(out: Path, result: NerResult, config: dict[str, Any]) -> None:
    """The figure, the tokens-to-target table and the raw numbers, in ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    plot_curves(result, out / FIGURE)
    table = markdown(result, config["elapsed_s"], config["jobs"])
    (out / TABLE).write_text(table, encoding="utf-8")
    write_json(out / RAW, result, config)
