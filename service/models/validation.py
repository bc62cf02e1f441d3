"""Validate an uploaded model in a child process with a memory and a time limit.

The child is a fresh interpreter (``python -m service.models.validation
PATH MEMORY SECONDS BUDGET``), never a fork of the calling worker, so it inherits no
session, thread pool or lock. It imports onnxruntime, then caps its own
address space (RLIMIT_AS: what it maps already plus the memory limit) and CPU
time (RLIMIT_CPU), disables core dumps, reads the model file, runs the static
checks, creates the model's session exactly as a worker would (its arena capped
at the inference memory budget), runs it on zeros at growing batch sizes when
its one input has a known row shape to measure its memory per row (see
footprint), and prints the model's signature and footprint as JSON. The
parent kills it at the wall-clock limit. A child that crashes, runs out of
memory or time, or refuses the model means ModelRejected with the reason.

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
from service.models.footprint import FootprintExceeded, measure_footprint
from service.models.inspection import check_model_bytes
from service.models.memory import INFERENCE_MEMORY_BYTES, is_memory_error, mib
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
    ``inference_memory_bytes``: the cap on onnxruntime's arena in a worker
    (ALRANK_INFERENCE_MEMORY_BYTES), which the child's runs are held to too.
    """

    memory_bytes: int = 1024 * MiB
    seconds: float = 30.0
    inference_memory_bytes: int = INFERENCE_MEMORY_BYTES


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
        str(limits.inference_memory_bytes),
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


def check_and_load(data: bytes, budget_bytes: int = INFERENCE_MEMORY_BYTES) -> dict[str, Any]:
    """Static checks, a session exactly as a worker creates it and trial runs;
    the model's signature, with its footprint under "memory" (None when the
    model's rows have no known shape or the system cannot measure it)."""
    check_model_bytes(data)
    session = create_session(data, log_level=FATAL_LOG_LEVEL, memory_budget=budget_bytes)
    signature = describe_session(session)
    signature["memory"] = None
    trial = trial_input(session)
    if trial is None:
        return signature
    name, dtype, fixed_batch, row_shape = trial

    def feed(rows: int) -> dict[str, np.ndarray]:
        # Written, not calloc'd: pages of zeros never written are not resident,
        # so a feed of np.zeros would not count in the peak.
        return {name: np.full((rows, *row_shape), 0, dtype)}

    try:
        footprint = measure_footprint(
            session, feed, fixed_batch=fixed_batch, budget_bytes=budget_bytes
        )
    except FootprintExceeded as error:
        if not error.over_cap:
            raise MemoryError from None  # the child's own limit: see verdict
        raise ModelRejected(_over_budget(error.rows, budget_bytes)) from None
    except ORT_ERRORS as error:
        if is_memory_error(error):
            raise
        raise ModelRejected(f"the model fails on a batch of zeros: {ort_message(error)}") from None
    if footprint is not None:
        smallest = fixed_batch or 1
        if footprint.run_bytes(smallest) > budget_bytes:
            raise ModelRejected(_over_budget(smallest, budget_bytes, footprint.run_bytes(smallest)))
        signature["memory"] = footprint.to_json()
    return signature


def trial_input(
    session: ort.InferenceSession,
) -> tuple[str, np.dtype, int | None, tuple[int, ...]] | None:
    """(name, element type, fixed batch or None, shape of one row) of a model with
    one numeric tensor input whose axes after the first have fixed sizes; None
    for other models."""
    inputs = session.get_inputs()
    if len(inputs) != 1 or inputs[0].type not in TENSOR_DTYPES or not inputs[0].shape:
        return None
    first, *rest = inputs[0].shape
    if not all(isinstance(size, int) and size > 0 for size in rest):
        return None
    batch = first if isinstance(first, int) and first > 0 else None
    return inputs[0].name, TENSOR_DTYPES[inputs[0].type], batch, tuple(rest)


def _over_budget(rows: int, budget_bytes: int, needed: int | None = None) -> str:
    row_text = "one row" if rows == 1 else f"its fixed batch of {rows} rows"
    budget = f"the inference memory budget of {mib(budget_bytes)} (ALRANK_INFERENCE_MEMORY_BYTES)"
    if needed is None:
        return f"the model needs more than {budget} to run on {row_text}"
    return f"the model needs {mib(needed)} to run on {row_text}, more than {budget}"


def verdict(path: Path, memory_bytes: int, budget_bytes: int) -> dict[str, Any]:
    """The child's answer for the model at ``path``, as a JSON-ready mapping."""
    try:
        return {"verdict": "ok", "signature": check_and_load(path.read_bytes(), budget_bytes)}
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


def _load_reason(error: Exception, memory_bytes: int) -> str:
    if is_memory_error(error):
        return _memory_reason(memory_bytes)
    return f"onnxruntime cannot load the model: {ort_message(error)}"


def main(argv: list[str]) -> None:
    """Child entry point: PATH MEMORY_BYTES SECONDS BUDGET_BYTES; prints one JSON line."""
    path, memory_bytes, seconds = Path(argv[0]), int(argv[1]), float(argv[2])
    budget_bytes = int(argv[3]) if len(argv) > 3 else INFERENCE_MEMORY_BYTES
    limit_resources(memory_bytes, seconds)
    answer = verdict(path, memory_bytes, budget_bytes)
    sys.stdout.write(json.dumps(answer) + "\n")
    sys.stdout.flush()


if __name__ == "__main__":
    main(sys.argv[1:])
