"""External feature groups (issue 14): feature groups whose rows stay in their source.

``fs.create_external_feature_group(name, source=lakebox.sources.sqlite("shop.db",
table="orders"), primary_key=["order_id"], event_time="ts")`` records the group in the
catalog (its schema, keys and the source, never a password) and reads the source whenever
the group is read: ``read()``, ``select``/``join``, ``fs.get_features`` point-in-time joins,
feature views and training datasets (which pin what they read by materialising it). Every
read checks the source's keys (one row per primary key and event time).

An external group has no history: ``as_of``/``wallclock_time`` raise naming the group, except
that a query pinned at the present moment (what a training dataset with time splits does to
read every split at one instant) reads the source once for all of them. ``to_internal()``
copies the rows into an Iceberg feature group that does keep history.
"""

from __future__ import annotations

import secrets as _secrets
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, NoReturn

import pyarrow as pa
import pyarrow.compute as pc

from lakebox.catalog.groups import FeatureRow
from lakebox.errors import AlreadyExistsError, QueryError, ValidationError
from lakebox.feature_group import FeatureGroup
from lakebox.frames import check_dataframe_type, from_arrow
from lakebox.names import check_name, check_version, lower_name
from lakebox.sources import Source, source_from_dict
from lakebox.sources.conform import conform
from lakebox.sources.readers import read as read_source
from lakebox.timeutil import to_millis
from lakebox.types import type_name

if TYPE_CHECKING:
    from lakebox.catalog.assets import AssetStore
    from lakebox.catalog.groups import GroupStore
    from lakebox.engines import Engines
    from lakebox.queries import Query

EXTERNAL = "external"  # the settings key that marks a group external (and holds its source)
PRESENT_GRACE_MS = 60_000  # a pin this close to now reads the source now (see the module doc)


