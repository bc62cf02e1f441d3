"""Rebuild the bundled digits-logreg model: models/digits-logreg.onnx and its card.

    .venv/bin/python models/build_digits.py [--out models/]

Trains a logistic regression on scikit-learn's 8x8 digits (1,797 images that
ship with scikit-learn, no download) with a fixed stratified split and seed,
exports it to ONNX with skl2onnx (float32 input of width 64, probabilities as
a plain N x 10 tensor, no ZipMap) and writes a JSON card with the inputs, the
classes, how it was trained and its test accuracy measured through
onnxruntime on the exported file.

Re-running with the same versions of scikit-learn, skl2onnx and onnx writes
the same bytes (the card records those versions); other versions may round
the weights or name graph nodes differently, so the id changes with them.
"""

from __future__ import annotations

import argparse
import hashlib
import json
from importlib.metadata import version
from pathlib import Path

import numpy as np
import onnxruntime as ort
from skl2onnx import to_onnx
from skl2onnx.common.data_types import FloatTensorType
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

NAME = "digits-logreg"
SEED = 0
TEST_FRACTION = 0.25
INPUT_NAME = "pixels"
# ai.onnx 17 and ai.onnx.ml 3 load in every onnxruntime this service supports.
TARGET_OPSET = {"": 17, "ai.onnx.ml": 3}
# The IR version that goes with opset 17; newer ones need a newer onnxruntime.
IR_VERSION = 8


def train() -> tuple[Pipeline, np.ndarray, np.ndarray, dict[str, object]]:
    """The fitted pipeline, the held-out features (m, 64) float32 and labels (m,)."""
    digits = load_digits()
    features = digits.data.astype(np.float32)
    train_x, test_x, train_y, test_y = train_test_split(
        features,
        digits.target,
        test_size=TEST_FRACTION,
        random_state=SEED,
        stratify=digits.target,
    )
    pipeline = Pipeline(
        [
            ("scale", StandardScaler()),
            ("logreg", LogisticRegression(C=1.0, max_iter=5000, random_state=SEED)),
        ]
    )
    pipeline.fit(train_x, train_y)
    training = {
        "dataset": "sklearn.datasets.load_digits (8x8 images, pixel intensities 0..16)",
        "split": (
            f"train_test_split(test_size={TEST_FRACTION}, random_state={SEED}, stratify=target)"
        ),
        "train_rows": len(train_y),
        "test_rows": len(test_y),
        "estimator": "Pipeline(StandardScaler(), LogisticRegression(C=1.0, max_iter=5000))",
        "versions": {package: version(package) for package in ("scikit-learn", "skl2onnx", "onnx")},
    }
    return pipeline, test_x, test_y, training


def export(pipeline: Pipeline) -> bytes:
    """The pipeline as ONNX bytes: input ``pixels`` (N, 64) float32; outputs
    ``label`` (N,) int64 and ``probabilities`` (N, 10) float32."""
    model = to_onnx(
        pipeline,
        initial_types=[(INPUT_NAME, FloatTensorType([None, 64]))],
        options={LogisticRegression: {"zipmap": False}},
        target_opset=TARGET_OPSET,
    )
    model.ir_version = IR_VERSION
    model.doc_string = "Logistic regression on scikit-learn's 8x8 digits; see digits-logreg.json."
    return model.SerializeToString()


def onnx_accuracy(data: bytes, features: np.ndarray, labels: np.ndarray) -> float:
    """Accuracy of the exported model's most probable class, run by onnxruntime."""
    session = ort.InferenceSession(data, providers=["CPUExecutionProvider"])
    (probabilities,) = session.run(["probabilities"], {INPUT_NAME: features})
    return float(np.mean(probabilities.argmax(axis=1) == labels))


def card(
    data: bytes, pipeline: Pipeline, training: dict[str, object], accuracy: float
) -> dict[str, object]:
    """What the model is, what it takes and returns, and how well it does."""
    classes = [int(label) for label in pipeline.classes_]
    return {
        "name": NAME,
        "id": "sha256:" + hashlib.sha256(data).hexdigest(),
        "description": (
            "Handwritten digit classifier: 8x8 grey-level images, flattened row by row, "
            "to probabilities over the digits 0-9."
        ),
        "inputs": [
            {
                "name": INPUT_NAME,
                "element_type": "float32",
                "shape": [None, 64],
                "meaning": "64 pixel intensities in 0..16, row-major, as in load_digits().data",
            }
        ],
        "outputs": [
            {"name": "label", "element_type": "int64", "shape": [None]},
            {"name": "probabilities", "element_type": "float32", "shape": [None, len(classes)]},
        ],
        "classes": classes,
        "training": training,
        "test_accuracy": round(accuracy, 4),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent)
    out = parser.parse_args().out
    pipeline, test_x, test_y, training = train()
    data = export(pipeline)
    accuracy = onnx_accuracy(data, test_x, test_y)
    sklearn_accuracy = float(pipeline.score(test_x, test_y))
    if abs(accuracy - sklearn_accuracy) > 1e-9:
        raise SystemExit(f"onnx accuracy {accuracy} differs from scikit-learn's {sklearn_accuracy}")
    (out / f"{NAME}.onnx").write_bytes(data)
    text = json.dumps(card(data, pipeline, training, accuracy), indent=2) + "\n"
    (out / f"{NAME}.json").write_text(text, encoding="utf-8")
    print(f"wrote {NAME}.onnx ({len(data)} bytes), test accuracy {accuracy:.4f}")


if __name__ == "__main__":
    main()
