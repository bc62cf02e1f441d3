"""python -m examples.label_studio.demo: the whole loop against a real Label Studio, offline.

Starts Label Studio (``label-studio start``, data in a temporary directory,
on a free loopback port) and an alrank gunicorn (or uses a service that
answers), creates a digits project, imports the tasks, annotates a few seed
tasks per class from the ground truth through the SDK, runs one round
(``rounds.run_round``), then reads back through the SDK the project's tasks
in the tab's order and by score, and checks that both begin with the
service's picks, in its order. Then it acts as an annotator in the tab: it
takes the label stream's next task (what "Label All Tasks" opens) and
annotates it, a few times, and checks that the stream handed out the first
picks in order. Stops both servers at the end.

Label Studio must be installed in the interpreter's environment (its
``label-studio`` command beside ``sys.executable`` or on PATH) with
``label-studio-sdk``; its first start migrates a fresh database, about two
minutes on two cores.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from bench.server import HOST, free_port
from examples.label_studio.cli import connected, describe
from examples.label_studio.digits import FEATURES_FIELD, LABEL_CONFIG, digit_tasks
from examples.label_studio.labeling import choices_config
from examples.label_studio.rounds import Round, next_in_stream, ordered_task_ids, run_round
from examples.simulation.server import service
from service.client import AlrankClient

READY_TIMEOUT_S = 600.0
STOP_TIMEOUT_S = 30.0
USERNAME = "demo@example.com"
PROJECT_TITLE = "alrank demo: digits"


@dataclass(frozen=True)
class LabelStudioServer:
    """A running ``label-studio start`` and how to reach it."""

    url: str
    token: str
    username: str
    password: str
    started_s: float


@dataclass
class DemoResult:
    """What the demo saw: the round, Label Studio's orderings, and how long each step took."""

    round: Round
    truth: dict[int, str]
    tab_order: list[int]
    score_order: list[int]
    stream: list[int] = field(default_factory=list)
    stream_asked: int = 0
    seconds: dict[str, float] = field(default_factory=dict)

    @property
    def picks_first(self) -> bool:
        """Whether both orderings begin with the service's picks, in its order."""
        picks = list(self.round.picks)
        return self.tab_order[: len(picks)] == picks and self.score_order[: len(picks)] == picks

    @property
    def stream_follows(self) -> bool:
        """Whether the tab's label stream handed out the first picks, in the service's order."""
        wanted = list(self.round.picks[: self.stream_asked])
        return self.stream == wanted


def find_label_studio() -> str | None:
    """The ``label-studio`` command of this interpreter's environment, else the one on PATH."""
    beside = Path(sys.executable).parent / "label-studio"
    if beside.exists():
        return str(beside)
    return shutil.which("label-studio")


@contextmanager
def label_studio(
    executable: str, data_dir: Path, *, port: int | None = None
) -> Iterator[LabelStudioServer]:
    """Run ``label-studio start`` on loopback with its data in ``data_dir`` until the block ends.

    A fresh user with a fresh legacy API token, which the SDK sends as
    ``Authorization: Token ...``; no version check, no analytics.
    """
    port = port or free_port()
    token, password = secrets.token_hex(20), secrets.token_urlsafe(16)
    env = os.environ | {
        "LABEL_STUDIO_BASE_DATA_DIR": str(data_dir),
        "LABEL_STUDIO_LATEST_VERSION_CHECK": "false",
        "LABEL_STUDIO_COLLECT_ANALYTICS": "false",
    }
    command = [
        executable,
        "start",
        "--no-browser",
        "--internal-host",
        HOST,
        "--port",
        str(port),
        "--data-dir",
        str(data_dir),
        "--username",
        USERNAME,
        "--password",
        password,
        "--user-token",
        token,
        "--enable-legacy-api-token",
        "--log-level",
        "WARNING",
    ]
    url = f"http://{HOST}:{port}"
    start = time.monotonic()
    with (data_dir / "label-studio.log").open("w+b") as log:
        process = subprocess.Popen(
            command,
            env=env,
            stdout=log,
            stderr=log,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        try:
            wait_up(process, url, log)
            yield LabelStudioServer(url, token, USERNAME, password, time.monotonic() - start)
        finally:
            stop_group(process)


def wait_up(process: subprocess.Popen[bytes], url: str, log: IO[bytes]) -> None:
    """Poll GET /health until Label Studio says UP; fail with its log if it exits first."""
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"label-studio exited with {process.returncode}:\n{_tail(log)}")
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=2) as answer:
                if json.loads(answer.read()).get("status") == "UP":
                    return
        except (urllib.error.URLError, OSError, ValueError):
            pass
        time.sleep(0.5)
    raise RuntimeError(f"label-studio was not up within {READY_TIMEOUT_S:g} s:\n{_tail(log)}")


