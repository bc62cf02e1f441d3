"""Spend the same money three ways and compare what it buys.

Data: scikit-learn's 8x8 digits (1,797 images, shipped with scikit-learn).
A label's cost is the digit's inked area, the number of its 64 pixels that
are not blank (16 to 42, median 33): the stand-in for document length, where a
longer item takes an annotator longer. Each run splits the digits into a
pool (2/3) and a test set (1/3), stratified, labels 2 seeds per class, and
then buys labels in rounds of ``ROUND_SPEND`` cost units until
``TOTAL_SPEND`` is spent, refitting a logistic regression each round:

- ``margin per cost``: the service's ``budget_cost`` with the pool's
  ``costs``: greedy by margin score per unit cost;
- ``margin``: the service's margin ranking, walked in score order, each
  item bought while it fits the round's money (the same walk, by score
  alone);
- ``random``: a random order, walked the same way.

Every round of every strategy spends at most ``ROUND_SPEND``, so the curves
compare test accuracy at equal spend.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from examples.simulation import learner
from examples.simulation.server import service
from service.client import AlrankClient

RESULTS_DIR = Path(__file__).resolve().parents[1] / "results"
SEEDS = 5
SEED_PER_CLASS = 2
ROUND_SPEND = 300.0
TOTAL_SPEND = 4_500.0
STRATEGIES = ("margin per cost", "margin", "random")
# Share of the full-pool model's accuracy that the money-to-target table asks for.
TARGET_SHARE = 0.95


@dataclass(frozen=True)
class Digits:
    features: np.ndarray
    labels: np.ndarray
    costs: np.ndarray


def load() -> Digits:
    """The digits, standardized later per split; cost = inked pixels."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    costs = np.count_nonzero(digits.data, axis=1).astype(np.float64)
    return Digits(digits.data.astype(np.float64), digits.target, costs)


def walk(order: np.ndarray, costs: np.ndarray, money: float) -> tuple[list[int], float]:
    """Buy the items of ``order`` that still fit in ``money``, in that order."""
    bought, spent = [], 0.0
    for item in order.tolist():
        if spent + costs[item] <= money:
            spent += costs[item]
            bought.append(item)
    return bought, spent


def run(client: AlrankClient, data: Digits, strategy: str, seed: int) -> dict[str, list[float]]:
    """One run: spend, accuracy and labels after each round."""
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import StandardScaler

    rng = np.random.default_rng(seed)
    pool_idx, test_idx = train_test_split(
        np.arange(len(data.labels)), test_size=1 / 3, stratify=data.labels, random_state=seed
    )
    scaler = StandardScaler().fit(data.features[pool_idx])
    x_pool, x_test = (
        scaler.transform(data.features[pool_idx]),
        scaler.transform(data.features[test_idx]),
    )
    y_pool, y_test = data.labels[pool_idx], data.labels[test_idx]
    costs = data.costs[pool_idx]
    classes = np.unique(data.labels)
    labeled = np.zeros(len(pool_idx), dtype=bool)
    for label in classes:
        labeled[rng.choice(np.flatnonzero(y_pool == label), SEED_PER_CLASS, replace=False)] = True
    spent, history = 0.0, {"spend": [], "accuracy": [], "labels": []}
    while True:
        model = learner.fit(x_pool[labeled], y_pool[labeled])
        history["spend"].append(spent)
        history["accuracy"].append(float(model.score(x_test, y_test)))
        history["labels"].append(int(labeled.sum()))
        money = min(ROUND_SPEND, TOTAL_SPEND - spent)
        unlabeled = np.flatnonzero(~labeled)
        if not len(unlabeled) or money < costs[unlabeled].min():
            return history  # nothing left that the money buys
        probabilities = learner.probabilities(model, x_pool[unlabeled], classes)
        if strategy == "margin per cost":
            ranked = client.rank(
                "margin",
                probabilities=probabilities,
                arrays={"costs": costs[unlabeled]},
                budget_cost=money,
            )
            bought = ranked.indices.tolist()
            spent_now = float(ranked.body["cost_used"])
        elif strategy == "margin":
            ranked = client.rank("margin", len(unlabeled), probabilities=probabilities)
            bought, spent_now = walk(ranked.indices, costs[unlabeled], money)
        else:
            bought, spent_now = walk(rng.permutation(len(unlabeled)), costs[unlabeled], money)
        if not bought:
            return history
        labeled[unlabeled[bought]] = True
        spent += spent_now


def full_pool_accuracy(data: Digits, seed: int) -> float:
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import StandardScaler

    pool_idx, test_idx = train_test_split(
        np.arange(len(data.labels)), test_size=1 / 3, stratify=data.labels, random_state=seed
    )
    scaler = StandardScaler().fit(data.features[pool_idx])
    model = learner.fit(scaler.transform(data.features[pool_idx]), data.labels[pool_idx])
    return float(model.score(scaler.transform(data.features[test_idx]), data.labels[test_idx]))


