"""service.client against the app served on a loopback port, and the simulation example.

The app runs in werkzeug's server on a background thread (127.0.0.1, port 0),
so the client's real HTTP path is exercised without any outside network.
werkzeug closes every connection after its answer, so connection reuse is
checked against gunicorn, started the way the simulation starts it.
"""

from __future__ import annotations

import importlib.util
import json
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import numpy as np
import pytest

from service.app import create_app
from service.client import (
    MAX_QUERY_CHARS,
    NPY_MEDIA_TYPE,
    AlrankClient,
    AlrankConnectionError,
    AlrankError,
    RankResult,
    decode_answer,
    rank_fields,
    rank_request,
)
from tests.servers import serve
from tests.web.helpers import REQUEST_VARIANTS, assert_ranked, dirichlet_pool, npy_bytes, send


@pytest.fixture(scope="module")
def url() -> Iterator[str]:
    yield from serve(create_app({"TESTING": True}))


@pytest.fixture(scope="module")
def gunicorn_url() -> Iterator[str]:
    """The service as deployed: gunicorn with gunicorn.conf.py, which keeps connections alive."""
    from examples.simulation.server import started

    with started() as running:
        yield running


@pytest.fixture
def alrank(url: str) -> Iterator[AlrankClient]:
    with AlrankClient(url, timeout=10) as client:
        yield client


def assert_same_ranking(result: RankResult, body: dict[str, Any]) -> None:
    """The client's result holds exactly the JSON API's answer."""
    assert isinstance(result.indices, np.ndarray)
    assert result.indices.dtype == np.int64
    assert result.indices.tolist() == body["indices"]
    assert result.scores.tolist() == body["scores"]
    assert (result.strategy, result.budget, result.pool_size) == (
        body["strategy"],
        body["budget"],
        body["pool_size"],
    )
    assert result.selection == body["selection"]
    assert result.seed == body.get("seed")
    if "all_scores" in body:
        assert result.all_scores is not None
        assert result.all_scores.tolist() == body["all_scores"]
    else:
        assert result.all_scores is None


# --- discovery and health ---------------------------------------------------------------


def test_health_ready_and_strategies(alrank):
    assert alrank.health()["status"] == "ok"
    assert alrank.ready()["status"] == "ready"
    names = {strategy["name"] for strategy in alrank.strategies()}
    assert {"margin", "random", "bald", "coreset", "badge"} <= names


def test_requests_reuse_one_connection(gunicorn_url):
    with AlrankClient(gunicorn_url) as client:
        addresses = set()
        for _ in range(3):
            client.rank("margin", 2, probabilities=dirichlet_pool(10, 3))
            client.health()
            addresses.add(client._transport._connection.sock.getsockname())
    assert len(addresses) == 1


# --- the .npy and multipart paths give the JSON API's answer -----------------------------


@pytest.mark.parametrize("variant", list(REQUEST_VARIANTS))
def test_npy_path_matches_json(alrank, client, variant):
    arrays, fields = REQUEST_VARIANTS[variant]
    expected = assert_ranked(send(client, "json", arrays, **fields))
    assert rank_request("/v1/rank", {}, arrays).headers["Content-Type"] == NPY_MEDIA_TYPE
    assert_same_ranking(alrank.rank(**fields, **arrays), expected)


@pytest.mark.parametrize(
    ("strategy", "extra"),
    [
        ("badge", {"seed": 3}),
        ("cluster_margin", {"seed": 4, "params": {"candidates": 30, "clusters": 4}}),
        ("badge", {"seed": 5, "exclude": [0, 5]}),
    ],
)
def test_multipart_path_matches_json(alrank, client, strategy, extra):
    arrays = {
        "probabilities": dirichlet_pool(80, 4, seed=1),
        "embeddings": np.random.default_rng(2).normal(size=(80, 6)),
    }
    fields = {"strategy": strategy, "budget": 6, **extra}
    expected = assert_ranked(send(client, "json", arrays, **fields))
    assert (
        rank_request("/v1/rank", {}, arrays)
        .headers["Content-Type"]
        .startswith("multipart/form-data; boundary=")
    )
    assert_same_ranking(alrank.rank(**fields, **arrays), expected)


