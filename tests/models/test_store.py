"""The store: content addresses, atomic files, bundled models, deletion and concurrent uploads."""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import os
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from service.errors import NotFound, PayloadTooLarge
from service.models.bundled import SOURCE_DIRECTORY, BundledModels
from service.models.errors import Forbidden, ModelDamaged, ModelRejected
from service.models.sessions import SessionCache
from service.models.store import TEMPORARY_PREFIX, ModelStore
from service.models.validation import MiB, ValidationLimits
from tests.models import builders

WEIGHTS, BIAS = builders.small_classifier(width=4, classes=3)
MODEL = builders.linear(WEIGHTS, BIAS)
MODEL_ID = "sha256:" + hashlib.sha256(MODEL).hexdigest()
DIGITS = SOURCE_DIRECTORY / "digits-logreg.onnx"
DIGITS_ID = "sha256:" + hashlib.sha256(DIGITS.read_bytes()).hexdigest()
MLP_ID = "sha256:" + hashlib.sha256((SOURCE_DIRECTORY / "digits-mlp.onnx").read_bytes()).hexdigest()
LIMITS = ValidationLimits(memory_bytes=512 * MiB, seconds=60)


def open_store(directory: Path, *, max_bytes: int = 64 * MiB) -> ModelStore:
    return ModelStore(
        directory,
        bundled=BundledModels(SOURCE_DIRECTORY),
        max_bytes=max_bytes,
        limits=LIMITS,
        sessions=SessionCache(4),
    )


@pytest.fixture
def store(tmp_path) -> ModelStore:
    return open_store(tmp_path / "store")


def _files(directory: Path) -> list[str]:
    return sorted(path.name for path in directory.iterdir() if path.name != ".lock")


def test_add_stores_the_bytes_under_their_digest(store):
    model, created = store.add(MODEL, name="tiny softmax")
    assert created
    assert model.id == MODEL_ID
    assert model.name == "tiny softmax"
    assert model.size == len(MODEL)
    assert model.created.endswith("Z")
    assert [output["name"] for output in model.outputs] == ["label", "probabilities"]
    digest = MODEL_ID.removeprefix("sha256:")
    assert _files(store.directory) == [f"{digest}.json", f"{digest}.onnx"]
    assert (store.directory / f"{digest}.onnx").read_bytes() == MODEL
    record = json.loads((store.directory / f"{digest}.json").read_text())
    assert record["id"] == MODEL_ID
    assert record["name"] == "tiny softmax"


def test_the_same_bytes_again_return_the_stored_model(store):
    first, _ = store.add(MODEL, name="first")
    again, created = store.add(MODEL, name="second")
    assert not created
    assert again == first
    assert again.name == "first"


def test_another_process_sees_a_stored_model(store):
    store.add(MODEL)
    other = open_store(store.directory)
    assert other.resolve(MODEL_ID).size == len(MODEL)
    assert [model.id for model in other.models()] == [DIGITS_ID, MLP_ID, MODEL_ID]


def test_sessions_come_from_the_stored_bytes(store):
    model, _ = store.add(MODEL)
    session = store.session(model)
    assert store.session(model) is session
    features = np.random.default_rng(0).normal(size=(5, 4)).astype(np.float32)
    (probabilities,) = session.run(["probabilities"], {"features": features})
    np.testing.assert_allclose(
        probabilities, builders.softmax_reference(features, WEIGHTS, BIAS), rtol=1e-5
    )


def test_a_tampered_file_is_quarantined_and_refused_with_409(store):
    model, _ = store.add(MODEL)
    tampered = MODEL[:-1] + b"\x01"  # same size: only the hash can tell
    model.path.write_bytes(tampered)
    with pytest.raises(ModelDamaged, match="no longer match its id") as caught:
        store.session(model)
    assert caught.value.status == 409
    quarantined = store.directory / "quarantine" / model.path.name
    assert quarantined.read_bytes() == tampered  # moved aside, not deleted
    assert quarantined.with_suffix(".json").is_file()
    assert not model.path.exists()
    with pytest.raises(ModelDamaged):
        store.resolve(MODEL_ID)
    listed = store.models()
    assert [m.id for m in listed] == [DIGITS_ID, MLP_ID, MODEL_ID]
    assert listed[2].broken == "its bytes no longer match its id"
    assert listed[2].describe()["broken"] == "its bytes no longer match its id"
    # Uploading the model again makes it whole.
    again, created = store.add(MODEL)
    assert created
    assert store.session(again) is not None


