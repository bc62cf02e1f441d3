"""Back-pressure: compute slots shared across processes, 503 when busy, 504 past the deadline."""

from __future__ import annotations

import subprocess
import sys
import threading
import time

import numpy as np
import pytest

from service.app import create_app
from service.deadline import check_deadline, seconds_left, within
from service.errors import DeadlineExceeded, ServiceBusy
from service.ranking.items import item_chunks
from service.web.admission import EXTENSION, Admission, ComputeSlots
from tests.contract import ContractClient
from tests.web.helpers import RANK, SMALL_POOL, assert_problem

RANK_BODY = {"strategy": "margin", "budget": 1, "probabilities": SMALL_POOL}

# A child process that takes a slot's lock, says so, then sleeps until killed.
HOLD_A_SLOT = """
import fcntl, os, sys, time
descriptor = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT, 0o600)
fcntl.flock(descriptor, fcntl.LOCK_EX)
print("held", flush=True)
time.sleep(600)
"""


def contract_app(tmp_path, **config):
    app = create_app({"TESTING": True, "SLOT_DIR": str(tmp_path / "slots"), **config})
    app.test_client_class = ContractClient
    return app


# Compute slots


def test_slots_are_handed_out_until_none_is_left(tmp_path):
    slots = ComputeSlots(tmp_path, 3)
    held = [slots.try_acquire() for _ in range(3)]
    assert None not in held
    assert slots.try_acquire() is None
    ComputeSlots.release(held[1])
    again = slots.try_acquire()
    assert again is not None
    assert slots.try_acquire() is None
    for descriptor in [held[0], held[2], again]:
        ComputeSlots.release(descriptor)


def test_a_wait_gets_a_slot_freed_meanwhile(tmp_path):
    slots = ComputeSlots(tmp_path, 1)
    first = slots.try_acquire()
    releaser = threading.Timer(0.2, ComputeSlots.release, args=(first,))
    releaser.start()
    second = slots.acquire(wait_seconds=30)
    releaser.join()
    assert second is not None
    ComputeSlots.release(second)


def test_a_wait_gives_up_when_no_slot_comes_free(tmp_path):
    slots = ComputeSlots(tmp_path, 1)
    first = slots.try_acquire()
    assert slots.acquire(wait_seconds=0.05) is None
    assert slots.acquire(wait_seconds=0) is None
    ComputeSlots.release(first)


def test_slots_are_shared_with_other_processes_and_freed_when_one_is_killed(tmp_path):
    slots = ComputeSlots(tmp_path, 1)
    with subprocess.Popen(
        [sys.executable, "-c", HOLD_A_SLOT, str(tmp_path / "slot-0")],
        stdout=subprocess.PIPE,
        text=True,
    ) as holder:
        try:
            assert holder.stdout.readline().strip() == "held"
            assert slots.try_acquire() is None
        finally:
            holder.kill()
            holder.wait(timeout=30)
    descriptor = slots.try_acquire()
    assert descriptor is not None
    ComputeSlots.release(descriptor)


def test_a_worker_admits_no_more_than_its_share(tmp_path):
    admission = Admission(ComputeSlots(tmp_path, 4), per_worker=1, wait_seconds=0, retry_after=7)
    with admission.compute(), pytest.raises(ServiceBusy) as busy, admission.compute():
        pass
    assert busy.value.headers == {"Retry-After": "7"}
    with admission.compute():
        pass  # admitted again once the first left


# Over HTTP


