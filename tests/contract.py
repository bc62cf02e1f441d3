"""Check the app's answers against openapi.yaml, the API contract.

``check_response`` validates one test-client response: its status, content
type, headers and body. Requests are not validated (tests send invalid ones
on purpose). Routed requests go through openapi-core; answers to requests
the document has no operation for (an unknown path, a method a path does not
serve) are checked against the document's shared problem responses with
jsonschema; HEAD and OPTIONS, which Flask adds to every route, against the
GET operation and the documented methods.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from flask.testing import FlaskClient
from jsonschema import Draft202012Validator
from openapi_core import Config, OpenAPI
from openapi_core.contrib.werkzeug import WerkzeugOpenAPIRequest, WerkzeugOpenAPIResponse
from openapi_core.deserializing.media_types.util import json_loads
from openapi_core.templating.paths.exceptions import OperationNotFound, PathNotFound
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012
from werkzeug.test import TestResponse

SPEC_PATH = Path(__file__).resolve().parents[1] / "openapi.yaml"
SPEC_URI = "urn:alrank:openapi"
PROBLEM_MEDIA_TYPE = "application/problem+json"
# Shared responses for requests the document has no operation for, by status.
UNROUTED_RESPONSES = {404: "NotFound", 405: "MethodNotAllowed"}
HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")


class AnsweredRequest(WerkzeugOpenAPIRequest):
    """The request of a test-client response, for response validation.

    The app already read its body from the shared input stream, and response
    validation never needs it, so it reads as absent rather than as a
    disconnected client.
    """

    @property
    def body(self) -> bytes | None:
        """No body: response validation does not read it."""
        return None


def _yaml_loads(value: bytes, **parameters: str) -> object:
    """Deserialize an application/yaml body."""
    return yaml.safe_load(value)


@functools.cache
def spec_document() -> dict[str, Any]:
    """openapi.yaml as a plain mapping, read once."""
    return yaml.safe_load(SPEC_PATH.read_text(encoding="utf-8"))


@functools.cache
def openapi() -> OpenAPI:
    """The contract as an openapi-core app, built once."""
    config = Config(
        extra_media_type_deserializers={
            PROBLEM_MEDIA_TYPE: json_loads,
            "application/yaml": _yaml_loads,
        }
    )
    return OpenAPI.from_file_path(str(SPEC_PATH), config=config)


@functools.cache
def _registry() -> Registry:
    """The document as a JSON Schema resource, so schemas can refer into it."""
    resource = Resource.from_contents(spec_document(), default_specification=DRAFT202012)
    return Registry().with_resource(SPEC_URI, resource)


def schema_at(*parts: str) -> dict[str, str]:
    """A JSON Schema referring to the node of the document at ``parts``."""
    pointer = "/".join(part.replace("~", "~0").replace("/", "~1") for part in parts)
    return {"$ref": f"{SPEC_URI}#/{pointer}"}


def validate_against(instance: object, schema: Mapping[str, object]) -> None:
    """Raise AssertionError listing every way ``instance`` breaks ``schema``.

    ``schema`` may refer into the document with ``schema_at``.
    """
    validator = Draft202012Validator(schema, registry=_registry())
    problems = [
        f"{'/'.join(map(str, error.absolute_path)) or '(root)'}: {error.message}"
        for error in validator.iter_errors(instance)
    ]
    assert not problems, "; ".join(problems)


def resolve(node: Mapping[str, Any]) -> Mapping[str, Any]:
    """``node``, or the node of the document its local ``$ref`` points to."""
    while "$ref" in node:
        pointer = str(node["$ref"]).removeprefix("#/")
        node = spec_document()
        for part in pointer.split("/"):
            node = node[part.replace("~1", "/").replace("~0", "~")]
    return node


def check_response(response: TestResponse) -> None:
    """Assert that ``response`` is an answer openapi.yaml allows to its request."""
    request = response.request
    method = request.method.lower()
    if method == "options":
        _check_options(response)
        return
    if method == "head":
        _check_without_body(response, "get")
        return
    try:
        openapi().validate_response(AnsweredRequest(request), WerkzeugOpenAPIResponse(response))
    except (PathNotFound, OperationNotFound):
        _check_unrouted(response)
    except Exception as error:
        raise AssertionError(_describe(response, error)) from error


def _describe(response: TestResponse, error: Exception) -> str:
    """Say which answer broke the contract, and how."""
    request = response.request
    cause = error.__cause__
    details = [str(error)]
    if cause is not None:
        details += [
            getattr(item, "message", str(item)) for item in getattr(cause, "schema_errors", ())
        ] or [str(cause)]
    return (
        f"{request.method} {request.path} answered {response.status_code} "
        f"{response.mimetype} against openapi.yaml: {'; '.join(details)}\n"
        f"body: {response.get_data(as_text=True)[:2000]}"
    )


def spec_path_for(path: str) -> str | None:
    """The document's path template matching the concrete ``path``, if any."""
    for template in spec_document()["paths"]:
        pattern = re.sub(r"\\\{[^/]+?\\\}", "[^/]+", re.escape(template))
        if re.fullmatch(pattern, path):
            return template
    return None


