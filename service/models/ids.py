"""Model ids ("sha256:<64 hex>") and bundled model names, checked before any path is built.

A file name in the store is only ever built from the 64 hex digits of a
checked id, and a bundled model is only ever found by looking its name up in
the names the bundle directory lists, so no request can name a path outside
either directory.
"""

from __future__ import annotations

import hashlib
import re

from service.errors import InvalidInput

ID_PREFIX = "sha256:"
_ID = re.compile(r"sha256:([0-9a-f]{64})")
# Bundled names: lower-case words joined by "-", "_" or ".", never an id.
BUNDLED_NAME = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}")
# Free-text labels given at upload: printable, no control characters.
_LABEL = re.compile(r"[^\x00-\x1f\x7f]{1,128}")


def model_id(data: bytes) -> str:
    """The content address of ``data``: "sha256:" and the hex digest of the bytes."""
    return ID_PREFIX + hashlib.sha256(data).hexdigest()


def id_digest(text: str) -> str | None:
    """The 64 hex digits of a well-formed id, or None for anything else."""
    match = _ID.fullmatch(text)
    return match.group(1) if match else None


def is_bundled_name(text: str) -> bool:
    """Whether ``text`` is spelled like a bundled model name."""
    return BUNDLED_NAME.fullmatch(text) is not None and ".." not in text


def check_label(label: str | None) -> str | None:
    """An upload's optional ``name``: 1-128 printable characters, or None."""
    if label is None:
        return None
    if _LABEL.fullmatch(label) is None:
        raise InvalidInput("expected 1 to 128 characters without control characters", field="name")
    return label
