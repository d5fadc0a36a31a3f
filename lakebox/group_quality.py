"""Data quality of a feature group: expectations with their validation reports, and statistics.

A mixin of ``FeatureGroup`` (split out to keep that module small). Validation runs before a
batch is written; statistics are kept by the write coordinator at every commit.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Self

import pyarrow as pa

from lakebox.errors import NotFoundError, ValidationError
from lakebox.frames import to_arrow
from lakebox.offline.batch import prepare_batch

if TYPE_CHECKING:
    from lakebox.catalog.groups import CommitRow, GroupRow
    from lakebox.engines import Engines
    from lakebox.expect import ValidationReport
    from lakebox.stats import Statistics
    from lakebox.write.coordinator import Writer


class QualityMixin:
    """Expectations, validation and statistics (``FeatureGroup`` provides the rest)."""

    _row: GroupRow
    _engines: Engines

    if TYPE_CHECKING:  # provided by FeatureGroup
        @property
        def _writer(self) -> Writer: ...
        @property
        def id(self) -> int: ...
        @property
        def name(self) -> str: ...
        @property
        def version(self) -> int: ...
        @property
        def primary_key(self) -> list[str]: ...
        @property
        def event_time(self) -> str | None: ...

        def _reload(self) -> Self: ...
        def _stored_schema(self) -> Any: ...
        def _resolve_commit(self, when: Any, table: Any = None, allow_expired: bool = False) -> CommitRow: ...
        def commits(self) -> list[CommitRow]: ...

    # -- data quality: expectations and statistics --------------------------------------
    @property
    def expectations(self) -> list[Any]:
        from lakebox.expect import Expectation

        return [Expectation.from_dict(d) for d in self._row.settings.get("expectations", [])]

    @property
    def validation(self) -> str:
        return str(self._row.settings.get("validation", "strict"))

    def set_expectations(self, expectations: Sequence[Any], validation: str | None = None) -> Self:
        """Replace the rules every batch is checked against (and optionally the mode)."""
        from lakebox.expect import Expectation

        if validation is not None and validation not in ("strict", "warn"):
            raise ValidationError(f"validation must be 'strict' or 'warn', got {validation!r}.")
        rules = []
        for rule in expectations:
            if not isinstance(rule, Expectation):
                raise ValidationError(f"expectations take lakebox.expect rules, got {rule!r}.")
            rules.append(rule.to_dict())
        settings = dict(self._row.settings)
        settings["expectations"] = rules
        if validation is not None:
            settings["validation"] = validation
        self._engines.groups.update(self.id, settings=settings)
        return self._reload()

    def validate(self, df: Any) -> ValidationReport:
        """Check a dataframe against the group's expectations without writing (a report)."""
        from lakebox.expect import validate
        from lakebox.group_compat import lowered_columns
        from lakebox.timeutil import localize_times

        strict = self._engines.box.settings().get("timestamps") == "strict"
        data = localize_times(lowered_columns(to_arrow(df)), event_time=self.event_time, strict=strict,
                              warn_key=(str(self._engines.box.root), self.id))
        batch = prepare_batch(data, schema=self._stored_schema(), primary_key=self.primary_key,
                              event_time=self.event_time)
        return validate(batch, self.expectations)

    def get_validation_reports(self) -> list[dict[str, Any]]:
        """Every stored report, oldest first: ``{commit_id, created_at, success, mode, report}``
        (``commit_id`` is None for a batch that strict validation refused)."""
        return self._engines.groups.reports(self.id)

    def _validate(self, batch: pa.Table) -> Any:
        rules = self.expectations
        if not rules:
            return None
        from lakebox.expect import validate

        report = validate(batch, rules)
        if not report.success and self.validation == "strict":
            self._engines.groups.save_report(self.id, None, False, "strict", report.to_dict())
            raise ValidationError(
                f"Feature group {self.name} v{self.version} refused the batch; nothing was written.\n{report}",
                report=report,
                failed=[r.rule for r in report.failures],
            )
        return report

    # -- hsfs: statistics_config ----------------------------------------------------------
    @property
    def statistics_config(self) -> dict[str, Any]:
        """hsfs' statistics configuration: ``{"enabled", "correlations", "histograms",
        "exact_uniqueness", "columns"}``. lakebox computes all of them or none: only
        ``enabled`` changes what is computed."""
        from lakebox.hsfs_store import statistics_config_dict

        stored = self._row.settings.get("statistics_config")
        config = statistics_config_dict(stored)
        config["enabled"] = bool(self._row.settings.get("statistics", True))
        return config

    @statistics_config.setter
    def statistics_config(self, config: Any) -> None:
        """Setting it (hsfs style) takes effect now; hsfs needs ``update_statistics_config()``."""
        from lakebox.hsfs_store import statistics_config_dict

        self._save_statistics_config(statistics_config_dict(config))

    def update_statistics_config(self) -> Self:
        """hsfs: persist ``fg.statistics_config`` (lakebox stores it when it is set)."""
        return self._reload()

    def _save_statistics_config(self, config: dict[str, Any]) -> None:
        settings = dict(self._row.settings)
        settings["statistics_config"] = dict(config)
        settings["statistics"] = bool(config.get("enabled", True))
        self._engines.groups.update(self.id, settings=settings)
        self._reload()

    def compute_statistics(self, commit_id: int | None = None) -> Statistics:
        """Compute exact statistics of the group's data as of a commit (default: the latest),
        reading the group whole, and store them. Later commits extend these incrementally."""
        commit = self._resolve_commit(commit_id) if commit_id is not None else next(reversed(self.commits()), None)
        if commit is None:
            raise NotFoundError(f"Feature group {self.name} v{self.version} has no commits yet.")
        return self._writer.compute_statistics(self._row, commit)

    def get_statistics(self, commit_id: int | None = None) -> Statistics:
        """Statistics of the data as of ``commit_id`` (default: the latest commit):
        ``.to_dict()`` -> ``{feature: {count, null_count, distinct, min, max, mean, stddev,
        quantiles, histogram}}``. Kept up to date by every commit at the cost of the rows it
        touched; ``.exact`` is False when updates or deletes left parts approximate (named
        in ``.to_dict()["$approximate"]``): sketches cannot forget removed values, and replaced
        rows that would cost more than 4x the commit to read back are not read at all (the row
        count stays exact, the rest approximate). ``compute_statistics()`` makes them exact.
        Computed now if none were stored. Waits for statistics still being computed in the
        background (big inserts)."""
        from lakebox.stats import Statistics

        self._writer.wait_statistics(self._row)

        commits = self.commits()
        if not commits:
            raise NotFoundError(f"Feature group {self.name} v{self.version} has no commits yet.")
        commit = self._resolve_commit(commit_id) if commit_id is not None else commits[-1]
        stored = self._engines.groups.statistics(self.id, commit.commit_id)
        return Statistics.from_dict(stored) if stored is not None else self.compute_statistics(commit.commit_id)

