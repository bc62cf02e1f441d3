"""The model store under real disk faults: a full file system, a read-only one,
and a store directory removed while the service runs.

The faults are real: a size-limited tmpfs is mounted as the store (this needs
root, as CI has; elsewhere these tests are skipped, saying why). Every fault
must give its documented problem (507 or 503), leave no part of a model
behind, and keep ranking with stored and bundled models.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

from bench.server import HOST, running_server
from service.app import create_app
from tests.contract import ContractClient
from tests.models import builders
from tests.web.helpers import assert_problem

MODELS = "/v1/models"
OCTET_STREAM = "application/octet-stream"
# 360 KB each: two do not fit in a 600 KB tmpfs.
WIDTH, CLASSES = 9000, 10


def big_model(seed: int) -> bytes:
    rng = np.random.default_rng(seed)
    return builders.linear(rng.normal(size=(WIDTH, CLASSES)), rng.normal(size=CLASSES))


def model_id(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _mount(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["mount", *args], capture_output=True, text=True, check=False)


@pytest.fixture
def tmpfs(tmp_path: Path):
    """A 600 KB tmpfs at ``tmp_path / "disk"``, unmounted afterwards."""
    mount_point = tmp_path / "disk"
    mount_point.mkdir()
    if shutil.which("mount") is None:
        pytest.skip("no mount command to make a size-limited tmpfs")
    mounted = _mount("-t", "tmpfs", "-o", "size=600k,mode=0700", "tmpfs", str(mount_point))
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (needs root): {mounted.stderr.strip()}")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], check=False)


def client_for(store: Path):
    app = create_app({"TESTING": True, "MODEL_DIR": str(store)})
    app.test_client_class = ContractClient
    return app.test_client()


def upload(client, data: bytes):
    return client.post(MODELS, data=data, content_type=OCTET_STREAM)


def rank_with(client, model: str):
    features = np.random.default_rng(0).normal(size=(6, WIDTH)).tolist()
    return client.post(
        "/v1/rank",
        json={"strategy": "margin", "budget": 2, "features": features, "model": model},
    )


def rank_with_bundled(client):
    features = np.random.default_rng(0).random((5, 64)).tolist()
    return client.post(
        "/v1/rank",
        json={"strategy": "entropy", "budget": 2, "features": features, "model": "digits-logreg"},
    )


def leftovers(store: Path) -> list[str]:
    """Temporaries, and model files without their record: parts of a model."""
    names = {path.name for path in store.iterdir()}
    partial = sorted(n for n in names if n.startswith(".tmp-"))
    partial += sorted(
        n for n in names if n.endswith(".onnx") and n.replace(".onnx", ".json") not in names
    )
    return partial


def hundred_kb_models(seed: int) -> list[bytes]:
    """Twelve distinct models of about 100 KB: five or six fit in 600 KB, twelve do not."""
    rng = np.random.default_rng(seed)
    return [
        builders.linear(rng.normal(size=(2500, CLASSES)), rng.normal(size=CLASSES))
        for _ in range(12)
    ]


def race_uploads(send, models: list[bytes], store: Path) -> tuple[set[str], set[str]]:
    """Send ``models`` four at a time with ``send`` (bytes -> status) as the disk
    fills: every answer 201 or 507, both seen, nothing partial left. Returns
    (stored ids, refused ids)."""
    with ThreadPoolExecutor(max_workers=4) as pool:
        statuses = list(pool.map(send, models))
    assert set(statuses) <= {201, 507}, statuses
    assert 201 in statuses
    assert 507 in statuses
    assert leftovers(store) == []
    outcomes = zip(models, statuses, strict=True)
    stored = {model_id(data) for data, status in outcomes if status == 201}
    return stored, {model_id(data) for data in models} - stored


def http_call(
    port: int, method: str, path: str, body: bytes | None = None, kind: str = ""
) -> tuple[int, bytes]:
    """One request to a live server on a fresh connection: (status, body)."""
    connection = http.client.HTTPConnection(HOST, port, timeout=60)
    try:
        connection.request(method, path, body=body, headers={"Content-Type": kind} if kind else {})
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def test_a_full_disk_answers_507_keeps_nothing_partial_and_keeps_ranking(tmpfs):
    store = tmpfs / "store"
    client = client_for(store)
    first, second = big_model(1), big_model(2)
    assert upload(client, first).status_code == 201
    response = upload(client, second)
    assert_problem(response, 507, says=("no room left", "ALRANK_MODEL_DIR"))
    assert response.get_json()["type"] == "urn:alrank:problem:insufficient-storage"
    assert leftovers(store) == []
    listed = [model["id"] for model in client.get(MODELS).get_json()["models"]]
    assert model_id(first) in listed
    assert model_id(second) not in listed
    assert rank_with(client, model_id(first)).status_code == 200
    assert rank_with_bundled(client).status_code == 200
    assert client.get("/readyz").status_code == 200  # full, but deletes free room
    # Deleting frees the room; the upload then succeeds and nothing was lost.
    assert client.delete(f"{MODELS}/{model_id(first)}").status_code == 204
    assert upload(client, second).status_code == 201
    assert rank_with(client, model_id(second)).status_code == 200


def test_a_read_only_store_answers_503_is_not_ready_and_recovers(tmpfs):
    store = tmpfs / "store"
    client = client_for(store)
    kept = big_model(3)
    assert upload(client, kept).status_code == 201
    assert _mount("-o", "remount,ro", str(tmpfs)).returncode == 0
    try:
        response = upload(client, big_model(4))
        assert_problem(response, 503, says=("cannot be written", "Read-only file system"))
        assert response.get_json()["type"] == "urn:alrank:problem:store-unavailable"
        assert response.headers["Retry-After"] == "30"
        deleted = client.delete(f"{MODELS}/{model_id(kept)}")
        assert_problem(deleted, 503, says=("cannot be written",))
        ready = client.get("/readyz")
        assert ready.status_code == 503
        assert "Read-only file system" in ready.get_json()["reason"]
        # Ranking needs no write: stored and bundled models still rank.
        assert rank_with(client, model_id(kept)).status_code == 200
        assert rank_with_bundled(client).status_code == 200
    finally:
        _mount("-o", "remount,rw", str(tmpfs))
    assert client.get("/readyz").status_code == 200
    small = builders.linear(*builders.small_classifier(width=4, classes=3))
    assert upload(client, small).status_code == 201
    assert rank_with(client, model_id(kept)).status_code == 200
    assert leftovers(store) == []


def test_a_removed_store_directory_is_recreated_on_the_next_upload(tmp_path):
    store = tmp_path / "store"
    client = client_for(store)
    shutil.rmtree(store)
    assert client.get("/readyz").status_code == 200  # recreated by the check
    shutil.rmtree(store)
    model = builders.linear(*builders.small_classifier(width=4, classes=3))
    assert upload(client, model).status_code == 201
    assert (store / f"{model_id(model).removeprefix('sha256:')}.json").is_file()
    assert rank_with_bundled(client).status_code == 200


def test_a_store_that_cannot_be_recreated_is_unavailable(tmpfs):
    store = tmpfs / "store"
    client = client_for(store)
    shutil.rmtree(store)
    assert _mount("-o", "remount,ro", str(tmpfs)).returncode == 0
    try:
        response = upload(client, builders.linear(*builders.small_classifier()))
        assert_problem(response, 503, says=("cannot be written",))
        assert client.get("/readyz").status_code == 503
        assert rank_with_bundled(client).status_code == 200
    finally:
        _mount("-o", "remount,rw", str(tmpfs))
    assert client.get("/readyz").status_code == 200


def test_concurrent_uploads_while_the_disk_fills_get_201_or_507_and_no_half_model(tmpfs):
    store = tmpfs / "store"
    app = create_app({"TESTING": True, "MODEL_DIR": str(store), "SLOT_WAIT_SECONDS": 60})

    def send(data: bytes) -> int:
        return app.test_client().post(MODELS, data=data, content_type=OCTET_STREAM).status_code

    stored, refused = race_uploads(send, hundred_kb_models(7), store)
    client = app.test_client()
    listed = {model["id"] for model in client.get(MODELS).get_json()["models"]}
    assert stored <= listed
    assert not refused & listed
    features = np.random.default_rng(0).normal(size=(3, 2500)).tolist()
    for stored_id in stored:
        body = {"strategy": "margin", "budget": 1, "features": features, "model": stored_id}
        assert client.post("/v1/rank", json=body).status_code == 200


def test_a_service_starting_on_an_unwritable_store_ranks_and_is_not_ready(tmpfs):
    assert _mount("-o", "remount,ro", str(tmpfs)).returncode == 0
    try:
        client = client_for(tmpfs / "never-made")
        assert client.get("/readyz").status_code == 503
        assert rank_with_bundled(client).status_code == 200
        assert_problem(upload(client, big_model(5)), 503, says=("cannot be written",))
    finally:
        _mount("-o", "remount,rw", str(tmpfs))


def test_the_start_check_repairs_what_it_can_and_says_so(tmp_path, caplog):
    store = tmp_path / "store"
    client = client_for(store)
    model = builders.linear(*builders.small_classifier(width=4, classes=3))
    assert upload(client, model).status_code == 201
    digest = model_id(model).removeprefix("sha256:")
    (store / f"{digest}.json").unlink()  # a lost record
    lost = store / ("ab" * 32 + ".json")  # a record whose model file is gone
    lost.write_text("{}")
    stale = store / ".tmp-crashed.onnx"
    stale.write_bytes(b"partial")
    os.utime(stale, (0, 0))
    with caplog.at_level("INFO", logger="service.models.store"):
        restarted = client_for(store)
    assert not lost.exists()
    assert not stale.exists()
    assert (store / f"{digest}.json").is_file()
    messages = " ".join(record.getMessage() for record in caplog.records)
    assert "removed 1 stale temporaries and 1 records" in messages
    assert "rebuilt the missing or unreadable record" in messages
    assert "1 uploaded models usable" in messages
    features = np.random.default_rng(0).normal(size=(3, 4)).tolist()
    body = {"strategy": "margin", "budget": 1, "features": features, "model": model_id(model)}
    assert restarted.post("/v1/rank", json=body).status_code == 200


def test_over_http_a_garbled_record_heals_and_a_flipped_byte_answers_409(tmp_path):
    store = tmp_path / "store"
    client = client_for(store)
    model = builders.linear(*builders.small_classifier(width=4, classes=3))
    assert upload(client, model).status_code == 201
    digest = model_id(model).removeprefix("sha256:")
    (store / f"{digest}.json").write_bytes(b"\x00garbage")
    assert client.get(f"{MODELS}/{model_id(model)}").status_code == 200
    assert model_id(model) in [m["id"] for m in client.get(MODELS).get_json()["models"]]
    features = np.random.default_rng(0).normal(size=(3, 4)).tolist()
    body = {"strategy": "margin", "budget": 1, "features": features, "model": model_id(model)}
    flipped = bytearray(model)
    flipped[-1] ^= 0x01
    # A fresh app: no session cached from before the damage.
    client = client_for(store)
    (store / f"{digest}.onnx").write_bytes(bytes(flipped))
    response = client.post("/v1/rank", json=body)
    says = ("no longer match its id", "upload the model again")
    assert_problem(response, 409, "model", says=says)
    assert response.get_json()["type"] == "urn:alrank:problem:model-damaged"
    assert (store / "quarantine" / f"{digest}.onnx").read_bytes() == bytes(flipped)
    listed = {m["id"]: m for m in client.get(MODELS).get_json()["models"]}
    assert listed[model_id(model)]["broken"] == "its bytes no longer match its id"
    assert rank_with_bundled(client).status_code == 200
    assert upload(client, model).status_code == 201
    assert client.post("/v1/rank", json=body).status_code == 200


def test_under_gunicorn_a_removed_store_is_recreated_by_whichever_worker_writes(tmp_path):
    store = tmp_path / "store"
    settings = {"ALRANK_WORKERS": "2", "ALRANK_MODEL_DIR": str(store)}
    (tmp_path / "logs").mkdir()
    with running_server(tmp_path / "logs", settings) as server:
        rng = np.random.default_rng(11)
        models = [builders.linear(rng.normal(size=(4, 3)), rng.normal(size=3)) for _ in range(6)]
        assert http_call(server.port, "POST", MODELS, models[0], OCTET_STREAM)[0] == 201
        shutil.rmtree(store)
        # Fresh connections, answered by whichever worker takes each.
        statuses = [http_call(server.port, "POST", MODELS, m, OCTET_STREAM)[0] for m in models[1:]]
        assert statuses == [201] * 5
        status, body = http_call(server.port, "GET", MODELS)
        assert status == 200
        listed = {model["id"] for model in json.loads(body)["models"]}
        assert {model_id(m) for m in models[1:]} <= listed
        assert http_call(server.port, "GET", "/readyz")[0] == 200
        features = json.dumps(
            {
                "strategy": "entropy",
                "budget": 1,
                "model": "digits-logreg",
                "features": np.zeros((2, 64)).tolist(),
            }
        ).encode()
        assert http_call(server.port, "POST", "/v1/rank", features, "application/json")[0] == 200
    assert leftovers(store) == []


def test_under_gunicorn_uploads_racing_a_filling_disk_get_201_or_507_only(tmpfs, tmp_path):
    store = tmpfs / "store"
    (tmp_path / "logs").mkdir()
    settings = {"ALRANK_WORKERS": "2", "ALRANK_MODEL_DIR": str(store)}
    with running_server(tmp_path / "logs", settings) as server:

        def send(data: bytes) -> int:
            return http_call(server.port, "POST", MODELS, data, OCTET_STREAM)[0]

        stored, refused = race_uploads(send, hundred_kb_models(13), store)
        # Whichever worker answers lists every stored model and no refused one.
        for _ in range(6):
            status, body = http_call(server.port, "GET", MODELS)
            assert status == 200
            listed = {model["id"] for model in json.loads(body)["models"]}
            assert stored <= listed
            assert not refused & listed
