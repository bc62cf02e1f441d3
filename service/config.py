"""Configuration: defaults, then ALRANK_* environment variables, then test overrides.

Every key below can be set from the environment with the ALRANK_ prefix, e.g.
ALRANK_MAX_NPY_BYTES=2147483648. Values are parsed as JSON where they parse.
The model store's settings are in service/web/models.py (MODEL_DEFAULTS).
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from flask import Flask

MiB = 1 << 20

DEFAULTS: dict[str, int] = {
    # Largest application/json request body, bytes.
    "MAX_JSON_BYTES": 64 * MiB,
    # Largest application/x-npy or multipart body, bytes. Pointwise strategies
    # stream .npy bodies chunk by chunk, so memory does not grow with this.
    "MAX_NPY_BYTES": 1024 * MiB,
    # Largest pool (rows) and array (elements) a request may declare.
    "MAX_ROWS": 50_000_000,
    "MAX_ELEMENTS": 1_000_000_000,
    # Most classes a probability-like input (or a model's output) may have.
    "MAX_CLASSES": 100_000,
    # Largest budget a request may ask for.
    "MAX_BUDGET": 1_000_000,
    # Input bytes scored per chunk; small enough to stay in cache.
    "CHUNK_BYTES": 512 * 1024,
    # Rankings and model uploads computing at once, over all workers.
    "COMPUTE_SLOTS": os.cpu_count() or 1,
    # Threads per worker (gunicorn.conf.py exports its own value here); one is
    # kept free of compute for health checks and metrics.
    "THREADS": 8,
    # Seconds a client is told to wait (Retry-After) when the service is busy.
    "RETRY_AFTER_SECONDS": 1,
}

# Durations in seconds, any positive number (the wait may be 0).
SECONDS: dict[str, float] = {
    # Longest a request waits for a free compute slot before 503.
    "SLOT_WAIT_SECONDS": 5.0,
    # Longest a request may take from arrival (body, slot wait, ranking) before 504.
    "COMPUTE_DEADLINE_SECONDS": 60.0,
    # Longest a body read waits for the client to send more (a stalled upload).
    "BODY_READ_TIMEOUT_SECONDS": 30.0,
}

SWITCHES: dict[str, bool] = {
    # One JSON line per request on stderr.
    "ACCESS_LOG": True,
}

# Optional text settings; None means "not set".
OPTIONAL = (
    # Directory of the compute slots' lock files, shared by every worker
    # (gunicorn.conf.py sets it); unset: slots private to this process.
    "SLOT_DIR",
)


def load_config(app: Flask, test_config: Mapping[str, object] | None = None) -> None:
    """Fill ``app.config``: defaults, then ALRANK_* variables, then ``test_config``.

    ValueError names the variable when a value is invalid.
    """
    app.config.from_mapping({**DEFAULTS, **SECONDS, **SWITCHES})
    app.config.from_mapping(dict.fromkeys(OPTIONAL))
    app.config.from_prefixed_env("ALRANK")
    if test_config is not None:
        app.config.from_mapping(test_config)
    _check(app.config)


def _check(config: dict[str, object]) -> None:
    """Each setting of the right kind, seconds turned into floats."""
    for key in DEFAULTS:
        value = config[key]
        if type(value) is not int or value < 1:
            raise ValueError(f"ALRANK_{key} must be a positive integer, got {value!r}")
    if config["THREADS"] < 2:  # type: ignore[operator]
        raise ValueError("ALRANK_THREADS must be at least 2: one thread stays free for probes")
    for key in SECONDS:
        config[key] = _seconds(key, config[key], zero_allowed=key == "SLOT_WAIT_SECONDS")
    for key in SWITCHES:
        if type(config[key]) is not bool:
            raise ValueError(f"ALRANK_{key} must be true or false, got {config[key]!r}")
    for key in OPTIONAL:
        value = config[key]
        if value is not None and (not isinstance(value, str) or not value):
            raise ValueError(f"ALRANK_{key} must be a non-empty string, got {value!r}")


def _seconds(key: str, value: object, *, zero_allowed: bool) -> float:
    """A duration setting as a float; ValueError naming the variable if it is not one."""
    if type(value) not in (int, float) or not 0 <= value < float("inf"):  # type: ignore[operator]
        raise ValueError(f"ALRANK_{key} must be a number of seconds >= 0, got {value!r}")
    if value == 0 and not zero_allowed:
        raise ValueError(f"ALRANK_{key} must be more than 0")
    return float(value)  # type: ignore[arg-type]
