"""Lab 2: point-in-time joins and label leakage — the teacher's solution."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pandas as pd


def leaky_join(spine: pd.DataFrame, balances: pd.DataFrame) -> pd.DataFrame:
    """Given (and wrong): each spine row gets its account's LATEST balance, whatever the time."""
    latest = balances.sort_values("ts").groupby("account_id").tail(1)[["account_id", "balance"]]
    return spine.merge(latest, on="account_id", how="left")


def count_leaks(spine: pd.DataFrame, balances: pd.DataFrame) -> int:
    """How many spine rows ``leaky_join`` gives a balance from after the row's ``ts``."""
    latest = balances.sort_values("ts").groupby("account_id").tail(1)[["account_id", "ts"]]
    joined = spine.merge(latest.rename(columns={"ts": "balance_ts"}), on="account_id", how="left")
    return int((joined["balance_ts"] > joined["ts"]).sum())


def pit_join(spine: pd.DataFrame, balances: pd.DataFrame) -> pd.DataFrame:
    """The point-in-time join in pandas: spine columns + ``balance``, one row per spine row, in order."""
    left = spine.reset_index(drop=True).assign(_row=lambda d: range(len(d)))
    right = balances[["account_id", "ts", "balance"]].copy()
    right["ts"] = right["ts"].astype(left["ts"].dtype)
    joined = pd.merge_asof(
        left.sort_values("ts"), right.sort_values("ts"), on="ts", by="account_id", direction="backward"
    )
    return joined.sort_values("_row").drop(columns="_row").reset_index(drop=True)


def training_features(fs: Any, spine: pd.DataFrame) -> pd.DataFrame:
    """The same join by lakebox's planner (``fs.get_features``)."""
    return fs.get_features(["balances.balance"], entity_df=spine, event_time="ts")


def recent_features(fs: Any, spine: pd.DataFrame) -> pd.DataFrame:
    """As ``training_features``, but balances older than 7 days before the spine row are unknown."""
    return fs.get_features(["balances.balance"], entity_df=spine, event_time="ts", max_age=timedelta(days=7))
