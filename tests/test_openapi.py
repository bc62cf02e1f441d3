"""openapi.yaml: a valid OpenAPI 3.1 document in step with the app, the registry and itself."""

from __future__ import annotations

import io
import json
import re
from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np
import pytest
import yaml
from flask import Flask
from flask.testing import FlaskClient
from openapi_spec_validator import OpenAPIV31SpecValidator
from werkzeug.test import TestResponse

from service import __version__
from service.app import create_app
from service.contract import declared_params, load_registry
from service.ranking.inputs import ARRAY_ROLES
from service.ranking.selection import SELECTION_METHODS
from service.web.schemas import (
    ARRAY_FIELDS,
    MAX_BETA,
    MAX_SEED,
    RankJsonSchema,
    RankQuerySchema,
)
from tests.contract import (
    SPEC_PATH,
    ContractClient,
    check_response,
    resolve,
    schema_at,
    spec_document,
    spec_methods,
    validate_against,
)

RANK = "/v1/rank"
# The request id the documented error examples carry (instance, request_id).
EXAMPLE_REQUEST_ID = "3d6f0a1e8c2b4f7e9a510c4b7e2d9f13"
SMALL_POOL = [[0.5, 0.5], [0.9, 0.1], [0.6, 0.4]]


def schemas() -> dict[str, Any]:
    """The document's components/schemas."""
    return spec_document()["components"]["schemas"]


def rank_operation() -> dict[str, Any]:
    """The POST /v1/rank operation."""
    return spec_document()["paths"][RANK]["post"]


def query_parameters() -> dict[str, Mapping[str, Any]]:
    """The query parameters of POST /v1/rank, by name."""
    parameters = (resolve(parameter) for parameter in rank_operation()["parameters"])
    return {parameter["name"]: parameter for parameter in parameters}


def multipart_fields() -> dict[str, Any]:
    """The properties of a multipart/form-data rank request."""
    return schemas()["RankMultipart"]["properties"]


def param_names() -> set[str]:
    """Every parameter a strategy, input kind or features declare.

    Their schemas, query parameters and multipart fields are generated from
    the registry (tests/test_contract.py); the tests here check the
    hand-written fields beside them.
    """
    return {param.name for param in declared_params(load_registry())}


def app_routes(app: Flask) -> dict[str, set[str]]:
    """Path template (OpenAPI style) -> the methods the app serves, lower case.

    HEAD and OPTIONS, which Flask answers for every route, and static files
    are left out.
    """
    routes: dict[str, set[str]] = {}
    for rule in app.url_map.iter_rules():
        if rule.endpoint in ("static", "docs.asset"):
            continue
        path = re.sub(r"<(?:[^<>:]+:)?([^<>]+)>", r"{\1}", rule.rule)
        methods = {method.lower() for method in rule.methods or ()} - {"head", "options"}
        routes.setdefault(path, set()).update(methods)
    return routes


def spec_routes() -> dict[str, set[str]]:
    """Path template -> the methods the document lists."""
    return {path: spec_methods(path) for path in spec_document()["paths"]}


# The document itself.


def test_document_is_valid_openapi_3_1():
    errors = [error.message for error in OpenAPIV31SpecValidator(spec_document()).iter_errors()]
    assert errors == []
    assert spec_document()["openapi"] == "3.1.0"


def test_document_version_is_the_package_version():
    assert spec_document()["info"]["version"] == __version__


def test_served_document_is_the_file(client: FlaskClient):
    response = client.get("/openapi.yaml")
    assert response.status_code == 200
    assert response.mimetype == "application/yaml"
    assert response.get_data(as_text=True) == SPEC_PATH.read_text(encoding="utf-8")
    assert yaml.safe_load(response.get_data()) == spec_document()


# The routes, both ways.


def test_every_route_of_the_app_is_documented_with_its_methods(app: Flask):
    documented = spec_routes()
    for path, methods in app_routes(app).items():
        assert path in documented, f"{path} is served but missing from openapi.yaml"
        assert documented[path] == methods, path


def test_every_documented_operation_is_served(app: Flask):
    served = app_routes(app)
    for path, methods in spec_routes().items():
        assert path in served, f"{path} is documented but not served"
        assert methods <= served[path], path


# Names and bounds, from the code that checks requests. The enums of
# StrategyName, StrategyAlias and InputName are generated (tests/test_contract.py).