def spec_methods(template: str) -> set[str]:
    """The HTTP methods, lower case, the document lists for ``template``."""
    return {key for key in spec_document()["paths"][template] if key in HTTP_METHODS}


def _declared_response(
    path: str, method: str, status: int
) -> tuple[Mapping[str, Any], tuple[str, ...]]:
    """The response object the document declares, and where it lives.

    Requests without an operation fall back on the shared responses for
    unknown paths and unserved methods.
    """
    template = spec_path_for(path)
    if template is not None and method in spec_methods(template):
        responses = spec_document()["paths"][template][method]["responses"]
        assert str(status) in responses, f"{method.upper()} {path}: {status} is not documented"
        location = ("paths", template, method, "responses", str(status))
        return resolve(responses[str(status)]), location
    expected = 404 if template is None else 405
    assert status == expected, f"{method.upper()} {path}: expected {expected}, got {status}"
    name = UNROUTED_RESPONSES[status]
    return resolve({"$ref": f"#/components/responses/{name}"}), ("components", "responses", name)


def _check_headers(response: TestResponse, declared: Mapping[str, Any]) -> None:
    """The headers ``declared`` requires are present."""
    for name, header in declared.get("headers", {}).items():
        if resolve(header).get("required"):
            assert name in response.headers, f"{response.status_code} lacks the {name} header"


def _check_without_body(response: TestResponse, method: str) -> None:
    """A HEAD answer: the status, content type and headers of ``method``'s answer."""
    path = response.request.path
    declared, _ = _declared_response(path, method, response.status_code)
    content = declared.get("content", {})
    assert response.mimetype in content, f"{response.mimetype} is not documented for {path}"
    _check_headers(response, declared)
    assert not response.get_data(), "a HEAD answer must have no body"


def _check_unrouted(response: TestResponse) -> None:
    """An answer to a path or method the document lacks: a documented problem."""
    request = response.request
    declared, location = _declared_response(
        request.path, request.method.lower(), response.status_code
    )
    assert response.mimetype == PROBLEM_MEDIA_TYPE, (
        f"{request.method} {request.path}: expected {PROBLEM_MEDIA_TYPE}, got {response.mimetype}"
    )
    _check_headers(response, declared)
    body = json.loads(response.get_data())
    validate_against(body, schema_at("components", "schemas", "Problem"))
    validate_against(body, schema_at(*location, "content", PROBLEM_MEDIA_TYPE, "schema"))


def _check_options(response: TestResponse) -> None:
    """Flask's automatic OPTIONS answer: Allow lists the documented methods."""
    template = spec_path_for(response.request.path)
    if template is None:
        _check_unrouted(response)
        return
    assert response.status_code == 200
    allowed = {method.strip().lower() for method in response.headers["Allow"].split(",")}
    documented = spec_methods(template) | {"options"}
    if "get" in documented:
        documented.add("head")
    assert allowed == documented, f"Allow {sorted(allowed)} != documented {sorted(documented)}"


class ContractClient(FlaskClient):
    """A test client that checks every response against openapi.yaml."""

    def open(self, *args: Any, **kwargs: Any) -> TestResponse:
        """Send the request, check the answer against the contract, return it."""
        response = super().open(*args, **kwargs)
        check_response(response)
        return response
