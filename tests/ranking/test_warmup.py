import subprocess
import sys
from pathlib import Path

import numba
import numpy as np

from service.jobs.warmup import warm_up
from service.ranking import kernels
from service.ranking.inputs import INPUT_KINDS
from service.ranking.registry import STRATEGIES
from tests.ranking.helpers import rank_request

LOOPS = {
    name: value
    for name, value in vars(kernels).items()
    if isinstance(value, numba.core.registry.CPUDispatcher)
}


def compiled_signatures() -> dict[str, int]:
    return {name: len(loop.signatures) for name, loop in LOOPS.items()}


def pool(kind: str, dtype: type, rng: np.random.Generator) -> np.ndarray:
    n, t, c = 70, 3, 7
    if kind == "logits":
        return rng.normal(size=(n, c)).astype(dtype)
    probs = rng.dirichlet(np.ones(c), size=(n, t) if kind == "samples" else n)
    return probs.astype(dtype)


def test_the_warm_up_compiles_the_loops_for_float32_and_float64():
    warm_up()
    for name in ("transpose_into", "failing_probability_rows", "margin_into", "entropy_into"):
        dtypes = {signature[0].dtype for signature in LOOPS[name].signatures}
        assert {numba.float32, numba.float64} <= dtypes, name


def variants_of(kind) -> list[dict]:
    """The request options that change the path for ``kind``."""
    variants: list[dict] = [{}]
    if kind.normalizable:
        variants.append({"normalize": True})
    variants += [{"params": {param.name: param.default}} for param in kind.params]
    if kind.has_units:
        variants += [{"params": {"aggregate": how}} for how in ("max", "sum")]
    if kind.name == "logits":
        variants.append({"params": {"temperature": 2.0}})
    return variants


def rank_everything() -> None:
    """Rank a pool of every input kind and dtype with every pointwise strategy,
    with and without the input options that change the path."""
    rng = np.random.default_rng(0)
    for dtype in (np.float32, np.float64):
        for kind in INPUT_KINDS.values():
            if kind.has_units:
                arrays = kind.example(20, dtype)
            else:
                arrays = {kind.name: pool(kind.name, dtype, rng)}
            for strategy in STRATEGIES.values():
                # The multi-label strategies are plain numpy (see warm_up).
                if (
                    not strategy.pointwise
                    or not strategy.accepts(kind)
                    or strategy.form == "labels"
                ):
                    continue
                for variant in variants_of(kind):
                    aggregated = strategy.unit_scores == "aggregated"
                    if "aggregate" in variant.get("params", {}) and not aggregated:
                        continue
                    rank_request(strategy.name, arrays, 5, seed=1, **variant)


def check_no_compiles() -> None:
    """No ranking after the warm-up compiles a loop (run in a fresh interpreter)."""
    warm_up()
    before = compiled_signatures()
    rank_everything()
    assert compiled_signatures() == before


def test_no_ranking_compiles_a_loop_after_the_warm_up():
    """In a fresh interpreter, where nothing else has compiled a loop yet,
    requests find every loop they call already compiled."""
    script = "from tests.ranking import test_warmup; test_warmup.check_no_compiles()"
    root = Path(__file__).resolve().parents[2]
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=root, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr[-3000:]


def test_warm_up_can_run_again_and_leaves_numpy_settings_alone():
    warm_up()
    warm_up()
    assert np.geterr()["divide"] == "warn"
