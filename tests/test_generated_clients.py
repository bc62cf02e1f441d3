"""Clients generated from openapi.yaml, used against the app on a loopback port.

openapi-python-client's client ranks, gets typed problems and lists models;
openapi-typescript's types are type-checked with tsc, then a small fetch-based
script written against them runs on node. The generators run as their users
run them, on the file as it is, and must print no warning: a warning means a
part of the client was left out (an operation's error responses, a schema).

The one warning allowed is openapi-python-client's for GET /openapi.yaml,
whose YAML body it cannot parse (openapi-python-client issue 392); it leaves
that response's body unparsed, which the tests check is still usable.

The Python part needs openapi-python-client installed (the test extra); the
TypeScript part needs node and npm, installs its pinned packages from the npm
registry into a temporary directory, and is skipped with
ALRANK_SKIP_NPM_TESTS=1.
"""

from __future__ import annotations

import importlib
import io
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pytest
import yaml

from service.app import create_app
from service.models.bundled import SOURCE_DIRECTORY
from tests.contract import SPEC_PATH, resolve, spec_document
from tests.servers import serve

SMALL_POOL = [[0.5, 0.5], [0.9, 0.1], [0.6, 0.4]]
# Margin ranks the pool's items 0 (scores 1.0) and 2 (0.8) first.
MARGIN_INDICES = [0, 2]
MARGIN_SCORES = [1.0, 0.8]
BUNDLED_MODELS = sorted(path.stem for path in SOURCE_DIRECTORY.glob("*.onnx"))

PACKAGE = "alrank_client"
# application/x-npy bodies are binary; the generator knows binary bodies only
# by application/octet-stream (it still sends them as application/x-npy).
GENERATOR_CONFIG = {
    "content_type_overrides": {"application/x-npy": "application/octet-stream"},
    "post_hooks": [],
}
YAML_RESPONSE_WARNING = (
    "WARNING parsing GET /openapi.yaml within discovery.",
    "(Unsupported content_type application/yaml), response will be omitted",
)
GENERATOR_NOTICES = (
    "Warning(s) encountered while generating",
    "If you believe this was a mistake",
)
GENERATOR_TIMEOUT = 120

OPENAPI_TYPESCRIPT = "openapi-typescript@7.13.0"
TYPESCRIPT = "typescript@5.9.3"
NPM_TIMEOUT = 180


def _rank_query_defaults() -> list[str]:
    """The query parameters of POST /v1/rank whose schema declares a default."""
    parameters = (
        resolve(parameter)
        for parameter in spec_document()["paths"]["/v1/rank"]["post"]["parameters"]
    )
    return sorted(parameter["name"] for parameter in parameters if "default" in parameter["schema"])


@pytest.fixture(scope="module")
def url() -> Iterator[str]:
    yield from serve(create_app({"TESTING": True}))


# --- openapi-python-client ---------------------------------------------------------------


def unexpected_generator_output(output: str) -> list[str]:
    """The lines the generator printed other than its progress line, the notices
    around warnings, and the one allowed warning (what, why, and the response)."""
    lines = iter(line for line in output.splitlines() if line.strip())
    left: list[str] = []
    for line in lines:
        if line.startswith(("Generating ", *GENERATOR_NOTICES)):
            continue
        if line == YAML_RESPONSE_WARNING[0]:
            reason = next(lines, "")
            if YAML_RESPONSE_WARNING[1] in reason and next(lines, "") == "{":
                for part in lines:
                    if part == "}":
                        break
                continue
            left += [line, reason]
            continue
        left.append(line)
    return left


def test_rank_query_parameters_declare_no_default():
    # The generated client sends every parameter that has a default on every
    # call; the service refuses query parameters beside a JSON body, and
    # parameters the strategy or input kind does not take.
    assert _rank_query_defaults() == []


def test_only_the_allowed_warning_is_left_out():
    allowed = [
        YAML_RESPONSE_WARNING[0],
        "",
        "Cannot parse response for status code <x> (Unsupported content_type"
        " application/yaml), response will be omitted from generated client",
        "",
        "{",
        '  "content": {',
        '    "application/yaml": {}',
        "  }",
        "}",
    ]
    other = [
        "WARNING parsing GET /v1/models within models.",
        "",
        "Cannot parse response for status code <y> (int can't be merged with Literal[500])",
    ]
    output = [
        "Generating /tmp/alrank_client",
        "Warning(s) encountered while generating. Client was generated, but some pieces"
        " may be missing",
        *allowed,
        *other,
        "",
        "If you believe this was a mistake or this tool is missing a feature you need",
    ]
    assert unexpected_generator_output("\n".join(output)) == [line for line in other if line]
    assert unexpected_generator_output("\n".join(output[:2] + allowed[:3])) == [
        line for line in allowed[:3] if line
    ]


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ModuleType]:
    """The Python client openapi-python-client generates from openapi.yaml, imported."""
    pytest.importorskip(
        "openapi_python_client", reason="openapi-python-client is not installed (test extra)"
    )
    root = tmp_path_factory.mktemp("python-client")
    config = root / "config.json"
    config.write_text(json.dumps(GENERATOR_CONFIG), encoding="utf-8")
    command = [
        sys.executable,
        "-m",
        "openapi_python_client",
        "generate",
        "--path",
        str(SPEC_PATH),
        "--config",
        str(config),
        "--meta",
        "none",
        "--output-path",
        str(root / PACKAGE),
    ]
    # One stream, unbuffered: the generator writes a warning's parts to both.
    finished = subprocess.run(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1", "NO_COLOR": "1"},
        stdin=subprocess.DEVNULL,
        timeout=GENERATOR_TIMEOUT,
        check=False,
    )
    output = finished.stdout
    assert finished.returncode == 0, output
    assert unexpected_generator_output(output) == [], output
    sys.path.insert(0, str(root))
    try:
        yield importlib.import_module(PACKAGE)
    finally:
        sys.path.remove(str(root))
        for name in [name for name in sys.modules if name.partition(".")[0] == PACKAGE]:
            del sys.modules[name]