class ExternalFeatureGroup(FeatureGroup):
    """A feature group read from an external source; see ``fs.create_external_feature_group``."""

    _pinned: dict[int, Any]

    @property
    def is_external(self) -> bool:
        return True

    @property
    def source(self) -> Source:
        """Where the rows live (``lakebox.sources.Source``)."""
        return source_from_dict(self._row.settings[EXTERNAL])

    def __repr__(self) -> str:
        return (
            f"ExternalFeatureGroup({self.name!r}, version={self.version}, source={self.source.describe()!r}, "
            f"primary_key={self.primary_key}, event_time={self.event_time!r})"
        )

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "version": self.version,
            "table": self.table_name,
            "description": self.description,
            "primary_key": self.primary_key,
            "event_time": self.event_time,
            "online_enabled": False,
            "commit_count": 0,  # rows live in the source: no commits, no Iceberg table
            "last_commit": None,
            "iceberg": None,
            "external": True,
            "source": self.source.to_dict(),
            "features": [f.to_dict() for f in self.features],
        }

    # -- reading ------------------------------------------------------------------------
    def read(
        self,
        wallclock_time: Any = None,
        dataframe_type: str = "pandas",
        online: bool = False,
        limit: int | None = None,
        offset: int = 0,
    ) -> Any:
        """The source's rows now, checked and ordered by key and event time."""
        check_dataframe_type(dataframe_type)
        if wallclock_time is not None:
            raise self._no_history("read(wallclock_time=...)")
        if online:
            raise ValidationError(
                f"External feature group {self.label} is not served online; copy it into lakebox with "
                "to_internal(online_enabled=True) to serve it."
            )
        if limit is not None and (not isinstance(limit, int) or isinstance(limit, bool) or limit < 0):
            raise ValidationError(f"limit must be a non-negative integer, got {limit!r}.")
        if not isinstance(offset, int) or isinstance(offset, bool) or offset < 0:
            raise ValidationError(f"offset must be a non-negative integer, got {offset!r}.")
        rows = self._read_source()
        order = [*self.primary_key, *([self.event_time] if self.event_time else [])]
        rows = rows.take(pc.sort_indices(rows, sort_keys=[(k, "ascending") for k in order])).slice(offset)
        return from_arrow(rows.slice(0, limit) if limit is not None else rows, dataframe_type)

    def as_of(self, wallclock_time: Any = None, exclude_until: Any = None) -> Query:
        if wallclock_time is None and exclude_until is None:
            return self.select_all()
        raise self._no_history("as_of")

    @property
    def label(self) -> str:
        return f"{self.name} v{self.version}"

    def _read_source(self) -> pa.Table:
        """Read the source and check it against the group (schema, keys, expectations)."""
        source = self.source
        raw = read_source(source, self._secrets_dir())
        rows = conform(
            raw, source, schema=self._output_schema(), primary_key=self.primary_key,
            event_time=self.event_time, label=self.label,
        )
        self._check_expectations(rows)
        return rows

    def _check_expectations(self, rows: pa.Table) -> None:
        rules = self.expectations
        if not rules or rows.num_rows == 0:
            return
        from lakebox.expect import validate

        report = validate(rows, rules)
        if not report.success:
            self._engines.groups.save_report(self.id, None, False, self.validation, report.to_dict())
            if self.validation == "strict":
                raise ValidationError(
                    f"The source of external feature group {self.label} breaks the group's expectations; "
                    f"nothing was read.\n{report}",
                    report=report,
                    failed=[r.rule for r in report.failures],
                )

    def _secrets_dir(self) -> Any:
        return self._engines.box.root / "secrets"

    def _no_history(self, what: str) -> QueryError:
        return QueryError(
            f"External feature group {self.label} has no history (its rows live in {self.source.describe()}), "
            f"so {what} cannot read it at another time. Read it without a time, or copy it into lakebox with "
            "to_internal() and time-travel that group.",
            group=self.name,
        )

    # -- the planner: a pin is the rows read from the source ----------------------------
    def _planner_pin(self, when: Any = None, files: bool = True) -> Any:
        from lakebox.query.refs import Pin

        key = None
        if when is not None:
            if isinstance(when, int) or hasattr(when, "commit_id"):
                raise self._no_history(f"a commit id ({when!r})")
            moment = to_millis(when, "wallclock_time")
            if moment < time.time() * 1000 - PRESENT_GRACE_MS:
                raise self._no_history(f"as_of({when!r})")
            key = moment
        if not files:
            return Pin(None)
        pinned = self.__dict__.setdefault("_pinned", {})
        if key is not None and key in pinned:
            return pinned[key]  # the splits of one training dataset read the source once
        pin = Pin(snapshot_id=None, commit_id=None, exact=self._read_source())
        if key is not None:
            pinned.clear()  # keep only the latest moment's rows (one training dataset at a time)
            pinned[key] = pin
        return pin

    # -- statistics and validation over the source --------------------------------------
    def commits(self) -> list[Any]:
        return []

    def get_statistics(self, commit_id: int | None = None) -> Any:
        """Statistics of the source's rows now (computed at every call: the source may change)."""
        if commit_id is not None:
            raise self._no_history("get_statistics(commit_id=...)")
        from lakebox.stats import compute_statistics

        return compute_statistics(self._read_source())

    def compute_statistics(self, commit_id: int | None = None) -> Any:
        return self.get_statistics(commit_id)

    def validate(self, df: Any = None) -> Any:
        """Check ``df`` — by default the source's current rows — against the expectations."""
        from lakebox.expect import validate

        if df is not None:
            return super().validate(df)
        source = self.source
        rows = conform(
            read_source(source, self._secrets_dir()), source, schema=self._output_schema(),
            primary_key=self.primary_key, event_time=self.event_time, label=self.label,
        )
        return validate(rows, self.expectations)

    # -- copying into lakebox -----------------------------------------------------------
    def to_internal(
        self,
        name: str | None = None,
        version: int | None = None,
        online_enabled: bool = False,
        description: str | None = None,
        statistics: bool = True,
    ) -> FeatureGroup:
        """Copy the source's rows now into a new Iceberg feature group (history, online
        serving, time travel); by default the next version of this group's name."""
        rows = self._read_source()
        group = self._store.create_feature_group(
            name=name or self.name,
            version=version,
            primary_key=self.primary_key,
            event_time=self.event_time,
            online_enabled=online_enabled,
            description=self.description if description is None else description,
            features=[(f.name, f.type, f.description) for f in self.features],
            statistics=statistics,
        )
        try:
            if rows.num_rows:
                group.insert(rows)
        except BaseException:
            group.delete()  # nothing is kept when the copy fails
            raise
        self._engines.assets.link(self._asset().id, group._asset().id, "copied_to")
        return group

    # -- what an external group cannot do ------------------------------------------------
    def delete(self) -> None:
        """Forget the group (the source is untouched). Refused while feature views read it."""
        readers = [
            f"{a.name} v{a.version}"
            for a in self._engines.assets.downstream_of(self._asset().id, "reads")
            if a.kind == "feature_view"
        ]
        if readers:
            raise ValidationError(f"External feature group {self.label} is read by feature view(s) {readers}; delete them first.")
        self._engines.groups.delete(self.id)

    @property
    def _table(self) -> Any:  # no Iceberg table: training datasets pin nothing here
        return None

    def _read_only(self, what: str) -> ValidationError:
        return ValidationError(
            f"External feature group {self.label} is read-only ({what}): its rows live in {self.source.describe()}. "
            "Change the source, or copy it with to_internal() and write to that group."
        )

    def insert(self, df: Any = None, *args: Any, **kwargs: Any) -> NoReturn:
        raise self._read_only("insert")

    def delete_records(self, keys: Any) -> Any:
        raise self._read_only("delete_records")

    def rollback(self, commit: Any) -> Any:
        raise self._read_only("rollback")

    def compact(self) -> Any:
        raise self._read_only("compact")

    def enable_online(self) -> Any:
        raise self._read_only("enable_online")

    def read_changes(self, start_commit: Any = None, end_commit: Any = None, dataframe_type: str = "pandas") -> Any:
        raise self._no_history("read_changes")

    def set_retention(self, max_age: Any = None, keep_last: int | None = None) -> Any:
        raise self._no_history("set_retention")

    def expire_commits(self, older_than: Any = None, keep_last: int = 1) -> list[int]:
        return []

    def maintain(self, orphan_grace_s: float = 3600.0, compact: bool = True) -> dict[str, Any]:
        return {"expired_commits": [], "compacted": None, "deleted_files": 0}

    def pins(self) -> dict[str, int]:
        return {}

    def online_lag(self) -> int:
        return 0

    def catch_up_online(self) -> bool:
        return False


