"""Command line: python -m examples.label_studio --ls-url URL --ls-token TOKEN --budget 20 ..."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from examples.label_studio.rounds import VIEW_TITLE, Round, run_round
from examples.simulation.server import local_url
from service.client import AlrankClient, AlrankConnectionError, AlrankError

SDK_MISSING = (
    "this example needs Label Studio's SDK: pip install label-studio-sdk "
    "(see README.md, 'In Label Studio')"
)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m examples.label_studio",
        description=(
            "Rank a Label Studio project's unlabeled tasks through alrank and write "
            "predictions whose score follows the ranking (first pick highest), with the "
            "model's label as a pre-annotation."
        ),
    )
    parser.add_argument(
        "--ls-url",
        default=os.environ.get("LABEL_STUDIO_URL", "http://localhost:8080"),
        help="Label Studio's address (default: $LABEL_STUDIO_URL or http://localhost:8080)",
    )
    parser.add_argument(
        "--ls-token",
        default=os.environ.get("LABEL_STUDIO_API_KEY"),
        help="an access token of a Label Studio user (default: $LABEL_STUDIO_API_KEY)",
    )
    parser.add_argument(
        "--project", type=int, help="the project's id (default: the server's only project)"
    )
    parser.add_argument(
        "--alrank-url",
        default=None,
        help="the alrank service (default: $ALRANK_BIND's address or http://127.0.0.1:8000)",
    )
    parser.add_argument("--budget", type=int, default=20, help="tasks to pick (default 20)")
    parser.add_argument("--strategy", default="margin", help="alrank strategy (default margin)")
    parser.add_argument(
        "--features-field",
        default="pixels",
        help="the task data field holding each task's feature vector (default pixels)",
    )
    parser.add_argument(
        "--control", help="the <Choices> control to pre-annotate (default: the config's first)"
    )
    parser.add_argument(
        "--model-version", help="the predictions' model version (default: strategy and time)"
    )
    parser.add_argument(
        "--view-title",
        default=VIEW_TITLE,
        help=f"the Data Manager tab ordered by score (default {VIEW_TITLE!r}; '' for none)",
    )
    parser.add_argument("--seed", type=int, default=0, help="for randomized strategies")
    args = parser.parse_args(argv)
    if args.budget < 1:
        parser.error("--budget must be at least 1")
    if not args.ls_token:
        parser.error("--ls-token (or LABEL_STUDIO_API_KEY) is required")
    return args


@contextmanager
def connected(url: str, token: str, timeout_s: float = 60.0) -> Iterator[Any]:
    """The SDK's client for the Label Studio at ``url``, its connections closed after."""
    try:
        import httpx
        from label_studio_sdk import LabelStudio
    except ImportError as error:
        raise SystemExit(SDK_MISSING) from error
    with httpx.Client(timeout=timeout_s, follow_redirects=True) as http:
        yield LabelStudio(base_url=url, api_key=token, httpx_client=http, timeout=timeout_s)


def sdk_errors() -> tuple[type[BaseException], ...]:
    """What the SDK raises for an error answer (ApiError) or an unreachable server."""
    try:
        import httpx
        from label_studio_sdk.core.api_error import ApiError
    except ImportError:
        return ()
    return (ApiError, httpx.HTTPError)


def only_project(ls: Any) -> int:
    """The id of the server's one project; an error naming them when there are several."""
    projects = list(ls.projects.list())
    if len(projects) == 1:
        return int(projects[0].id)
    names = ", ".join(f"{project.id} ({project.title})" for project in projects) or "none"
    raise ValueError(f"pass --project: the server has {len(projects)} projects: {names}")


def describe(result: Round, ls_url: str, truth: dict[int, str] | None = None) -> str:
    """The round as text: what was ranked, and the picks in Label Studio's order."""
    lines = [
        f"project {result.project}: {result.labeled} labeled tasks, {result.pool} to rank",
        f"{result.strategy} picked {len(result.picks)}; predictions written for "
        f"{result.written} tasks as model version {result.model_version}",
        "",
        "rank  task  score  pre-annotation" + ("  truth" if truth else ""),
    ]
    for rank, (task, score, label) in enumerate(
        zip(result.picks, result.scores, result.predicted, strict=True), start=1
    ):
        row = f"{rank:>4}  {task:>4}  {score:5.3f}  {label:>14}"
        if truth:
            row += f"  {truth.get(task, '?'):>5}"
        lines.append(row)
    if result.view is not None:
        lines += [
            "",
            f"open {ls_url.rstrip('/')}/projects/{result.project}/data?tab={result.view}: "
            "the tab lists the picks first; 'Label All Tasks' there follows that order",
        ]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    alrank_url = args.alrank_url or local_url()
    try:
        with connected(args.ls_url, args.ls_token) as ls, AlrankClient(alrank_url) as alrank:
            project = args.project if args.project is not None else only_project(ls)
            result = run_round(
                ls,
                alrank,
                project,
                budget=args.budget,
                strategy=args.strategy,
                features_field=args.features_field,
                control=args.control,
                model_version=args.model_version,
                view_title=args.view_title or None,
                seed=args.seed,
            )
    except (ValueError, AlrankError, AlrankConnectionError, *sdk_errors()) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(describe(result, args.ls_url))
    return 0
