"""Pool-based active learning simulated end to end through the alrank HTTP API.

Start from a small stratified seed set, train a logistic regression, send the
unlabeled pool's probabilities (and embeddings or committee samples where a
strategy needs them) to POST /v1/rank, label the returned items from the
ground truth, retrain, repeat; for every strategy the service offers, several
seeds, and datasets that ship with scikit-learn. Run it with

    python -m examples.simulation            # --help for the options
"""
