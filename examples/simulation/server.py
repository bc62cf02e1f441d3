"""A service to talk to: the one at the given URL, one already serving locally, or our own.

Our own is gunicorn with the repository's gunicorn.conf.py on a free loopback
port, with a worker per run the simulation runs at once (each run sends one
request at a time), stopped when the simulation ends.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

from bench.server import HOST, free_port, stop
from service.client import AlrankClient, AlrankConnectionError, AlrankError

REPO_ROOT = Path(__file__).resolve().parents[2]
READY_TIMEOUT_S = 60.0


def local_url() -> str:
    """Where ``make serve`` listens: ALRANK_BIND, 127.0.0.1:8000 by default."""
    bind = os.environ.get("ALRANK_BIND", f"{HOST}:8000")
    host, _, port = bind.rpartition(":")
    if host in ("", "0.0.0.0", "[::]"):
        host = HOST
    return f"http://{host}:{port}"


def answers(url: str, timeout_s: float = 2.0) -> bool:
    """Whether an alrank service at ``url`` is ready to rank."""
    try:
        with AlrankClient(url, timeout=timeout_s) as client:
            return client.ready().get("status") == "ready"
    except (AlrankConnectionError, AlrankError):
        return False


@contextmanager
def service(
    url: str | None, say: Callable[[str], object] = print, *, workers: int = 1
) -> Iterator[str]:
    """The URL of a ready service for the duration of the block.

    ``url`` given: it must answer. Otherwise the local service when one
    answers, else a gunicorn with ``workers`` workers started here and
    stopped after the block.
    """
    if url is not None:
        if not answers(url):
            raise RuntimeError(f"no alrank service answers at {url}")
        say(f"using the service at {url}")
        yield url
        return
    local = local_url()
    if answers(local):
        say(f"using the service at {local}")
        yield local
        return
    with started(workers) as own:
        say(f"started gunicorn at {own} (stopped at the end)")
        yield own


@contextmanager
def started(workers: int = 1) -> Iterator[str]:
    """Run gunicorn on a free loopback port until the block ends; yield its URL.

    ALRANK_WORKERS, when set, wins over ``workers``.
    """
    port = free_port()
    url = f"http://{HOST}:{port}"
    env = os.environ | {"ALRANK_BIND": f"{HOST}:{port}", "ALRANK_LOG_LEVEL": "warning"}
    env.setdefault("ALRANK_WORKERS", str(workers))
    command = [
        sys.executable,
        "-m",
        "gunicorn",
        "--config",
        str(REPO_ROOT / "gunicorn.conf.py"),
        "service.app:create_app()",
    ]
    with tempfile.TemporaryFile() as log:
        process = subprocess.Popen(command, cwd=REPO_ROOT, env=env, stdout=log, stderr=log)
        try:
            wait_ready(process, url, log)
            yield url
        finally:
            stop(process)


def wait_ready(process: subprocess.Popen[bytes], url: str, log: IO[bytes]) -> None:
    """Poll GET /readyz until it answers; fail with gunicorn's log if it exits first."""
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"gunicorn exited with {process.returncode}:\n{_tail(log)}")
        if answers(url, timeout_s=1.0):
            return
        time.sleep(0.1)
    raise RuntimeError(f"gunicorn was not ready within {READY_TIMEOUT_S:g} s:\n{_tail(log)}")


def _tail(log: IO[bytes], size: int = 3000) -> str:
    log.seek(0)
    return log.read().decode("utf-8", errors="replace")[-size:]
