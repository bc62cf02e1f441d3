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

The disk may fail under a running service. No room left (ENOSPC, EDQUOT)
answers 507; a store that cannot be written (read-only, not permitted)
answers 503 and makes the service not ready (see ``unwritable``); a store
directory that vanished is recreated on the next write. Every path removes
the files it had started, so a failure never leaves part of a model.

A record lost or damaged while its model file is intact is rebuilt from the
file, whose content hash is its id (the name given at upload is lost with
the record). A model file whose bytes no longer match its id is moved to
``quarantine/``, never deleted, and the model refused with 409.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import logging
import os
import tempfile
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import onnxruntime as ort

from service import metrics
from service.errors import (
    InsufficientStorage,
    NotFound,
    PayloadTooLarge,
    ServiceBusy,
    StoreUnavailable,
)
from service.models.bundled import BundledModels
from service.models.errors import Forbidden, ModelDamaged, ModelRejected
from service.models.ids import ID_PREFIX, id_digest, is_bundled_name, model_id
from service.models.memory import MemoryFootprint
from service.models.records import StoredModel, utc_now
from service.models.sessions import SessionCache, create_session
from service.models.validation import ValidationLimits, validate_model_file

TEMPORARY_PREFIX = ".tmp-"
QUARANTINE = "quarantine"
LOCK_NAME = ".lock"
# Temporaries older than this are left over from a crash and removed.
STALE_TEMPORARY_SECONDS = 3600.0
_MAX_REF_CHARS = 80
# A full temporary directory (inline models) frees as other requests end.
INLINE_RETRY_AFTER_S = 5
_NO_ROOM = (errno.ENOSPC, errno.EDQUOT)

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
        self.check_at_start()

    def check_at_start(self) -> None:
        """Verify the store as a worker starts, and log what was found and repaired:
        whether it can be written and its free space, temporaries a crash left,
        records without their model file, and damaged entries (see _committed).
        A store that cannot be written does not stop the service: it ranks,
        and reports itself not ready (see ``unwritable``)."""
        with contextlib.suppress(OSError):  # a first start: nothing to report yet
            self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        unwritable = self.unwritable()
        if unwritable is not None:
            logger.error("%s", unwritable)
            return
        with contextlib.suppress(OSError):
            usage = os.statvfs(self.directory)
            free = usage.f_bavail * usage.f_frsize
            if free < self.max_bytes:
                logger.warning(
                    "the model store %s has %d bytes free, less than one largest upload (%d)",
                    self.directory,
                    free,
                    self.max_bytes,
                )
        removed = self.remove_stale_temporaries()
        orphans = 0
        for record in self.directory.glob("*.json"):
            if id_digest(ID_PREFIX + record.stem) is None:
                continue
            if not record.with_suffix(".onnx").exists():
                with self._locked(), contextlib.suppress(FileNotFoundError):
                    if not record.with_suffix(".onnx").exists():
                        record.unlink()
                        orphans += 1
        usable = sum(1 for m in self.models() if not m.bundled and m.broken is None)
        if removed or orphans:
            logger.warning(
                "model store %s: removed %d stale temporaries and %d records whose model "
                "file was gone",
                self.directory,
                removed,
                orphans,
            )
        logger.info("model store %s: %d uploaded models usable", self.directory, usable)

    def unwritable(self) -> str | None:
        """Why nothing can be stored now (the directory missing and not
        recreatable, read-only, not permitted), or None when the store can be
        written. A full disk still counts as writable: deletes free room."""
        try:
            self._ensure_directory()
        except StoreUnavailable as error:
            return error.detail
        if not os.access(self.directory, os.W_OK | os.X_OK):
            code = errno.EROFS if _read_only(self.directory) else errno.EACCES
            return _unwritable_detail(self.directory, code)
        return None

    def _ensure_directory(self) -> None:
        """Recreate the store directory if it vanished; StoreUnavailable if it cannot be."""
        if self.directory.is_dir():
            return
        try:
            self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        except OSError as error:
            raise StoreUnavailable(
                _unwritable_detail(self.directory, error.errno or errno.EIO)
            ) from None
        logger.warning("the model store %s was missing and is recreated", self.directory)

    @contextlib.contextmanager
    def _writing(self, action: str) -> Iterator[None]:
        """Turn the disk's refusals while doing ``action`` into problems: 507 when
        there is no room, 503 when the store cannot be written."""
        self._ensure_directory()
        try:
            yield
        except OSError as error:
            if error.errno in _NO_ROOM:
                metrics.MODEL_STORE_FAULTS.labels("no-space").inc()
                raise InsufficientStorage(
                    f"the model store has no room left to {action} "
                    f"({os.strerror(error.errno or errno.ENOSPC)}): free space under "
                    "ALRANK_MODEL_DIR or delete unused models (DELETE /v1/models/{model})"
                ) from None
            if error.errno in (errno.EROFS, errno.EACCES, errno.EPERM, errno.ENOENT):
                metrics.MODEL_STORE_FAULTS.labels("unwritable").inc()
                raise StoreUnavailable(
                    _unwritable_detail(self.directory, error.errno or errno.EIO)
                ) from None
            raise

    def add(self, data: bytes, *, name: str | None = None) -> tuple[StoredModel, bool]:
        """Store ``data`` after validating it; (the model, whether it is new).

        The same bytes again return the stored model (and its first name).
        """
        self._check_size(data, field="body")
        new_id = model_id(data)
        existing = self.bundled.by_id(new_id) or self._committed(new_id)
        if existing is not None:
            return existing, False
        with self._writing("store the model"):
            return self._store(data, new_id, name)

    def _store(self, data: bytes, new_id: str, name: str | None) -> tuple[StoredModel, bool]:
        """add, once the bytes are known to be new."""
        temporary = self._write_temporary(data, suffix=".onnx")
        placed: Path | None = None
        try:
            signature = _timed_validation(temporary, self.limits)
            with self._locked():
                # No healing under the lock (it takes the lock); bytes sent again
                # replace a damaged or unrecorded file.
                existing = self._committed(new_id, heal=False)
                if existing is not None:
                    return existing, False
                model = StoredModel.uploaded(
                    new_id,
                    signature,
                    name=name,
                    size=len(data),
                    created=utc_now(),
                    path=self._model_path(new_id),
                )
                os.replace(temporary, model.path)
                placed = model.path
                self._write_record(model)
                placed = None
                return model, True
        finally:
            temporary.unlink(missing_ok=True)
            if placed is not None:  # the record could not be written: no half model
                placed.unlink(missing_ok=True)

    def inline_session(
        self, data: bytes
    ) -> tuple[str, ort.InferenceSession, MemoryFootprint | None]:
        """(id, session, footprint) for model bytes sent with a rank request:
        checked and measured like an upload, in a separate process under the
        same limits, never stored."""
        self._check_size(data, field="model")
        # In the temporary directory, not the store: ranking never needs the store's disk.
        try:
            temporary = _write_synced(data, Path(tempfile.gettempdir()), suffix=".onnx")
        except OSError as error:
            if error.errno not in _NO_ROOM:
                raise
            raise ServiceBusy(
                "no room left in the temporary directory to check the model part; retry "
                f"later, or upload it once (POST /v1/models) and name it by id (retry after "
                f"{INLINE_RETRY_AFTER_S} s)",
                retry_after=INLINE_RETRY_AFTER_S,
            ) from None
        try:
            signature = _timed_validation(temporary, self.limits)
        except ModelRejected as error:
            raise ModelRejected(error.detail, field="model") from None
        finally:
            temporary.unlink(missing_ok=True)
        session = create_session(data, memory_budget=self.limits.inference_memory_bytes)
        return model_id(data), session, MemoryFootprint.from_json(signature.get("memory"))

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
            if id_digest(model_ref) is not None and self._quarantined(model_ref).exists():
                raise ModelDamaged(
                    f"model {model_ref} is damaged: its stored bytes no longer match its id "
                    f"and were moved to {QUARANTINE}/; upload the model again",
                    field="model",
                )
            raise NotFound(_unknown(model_ref, self.bundled), field="model")
        return model

    def models(self) -> list[StoredModel]:
        """Bundled models by name, then uploaded ones, oldest first."""
        uploaded = []
        paths = [*self.directory.glob("*.json"), *self.directory.glob("*.onnx")]
        stems = {path.stem for path in paths}
        for stem in sorted(stems):
            if stem.startswith(TEMPORARY_PREFIX) or id_digest(ID_PREFIX + stem) is None:
                continue
            model = self._committed(ID_PREFIX + stem)
            if model is not None:
                uploaded.append(model)
        uploaded.sort(key=lambda model: (model.created or "", model.id))
        return [*self.bundled.all(), *uploaded, *self._broken()]

    def _broken(self) -> list[StoredModel]:
        """Quarantined models, as their last records described them, marked broken."""
        broken = []
        for record_path in sorted((self.directory / QUARANTINE).glob("*.json")):
            with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
                record = json.loads(record_path.read_bytes())
                model = StoredModel.from_sidecar(record, record_path.with_suffix(".onnx"))
                reason = record.get("quarantined", "its file is damaged")
                if model.id == ID_PREFIX + record_path.stem and not self._model_path(
                    model.id
                ).exists():
                    broken.append(replace(model, broken=str(reason)))
        return broken

    def delete(self, model_ref: str) -> StoredModel:
        """Remove an uploaded model; Forbidden for a bundled one, NotFound if unknown."""
        model = self.resolve(model_ref)
        if model.bundled:
            raise Forbidden(f"bundled model {model.name!r} is read-only", field="model")
        with self._writing("delete the model"), self._locked():
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
            self._quarantine(model.id, "its bytes no longer match its id")
            self.resolve(model.id)  # ModelDamaged
        return data

    def remove_stale_temporaries(self, older_than: float = STALE_TEMPORARY_SECONDS) -> int:
        """Delete temporaries a crashed upload left behind; how many were deleted."""
        cutoff = time.time() - older_than
        removed = 0
        for path in self.directory.glob(TEMPORARY_PREFIX + "*"):
            with contextlib.suppress(FileNotFoundError):
                if path.stat().st_mtime < cutoff:
                    path.unlink()
                    removed += 1
        return removed

    def _committed(self, model_ref: str, *, heal: bool = True) -> StoredModel | None:
        """The uploaded model with id ``model_ref`` if its file exists and its record
        matches it; with ``heal``, a missing or unreadable record is rebuilt and a
        damaged file quarantined (both take the store's lock)."""
        digest = id_digest(model_ref)
        if digest is None:
            return None
        try:
            size = self._model_path(model_ref).stat().st_size
        except FileNotFoundError:
            return None
        try:
            record = json.loads(self._record_path(model_ref).read_bytes())
            model = StoredModel.from_sidecar(record, self._model_path(model_ref))
        except (FileNotFoundError, ValueError, KeyError, TypeError):
            return self._rebuilt(model_ref) if heal else None
        if model.id != model_ref:
            return self._rebuilt(model_ref) if heal else None
        if model.size != size:
            if heal:
                self._quarantine(model_ref, f"its file has {size} bytes, its record {model.size}")
            return None
        return model

    def _rebuilt(self, model_ref: str) -> StoredModel | None:
        """The model whose record is missing or unreadable, its record rebuilt from
        its file; None if the file went away meanwhile (a delete), or is damaged
        (then quarantined)."""
        path = self._model_path(model_ref)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            return None
        if model_id(data) != model_ref:
            self._quarantine(model_ref, "its bytes no longer match its id")
            return None
        try:
            signature = _timed_validation(path, self.limits)
        except ModelRejected as error:
            if not path.exists():
                return None
            self._quarantine(model_ref, f"it no longer loads ({error.detail})")
            return None
        with self._locked():
            if not path.exists():
                return None  # deleted while it was checked
            with contextlib.suppress(FileNotFoundError, ValueError, KeyError, TypeError):
                record = json.loads(self._record_path(model_ref).read_bytes())
                model = StoredModel.from_sidecar(record, path)
                if model.id == model_ref:
                    return model  # another worker rebuilt it first
            model = StoredModel.uploaded(
                model_ref,
                signature,
                name=None,
                size=len(data),
                created=utc_now(path.stat().st_mtime),
                path=path,
            )
            try:
                self._write_record(model)
            except OSError as error:  # a full or read-only disk: serve it unrecorded
                logger.warning("cannot rewrite the record of model %s: %s", model_ref, error)
        metrics.MODEL_STORE_REPAIRS.labels("record-rebuilt").inc()
        logger.warning("rebuilt the missing or unreadable record of model %s", model_ref)
        return model

    def _write_record(self, model: StoredModel) -> None:
        """Write ``model``'s record in place (a synced temporary, renamed), then make
        the renames durable; the caller holds the lock."""
        record = json.dumps(model.sidecar(), indent=1).encode()
        os.replace(self._write_temporary(record, suffix=".json"), self._record_path(model.id))
        self._sync_directory()

    def _quarantine_record(self, model_ref: str, target: Path, why: str) -> None:
        """Move a damaged model's record aside, noting why, so the list can show it."""
        source = self._record_path(model_ref)
        try:
            record = json.loads(source.read_bytes())
            if not isinstance(record, dict):
                raise TypeError("not an object")
        except FileNotFoundError:
            return
        except (ValueError, TypeError):  # unreadable too: keep its bytes, unlisted
            os.replace(source, target.with_suffix(".unreadable"))
            return
        record["quarantined"] = why
        annotated = json.dumps(record, indent=1).encode()
        os.replace(self._write_temporary(annotated, suffix=".json"), target)
        source.unlink(missing_ok=True)

    def _quarantined(self, model_ref: str) -> Path:
        return self.directory / QUARANTINE / f"{_digest(model_ref)}.onnx"

    def _quarantine(self, model_ref: str, why: str) -> None:
        """Move a damaged model's file (and record) aside, never deleting them."""
        target = self._quarantined(model_ref)
        try:
            with self._locked():
                target.parent.mkdir(mode=0o700, exist_ok=True)
                os.replace(self._model_path(model_ref), target)
                self._quarantine_record(model_ref, target.with_suffix(".json"), why)
                self._sync_directory()
        except FileNotFoundError:
            return  # another worker moved it first
        except OSError as error:
            logger.error("cannot quarantine damaged model %s (%s): %s", model_ref, why, error)
            return
        self.sessions.discard(model_ref)
        metrics.MODEL_STORE_REPAIRS.labels("quarantined").inc()
        logger.error("quarantined model %s: %s", model_ref, why)

    def _model_path(self, model_ref: str) -> Path:
        return self.directory / f"{_digest(model_ref)}.onnx"

    def _record_path(self, model_ref: str) -> Path:
        return self.directory / f"{_digest(model_ref)}.json"

    def _write_temporary(self, data: bytes, *, suffix: str) -> Path:
        """A new, synced file in the store directory holding ``data``."""
        return _write_synced(data, self.directory, suffix=suffix)

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


def _write_synced(data: bytes, directory: Path, *, suffix: str) -> Path:
    """A new, synced temporary file in ``directory`` holding ``data``; nothing is
    left behind when writing fails."""
    handle, name = tempfile.mkstemp(dir=directory, prefix=TEMPORARY_PREFIX, suffix=suffix)
    try:
        with os.fdopen(handle, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
    except BaseException:
        Path(name).unlink(missing_ok=True)
        raise
    return Path(name)


def _read_only(directory: Path) -> bool:
    try:
        return bool(os.statvfs(directory).f_flag & os.ST_RDONLY)
    except OSError:
        return False


def _unwritable_detail(directory: Path, code: int) -> str:
    return (
        f"the model store {str(directory)!r} cannot be written ({os.strerror(code)}); "
        "stored and bundled models still rank, uploads and deletes wait until its disk "
        "is fixed"
    )


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
