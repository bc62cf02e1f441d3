"""Configuration: defaults, then ALRANK_* environment variables, then test overrides.

Every key below can be set from the environment with the ALRANK_ prefix, e.g.
ALRANK_MAX_NPY_BYTES=2147483648. Values are parsed as JSON where they parse.
"""

from __future__ import annotations

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
    # Largest budget a request may ask for.
    "MAX_BUDGET": 1_000_000,
    # Input bytes scored per chunk; small enough to stay in cache.
    "CHUNK_BYTES": 512 * 1024,
}


def load_config(app: Flask, test_config: Mapping[str, object] | None = None) -> None:
    """Fill ``app.config``: defaults, then ALRANK_* variables, then ``test_config``."""
    app.config.from_mapping(DEFAULTS)
    app.config.from_prefixed_env("ALRANK")
    if test_config is not None:
        app.config.from_mapping(test_config)
    for key in DEFAULTS:
        value = app.config[key]
        if type(value) is not int or value < 1:
            raise ValueError(f"ALRANK_{key} must be a positive integer, got {value!r}")