@pytest.fixture
def client(generated: ModuleType, url: str) -> Iterator[Any]:
    with generated.Client(base_url=url, raise_on_unexpected_status=True, timeout=30) as client:
        yield client


def _module(name: str) -> Any:
    return importlib.import_module(f"{PACKAGE}.{name}")


def test_ranks_a_json_request(client: Any):
    models = _module("models")
    rank = _module("api.rank.rank")
    body = models.RankRequest(
        strategy=models.StrategyName.MARGIN, budget=2, probabilities=SMALL_POOL
    )
    response = rank.sync_detailed(client=client, body=body)
    assert response.status_code == 200, response.content
    result = response.parsed
    assert isinstance(result, models.RankResponse)
    assert result.indices == MARGIN_INDICES
    assert result.scores == pytest.approx(MARGIN_SCORES)
    assert (result.strategy, result.budget, result.pool_size) == (
        models.StrategyName.MARGIN,
        2,
        len(SMALL_POOL),
    )
    assert isinstance(result.selection, models.SelectionUsedType0)
    assert result.selection.method == "top"


def test_ranks_an_npy_body(client: Any):
    models = _module("models")
    rank = _module("api.rank.rank")
    buffer = io.BytesIO()
    np.save(buffer, np.array(SMALL_POOL))
    buffer.seek(0)
    file = _module("types").File(payload=buffer, file_name="pool.npy")
    result = rank.sync(client=client, body=file, strategy=models.StrategyName.MARGIN, budget=2)
    assert isinstance(result, models.RankResponse), result
    assert result.indices == MARGIN_INDICES


def test_a_budget_larger_than_the_pool_is_a_typed_problem(client: Any):
    models = _module("models")
    rank = _module("api.rank.rank")
    body = models.RankRequest(
        strategy=models.StrategyName.MARGIN, budget=len(SMALL_POOL) + 1, probabilities=SMALL_POOL
    )
    response = rank.sync_detailed(client=client, body=body, x_request_id="generated-client-1")
    assert response.status_code == 422
    problem = response.parsed
    assert isinstance(problem, models.Problem)
    assert problem.status == 422
    assert problem.type_ == "urn:alrank:problem:invalid-input"
    assert problem.title == "Unprocessable Content"
    assert problem.detail.startswith("budget: ")
    assert isinstance(problem.errors, models.FieldErrors)
    assert list(problem.errors.additional_keys) == ["budget"]
    assert all(isinstance(message, str) for message in problem.errors["budget"])
    assert (problem.request_id, problem.instance) == (
        "generated-client-1",
        "urn:alrank:request:generated-client-1",
    )


def test_an_unknown_model_is_a_typed_problem(client: Any):
    models = _module("models")
    describe = _module("api.models.describe_model")
    problem = describe.sync(client=client, model="sha256:" + "0" * 64)
    assert isinstance(problem, models.Problem)
    assert problem.status == 404


def test_lists_the_bundled_models(client: Any):
    models = _module("models")
    list_models = _module("api.models.list_models")
    listing = list_models.sync(client=client)
    assert isinstance(listing, models.ModelList)
    assert all(isinstance(model, models.Model) for model in listing.models)
    bundled = [model for model in listing.models if model.bundled]
    assert sorted(model.name for model in bundled) == BUNDLED_MODELS
    for model in bundled:
        assert re.fullmatch(r"sha256:[0-9a-f]{64}", model.id)
        assert model.created is None
        assert model.classes == list(range(10))
        assert all(isinstance(arg, models.ModelArg) for arg in [*model.inputs, *model.outputs])
        assert model.inputs[0].shape == [None, 64]


def test_the_document_comes_unparsed(generated: ModuleType, url: str):
    openapi = _module("api.discovery.openapi")
    with generated.Client(base_url=url, timeout=30) as client:
        response = openapi.sync_detailed(client=client)
    assert response.status_code == 200
    assert response.parsed is None
    assert yaml.safe_load(response.content) == spec_document()


