"""Assertions for tests and teaching labs: a group's rows, a point-in-time join, a training dataset.

Each raises ``AssertionError`` with a message a student can act on: which row, which column,
what was expected and what was found (and, for joins, whether the value came from the future).

>>> from lakebox.testing import assert_pit_correct   # doctest: +SKIP
>>> assert_pit_correct(spine, {players: ["rating"]}, result)   # doctest: +SKIP
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from lakebox.testing.oracle import Group, match

if TYPE_CHECKING:
    import pandas as pd

    from lakebox.feature_group import FeatureGroup
    from lakebox.feature_view import FeatureView

_SHOWN = 5  # differences listed in a message


def _frame(data: Any) -> pd.DataFrame:
    """A pandas frame from pandas, polars, pyarrow, or a list of dicts."""
    import pandas as pd

    if isinstance(data, pd.DataFrame):
        return data
    if hasattr(data, "to_pandas"):  # pyarrow Table, polars DataFrame
        return data.to_pandas()
    return pd.DataFrame(list(data))


def _missing(value: Any) -> bool:
    if value is None:
        return True
    try:
        import pandas as pd

        result = pd.isna(value)
    except (TypeError, ValueError):
        return False
    return bool(result) if isinstance(result, bool) or getattr(result, "shape", None) == () else False


def _same(a: Any, b: Any, rel: float = 1e-9) -> bool:
    """Equal as a test means it: nulls (None, NaN, NaT) equal each other, floats within ``rel``."""
    if _missing(a) or _missing(b):
        return _missing(a) and _missing(b)
    if isinstance(a, float) or isinstance(b, float):
        try:
            return math.isclose(float(a), float(b), rel_tol=rel, abs_tol=rel)
        except (TypeError, ValueError):
            return False
    try:
        return bool(a == b)
    except (TypeError, ValueError):
        return False


def _plain(value: Any) -> Any:
    """A value as Python writes it (numpy scalars and pandas timestamps made readable)."""
    if _missing(value):
        return None
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if hasattr(value, "item"):
        return value.item()
    return value


def _sort_columns(frame: pd.DataFrame, keys: Sequence[str]) -> pd.DataFrame:
    present = [k for k in keys if k in frame.columns]
    if not present:
        return frame.reset_index(drop=True)
    return frame.sort_values(present, kind="stable").reset_index(drop=True)


def assert_group_equals(
    fg: FeatureGroup,
    expected: Any,
    *,
    wallclock_time: Any = None,
    columns: Sequence[str] | None = None,
    check_order: bool = False,
    rel: float = 1e-9,
) -> None:
    """Assert that a feature group holds exactly ``expected``'s rows (now, or at ``wallclock_time``).

    ``expected`` is a pandas/polars/pyarrow frame or a list of dicts; only its columns (or
    ``columns``) are compared. Rows are compared after sorting both sides by the group's primary
    key and event time, unless ``check_order=True``. Nulls equal nulls; floats compare within
    ``rel``; dtypes are not compared (``int`` 3 equals ``float`` 3.0).

    Example:
        >>> assert_group_equals(players, [{"player_id": 1, "rating": 70.5}])   # doctest: +SKIP
    """
    want = _frame(expected)
    got = fg.read(wallclock_time=wallclock_time)
    cols = list(columns) if columns is not None else list(want.columns)
    absent = [c for c in cols if c not in got.columns]
    if absent:
        raise AssertionError(
            f"Feature group {fg.name} v{fg.version} has no column(s) {absent}; it has {list(got.columns)}."
        )
    order = [*fg.primary_key, *([fg.event_time] if fg.event_time else [])]
    if not check_order:
        want, got = _sort_columns(want, order), _sort_columns(got, order)
    where = f"{fg.name} v{fg.version}" + (f" at {wallclock_time}" if wallclock_time is not None else "")
    if len(got) != len(want):
        raise AssertionError(f"{where} has {len(got)} row(s), expected {len(want)}.")
    diffs = []
    for i in range(len(want)):
        for c in cols:
            if not _same(got.at[i, c], want.at[i, c], rel):
                key = {k: _plain(got.at[i, k]) for k in order if k in got.columns}
                diffs.append(f"  row {i} {key}: {c} = {_plain(got.at[i, c])!r}, expected {_plain(want.at[i, c])!r}")
    if diffs:
        shown = "\n".join(diffs[:_SHOWN]) + (f"\n  ... and {len(diffs) - _SHOWN} more" if len(diffs) > _SHOWN else "")
        raise AssertionError(f"{where} differs from the expected rows in {len(diffs)} cell(s):\n{shown}")


def _groups(features: Any) -> list[tuple[Any, list[str]]]:
    pairs = list(features.items()) if isinstance(features, Mapping) else list(features)
    out = []
    for pair in pairs:
        try:
            source, names = pair
        except (TypeError, ValueError):
            raise TypeError(
                f"features must be {{feature_group: [names]}} or [(feature_group, [names]), ...]; got an item {pair!r}."
            ) from None
        out.append((source, [names] if isinstance(names, str) else list(names)))
    return out


def _oracle_group(source: Any, name: str) -> Group:
    if isinstance(source, Group):
        return source
    frame = _frame(source.read())
    return Group(name=name, keys=list(source.primary_key), event_time=source.event_time, rows=frame.to_dict("records"))


def _spine_time(spine: pd.DataFrame, event_time: str | None) -> str | None:
    if event_time is not None:
        if event_time not in spine.columns:
            raise AssertionError(f"The spine has no column {event_time!r}; it has {list(spine.columns)}.")
        return event_time
    import pandas as pd

    times = [c for c in spine.columns if pd.api.types.is_datetime64_any_dtype(spine[c])]
    return times[0] if len(times) == 1 else None


def assert_pit_correct(
    spine: Any,
    features: Any,
    result: Any,
    *,
    event_time: str | None = None,
    max_age: timedelta | Mapping[str, timedelta] | None = None,
    check_order: bool = True,
    rel: float = 1e-9,
) -> None:
    """Assert that ``result`` is the point-in-time join of ``spine`` with ``features`` (DESIGN §4).

    ``features`` maps each feature group (or a ``lakebox.testing.oracle.Group``) to the feature
    names taken from it: ``{players: ["rating"], teams: ["budget"]}`` or a list of pairs. Each
    spine row must get, from every group, the row with the same key and the latest event time
    ``<=`` the spine's ``event_time`` (its only timestamp column by default), or nulls; never a
    value from the future. ``result`` has one row per spine row, in spine order unless
    ``check_order=False``, and a column per feature name. The expected rows come from the
    plain-Python oracle ``lakebox.testing.oracle``, not from lakebox's planner.

    Example:
        >>> result = fs.get_features(["players.rating"], entity_df=spine)   # doctest: +SKIP
        >>> assert_pit_correct(spine, {players: ["rating"]}, result)        # doctest: +SKIP
    """
    spine_df = _frame(spine).reset_index(drop=True)
    got = _frame(result).reset_index(drop=True)
    when = _spine_time(spine_df, event_time)
    pairs = _groups(features)
    groups = [(_oracle_group(src, f"g{i}"), names) for i, (src, names) in enumerate(pairs)]
    wanted = [n for _, names in groups for n in names]
    absent = [n for n in wanted if n not in got.columns]
    if absent:
        raise AssertionError(f"The result has no column(s) {absent}; it has {list(got.columns)}.")
    if len(got) != len(spine_df):
        raise AssertionError(
            f"The result has {len(got)} row(s) but the spine has {len(spine_df)}: a point-in-time join "
            "returns exactly one row per spine row (check for duplicated keys or an inner join)."
        )
    spine_cols = [c for c in spine_df.columns if c in got.columns]
    if not check_order and spine_cols:
        order = spine_df.sort_values(spine_cols, kind="stable").index
        spine_df = spine_df.loc[order].reset_index(drop=True)
        got = _sort_columns(got, spine_cols)
    diffs: list[str] = []
    rows = spine_df.to_dict("records")
    for i, row in enumerate(rows):
        for c in spine_cols:
            if not _same(got.at[i, c], row[c], rel):
                diffs.append(
                    f"  row {i}: spine column {c} = {_plain(got.at[i, c])!r}, the spine has {_plain(row[c])!r}"
                )
        for group, names in groups:
            hit = match(row, group, when, max_age)
            for n in names:
                want = hit[n] if hit is not None else None
                have = got.at[i, n]
                if not _same(have, want, rel):
                    diffs.append(
                        f"  row {i} {_spine_text(row, group, when)}: {n} = {_plain(have)!r}, "
                        f"expected {_plain(want)!r}{_leak_hint(row, group, when, n, have, rel)}"
                    )
    if diffs:
        shown = "\n".join(diffs[:_SHOWN]) + (f"\n  ... and {len(diffs) - _SHOWN} more" if len(diffs) > _SHOWN else "")
        raise AssertionError(f"The join is not point-in-time correct in {len(diffs)} cell(s):\n{shown}")


def _spine_text(row: Mapping[str, Any], group: Group, when: str | None) -> str:
    keys = {group.key_map.get(k, k): _plain(row.get(group.key_map.get(k, k))) for k in group.keys}
    if when is not None:
        keys[when] = _plain(row[when])
    return str(keys)


def _leak_hint(row: Mapping[str, Any], group: Group, when: str | None, name: str, have: Any, rel: float) -> str:
    """' (a value from the future: ...)' when ``have`` comes from a row after the spine time."""
    if when is None or group.event_time is None or _missing(have):
        return ""
    try:
        key = group.spine_key(row)
    except KeyError:
        return ""
    for r in group.rows:
        if group.key(r) == key and r[group.event_time] > row[when] and _same(r.get(name), have, rel):
            return f" (label leakage: that value has event time {_plain(r[group.event_time])}, after the spine's)"
    return ""


def assert_reproducible(fv: FeatureView, version: int, fs: Any = None) -> None:
    """Assert that training dataset ``version`` of ``fv`` reads back exactly as it was written.

    Checks that every split has the row count recorded when it was created, that two reads give
    identical frames, and that every feature group snapshot it pinned can still be read (so the
    dataset can be explained and recreated, whatever was inserted, deleted or rolled back since).
    The snapshot check needs the view's feature store: ``fs``, or the view's ``feature_store``.
    """
    info = fv.get_training_dataset(version)
    first = fv.get_training_data(version)
    second = fv.get_training_data(version)
    import pandas as pd

    for a, b in zip(first, second, strict=True):
        try:
            pd.testing.assert_frame_equal(_frame(a), _frame(b))
        except AssertionError as e:
            raise AssertionError(f"Training dataset v{version} of {fv.name} reads differently twice: {e}") from None
    counts = info.get("row_counts") or {}
    xs = first[: len(first) // 2] if len(first) > 1 else first
    names = [s for s in ("all", "train", "validation", "test") if s in counts]
    if len(names) == len(xs):
        for split, frame in zip(names, xs, strict=True):
            if len(frame) != counts[split]:
                raise AssertionError(
                    f"Training dataset v{version} of {fv.name}: split {split} has {len(frame)} row(s), "
                    f"{counts[split]} were written."
                )
    store = fs if fs is not None else getattr(fv, "feature_store", None)
    for snap in info.get("snapshots") or []:
        if store is None:
            break
        group = store.get_feature_group(snap["group"], snap["version"])
        commit = snap.get("commit_id")
        if commit is None:
            continue
        try:
            group.read(wallclock_time=commit, limit=1)
        except Exception as e:  # a pinned snapshot that can no longer be read breaks reproducibility
            raise AssertionError(
                f"Training dataset v{version} of {fv.name} pinned {snap['group']} v{snap['version']} at commit "
                f"{commit}, which can no longer be read: {e}"
            ) from e