@pytest.mark.parametrize(
    ("schema", "names"),
    [
        pytest.param("ArrayRole", set(ARRAY_ROLES), id="array-roles"),
        pytest.param("SelectionMethod", set(SELECTION_METHODS), id="selection-methods"),
    ],
)
def test_enum_lists_the_registered_names(schema: str, names: set[str]):
    enum = schemas()[schema]["enum"]
    assert len(enum) == len(set(enum))
    assert set(enum) == names


def test_npy_input_roles_are_the_array_fields():
    assert set(query_parameters()["input"]["schema"]["enum"]) == set(ARRAY_FIELDS)


def test_json_request_properties_are_the_schema_fields_and_arrays():
    request = schemas()["RankRequest"]
    fields = RankJsonSchema().fields
    assert set(request["properties"]) == set(fields) | set(ARRAY_FIELDS)
    assert set(request["required"]) == {name for name, field in fields.items() if field.required}
    assert request["additionalProperties"] is False


def test_query_parameters_are_the_text_fields_and_params():
    assert set(query_parameters()) == set(RankQuerySchema().fields) | param_names()
    # JSON requests ignore the query string, so no parameter is required.
    assert not any(parameter.get("required") for parameter in query_parameters().values())


def test_multipart_requires_the_required_text_fields():
    fields = RankQuerySchema().fields
    required = {name for name, field in fields.items() if field.required}
    assert set(schemas()["RankMultipart"]["required"]) == required


def test_multipart_fields_are_the_parts_text_fields_and_params():
    text_fields = set(RankQuerySchema().fields) - {"input"}
    assert set(multipart_fields()) == set(ARRAY_FIELDS) | text_fields | param_names()


def test_rank_params_refuse_undeclared_names():
    assert schemas()["RankParams"]["additionalProperties"] is False


def test_hand_written_query_parameters_declare_no_default():
    # A generated client sends a parameter's default with every request, and
    # a query parameter beside a JSON body is refused.
    hand_written = set(query_parameters()) - param_names()
    assert hand_written
    assert {
        name for name in hand_written if "default" in query_parameters()[name]["schema"]
    } == set()


def test_problem_responses_are_the_problem_schema_narrowed():
    # One allOf item naming Problem, the narrowing beside it: validators apply
    # both, and a generated client parses the body as its Problem class.
    for name, response in spec_document()["components"]["responses"].items():
        schema = response["content"]["application/problem+json"]["schema"]
        assert schema["allOf"] == [{"$ref": "#/components/schemas/Problem"}], name
        assert set(schema) <= {"allOf", "properties", "required"}, name
        assert isinstance(schema["properties"]["status"]["const"], int), name


def test_seed_and_beta_bounds_are_the_service_limits():
    seed = schemas()["Seed"]
    assert (seed["minimum"], seed["maximum"]) == (0, MAX_SEED)
    betas = [
        schemas()["Selection"]["properties"]["beta"],
        schemas()["SelectionUsed"]["oneOf"][1]["properties"]["beta"],
        multipart_fields()["beta"],
        query_parameters()["beta"]["schema"],
    ]
    for beta in betas:
        assert (beta["minimum"], beta["maximum"]) == (0, MAX_BETA)


# Examples.


RANK_REQUEST_SCHEMA = (
    "paths",
    RANK,
    "post",
    "requestBody",
    "content",
    "application/json",
    "schema",
)


def request_examples() -> dict[str, object]:
    """The named JSON request examples of POST /v1/rank."""
    content = rank_operation()["requestBody"]["content"]["application/json"]
    return {name: example["value"] for name, example in content["examples"].items()}


def answer_examples() -> dict[str, tuple[int, object]]:
    """The named response examples of POST /v1/rank: name -> (status, body)."""
    answers: dict[str, tuple[int, object]] = {}
    for status, response in rank_operation()["responses"].items():
        for media in resolve(response).get("content", {}).values():
            for name, example in media.get("examples", {}).items():
                assert name not in answers, f"two response examples are named {name}"
                answers[name] = (int(status), example["value"])
    return answers


def _examples(
    node: object, path: tuple[str, ...] = ()
) -> Iterator[tuple[tuple[str, ...], str, object]]:
    """(location of the schema, name, value) for every example beside a schema."""
    if not isinstance(node, dict):
        return
    if "schema" in node:
        for name, example in node.get("examples", {}).items():
            yield (*path, "schema"), name, example["value"]
        if "example" in node:
            yield (*path, "schema"), "example", node["example"]
    for key, child in node.items():
        yield from _examples(child, (*path, str(key)))


