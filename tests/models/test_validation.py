"""Validation in a child process: signatures of good models, reasons for bad ones, limits."""

from __future__ import annotations

import signal

import pytest

from service.models.errors import ModelRejected
from service.models.validation import (
    MiB,
    ValidationLimits,
    _death_reason,
    validate_model_file,
)
from tests.models import builders

WEIGHTS, BIAS = builders.small_classifier(width=4, classes=3)
LIMITS = ValidationLimits(memory_bytes=512 * MiB, seconds=60)


def _file(tmp_path, data: bytes):
    path = tmp_path / "model.onnx"
    path.write_bytes(data)
    return path


def test_signature_of_a_valid_model(tmp_path):
    signature = validate_model_file(_file(tmp_path, builders.linear(WEIGHTS, BIAS)), LIMITS)
    assert signature["inputs"] == [
        {"name": "features", "type": "tensor(float)", "element_type": "float32", "shape": [None, 4]}
    ]
    assert signature["outputs"] == [
        {"name": "label", "type": "tensor(int64)", "element_type": "int64", "shape": [None]},
        {
            "name": "probabilities",
            "type": "tensor(float)",
            "element_type": "float32",
            "shape": [None, 3],
        },
    ]


def test_signature_of_a_zipmap_output(tmp_path):
    signature = validate_model_file(
        _file(tmp_path, builders.zipmap(WEIGHTS, BIAS, [0, 1, 2])), LIMITS
    )
    (output,) = signature["outputs"]
    assert output == {
        "name": "output_probability",
        "type": "seq(map(int64,tensor(float)))",
        "element_type": None,
        "shape": None,
    }


@pytest.mark.parametrize(
    ("data", "says"),
    [
        (b"\x08\x08:\x02\x0a\x00garbage", "do not parse"),
        (builders.external_data(), "external file"),
        (builders.custom_op(), "custom domain"),
        (builders.linear(WEIGHTS, BIAS)[:-20], "do not parse"),
        (builders.model_bytes([], [], []), "onnxruntime cannot load the model"),
    ],
    ids=["garbage", "external-data", "custom-op", "truncated", "no-outputs"],
)
def test_refusals_carry_the_reason(tmp_path, data, says):
    with pytest.raises(ModelRejected, match=says):
        validate_model_file(_file(tmp_path, data), LIMITS)


def test_a_model_that_explodes_is_refused_and_the_caller_survives(tmp_path):
    # 16384 x 16384 float32 is 1 GiB, computed from 24 bytes of initializers.
    path = _file(tmp_path, builders.expanding(16384))
    # The arena's cap (the inference memory budget) stops it first...
    with pytest.raises(ModelRejected, match=r"more than the inference memory budget of 256 MiB"):
        validate_model_file(path, ValidationLimits(memory_bytes=256 * MiB, seconds=60))
    # ... and the child's address-space limit where the budget is larger.
    roomy = ValidationLimits(memory_bytes=256 * MiB, seconds=60, inference_memory_bytes=4 << 30)
    with pytest.raises(ModelRejected, match="limit of 256 MiB"):
        validate_model_file(path, roomy)


def test_a_model_within_the_memory_limit_passes(tmp_path):
    signature = validate_model_file(_file(tmp_path, builders.expanding(256)), LIMITS)
    assert signature["inputs"][0]["shape"] == [None, 1]


def test_the_wall_clock_limit_kills_the_child(tmp_path):
    path = _file(tmp_path, builders.linear(WEIGHTS, BIAS))
    with pytest.raises(ModelRejected, match=r"longer than the limit of 0\.01 s"):
        validate_model_file(path, ValidationLimits(memory_bytes=512 * MiB, seconds=0.01))


@pytest.mark.parametrize(
    ("returncode", "says"),
    [
        (-signal.SIGSEGV, "crashed (SIGSEGV)"),
        (-signal.SIGXCPU, "longer than the limit of 30 s"),
        (-signal.SIGKILL, "was killed"),
        (3, "exit code 3"),
        (-200, "signal 200"),
    ],
)
def test_death_reasons(returncode, says):
    assert says in _death_reason(returncode, ValidationLimits(seconds=30))
