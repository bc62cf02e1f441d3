"""Validate an uploaded model in a child process with a memory and a time limit.

The child is a fresh interpreter (``python -m service.models.validation
PATH MEMORY SECONDS``), never a fork of the calling worker, so it inherits no
session, thread pool or lock. It imports onnxruntime, then caps its own
address space (RLIMIT_AS: what it maps already plus the memory limit) and CPU
time (RLIMIT_CPU), disables core dumps, reads the model file, runs the static
checks, creates the model's session exactly as a worker would, runs it once on
zeros when its one input has a known row shape, and prints the model's
signature as JSON. The parent kills it at the wall-clock limit. A
child that crashes, runs out of memory or time, or refuses the model means
ModelRejected with the reason.

A fresh interpreter rather than multiprocessing's "spawn" or "forkserver":
those re-run the parent's ``__main__`` module in the child, which breaks
under any entry point without a ``__name__ == "__main__"`` guard.
"""

from __future__ import annotations

import json
import math
import os
import resource
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort

from service import metrics
from service.models.errors import ModelRejected
from service.models.inspection import check_model_bytes
from service.models.sessions import FATAL_LOG_LEVEL, ORT_ERRORS, create_session, ort_message
from service.models.signature import TENSOR_DTYPES, describe_session

MiB = 1 << 20
# The directory holding the ``service`` package, so the child imports this code.
_PACKAGE_ROOT = Path(__file__).resolve().parents[2]
# Largest answer read from the child.
_MAX_ANSWER_BYTES = 1 << 20


@dataclass(frozen=True)
class ValidationLimits:
    """What validating one model may cost.

    ``memory_bytes``: address space the child may map beyond what an
    interpreter with onnxruntime imported maps already. ``seconds``: wall
    clock for the whole child, interpreter start included.
    """

    memory_bytes: int = 1024 * MiB
    seconds: float = 30.0


def validate_model_file(path: Path, limits: ValidationLimits) -> dict[str, Any]:
    """The signature of the model at ``path`` (see signature.describe_session).

    Raises ModelRejected when the model fails the static checks, onnxruntime
    cannot create its session, or the child crashes or exceeds its limits.
    """
    command = [
        sys.executable,
        "-m",
        __name__,
        str(path),
        str(limits.memory_bytes),
        str(limits.seconds),
    ]
    try:
        child = subprocess.run(
            command,
            cwd=_PACKAGE_ROOT,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            # The child's own metrics must not mix with the workers'.
            env={k: v for k, v in os.environ.items() if k != metrics.MULTIPROCESS_VARIABLE},
            timeout=limits.seconds,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise ModelRejected(_time_reason(limits)) from None
    answer = _parse_answer(child.stdout)
    if answer is None:
        raise ModelRejected(_death_reason(child.returncode, limits))
    if answer.get("verdict") != "ok":
        raise ModelRejected(str(answer.get("reason", "the model was refused")))
    signature: dict[str, Any] = answer["signature"]
    return signature


def _parse_answer(stdout: bytes) -> dict[str, Any] | None:
    if not stdout or len(stdout) > _MAX_ANSWER_BYTES:
        return None
    try:
        answer = json.loads(stdout.splitlines()[-1])
    except (ValueError, IndexError):
        return None
    return answer if isinstance(answer, dict) else None


def _time_reason(limits: ValidationLimits) -> str:
    return f"loading the model took longer than the limit of {limits.seconds:g} s"


def _death_reason(returncode: int, limits: ValidationLimits) -> str:
    """Why a child that printed no answer stopped."""
    if returncode == -signal.SIGXCPU:
        return _time_reason(limits)
    if returncode == -signal.SIGKILL:
        return (
            "the validating process was killed while loading the model (limits: "
            f"{limits.seconds:g} s, {limits.memory_bytes // MiB} MiB)"
        )
    if returncode < 0:
        return f"onnxruntime crashed ({_signal_name(-returncode)}) while loading the model"
    return f"loading the model stopped the validating process (exit code {returncode})"


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


def check_and_load(data: bytes) -> dict[str, Any]:
    """Static checks, a session exactly as a worker creates it and a trial run;
    the model's signature."""
    check_model_bytes(data)
    session = create_session(data, log_level=FATAL_LOG_LEVEL)
    feed = trial_feed(session)
    if feed is not None:
        try:
            session.run(None, feed)
        except ORT_ERRORS as error:
            if _is_memory_error(error):
                raise
            raise ModelRejected(
                f"the model fails on a batch of zeros: {ort_message(error)}"
            ) from None
    return describe_session(session)


def trial_feed(session: ort.InferenceSession) -> dict[str, np.ndarray] | None:
    """Zeros for a model with one numeric tensor input whose axes after the
    first have fixed sizes (one row, or the fixed batch); None for other models."""
    inputs = session.get_inputs()
    if len(inputs) != 1 or inputs[0].type not in TENSOR_DTYPES or not inputs[0].shape:
        return None
    first, *rest = inputs[0].shape
    if not all(isinstance(size, int) and size > 0 for size in rest):
        return None
    rows = first if isinstance(first, int) and first > 0 else 1
    return {inputs[0].name: np.zeros((rows, *rest), TENSOR_DTYPES[inputs[0].type])}


def verdict(path: Path, memory_bytes: int) -> dict[str, Any]:
    """The child's answer for the model at ``path``, as a JSON-ready mapping."""
    try:
        return {"verdict": "ok", "signature": check_and_load(path.read_bytes())}
    except ModelRejected as error:
        return {"verdict": "rejected", "reason": error.detail}
    except MemoryError:
        return {"verdict": "rejected", "reason": _memory_reason(memory_bytes)}
    except Exception as error:  # onnxruntime's errors derive from Exception only
        return {"verdict": "rejected", "reason": _load_reason(error, memory_bytes)}


def limit_resources(memory_bytes: int, seconds: float) -> None:
    """Cap this process: no core dumps, CPU seconds, and address space."""
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    cpu = math.ceil(seconds) + 1
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu))
    address_space = _mapped_bytes() + memory_bytes
    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    if hard != resource.RLIM_INFINITY:
        address_space = min(address_space, hard)
    resource.setrlimit(resource.RLIMIT_AS, (address_space, hard))


def _mapped_bytes() -> int:
    """This process's address space now (VmSize), or 0 where /proc is missing."""
    try:
        with open("/proc/self/statm", encoding="ascii") as statm:
            return int(statm.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


def _memory_reason(memory_bytes: int) -> str:
    return (
        f"loading the model and running it on one row needs more than the limit of "
        f"{memory_bytes // MiB} MiB"
    )


def _is_memory_error(error: BaseException) -> bool:
    text = str(error)
    return any(sign in text for sign in ("bad_alloc", "bad allocation", "Failed to allocate"))


def _load_reason(error: Exception, memory_bytes: int) -> str:
    if _is_memory_error(error):
        return _memory_reason(memory_bytes)
    return f"onnxruntime cannot load the model: {ort_message(error)}"


def main(argv: list[str]) -> None:
    """Child entry point: PATH MEMORY_BYTES SECONDS; prints one JSON line."""
    path, memory_bytes, seconds = Path(argv[0]), int(argv[1]), float(argv[2])
    limit_resources(memory_bytes, seconds)
    answer = verdict(path, memory_bytes)
    sys.stdout.write(json.dumps(answer) + "\n")
    sys.stdout.flush()


if __name__ == "__main__":
    main(sys.argv[1:])