def test_coreset_with_labeled_embeddings_matches_json(alrank, client):
    rng = np.random.default_rng(8)
    arrays = {"embeddings": rng.normal(size=(50, 3)), "labeled_embeddings": rng.normal(size=(7, 3))}
    expected = assert_ranked(send(client, "json", arrays, strategy="coreset", budget=5))
    assert_same_ranking(alrank.rank("coreset", 5, **arrays), expected)
    only = assert_ranked(
        send(client, "json", {"embeddings": arrays["embeddings"]}, strategy="coreset", budget=5)
    )
    assert_same_ranking(alrank.rank("coreset", 5, embeddings=arrays["embeddings"]), only)


def test_samples_with_layout_and_stochastic_selection_match_json(alrank, client):
    samples = np.random.default_rng(4).dirichlet(np.ones(3), size=(5, 40))  # T x N x C
    fields = {
        "strategy": "bald",
        "budget": 4,
        "seed": 9,
        "params": {"layout": "TNC"},
        "selection": {"method": "softmax", "beta": 3.0},
    }
    expected = assert_ranked(send(client, "json", {"samples": samples}, **fields))
    result = alrank.rank(
        "bald",
        4,
        samples=samples,
        seed=9,
        params={"layout": "TNC"},
        selection="softmax",
        beta=3.0,
    )
    assert_same_ranking(result, expected)
    assert result.selection == {"method": "softmax", "beta": 3.0}


def test_float32_pool_is_scored_in_float32(alrank, client):
    probabilities = dirichlet_pool(30, 5, seed=3, dtype=np.float32)
    fields = {"strategy": "entropy", "budget": 5}
    expected = assert_ranked(send(client, "npy", {"probabilities": probabilities}, **fields))
    assert_same_ranking(alrank.rank(probabilities=probabilities, **fields), expected)


def test_long_exclusion_list_travels_as_form_fields(alrank, client):
    probabilities = dirichlet_pool(2000, 3, seed=5)
    exclude = list(range(0, 2000, 2))
    fields = rank_fields("margin", 5, exclude=exclude)
    request = rank_request("/v1/rank", fields, {"probabilities": probabilities})
    assert len(fields["exclude"]) > MAX_QUERY_CHARS
    assert request.path == "/v1/rank"
    assert request.headers["Content-Type"].startswith("multipart/form-data")
    expected = assert_ranked(
        send(
            client,
            "json",
            {"probabilities": probabilities},
            strategy="margin",
            budget=5,
            exclude=exclude,
        )
    )
    result = alrank.rank("margin", 5, probabilities=probabilities, exclude=np.array(exclude))
    assert_same_ranking(result, expected)
    assert not set(result.indices.tolist()) & set(exclude)


# --- errors ----------------------------------------------------------------------------


def test_invalid_request_raises_the_problem(alrank):
    with pytest.raises(AlrankError) as caught:
        alrank.rank("margin", 5, probabilities=dirichlet_pool(3, 2))
    error = caught.value
    assert isinstance(error, Exception)
    assert error.status == 422
    assert error.title == "Unprocessable Content"
    assert error.type == "urn:alrank:problem:invalid-input"
    assert "budget" in error.errors
    assert error.problem["status"] == 422
    assert error.detail in str(error)


@pytest.mark.parametrize(
    ("call", "field"),
    [
        ({"strategy": "nope", "budget": 1}, "strategy"),
        ({"strategy": "margin", "budget": 1, "params": {"bogus": 1}}, "params.bogus"),
        ({"strategy": "margin", "budget": 1, "exclude": [7]}, "exclude"),
    ],
)
def test_field_errors_are_named(alrank, call, field):
    with pytest.raises(AlrankError) as caught:
        alrank.rank(**call, probabilities=dirichlet_pool(4, 2))
    assert caught.value.status == 422
    assert field in caught.value.errors, caught.value.problem


def test_unnormalized_rows_are_refused_with_the_field_named(alrank):
    with pytest.raises(AlrankError) as caught:
        alrank.rank("entropy", 1, probabilities=np.array([[0.5, 0.2], [0.9, 0.1]]))
    assert caught.value.status == 422
    assert "probabilities" in caught.value.errors


def test_oversized_body_raises_413():
    small = create_app({"TESTING": True, "MAX_NPY_BYTES": 4096})
    for url in serve(small):
        with AlrankClient(url, timeout=10) as client, pytest.raises(AlrankError) as caught:
            client.rank("margin", 1, probabilities=dirichlet_pool(20_000, 4))
        assert caught.value.status == 413
        assert caught.value.problem["status"] == 413


