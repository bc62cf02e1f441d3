"""The bundled digits-logreg model: its card, its accuracy and its reproducible build."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from importlib.metadata import PackageNotFoundError, version

import numpy as np
import pytest

from service.models.bundled import SOURCE_DIRECTORY, BundledModels
from service.models.inference import inference_chunk_rows, predict_probabilities
from service.models.sessions import create_session

ONNX = SOURCE_DIRECTORY / "digits-logreg.onnx"
CARD = json.loads((SOURCE_DIRECTORY / "digits-logreg.json").read_text(encoding="utf-8"))


def test_card_names_the_file_by_its_id():
    assert CARD["id"] == "sha256:" + hashlib.sha256(ONNX.read_bytes()).hexdigest()
    assert CARD["name"] == ONNX.stem


def test_card_describes_the_real_signature():
    model = BundledModels(SOURCE_DIRECTORY).by_name("digits-logreg")
    assert model.id == CARD["id"]
    assert model.classes == CARD["classes"] == list(range(10))
    for documented, real in [
        *zip(CARD["inputs"], model.inputs, strict=True),
        *zip(CARD["outputs"], model.outputs, strict=True),
    ]:
        for key in ("name", "element_type", "shape"):
            assert documented[key] == real[key]


def test_probabilities_reproduce_the_documented_test_accuracy():
    datasets = pytest.importorskip("sklearn.datasets")
    selection = pytest.importorskip("sklearn.model_selection")
    digits = datasets.load_digits()
    _, test_x, _, test_y = selection.train_test_split(
        digits.data, digits.target, test_size=0.25, random_state=0, stratify=digits.target
    )
    session = create_session(ONNX.read_bytes())
    chunks = predict_probabilities(session, test_x, chunk_rows=inference_chunk_rows(64))
    probabilities = np.concatenate([chunk for _, chunk in chunks])
    accuracy = float(np.mean(probabilities.argmax(axis=1) == test_y))
    assert round(accuracy, 4) == CARD["test_accuracy"]
    assert accuracy > 0.95


def _installed(package: str) -> str | None:
    try:
        return version(package)
    except PackageNotFoundError:
        return None


def test_the_build_script_rebuilds_the_same_bytes(tmp_path):
    versions = CARD["training"]["versions"]
    installed = {package: _installed(package) for package in versions}
    if installed != versions:
        pytest.skip(f"the card was built with {versions}, installed are {installed}")
    script = SOURCE_DIRECTORY / "build_digits.py"
    subprocess.run([sys.executable, str(script), "--out", str(tmp_path)], check=True)
    assert (tmp_path / "digits-logreg.onnx").read_bytes() == ONNX.read_bytes()
    assert json.loads((tmp_path / "digits-logreg.json").read_text(encoding="utf-8")) == CARD
