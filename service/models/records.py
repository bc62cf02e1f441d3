"""StoredModel: what the service knows about one model, and its JSON forms."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from service.models.memory import MemoryFootprint

# Version of the sidecar layout written beside each uploaded model.
SIDECAR_FORMAT = 1


@dataclass(frozen=True)
class StoredModel:
    """One model: uploaded (in the store directory) or bundled (read-only, named).

    ``inputs`` and ``outputs`` are signature entries (see signature.describe_arg).
    ``memory`` is the footprint measured when an upload was validated (None for
    a bundled model, one whose rows have no fixed shape, or one stored before
    footprints were measured).
    """

    id: str
    name: str | None
    size: int
    created: str | None
    inputs: list[dict[str, Any]]
    outputs: list[dict[str, Any]]
    producer: str | None
    bundled: bool
    path: Path
    classes: list[Any] | None = None
    description: str | None = None
    # Why a quarantined model is damaged; None for a usable one.
    broken: str | None = None
    memory: MemoryFootprint | None = None

    def describe(self) -> dict[str, Any]:
        """The model as the API shows it."""
        body: dict[str, Any] = {
            "id": self.id,
            "name": self.name,
            "bundled": self.bundled,
            "size": self.size,
            "created": self.created,
            "producer": self.producer,
            "inputs": self.inputs,
            "outputs": self.outputs,
        }
        if not self.bundled:
            body["memory"] = None if self.memory is None else self.memory.to_json()
        if self.classes is not None:
            body["classes"] = self.classes
        if self.description is not None:
            body["description"] = self.description
        if self.broken is not None:
            body["broken"] = self.broken
        return body

    def sidecar(self) -> dict[str, Any]:
        """The JSON record written beside an uploaded model file."""
        return {
            "format": SIDECAR_FORMAT,
            "id": self.id,
            "name": self.name,
            "size": self.size,
            "created": self.created,
            "producer": self.producer,
            "inputs": self.inputs,
            "outputs": self.outputs,
            "memory": None if self.memory is None else self.memory.to_json(),
        }

    @classmethod
    def uploaded(
        cls,
        model_id: str,
        signature: dict[str, Any],
        *,
        name: str | None,
        size: int,
        created: str,
        path: Path,
    ) -> StoredModel:
        """An uploaded model of ``signature`` (see validation.validate_model_file)."""
        return cls(
            id=model_id,
            name=name,
            size=size,
            created=created,
            inputs=signature["inputs"],
            outputs=signature["outputs"],
            producer=signature["producer"],
            bundled=False,
            path=path,
            memory=MemoryFootprint.from_json(signature.get("memory")),
        )

    @classmethod
    def from_sidecar(cls, record: dict[str, Any], path: Path) -> StoredModel:
        """An uploaded model from its sidecar record and the path of its file."""
        return cls(
            id=record["id"],
            name=record.get("name"),
            size=int(record["size"]),
            created=record.get("created"),
            inputs=list(record["inputs"]),
            outputs=list(record["outputs"]),
            producer=record.get("producer"),
            bundled=False,
            path=path,
            memory=MemoryFootprint.from_json(record.get("memory")),
        )


def utc_now(timestamp: float | None = None) -> str:
    """The time ``timestamp`` (seconds since the epoch; default now) as ISO 8601
    UTC to the second, e.g. 2025-01-31T12:00:00Z."""
    moment = datetime.now(UTC) if timestamp is None else datetime.fromtimestamp(timestamp, UTC)
    return moment.isoformat(timespec="seconds").replace("+00:00", "Z")