def test_an_error_without_a_problem_body_is_wrapped():
    with pytest.raises(AlrankError) as caught:
        decode_answer(502, "text/html", b"<html>Bad Gateway</html>")
    assert caught.value.status == 502
    assert caught.value.title == "Bad Gateway"
    assert "Bad Gateway" in caught.value.detail
    assert caught.value.errors == {}


def test_unreachable_service_raises_a_connection_error():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with (
        AlrankClient(f"http://127.0.0.1:{port}", timeout=2) as client,
        pytest.raises(AlrankConnectionError, match=f"127.0.0.1:{port}"),
    ):
        client.health()


def test_silent_service_times_out():
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        url = f"http://127.0.0.1:{listener.getsockname()[1]}"
        with (
            AlrankClient(url, timeout=0.2) as client,
            pytest.raises(AlrankConnectionError, match="no answer within"),
        ):
            client.health()


class ClosingHandler(BaseHTTPRequestHandler):
    """Answers one request per connection, then closes it without saying so."""

    protocol_version = "HTTP/1.1"
    connections = 0

    def setup(self) -> None:
        type(self).connections += 1
        super().setup()

    def do_GET(self) -> None:
        body = json.dumps({"status": "ok"}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        self.close_connection = True

    def log_message(self, format: str, *args: object) -> None:
        """Quiet."""


def test_a_connection_closed_while_idle_is_reopened():
    server = ThreadingHTTPServer(("127.0.0.1", 0), ClosingHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        with AlrankClient(f"http://127.0.0.1:{server.server_port}", timeout=5) as client:
            assert client.health() == {"status": "ok"}
            assert client.health() == {"status": "ok"}
        assert ClosingHandler.connections == 2
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


# --- request building ------------------------------------------------------------------


def test_fields_as_query_text():
    fields = rank_fields(
        "entropy",
        np.int64(3),
        exclude=np.array([4, 2]),
        seed=7,
        params={"temperature": 0.5, "flag": True},
        selection={"method": "power", "beta": 2},
        return_all_scores=True,
    )
    assert fields == {
        "strategy": "entropy",
        "budget": "3",
        "exclude": "4,2",
        "seed": "7",
        "selection": "power",
        "beta": "2",
        "return_all_scores": "true",
        "temperature": "0.5",
        "flag": "true",
    }
    assert rank_fields("margin", 1, exclude=[]) == {"strategy": "margin", "budget": "1"}


def test_query_string_names_the_input_role():
    logits = np.zeros((3, 2))
    request = rank_request("/v1/rank", {"strategy": "margin", "budget": "1"}, {"logits": logits})
    assert request.path == "/v1/rank?strategy=margin&budget=1&input=logits"
    body = b"".join(bytes(chunk) for chunk in request.chunks)
    assert body == npy_bytes(logits)
    assert request.length == len(body)


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"params": {"seed": 1}}, ValueError),
        ({"params": {"embeddings": 1}}, ValueError),
        ({"exclude": [1.5]}, TypeError),
        ({"budget": 2.0}, TypeError),
    ],
)
def test_bad_arguments_fail_before_sending(kwargs, error):
    arguments = {"strategy": "margin", "budget": 1} | kwargs
    with pytest.raises(error):
        rank_fields(**arguments)


def test_rank_needs_an_array_and_refuses_object_arrays(url):
    with AlrankClient(url) as client:
        with pytest.raises(ValueError, match="at least one array"):
            client.rank("margin", 1)
        with pytest.raises(ValueError, match="object"):
            client.rank("margin", 1, probabilities=np.array([[0.5, None]], dtype=object))


def test_bad_base_url():
    with pytest.raises(ValueError, match="http"):
        AlrankClient("ftp://example.com")


# --- the simulation example ------------------------------------------------------------

needs_sklearn = pytest.mark.skipif(
    importlib.util.find_spec("sklearn") is None or importlib.util.find_spec("matplotlib") is None,
    reason="the simulation needs scikit-learn and matplotlib (the examples extra)",
)


