"""Bundled models: read-only .onnx files shipped with the service, addressed by name.

Each ``<name>.onnx`` in the bundle directory is one model; an optional
``<name>.json`` card beside it supplies its classes and a description. The
models are the service's own, so their signatures are read by loading them
in-process, once per process, on first use.
"""

from __future__ import annotations

import json
import threading
from importlib import resources
from pathlib import Path

from service.models.ids import is_bundled_name, model_id
from service.models.records import StoredModel
from service.models.sessions import create_session
from service.models.signature import describe_session

# Where the wheel carries the bundled models, and where the source tree keeps them.
PACKAGED_DIRECTORY = "bundled"
SOURCE_DIRECTORY = Path(__file__).resolve().parents[2] / "models"


def default_directory() -> Path:
    """The packaged bundle directory when installed, else models/ of the source tree."""
    packaged = resources.files("service.models").joinpath(PACKAGED_DIRECTORY)
    if packaged.is_dir():
        return Path(str(packaged))
    return SOURCE_DIRECTORY


class BundledModels:
    """The bundled models of one directory, read on first use."""

    def __init__(self, directory: Path | None) -> None:
        self.directory = directory
        self._lock = threading.Lock()
        self._models: dict[str, StoredModel] | None = None

    def by_name(self, name: str) -> StoredModel | None:
        """The bundled model called ``name``, if any."""
        return self._load().get(name)

    def by_id(self, model_ref: str) -> StoredModel | None:
        """The bundled model whose id is ``model_ref``, if any."""
        return next((model for model in self._load().values() if model.id == model_ref), None)

    def all(self) -> list[StoredModel]:
        """Every bundled model, by name."""
        return [model for _, model in sorted(self._load().items())]

    def _load(self) -> dict[str, StoredModel]:
        with self._lock:
            if self._models is None:
                self._models = self._scan()
            return self._models

    def _scan(self) -> dict[str, StoredModel]:
        if self.directory is None or not self.directory.is_dir():
            return {}
        return {
            path.stem: _read_model(path)
            for path in sorted(self.directory.glob("*.onnx"))
            if is_bundled_name(path.stem)
        }


def _read_model(path: Path) -> StoredModel:
    data = path.read_bytes()
    signature = describe_session(create_session(data))
    card_path = path.with_suffix(".json")
    card = json.loads(card_path.read_text(encoding="utf-8")) if card_path.is_file() else {}
    return StoredModel(
        id=model_id(data),
        name=path.stem,
        size=len(data),
        created=None,
        inputs=signature["inputs"],
        outputs=signature["outputs"],
        producer=signature["producer"],
        bundled=True,
        path=path,
        classes=card.get("classes"),
        description=card.get("description"),
    )
