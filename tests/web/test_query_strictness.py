"""Text fields are read strictly: a key given twice, an empty item in a comma
list and a misspelled strategy each get a 422 naming the field."""

from __future__ import annotations

import io

import numpy as np
import pytest
from werkzeug.datastructures import MultiDict

from service.errors import InvalidInput
from service.web.bodies import single_values
from tests.web.helpers import (
    NPY_MEDIA_TYPE,
    RANK,
    SMALL_POOL,
    assert_problem,
    assert_ranked,
    npy_bytes,
)

POOL = npy_bytes(np.array(SMALL_POOL))


def post_npy(client, query):
    return client.post(RANK, query_string=query, data=POOL, content_type=NPY_MEDIA_TYPE)


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("strategy=margin&budget=1&budget=2", "budget"),
        ("strategy=margin&strategy=entropy&budget=1", "strategy"),
        ("strategy=margin&budget=1&exclude=0&exclude=1", "exclude"),
        ("strategy=entropy&budget=1&selection=power&beta=1&beta=2", "beta"),
    ],
)
def test_a_query_key_given_twice_is_refused(client, query, field):
    response = client.post(RANK + "?" + query, data=POOL, content_type=NPY_MEDIA_TYPE)
    body = assert_problem(response, 422, field, says=("given 2 times", "send it once"))
    assert field in body["errors"]


def test_a_form_field_given_twice_is_refused(client):
    form = {
        "strategy": "margin",
        "budget": ["1", "2"],
        "probabilities": (io.BytesIO(POOL), "probabilities.npy"),
    }
    response = client.post(RANK, data=form, content_type="multipart/form-data")
    assert_problem(response, 422, "budget", says=("given 2 times in the form",))


def test_a_form_field_still_wins_over_the_same_query_key(client):
    form = {"strategy": "margin", "budget": "1", "probabilities": (io.BytesIO(POOL), "p.npy")}
    response = client.post(RANK + "?budget=3", data=form, content_type="multipart/form-data")
    assert assert_ranked(response)["budget"] == 1


def test_a_repeated_upload_name_is_refused(client):
    response = client.post(
        "/v1/models?name=a&name=b", data=b"x", content_type="application/octet-stream"
    )
    assert_problem(response, 422, "name", says=("given 2 times",))


@pytest.mark.parametrize("exclude", ["1,,2", "1,", ",1", " , "])
def test_an_empty_item_in_exclude_is_refused(client, exclude):
    response = post_npy(client, {"strategy": "margin", "budget": "1", "exclude": exclude})
    assert_problem(response, 422, "exclude", says=("is empty",))


def test_an_empty_exclude_is_no_exclusion(client):
    body = assert_ranked(post_npy(client, {"strategy": "margin", "budget": "3", "exclude": ""}))
    assert sorted(body["indices"]) == [0, 1, 2]


@pytest.mark.parametrize(
    ("name", "nearest"),
    [
        ("margn", "margin"),
        ("Entropy", "entropy"),
        ("consensus_entrop", "consensus_entropy"),
        ("badg", "badge"),
    ],
)
def test_an_unknown_strategy_suggests_the_nearest_name(client, name, nearest):
    response = post_npy(client, {"strategy": name, "budget": "1"})
    assert_problem(response, 422, "strategy", says=(f"did you mean '{nearest}'?", "must be one of"))


def test_a_name_near_nothing_gets_no_suggestion(client):
    response = post_npy(client, {"strategy": "zzzzzzzz", "budget": "1"})
    body = assert_problem(response, 422, "strategy")
    assert "did you mean" not in body["detail"]


def test_a_repeated_key_with_no_name_is_named_by_where_it_came_from(client):
    response = client.post(
        RANK + "?=a&=b&strategy=margin&budget=1", data=POOL, content_type=NPY_MEDIA_TYPE
    )
    assert_problem(response, 422, "query", says=("a key with no name is given 2 times",))


def test_repeated_parts_without_a_readable_name_are_named_by_where_they_came_from():
    fields = MultiDict([("x", "1"), (None, "a"), ("x", "2"), (None, "b")])
    with pytest.raises(InvalidInput) as raised:
        single_values(fields, "form fields")
    assert raised.value.field == "form"
