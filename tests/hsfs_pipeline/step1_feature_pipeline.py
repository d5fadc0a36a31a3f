"""Notebook 1, feature pipeline: groups with an expectation suite and statistics config."""

import json
import sys

import numpy as np
import pandas as pd

import lakebox

project = lakebox.connect(sys.argv[1])  # was: project = hopsworks.login()
fs = project.get_feature_store()

rng = np.random.default_rng(0)
n = 200
transactions = pd.DataFrame({
    "tid": np.arange(n),
    "cc_num": rng.integers(0, 20, n),
    "datetime": pd.date_range("2022-01-01", periods=n, freq="6h"),  # naive, as in the tutorial: UTC
    "amount": rng.uniform(1, 1000, n).round(2),
    "category": rng.choice(["grocery", "travel", "electronics"], n),
    "fraud_label": (rng.uniform(0, 1, n) < 0.2).astype(int),
})
profiles = pd.DataFrame({"cc_num": np.arange(20), "age": rng.integers(18, 90, 20).astype(float)})

suite = {
    "expectation_suite_name": "transactions_suite",
    "expectations": [
        {"expectation_type": "expect_column_values_to_be_between",
         "kwargs": {"column": "amount", "min_value": 0, "max_value": 5000}},
        {"expectation_type": "expect_column_values_to_not_be_null", "kwargs": {"column": "category"}},
    ],
}
trans_fg = fs.get_or_create_feature_group(
    name="transactions_fraud", version=1, description="Transaction data", primary_key=["tid"],
    event_time="datetime", online_enabled=True, expectation_suite=suite,
    statistics_config={"enabled": True, "histograms": True, "correlations": True},
)
trans_fg.insert(transactions, write_options={"wait_for_job": True})
profile_fg = fs.get_or_create_feature_group(name="profile", version=1, primary_key=["cc_num"], online_enabled=True,
                                            statistics_config=False)
profile_fg.insert(profiles)
print(json.dumps({
    "rows": len(trans_fg.read()), "shown": len(trans_fg.show(5)),
    "policy": trans_fg.validation_ingestion_policy, "reports": len(trans_fg.get_validation_reports()),
    "statistics": sorted(trans_fg.get_statistics().to_dict())[:2],
    "profile_statistics": profile_fg.statistics_config["enabled"],
}))