class ExternalGroupsMixin:
    """``fs.create_external_feature_group`` (a mixin of ``FeatureStore``)."""

    if TYPE_CHECKING:  # provided by FeatureStore
        _groups: GroupStore
        _assets: AssetStore

        @property
        def engines(self) -> Engines: ...

    def create_external_feature_group(
        self,
        name: str,
        version: int | None = None,
        source: Source | None = None,
        primary_key: Sequence[str] | None = None,
        event_time: str | None = None,
        description: str = "",
        statistics: bool = True,
        expectations: Sequence[Any] | None = None,
        validation: str = "strict",
        **hsfs: Any,
    ) -> ExternalFeatureGroup:
        """Register a feature group whose rows stay in ``source`` (``lakebox.sources.files``,
        ``duckdb``, ``sqlite`` or ``postgres``) and are read at every use.

        The source is read once now to learn the schema and check the keys (one row per
        ``primary_key`` and ``event_time``); ``statistics`` computes its statistics now too.
        ``expectations`` are checked at every read (``validation="strict"`` refuses a read
        whose rows break them; ``"warn"`` keeps a report). Nothing is recorded when a check fails.
        """
        from lakebox.expect import Expectation

        if source is None and hsfs:
            source = _hsfs_source(hsfs)
        elif hsfs:
            raise ValidationError(f"create_external_feature_group got unknown argument(s) {sorted(hsfs)}.")
        if not isinstance(source, Source):
            raise ValidationError(
                "create_external_feature_group needs source=lakebox.sources.files(...), .duckdb(...), .sqlite(...) "
                f"or .postgres(...); got {source!r}."
            )
        if validation not in ("strict", "warn"):
            raise ValidationError(f"validation must be 'strict' or 'warn', got {validation!r}.")
        rules = []
        for rule in expectations or []:
            if not isinstance(rule, Expectation):
                raise ValidationError(f"expectations take lakebox.expect rules (e.g. expect.not_null('age')), got {rule!r}.")
            rules.append(rule.to_dict())
        name = check_name(lower_name(name, "feature group name"), "feature group name")  # hsfs lower-cases
        if not primary_key:
            raise ValidationError(f"External feature group {name!r} needs a primary key: primary_key=['id', ...].")
        keys = [primary_key] if isinstance(primary_key, str) else list(primary_key)
        keys = [check_name(lower_name(k, "primary key column"), "primary key column") for k in keys]
        event_time = lower_name(event_time, "event time column")
        if len(set(keys)) != len(keys):
            raise ValidationError(f"The primary key {keys} names a column twice.")
        if event_time is not None:
            check_name(event_time, "event time column")
            if event_time in keys:
                raise ValidationError(f"The event time {event_time!r} cannot also be part of the primary key.")
        latest = self._groups.latest_version(name)
        version = check_version((latest or 0) + 1 if version is None else version)
        if self._groups.get(name, version) is not None:
            raise AlreadyExistsError(
                f"Feature group {name} v{version} already exists; pass version={(latest or version) + 1}.",
                name=name, version=version,
            )
        label = f"{name} v{version}"
        self.engines.warehouse.catalog  # noqa: B018 - the box's Iceberg catalog exists before any group does
        rows = conform(
            read_source(source, self.engines.box.root / "secrets"), source,
            schema=None, primary_key=keys, event_time=event_time, label=label,
        )
        if rules:
            from lakebox.expect import validate

            report = validate(rows, rules)
            if not report.success and validation == "strict":
                raise ValidationError(
                    f"The source of external feature group {label} breaks its expectations; nothing was created.\n{report}",
                    report=report,
                )
        if statistics and rows.num_rows:
            from lakebox.stats import compute_statistics

            compute_statistics(rows)  # a source whose rows cannot be summarised fails now, not later
        settings = {"statistics": bool(statistics), "expectations": rules, "validation": validation,
                    EXTERNAL: source.to_dict()}
        row = self._groups.create(
            name=name,
            version=version,
            description=description,
            primary_key=keys,
            event_time=event_time,
            online_enabled=False,
            table_name=f"{name}_v{version}_external_{_secrets.token_hex(4)}",
            features=[FeatureRow(f.name, type_name(f.type)) for f in rows.schema],
            settings=settings,
        )
        group = ExternalFeatureGroup(self, row)  # type: ignore[arg-type]
        asset = group._asset()
        self._assets.set_keywords(asset.id, " ".join(["external", source.kind, *rows.schema.names]))
        return group

    def get_external_feature_group(self, name: str, version: int | None = None) -> ExternalFeatureGroup:
        """The external group ``name`` at ``version`` (default: its latest version); hsfs' spelling."""
        group = self.get_feature_group(name, version)  # type: ignore[attr-defined]
        if not isinstance(group, ExternalFeatureGroup):
            raise ValidationError(
                f"Feature group {group.name} v{group.version} is not external; use get_feature_group({name!r})."
            )
        return group

    def get_external_feature_groups(self, name: str | None = None) -> list[ExternalFeatureGroup]:
        """Every external feature group, or every external version of ``name``."""
        if name is not None:
            check_name(name, "feature group name")
        rows = self._groups.list(name)
        return [ExternalFeatureGroup(self, row) for row in rows if EXTERNAL in row.settings]  # type: ignore[arg-type]