# --- openapi-typescript ------------------------------------------------------------------


TYPES_USE = """\
import type { components, paths } from "./alrank";

type RankRequest = components["schemas"]["RankRequest"];
type RankResponse = components["schemas"]["RankResponse"];
type Problem = components["schemas"]["Problem"];
type ModelList = components["schemas"]["ModelList"];
type RankAnswers = paths["/v1/rank"]["post"]["responses"];
type Unprocessable = RankAnswers[422]["content"]["application/problem+json"];

const BASE = __BASE__;
const POOL = __POOL__;

const unprocessable: Unprocessable["status"] = 422;
// @ts-expect-error: a 422 problem's status is 422
const mislabelled: Unprocessable["status"] = 400;

async function post(body: RankRequest): Promise<[number, unknown]> {
    const response = await fetch(`${BASE}/v1/rank`, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify(body),
    });
    return [response.status, await response.json()];
}

async function main(): Promise<void> {
    const margin: RankRequest = { strategy: "margin", budget: 2, probabilities: POOL };
    const [rankedStatus, ranked] = await post(margin);
    const ranking = ranked as RankResponse;
    const [problemStatus, refused] = await post({ ...margin, budget: POOL.length + 1 });
    const problem = refused as Problem;
    const listing = (await (await fetch(`${BASE}/v1/models`)).json()) as ModelList;
    console.log(JSON.stringify({
        ranked: [rankedStatus, ranking.indices, ranking.scores],
        problem: [problemStatus, problem.status, problem.type, Object.keys(problem.errors ?? {})],
        models: listing.models.filter((model) => model.bundled).map((model) => model.name),
    }));
}

main().catch((error: unknown) => {
    console.error(error);
    throw error;
});
"""


def _run(command: list[str], cwd: Path, timeout: float) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        command,
        cwd=cwd,
        capture_output=True,
        text=True,
        env={**os.environ, "NO_COLOR": "1", "FORCE_COLOR": "0"},
        stdin=subprocess.DEVNULL,
        timeout=timeout,
        check=False,
    )


@pytest.fixture(scope="module")
def node_tools(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory with openapi-typescript and typescript installed from npm."""
    if os.environ.get("ALRANK_SKIP_NPM_TESTS") == "1":
        pytest.skip("ALRANK_SKIP_NPM_TESTS=1")
    npm, node = shutil.which("npm"), shutil.which("node")
    if npm is None or node is None:
        pytest.skip("node and npm are not installed")
    root = tmp_path_factory.mktemp("typescript-client")
    installed = _run(
        [
            npm,
            "install",
            "--no-save",
            "--no-package-lock",
            "--no-audit",
            "--no-fund",
            "--loglevel=error",
            OPENAPI_TYPESCRIPT,
            TYPESCRIPT,
        ],
        root,
        NPM_TIMEOUT,
    )
    assert installed.returncode == 0, installed.stdout + installed.stderr
    return root


def test_typescript_types_generate_and_type_check_a_live_call(node_tools: Path, url: str):
    bin_dir = node_tools / "node_modules" / ".bin"
    types = node_tools / "alrank.ts"
    generated = _run(
        [
            str(bin_dir / "openapi-typescript"),
            str(SPEC_PATH),
            "--output",
            str(types),
            # Fields with a default are optional in requests, not always present.
            "--default-non-nullable",
            "false",
        ],
        node_tools,
        GENERATOR_TIMEOUT,
    )
    assert generated.returncode == 0, generated.stdout + generated.stderr
    assert generated.stderr.strip() == "", generated.stderr
    declared = types.read_text(encoding="utf-8")
    for schema in ("RankRequest", "RankResponse", "Problem", "Model", "ModelList"):
        assert re.search(rf"^ {{8}}{schema}: {{$", declared, re.MULTILINE), schema

    source = TYPES_USE.replace("__BASE__", json.dumps(url)).replace(
        "__POOL__", json.dumps(SMALL_POOL)
    )
    (node_tools / "call.ts").write_text(source, encoding="utf-8")
    compiled = _run(
        [
            str(bin_dir / "tsc"),
            "--strict",
            "--noEmitOnError",
            "--target",
            "es2022",
            "--module",
            "commonjs",
            "--lib",
            "es2022,dom",
            "--outDir",
            "out",
            "call.ts",
        ],
        node_tools,
        GENERATOR_TIMEOUT,
    )
    assert compiled.returncode == 0, compiled.stdout + compiled.stderr

    ran = _run([str(shutil.which("node")), "out/call.js"], node_tools, 60)
    assert ran.returncode == 0, ran.stdout + ran.stderr
    answers = json.loads(ran.stdout)
    assert answers["ranked"] == [200, MARGIN_INDICES, MARGIN_SCORES]
    assert answers["problem"] == [422, 422, "urn:alrank:problem:invalid-input", ["budget"]]
    assert sorted(answers["models"]) == BUNDLED_MODELS
