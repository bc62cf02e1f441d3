"""A real gunicorn running the service on a free loopback port, for the transport figure."""

from __future__ import annotations

import http.client
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from bench.results import ROOT

HOST = "127.0.0.1"
READY_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class Server:
    """A running gunicorn master and where it listens."""

    process: subprocess.Popen[bytes]
    port: int
    log_path: Path

    def worker_pids(self) -> list[int]:
        """Process ids of the master's workers."""
        return child_pids(self.process.pid)

    def only_worker(self) -> int:
        """The one worker's process id (the server runs with ALRANK_WORKERS=1)."""
        pids = self.worker_pids()
        if len(pids) != 1:
            raise RuntimeError(f"expected one gunicorn worker, found {pids}")
        return pids[0]


def free_port() -> int:
    """A TCP port on the loopback interface that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((HOST, 0))
        return int(probe.getsockname()[1])


@contextmanager
def running_server(log_dir: Path, settings: Mapping[str, str] | None = None) -> Iterator[Server]:
    """Start gunicorn with gunicorn.conf.py and one worker, wait for /readyz, stop it after.

    ``settings`` are extra ALRANK_* variables (limits, say).
    """
    port = free_port()
    env = os.environ | {
        "ALRANK_BIND": f"{HOST}:{port}",
        "ALRANK_WORKERS": "1",
        "ALRANK_LOG_LEVEL": "warning",
    }
    env |= dict(settings or {})
    log_path = log_dir / f"gunicorn-{port}.log"
    command = [
        sys.executable,
        "-m",
        "gunicorn",
        "--config",
        str(ROOT / "gunicorn.conf.py"),
        "service.app:create_app()",
    ]
    with log_path.open("wb") as log:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=log)
    server = Server(process, port, log_path)
    try:
        wait_ready(server)
        yield server
    finally:
        stop(process)


def wait_ready(server: Server, timeout_s: float = READY_TIMEOUT_S) -> None:
    """Poll GET /readyz until it answers 200 and the worker is up."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            log = server.log_path.read_text(errors="replace")[-2000:]
            raise RuntimeError(f"gunicorn exited with {server.process.returncode}:\n{log}")
        if _ready(server.port) and server.worker_pids():
            return
        time.sleep(0.1)
    raise TimeoutError(f"gunicorn was not ready within {timeout_s:g} s")


def _ready(port: int) -> bool:
    connection = http.client.HTTPConnection(HOST, port, timeout=2)
    try:
        connection.request("GET", "/readyz")
        return connection.getresponse().status == 200
    except OSError:
        return False
    finally:
        connection.close()


def stop(process: subprocess.Popen[bytes]) -> None:
    """Ask the gunicorn master to shut down gracefully; kill it if it does not."""
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def child_pids(parent: int) -> list[int]:
    """Process ids whose parent is ``parent``, from /proc."""
    children = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            status = (entry / "status").read_text()
        except OSError:
            continue
        if proc_status_field(status, "PPid") == parent:
            children.append(int(entry.name))
    return sorted(children)


def proc_status_field(status: str, name: str) -> int:
    """An integer field of /proc/<pid>/status ("VmHWM" in kB, "PPid", ...); -1 if absent."""
    for line in status.splitlines():
        key, _, value = line.partition(":")
        if key == name:
            return int(value.split()[0])
    return -1


def peak_rss_bytes(pid: int) -> int:
    """The process's peak resident set size so far (VmHWM), in bytes."""
    status = Path(f"/proc/{pid}/status").read_text()
    return proc_status_field(status, "VmHWM") * 1024


def rss_bytes(pid: int) -> int:
    """The process's resident set size now (VmRSS), in bytes."""
    status = Path(f"/proc/{pid}/status").read_text()
    return proc_status_field(status, "VmRSS") * 1024