@needs_sklearn
def test_strategy_plans_follow_the_registry(alrank):
    from examples.simulation.plans import choose, plan_strategies

    plans, skipped = plan_strategies(alrank.strategies())
    by_name = {plan.name: plan for plan in plans}
    # Single-label classification serves every strategy but those of token and
    # multi-label pools (examples/ner simulates the token ones).
    structured = {
        entry["name"]
        for entry in alrank.strategies()
        if entry["inputs"] and not {"probabilities", "logits", "samples"} & set(entry["inputs"])
    }
    assert structured == {
        "mnlp",
        "min_confidence",
        "avg_confidence",
        "max_score",
        "avg_score",
        "label_cardinality_inconsistency",
    }
    assert set(skipped) == structured
    assert by_name["margin"].input == "probabilities"
    assert by_name["bald"].input == "samples"
    assert by_name["coreset"].input is None
    assert by_name["coreset"].labeled_embeddings
    assert by_name["badge"].embeddings
    assert by_name["badge"].randomized
    without, skipped = plan_strategies(alrank.strategies(), committee=False)
    assert "bald" in skipped
    assert "bald" not in {plan.name for plan in without}
    assert [plan.name for plan in choose(plans, ["margin"])] == ["margin", "random"]
    with pytest.raises(ValueError, match="cannot simulate"):
        choose(plans, ["nope"])


@needs_sklearn
def test_labels_to_target_and_savings():
    from examples.simulation.loop import Curve
    from examples.simulation.report import Needed, saving_text
    from examples.simulation.results import labels_to_target

    curve = Curve(labels=[10, 20, 30], accuracy=[0.5, 0.8, 0.9])
    assert labels_to_target(curve, 0.8) == 20
    assert labels_to_target(curve, 0.95) is None
    assert saving_text(Needed(60, 5, 5, 5), Needed(100, 5, 5, 5)) == "40%"
    assert saving_text(Needed(120, 5, 5, 5), Needed(100, 5, 5, 5)) == "-20%"
    assert saving_text(Needed(60, 5, 5, 5), Needed(100, 5, 3, 5)) == "≥ 40%"
    assert Needed(100, 0, 3, 5).text() == "≥ 100 ± 0"


@needs_sklearn
def test_quick_simulation_writes_its_outputs(url, tmp_path, capsys):
    from examples.simulation.cli import main

    assert main(["--quick", "--url", url, "--out", str(tmp_path)]) == 0
    figure = tmp_path / "learning_curves.png"
    assert figure.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    table = (tmp_path / "labels_to_target.md").read_text(encoding="utf-8")
    assert "**random**" in table
    assert "| margin | uncertainty |" in table
    assert "## Cold start" in table
    assert "## After 10% of the pool is labeled" in table
    raw = json.loads((tmp_path / "results.json").read_text(encoding="utf-8"))
    cold, tenth = raw["datasets"]
    assert (cold["name"], cold["start"]) == ("digits", "cold")
    assert (tenth["name"], tenth["start"]) == ("digits", "tenth")
    assert raw["config"]["targets"] == {"cold": 0.95, "tenth": 0.99}
    assert tenth["target_accuracy"] > cold["target_accuracy"]
    assert cold["full_pool_accuracy"] == tenth["full_pool_accuracy"]
    for digits in (cold, tenth):
        assert {"random", "margin", "bald", "coreset", "badge"} <= set(digits["strategies"])
        assert digits["failed"] == {}
    assert cold["strategies"]["margin"]["labels"] == [[20, 25, 30]]
    assert tenth["strategies"]["margin"]["labels"] == [[120, 125, 130]]
    assert len(cold["strategies"]["margin"]["accuracy"][0]) == 3
    output = capsys.readouterr().out
    assert "margin" in output
    assert "done in" in output


@needs_sklearn
def test_simulation_starts_its_own_service_when_none_answers(monkeypatch):
    from examples.simulation import server

    monkeypatch.setattr(server, "local_url", lambda: "http://127.0.0.1:9")
    with server.service(None, say=lambda text: None) as url, AlrankClient(url) as client:
        assert url != "http://127.0.0.1:9"
        assert client.ready()["status"] == "ready"
        result = client.rank("margin", 1, probabilities=np.array([[0.5, 0.5], [0.9, 0.1]]))
        assert result.indices.tolist() == [0]
    assert not server.answers(url)


