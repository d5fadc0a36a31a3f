"""lakebox in one page: feature groups, time travel, a point-in-time join, a training dataset,
and an online feature vector. Run: .venv/bin/python examples/quickstart.py"""

from __future__ import annotations

import tempfile
from pathlib import Path

import pandas as pd

import lakebox


def utc(text: str) -> pd.Timestamp:
    return pd.Timestamp(text, tz="UTC")


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        project = lakebox.connect(Path(tmp) / "quickstart.lakebox")
        fs = project.get_feature_store()

        players = fs.create_feature_group(
            "players", version=1, primary_key=["player_id"], event_time="ts", online_enabled=True,
            description="Player ratings over time",
        )
        first = players.insert(pd.DataFrame({
            "player_id": [1, 2, 3], "ts": [utc("2026-01-01")] * 3, "rating": [70.0, 80.0, 90.0]}))
        players.insert(pd.DataFrame({
            "player_id": [1, 2], "ts": [utc("2026-02-01")] * 2, "rating": [75.0, 78.0]}))

        print("now:\n", players.read())
        print("as of the first commit:\n", players.read(wallclock_time=first.commit_id))

        # labels: did the player score in a game? (the spine of the training data)
        goals = fs.create_feature_group("goals", version=1, primary_key=["player_id"], event_time="ts")
        goals.insert(pd.DataFrame({
            "player_id": [1, 1, 2, 3], "ts": [utc("2026-01-15"), utc("2026-02-15"), utc("2026-02-15"), utc("2026-01-20")],
            "scored": [0, 1, 1, 0]}))

        # point-in-time join: each label row sees the rating valid at its own time
        query = goals.select_all().join(players.select(["rating"]))
        print("training rows:\n", query.read())

        view = fs.create_feature_view("scoring", 1, query=query, labels=["scored"],
                                      transformation_functions={"rating": "standard_scaler"})
        version = view.create_training_dataset(test_size=0.25, seed=7)
        x_train, x_test, y_train, y_test = view.get_training_data(version)
        print(f"training dataset v{version}: {len(x_train)} train rows, {len(x_test)} test rows")

        # the same scaler, fitted on the train split, applied online
        print("online vector for player 1:", view.get_feature_vector({"player_id": 1}))
        print("search 'rating':", [(h.kind, h.name) for h in project.search("rating")])
        project.close()


if __name__ == "__main__":
    main()