def _shows_a_refusal(location: tuple[str, ...], name: str) -> bool:
    """Whether the example is a rank request the service refuses (it may break the schema)."""
    return location == RANK_REQUEST_SCHEMA and answer_examples()[name][0] != 200


SCHEMA_EXAMPLES = [
    pytest.param(location, value, id=f"{'/'.join(location[:-1])}:{name}")
    for location, name, value in _examples(spec_document())
    if not _shows_a_refusal(location, name)
]


@pytest.mark.parametrize(("location", "value"), SCHEMA_EXAMPLES)
def test_example_fits_its_schema(location: tuple[str, ...], value: object):
    validate_against(value, schema_at(*location))


@pytest.mark.parametrize("name", sorted(request_examples()))
def test_request_example_gets_its_documented_answer(client: FlaskClient, name: str):
    assert name in answer_examples(), f"no response example is named {name}"
    status, body = answer_examples()[name]
    response = client.post(
        RANK, json=request_examples()[name], headers={"X-Request-ID": EXAMPLE_REQUEST_ID}
    )
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.get_json() == body


def test_every_ranking_example_answers_a_request_example():
    rankings = {name for name, (status, _) in answer_examples().items() if status == 200}
    assert rankings <= set(request_examples())


def test_margin_example_is_the_readme_example():
    assert request_examples()["margin"] == {
        "strategy": "margin",
        "budget": 2,
        "probabilities": SMALL_POOL,
    }
    assert answer_examples()["margin"][1]["indices"] == [0, 2]
    assert answer_examples()["margin"][1]["scores"] == [1.0, 0.8]


def _npy_header(shape: tuple[int, ...]) -> bytes:
    """A .npy header declaring a float64 array of ``shape``, with no data after it."""
    buffer = io.BytesIO()
    header = {"descr": "<f8", "fortran_order": False, "shape": shape}
    np.lib.format.write_array_header_1_0(buffer, header)
    return buffer.getvalue()


def _crash(_client: FlaskClient) -> TestResponse:
    """The answer to a request whose handler fails unexpectedly (on an app of its own)."""
    app = create_app({"TESTING": True})

    @app.get("/crash")
    def crash() -> None:
        raise RuntimeError("unexpected")

    return app.test_client().get("/crash", headers={"X-Request-ID": EXAMPLE_REQUEST_ID})


PROBLEM_REQUESTS = {
    ("BadRequest", "empty-body"): lambda client: client.post(
        RANK, data=b"", content_type="application/json"
    ),
    ("NotFound", "unknown-path"): lambda client: client.get("/no-such-path"),
    ("MethodNotAllowed", "get-rank"): lambda client: client.get(RANK),
    ("ContentTooLarge", "declared-shape"): lambda client: client.post(
        RANK,
        query_string={"strategy": "margin", "budget": 1},
        data=_npy_header((100_000_000, 20)),
        content_type="application/x-npy",
    ),
    ("UnsupportedMediaType", "text-plain"): lambda client: client.post(
        RANK, data="x", content_type="text/plain"
    ),
    ("InternalServerError", "internal"): _crash,
}


def test_every_problem_example_is_sent():
    responses = spec_document()["components"]["responses"]
    documented = {
        (response, name)
        for response in responses
        for media in responses[response]["content"].values()
        for name in media.get("examples", {})
    }
    sent_as_requests = {pair for pair in documented if pair[1] in request_examples()}
    assert documented - sent_as_requests == set(PROBLEM_REQUESTS)


@pytest.mark.parametrize(("response", "name"), sorted(PROBLEM_REQUESTS))
def test_problem_example_is_the_real_answer(client: FlaskClient, response: str, name: str):
    content = spec_document()["components"]["responses"][response]["content"]
    example = content["application/problem+json"]["examples"][name]["value"]
    client.environ_base["HTTP_X_REQUEST_ID"] = EXAMPLE_REQUEST_ID
    answer = PROBLEM_REQUESTS[response, name](client)
    assert answer.status_code == example["status"]
    assert answer.get_json() == example


def _get_example(path: str, name: str) -> dict[str, Any]:
    content = spec_document()["paths"][path]["get"]["responses"]["200"]["content"]
    return content["application/json"]["examples"][name]["value"]


