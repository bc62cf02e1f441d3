"""GET /docs in a real headless Chromium: the spec is fetched and rendered.

The app runs on a free loopback port; Chromium loads /docs, runs Swagger UI
and prints the DOM it rendered. Skipped on a developer's machine where no
Chromium is installed; CI (.ci/run) installs Debian's and sets
ALRANK_REQUIRE_BROWSER=1, under which a missing browser fails instead.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from flask import Flask, Response, request

from service.app import create_app
from service.web import docs
from tests.servers import serve

REPO_ROOT = Path(__file__).resolve().parents[2]
BROWSERS = ("chromium", "chromium-browser", "google-chrome")
HTTP_METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}


def find_browser() -> str | None:
    """The first headless-capable Chromium on PATH, if any."""
    return next(filter(None, map(shutil.which, BROWSERS)), None)


def docs_app(served: list[tuple[str, int]]) -> Flask:
    """The app with the docs blueprint; every request's (path, status) is appended to ``served``."""
    app = create_app({"TESTING": True})
    if "docs" not in app.blueprints:
        app.register_blueprint(docs.blueprint)

    @app.after_request
    def record(response: Response) -> Response:
        served.append((request.path, response.status_code))
        return response

    return app


@pytest.fixture(scope="module")
def browser() -> str:
    found = find_browser()
    if found is None:
        missing = f"no headless Chromium on PATH (looked for {', '.join(BROWSERS)})"
        if os.environ.get("ALRANK_REQUIRE_BROWSER") == "1":
            pytest.fail(f"{missing}, and ALRANK_REQUIRE_BROWSER=1 requires one")
        pytest.skip(missing)
    return found


@pytest.fixture(scope="module")
def served() -> list[tuple[str, int]]:
    return []


@pytest.fixture(scope="module")
def base_url(served: list[tuple[str, int]]) -> Iterator[str]:
    yield from serve(docs_app(served))


@pytest.fixture(scope="module")
def rendered(
    browser: str, base_url: str, tmp_path_factory: pytest.TempPathFactory
) -> subprocess.CompletedProcess[str]:
    """Chromium's run on /docs: the rendered DOM on stdout, its log on stderr."""
    command = [
        browser,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        f"--user-data-dir={tmp_path_factory.mktemp('chromium')}",
        # Console messages, Content-Security-Policy violations among them, go to stderr.
        "--enable-logging=stderr",
        "--v=0",
        "--dump-dom",
        "--virtual-time-budget=10000",
        f"{base_url}/docs",
    ]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)


def spec() -> dict:
    return yaml.safe_load((REPO_ROOT / "openapi.yaml").read_text(encoding="utf-8"))


def test_chromium_renders_every_operation_of_the_spec(rendered):
    assert rendered.returncode == 0, rendered.stderr[-2000:]
    dom = rendered.stdout
    assert "Unable to render this definition" not in dom, "Swagger UI refused openapi.yaml"
    paths = spec()["paths"]
    operations = [
        (method, path) for path, item in paths.items() for method in item if method in HTTP_METHODS
    ]
    assert set(re.findall(r'class="opblock-summary-path" data-path="([^"]+)"', dom)) == set(paths)
    assert "/v1/rank" in paths
    blocks = re.findall(r'class="opblock opblock-(\w+)', dom)
    assert sorted(blocks) == sorted(method for method, _ in operations)


def test_chromium_renders_the_api_title(rendered):
    titles = re.findall(r'class="title">([^<]+)<', rendered.stdout)
    assert spec()["info"]["title"] in [title.strip() for title in titles]


def test_the_page_fetched_the_spec_and_its_assets_from_this_server(rendered, served):
    assert rendered.returncode == 0
    assert ("/openapi.yaml", 200) in served
    assert ("/docs", 200) in served
    assert any(path.endswith(".js") for path, _ in served)
    assert all(status < 400 for _, status in served), served


def test_the_content_security_policy_blocked_nothing(rendered):
    assert rendered.returncode == 0
    console = [line for line in rendered.stderr.splitlines() if ":CONSOLE" in line]
    assert not [line for line in console if "Content Security Policy" in line], console
