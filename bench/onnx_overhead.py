"""The cost of chunked inference: the service's path against one direct InferenceSession.run.

    .venv/bin/python -m bench.onnx_overhead [--rows 100000]

Every side runs the bundled digits-logreg model on the same float32 array of
synthetic pixel rows. "direct" is one ``session.run(["probabilities"],
{"pixels": array})`` on a session created as the service creates it (one
thread, no constant folding) with onnxruntime's own arena. "uncapped" is
``service.models.inference.predict_probabilities`` in chunks of
``inference_chunk_rows`` rows, each chunk's probabilities checked, on a
session as the service made them before inference memory was bounded: its
own uncapped arena and onnxruntime's memory pattern on.
"service" is the path a ranking takes now: a session allocating from the
worker's arena capped at the default inference memory budget, its runs
sized by the model's footprint as validation measures it (in its own child
process) as well as by feature bytes. Times are the best of interleaved
repeats measured in this one run; the printed ratios are service / direct
and service / uncapped (what the cap and the footprint cost).

The second line times whole rankings (margin, top 100) of the same rows sent
as a `.npy` features body naming the bundled model, through the app's
POST /v1/rank (Flask's test client, no socket): one app as configured, one
whose sessions use onnxruntime's own uncapped arenas, requests interleaved.
"""

from __future__ import annotations

import argparse
import io
import tempfile
from collections.abc import Callable

import numpy as np
import onnxruntime as ort

from bench.timing import Budget, best_times
from service.app import create_app
from service.models.bundled import SOURCE_DIRECTORY
from service.models.inference import (
    InferenceMemory,
    inference_chunk_rows,
    predict_probabilities,
)
from service.models.memory import INFERENCE_MEMORY_BYTES, MemoryFootprint
from service.models.sessions import DISABLED_OPTIMIZERS, create_session, session_options
from service.models.validation import ValidationLimits, validate_model_file
from service.web.models import EXTENSION

MODEL = SOURCE_DIRECTORY / "digits-logreg.onnx"
WIDTH = 64
BUDGET = Budget(min_repeats=10, max_repeats=200, min_seconds=2.0, max_seconds=20.0)


def pixel_rows(rows: int, *, seed: int = 0) -> np.ndarray:
    """(rows, 64) float32 pixel intensities in 0..16, like load_digits().data."""
    rng = np.random.default_rng(seed)
    return rng.integers(0, 17, size=(rows, WIDTH)).astype(np.float32)


def previous_session(data: bytes) -> ort.InferenceSession:
    """A session of ``data`` as the service created them before inference memory
    was bounded: its own uncapped arena, and the memory pattern on."""
    options = session_options()
    options.enable_mem_pattern = True
    return ort.InferenceSession(
        data,
        options,
        providers=["CPUExecutionProvider"],
        disabled_optimizers=list(DISABLED_OPTIMIZERS),
    )


def measure(rows: int, budget: Budget = BUDGET) -> dict[str, float]:
    """Best seconds of the direct run and of both chunked paths, and their ratios."""
    data = MODEL.read_bytes()
    session = create_session(data)
    previous = previous_session(data)
    capped = create_session(data, memory_budget=INFERENCE_MEMORY_BYTES)
    signature = validate_model_file(MODEL, ValidationLimits())
    footprint = MemoryFootprint.from_json(signature["memory"])
    memory = InferenceMemory(INFERENCE_MEMORY_BYTES, footprint)
    features = pixel_rows(rows)
    chunk_rows = inference_chunk_rows(WIDTH)

    def direct() -> np.ndarray:
        return session.run(["probabilities"], {"pixels": features})[0]

    def uncapped() -> list[np.ndarray]:
        chunks = predict_probabilities(previous, features, chunk_rows=chunk_rows)
        return [chunk for _, chunk in chunks]

    def service() -> list[np.ndarray]:
        chunks = predict_probabilities(capped, features, chunk_rows=chunk_rows, memory=memory)
        return [chunk for _, chunk in chunks]

    expected = direct()
    for path in (uncapped, service):
        np.testing.assert_allclose(np.concatenate(path()), expected, rtol=1e-6, atol=1e-7)
    times = best_times({"direct": direct, "uncapped": uncapped, "service": service}, budget)
    run_rows = min(chunk_rows, footprint.rows_within(INFERENCE_MEMORY_BYTES) if footprint else rows)
    return {
        **times,
        "ratio": times["service"] / times["direct"],
        "cap_ratio": times["service"] / times["uncapped"],
        "chunk_rows": chunk_rows,
        "run_rows": run_rows,
        "bytes_per_row": footprint.bytes_per_row if footprint else 0,
    }


def measure_ranking(rows: int, budget: Budget = BUDGET) -> dict[str, float]:
    """Best seconds of a whole ranking through the app with capped and with
    uncapped sessions, and their ratio."""
    buffer = io.BytesIO()
    np.save(buffer, pixel_rows(rows))
    body = buffer.getvalue()
    query = "/v1/rank?strategy=margin&budget=100&input=features&model=digits-logreg"
    answers: dict[str, list[int]] = {}

    def ranking(capped: bool) -> Callable[[], None]:
        app = create_app({"TESTING": True, "MODEL_DIR": tempfile.mkdtemp(), "ACCESS_LOG": False})
        if not capped:
            app.extensions[EXTENSION].sessions.memory_budget = None
        client = app.test_client()

        def rank() -> None:
            response = client.post(query, data=body, content_type="application/x-npy")
            if response.status_code != 200:
                raise RuntimeError(response.get_data(as_text=True))
            answers[str(capped)] = response.get_json()["indices"]

        return rank

    times = best_times({"capped": ranking(True), "uncapped": ranking(False)}, budget)
    if answers["True"] != answers["False"]:
        raise RuntimeError("the capped and uncapped rankings differ")
    return {**times, "ratio": times["capped"] / times["uncapped"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    rows = parser.parse_args().rows
    result = measure(rows)
    print(
        f"{rows} rows x {WIDTH} features, runs of {result['run_rows']} rows "
        f"(footprint {result['bytes_per_row']} bytes per row): "
        f"direct run {result['direct'] * 1e3:.2f} ms, "
        f"uncapped chunks {result['uncapped'] * 1e3:.2f} ms, "
        f"service {result['service'] * 1e3:.2f} ms; service / direct {result['ratio']:.3f}, "
        f"service / uncapped {result['cap_ratio']:.3f}"
    )
    ranked = measure_ranking(rows)
    print(
        f"ranking {rows} rows through POST /v1/rank: capped sessions "
        f"{ranked['capped'] * 1e3:.2f} ms, uncapped {ranked['uncapped'] * 1e3:.2f} ms, "
        f"capped / uncapped {ranked['ratio']:.3f}"
    )


if __name__ == "__main__":
    main()
