"""Benchmarks of the ranking service: ratios measured in one run, never pass/fail tests.

Each figure (core, samples, selections, transports, peers) is measured in
one process run and saved as JSON under bench/results/; ``report`` turns the
saved figures into results.md and log-log plots. Run them all with
``make bench`` or one at a time with ``python -m bench FIGURE``.
"""