def stop_group(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM the process group the server leads; SIGKILL it if it does not stop."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def create_project(ls: Any, tasks: list[dict[str, Any]]) -> tuple[int, dict[int, int]]:
    """A digits project with ``tasks`` imported: (its id, task id -> digits row)."""
    project = int(ls.projects.create(title=PROJECT_TITLE, label_config=LABEL_CONFIG).id)
    ls.projects.import_tasks(id=project, request=tasks)
    rows = {int(task.id): int(task.data["ref"]) for task in ls.tasks.list(project=project)}
    if len(rows) != len(tasks):
        raise RuntimeError(f"imported {len(tasks)} tasks, Label Studio lists {len(rows)}")
    return project, rows


def annotate_seeds(ls: Any, project: int, truth: dict[int, str], per_class: int) -> list[int]:
    """Annotate the first ``per_class`` tasks of each class with their true label."""
    config = choices_config(LABEL_CONFIG)
    chosen: list[int] = []
    taken: dict[str, int] = {}
    for task_id in sorted(truth):
        label = truth[task_id]
        if taken.get(label, 0) < per_class:
            taken[label] = taken.get(label, 0) + 1
            ls.annotations.create(id=task_id, result=config.result(label), project=project)
            chosen.append(task_id)
    return chosen


def label_from_stream(
    ls: Any, project: int, view: int, truth: dict[int, str], count: int
) -> list[int]:
    """Act as an annotator in tab ``view``: take the next task, label it truly; ``count`` times."""
    config = choices_config(LABEL_CONFIG)
    handed: list[int] = []
    for _ in range(count):
        task = next_in_stream(ls, project, view)
        if task is None:
            break
        ls.annotations.create(id=task, result=config.result(truth[task]), project=project)
        handed.append(task)
    return handed


def run_demo(
    *,
    tasks: int = 300,
    budget: int = 20,
    strategy: str = "margin",
    per_class: int = 2,
    stream: int = 3,
    seed: int = 0,
    executable: str | None = None,
    alrank_url: str | None = None,
    say: Callable[[str], object] = print,
    keep: Callable[[LabelStudioServer, DemoResult], object] | None = None,
) -> DemoResult:
    """Start both servers, run one round, read Label Studio's orderings back, stop."""
    executable = executable or find_label_studio()
    if executable is None:
        raise RuntimeError("no label-studio command: pip install label-studio")
    wall = time.monotonic()
    made = digit_tasks(tasks, seed)
    seconds: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="alrank-label-studio-") as scratch:
        say(f"starting Label Studio ({executable}), data in {scratch}")
        with (
            label_studio(executable, Path(scratch)) as server,
            service(alrank_url, say) as url,
            connected(server.url, server.token) as ls,
        ):
            seconds["label_studio_start"] = server.started_s
            say(f"Label Studio up at {server.url} after {server.started_s:.1f} s")
            step = time.monotonic()
            project, rows = create_project(ls, made.tasks)
            truth = {task_id: made.truth[row] for task_id, row in rows.items()}
            seeds = annotate_seeds(ls, project, truth, per_class)
            seconds["project_import_seed"] = time.monotonic() - step
            say(f"project {project}: {len(rows)} tasks imported, {len(seeds)} annotated as seeds")
            step = time.monotonic()
            with AlrankClient(url) as alrank:
                result = run_round(
                    ls,
                    alrank,
                    project,
                    budget=budget,
                    strategy=strategy,
                    features_field=FEATURES_FIELD,
                    seed=seed,
                )
            seconds["round"] = time.monotonic() - step
            step = time.monotonic()
            demo = DemoResult(
                round=result,
                truth=truth,
                tab_order=ordered_task_ids(ls, project, result.view),
                score_order=ordered_task_ids(ls, project),
                seconds=seconds,
            )
            if result.view is not None:
                demo.stream_asked = stream
                demo.stream = label_from_stream(ls, project, result.view, truth, stream)
            seconds["read_back_and_stream"] = time.monotonic() - step
            say(describe(result, server.url, truth))
            if keep is not None:
                keep(server, demo)
            step = time.monotonic()
        seconds["stop"] = time.monotonic() - step
    seconds["wall"] = time.monotonic() - wall
    return demo


