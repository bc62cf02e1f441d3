"""python -m bench.fuzz: the stock schemathesis command line against a live gunicorn.

Starts the service as deployed (gunicorn.conf.py, two workers) on a free
loopback port, with an API key and an empty model store of its own, and runs

    schemathesis run <url>/openapi.yaml --checks all --workers 2

from the repository root, so that schemathesis.toml is read: every phase
(examples, coverage, fuzzing, stateful), every check, and warnings counted as
failures. Then stops the server, and prints how the requests were answered,
by route and status, from the server's own log: a run whose valid requests
all got 4xx would prove little.

Exits with schemathesis' status, or 1 when the server logged a 5xx or a
traceback.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import subprocess
import sys
import tempfile
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from bench.results import ROOT
from bench.server import HOST, running_server

WORKERS = 2


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--max-examples", type=int, default=100, help="generated cases per operation and phase"
    )
    parser.add_argument("--seed", type=int, help="reproduce a run (schemathesis prints its seed)")
    args = parser.parse_args(argv)
    api_key = secrets.token_hex(16)
    with tempfile.TemporaryDirectory(prefix="alrank-fuzz-") as scratch:
        settings = {
            "ALRANK_WORKERS": str(WORKERS),
            "ALRANK_API_KEY": api_key,
            "ALRANK_MODEL_DIR": str(Path(scratch) / "models"),
            "ALRANK_LOG_LEVEL": "info",
        }
        with running_server(Path(scratch), settings) as server:
            command = [
                str(Path(sys.executable).with_name("schemathesis")),
                "run",
                f"http://{HOST}:{server.port}/openapi.yaml",
                "--checks",
                "all",
                "--workers",
                str(WORKERS),
                "--max-examples",
                str(args.max_examples),
                *(["--seed", str(args.seed)] if args.seed is not None else []),
            ]
            print("$", " ".join(command), flush=True)
            # The key reaches the run through the environment, never the command line.
            # The hooks are imported as tests.schemathesis_hooks: the project's
            # root goes first on the path, before any installed package that
            # ships a top-level `tests` (small-text does).
            path = os.pathsep.join([str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])])
            env = os.environ | {"ALRANK_API_KEY": api_key, "PYTHONPATH": path}
            status = subprocess.run(command, cwd=ROOT, env=env, check=False).returncode
        log = server.log_path.read_text(errors="replace")
    answers = answered(log)
    print("\nanswers, by route and status (from the server log):")
    for (method, path, code), count in sorted(answers.items()):
        print(f"  {method:6} {path:28} {code}  {count}")
    server_errors = sum(count for (_, _, code), count in answers.items() if code >= 500)
    if server_errors or "Traceback" in log:
        print(f"the server logged {server_errors} 5xx answers or a traceback", file=sys.stderr)
        return 1
    return status


def answered(log: str) -> Counter[tuple[str, str, int]]:
    """How many requests each (method, route, status) got, from the access log's JSON lines."""
    counts: Counter[tuple[str, str, int]] = Counter()
    for line in log.splitlines():
        if not line.startswith("{"):
            continue
        entry = json.loads(line)
        if "status" in entry and "method" in entry:
            route = str(entry.get("route") or entry.get("path"))
            counts[(str(entry["method"]), route, int(entry["status"]))] += 1
    return counts


if __name__ == "__main__":
    sys.exit(main())
