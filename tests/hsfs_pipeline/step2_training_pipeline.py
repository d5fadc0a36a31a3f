"""Notebook 2, training pipeline: a view with @udf and built-in transformations, an in-memory
split, a model registered with mr.python.create_model(feature_view=...)."""

import json
import sys
import tempfile
from pathlib import Path

import features  # the tutorial's functions module (@udf amount_zscore)
import joblib
from hopsworks.hsfs.builtin_transformations import label_encoder, min_max_scaler  # type: ignore[import-not-found]
from sklearn.linear_model import LogisticRegression

import lakebox

project = lakebox.connect(sys.argv[1])
fs = project.get_feature_store()
trans_fg = fs.get_feature_group("transactions_fraud", version=1)
profile_fg = fs.get_feature_group("profile", version=1)

query = trans_fg.select(["amount", "category", "fraud_label", "cc_num"]).join(profile_fg.select(["age"]), on=["cc_num"])
fv = fs.get_or_create_feature_view(
    name="transactions_view", version=1, query=query, labels=["fraud_label"],
    transformation_functions=[label_encoder("category"), min_max_scaler("age"), features.amount_zscore("amount")],
)
X_train, X_test, y_train, y_test = fv.train_test_split(
    train_start="2022-01-01", train_end="2022/02/01", test_start="2022-02-01", test_end="2022-03-01",
    description="transactions fraud training dataset",
)
model = LogisticRegression().fit(X_train, y_train.values.ravel())
accuracy = float(model.score(X_test, y_test.values.ravel()))
folder = Path(tempfile.mkdtemp())
joblib.dump(model, folder / "model.pkl")
mr = project.get_model_registry()
fraud_model = mr.python.create_model(name="fraud_model", metrics={"accuracy": accuracy}, feature_view=fv,
                                     description="fraud", input_example=X_train.sample(1, random_state=0))
fraud_model.save(str(folder))
print(json.dumps({"columns": list(X_train.columns), "train": len(X_train), "test": len(X_test),
                  "training_dataset": fraud_model.training_dataset}))
