"""A small, deterministic football dataset and a box built from it (``lakebox demo``).

Like the Hopsworks football examples: ``teams`` (one row per team, no event time),
``players`` (a daily rating snapshot per player) and ``games`` (results with kick-off times).
Everything comes from ``numpy.random.default_rng(seed)`` and a fixed start date, so two calls
with the same arguments give equal frames; nothing is downloaded.

Ingestion runs in *days*. Day 1 loads every team, a rating snapshot of every player at the
start of day 1 and the games kicked off that day. Each later day ``d`` is one commit per group:
budget changes of a few teams (upserts), *corrections* of some ratings of day ``d-1`` (same
``(player_id, ts)``: the commit updates rows), a new snapshot of every player at the start of
day ``d`` (new event times: the commit appends rows), and the games of day ``d``. So the box
shows both time axes: the event time of the data and the commit time of each day's load.

On top of the groups, ``create_demo_view`` defines the feature view ``attendance``: each game
(the spine, with its kick-off time) joined with its home team's features, labelled with the
attendance, with ``standard_scaler`` on the home team's budget. ``late_game`` is a game of
day 1 that arrives late, to show that a training dataset does not change when data does;
``player_expectations`` and ``bad_players`` show data validation refusing a bad batch.

>>> from lakebox.demo import generate
>>> data = generate()
>>> len(data.teams[0]), len(data.players[0]), sum(len(g) for g in data.games)
(20, 500, 2000)
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from lakebox.errors import AlreadyExistsError, ValidationError

if TYPE_CHECKING:
    from lakebox.expect import Expectation
    from lakebox.feature_group import Commit, FeatureGroup
    from lakebox.feature_view import FeatureView
    from lakebox.project import Project

log = logging.getLogger(__name__)

SEED = 20240801
START = datetime(2024, 8, 1, tzinfo=UTC)
"""Event time of day 1's player snapshot; day ``d`` covers ``[START + d-1 days, START + d days)``."""

GROUP_NAMES = ("teams", "players", "games")

POSITIONS = ("goalkeeper", "defender", "midfielder", "forward")
_POSITION_P = (0.1, 0.35, 0.35, 0.2)
_CITIES = (
    "Lisbon", "Porto", "Madrid", "Seville", "Milan", "Turin", "Munich", "Dortmund", "Lyon", "Lille",
    "Glasgow", "Leeds", "Bruges", "Ghent", "Oslo", "Bergen", "Krakow", "Zagreb", "Vienna", "Basel",
)  # fmt: skip
_NICKNAMES = (
    "Lions", "Dragons", "Comets", "Rovers", "Wanderers", "Falcons", "Wolves", "Mariners", "Stags",
    "Harriers", "Pilots", "Foxes", "Ravens", "Otters", "Bears", "Saints", "Kestrels", "Titans",
    "Badgers", "Herons",
)  # fmt: skip

GROUP_DESCRIPTIONS = {
    "teams": "Football teams: one row per team (no event time; later days upsert budget changes).",
    "players": "Daily player rating snapshots; later days correct some ratings of the day before.",
    "games": "Game results, one row per game, at kick-off time.",
}

FEATURE_DESCRIPTIONS = {
    "teams": {
        "team_id": "Team identifier.",
        "team_name": "Display name of the team.",
        "city": "Home city.",
        "budget": "Season budget in millions of euros.",
        "stadium_capacity": "Seats in the home stadium.",
        "founded": "Year the club was founded.",
    },
    "players": {
        "player_id": "Player identifier.",
        "ts": "Time of the rating snapshot (UTC).",
        "team_id": "Team the player plays for at snapshot time.",
        "age": "Age in years.",
        "position": "goalkeeper, defender, midfielder or forward.",
        "rating": "Scouting rating, 40-99.",
    },
    "games": {
        "game_id": "Game identifier.",
        "ts": "Kick-off time (UTC).",
        "home_team_id": "Team playing at home.",
        "away_team_id": "Visiting team.",
        "attendance": "Spectators in the stadium.",
        "home_goals": "Goals scored by the home team.",
        "away_goals": "Goals scored by the visiting team.",
    },
}

