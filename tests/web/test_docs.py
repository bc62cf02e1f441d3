"""GET /docs: Swagger UI from locally installed assets, with a strict CSP.

These tests use a plain test client: /docs is HTML and its assets are not
operations of the API contract.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import pytest
import yaml
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from service.app import create_app
from service.web import docs

REPO_ROOT = Path(__file__).resolve().parents[2]
ORIGIN = "http://localhost"
PREFIX = "/alrank"
EXPECTED_MEDIA_TYPES = {
    ".css": "text/css",
    ".js": "text/javascript",
    ".png": "image/png",
}


class PageLinks(HTMLParser):
    """The URLs a page loads (``src`` and ``href`` attributes) and its inline script text."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[tuple[str, str]] = []
        self.inline_script = ""
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if name in ("src", "href") and value is not None:
                self.urls.append((tag, value))
        self._in_script = tag == "script"

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_script:
            self.inline_script += data


class BufferedClient(FlaskClient):
    """A test client that reads and closes every response, so no asset file stays open."""

    def open(self, *args: object, **kwargs: object) -> TestResponse:
        kwargs["buffered"] = True
        return super().open(*args, **kwargs)


def docs_app() -> Flask:
    """The app, with the docs blueprint registered unless the factory already does."""
    app = create_app({"TESTING": True})
    if "docs" not in app.blueprints:
        app.register_blueprint(docs.blueprint)
    app.test_client_class = BufferedClient
    return app


@pytest.fixture
def docs_client() -> FlaskClient:
    return docs_app().test_client()


def page_links(client: FlaskClient, base_url: str = ORIGIN) -> PageLinks:
    response = client.get("/docs", base_url=base_url)
    assert response.status_code == 200
    parser = PageLinks()
    parser.feed(response.get_data(as_text=True))
    return parser


def asset_paths(client: FlaskClient) -> list[str]:
    """The path of every URL the page loads, resolved against the page's own URL."""
    return [urlsplit(urljoin(f"{ORIGIN}/docs", url)).path for _, url in page_links(client).urls]


def csp_directives(header: str) -> dict[str, list[str]]:
    directives = {}
    for directive in filter(None, (part.strip() for part in header.split(";"))):
        name, *values = directive.split()
        directives[name] = values
    return directives


def test_page_is_html_that_loads_only_local_assets(docs_client):
    response = docs_client.get("/docs")
    assert response.status_code == 200
    assert response.mimetype == "text/html"
    page = response.get_data(as_text=True)
    assert "://" not in page
    links = page_links(docs_client)
    tags = [tag for tag, _ in links.urls]
    assert tags.count("script") >= 2
    assert "link" in tags
    for _, url in links.urls:
        parts = urlsplit(url)
        assert not parts.scheme
        assert not parts.netloc
        # Relative, so that the page works under a path prefix too.
        assert not parts.path.startswith("/"), url
        assert urljoin(f"{ORIGIN}{PREFIX}/docs", url).startswith(f"{ORIGIN}{PREFIX}/docs/"), url


def test_page_has_no_inline_script(docs_client):
    links = page_links(docs_client)
    assert links.inline_script.strip() == ""
    assert "<style" not in docs_client.get("/docs").get_data(as_text=True)


def test_every_asset_the_page_loads_is_served_with_its_media_type(docs_client):
    paths = asset_paths(docs_client)
    assert {Path(path).suffix for path in paths} == set(EXPECTED_MEDIA_TYPES)
    for path, (_, url) in zip(paths, page_links(docs_client).urls, strict=True):
        response = docs_client.get(path, query_string=urlsplit(url).query)
        assert response.status_code == 200, path
        assert response.mimetype == EXPECTED_MEDIA_TYPES[Path(path).suffix], path
        assert response.content_length
        assert len(response.data) == response.content_length
        if path.endswith(".png"):
            assert response.data.startswith(b"\x89PNG\r\n\x1a\n")


def test_the_page_loads_swagger_ui(docs_client):
    bundles = [
        docs_client.get(path).get_data(as_text=True)
        for path in asset_paths(docs_client)
        if path.endswith(".js")
    ]
    assert any("SwaggerUIBundle" in text and len(text) > 100_000 for text in bundles)


def test_the_initializer_loads_the_served_spec(docs_client):
    scripts = [path for path in asset_paths(docs_client) if path.endswith(".js")]
    spec_reference = re.compile(r"""["']([^"']*openapi\.yaml)["']""")
    references = {
        path: spec_reference.findall(docs_client.get(path).get_data(as_text=True))
        for path in scripts
    }
    initializers = {path: urls for path, urls in references.items() if urls}
    assert len(initializers) == 1
    [(initializer, [spec_url])] = initializers.items()
    initializer_text = docs_client.get(initializer).get_data(as_text=True)
    assert "SwaggerUIBundle(" in initializer_text
    assert "://" not in initializer_text

    # Relative to the initializer: right at the root and under a path prefix.
    assert urlsplit(urljoin(ORIGIN + initializer, spec_url)).path == "/openapi.yaml"
    prefixed = urljoin(f"{ORIGIN}{PREFIX}{initializer}", spec_url)
    assert urlsplit(prefixed).path == f"{PREFIX}/openapi.yaml"

    response = docs_client.get("/openapi.yaml")
    assert response.status_code == 200
    assert yaml.safe_load(response.data)["info"]["title"]


def test_the_page_and_its_assets_work_under_a_path_prefix(docs_client):
    base_url = f"{ORIGIN}{PREFIX}"
    links = page_links(docs_client, base_url=base_url)
    for _, url in links.urls:
        path = urlsplit(urljoin(f"{base_url}/docs", url)).path
        assert path.startswith(f"{PREFIX}/docs/")
        response = docs_client.get(path.removeprefix(PREFIX), base_url=base_url)
        assert response.status_code == 200, path