@needs_sklearn
def test_every_start_shares_the_split_and_draws_its_seed_set_from_the_seed():
    from examples.simulation.datasets import DATASETS, make_split
    from examples.simulation.starts import STARTS

    digits = DATASETS["digits"]
    cold = make_split(digits, 3, STARTS["cold"])
    tenth = make_split(digits, 3, STARTS["tenth"])
    np.testing.assert_array_equal(cold.x_pool, tenth.x_pool)
    np.testing.assert_array_equal(cold.y_test, tenth.y_test)
    assert np.bincount(cold.y_pool[cold.initial]).tolist() == [2] * 10
    assert len(tenth.initial) == round(0.1 * len(tenth.y_pool)) == 120
    assert np.all(np.diff(tenth.initial) > 0)
    # Stratified: each class holds its share of the pool, give or take one item.
    share = np.bincount(tenth.y_pool) * len(tenth.initial) / len(tenth.y_pool)
    assert np.all(np.abs(np.bincount(tenth.y_pool[tenth.initial]) - share) < 1)
    np.testing.assert_array_equal(make_split(digits, 3, STARTS["tenth"]).initial, tenth.initial)
    assert not np.array_equal(make_split(digits, 4, STARTS["tenth"]).initial, tenth.initial)


@needs_sklearn
def test_a_share_that_leaves_a_class_nothing_to_label_is_refused():
    from examples.simulation.starts import stratified_share

    labels = np.array([0, 0, 0, 1, 1, 1])
    chosen = stratified_share(labels, 0.5, seed=0)
    assert chosen.tolist() == sorted(set(chosen.tolist()))
    assert sorted(np.bincount(labels[chosen]).tolist()) == [1, 2]
    with pytest.raises(ValueError, match="at most 4 labels at start, got 5"):
        stratified_share(labels, 0.9, seed=0)


@needs_sklearn
@pytest.mark.parametrize(
    ("argv", "starts", "targets"),
    [
        ([], ["cold", "tenth"], {"cold": 0.95, "tenth": 0.99}),
        (["--starts", "tenth"], ["tenth"], {"cold": 0.95, "tenth": 0.99}),
        (["--target", "0.9"], ["cold", "tenth"], {"cold": 0.9, "tenth": 0.9}),
        (["--target", "tenth=0.98"], ["cold", "tenth"], {"cold": 0.95, "tenth": 0.98}),
        (["--quick", "--starts", "cold"], ["cold"], {"cold": 0.95, "tenth": 0.99}),
    ],
)
def test_start_and_target_options(argv, starts, targets):
    from examples.simulation.cli import DEFAULT_JOBS, parse_args

    args = parse_args([*argv, "--out", "unused"])
    assert args.starts == starts
    assert args.targets == targets
    assert args.jobs == (1 if "--quick" in argv else DEFAULT_JOBS)


@needs_sklearn
@pytest.mark.parametrize(
    "argv",
    [["--starts", "warm"], ["--target", "warm=0.9"], ["--target", "1.5"], ["--jobs", "0"]],
)
def test_bad_start_and_target_options_are_refused(argv, capsys):
    from examples.simulation.cli import parse_args

    with pytest.raises(SystemExit):
        parse_args(argv)
    assert "error" in capsys.readouterr().err


def _result(start: str, accuracy: dict[str, list[list[float]]], labels: list[int]):
    """A DatasetResult with the given curves (per strategy, per seed) and a 0.9 ceiling."""
    from examples.simulation.loop import Curve
    from examples.simulation.results import DatasetResult
    from examples.simulation.starts import STARTS

    seeds = len(next(iter(accuracy.values())))
    result = DatasetResult(
        name="toy",
        title="toy: 2 classes",
        start=STARTS[start],
        fraction=1.0,
        pool_size=100,
        test_size=50,
        classes=2,
        initial=labels[0],
        batch=labels[1] - labels[0],
        rounds=len(labels) - 1,
        seeds=list(range(seeds)),
        full_accuracy=[0.9] * seeds,
    )
    for name, runs in accuracy.items():
        result.families[name] = "baseline" if name == "random" else "uncertainty"
        result.curves[name] = [Curve(labels, values) for values in runs]
    return result


