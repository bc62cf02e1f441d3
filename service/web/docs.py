"""GET /docs: Swagger UI for openapi.yaml, served from the installed swagger-ui-dist files.

Nothing is loaded from another origin and nothing runs inline: the page links
Swagger UI's own files and a small initializer served from here, so every
response can carry a ``default-src 'self'`` Content-Security-Policy.

Every URL in the page is relative (``docs/...`` from ``/docs``), so the page
keeps working when the service is mounted under a path prefix. Asset URLs carry
a version token; a request with the current token may be cached for a year,
any other is revalidated.
"""

from __future__ import annotations

import hashlib
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

from flask import Blueprint, Response, abort, request, send_from_directory

if TYPE_CHECKING:
    # What make_conditional is declared to return (it returns the response itself).
    from werkzeug.wrappers import Response as BaseResponse

blueprint = Blueprint("docs", __name__)

#: The installed Swagger UI distribution (flask-swagger-ui's copy of swagger-ui-dist).
SWAGGER_UI_DIR = Path(str(resources.files("flask_swagger_ui") / "dist"))
#: Its version, e.g. ``v5.34.0``.
SWAGGER_UI_VERSION = (SWAGGER_UI_DIR / "VERSION").read_text(encoding="utf-8").strip()

#: The files of that distribution the page needs; all
#: others, such as its demo page pointing at a public pet store, are not served.
VENDOR_ASSETS = frozenset(
    {
        "swagger-ui.css",
        "index.css",
        "swagger-ui-bundle.js",
        "favicon-16x16.png",
        "favicon-32x32.png",
    }
)

#: The initializer's name under /docs/.
INITIALIZER_NAME = "alrank-docs.js"

# The spec URL is resolved against the script's own URL (/docs/alrank-docs.js),
# which stays right under a path prefix. validatorUrl null: the default would
# load a badge image from a public validator.
INITIALIZER_JS = """\
"use strict";
(function () {
  var spec = new URL("../openapi.yaml", document.currentScript.src).href;
  window.ui = SwaggerUIBundle({
    url: spec,
    dom_id: "#swagger-ui",
    deepLinking: true,
    validatorUrl: null,
    presets: [SwaggerUIBundle.presets.apis],
    plugins: [SwaggerUIBundle.plugins.DownloadUrl],
    layout: "BaseLayout"
  });
})();
"""

#: Changes whenever the served assets may change: another Swagger UI or initializer.
ASSET_VERSION = hashlib.sha256(f"{SWAGGER_UI_VERSION}\n{INITIALIZER_JS}".encode()).hexdigest()[:16]

MEDIA_TYPES = {
    ".css": "text/css",
    ".js": "text/javascript",
    ".png": "image/png",
}

#: Swagger UI's stylesheet draws its icons as data: URIs.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; img-src 'self' data:; object-src 'none'; "
    "base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
)

ONE_YEAR = 365 * 24 * 60 * 60


def _asset_url(name: str) -> str:
    return f"docs/{name}?v={ASSET_VERSION}"


PAGE_HTML = f"""\
<!DOCTYPE html>
<html lang="en">
  <head>
    <meta charset="utf-8">
    <meta name="viewport" content="width=device-width, initial-scale=1">
    <title>alrank API documentation</title>
    <link rel="stylesheet" href="{_asset_url("swagger-ui.css")}">
    <link rel="stylesheet" href="{_asset_url("index.css")}">
    <link rel="icon" type="image/png" href="{_asset_url("favicon-32x32.png")}" sizes="32x32">
    <link rel="icon" type="image/png" href="{_asset_url("favicon-16x16.png")}" sizes="16x16">
  </head>
  <body>
    <div id="swagger-ui"></div>
    <script src="{_asset_url("swagger-ui-bundle.js")}"></script>
    <script src="{_asset_url(INITIALIZER_NAME)}"></script>
  </body>
</html>
"""
PAGE_ETAG = hashlib.sha256(PAGE_HTML.encode()).hexdigest()[:16]


@blueprint.get("/docs")
def page() -> BaseResponse:
    """The Swagger UI page; revalidated on every visit, it is small."""
    response = Response(PAGE_HTML, mimetype="text/html")
    response.cache_control.no_cache = True
    response.set_etag(PAGE_ETAG)
    return response.make_conditional(request)


@blueprint.get("/docs/<path:name>")
def asset(name: str) -> BaseResponse:
    """One file the page needs; 404 for any other name."""
    media_type = MEDIA_TYPES.get(Path(name).suffix)
    response: BaseResponse
    if name == INITIALIZER_NAME and media_type:
        response = Response(INITIALIZER_JS, mimetype=media_type)
        response.set_etag(ASSET_VERSION)
        response.cache_control.no_cache = True
        response = response.make_conditional(request)
    elif name in VENDOR_ASSETS and media_type:
        # send_from_directory joins safely (404 outside the directory) and
        # answers conditional requests; the allow-list already keeps others out.
        response = send_from_directory(SWAGGER_UI_DIR, name, mimetype=media_type)
    else:
        abort(404)
    if request.args.get("v") == ASSET_VERSION:
        response.cache_control.no_cache = None
        response.cache_control.public = True
        response.cache_control.max_age = ONE_YEAR
        response.cache_control.immutable = True
    return response


@blueprint.after_request
def _security_headers(response: Response) -> Response:
    response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response