def test_the_bundled_swagger_ui_renders_the_spec_openapi_version():
    spec_version = yaml.safe_load((REPO_ROOT / "openapi.yaml").read_text())["openapi"]
    match = re.fullmatch(r"v?(\d+)\.(\d+)\.(\d+)", docs.SWAGGER_UI_VERSION)
    assert match, docs.SWAGGER_UI_VERSION
    major = int(match.group(1))
    # Swagger UI renders OpenAPI 3.1 from version 5 on; 4.x refuses it outright.
    needed = 5 if spec_version.startswith("3.1") else 3
    assert major >= needed, (
        f"Swagger UI {'.'.join(match.groups())} cannot render OpenAPI {spec_version}"
    )


@pytest.mark.parametrize("path", ["/docs", "/docs/swagger-ui.css", "/docs/nothing-here.js"])
def test_responses_carry_a_strict_content_security_policy(docs_client, path):
    response = docs_client.get(path)
    directives = csp_directives(response.headers["Content-Security-Policy"])
    assert directives["default-src"] == ["'self'"]
    assert directives.get("script-src", ["'self'"]) == ["'self'"]
    assert directives.get("style-src", ["'self'"]) == ["'self'"]
    assert directives.get("connect-src", ["'self'"]) == ["'self'"]
    assert directives["object-src"] == ["'none'"]
    assert directives["frame-ancestors"] == ["'none'"]
    assert not any("unsafe" in value for values in directives.values() for value in values)
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_the_page_is_revalidated(docs_client):
    response = docs_client.get("/docs")
    assert response.cache_control.no_cache
    etag = response.headers["ETag"]
    again = docs_client.get("/docs", headers={"If-None-Match": etag})
    assert again.status_code == 304
    assert again.data == b""


def test_versioned_assets_are_cached_and_others_revalidated(docs_client):
    for _, url in page_links(docs_client).urls:
        path = urlsplit(urljoin(f"{ORIGIN}/docs", url)).path
        query = urlsplit(url).query
        assert query, url
        versioned = docs_client.get(path, query_string=query)
        assert versioned.cache_control.public
        assert versioned.cache_control.max_age >= 30 * 24 * 3600
        assert versioned.cache_control.immutable

        plain = docs_client.get(path)
        assert plain.status_code == 200
        assert plain.cache_control.no_cache
        assert not plain.cache_control.immutable
        etag = plain.headers["ETag"]
        assert docs_client.get(path, headers={"If-None-Match": etag}).status_code == 304
        stale = docs_client.get(path, query_string="v=stale")
        assert not stale.cache_control.immutable


@pytest.mark.parametrize(
    "path",
    [
        "/docs/nothing-here.js",
        "/docs/index.html",
        "/docs/swagger-initializer.js",
        "/docs/oauth2-redirect.html",
        "/docs/swagger-ui.css.map",
        "/docs/LICENSE",
        "/docs/",
    ],
)
def test_unknown_assets_are_404_problems(docs_client, path):
    response = docs_client.get(path)
    assert response.status_code == 404
    assert response.mimetype == "application/problem+json"
    assert response.get_json()["status"] == 404


TRAVERSALS = [
    "/docs/../openapi.yaml",
    "/docs/%2e%2e/openapi.yaml",
    "/docs/%2E%2E/openapi.yaml",
    "/docs/..%2fopenapi.yaml",
    "/docs/%2e%2e%2fopenapi.yaml",
    "/docs/%252e%252e%252fopenapi.yaml",
    "/docs/..%5copenapi.yaml",
    "/docs/swagger-ui.css/../../openapi.yaml",
    "/docs/../service/web/docs.py",
    "/docs/../../../../../../etc/passwd",
    "/docs/%2e%2e/%2e%2e/%2e%2e/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
    "/docs//etc/passwd",
    "/docs/%2fetc%2fpasswd",
    "/docs/./swagger-ui.css",
    "/docs/swagger-ui.css%00.js",
]


@pytest.mark.parametrize("path", TRAVERSALS)
def test_paths_do_not_escape_the_asset_directory(docs_client, path):
    response = docs_client.get(path, follow_redirects=True)
    assert response.status_code == 404
    assert response.mimetype == "application/problem+json"
    assert all(urlsplit(r.location).path.startswith("/docs/") for r in response.history)


def test_the_join_is_safe_even_for_a_listed_name(docs_client, monkeypatch, tmp_path):
    # A second line of defence: were a name outside the directory ever listed,
    # the safe join would still refuse it.
    assets = tmp_path / "assets"
    assets.mkdir()
    (tmp_path / "secret.css").write_text("secret")
    (assets / "inside.css").write_text("inside")
    monkeypatch.setattr(docs, "SWAGGER_UI_DIR", assets)
    monkeypatch.setattr(docs, "VENDOR_ASSETS", frozenset({"inside.css", "../secret.css"}))
    assert docs_client.get("/docs/inside.css").data == b"inside"
    response = docs_client.get("/docs/../secret.css")
    assert response.status_code == 404
    assert b"secret" not in response.data


@pytest.mark.parametrize("path", ["/docs", "/docs/swagger-ui-bundle.js", "/docs/favicon-16x16.png"])
def test_head_matches_get_without_a_body(docs_client, path):
    get = docs_client.get(path)
    head = docs_client.head(path)
    assert head.status_code == get.status_code == 200
    assert head.data == b""
    assert head.headers["Content-Type"] == get.headers["Content-Type"]
    assert int(head.headers["Content-Length"]) == len(get.data)
    assert head.headers["Content-Security-Policy"] == get.headers["Content-Security-Policy"]
