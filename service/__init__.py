"""alrank: an active-learning query-ranking service."""

__version__ = "0.1.0"
