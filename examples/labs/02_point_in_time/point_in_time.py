"""Lab 2: point-in-time joins and label leakage. Fill in each function marked TODO."""

from __future__ import annotations

from typing import Any

import pandas as pd


def leaky_join(spine: pd.DataFrame, balances: pd.DataFrame) -> pd.DataFrame:
    """Given (and wrong): each spine row gets its account's LATEST balance, whatever the time."""
    latest = balances.sort_values("ts").groupby("account_id").tail(1)[["account_id", "balance"]]
    return spine.merge(latest, on="account_id", how="left")


def count_leaks(spine: pd.DataFrame, balances: pd.DataFrame) -> int:
    """How many spine rows ``leaky_join`` gives a balance from after the row's ``ts``."""
    raise NotImplementedError("TODO: exercise 1")


def pit_join(spine: pd.DataFrame, balances: pd.DataFrame) -> pd.DataFrame:
    """The point-in-time join in pandas: spine columns + ``balance``, one row per spine row, in order."""
    raise NotImplementedError("TODO: exercise 2")


def training_features(fs: Any, spine: pd.DataFrame) -> pd.DataFrame:
    """The same join by lakebox's planner (``fs.get_features``)."""
    raise NotImplementedError("TODO: exercise 3")


def recent_features(fs: Any, spine: pd.DataFrame) -> pd.DataFrame:
    """As ``training_features``, but balances older than 7 days before the spine row are unknown."""
    raise NotImplementedError("TODO: exercise 4")
