"""Rebuild the bundled digits-mlp model: models/digits-mlp.onnx and its card.

    .venv/bin/python models/build_digits_mlp.py [--out models/]

Trains a small multi-layer perceptron in numpy on scikit-learn's 8x8 digits
(the split of digits-logreg): standardized pixels, 64 -> 64 -> 32 -> 10 with
ReLU and inverted dropout after both hidden layers, minibatch Adam with a
fixed seed and a fixed number of epochs. Exports it with onnx.helper: input
``pixels`` (N, 64) float32, outputs ``probabilities`` (N, 10) and
``embeddings`` (N, 32), the second hidden layer's activations. The Dropout
nodes have a ratio and no training_mode input, so a plain run is
deterministic; setting training_mode turns them on (Monte-Carlo dropout).
Writes a JSON card with the inputs, the outputs, the classes, how it was
trained and its test accuracy measured through onnxruntime on the exported
file, and refuses to write if that differs from the numpy forward pass's.

Re-running with the same versions of numpy, scikit-learn and onnx writes the
same bytes (the card records those versions); other versions, or another
BLAS, may round the weights differently, so the id changes with them.
"""

from __future__ import annotations

import argparse
import itertools
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx
from _digits import (
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
from onnx import TensorProto, helper, numpy_helper

NAME = "digits-mlp"
OPSET = 17
LAYERS = (WIDTH, 64, 32, 10)
DROPOUT_RATIO = 0.25
EPOCHS = 100
BATCH_SIZE = 32
LEARNING_RATE = 1e-3
BETAS = (0.9, 0.999)
EPSILON = 1e-8
EMBEDDINGS = "embeddings"


@dataclass
class Network:
    """Standardization (x - mean) * scale, then one (weights, bias) per layer."""

    mean: np.ndarray
    scale: np.ndarray
    weights: list[np.ndarray]
    biases: list[np.ndarray]

    def float32(self) -> Network:
        return Network(
            *(np.asarray(part, dtype=np.float32) for part in (self.mean, self.scale)),
            [w.astype(np.float32) for w in self.weights],
            [b.astype(np.float32) for b in self.biases],
        )

    def logits(self, features: np.ndarray) -> np.ndarray:
        """The forward pass with dropout off, in the parameters' precision."""
        hidden = (features - self.mean) * self.scale
        for weights, bias in zip(self.weights[:-1], self.biases[:-1], strict=True):
            hidden = np.maximum(hidden @ weights + bias, 0)
        return hidden @ self.weights[-1] + self.biases[-1]


def standardization(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """StandardScaler's mean and 1 / std (1 where a pixel never varies)."""
    mean = features.mean(axis=0)
    std = features.std(axis=0)
    return mean, 1.0 / np.where(std == 0, 1.0, std)


def gradients(
    net: Network, x: np.ndarray, onehot: np.ndarray, rng: np.random.Generator
) -> list[np.ndarray]:
    """Cross-entropy gradients of one minibatch with inverted dropout, weights then biases."""
    activations, masks = [x], []
    for weights, bias in zip(net.weights[:-1], net.biases[:-1], strict=True):
        hidden = np.maximum(activations[-1] @ weights + bias, 0)
        mask = (rng.random(hidden.shape) >= DROPOUT_RATIO) / (1 - DROPOUT_RATIO)
        masks.append(mask * (hidden > 0))
        activations.append(hidden * mask)
    logits = activations[-1] @ net.weights[-1] + net.biases[-1]
    logits -= logits.max(axis=1, keepdims=True)
    probabilities = np.exp(logits)
    probabilities /= probabilities.sum(axis=1, keepdims=True)
    delta = (probabilities - onehot) / len(x)
    weight_grads, bias_grads = [], []
    for layer in reversed(range(len(net.weights))):
        weight_grads.insert(0, activations[layer].T @ delta)
        bias_grads.insert(0, delta.sum(axis=0))
        if layer:
            delta = (delta @ net.weights[layer].T) * masks[layer - 1]
    return weight_grads + bias_grads


def fit(train_x: np.ndarray, train_y: np.ndarray) -> Network:
    """Minibatch Adam in float64 from He-normal weights and zero biases, all from SEED."""
    rng = np.random.default_rng(SEED)
    mean, scale = standardization(train_x.astype(np.float64))
    x = (train_x.astype(np.float64) - mean) * scale
    onehot = np.eye(LAYERS[-1])[train_y]
    pairs = list(itertools.pairwise(LAYERS))
    net = Network(
        mean,
        scale,
        [rng.normal(0.0, np.sqrt(2.0 / fan_in), (fan_in, fan_out)) for fan_in, fan_out in pairs],
        [np.zeros(fan_out) for _, fan_out in pairs],
    )
    params = net.weights + net.biases
    first = [np.zeros_like(p) for p in params]
    second = [np.zeros_like(p) for p in params]
    step = 0
    for _ in range(EPOCHS):
        order = rng.permutation(len(x))
        for start in range(0, len(x), BATCH_SIZE):
            rows = order[start : start + BATCH_SIZE]
            step += 1
            grads = gradients(net, x[rows], onehot[rows], rng)
            for p, g, m, v in zip(params, grads, first, second, strict=True):
                m[:] = BETAS[0] * m + (1 - BETAS[0]) * g
                v[:] = BETAS[1] * v + (1 - BETAS[1]) * g * g
                m_hat = m / (1 - BETAS[0] ** step)
                v_hat = v / (1 - BETAS[1] ** step)
                p -= LEARNING_RATE * m_hat / (np.sqrt(v_hat) + EPSILON)
    return net


def train() -> tuple[Network, np.ndarray, np.ndarray, dict[str, object]]:
    """The trained network (float32), the held-out features (m, 64) float32 and labels (m,)."""
    train_x, test_x, train_y, test_y = split()
    net = fit(train_x, train_y).float32()
    training = {
        **split_details(train_y, test_y),
        "estimator": (
            "MLP 64 -> 64 (ReLU, Dropout) -> 32 (ReLU, Dropout; the embeddings) -> 10 (Softmax) "
            "on standardized pixels, trained in numpy"
        ),
        "dropout_ratio": DROPOUT_RATIO,
        "optimizer": (
            f"Adam(lr={LEARNING_RATE}, betas={BETAS}, eps={EPSILON}), "
            f"batch_size={BATCH_SIZE}, cross-entropy"
        ),
        "initialization": "He-normal weights, zero biases",
        "epochs": EPOCHS,
        "seed": SEED,
        "versions": versions("numpy", "scikit-learn", "onnx"),
    }
    return net, test_x, test_y, training


def _dense(
    layer: int, source: str, net: Network, target: str
) -> tuple[list[onnx.NodeProto], list[onnx.TensorProto]]:
    weights, bias = f"dense{layer}_weights", f"dense{layer}_bias"
    product = f"dense{layer}_product"
    nodes = [
        helper.make_node("MatMul", [source, weights], [product], name=f"dense{layer}_matmul"),
        helper.make_node("Add", [product, bias], [target], name=f"dense{layer}_add"),
    ]
    tensors = [
        numpy_helper.from_array(net.weights[layer - 1], weights),
        numpy_helper.from_array(net.biases[layer - 1], bias),
    ]
    return nodes, tensors


def export(net: Network) -> bytes:
    """The network as ONNX bytes: input ``pixels`` (N, 64) float32; outputs
    ``probabilities`` (N, 10) and ``embeddings`` (N, 32) float32."""
    nodes = [
        helper.make_node("Sub", [INPUT_NAME, "scale_mean"], ["centred"], name="scale_sub"),
        helper.make_node("Mul", ["centred", "scale_factor"], ["scaled"], name="scale_mul"),
    ]
    tensors = [
        numpy_helper.from_array(net.mean, "scale_mean"),
        numpy_helper.from_array(net.scale, "scale_factor"),
    ]
    source = "scaled"
    hidden = len(LAYERS) - 2
    for layer in range(1, hidden + 1):
        activation = EMBEDDINGS if layer == hidden else f"hidden{layer}"
        layer_nodes, layer_tensors = _dense(layer, source, net, f"dense{layer}")
        ratio = f"dropout{layer}_ratio"
        nodes += [
            *layer_nodes,
            helper.make_node("Relu", [f"dense{layer}"], [activation], name=f"relu{layer}"),
            helper.make_node(
                "Dropout", [activation, ratio], [f"dropout{layer}"], name=f"dropout{layer}"
            ),
        ]
        tensors += [
            *layer_tensors,
            numpy_helper.from_array(np.array(DROPOUT_RATIO, dtype=np.float32), ratio),
        ]
        source = f"dropout{layer}"
    layer_nodes, layer_tensors = _dense(hidden + 1, source, net, "logits")
    nodes += [
        *layer_nodes,
        helper.make_node("Softmax", ["logits"], ["probabilities"], axis=-1, name="softmax"),
    ]
    tensors += layer_tensors
    graph = helper.make_graph(
        nodes,
        "digits_mlp",
        [helper.make_tensor_value_info(INPUT_NAME, TensorProto.FLOAT, [None, WIDTH])],
        [
            helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, [None, LAYERS[-1]]),
            helper.make_tensor_value_info(EMBEDDINGS, TensorProto.FLOAT, [None, LAYERS[-2]]),
        ],
        initializer=tensors,
    )
    model = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", OPSET)],
        ir_version=IR_VERSION,
        producer_name="build_digits_mlp",
        doc_string="A small MLP with dropout on scikit-learn's 8x8 digits; see digits-mlp.json.",
    )
    onnx.checker.check_model(model, full_check=True)
    return model.SerializeToString()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent)
    out = parser.parse_args().out
    net, test_x, test_y, training = train()
    data = export(net)
    accuracy = onnx_accuracy(data, test_x, test_y)
    outputs: list[dict[str, object]] = [
        {"name": "probabilities", "element_type": "float32", "shape": [None, LAYERS[-1]]},
        {"name": EMBEDDINGS, "element_type": "float32", "shape": [None, LAYERS[-2]]},
    ]
    model_card = card(
        NAME,
        data,
        description=(
            "Handwritten digit classifier, a small MLP with dropout: 8x8 grey-level images, "
            "flattened row by row, to probabilities over the digits 0-9 and 32-wide embeddings."
        ),
        outputs=outputs,
        classes=list(range(LAYERS[-1])),
        training=training,
        accuracy=accuracy,
    )
    write_checked(
        out,
        NAME,
        data,
        model_card,
        accuracy=accuracy,
        reference=float(np.mean(net.logits(test_x).argmax(axis=1) == test_y)),
        reference_name="the numpy forward pass's",
    )


if __name__ == "__main__":
    main()
