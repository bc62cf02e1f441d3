"""What samples from models cost beside running the models directly: MC dropout
passes of one model, and a committee of several.

    .venv/bin/python -m bench.samples_overhead [--rows 100000] [--passes 20] [--members 4]

The pool is scikit-learn's 8x8 digits (1,797 real images) tiled to ``rows``
rows of 64 float32 pixels.

- *passes*: the bundled ``digits-mlp`` (two Dropout layers) with its dropout
  on. "direct" is ``passes`` InferenceSession.run calls over the whole pool on
  one session of the rewritten graph; "service" is the request's path from
  features to samples (``predicted_samples``: the graph rewritten and
  checked, a new session, the passes run block by block and stacked, every
  block consumed as a pointwise strategy consumes it).
- *committee*: ``digits-logreg``, ``digits-mlp`` and seeded 64-32-10 MLPs
  (bench/model_graphs.py) up to ``members``; "direct" runs each member's
  session once over the whole pool, "service" is the same path as above.

Each path's peak of traced Python allocations (numpy's buffers, not
onnxruntime's arena) is set beside the N x T x C float32 samples a whole
array would hold. Times are the best of interleaved repeats in this one run.
"""

from __future__ import annotations

import argparse
import tempfile
import tracemalloc
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import onnxruntime as ort
from sklearn.datasets import load_digits

from bench.model_graphs import mlp_model
from bench.timing import Budget, best_times
from service.jobs.ensembles import predicted_samples
from service.models.bundled import SOURCE_DIRECTORY, BundledModels
from service.models.dropout import with_dropout_on
from service.models.inference import INFERENCE_CHUNK_BYTES
from service.models.memory import INFERENCE_MEMORY_BYTES
from service.models.sessions import SessionCache, create_session
from service.models.store import ModelStore
from service.models.validation import ValidationLimits

BUDGET = Budget(min_repeats=5, max_repeats=100, min_seconds=3.0, max_seconds=30.0)
DROPOUT_MODEL = "digits-mlp"
BUNDLED_MEMBERS = ("digits-logreg", "digits-mlp")
SEED = 7
CLASSES = 10


def digits_pool(rows: int) -> np.ndarray:
    """``rows`` x 64 float32 pixels: the digits images, tiled."""
    images = load_digits().data.astype(np.float32)
    return np.resize(images, (rows, images.shape[1]))


def open_store(directory: Path) -> ModelStore:
    return ModelStore(
        directory,
        bundled=BundledModels(SOURCE_DIRECTORY),
        max_bytes=64 << 20,
        limits=ValidationLimits(),
        sessions=SessionCache(32),
    )


def _consume(store: ModelStore, features: np.ndarray, refs: Sequence[str], passes: int | None):
    blocks, _ = predicted_samples(
        features,
        refs,
        passes=passes,
        output="probabilities",
        output_kind="probabilities",
        store=store,
        chunk_bytes=INFERENCE_CHUNK_BYTES,
        seed=SEED,
    )
    for _ in blocks:
        pass


def _traced_peak(call: Callable[[], object]) -> int:
    tracemalloc.start()
    try:
        call()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def _figures(
    times: dict[str, float], rows: int, columns: int, service: Callable[[], object]
) -> dict[str, float]:
    return {
        **times,
        "ratio": times["service"] / times["direct"],
        "samples_bytes": rows * columns * CLASSES * 4,
        "service_peak_bytes": _traced_peak(service),
    }


def measure_passes(rows: int, passes: int, budget: Budget = BUDGET) -> dict[str, float]:
    """Best seconds of ``passes`` direct runs and of the service's passes, and
    their ratio and memory."""
    features = digits_pool(rows)
    with tempfile.TemporaryDirectory() as directory:
        store = open_store(Path(directory))
        model = store.resolve(DROPOUT_MODEL)
        rewritten = with_dropout_on(store.read_bytes(model), SEED).data
        session = create_session(
            rewritten, memory_budget=INFERENCE_MEMORY_BYTES, keep_dropout=True
        )

        def direct() -> None:
            for _ in range(passes):
                session.run(["probabilities"], {"pixels": features})

        def service() -> None:
            _consume(store, features, [DROPOUT_MODEL], passes)

        times = best_times({"direct": direct, "service": service}, budget)
        return _figures(times, rows, passes, service)


def measure_committee(rows: int, members: int, budget: Budget = BUDGET) -> dict[str, float]:
    """Best seconds of each member's direct run and of the service's committee,
    and their ratio and memory."""
    features = digits_pool(rows)
    with tempfile.TemporaryDirectory() as directory:
        store = open_store(Path(directory))
        refs = list(BUNDLED_MEMBERS[:members])
        for seed in range(members - len(refs)):
            stored, _ = store.add(mlp_model(64, 32, CLASSES, seed=seed + 1))
            refs.append(stored.id)
        sessions: list[ort.InferenceSession] = [
            store.session(store.resolve(ref)) for ref in refs
        ]
        feeds = [{session.get_inputs()[0].name: features} for session in sessions]

        def direct() -> None:
            for session, feed in zip(sessions, feeds, strict=True):
                session.run(["probabilities"], feed)

        def service() -> None:
            _consume(store, features, refs, None)

        times = best_times({"direct": direct, "service": service}, budget)
        return _figures(times, rows, members, service)


def _line(name: str, rows: int, columns: int, result: dict[str, float]) -> str:
    return (
        f"{name}: {rows} digit rows, {columns} samples per row: direct "
        f"{result['direct'] * 1e3:.1f} ms, service {result['service'] * 1e3:.1f} ms, ratio "
        f"{result['ratio']:.3f}; traced peak {result['service_peak_bytes'] / (1 << 20):.1f} MiB "
        f"vs {result['samples_bytes'] / (1 << 20):.1f} MiB of whole samples"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--passes", type=int, default=20)
    parser.add_argument("--members", type=int, default=4)
    args = parser.parse_args()
    print(_line("passes", args.rows, args.passes, measure_passes(args.rows, args.passes)))
    print(
        _line("committee", args.rows, args.members, measure_committee(args.rows, args.members))
    )


if __name__ == "__main__":
    main()
