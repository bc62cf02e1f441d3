"""Runnable examples of the alrank API."""
