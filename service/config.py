"""Configuration, in one place: every setting, its default, and its check.

Values come from the defaults, then ALRANK_* environment variables (parsed
as JSON where they parse, e.g. ALRANK_MAX_NPY_BYTES=2147483648), then a test
configuration. ``load_config`` checks each once, at start-up, and keeps the
result as a typed ``Settings`` (see ``settings``); a bad value stops the
service with a ValueError naming the variable.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from flask import Flask, current_app

MiB = 1 << 20
EXTENSION = "alrank.settings"

Kind = Literal["count", "seconds", "switch", "text"]


@dataclass(frozen=True)
class Setting:
    """One setting: ``key`` (ALRANK_<key> in the environment), its kind and default.

    "count": a positive integer; "seconds": a finite number >= 0 (> 0 unless
    ``zero_allowed``); "switch": true or false; "text": a non-empty string or
    None (not set).
    """

    key: str
    kind: Kind
    default: int | float | bool | None
    zero_allowed: bool = False


SETTINGS: tuple[Setting, ...] = (
    # Largest application/json request body, bytes.
    Setting("MAX_JSON_BYTES", "count", 64 * MiB),
    # Largest application/x-npy or multipart body, bytes. Pointwise strategies
    # stream .npy bodies chunk by chunk, so memory does not grow with this.
    Setting("MAX_NPY_BYTES", "count", 1024 * MiB),
    # Largest pool (rows) and array (elements) a request may declare.
    Setting("MAX_ROWS", "count", 50_000_000),
    Setting("MAX_ELEMENTS", "count", 1_000_000_000),
    # Most classes a probability-like input (or a model's output) may have.
    Setting("MAX_CLASSES", "count", 100_000),
    # Largest budget a request may ask for.
    Setting("MAX_BUDGET", "count", 1_000_000),
    # Input bytes (as float64) scored per chunk; small enough to stay in cache.
    Setting("CHUNK_BYTES", "count", 512 * 1024),
    # Rankings and model uploads computing at once, over all workers.
    Setting("COMPUTE_SLOTS", "count", os.cpu_count() or 1),
    # Threads per worker (gunicorn.conf.py exports its own value here); one is
    # kept free of compute for health checks and metrics.
    Setting("THREADS", "count", 8),
    # Seconds a client is told to wait (Retry-After) when the service is busy.
    Setting("RETRY_AFTER_SECONDS", "count", 1),
    # Longest a request waits for a free compute slot before 503.
    Setting("SLOT_WAIT_SECONDS", "seconds", 5.0, zero_allowed=True),
    # Longest a request may take from arrival (body, slot wait, ranking) before 504.
    Setting("COMPUTE_DEADLINE_SECONDS", "seconds", 60.0),
    # Longest a body read waits for the client to send more (a stalled upload).
    Setting("BODY_READ_TIMEOUT_SECONDS", "seconds", 30.0),
    # One JSON line per request on stderr.
    Setting("ACCESS_LOG", "switch", True),
    # Directory of the compute slots' lock files, shared by every worker
    # (gunicorn.conf.py sets it); unset: slots private to this process.
    Setting("SLOT_DIR", "text", None),
    # Largest model upload, bytes.
    Setting("MAX_MODEL_BYTES", "count", 64 * MiB),
    # ONNX sessions each worker keeps, least recently used evicted first.
    Setting("MODEL_SESSION_CACHE", "count", 8),
    # Memory an upload's validation may use on top of a bare interpreter, bytes.
    Setting("MODEL_VALIDATION_MEMORY_BYTES", "count", 1024 * MiB),
    # Wall-clock limit of an upload's validation, seconds.
    Setting("MODEL_VALIDATION_SECONDS", "count", 30),
    # Feature bytes per InferenceSession.run when a model scores a pool.
    Setting("INFERENCE_CHUNK_BYTES", "count", 2 * MiB),
    # Cap on the memory onnxruntime may hold for inference in one worker, bytes;
    # a run is sized to half of it from the model's measured memory per row.
    Setting("INFERENCE_MEMORY_BYTES", "count", 256 * MiB),
    # The model store, shared by every worker; unset: the user's cache directory.
    Setting("MODEL_DIR", "text", None),
    # Where bundled models are read from; unset: the packaged ones.
    Setting("BUNDLED_MODEL_DIR", "text", None),
    # Key for model upload and delete; unset: no key needed.
    Setting("API_KEY", "text", None),
)

DEFAULTS: dict[str, int | float | bool | None] = {s.key: s.default for s in SETTINGS}


@dataclass(frozen=True)
class Settings:
    """Every setting, checked; see SETTINGS for what each means."""

    max_json_bytes: int
    max_npy_bytes: int
    max_rows: int
    max_elements: int
    max_classes: int
    max_budget: int
    chunk_bytes: int
    compute_slots: int
    threads: int
    retry_after_seconds: int
    slot_wait_seconds: float
    compute_deadline_seconds: float
    body_read_timeout_seconds: float
    access_log: bool
    slot_dir: str | None
    max_model_bytes: int
    model_session_cache: int
    model_validation_memory_bytes: int
    model_validation_seconds: int
    inference_chunk_bytes: int
    inference_memory_bytes: int
    model_dir: Path
    bundled_model_dir: Path | None
    api_key: str | None

    @classmethod
    def from_mapping(cls, values: Mapping[str, object]) -> Settings:
        """Check ``values`` by key (missing keys take their default)."""
        checked: dict[str, Any] = {
            s.key: _checked(s, values.get(s.key, s.default)) for s in SETTINGS
        }
        if checked["THREADS"] < 2:
            raise ValueError("ALRANK_THREADS must be at least 2: one thread stays free for probes")
        model_dir, bundled = checked["MODEL_DIR"], checked["BUNDLED_MODEL_DIR"]
        checked["MODEL_DIR"] = Path(str(model_dir)) if model_dir is not None else default_store()
        checked["BUNDLED_MODEL_DIR"] = Path(str(bundled)) if bundled is not None else None
        return cls(**{key.lower(): value for key, value in checked.items()})


def default_store() -> Path:
    """$XDG_CACHE_HOME/alrank/models, or ~/.cache/alrank/models."""
    cache = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(cache) / "alrank" / "models"


def _checked(setting: Setting, value: object) -> object:
    """``value`` of ``setting`` in its type; ValueError naming the variable otherwise."""
    name = f"ALRANK_{setting.key}"
    if setting.kind == "count":
        if type(value) is not int or value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")
        return value
    if setting.kind == "seconds":
        if not isinstance(value, int | float) or isinstance(value, bool):
            raise ValueError(f"{name} must be a number of seconds >= 0, got {value!r}")
        if not 0 <= value < float("inf"):
            raise ValueError(f"{name} must be a number of seconds >= 0, got {value!r}")
        if value == 0 and not setting.zero_allowed:
            raise ValueError(f"{name} must be more than 0")
        return float(value)
    if setting.kind == "switch":
        if type(value) is not bool:
            raise ValueError(f"{name} must be true or false, got {value!r}")
        return value
    # The environment is parsed as JSON, so a numeric text arrives as int.
    textual = isinstance(value, str | int) and not isinstance(value, bool)
    if value is not None and (not textual or value == ""):
        raise ValueError(f"{name} must be a non-empty string, got {value!r}")
    return None if value is None else str(value)


def load_config(app: Flask, test_config: Mapping[str, object] | None = None) -> Settings:
    """Fill ``app.config`` and ``settings()``: defaults, then ALRANK_* variables,
    then ``test_config``; ValueError names the variable when a value is invalid."""
    app.config.from_mapping(DEFAULTS)
    app.config.from_prefixed_env("ALRANK")
    if test_config is not None:
        app.config.from_mapping(test_config)
    checked = Settings.from_mapping(app.config)
    # Flask and its extensions read app.config: keep the checked values there too.
    app.config.update({s.key: getattr(checked, s.key.lower()) for s in SETTINGS})
    app.extensions[EXTENSION] = checked
    return checked


def settings_of(app: Flask) -> Settings:
    """The settings ``load_config`` checked for ``app``."""
    found: Settings = app.extensions[EXTENSION]
    return found


def settings() -> Settings:
    """The current app's settings."""
    return settings_of(current_app)
