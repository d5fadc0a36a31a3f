"""Notebook 3, batch and online inference through model.get_feature_view()."""

import json
import sys
from pathlib import Path

import features  # noqa: F401 - registers the @udf this view uses (as the tutorial imports its functions)
import joblib

import lakebox

project = lakebox.connect(sys.argv[1])
mr = project.get_model_registry()
retrieved = mr.get_model("fraud_model", version=1)
model = joblib.load(Path(retrieved.download()) / "model.pkl")

fv = retrieved.get_feature_view()  # initialised for batch scoring with the model's training dataset
batch = fv.get_batch_data(start_time="2022-02-01", end_time="2022-03-01")
batch_predictions = model.predict(batch)

online_fv = retrieved.get_feature_view(online=True)
raw = online_fv.get_feature_vector({"tid": 150, "cc_num": 3}, transform=False)
vector = online_fv.transform(raw)
assert vector == online_fv.get_feature_vector({"tid": 150, "cc_num": 3})
vectors = online_fv.get_feature_vectors(entry=[{"tid": 150}, {"tid": 151}])
print(json.dumps({
    "batch_rows": len(batch), "batch_columns": list(batch.columns), "batch_predictions": len(batch_predictions),
    "online_prediction": int(model.predict([vector])[0]) in (0, 1), "vectors": len(vectors),
}))
