"""What reading an embeddings output costs beside the class scores of the same runs.

    .venv/bin/python -m bench.embeddings_overhead [--rows 100000]

A seeded MLP (64 features -> 32 hidden -> 10 classes, bench/model_graphs.py)
runs over the same float32 rows as ranking runs it (the worker's capped
arena, chunks of ``inference_chunk_rows``). "scores" reads the probabilities
alone (``predict_probabilities``); "with embeddings" the probabilities and
the hidden layer of the same runs, each chunk of both checked
(``predict_with_embeddings``); both stream, each chunk dropped once read.
"held" gathers both outputs whole, as a request with
``params.embeddings_output`` does for its batch strategy: rows x (10 + 32)
float32, written into fresh memory. Times are the best of interleaved
repeats in this one run. The rows are synthetic (normal, seeded).
"""

from __future__ import annotations

import argparse

import numpy as np

from bench.model_graphs import mlp_model
from bench.timing import Budget, best_times
from service.jobs.features import held_outputs
from service.models.inference import (
    inference_chunk_rows,
    predict_probabilities,
    predict_with_embeddings,
)
from service.models.memory import INFERENCE_MEMORY_BYTES
from service.models.sessions import create_session

WIDTH, HIDDEN, CLASSES = 64, 32, 10
BUDGET = Budget(min_repeats=10, max_repeats=200, min_seconds=2.0, max_seconds=20.0)


def measure(rows: int, budget: Budget = BUDGET) -> dict[str, float]:
    """Best seconds of both reads, their ratio and the bytes a batch strategy holds."""
    session = create_session(
        mlp_model(WIDTH, HIDDEN, CLASSES), memory_budget=INFERENCE_MEMORY_BYTES
    )
    features = np.random.default_rng(0).normal(size=(rows, WIDTH)).astype(np.float32)
    chunk_rows = inference_chunk_rows(WIDTH)

    def scores() -> None:
        for _ in predict_probabilities(session, features, chunk_rows=chunk_rows):
            pass

    def with_embeddings() -> None:
        for _ in predict_with_embeddings(
            session, features, embeddings_output="hidden", chunk_rows=chunk_rows
        ):
            pass

    def held() -> tuple[np.ndarray, np.ndarray]:
        chunks = predict_with_embeddings(
            session, features, embeddings_output="hidden", chunk_rows=chunk_rows
        )
        return held_outputs(chunks, rows, None)

    direct_scores, direct_hidden = session.run(["probabilities", "hidden"], {"features": features})
    held_scores, held_hidden = held()
    np.testing.assert_allclose(held_scores, direct_scores, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(held_hidden, direct_hidden, rtol=1e-6, atol=1e-6)
    times = best_times({"scores": scores, "with_embeddings": with_embeddings, "held": held}, budget)
    return {
        **times,
        "ratio": times["with_embeddings"] / times["scores"],
        "held_ratio": times["held"] / times["scores"],
        "held_bytes": rows * (CLASSES + HIDDEN) * 4,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    rows = parser.parse_args().rows
    result = measure(rows)
    print(
        f"{rows} rows x {WIDTH} features through a {WIDTH}-{HIDDEN}-{CLASSES} MLP: scores "
        f"{result['scores'] * 1e3:.2f} ms, with the {HIDDEN}-wide embeddings "
        f"{result['with_embeddings'] * 1e3:.2f} ms, ratio {result['ratio']:.3f}; both held "
        f"whole for a batch strategy {result['held'] * 1e3:.2f} ms "
        f"({result['held_ratio']:.3f}x, {result['held_bytes'] / (1 << 20):.1f} MiB)"
    )


if __name__ == "__main__":
    main()
