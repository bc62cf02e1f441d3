"""What the bundled digits models' build scripts share: the data and its split,
the card, the accuracy through onnxruntime and the checked write.

Imported by models/build_digits.py and models/build_digits_mlp.py, which run
as scripts from this directory.
"""

from __future__ import annotations

import hashlib
import json
from importlib.metadata import version
from pathlib import Path

import numpy as np
import onnxruntime as ort
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

SEED = 0
TEST_FRACTION = 0.25
INPUT_NAME = "pixels"
WIDTH = 64
# The IR version that goes with opset 17; newer ones need a newer onnxruntime.
IR_VERSION = 8
DESCRIPTION = (
    "Handwritten digit classifier: 8x8 grey-level images, flattened row by row, "
    "to probabilities over the digits 0-9."
)


def split() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Training and held-out features (float32, width 64) and labels, stratified."""
    digits = load_digits()
    features = digits.data.astype(np.float32)
    return train_test_split(
        features,
        digits.target,
        test_size=TEST_FRACTION,
        random_state=SEED,
        stratify=digits.target,
    )


def split_details(train_y: np.ndarray, test_y: np.ndarray) -> dict[str, object]:
    """The card's account of the data and the split."""
    return {
        "dataset": "sklearn.datasets.load_digits (8x8 images, pixel intensities 0..16)",
        "split": (
            f"train_test_split(test_size={TEST_FRACTION}, random_state={SEED}, stratify=target)"
        ),
        "train_rows": len(train_y),
        "test_rows": len(test_y),
    }


def versions(*packages: str) -> dict[str, str]:
    """The installed versions of the packages a rebuild's bytes depend on."""
    return {package: version(package) for package in packages}


def onnx_accuracy(data: bytes, features: np.ndarray, labels: np.ndarray) -> float:
    """Accuracy of the exported model's most probable class, run by onnxruntime."""
    session = ort.InferenceSession(data, providers=["CPUExecutionProvider"])
    (probabilities,) = session.run(["probabilities"], {INPUT_NAME: features})
    return float(np.mean(probabilities.argmax(axis=1) == labels))


def card(
    name: str,
    data: bytes,
    *,
    description: str,
    outputs: list[dict[str, object]],
    classes: list[int],
    training: dict[str, object],
    accuracy: float,
) -> dict[str, object]:
    """What the model is, what it takes and returns, and how well it does."""
    return {
        "name": name,
        "id": "sha256:" + hashlib.sha256(data).hexdigest(),
        "description": description,
        "inputs": [
            {
                "name": INPUT_NAME,
                "element_type": "float32",
                "shape": [None, WIDTH],
                "meaning": "64 pixel intensities in 0..16, row-major, as in load_digits().data",
            }
        ],
        "outputs": outputs,
        "classes": classes,
        "training": training,
        "test_accuracy": round(accuracy, 4),
    }


def write_checked(
    out: Path,
    name: str,
    data: bytes,
    model_card: dict[str, object],
    *,
    accuracy: float,
    reference: float,
    reference_name: str,
) -> None:
    """Write ``<name>.onnx`` and its card, unless the accuracy through onnxruntime
    differs from ``reference``, the trained model's own (``reference_name``)."""
    if abs(accuracy - reference) > 1e-9:
        raise SystemExit(f"onnx accuracy {accuracy} differs from {reference_name} {reference}")
    (out / f"{name}.onnx").write_bytes(data)
    text = json.dumps(model_card, indent=2) + "\n"
    (out / f"{name}.json").write_text(text, encoding="utf-8")
    print(f"wrote {name}.onnx ({len(data)} bytes), test accuracy {accuracy:.4f}")
