"""The batch command line, `python -m service.client rank`, against a live app:
the same JSON answer as the API, the problem's detail and a non-zero exit on
errors, and upload progress."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from service.app import create_app
from service.client import AlrankClient
from service.client.cli import UploadMeter, main
from tests.servers import serve

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def url() -> Iterator[str]:
    yield from serve(create_app({"TESTING": True}))


@pytest.fixture
def probs(tmp_path) -> Path:
    path = tmp_path / "probs.npy"
    np.save(path, np.random.default_rng(0).dirichlet(np.ones(4), size=200).astype(np.float32))
    return path


def run(argv, capsys):
    status = main(argv)
    out, err = capsys.readouterr()
    return status, out, err


def test_rank_prints_the_answer_of_the_api(url, probs, capsys):
    status, out, err = run(
        [
            "rank",
            "--url",
            url,
            "--strategy",
            "margin",
            "--budget",
            "7",
            "--exclude",
            "3,5",
            str(probs),
        ],
        capsys,
    )
    assert status == 0, err
    answer = json.loads(out)
    with AlrankClient(url) as client:
        direct = client.rank("margin", 7, probabilities=np.load(probs), exclude=[3, 5])
    assert answer == direct.body
    assert not {3, 5} & set(answer["indices"])


def test_flags_mirror_the_query_parameters(url, tmp_path, capsys):
    logits = tmp_path / "logits.npy"
    np.save(logits, np.random.default_rng(1).normal(size=(50, 3)))
    argv = [
        "rank",
        "--url",
        url,
        "--strategy",
        "entropy",
        "--budget",
        "5",
        "--input",
        "logits",
        "--param",
        "temperature=2",
        "--selection",
        "power",
        "--beta",
        "2",
        "--seed",
        "9",
        "--return-all-scores",
        str(logits),
    ]
    status, out, err = run(argv, capsys)
    assert status == 0, err
    answer = json.loads(out)
    assert answer["seed"] == 9
    assert answer["selection"] == {"method": "power", "beta": 2.0}
    assert len(answer["all_scores"]) == 50
    assert run(argv, capsys)[1] == out  # the seed repeats the draw


def test_several_arrays_travel_as_multipart(url, tmp_path, capsys):
    rng = np.random.default_rng(2)
    np.save(tmp_path / "p.npy", rng.dirichlet(np.ones(3), size=40))
    np.save(tmp_path / "e.npy", rng.normal(size=(40, 4)))
    status, out, err = run(
        [
            "rank",
            "--url",
            url,
            "--strategy",
            "badge",
            "--budget",
            "4",
            "--seed",
            "1",
            "--embeddings",
            str(tmp_path / "e.npy"),
            str(tmp_path / "p.npy"),
        ],
        capsys,
    )
    assert status == 0, err
    assert len(json.loads(out)["indices"]) == 4


def test_token_pools_with_lengths_and_token_scores(url, tmp_path, capsys):
    rng = np.random.default_rng(3)
    lengths = np.array([3, 0, 2, 4])
    np.save(tmp_path / "t.npy", rng.dirichlet(np.ones(5), size=int(lengths.sum())))
    np.save(tmp_path / "l.npy", lengths)
    status, out, err = run(
        [
            "rank",
            "--url",
            url,
            "--strategy",
            "entropy",
            "--budget",
            "2",
            "--input",
            "token_probabilities",
            "--lengths",
            str(tmp_path / "l.npy"),
            "--param",
            "aggregate=max",
            "--return-token-scores",
            str(tmp_path / "t.npy"),
        ],
        capsys,
    )
    assert status == 0, err
    answer = json.loads(out)
    assert 1 not in answer["indices"]
    assert [len(scores) for scores in answer["token_scores"]] == [
        int(lengths[i]) for i in answer["indices"]
    ]


def test_a_problem_exits_non_zero_with_its_detail(url, probs, capsys):
    status, out, err = run(
        ["rank", "--url", url, "--strategy", "margn", "--budget", "1", str(probs)], capsys
    )
    assert status == 1
    assert out == ""
    assert "422 Unprocessable Content (strategy)" in err
    assert "did you mean 'margin'?" in err


def test_bad_files_and_flags_exit_2(tmp_path, capsys):
    bad = tmp_path / "bad.npy"
    bad.write_bytes(b"not an array")
    status, _, err = run(["rank", "--strategy", "margin", "--budget", "1", str(bad)], capsys)
    assert status == 2
    assert "not a .npy array" in err
    status, _, err = run(
        ["rank", "--strategy", "margin", "--budget", "1", "--param", "oops", str(bad)], capsys
    )
    assert status == 2


def test_an_unreachable_service_exits_3(probs, capsys):
    status, _, err = run(
        [
            "rank",
            "--url",
            "http://127.0.0.1:9",
            "--strategy",
            "margin",
            "--budget",
            "1",
            str(probs),
        ],
        capsys,
    )
    assert status == 3
    assert "connection refused" in err


def test_progress_is_reported_as_the_body_is_sent(url, probs, capsys):
    status, _, err = run(
        ["rank", "--url", url, "--strategy", "margin", "--budget", "2", "--progress", str(probs)],
        capsys,
    )
    assert status == 0
    assert err.startswith("\ruploaded")
    assert "(100%)" in err
    shown = io.StringIO()
    meter = UploadMeter(shown)
    meter(2**20, 4 * 2**20)
    meter(2 * 2**20, 4 * 2**20)  # within 0.2 s of the last line: not shown
    meter(4 * 2**20, 4 * 2**20)  # the end is always shown
    meter.finish()
    lines = shown.getvalue().split("\r")[1:]
    assert [line.split(",")[0] for line in lines] == [
        "uploaded 1.0 of 4.0 MiB (25%)",
        "uploaded 4.0 of 4.0 MiB (100%)",
    ]
    assert shown.getvalue().endswith("\n")


def test_python_dash_m_service_client_runs_the_command_line(url, probs):
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "service.client",
            "rank",
            "--url",
            url,
            "--strategy",
            "entropy",
            "--budget",
            "3",
            str(probs),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert len(json.loads(result.stdout)["indices"]) == 3
