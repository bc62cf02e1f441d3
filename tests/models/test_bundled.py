"""The bundled digits models: their cards, their accuracy and their reproducible builds."""

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

# Each bundled model and the script that builds it.
BUILDS = {"digits-logreg": "build_digits.py", "digits-mlp": "build_digits_mlp.py"}
NAMES = list(BUILDS)


def onnx_path(name):
    return SOURCE_DIRECTORY / f"{name}.onnx"


def read_card(name):
    return json.loads((SOURCE_DIRECTORY / f"{name}.json").read_text(encoding="utf-8"))


def test_the_bundle_is_these_models():
    assert sorted(path.stem for path in SOURCE_DIRECTORY.glob("*.onnx")) == NAMES
    assert [model.name for model in BundledModels(SOURCE_DIRECTORY).all()] == NAMES


@pytest.mark.parametrize("name", NAMES)
def test_card_names_the_file_by_its_id(name):
    card = read_card(name)
    assert card["id"] == "sha256:" + hashlib.sha256(onnx_path(name).read_bytes()).hexdigest()
    assert card["name"] == name


@pytest.mark.parametrize("name", NAMES)
def test_card_describes_the_real_signature(name):
    card = read_card(name)
    model = BundledModels(SOURCE_DIRECTORY).by_name(name)
    assert model.id == card["id"]
    assert model.size == onnx_path(name).stat().st_size
    assert model.classes == card["classes"] == list(range(10))
    assert model.description == card["description"]
    for documented, real in [
        *zip(card["inputs"], model.inputs, strict=True),
        *zip(card["outputs"], model.outputs, strict=True),
    ]:
        for key in ("name", "element_type", "shape"):
            assert documented[key] == real[key]


def test_digits_mlp_gives_probabilities_then_embeddings():
    model = BundledModels(SOURCE_DIRECTORY).by_name("digits-mlp")
    assert [(output["name"], output["shape"]) for output in model.outputs] == [
        ("probabilities", [None, 10]),
        ("embeddings", [None, 32]),
    ]


def test_digits_mlp_dropout_is_off_unless_asked_for():
    """Each Dropout has a data and a float32 scalar ratio input, no training_mode
    and no seed, so plain runs are deterministic."""
    onnx = pytest.importorskip("onnx")
    graph = onnx.load(onnx_path("digits-mlp")).graph
    initializers = {tensor.name: onnx.numpy_helper.to_array(tensor) for tensor in graph.initializer}
    dropouts = [node for node in graph.node if node.op_type == "Dropout"]
    assert len(dropouts) == 2
    for node in dropouts:
        assert len(node.input) == 2
        ratio = initializers[node.input[1]]
        assert ratio.dtype == np.float32
        assert ratio.shape == ()
        assert float(ratio) == read_card("digits-mlp")["training"]["dropout_ratio"]
        assert [attribute.name for attribute in node.attribute] == []
    session = create_session(onnx_path("digits-mlp").read_bytes())
    pixels = np.random.default_rng(0).uniform(0, 16, size=(8, 64)).astype(np.float32)
    first, again = session.run(None, {"pixels": pixels}), session.run(None, {"pixels": pixels})
    for one, other in zip(first, again, strict=True):
        np.testing.assert_array_equal(one, other)


@pytest.mark.parametrize("name", NAMES)
def test_probabilities_reproduce_the_documented_test_accuracy(name):
    datasets = pytest.importorskip("sklearn.datasets")
    selection = pytest.importorskip("sklearn.model_selection")
    digits = datasets.load_digits()
    _, test_x, _, test_y = selection.train_test_split(
        digits.data, digits.target, test_size=0.25, random_state=0, stratify=digits.target
    )
    session = create_session(onnx_path(name).read_bytes())
    chunks = predict_probabilities(session, test_x, chunk_rows=inference_chunk_rows(64))
    probabilities = np.concatenate([chunk for _, chunk in chunks])
    accuracy = float(np.mean(probabilities.argmax(axis=1) == test_y))
    assert round(accuracy, 4) == read_card(name)["test_accuracy"]
    assert accuracy > 0.95


def _installed(package: str) -> str | None:
    try:
        return version(package)
    except PackageNotFoundError:
        return None


@pytest.mark.parametrize("name", NAMES)
def test_the_build_script_rebuilds_the_same_bytes(name, tmp_path):
    card = read_card(name)
    versions = card["training"]["versions"]
    installed = {package: _installed(package) for package in versions}
    if installed != versions:
        pytest.skip(f"the card was built with {versions}, installed are {installed}")
    script = SOURCE_DIRECTORY / BUILDS[name]
    subprocess.run([sys.executable, str(script), "--out", str(tmp_path)], check=True)
    assert sorted(path.name for path in tmp_path.iterdir()) == [f"{name}.json", f"{name}.onnx"]
    assert (tmp_path / f"{name}.onnx").read_bytes() == onnx_path(name).read_bytes()
    assert json.loads((tmp_path / f"{name}.json").read_text(encoding="utf-8")) == card
