"""Multi-label active learning, simulated end to end through the alrank API.

The data are synthetic: scikit-learn's ``make_multilabel_classification``
(see task.py), 3,000 items with 40 count features and 10 labels, split once
into a pool and a held-out test set. A one-vs-rest logistic regression
gives every unlabeled item an independent probability per label; every
round those N x L probabilities go to POST /v1/rank as
``label_probabilities``, the items it returns are labeled with their true
label sets, and the model is retrained. The cost is the number of items
labeled (each with its whole label set); the measure is micro-F1 (and
macro-F1) on the test set. Run it with

    python -m examples.multilabel      # --help for the options

Modules: task (the synthetic data and the split), model (the classifier,
its probabilities, F1), rank (the strategies and the JSON request), loop
(one run), experiment (runs in parallel, the ceiling), results, report,
plot, progress, cli.
"""
