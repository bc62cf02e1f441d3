"""What the schemathesis command line needs to know about this service beyond openapi.yaml.

schemathesis.toml loads this module, so that ``schemathesis run`` against a
live server (``make fuzz``, or by hand from the repository root) knows:

- the binary bodies: ``.npy`` arrays and ``.onnx`` models, valid ones and
  broken ones, instead of arbitrary strings (tests/fuzz_hooks.py);
- small pools: the document allows millions of rows, which only slow a run;
- the rules that tie a rank request's fields together, which no schema can
  state (tests/fuzz_repair.py): a request generated as valid is repaired to
  obey them, so that the service must accept it; one generated to break
  the document is sent with its files cut short (tests/fuzz_cases.py), and
  the service must refuse it;
- that the models a run describes and deletes are often ones it stores:
  half the ids no model answers to are swapped for a stored model's id, and
  outside the stateful phase a delete stores its model just before;
- that an upload generated as valid is a real model: bytes that parse as
  ONNX are not something a schema can say;
- that the document's request examples named after a refusal (a budget
  larger than the pool, say) show a 422, and are not sent as valid ones;
- the API key: ALRANK_API_KEY, when set, is sent to the routes that manage
  models. Without it the server must run without a key too.
"""

from __future__ import annotations

import os
from typing import Any

import requests
import schemathesis
from schemathesis.generation.meta import TestPhase

from tests import fuzz_cases
from tests.fuzz_hooks import bound, model_bodies, npy_bodies

RANK_PATH = fuzz_cases.RANK_PATH
UPLOAD_TIMEOUT_S = 30

schemathesis.openapi.media_type("application/x-npy", npy_bodies())
schemathesis.openapi.media_type("application/octet-stream", model_bodies())


@schemathesis.hook
def before_load_schema(context: schemathesis.HookContext, raw_schema: dict[str, Any]) -> None:
    """Pools of a few rows; multipart .npy parts sent as files."""
    bound(raw_schema)


@schemathesis.hook
def map_case(context: schemathesis.HookContext, case: schemathesis.Case) -> schemathesis.Case:
    """Requests generated as valid, made to obey what the document cannot say."""
    return fuzz_cases.prepared(case)


@schemathesis.hook
def before_add_examples(context: schemathesis.HookContext, examples: list[Any]) -> None:
    """The document's rank examples: refusals kept out, the others sent without the
    query parameters schemathesis adds from the parameters' own examples."""
    if context.operation is None or context.operation.path != RANK_PATH:
        return
    refusals = fuzz_cases.refused_examples()
    kept = [fuzz_cases.rankable_case(case) for case in examples if case.body not in refusals]
    examples[:] = kept


@schemathesis.hook
def before_call(context: schemathesis.HookContext, case: schemathesis.Case, kwargs: Any) -> None:
    """Outside the stateful phase, a model a delete addresses by the id of a model
    the run stores is stored first, so that the delete reaches a model, not a
    404. (The stateful phase deletes what it uploaded, and then checks that
    the model is gone: nothing is stored behind its back.)"""
    meta = case.meta
    if case.operation.path != fuzz_cases.MODEL_PATH or case.method.upper() != "DELETE":
        return
    if meta is None or meta.phase.name == TestPhase.STATEFUL:
        return
    data = fuzz_cases.uploadable_ids().get(str((case.path_parameters or {}).get("model")))
    if data is None:
        return
    key = os.environ.get("ALRANK_API_KEY")
    headers = {"Content-Type": "application/octet-stream"}
    if key:
        headers["Authorization"] = f"Bearer {key}"
    url = case.operation.schema.get_base_url().rstrip("/") + fuzz_cases.MODELS_PATH
    requests.post(url, data=data, headers=headers, timeout=UPLOAD_TIMEOUT_S).raise_for_status()


@schemathesis.auth().apply_to(path_regex="^/v1/models")
class ApiKey:
    """ALRANK_API_KEY as a bearer token; nothing when it is unset."""

    def get(self, case: schemathesis.Case, context: Any) -> str | None:
        return os.environ.get("ALRANK_API_KEY") or None

    def set(self, case: schemathesis.Case, data: str, context: Any) -> None:
        case.headers = {**(case.headers or {}), "Authorization": f"Bearer {data}"}