VIEW_NAME = "attendance"
VIEW_DESCRIPTION = "Predict a game's attendance from its home team's budget and stadium capacity."
VIEW_LABEL = "attendance"
VIEW_TRANSFORMATIONS = {"home_budget": "standard_scaler"}

PRIMARY_KEYS = {"teams": ["team_id"], "players": ["player_id"], "games": ["game_id"]}
EVENT_TIMES: dict[str, str | None] = {"teams": None, "players": "ts", "games": "ts"}


@dataclass(frozen=True)
class DemoData:
    """The generated frames, per group and per day (``players[0]`` is day 1's batch).

    ``corrections[d]`` lists the ratings that day ``d + 2`` corrects: ``player_id``, ``ts`` (the
    event time of the corrected row), ``old_rating`` and ``new_rating``.
    """

    seed: int
    days: int
    teams: list[pd.DataFrame]
    players: list[pd.DataFrame]
    games: list[pd.DataFrame]
    corrections: list[pd.DataFrame]

    def batches(self, day: int) -> dict[str, pd.DataFrame]:
        """``{"teams": ..., "players": ..., "games": ...}``: what day ``day`` (1-based) inserts."""
        if not 1 <= day <= self.days:
            raise ValidationError(f"day must be between 1 and {self.days}, got {day}.")
        return {"teams": self.teams[day - 1], "players": self.players[day - 1], "games": self.games[day - 1]}

    def day_start(self, day: int) -> datetime:
        """Event time of day ``day``'s player snapshot (the start of that day, UTC)."""
        return START + timedelta(days=day - 1)


@dataclass(frozen=True)
class DemoStep:
    """One insert ``build_demo_box`` is about to make (passed to its ``on_step`` callback)."""

    day: int
    group: str
    rows: int


@dataclass
class DemoBox:
    """What ``build_demo_box`` did: the groups it created and each day's commit per group."""

    project: Project
    data: DemoData
    groups: dict[str, FeatureGroup] = field(default_factory=dict)
    commits: dict[str, list[Commit]] = field(default_factory=dict)
    """``commits["players"][0]`` is day 1's commit of ``players``."""

    def commit(self, group: str, day: int) -> Commit:
        """The commit that day ``day`` (1-based) made to ``group``."""
        if group not in self.commits:
            raise ValidationError(f"The demo has no group {group!r}; it has {list(self.commits)}.")
        if not 1 <= day <= len(self.commits[group]):
            raise ValidationError(f"The demo ran {len(self.commits[group])} day(s); there is no day {day}.")
        return self.commits[group][day - 1]

    @property
    def days(self) -> int:
        return self.data.days