def test_a_truncated_file_is_quarantined(store):
    model, _ = store.add(MODEL)
    model.path.write_bytes(MODEL[: len(MODEL) // 2])
    listed = store.models()
    assert [(m.id, m.broken) for m in listed] == [
        (DIGITS_ID, None),
        (MLP_ID, None),
        (MODEL_ID, f"its file has {len(MODEL) // 2} bytes, its record {len(MODEL)}"),
    ]
    with pytest.raises(ModelDamaged):
        store.resolve(MODEL_ID)
    assert (store.directory / "quarantine" / model.path.name).is_file()


def test_bundled_models_by_name_and_id(store):
    by_name = store.resolve("digits-logreg")
    assert by_name.bundled
    assert by_name.id == DIGITS_ID
    assert store.resolve(DIGITS_ID) == by_name
    assert by_name.classes == list(range(10))
    assert by_name.inputs[0]["shape"] == [None, 64]


def test_uploading_a_bundled_model_returns_it(store):
    model, created = store.add(DIGITS.read_bytes(), name="mine")
    assert not created
    assert model.bundled
    assert model.name == "digits-logreg"
    assert _files(store.directory) == []


@pytest.mark.parametrize(
    "model_ref",
    [
        "sha256:" + "0" * 64,
        "sha256:" + "A" * 64,
        "sha256:abc",
        "../../etc/passwd",
        "sha256:../../" + "0" * 58,
        "digits-logreg/../x",
        "..",
        "",
        "x" * 500,
    ],
)
def test_unknown_and_malformed_references_are_not_found(store, model_ref):
    with pytest.raises(NotFound) as caught:
        store.resolve(model_ref)
    assert "digits-logreg" in caught.value.detail
    assert caught.value.field == "model"
    assert len(caught.value.detail) < 400


def test_delete_removes_both_files(store):
    store.add(MODEL)
    store.session(store.resolve(MODEL_ID))
    store.delete(MODEL_ID)
    assert _files(store.directory) == []
    assert store.sessions.keys() == []
    with pytest.raises(NotFound):
        store.resolve(MODEL_ID)
    with pytest.raises(NotFound):
        store.delete(MODEL_ID)


@pytest.mark.parametrize("model_ref", ["digits-logreg", DIGITS_ID])
def test_bundled_models_cannot_be_deleted(store, model_ref):
    with pytest.raises(Forbidden, match="read-only"):
        store.delete(model_ref)
    assert DIGITS.is_file()


@pytest.mark.parametrize(
    "damage", ["missing", "garbage", "another id"], ids=["missing", "garbage", "wrong-id"]
)
def test_a_lost_or_damaged_record_is_rebuilt_from_the_model_file(store, damage):
    stored, _ = store.add(MODEL, name="tiny")
    record = store.directory / f"{MODEL_ID.removeprefix('sha256:')}.json"
    if damage == "missing":
        record.unlink()
    elif damage == "garbage":
        record.write_text("{not json")
    else:
        record.write_text(json.dumps({**json.loads(record.read_text()), "id": DIGITS_ID}))
    listed = [model.id for model in store.models()]
    assert listed == [DIGITS_ID, MLP_ID, MODEL_ID]
    rebuilt = store.resolve(MODEL_ID)
    # Everything but the upload's name comes back from the file itself.
    assert (rebuilt.size, rebuilt.inputs, rebuilt.outputs) == (
        stored.size,
        stored.inputs,
        stored.outputs,
    )
    assert rebuilt.name is None
    # The footprint is measured again: a figure of the same model.
    assert rebuilt.memory is not None
    assert rebuilt.memory.measured_rows[0] == 1
    assert json.loads(record.read_text())["id"] == MODEL_ID
    assert store.session(rebuilt) is not None
    _, created = store.add(MODEL)
    assert not created


def test_the_footprint_is_recorded_and_read_back(store, tmp_path):
    stored, _ = store.add(MODEL)
    assert stored.memory is not None
    # At least the float32 features of a row; measured on 1, 8, 64, ... rows.
    assert stored.memory.bytes_per_row >= 4 * 4
    assert stored.memory.measured_rows[:2] == (1, 8)
    record = json.loads((store.directory / f"{MODEL_ID.removeprefix('sha256:')}.json").read_text())
    assert record["memory"] == stored.memory.to_json()
    reopened = open_store(store.directory)
    assert reopened.resolve(MODEL_ID).memory == stored.memory
    assert reopened.resolve(MODEL_ID).describe()["memory"] == stored.memory.to_json()


def test_a_record_from_before_footprints_reads_as_no_figure(store):
    store.add(MODEL)
    path = store.directory / f"{MODEL_ID.removeprefix('sha256:')}.json"
    record = json.loads(path.read_text())
    del record["memory"]
    path.write_text(json.dumps(record))
    model = store.resolve(MODEL_ID)
    assert model.memory is None
    assert model.describe()["memory"] is None


def test_bundled_models_describe_no_footprint(store):
    assert "memory" not in store.resolve("digits-logreg").describe()


def test_an_inline_model_is_measured_like_an_upload(store):
    model_id, session, footprint = store.inline_session(MODEL)
    assert model_id == MODEL_ID
    assert session.get_inputs()[0].shape[1] == 4
    uploaded = store.add(MODEL)[0].memory
    assert footprint is not None
    assert uploaded is not None
    # Two measures of one model: the same sizes tried, figures of one order
    # (resident memory moves in pages, so they need not be equal).
    assert footprint.measured_rows == uploaded.measured_rows
    assert uploaded.bytes_per_row / 2 <= footprint.bytes_per_row <= uploaded.bytes_per_row * 2


def test_size_limit(tmp_path):
    store = open_store(tmp_path, max_bytes=len(MODEL) - 1)
    with pytest.raises(PayloadTooLarge, match=f"the limit is {len(MODEL) - 1}"):
        store.add(MODEL)


@pytest.mark.parametrize(
    ("data", "says"),
    [
        (b"", "the body is empty"),
        (b"not onnx", "do not parse"),
        (builders.external_data(), "external"),
    ],
)
def test_refused_uploads_leave_nothing_behind(store, data, says):
    with pytest.raises(ModelRejected, match=says):
        store.add(data)
    assert _files(store.directory) == []


def test_stale_temporaries_are_removed(tmp_path):
    directory = tmp_path / "store"
    directory.mkdir()
    stale, fresh = directory / f"{TEMPORARY_PREFIX}old.onnx", directory / f"{TEMPORARY_PREFIX}new"
    stale.write_bytes(b"partial")
    fresh.write_bytes(b"partial")
    hour_ago = time.time() - 7200
    os.utime(stale, (hour_ago, hour_ago))
    open_store(directory)
    assert _files(directory) == [fresh.name]


def _large_model() -> bytes:
    """A few megabytes, so writing the file takes long enough to be caught half-done."""
    weights, bias = builders.small_classifier(width=2000, classes=400, seed=3)
    return builders.linear(weights, bias)


def _upload_in_another_process(directory: str, barrier, results) -> None:
    data = _large_model()
    store = open_store(Path(directory))
    barrier.wait()
    model, created = store.add(data)
    results.put((model.id, created))


def _watch(directory: Path, expected: bytes, stop: threading.Event, seen: list[str]) -> None:
    """Read every visible model file until told to stop; record any that is not whole."""
    while not stop.is_set():
        for path in directory.glob("*.onnx"):
            if path.name.startswith(TEMPORARY_PREFIX):
                continue
            try:
                data = path.read_bytes()
            except FileNotFoundError:
                continue
            if data != expected:
                seen.append(f"{path.name}: {len(data)} of {len(expected)} bytes")


def test_two_processes_uploading_the_same_bytes_make_one_file(tmp_path):
    directory = tmp_path / "store"
    directory.mkdir()
    data = _large_model()
    context = multiprocessing.get_context("spawn")
    barrier, results = context.Barrier(2), context.Queue()
    uploaders = [
        context.Process(target=_upload_in_another_process, args=(str(directory), barrier, results))
        for _ in range(2)
    ]
    stop, partial = threading.Event(), []
    watcher = threading.Thread(target=_watch, args=(directory, data, stop, partial))
    watcher.start()
    try:
        for uploader in uploaders:
            uploader.start()
        answers = [results.get(timeout=120) for _ in uploaders]
        for uploader in uploaders:
            uploader.join(timeout=60)
    finally:
        stop.set()
        watcher.join()
    assert [uploader.exitcode for uploader in uploaders] == [0, 0]
    ids = {model_id for model_id, _ in answers}
    assert ids == {"sha256:" + hashlib.sha256(data).hexdigest()}
    assert sorted(created for _, created in answers) == [False, True]
    digest = ids.pop().removeprefix("sha256:")
    assert _files(directory) == [f"{digest}.json", f"{digest}.onnx"]
    assert (directory / f"{digest}.onnx").read_bytes() == data
    assert partial == []
    results.close()
    results.join_thread()
