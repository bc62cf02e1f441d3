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
from pathlib import Path

import numpy as np
from _digits import (
    DESCRIPTION,
    INPUT_NAME,
    IR_VERSION,
    SEED,
    WIDTH,
    card,
    onnx_accuracy,
    split,
    split_details,
    versions,
    write_checked,
)
from skl2onnx import to_onnx
from skl2onnx.common.data_types import FloatTensorType
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

NAME = "digits-logreg"
# ai.onnx 17 and ai.onnx.ml 3 load in every onnxruntime this service supports.
TARGET_OPSET = {"": 17, "ai.onnx.ml": 3}


def train() -> tuple[Pipeline, np.ndarray, np.ndarray, dict[str, object]]:
    """The fitted pipeline, the held-out features (m, 64) float32 and labels (m,)."""
    train_x, test_x, train_y, test_y = split()
    pipeline = Pipeline(
        [
            ("scale", StandardScaler()),
            ("logreg", LogisticRegression(C=1.0, max_iter=5000, random_state=SEED)),
        ]
    )
    pipeline.fit(train_x, train_y)
    training = {
        **split_details(train_y, test_y),
        "estimator": "Pipeline(StandardScaler(), LogisticRegression(C=1.0, max_iter=5000))",
        "versions": versions("scikit-learn", "skl2onnx", "onnx"),
    }
    return pipeline, test_x, test_y, training


def export(pipeline: Pipeline) -> bytes:
    """The pipeline as ONNX bytes: input ``pixels`` (N, 64) float32; outputs
    ``label`` (N,) int64 and ``probabilities`` (N, 10) float32."""
    model = to_onnx(
        pipeline,
        initial_types=[(INPUT_NAME, FloatTensorType([None, WIDTH]))],
        options={LogisticRegression: {"zipmap": False}},
        target_opset=TARGET_OPSET,
    )
    model.ir_version = IR_VERSION
    model.doc_string = "Logistic regression on scikit-learn's 8x8 digits; see digits-logreg.json."
    return model.SerializeToString()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent)
    out = parser.parse_args().out
    pipeline, test_x, test_y, training = train()
    data = export(pipeline)
    accuracy = onnx_accuracy(data, test_x, test_y)
    classes = [int(label) for label in pipeline.classes_]
    outputs: list[dict[str, object]] = [
        {"name": "label", "element_type": "int64", "shape": [None]},
        {"name": "probabilities", "element_type": "float32", "shape": [None, len(classes)]},
    ]
    model_card = card(
        NAME,
        data,
        description=DESCRIPTION,
        outputs=outputs,
        classes=classes,
        training=training,
        accuracy=accuracy,
    )
    write_checked(
        out,
        NAME,
        data,
        model_card,
        accuracy=accuracy,
        reference=float(pipeline.score(test_x, test_y)),
        reference_name="scikit-learn's",
    )


if __name__ == "__main__":
    main()