_HSFS_IGNORED = ("options", "online_enabled", "topic_name", "notification_topic_name", "statistics_config",
                 "expectation_suite", "online_config", "embedding_index")


def _hsfs_source(arguments: dict[str, Any]) -> Source:
    """hsfs' ``data_format=`` + ``path=`` as a files source; storage connectors and SQL
    queries against them are refused, naming lakebox's ``source=`` alternative."""
    from pathlib import Path

    from lakebox import sources
    from lakebox.hsfs_compat import unsupported

    arguments = {k: v for k, v in arguments.items() if k not in _HSFS_IGNORED}
    path, data_format = arguments.pop("path", None), arguments.pop("data_format", None)
    if "storage_connector" in arguments or "data_source" in arguments or "query" in arguments:
        raise unsupported(
            "create_external_feature_group(storage_connector=/data_source=/query=)",
            "pass source=lakebox.sources.postgres(url, query=...), .sqlite(...), .duckdb(...) or .files(glob)",
        )
    if arguments:
        raise ValidationError(f"create_external_feature_group got unknown argument(s) {sorted(arguments)}.")
    if path is None:
        raise ValidationError("create_external_feature_group needs source=lakebox.sources... (or hsfs' path= and data_format=).")
    fmt = str(data_format).lower() if data_format is not None else None
    glob = str(path)
    if fmt is not None and not any(c in glob for c in "*?[") and Path(glob).expanduser().is_dir():
        glob = str(Path(glob) / "**" / f"*.{'parquet' if fmt == 'parquet' else fmt}")
    return sources.files(glob, format=fmt)


def is_external(group: Any) -> bool:
    """True for an external feature group (api objects and catalog rows alike)."""
    settings = getattr(getattr(group, "_row", group), "settings", None)
    return isinstance(settings, dict) and EXTERNAL in settings