def money_to(history: dict[str, list[float]], target: float) -> float | None:
    """The spend after which the run first reaches ``target`` accuracy, or None."""
    for spend, accuracy in zip(history["spend"], history["accuracy"], strict=True):
        if accuracy >= target:
            return spend
    return None


def report(results: dict[str, object]) -> str:
    runs: dict[str, list[dict[str, list[float]]]] = results["runs"]  # type: ignore[assignment]
    target = float(results["target"])  # type: ignore[arg-type]
    lines = [
        "# Cost-aware margin against plain margin, at equal spend",
        "",
        "Written by `python -m examples.costs` (examples/costs/experiment.py): scikit-learn's "
        "digits, a label's cost its inked pixels (16 to 42, median 33), "
        f"{SEEDS} seeds, rounds of {ROUND_SPEND:g} cost units up to {TOTAL_SPEND:g}, "
        f"{SEED_PER_CLASS} seeds per class first.",
        "",
        f"Target: {TARGET_SHARE:.0%} of the full-pool model's test accuracy "
        f"(mean {results['full_accuracy']:.3f}), {target:.3f}.",
        "",
        "| strategy | spend to target (mean; runs that reached it) | accuracy at "
        f"{TOTAL_SPEND / 3:g} | at {2 * TOTAL_SPEND / 3:g} | at {TOTAL_SPEND:g} | labels bought |",
        "| --- | --- | ---: | ---: | ---: | ---: |",
    ]
    for strategy in STRATEGIES:
        histories = runs[strategy]
        reached = [m for m in (money_to(h, target) for h in histories) if m is not None]
        spend_text = (
            f"{np.mean(reached):,.0f} ({len(reached)}/{len(histories)})"
            if reached
            else f"never ({len(histories)} runs)"
        )
        at = [
            np.mean([_accuracy_at(h, money) for h in histories])
            for money in (TOTAL_SPEND / 3, 2 * TOTAL_SPEND / 3, TOTAL_SPEND)
        ]
        labels = np.mean([h["labels"][-1] for h in histories])
        lines.append(
            f"| {strategy} | {spend_text} | {at[0]:.3f} | {at[1]:.3f} | {at[2]:.3f} | "
            f"{labels:.0f} |"
        )
    return "\n".join(lines) + "\n"


def _accuracy_at(history: dict[str, list[float]], money: float) -> float:
    """Accuracy of the last round whose spend is at most ``money``."""
    best = history["accuracy"][0]
    for spend, accuracy in zip(history["spend"], history["accuracy"], strict=True):
        if spend <= money + 1e-9:
            best = accuracy
    return best


def plot(results: dict[str, object], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    runs: dict[str, list[dict[str, list[float]]]] = results["runs"]  # type: ignore[assignment]
    grid = np.linspace(0, TOTAL_SPEND, 61)
    figure, axes = plt.subplots(figsize=(7, 4.5))
    for strategy in STRATEGIES:
        curves = np.array([[_accuracy_at(h, money) for money in grid] for h in runs[strategy]])
        mean, spread = curves.mean(axis=0), curves.std(axis=0)
        axes.plot(grid, mean, label=strategy, linestyle="--" if strategy == "random" else "-")
        axes.fill_between(grid, mean - spread, mean + spread, alpha=0.15)
    axes.axhline(float(results["target"]), color="grey", linewidth=0.8)  # type: ignore[arg-type]
    axes.set_xlabel("money spent (inked pixels labeled)")
    axes.set_ylabel("test accuracy")
    axes.set_title(f"digits, label cost = inked pixels, {SEEDS} seeds (mean ± 1 sd)")
    axes.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m examples.costs", description=__doc__)
    parser.add_argument("--url", help="an alrank service (default: a local one, else started)")
    parser.add_argument("--seeds", type=int, default=SEEDS)
    args = parser.parse_args(argv)
    data = load()
    runs: dict[str, list[dict[str, list[float]]]] = {strategy: [] for strategy in STRATEGIES}
    with service(args.url) as url, AlrankClient(url, timeout=120) as client:
        for seed in range(args.seeds):
            for strategy in STRATEGIES:
                runs[strategy].append(run(client, data, strategy, seed))
            print(f"seed {seed} done", flush=True)
    full = float(np.mean([full_pool_accuracy(data, seed) for seed in range(args.seeds)]))
    results = {"runs": runs, "full_accuracy": full, "target": TARGET_SHARE * full}
    RESULTS_DIR.mkdir(exist_ok=True)
    (RESULTS_DIR / "costs_results.json").write_text(json.dumps(results, indent=1) + "\n")
    (RESULTS_DIR / "costs_spend_to_target.md").write_text(report(results))
    plot(results, RESULTS_DIR / "costs_accuracy_vs_spend.png")
    print(report(results))
    return 0
