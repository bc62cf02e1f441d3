"""The command line for batch jobs: rank a pool held in .npy files.

    python -m service.client rank --url http://alrank:8000 --strategy margin \\
        --budget 500 probs.npy > picks.json
    alrank rank --strategy badge --budget 100 probs.npy --embeddings penultimate.npy

The positional file is the input (``--input`` names its role, probabilities by
default); other arrays come as ``--<role> FILE``. The flags mirror the query
parameters of POST /v1/rank, and ``--param name=value`` sends a strategy or
input parameter. The answer is printed as JSON on stdout; on a 4xx or 5xx
the problem's detail goes to stderr and the exit status is 1 (2 for bad
flags or files, 3 when the service cannot be reached). Files are memory-mapped,
not read into memory first; uploads over 8 MiB show their progress on stderr
when it is a terminal (``--progress`` always, ``--quiet`` never).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

import numpy as np

from service.client.api import (
    ARRAY_ROLES,
    DEFAULT_TIMEOUT_S,
    DEFAULT_URL,
    AlrankClient,
    AlrankConnectionError,
    AlrankError,
)

# Bodies at least this large show their upload progress on a terminal.
PROGRESS_MIN_BYTES = 8 << 20
EXIT_PROBLEM, EXIT_USAGE, EXIT_UNREACHABLE = 1, 2, 3


def parser() -> argparse.ArgumentParser:
    """The ``rank`` command's flags."""
    top = argparse.ArgumentParser(prog="alrank", description="Talk to an alrank service.")
    commands = top.add_subparsers(dest="command", required=True)
    rank = commands.add_parser("rank", help="rank a pool held in .npy files; print the JSON answer")
    rank.add_argument("file", type=Path, help="the input array, a .npy file")
    rank.add_argument("--url", default=DEFAULT_URL, help=f"the service (default {DEFAULT_URL})")
    rank.add_argument("--strategy", required=True)
    rank.add_argument("--budget", required=True, type=int)
    rank.add_argument(
        "--input",
        default="probabilities",
        choices=ARRAY_ROLES,
        help="the role of the positional file (default probabilities)",
    )
    for role in ARRAY_ROLES:
        rank.add_argument(
            f"--{role.replace('_', '-')}",
            dest=f"array_{role}",
            type=Path,
            metavar="FILE",
            help=f"a .npy file sent as {role}",
        )
    rank.add_argument("--exclude", default="", help="comma-separated pool indices, e.g. 3,17,42")
    rank.add_argument("--exclude-file", type=Path, help="a .npy or text file of pool indices")
    rank.add_argument("--seed", type=int)
    rank.add_argument("--selection", choices=("top", "power", "softmax", "softrank"))
    rank.add_argument("--beta", type=float)
    rank.add_argument("--normalize", action="store_true")
    rank.add_argument("--return-all-scores", action="store_true")
    rank.add_argument("--return-token-scores", action="store_true")
    rank.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a strategy or input parameter (repeatable), e.g. --param temperature=2",
    )
    rank.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT_S, help="seconds")
    shown = rank.add_mutually_exclusive_group()
    shown.add_argument("--progress", action="store_true", help="always show upload progress")
    shown.add_argument("--quiet", action="store_true", help="never show upload progress")
    return top


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; the exit status."""
    args = parser().parse_args(argv)
    try:
        arrays = _arrays(args)
        params = _params(args.param)
        exclude = _exclude(args.exclude, args.exclude_file)
    except (OSError, ValueError) as error:
        print(f"alrank: {error}", file=sys.stderr)
        return EXIT_USAGE
    total = sum(int(array.nbytes) for array in arrays.values())
    show = args.progress or (not args.quiet and total >= PROGRESS_MIN_BYTES and sys.stderr.isatty())
    meter = UploadMeter(sys.stderr) if show else None
    try:
        with AlrankClient(args.url, timeout=args.timeout, on_upload=meter) as client:
            result = client.rank(
                args.strategy,
                args.budget,
                arrays=arrays,
                exclude=exclude,
                seed=args.seed,
                params=params,
                selection=args.selection,
                beta=args.beta,
                normalize=args.normalize,
                return_all_scores=args.return_all_scores,
                return_token_scores=args.return_token_scores,
            )
    except AlrankError as error:
        _end(meter)
        fields = ", ".join(error.errors) or "request"
        print(f"alrank: {error.status} {error.title} ({fields}): {error.detail}", file=sys.stderr)
        return EXIT_PROBLEM
    except AlrankConnectionError as error:
        _end(meter)
        print(f"alrank: {error}", file=sys.stderr)
        return EXIT_UNREACHABLE
    except ValueError as error:
        _end(meter)
        print(f"alrank: {error}", file=sys.stderr)
        return EXIT_USAGE
    _end(meter)
    json.dump(result.body, sys.stdout)
    sys.stdout.write("\n")
    return 0


def _arrays(args: argparse.Namespace) -> dict[str, np.ndarray]:
    """The positional input and each --<role> file, memory-mapped, by role."""
    files = {args.input: args.file}
    for role in ARRAY_ROLES:
        path = getattr(args, f"array_{role}")
        if path is None:
            continue
        if role in files:
            raise ValueError(f"{role} is given twice: as --input and as --{role.replace('_', '-')}")
        files[role] = path
    return {role: _load(path) for role, path in files.items()}


def _load(path: Path) -> np.ndarray:
    try:
        array: np.ndarray = np.load(path, mmap_mode="r", allow_pickle=False)
    except ValueError as error:
        raise ValueError(f"{path}: not a .npy array ({error})") from None
    return array


def _params(pairs: Sequence[str]) -> dict[str, str]:
    params: dict[str, str] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            raise ValueError(f"--param expects NAME=VALUE, got {pair!r}")
        if name in params:
            raise ValueError(f"--param {name} is given twice")
        params[name] = value
    return params


def _exclude(text: str, path: Path | None) -> list[int]:
    indices = [int(item) for item in text.split(",") if item.strip()] if text.strip() else []
    if path is not None:
        if path.suffix == ".npy":
            indices += np.load(path, allow_pickle=False).astype(np.int64).ravel().tolist()
        else:
            indices += [int(item) for item in path.read_text().split()]
    return indices


class UploadMeter:
    """Prints "uploaded 120.0 of 381.5 MiB (31%), 95 MiB/s" on one line of ``stream``."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self._started = time.monotonic()
        self._shown = -1.0
        self.used = False

    def __call__(self, sent: int, total: int) -> None:
        now = time.monotonic()
        if sent < total and now - self._shown < 0.2:
            return
        self._shown, self.used = now, True
        rate = sent / max(now - self._started, 1e-6) / 2**20
        share = 100 * sent / max(total, 1)
        self._stream.write(
            f"\ruploaded {sent / 2**20:.1f} of {total / 2**20:.1f} MiB ({share:.0f}%), "
            f"{rate:.0f} MiB/s"
        )
        self._stream.flush()

    def finish(self) -> None:
        """End the progress line, if one was printed."""
        if self.used:
            self._stream.write("\n")


def _end(meter: UploadMeter | None) -> None:
    if meter is not None:
        meter.finish()
