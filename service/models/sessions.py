"""onnxruntime sessions: the options every session is created with, and a per-process LRU.

Sessions are always created from the model's bytes (never from a path), with
onnxruntime's folder for external initializers pointed at an empty directory,
so even a model that slipped past the static checks finds no file to read.
The cache belongs to one process: it is filled lazily, after gunicorn forks
its workers, and a process that finds a cache filled by its parent starts over.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import re
import tempfile
import threading
from collections import OrderedDict
from collections.abc import Callable

import onnxruntime as ort

from service import metrics
from service.models.memory import INFERENCE_MEMORY_BYTES, use_capped_arena

# Where onnxruntime looks for external data of a model loaded from bytes.
EXTERNAL_INITIALIZERS_FOLDER = "session.model_external_initializers_file_folder_path"
# Parse the bytes as ONNX protobuf, never as the flatbuffer ORT format.
LOAD_MODEL_FORMAT = "session.load_model_format"
# Constant folding computes tensors while the session is created, as large as
# the shapes a model declares: a few bytes can ask for gigabytes. Without it,
# such a computation happens when the model runs, where the validation's trial
# run meets it under the memory limit.
DISABLED_OPTIMIZERS = ("ConstantFolding",)
# onnxruntime removes Dropout nodes whose output no graph output is, whatever
# their training_mode: a session that runs dropout on keeps them.
KEEP_DROPOUT_OPTIMIZERS = ("EliminateDropout",)
ERROR_LOG_LEVEL = 3
FATAL_LOG_LEVEL = 4
# Every exception class onnxruntime raises (each derives from Exception only).
ORT_ERRORS: tuple[type[Exception], ...] = tuple(
    value
    for value in vars(ort.capi.onnxruntime_pybind11_state).values()
    if isinstance(value, type) and issubclass(value, Exception)
)
# onnxruntime's "[ONNXRuntimeError] : 1 : FAIL : " prefix and the C++ source
# location and function signature some messages start with.
_ORT_PREFIX = re.compile(r"^\[ONNXRuntimeError\] : \d+ : \w+ : ")
_SOURCE_LOCATION = re.compile(r"^\S+\.(?:cc|cpp|h):\d+ (?:\S+::\S+?\(.*?\) (?=[A-Z]))?")
_MAX_MESSAGE_CHARS = 400

_empty_folder_lock = threading.Lock()
_empty_folder: str | None = None


def empty_folder() -> str:
    """A directory of this process that holds no files, created on first use and
    removed when the process exits."""
    global _empty_folder
    with _empty_folder_lock:
        if _empty_folder is None or not os.path.isdir(_empty_folder):
            _empty_folder = tempfile.mkdtemp(prefix="alrank-no-external-data-")
            os.chmod(_empty_folder, 0o500)
            atexit.register(_remove_folder, _empty_folder, os.getpid())
        return _empty_folder


def _remove_folder(path: str, owner: int) -> None:
    """Remove ``path`` if this process made it (a forked child inherits the hook)."""
    if os.getpid() == owner:
        with contextlib.suppress(OSError):
            os.rmdir(path)


def session_options(
    *, external_folder: str | None = None, log_level: int = ERROR_LOG_LEVEL
) -> ort.SessionOptions:
    """One thread per session (gunicorn runs one worker per core), graph
    optimizations, no memory pattern, ONNX format only, external data looked
    up in an empty folder."""
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    # The memory pattern allocates one block for a run's tensors beside the
    # chunks the arena keeps from earlier runs: a run of a shape seen before
    # then holds twice what it needs (measured: 58 MiB instead of 29), and its
    # footprint as validation measures it no longer bounds it. The bundled
    # model runs as fast without it.
    options.enable_mem_pattern = False
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.log_severity_level = log_level
    options.add_session_config_entry(
        EXTERNAL_INITIALIZERS_FOLDER, external_folder or empty_folder()
    )
    options.add_session_config_entry(LOAD_MODEL_FORMAT, "ONNX")
    return options


def create_session(
    data: bytes,
    *,
    log_level: int = ERROR_LOG_LEVEL,
    memory_budget: int | None = None,
    keep_dropout: bool = False,
) -> ort.InferenceSession:
    """A CPU session for the model ``data`` (the bytes of an .onnx file).

    With ``memory_budget`` (bytes) its tensors come from this process's arena
    capped at that many bytes (see memory.register_arena); without, from a
    private uncapped arena (for reading a trusted model's signature).
    ``keep_dropout`` keeps every Dropout node in the graph (for a model whose
    dropout was switched on).
    """
    disabled = DISABLED_OPTIMIZERS + (KEEP_DROPOUT_OPTIMIZERS if keep_dropout else ())
    options = session_options(log_level=log_level)
    if memory_budget is not None:
        use_capped_arena(options, memory_budget)
    with metrics.MODEL_LOAD_SECONDS.time():
        return ort.InferenceSession(
            data,
            options,
            providers=["CPUExecutionProvider"],
            disabled_optimizers=list(disabled),
        )


def ort_message(error: BaseException) -> str:
    """onnxruntime's message for ``error`` on one line, without source locations."""
    text = _SOURCE_LOCATION.sub("", _ORT_PREFIX.sub("", str(error).strip()))
    text = " ".join(text.split())
    return text if len(text) <= _MAX_MESSAGE_CHARS else text[: _MAX_MESSAGE_CHARS - 3] + "..."


class SessionCache:
    """At most ``capacity`` sessions of this process, least recently used evicted first.

    Thread-safe; two threads asking for the same missing session may both
    create it, and one of the two is kept. Every session allocates from the
    process's arena capped at ``memory_budget`` bytes (None: each from its own
    uncapped arena, to measure what the cap costs).
    """

    def __init__(
        self, capacity: int, *, memory_budget: int | None = INFERENCE_MEMORY_BYTES
    ) -> None:
        if capacity < 1:
            raise ValueError(f"capacity must be at least 1, got {capacity}")
        self.capacity = capacity
        self.memory_budget = memory_budget
        self._lock = threading.Lock()
        self._sessions: OrderedDict[str, ort.InferenceSession] = OrderedDict()
        self._pid = os.getpid()

    def get(self, key: str, load: Callable[[], bytes]) -> ort.InferenceSession:
        """The session cached under ``key``, or a new one from the bytes ``load`` returns."""
        with self._lock:
            self._forget_parent()
            session = self._sessions.get(key)
            if session is not None:
                self._sessions.move_to_end(key)
                return session
        session = create_session(load(), memory_budget=self.memory_budget)
        with self._lock:
            self._forget_parent()
            self._sessions[key] = session
            self._sessions.move_to_end(key)
            while len(self._sessions) > self.capacity:
                self._sessions.popitem(last=False)
        return session

    def discard(self, key: str) -> None:
        """Drop the session cached under ``key``, if any."""
        with self._lock:
            self._sessions.pop(key, None)

    def keys(self) -> list[str]:
        """Cached keys, least recently used first."""
        with self._lock:
            self._forget_parent()
            return list(self._sessions)

    def _forget_parent(self) -> None:
        """After a fork, drop the sessions the parent created."""
        if os.getpid() != self._pid:
            self._sessions.clear()
            self._pid = os.getpid()
