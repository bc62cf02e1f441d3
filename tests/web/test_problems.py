"""Every error the app answers is application/problem+json (RFC 9457)."""

from __future__ import annotations

import logging

import pytest
from werkzeug.datastructures import WWWAuthenticate
from werkzeug.exceptions import MethodNotAllowed, TooManyRequests, Unauthorized, default_exceptions
from werkzeug.http import HTTP_STATUS_CODES

from service.app import create_app
from tests.web.helpers import PROBLEM_MEDIA_TYPE, RANK

SECRET = "db-password=hunter2 at /srv/alrank/secrets.toml"


@pytest.fixture
def raising_client():
    """A fresh app with throwaway routes that raise."""
    app = create_app({"TESTING": True})

    @app.route("/raise/<int:code>", methods=["GET", "POST", "PUT", "DELETE", "PATCH"])
    def raise_http_error(code):
        raise default_exceptions[code]()

    @app.get("/raise/method-not-allowed")
    def raise_method_not_allowed():
        raise MethodNotAllowed(valid_methods=["GET", "POST"])

    @app.get("/raise/unauthorized")
    def raise_unauthorized():
        raise Unauthorized(www_authenticate=WWWAuthenticate("Bearer", {"realm": "alrank"}))

    @app.get("/raise/too-many-requests")
    def raise_too_many_requests():
        raise TooManyRequests(retry_after=30)

    @app.get("/crash")
    def crash():
        raise RuntimeError(SECRET)

    return app.test_client()


# 413 is rendered as the service's own payload-too-large problem (tested below).
GENERIC_ERRORS = sorted((code, cls) for code, cls in default_exceptions.items() if code != 413)


@pytest.mark.parametrize(
    ("code", "error_class"),
    GENERIC_ERRORS,
    ids=[f"{code}-{cls.__name__}" for code, cls in GENERIC_ERRORS],
)
def test_http_error_renders_as_problem(raising_client, code, error_class):
    response = raising_client.get(f"/raise/{code}")
    assert response.status_code == code
    assert response.mimetype == PROBLEM_MEDIA_TYPE
    request_id = response.headers["X-Request-ID"]
    assert response.get_json() == {
        "type": "about:blank",
        "title": HTTP_STATUS_CODES[code],
        "status": code,
        "detail": error_class.description,
        "instance": f"urn:alrank:request:{request_id}",
        "request_id": request_id,
    }


def test_request_entity_too_large_names_the_body(raising_client):
    response = raising_client.get("/raise/413")
    assert response.status_code == 413
    assert response.mimetype == PROBLEM_MEDIA_TYPE
    body = response.get_json()
    assert body["type"] == "urn:alrank:problem:payload-too-large"
    assert body["title"] == "Content Too Large"
    assert list(body["errors"]) == ["body"]


def test_method_not_allowed_carries_allow(raising_client):
    response = raising_client.get("/raise/method-not-allowed")
    assert response.status_code == 405
    assert response.mimetype == PROBLEM_MEDIA_TYPE
    assert response.headers["Allow"] == "GET, POST"


def test_wrong_method_on_a_route_carries_allow():
    response = create_app({"TESTING": True}).test_client().get(RANK)
    assert response.status_code == 405
    assert response.mimetype == PROBLEM_MEDIA_TYPE
    assert response.get_json()["title"] == "Method Not Allowed"
    assert "POST" in {method.strip() for method in response.headers["Allow"].split(",")}


@pytest.mark.parametrize(
    ("path", "status", "header", "value"),
    [
        pytest.param(
            "/raise/unauthorized", 401, "WWW-Authenticate", "Bearer realm=alrank", id="401"
        ),
        pytest.param("/raise/too-many-requests", 429, "Retry-After", "30", id="429"),
    ],
)
def test_problem_keeps_the_headers_a_client_acts_on(raising_client, path, status, header, value):
    response = raising_client.get(path)
    assert response.status_code == status
    assert response.mimetype == PROBLEM_MEDIA_TYPE
    assert response.headers[header] == value


def test_unknown_url_is_a_404_problem():
    response = create_app({"TESTING": True}).test_client().get("/v1/no-such-thing")
    assert response.status_code == 404
    assert response.mimetype == PROBLEM_MEDIA_TYPE
    assert response.get_json()["title"] == "Not Found"


def test_unexpected_exception_is_a_500_problem_that_hides_its_text(raising_client, caplog):
    with caplog.at_level(logging.ERROR):
        response = raising_client.get("/crash")
    assert response.status_code == 500
    assert response.mimetype == PROBLEM_MEDIA_TYPE
    body = response.get_json()
    assert body["status"] == 500
    assert body["title"] == "Internal Server Error"
    assert body["detail"]
    assert "hunter2" not in response.get_data(as_text=True)
    assert "secrets.toml" not in response.get_data(as_text=True)
    # The operator still sees what happened.
    assert any(SECRET in str(record.exc_info[1]) for record in caplog.records if record.exc_info)
