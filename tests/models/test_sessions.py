"""Session options, the external-data folder, the per-process LRU and onnxruntime's messages."""

from __future__ import annotations

import os

import numpy as np
import onnxruntime as ort
import pytest

from service.models import sessions
from service.models.sessions import (
    EXTERNAL_INITIALIZERS_FOLDER,
    SessionCache,
    create_session,
    empty_folder,
    ort_message,
    session_options,
)
from tests.models import builders

WEIGHTS, BIAS = builders.small_classifier()


def test_options_use_one_thread_and_an_empty_external_folder():
    options = session_options()
    assert options.intra_op_num_threads == 1
    assert options.inter_op_num_threads == 1
    folder = options.get_session_config_entry(EXTERNAL_INITIALIZERS_FOLDER)
    assert folder == empty_folder()
    assert os.path.isdir(folder)
    assert os.listdir(folder) == []


def test_empty_folder_is_recreated_when_removed():
    first = empty_folder()
    os.chmod(first, 0o700)
    os.rmdir(first)
    second = empty_folder()
    assert os.path.isdir(second)
    assert os.listdir(second) == []


@pytest.fixture
def hidden_file(tmp_path, monkeypatch):
    """hidden.bin (one float32, 1.0) in the working directory, where onnxruntime
    would look for the external data of a model loaded from bytes."""
    (tmp_path / "hidden.bin").write_bytes(np.float32(1.0).tobytes())
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_sessions_never_read_external_data_beside_the_process(hidden_file):
    with pytest.raises(sessions.ORT_ERRORS, match="hidden"):
        create_session(builders.external_data_in_subgraph())


def test_the_external_folder_option_is_the_one_onnxruntime_reads(hidden_file):
    # Pointed at the folder holding the file, the same option lets the model
    # load: the key is honored, so pointing it at an empty folder protects.
    options = session_options(external_folder=str(hidden_file))
    session = ort.InferenceSession(
        builders.external_data_in_subgraph(), options, providers=["CPUExecutionProvider"]
    )
    (value,) = session.run(None, {"flag": np.array(True)})
    np.testing.assert_array_equal(value, [1.0])


def _loader(calls: list[str], key: str):
    def load() -> bytes:
        calls.append(key)
        return builders.linear(WEIGHTS, BIAS)

    return load


def test_cache_creates_each_session_once_and_evicts_the_least_recently_used():
    cache = SessionCache(2)
    calls: list[str] = []
    first = cache.get("a", _loader(calls, "a"))
    assert cache.get("a", _loader(calls, "a")) is first
    cache.get("b", _loader(calls, "b"))
    cache.get("a", _loader(calls, "a"))
    cache.get("c", _loader(calls, "c"))
    assert cache.keys() == ["a", "c"]
    assert calls == ["a", "b", "c"]
    cache.get("b", _loader(calls, "b"))
    assert calls == ["a", "b", "c", "b"]


def test_cache_discard():
    cache = SessionCache(3)
    calls: list[str] = []
    cache.get("a", _loader(calls, "a"))
    cache.discard("a")
    cache.discard("never-cached")
    assert cache.keys() == []


def test_cache_drops_sessions_created_before_a_fork(monkeypatch):
    cache = SessionCache(3)
    calls: list[str] = []
    before = cache.get("a", _loader(calls, "a"))
    monkeypatch.setattr(os, "getpid", lambda: -1)
    assert cache.keys() == []
    assert cache.get("a", _loader(calls, "a")) is not before
    assert calls == ["a", "a"]


@pytest.mark.parametrize("capacity", [0, -1])
def test_cache_needs_room_for_one(capacity):
    with pytest.raises(ValueError, match="at least 1"):
        SessionCache(capacity)


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        (
            "[ONNXRuntimeError] : 1 : FAIL : /onnxruntime_src/onnxruntime/core/graph/model.cc:256 "
            "onnxruntime::Model::Model(onnx::ModelProto&&, const onnxruntime::PathString&) "
            "Unsupported model IR version: 14, max supported IR version: 13\n",
            "Unsupported model IR version: 14, max supported IR version: 13",
        ),
        (
            "[ONNXRuntimeError] : 2 : INVALID_ARGUMENT : Got invalid dimensions for input: X\n"
            " index: 1 Got: 4 Expected: 3",
            "Got invalid dimensions for input: X index: 1 Got: 4 Expected: 3",
        ),
        ("plain", "plain"),
    ],
)
def test_ort_message_keeps_the_message(message, expected):
    assert ort_message(Exception(message)) == expected


def test_ort_message_is_bounded():
    assert len(ort_message(Exception("x" * 5000))) == 400
