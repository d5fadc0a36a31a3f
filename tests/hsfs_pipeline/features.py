"""The tutorial's shared functions module (hsfs notebooks keep their @udf functions in one, and
import it in the training and the inference notebook)."""

from __future__ import annotations

import lakebox.compat

lakebox.compat.install_hopsworks_alias()  # the Hopsworks imports below then run unchanged

import pandas as pd  # noqa: E402
from hopsworks import udf  # type: ignore[import-not-found]  # noqa: E402
from hsfs.transformation_statistics import TransformationStatistics  # type: ignore[import-not-found]  # noqa: E402

amount_statistics = TransformationStatistics("amount")


@udf(float)
def amount_zscore(amount: pd.Series, statistics=amount_statistics) -> pd.Series:  # noqa: ANN001
    return (amount - statistics.amount.mean) / statistics.amount.std_dev
