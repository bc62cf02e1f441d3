"""The model store: a directory of content-addressed .onnx files shared by all workers.

Layout: ``<hex>.onnx`` holds the model whose id is ``sha256:<hex>``;
``<hex>.json`` beside it records its name, size, upload time and signature.
A model exists once its record exists (the record is written last and
removed first). Every file appears by renaming a fully written and synced
temporary file (``.tmp-*``) into place, so no reader ever sees part of one;
uploads and deletions serialize on an flock of ``.lock``, so two workers
storing the same bytes at once make one file and one record. Workers keep no
list of models: each lookup reads the directory, so a model stored by one
worker is at once visible to the others.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import onnxruntime as ort

from service import metrics
from service.errors import NotFound, PayloadTooLarge
from service.models.bundled import BundledModels
from service.models.errors import Forbidden, ModelRejected
from service.models.ids import ID_PREFIX, id_digest, is_bundled_name, model_id
from service.models.records import StoredModel, utc_now
from service.models.sessions import SessionCache, create_session
from service.models.validation import ValidationLimits, validate_model_file

TEMPORARY_PREFIX = ".tmp-"
LOCK_NAME = ".lock"
# Temporaries older than this are left over from a crash and removed.
STALE_TEMPORARY_SECONDS = 3600.0
_MAX_REF_CHARS = 80

logger = logging.getLogger(__name__)


class ModelStore:
    """Uploaded models in ``directory``, bundled ones, and this process's sessions."""

    def __init__(
        self,
        directory: Path,
        *,
        bundled: BundledModels,
        max_bytes: int,
        limits: ValidationLimits,
        sessions: SessionCache,
    ) -> None:
        self.directory = directory
        self.bundled = bundled
        self.max_bytes = max_bytes
        self.limits = limits
        self.sessions = sessions
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.remove_stale_temporaries()

    def add(self, data: bytes, *, name: str | None = None) -> tuple[StoredModel, bool]:
        """Store ``data`` after validating it; (the model, whether it is new).

        The same bytes again return the stored model (and its first name).
        """
        self._check_size(data, field="body")
        new_id = model_id(data)
        existing = self.bundled.by_id(new_id) or self._committed(new_id)
        if existing is not None:
            return existing, False
        temporary = self._write_temporary(data, suffix=".onnx")
        try:
            signature = _timed_validation(temporary, self.limits)
            with self._locked():
                existing = self._committed(new_id)
                if existing is not None:
                    return existing, False
                model = StoredModel(
                    id=new_id,
                    name=name,
                    size=len(data),
                    created=utc_now(),
                    inputs=signature["inputs"],
                    outputs=signature["outputs"],
                    producer=signature["producer"],
                    bundled=False,
                    path=self._model_path(new_id),
                )
                os.replace(temporary, model.path)
                record = json.dumps(model.sidecar(), indent=1).encode()
                os.replace(self._write_temporary(record, suffix=".json"), self._record_path(new_id))
                self._sync_directory()
                return model, True
        finally:
            temporary.unlink(missing_ok=True)

    def inline_session(self, data: bytes) -> tuple[str, ort.InferenceSession]:
        """(id, session) for model bytes sent with a rank request: checked like
        an upload, in a separate process under the same limits, never stored."""
        self._check_size(data, field="model")
        temporary = self._write_temporary(data, suffix=".onnx")
        try:
            _timed_validation(temporary, self.limits)
        except ModelRejected as error:
            raise ModelRejected(error.detail, field="model") from None
        finally:
            temporary.unlink(missing_ok=True)
        return model_id(data), create_session(data)

    def _check_size(self, data: bytes, *, field: str) -> None:
        if len(data) > self.max_bytes:
            raise PayloadTooLarge(
                f"the model has {len(data)} bytes, the limit is {self.max_bytes}", field=field
            )
        if not data:
            where = "the body" if field == "body" else "the model part"
            raise ModelRejected(
                f"{where} is empty: expected the bytes of an .onnx file", field=field
            )

    def resolve(self, model_ref: str) -> StoredModel:
        """The model an id ("sha256:<64 hex>") or a bundled name refers to; NotFound if none."""
        model = None
        if id_digest(model_ref) is not None:
            model = self.bundled.by_id(model_ref) or self._committed(model_ref)
        elif is_bundled_name(model_ref):
            model = self.bundled.by_name(model_ref)
        if model is None:
            raise NotFound(_unknown(model_ref, self.bundled), field="model")
        return model

    def models(self) -> list[StoredModel]:
        """Bundled models by name, then uploaded ones, oldest first."""
        uploaded = []
        for path in self.directory.glob("*.json"):
            model = self._committed(ID_PREFIX + path.stem)
            if model is not None:
                uploaded.append(model)
        uploaded.sort(key=lambda model: (model.created or "", model.id))
        return [*self.bundled.all(), *uploaded]

    def delete(self, model_ref: str) -> StoredModel:
        """Remove an uploaded model; Forbidden for a bundled one, NotFound if unknown."""
        model = self.resolve(model_ref)
        if model.bundled:
            raise Forbidden(f"bundled model {model.name!r} is read-only", field="model")
        with self._locked():
            try:
                self._record_path(model.id).unlink()
            except FileNotFoundError:
                raise NotFound(_unknown(model_ref, self.bundled), field="model") from None
            self._model_path(model.id).unlink(missing_ok=True)
            self._sync_directory()
        self.sessions.discard(model.id)
        return model

    def session(self, model: StoredModel) -> ort.InferenceSession:
        """This process's session for ``model``, created on first use."""
        return self.sessions.get(model.id, lambda: self.read_bytes(model))

    def read_bytes(self, model: StoredModel) -> bytes:
        """The model's bytes, checked against its id."""
        try:
            data = model.path.read_bytes()
        except FileNotFoundError:
            raise NotFound(_unknown(model.id, self.bundled), field="model") from None
        if model_id(data) != model.id:
            raise RuntimeError(f"the file of model {model.id} does not match its id")
        return data

    def remove_stale_temporaries(self, older_than: float = STALE_TEMPORARY_SECONDS) -> None:
        """Delete temporaries a crashed upload left behind."""
        cutoff = time.time() - older_than
        for path in self.directory.glob(TEMPORARY_PREFIX + "*"):
            with contextlib.suppress(FileNotFoundError):
                if path.stat().st_mtime < cutoff:
                    path.unlink()

    def _committed(self, model_ref: str) -> StoredModel | None:
        """The uploaded model with id ``model_ref`` if its record and file both exist."""
        digest = id_digest(model_ref)
        if digest is None:
            return None
        try:
            record = json.loads(self._record_path(model_ref).read_bytes())
            size = self._model_path(model_ref).stat().st_size
            model = StoredModel.from_sidecar(record, self._model_path(model_ref))
        except FileNotFoundError:
            return None
        except (ValueError, KeyError, TypeError):
            logger.warning("ignoring the unreadable record of model %s", model_ref)
            return None
        return model if model.id == model_ref and model.size == size else None

    def _model_path(self, model_ref: str) -> Path:
        return self.directory / f"{_digest(model_ref)}.onnx"

    def _record_path(self, model_ref: str) -> Path:
        return self.directory / f"{_digest(model_ref)}.json"

    def _write_temporary(self, data: bytes, *, suffix: str) -> Path:
        """A new, synced file in the store directory holding ``data``."""
        handle, name = tempfile.mkstemp(dir=self.directory, prefix=TEMPORARY_PREFIX, suffix=suffix)
        try:
            with os.fdopen(handle, "wb") as file:
                file.write(data)
                file.flush()
                os.fsync(file.fileno())
        except BaseException:
            Path(name).unlink(missing_ok=True)
            raise
        return Path(name)

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        """Hold the store's exclusive lock (across processes and threads)."""
        with open(self.directory / LOCK_NAME, "a+b") as lock:
            fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock.fileno(), fcntl.LOCK_UN)

    def _sync_directory(self) -> None:
        """Make the renames durable; some file systems cannot sync a directory."""
        with contextlib.suppress(OSError):
            handle = os.open(self.directory, os.O_RDONLY)
            try:
                os.fsync(handle)
            finally:
                os.close(handle)


def _digest(model_ref: str) -> str:
    digest = id_digest(model_ref)
    if digest is None:
        raise ValueError(f"not a model id: {model_ref[:_MAX_REF_CHARS]!r}")
    return digest


def _unknown(model_ref: str, bundled: BundledModels) -> str:
    names = ", ".join(model.name or model.id for model in bundled.all()) or "none"
    shown = model_ref if len(model_ref) <= _MAX_REF_CHARS else model_ref[:_MAX_REF_CHARS] + "..."
    return (
        f"no model {shown!r}: name a model by its id (sha256:<64 hex digits>) or by the "
        f"name of a bundled model ({names})"
    )


def _timed_validation(path: Path, limits: ValidationLimits) -> dict[str, Any]:
    """validate_model_file, its duration observed in alrank_model_validation_seconds."""
    with metrics.MODEL_VALIDATION_SECONDS.time():
        return validate_model_file(path, limits)
