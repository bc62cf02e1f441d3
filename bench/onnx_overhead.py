"""The cost of chunked inference: the service's path against one direct InferenceSession.run.

    .venv/bin/python -m bench.onnx_overhead [--rows 100000]

Both sides use the same session of the bundled digits-logreg model (created
as the service creates it: one thread, no constant folding) and the same
float32 array of synthetic pixel rows. "direct" is one
``session.run(["probabilities"], {"pixels": array})``; "service" is
``service.models.inference.predict_probabilities`` over the whole array,
chunks of ``inference_chunk_rows`` rows with each chunk's probabilities
checked, as a ranking request runs it. Times are the best of interleaved
repeats measured in this one run; the printed ratio is service / direct.
"""

from __future__ import annotations

import argparse

import numpy as np

from bench.timing import Budget, best_times
from service.models.bundled import SOURCE_DIRECTORY
from service.models.inference import inference_chunk_rows, predict_probabilities
from service.models.sessions import create_session

MODEL = SOURCE_DIRECTORY / "digits-logreg.onnx"
WIDTH = 64
BUDGET = Budget(min_repeats=10, max_repeats=200, min_seconds=2.0, max_seconds=20.0)


def pixel_rows(rows: int, *, seed: int = 0) -> np.ndarray:
    """(rows, 64) float32 pixel intensities in 0..16, like load_digits().data."""
    rng = np.random.default_rng(seed)
    return rng.integers(0, 17, size=(rows, WIDTH)).astype(np.float32)


def measure(rows: int, budget: Budget = BUDGET) -> dict[str, float]:
    """Best seconds of the direct run and of the service's chunked path, and their ratio."""
    session = create_session(MODEL.read_bytes())
    features = pixel_rows(rows)
    chunk_rows = inference_chunk_rows(WIDTH)

    def direct() -> np.ndarray:
        return session.run(["probabilities"], {"pixels": features})[0]

    def service() -> list[np.ndarray]:
        chunks = predict_probabilities(session, features, chunk_rows=chunk_rows)
        return [chunk for _, chunk in chunks]

    expected = direct()
    got = np.concatenate(service())
    np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-7)
    times = best_times({"direct": direct, "service": service}, budget)
    return {**times, "ratio": times["service"] / times["direct"], "chunk_rows": chunk_rows}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    rows = parser.parse_args().rows
    result = measure(rows)
    print(
        f"{rows} rows x {WIDTH} features, chunks of {result['chunk_rows']} rows: "
        f"direct run {result['direct'] * 1e3:.2f} ms, service {result['service'] * 1e3:.2f} ms, "
        f"ratio {result['ratio']:.3f}"
    )


if __name__ == "__main__":
    main()