def report(demo: DemoResult) -> str:
    """Label Studio's orderings against the service's picks, and the timings."""
    picks = list(demo.round.picks)
    shown = len(picks) + 3
    lines = [
        "",
        f"service's picks, best first:     {picks}",
        f"tab {demo.round.view} order, first {shown}:  {demo.tab_order[:shown]}",
        f"by -predictions_score, first {shown}: {demo.score_order[:shown]}",
        "both begin with the picks in the service's order"
        if demo.picks_first
        else "MISMATCH: Label Studio does not list the picks first",
        f"the tab's label stream handed out, one after another: {demo.stream}",
        "the service's first picks, in its order"
        if demo.stream_follows
        else "MISMATCH: the label stream does not follow the picks",
        "",
        "seconds: " + ", ".join(f"{name} {value:.1f}" for name, value in demo.seconds.items()),
    ]
    return "\n".join(lines)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m examples.label_studio.demo",
        description="Label Studio + alrank on loopback: one ranked round on the digits.",
    )
    parser.add_argument("--tasks", type=int, default=300, help="digits to import (default 300)")
    parser.add_argument("--budget", type=int, default=20, help="tasks to pick (default 20)")
    parser.add_argument("--strategy", default="margin", help="alrank strategy (default margin)")
    parser.add_argument(
        "--per-class", type=int, default=2, help="seed annotations per digit (default 2)"
    )
    parser.add_argument(
        "--stream",
        type=int,
        default=3,
        help="tasks to take from the tab's label stream and annotate afterwards (default 3)",
    )
    parser.add_argument("--seed", type=int, default=0, help="which digits, and random strategies")
    parser.add_argument("--label-studio", help="the label-studio command (default: found)")
    parser.add_argument(
        "--alrank-url", help="an alrank service to use (default: a local one, else started)"
    )
    parser.add_argument(
        "--keep",
        action="store_true",
        help="keep both servers up, printing Label Studio's login, until Enter",
    )
    return parser.parse_args(argv)


def _wait_for_enter(server: LabelStudioServer, demo: DemoResult) -> None:
    print(
        f"\nLabel Studio: {server.url}/projects/{demo.round.project}/data?tab={demo.round.view}"
        f"\nlog in as {server.username} / {server.password}; press Enter to stop both servers"
    )
    sys.stdin.readline()


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    demo = run_demo(
        tasks=args.tasks,
        budget=args.budget,
        strategy=args.strategy,
        per_class=args.per_class,
        stream=args.stream,
        seed=args.seed,
        executable=args.label_studio,
        alrank_url=args.alrank_url,
        keep=_wait_for_enter if args.keep else None,
    )
    print(report(demo))
    return 0 if demo.picks_first and demo.stream_follows else 1


def _tail(log: IO[bytes], size: int = 4000) -> str:
    log.flush()
    log.seek(0)
    return log.read().decode("utf-8", errors="replace")[-size:]


if __name__ == "__main__":
    raise SystemExit(main())