def test_a_ranking_gets_503_with_retry_after_while_every_slot_is_busy(tmp_path):
    app = contract_app(tmp_path, COMPUTE_SLOTS=1, SLOT_WAIT_SECONDS=0.05, RETRY_AFTER_SECONDS=3)
    client = app.test_client()
    admission: Admission = app.extensions[EXTENSION]
    held = admission.slots.try_acquire()
    try:
        response = client.post(RANK, json=RANK_BODY)
        assert_problem(response, 503, None, says=("compute slots", "retry after 3 s"))
        assert response.get_json()["type"] == "urn:alrank:problem:busy"
        assert response.headers["Retry-After"] == "3"
        # Health, readiness and metrics never wait for a slot.
        assert client.get("/healthz").status_code == 200
        assert client.get("/readyz").status_code == 200
        assert client.get("/metrics").status_code == 200
    finally:
        ComputeSlots.release(held)
    assert client.post(RANK, json=RANK_BODY).status_code == 200


def test_a_model_upload_also_needs_a_slot(tmp_path):
    app = contract_app(tmp_path, COMPUTE_SLOTS=1, SLOT_WAIT_SECONDS=0)
    admission: Admission = app.extensions[EXTENSION]
    held = admission.slots.try_acquire()
    try:
        response = app.test_client().post(
            "/v1/models", data=b"not a model", content_type="application/octet-stream"
        )
        assert response.status_code == 503
    finally:
        ComputeSlots.release(held)


def test_a_slot_is_given_back_after_an_error(tmp_path):
    app = contract_app(tmp_path, COMPUTE_SLOTS=1, SLOT_WAIT_SECONDS=0)
    client = app.test_client()
    for _ in range(3):
        assert client.post(RANK, json={**RANK_BODY, "budget": 99}).status_code == 422
    assert client.post(RANK, json=RANK_BODY).status_code == 200


# The compute deadline


def test_check_deadline_passes_without_a_deadline_and_before_it():
    check_deadline()
    with within(60):
        check_deadline()
        rows = ((offset, np.zeros((1, 2))) for offset in range(3))
        assert [chunk.offset for chunk in item_chunks(rows)] == [0, 1, 2]


def test_check_deadline_raises_once_the_deadline_has_passed():
    with within(0.01):
        time.sleep(0.02)
        with pytest.raises(DeadlineExceeded, match=r"0\.01 s"):
            check_deadline()
    check_deadline()  # the deadline ended with its block


def test_chunks_stop_between_items_once_the_deadline_passes():
    seen = []

    def consume() -> None:
        for chunk in item_chunks((offset, np.zeros((1, 2))) for offset in range(100)):
            seen.append(chunk.offset)
            time.sleep(0.02)

    with within(0.05), pytest.raises(DeadlineExceeded):
        consume()
    assert 1 <= len(seen) < 100


@pytest.mark.parametrize(
    "body",
    [
        RANK_BODY,
        {
            "strategy": "coreset",
            "budget": 2,
            "embeddings": np.random.default_rng(0).normal(size=(50, 4)).tolist(),
        },
        {
            "strategy": "margin",
            "budget": 2,
            "features": np.zeros((5, 64)).tolist(),
            "model": "digits-logreg",
        },
        {
            "strategy": "bald",
            "budget": 2,
            "features": np.zeros((5, 64)).tolist(),
            "model": "digits-mlp",
            "params": {"passes": 100},
        },
        {
            "strategy": "vote_entropy",
            "budget": 2,
            "features": np.zeros((5, 64)).tolist(),
            "model": ["digits-logreg", "digits-mlp"],
        },
    ],
    ids=["pointwise", "coreset", "features", "passes", "committee"],
)
def test_work_past_the_deadline_gets_504(tmp_path, body):
    app = contract_app(tmp_path, COMPUTE_DEADLINE_SECONDS=1e-9)
    response = app.test_client().post(RANK, json=body)
    assert_problem(response, 504, None, says=("within the deadline",))
    assert response.get_json()["type"] == "urn:alrank:problem:deadline-exceeded"


def test_seconds_left_counts_down_to_zero():
    assert seconds_left() is None
    with within(0.05):
        first = seconds_left()
        assert first is not None
        assert 0 < first <= 0.05
        time.sleep(0.06)
        assert seconds_left() == 0.0
