"""Generated schemathesis cases made into what the service must accept, or refuse.

A case generated as valid is repaired (tests/fuzz_repair.py) into a rank
request that obeys the rules no schema can state, or an upload of a real
model. A case generated to break the body gets its files cut short: the
document describes .npy arrays and .onnx models only as strings, and the
media types registered for the run send real files in their place, which
would undo the breakage. ``prepared`` does whichever applies.
"""

from __future__ import annotations

import zlib
from typing import Any

import schemathesis
from schemathesis import GenerationMode
from schemathesis.core.jsonschema import make_validator
from schemathesis.core.parameters import ParameterLocation
from schemathesis.generation.meta import ComponentInfo

from service.models.ids import model_id
from tests import fuzz_repair
from tests.fuzz_hooks import npy_file, spec_document, valid_models

RANK_PATH = "/v1/rank"
MODELS_PATH = "/v1/models"
MODEL_PATH = "/v1/models/{model}"
BUNDLED_NAME = fuzz_repair.BUNDLED_NAME
BUNDLED = model_id(valid_models()[0])


def prepared(case: schemathesis.Case) -> schemathesis.Case:
    """``case`` repaired when generated as valid, its files broken when generated as invalid."""
    if not is_positive(case):
        return with_broken_binaries(case)
    if case.operation.path == RANK_PATH:
        return judged_with_files(rankable_case(case))
    if case.operation.path == MODELS_PATH and case.method.upper() == "POST":
        return judged_with_files(storable_case(case))
    if case.operation.path == MODEL_PATH:
        return addressed_case(case)
    return case


def uploadable_ids() -> dict[str, bytes]:
    """The models a run may store, by id (the bundled one is never stored)."""
    return {model_id(data): data for data in valid_models()[1:]}


def addressed_case(case: schemathesis.Case) -> schemathesis.Case:
    """Half the cases addressing a model string no model answers to address a
    model the run stores instead (see ``schemathesis_hooks.before_call``): the
    document's examples name only the bundled model, which cannot be deleted."""
    parameters = dict(case.path_parameters or {})
    reference = str(parameters.get("model", ""))
    ids = sorted(uploadable_ids())
    if reference in ids or reference.startswith(BUNDLED) or reference == BUNDLED_NAME:
        return case
    checksum = zlib.crc32(reference.encode("utf-8", "replace"))
    if checksum % 2 == 0:
        parameters["model"] = ids[checksum // 2 % len(ids)]
        case.path_parameters = parameters
    return case


def refused_examples() -> list[object]:
    """Request examples of POST /v1/rank without a 200 answer of the same name."""
    operation = spec_document()["paths"][RANK_PATH]["post"]
    requests = operation["requestBody"]["content"]["application/json"]["examples"]
    answered = operation["responses"]["200"]["content"]["application/json"]["examples"]
    return [example["value"] for name, example in requests.items() if name not in answered]


def with_broken_binaries(case: schemathesis.Case) -> schemathesis.Case:
    """A case generated to break the body, with its .npy arrays and .onnx model cut
    short, so that the body is broken as sent too (see the module's docstring)."""
    meta = case.meta
    if meta is None or not meta.is_negative_at(ParameterLocation.BODY):
        return case
    if isinstance(case.body, dict):
        case.body = {name: _cut_short(value) for name, value in case.body.items()}
    else:
        case.body = _cut_short(case.body)
    return case


def _cut_short(value: object) -> object:
    """``value`` cut in half when it is a valid model or a readable .npy file
    (as bytes, or as the text schemathesis sometimes holds a file part in)."""
    data = value.encode("latin-1", "replace") if isinstance(value, str) else value
    if not isinstance(data, bytes):
        return value
    if data not in valid_models() and fuzz_repair.npy_array(data) is None:
        return value
    return data[: len(data) // 2]


def judged_with_files(case: schemathesis.Case) -> schemathesis.Case:
    """``case`` judged valid again when its only files are real ones.

    schemathesis re-judges a body a hook changed against the document, and
    counts any body holding bytes as invalid, since it cannot read files.
    The repaired files are readable .npy arrays or valid models; the rest of
    the body is judged here against the document, with each file in place of
    the string the document describes it as."""
    meta = case.meta  # re-judges what the repair changed
    if meta is None or meta.components.get(ParameterLocation.BODY) is None:
        return case
    body = case.body
    if isinstance(body, dict):
        text_view: object = {name: _as_text(value) for name, value in body.items()}
    else:
        text_view = _as_text(body)
    if text_view == body:
        return case
    alternative = case.operation.get_body_for_media_type(case.media_type or "")
    if alternative is None:
        return case
    validator = make_validator(
        alternative.validation_schema, case.operation.schema.adapter.jsonschema_validator_cls
    )
    if validator.is_valid(text_view):
        meta.components[ParameterLocation.BODY] = ComponentInfo(mode=GenerationMode.POSITIVE)
        if all(info.mode.is_positive for info in meta.components.values()):
            meta.generation.mode = GenerationMode.POSITIVE
    return case


def _as_text(value: object) -> object:
    return value.decode("latin-1") if isinstance(value, bytes) else value


def is_positive(case: schemathesis.Case) -> bool:
    # Examples carry no generation metadata; the ones kept are valid requests.
    # A case generated as invalid may have only one invalid part: it stays as it is.
    meta = case.meta
    if meta is None:
        return True
    parts = [info.mode for info in meta.components.values()]
    return all(mode == GenerationMode.POSITIVE for mode in [meta.generation.mode, *parts])


def rankable_case(case: schemathesis.Case) -> schemathesis.Case:
    """``case`` repaired into a rank request the service must accept, sent as before."""
    media_type = case.media_type or fuzz_repair.JSON
    query = dict(case.query or {})
    if media_type == fuzz_repair.JSON and isinstance(case.body, dict):
        fields = fuzz_repair.fields_from_json(case.body, query)
    elif media_type == fuzz_repair.MULTIPART and isinstance(case.body, dict):
        files = {k: v for k, v in case.body.items() if isinstance(v, bytes)}
        text = query | {k: v for k, v in case.body.items() if not isinstance(v, bytes)}
        fields = fuzz_repair.fields_from_text(text, files)
    elif media_type == fuzz_repair.NPY:
        role = str(query.get("input", "probabilities"))
        files = {role: case.body} if isinstance(case.body, bytes) else {}
        fields = fuzz_repair.fields_from_text(query, files)
    else:
        return case
    repaired = fuzz_repair.rankable(fields, media_type)
    if media_type == fuzz_repair.JSON:
        case.query = {}
        case.body = fuzz_repair.json_body(repaired)
    elif media_type == fuzz_repair.MULTIPART:
        files = {name: _npy(name, array) for name, array in repaired.arrays.items()}
        case.query = {}
        case.body = fuzz_repair.form_fields(repaired) | files
    else:
        ((role, array),) = repaired.arrays.items()
        case.query = fuzz_repair.form_fields(repaired) | {"input": role}
        case.body = _npy(role, array)
    return case


def _npy(role: str, array: Any) -> bytes:
    # A model's features go in its input type; other arrays keep float64.
    return npy_file(array.astype("<f4") if role == fuzz_repair.FEATURES else array)


def storable_case(case: schemathesis.Case) -> schemathesis.Case:
    """An upload whose body is one of the valid models (chosen by the generated bytes)."""
    models = valid_models()
    if case.body not in models:
        data = case.body if isinstance(case.body, bytes) else str(case.body).encode()
        case.body = models[zlib.crc32(data) % len(models)]
    return case