def generate(
    days: int = 2,
    seed: int = SEED,
    n_teams: int = 20,
    n_players: int = 500,
    n_games: int = 2000,
) -> DemoData:
    """Generate the demo frames; the same arguments always give equal frames.

    Timestamps are ``datetime64[us, UTC]``; ids and counts are int64.
    """
    _check_sizes(days=days, n_teams=n_teams, n_players=n_players, n_games=n_games)
    rng = np.random.default_rng(seed)

    # -- teams ---------------------------------------------------------------------------
    team_ids = np.arange(1, n_teams + 1, dtype=np.int64)
    cities = [_CITIES[i % len(_CITIES)] for i in range(n_teams)]
    names = [
        f"{cities[i]} {_NICKNAMES[i % len(_NICKNAMES)]}" + (f" {i // len(_CITIES) + 1}" if i >= len(_CITIES) else "")
        for i in range(n_teams)
    ]
    teams = pd.DataFrame(
        {
            "team_id": team_ids,
            "team_name": names,
            "city": cities,
            "budget": np.round(rng.uniform(20.0, 400.0, n_teams), 1),
            "stadium_capacity": rng.integers(15_000, 80_000, n_teams, dtype=np.int64),
            "founded": rng.integers(1870, 1990, n_teams, dtype=np.int64),
        }
    )
    capacity = teams["stadium_capacity"].to_numpy()

    # -- players, day 1 snapshot ---------------------------------------------------------
    player_ids = np.arange(1, n_players + 1, dtype=np.int64)
    snapshot = pd.DataFrame(
        {
            "player_id": player_ids,
            "ts": _utc([START] * n_players),
            "team_id": (rng.permutation(n_players) % n_teams + 1).astype(np.int64),
            "age": rng.integers(17, 38, n_players, dtype=np.int64),
            "position": rng.choice(POSITIONS, n_players, p=_POSITION_P),
            "rating": np.round(np.clip(rng.normal(70.0, 8.0, n_players), 40.0, 99.0), 1),
        }
    )

    teams_days = [teams]
    players_days = [snapshot]
    per_day = [n_games // days + (1 if day <= n_games % days else 0) for day in range(1, days + 1)]
    games_days = [_games(rng, 1, 0, per_day[0], n_teams, capacity)]
    corrections: list[pd.DataFrame] = []
    next_game = per_day[0] + 1
    current_teams = teams
    for day in range(2, days + 1):
        # Budget changes of a few teams: an upsert of whole rows.
        changed = np.sort(rng.choice(n_teams, max(1, n_teams // 7), replace=False))
        update = current_teams.iloc[changed].copy()
        update["budget"] = np.round(update["budget"].to_numpy() * rng.uniform(0.85, 1.3, len(update)), 1)
        current_teams = current_teams.copy()
        current_teams.iloc[changed] = update
        teams_days.append(update.reset_index(drop=True))

        # Corrections of yesterday's ratings: same (player_id, ts), a different rating.
        fixed = np.sort(rng.choice(n_players, max(1, n_players // 20), replace=False))
        old = snapshot.iloc[fixed].copy()
        delta = np.round(rng.uniform(0.5, 4.0, len(old)), 1) * rng.choice([-1.0, 1.0], len(old))
        new_rating = np.round(np.clip(old["rating"].to_numpy() + delta, 40.0, 99.0), 1)
        new_rating = np.where(new_rating == old["rating"].to_numpy(), np.round(new_rating - 1.0, 1), new_rating)
        corrected = old.copy()
        corrected["rating"] = new_rating
        correction = old[["player_id", "ts"]].reset_index(drop=True)
        correction["old_rating"] = old["rating"].to_numpy()
        correction["new_rating"] = new_rating
        corrections.append(correction)
        base = snapshot.copy()
        base.iloc[fixed] = corrected

        # Today's snapshot: new event times; ratings drift, a few players transfer.
        today = base.copy()
        today["ts"] = _utc([START + timedelta(days=day - 1)] * n_players)
        today["rating"] = np.round(np.clip(base["rating"].to_numpy() + rng.normal(0.0, 1.5, n_players), 40.0, 99.0), 1)
        movers = rng.random(n_players) < 0.02
        today.loc[movers, "team_id"] = rng.integers(1, n_teams + 1, int(movers.sum()), dtype=np.int64)
        players_days.append(pd.concat([corrected, today], ignore_index=True))
        snapshot = today

        games_days.append(_games(rng, day, next_game - 1, per_day[day - 1], n_teams, capacity))
        next_game += per_day[day - 1]

    return DemoData(
        seed=seed,
        days=days,
        teams=teams_days,
        players=[p.reset_index(drop=True) for p in players_days],
        games=games_days,
        corrections=corrections,
    )


def build_demo_box(
    project: Project,
    days: int = 2,
    *,
    seed: int = SEED,
    n_teams: int = 20,
    n_players: int = 500,
    n_games: int = 2000,
    version: int = 1,
    online_enabled: bool = True,
    on_step: Callable[[DemoStep], None] | None = None,
) -> DemoBox:
    """Create the ``teams``, ``players`` and ``games`` groups in ``project`` and load ``days``
    days into them, one commit per group and day (day 1 first).

    Raises ``AlreadyExistsError`` (writing nothing) if any of the groups exists at ``version``;
    ``delete_demo_groups`` removes them first. ``on_step`` is called before each insert, so an
    interface can show progress (this function only logs).

    Example:
        >>> demo = build_demo_box(lakebox.connect("demo.lakebox"))     # doctest: +SKIP
        >>> demo.groups["players"].read(wallclock_time=demo.commit("players", 1).commit_id)  # doctest: +SKIP
    """
    data = generate(days=days, seed=seed, n_teams=n_teams, n_players=n_players, n_games=n_games)
    fs = project.get_feature_store()
    for name in GROUP_NAMES:  # check all first, so a half-built demo never happens here
        if any(g.version == version for g in fs.get_feature_groups(name)):
            raise AlreadyExistsError(
                f"The box at {project.path} already has the demo group {name} v{version}. Delete the demo "
                "groups first (lakebox.demo.delete_demo_groups, or `lakebox demo --fresh`) or use another box.",
                name=name,
                version=version,
            )
    demo = DemoBox(project=project, data=data)
    for name in GROUP_NAMES:
        demo.groups[name] = fs.create_feature_group(
            name,
            version=version,
            primary_key=PRIMARY_KEYS[name],
            event_time=EVENT_TIMES[name],
            online_enabled=online_enabled,
            description=GROUP_DESCRIPTIONS[name],
        )
        demo.commits[name] = []
    for day in range(1, days + 1):
        for name, frame in data.batches(day).items():
            if on_step is not None:
                on_step(DemoStep(day=day, group=name, rows=len(frame)))
            commit = demo.groups[name].insert(frame)
            demo.commits[name].append(commit)
            log.info("demo day %s: %s commit %s (%s rows)", day, name, commit.commit_id, len(frame))
        if day == 1:  # features exist once the first insert has defined the schema
            for name, described in FEATURE_DESCRIPTIONS.items():
                group = demo.groups[name]
                for feature, text in described.items():
                    group.update_feature_description(feature, text)
    return demo


def create_demo_view(demo: DemoBox, version: int = 1) -> FeatureView:
    """The feature view ``attendance``: every game joined with its home team's features.

    ``games`` is the spine (its kick-off time is the view's event time) and carries the label.
    ``teams`` has no event time (one row per team), so it joins on the key alone
    (``home_team_id`` = ``team_id``); a group with an event time would join point-in-time, as
    of each game's kick-off. The home team's budget is standard-scaled, fitted on the
    training split of each training dataset.
    """
    games, teams = demo.groups["games"], demo.groups["teams"]
    query = games.select(["home_team_id", "away_team_id", "attendance"]).join(
        teams.select(["budget", "stadium_capacity"]), left_on=["home_team_id"], right_on=["team_id"], prefix="home_"
    )
    return demo.project.get_feature_store().create_feature_view(
        VIEW_NAME,
        version=version,
        query=query,
        labels=[VIEW_LABEL],
        transformation_functions=dict(VIEW_TRANSFORMATIONS),
        description=VIEW_DESCRIPTION,
    )


def late_game(demo: DemoBox) -> pd.DataFrame:
    """One game kicked off late on day 1 that reaches the box only now (a late arrival):
    the next free ``game_id``, an event time on day 1, deterministic values."""
    games = pd.concat(demo.data.games, ignore_index=True)
    return pd.DataFrame(
        {
            "game_id": np.array([int(games["game_id"].max()) + 1], dtype=np.int64),
            "ts": _utc([START + timedelta(hours=23, minutes=59)]),
            "home_team_id": np.array([1], dtype=np.int64),
            "away_team_id": np.array([2], dtype=np.int64),
            "attendance": np.array([31_337], dtype=np.int64),
            "home_goals": np.array([2], dtype=np.int64),
            "away_goals": np.array([2], dtype=np.int64),
        }
    )


def player_expectations() -> list[Expectation]:
    """The rules the demo puts on ``players``: known teams, plausible ages and ratings, the
    four positions (what a scout's spreadsheet typically gets wrong)."""
    from lakebox import expect

    return [
        expect.not_null("team_id"),
        expect.between("age", 15, 45),
        expect.between("rating", 40.0, 99.0),
        expect.in_set("position", list(POSITIONS)),
    ]


def bad_players(demo: DemoBox) -> pd.DataFrame:
    """A snapshot of five players the day after the demo's last day that breaks
    ``player_expectations``: a rating of 140, an age of 3, a "striker" and a missing team
    (one row is fine). Deterministic."""
    ts = demo.data.day_start(demo.days) + timedelta(days=1)
    return pd.DataFrame(
        {
            "player_id": np.array([1, 2, 3, 4, 5], dtype=np.int64),
            "ts": _utc([ts] * 5),
            "team_id": pd.array([1, 2, 3, None, 5], dtype="Int64"),
            "age": np.array([24, 3, 29, 31, 22], dtype=np.int64),
            "position": ["forward", "defender", "striker", "midfielder", "goalkeeper"],
            "rating": np.array([71.5, 66.0, 74.0, 69.5, 140.0]),
        }
    )


def frames_checksum(frames: Sequence[pd.DataFrame | None]) -> str:
    """A short hex digest of the values, column names and order of ``frames`` (None skipped):
    equal rows give equal checksums."""
    digest = hashlib.sha256()
    for frame in frames:
        if frame is None:
            continue
        digest.update(repr(list(frame.columns)).encode())
        digest.update(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes())
    return digest.hexdigest()[:16]


def demo_groups(project: Project) -> list[FeatureGroup]:
    """Every version of the demo's groups that exists in ``project``."""
    fs = project.get_feature_store()
    return [g for name in GROUP_NAMES for g in fs.get_feature_groups(name)]


def demo_views(project: Project) -> list[FeatureView]:
    """Every version of the demo's feature view that exists in ``project``."""
    return list(project.get_feature_store().get_feature_views(VIEW_NAME))


def delete_demo_groups(project: Project) -> list[str]:
    """Delete every version of the demo's feature view (with its training datasets) and of
    ``teams``, ``players`` and ``games``; returns ``["feature view attendance v1", "teams v1", ...]``."""
    deleted = []
    for view in demo_views(project):  # first: a view over deleted groups could not be read
        view.delete()
        deleted.append(f"feature view {view.name} v{view.version}")
        log.info("deleted demo feature view %s v%s", view.name, view.version)
    for group in demo_groups(project):
        group.delete()
        deleted.append(f"{group.name} v{group.version}")
        log.info("deleted demo group %s v%s", group.name, group.version)
    return deleted


# -- helpers ------------------------------------------------------------------------------
def _utc(values: Sequence[Any] | pd.Series | np.ndarray) -> pd.Series:
    series = pd.Series(pd.to_datetime(values, utc=True))
    return series.astype("datetime64[us, UTC]")


def _games(
    rng: np.random.Generator, day: int, first_id: int, count: int, n_teams: int, capacity: np.ndarray
) -> pd.DataFrame:
    """``count`` games kicked off during day ``day``, ids ``first_id + 1 ...`` in kick-off order."""
    home = rng.integers(1, n_teams + 1, count, dtype=np.int64)
    away = (home - 1 + rng.integers(1, n_teams, count, dtype=np.int64)) % n_teams + 1  # never the home team
    minutes = np.sort(rng.integers(0, 24 * 60, count))
    day_start = START + timedelta(days=day - 1)
    kickoff = _utc([day_start + timedelta(minutes=int(m)) for m in minutes])
    return pd.DataFrame(
        {
            "game_id": np.arange(first_id + 1, first_id + count + 1, dtype=np.int64),
            "ts": kickoff,
            "home_team_id": home,
            "away_team_id": away.astype(np.int64),
            "attendance": np.floor(capacity[home - 1] * rng.uniform(0.45, 1.0, count)).astype(np.int64),
            "home_goals": rng.poisson(1.5, count).astype(np.int64),
            "away_goals": rng.poisson(1.1, count).astype(np.int64),
        }
    )


def _check_sizes(**sizes: int) -> None:
    for name, value in sizes.items():
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ValidationError(f"{name} must be a positive integer, got {value!r}.")
    if sizes["n_teams"] < 2:
        raise ValidationError("n_teams must be at least 2 (a game needs two teams).")
    if sizes["n_games"] < sizes["days"]:
        raise ValidationError("n_games must be at least days (every day has games).")