@pytest.mark.parametrize(("path", "name"), [("/healthz", "alive"), ("/readyz", "ready")])
def test_probe_examples_are_the_real_answers(client: FlaskClient, path: str, name: str):
    assert client.get(path).get_json() == _get_example(path, name)


def test_strategies_example_entries_are_the_real_entries(client: FlaskClient):
    example = _get_example("/v1/strategies", "abridged")
    listing = client.get("/v1/strategies").get_json()
    for key in ("strategies", "inputs"):
        real = {entry["name"]: entry for entry in listing[key]}
        assert example[key]
        for entry in example[key]:
            assert entry == real[entry["name"]]


# The checker itself: every response of the client fixture passes through it.


def test_client_fixture_checks_the_contract(client: FlaskClient):
    assert isinstance(client, ContractClient)


def _margin_response(client: FlaskClient) -> TestResponse:
    response = client.post(
        RANK, json={"strategy": "margin", "budget": 2, "probabilities": SMALL_POOL}
    )
    assert response.status_code == 200
    return response


def test_checker_refuses_an_undocumented_response_field(client: FlaskClient):
    response = _margin_response(client)
    response.set_data(json.dumps({**response.get_json(), "undocumented": "none"}))
    with pytest.raises(AssertionError, match="Additional properties"):
        check_response(response)


def test_checker_refuses_a_negative_index(client: FlaskClient):
    response = _margin_response(client)
    response.set_data(json.dumps({**response.get_json(), "indices": [-1, 2]}))
    with pytest.raises(AssertionError, match="minimum"):
        check_response(response)


def test_checker_refuses_an_undocumented_status(client: FlaskClient):
    response = _margin_response(client)
    response.status_code = 201
    with pytest.raises(AssertionError, match="201"):
        check_response(response)


def test_checker_refuses_a_problem_type_of_another_scheme(client: FlaskClient):
    response = client.post(RANK, json={"strategy": "margin"})
    assert response.status_code == 422
    response.set_data(json.dumps({**response.get_json(), "type": "https://example.com/oops"}))
    with pytest.raises(AssertionError, match="not valid"):
        check_response(response)


def test_checker_holds_a_problem_to_its_response_status(client: FlaskClient):
    response = client.post(
        RANK, json={"strategy": "margin", "budget": 5, "probabilities": SMALL_POOL}
    )
    assert response.status_code == 422
    response.set_data(json.dumps({**response.get_json(), "status": 400}))
    with pytest.raises(AssertionError, match="422 was expected"):
        check_response(response)


def test_checker_refuses_a_422_without_errors(client: FlaskClient):
    response = client.post(
        RANK, json={"strategy": "margin", "budget": 5, "probabilities": SMALL_POOL}
    )
    assert response.status_code == 422
    body = {key: value for key, value in response.get_json().items() if key != "errors"}
    response.set_data(json.dumps(body))
    with pytest.raises(AssertionError, match="'errors' is a required property"):
        check_response(response)


def test_checker_refuses_a_405_without_allow(client: FlaskClient):
    response = client.get(RANK)
    assert response.status_code == 405
    assert "POST" in response.headers["Allow"]
    del response.headers["Allow"]
    with pytest.raises(AssertionError, match="Allow"):
        check_response(response)


def test_checker_holds_unknown_paths_to_the_problem_schema(client: FlaskClient):
    response = client.get("/no-such-path")
    assert response.status_code == 404
    assert response.get_json()["type"] == "about:blank"
    response.set_data(json.dumps({**response.get_json(), "status": "404"}))
    with pytest.raises(AssertionError, match="status"):
        check_response(response)


def test_checker_refuses_an_undocumented_route():
    app = create_app({"TESTING": True})
    app.add_url_rule("/undocumented", "undocumented", lambda: {"hello": "world"})
    response = app.test_client().get("/undocumented")
    assert response.status_code == 200
    with pytest.raises(AssertionError, match="expected 404"):
        check_response(response)


def test_head_and_options_answers_fit_the_contract(client: FlaskClient):
    assert client.head("/healthz").status_code == 200
    assert client.head(RANK).status_code == 405
    allowed = client.options(RANK).headers["Allow"]
    assert {method.strip() for method in allowed.split(",")} == {"POST", "OPTIONS"}
