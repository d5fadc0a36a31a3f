"""Descriptive statistics of feature data, mergeable summaries of it, and drift between batches.

- :func:`compute_statistics` (``compute``): exact statistics of a table, O(rows).
- :func:`summarize` / :class:`Summary` (``summary``): a bounded, JSON-serialisable summary of a
  batch that merges with others and subtracts removed rows, so a group's statistics after a commit
  cost O(batch), not O(group); :func:`next_summary` (``running``) is the write path's one call.
- :func:`compare` / :func:`compare_tables` (``compare``): PSI and Kolmogorov-Smirnov drift.
- :class:`Statistics` (``statistics``): the value all of them return (``.to_dict()`` shape of
  DESIGN §3), with ``exact`` saying whether every field is exact (or within its sketch's error).
"""

from lakebox.stats.compare import compare, compare_tables
from lakebox.stats.compute import compute_statistics
from lakebox.stats.running import next_summary
from lakebox.stats.statistics import (
    APPROXIMATE_KEY,
    CORRELATIONS_KEY,
    DEFAULT_QUANTILES,
    EXACT_KEY,
    FEATURE_KEYS,
    PSI_EPSILON,
    RESERVED_PREFIX,
    ROW_COUNT_KEY,
    TOP_VALUES,
    Statistics,
)
from lakebox.stats.summary import Summary, summarize

__all__ = [
    "APPROXIMATE_KEY",
    "CORRELATIONS_KEY",
    "DEFAULT_QUANTILES",
    "EXACT_KEY",
    "FEATURE_KEYS",
    "PSI_EPSILON",
    "RESERVED_PREFIX",
    "ROW_COUNT_KEY",
    "TOP_VALUES",
    "Statistics",
    "Summary",
    "compare",
    "compare_tables",
    "compute_statistics",
    "next_summary",
    "summarize",
]
