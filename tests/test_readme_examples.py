"""The README's first examples give the answers it shows."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import pytest

README = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
# Shell line continuations joined, so each command is one line.
COMMANDS = re.sub(r" \\\n +", " ", README)
EXAMPLE = re.compile(
    r"^    (curl -s localhost:8000/v1/rank .*-d '.*')\n\n    (\{.*\})$", re.MULTILINE
)


def examples() -> list[tuple[dict, dict]]:
    found = []
    for command, answer in EXAMPLE.findall(COMMANDS):
        words = shlex.split(command)
        found.append((json.loads(words[words.index("-d") + 1]), json.loads(answer)))
    return found


def test_the_readme_shows_its_examples():
    assert len(examples()) >= 2


@pytest.mark.parametrize(("request_body", "answer"), examples())
def test_each_example_answers_as_shown(client, request_body, answer):
    response = client.post("/v1/rank", json=request_body)
    assert response.status_code == 200
    assert response.get_json() == answer
