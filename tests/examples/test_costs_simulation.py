"""The cost-aware simulation: the walk that spends a round's money, and one short run
of each strategy through the service that never spends more than it was given."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest

from examples.costs import experiment
from service.app import create_app
from service.client import AlrankClient
from tests.servers import serve


def test_the_walk_skips_what_no_longer_fits():
    costs = np.array([3.0, 2.0, 1.0, 2.0])
    # 3 fits 5, then 2 fits the 2 left, then nothing more.
    assert experiment.walk(np.array([0, 1, 2, 3]), costs, 5.0) == ([0, 1], 5.0)
    assert experiment.walk(np.array([3, 0, 2, 1]), costs, 4.0) == ([3, 2], 3.0)


def test_money_to_target_is_the_first_spend_that_reaches_it():
    history = {"spend": [0.0, 300.0, 600.0], "accuracy": [0.5, 0.8, 0.9], "labels": [20, 30, 40]}
    assert experiment.money_to(history, 0.8) == 300.0
    assert experiment.money_to(history, 0.95) is None


@pytest.fixture(scope="module")
def client() -> Iterator[AlrankClient]:
    for url in serve(create_app({"TESTING": True})):
        with AlrankClient(url, timeout=30) as alrank:
            yield alrank


@pytest.mark.parametrize("strategy", experiment.STRATEGIES)
def test_each_round_spends_at_most_its_money(client, strategy, monkeypatch):
    monkeypatch.setattr(experiment, "TOTAL_SPEND", 600.0)
    history = experiment.run(client, experiment.load(), strategy, seed=0)
    spends = np.diff(history["spend"])
    assert len(spends) >= 1
    assert (spends <= experiment.ROUND_SPEND).all()
    assert history["spend"][-1] <= 600.0
    assert np.diff(history["labels"]).min() > 0