@needs_sklearn
def test_a_target_met_at_start_is_reported_as_such():
    from examples.simulation.report import at_start_text, needed, saving_text

    # Both seeds' seed sets already reach the 0.9 target.
    met = _result(
        "tenth", {"random": [[0.9, 0.9], [0.95, 0.9]], "margin": [[0.9, 1], [0.95, 1]]}, [10, 12]
    )
    random, margin = needed(met, "random"), needed(met, "margin")
    assert (random.mean, random.at_start, margin.at_start) == (10, 2, 2)
    assert saving_text(margin, random) == "none possible (met at start)"
    assert "already meets the target on every seed" in at_start_text(met)
    # One of two seeds meets it: those runs count the seed set's labels.
    some = _result(
        "tenth", {"random": [[0.9, 0.9], [0.8, 0.8]], "margin": [[0.9, 1], [0.8, 0.9]]}, [10, 12]
    )
    random, margin = needed(some, "random"), needed(some, "margin")
    assert (random.mean, random.bounded, margin.mean, margin.at_start) == (11, True, 11, 1)
    assert saving_text(margin, random) == "≥ 0%"
    assert "meets the target on 1 of 2 seeds, whose runs count 10 labels" in at_start_text(some)
    none = _result("cold", {"random": [[0.5, 0.9]]}, [4, 6])
    assert at_start_text(none) == "The seed set alone gives 50.0%, below the target on every seed."


@needs_sklearn
def test_the_table_file_has_a_section_per_start_and_names_what_was_left_out():
    from examples.simulation.report import markdown

    cold = _result("cold", {"random": [[0.5, 0.9]], "margin": [[0.5, 0.95]]}, [4, 6])
    tenth = _result("tenth", {"random": [[0.8, 0.9]], "margin": [[0.8, 0.95]]}, [10, 12])
    tenth.fraction = 0.99
    tenth.failed["coreset"] = 'HTTP 422: {"status": 422}'
    text = markdown([cold, tenth], {"bald": "needs samples"})
    assert text.index("## Cold start") < text.index("## After 10% of the pool is labeled")
    assert text.count("### toy: 2 classes") == 2
    assert "Start from 4 labels (2 per class)" in text
    assert "Start from 10 labels (a stratified random 10% of the pool)" in text
    assert "Target: 99% of that, **89.1%**" in text
    assert "Not simulated: bald (needs samples)." in text
    assert 'Left out: **coreset**, the service answered HTTP 422: {"status": 422}' in text
    assert "depends on the start" in text


@needs_sklearn
def test_a_strategy_the_service_refuses_becomes_a_failure(url):
    from examples.simulation.datasets import DATASETS, make_split
    from examples.simulation.experiment import Failure, Run, Runner, simulate
    from examples.simulation.plans import StrategyPlan

    plan = StrategyPlan("nope", "uncertainty", "probabilities", False, False, False)
    split = make_split(DATASETS["breast_cancer"], 0)
    outcome = simulate(url, Run(split, plan, batch=2, rounds=1, seed=0))
    assert isinstance(outcome, Failure)
    assert outcome.reason.startswith("HTTP 4")
    assert '"status": 4' in outcome.reason
    with pytest.raises(ValueError, match="at least 1 job, got 0"):
        Runner(url, jobs=0)


def test_the_stopping_rule_travels_as_fields(alrank):
    pool = np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4]])
    result = alrank.rank(
        "margin",
        1,
        probabilities=pool,
        arrays={"previous_predictions": np.array([0, 1, 0])},
        stopping={"kappa": 0.9, "rounds": 2, "history": [1.0]},
    )
    assert result.diagnostics["agreement"]["kappa"] == 1.0
    assert result.diagnostics["stop_suggested"] is True
    assert result.diagnostics["stopping"]["window"] == [1.0, 1.0]


def test_a_budget_of_money_travels_with_its_costs(alrank):
    pool = np.array([[0.5, 0.5], [0.9, 0.1], [0.6, 0.4], [0.2, 0.8]])
    result = alrank.rank(
        "margin", probabilities=pool, arrays={"costs": np.array([3.0, 1, 1, 1])}, budget_cost=2.5
    )
    # Margins 1.0, 0.2, 0.8, 0.4 per cost 3, 1, 1, 1: items 2 and 3 fit 2.5.
    assert result.indices.tolist() == [2, 3]
    assert result.budget == 2
    assert result.body["cost_used"] == 2.0
