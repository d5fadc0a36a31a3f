"""hsfs' feature group calls that lakebox spells otherwise (issue 18): a mixin of ``FeatureGroup``.

``fg.show(n)``, ``fg.save(df)``, ``fg.select_features()``, the expectation-suite calls over the
group's ``lakebox.expect`` rules (``save_expectation_suite``, ``get_expectation_suite``,
``delete_expectation_suite``, ``validation_ingestion_policy``), and the checks of
``fg.insert``'s hsfs options.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Self

import pyarrow as pa

from lakebox.errors import SchemaMismatchError, ValidationError
from lakebox.hsfs_compat import unsupported
from lakebox.names import lower_name

if TYPE_CHECKING:
    from lakebox.queries import Query


def check_insert_options(
    overwrite: bool, operation: str, storage: str | None, validation_options: Any, transformation_context: Any
) -> bool:
    """Check ``fg.insert``'s hsfs options; returns whether to run the expectations."""
    if overwrite:
        raise unsupported("fg.insert(df, overwrite=True)",
                          "delete the rows with fg.delete_records(keys) first, or create a new version of the group")
    if operation not in ("upsert", "insert"):
        raise ValidationError(f"operation must be 'upsert' or 'insert', got {operation!r}.")
    if storage not in (None, "offline", "online"):
        raise ValidationError(f"storage must be 'offline' or 'online', got {storage!r}.")
    if storage is not None:
        raise unsupported(f"fg.insert(df, storage={storage!r})",
                          "lakebox writes the offline store and mirrors online groups in one commit")
    if transformation_context is not None:
        raise unsupported("fg.insert(df, transformation_context=...)", "lakebox groups have no on-demand transformations")
    if validation_options is not None and not isinstance(validation_options, Mapping):
        raise ValidationError(f"validation_options must be a dict such as {{'run_validation': False}}, got {validation_options!r}.")
    return bool((validation_options or {}).get("run_validation", True))


def lowered_columns(table: pa.Table) -> pa.Table:
    """Mixed-case column names lower-cased (warning once per name), as hsfs does; two columns
    that only differ in case are an error."""
    names = [lower_name(n, "column name") if isinstance(n, str) else n for n in table.column_names]
    if names == table.column_names:
        return table
    if len(set(names)) != len(names):
        clash = sorted({n for n in names if names.count(n) > 1})
        raise SchemaMismatchError(
            f"Columns {clash} collide once lower-cased (lakebox names are lower case); rename them apart.",
            columns=clash,
        )
    return table.rename_columns(names)


class GroupAliases:
    """hsfs' names on ``FeatureGroup`` (which provides the rest)."""

    if TYPE_CHECKING:  # provided by FeatureGroup
        @property
        def name(self) -> str: ...
        @property
        def version(self) -> int: ...
        @property
        def primary_key(self) -> list[str]: ...
        @property
        def event_time(self) -> str | None: ...
        @property
        def features(self) -> list[Any]: ...
        @property
        def validation(self) -> str: ...
        @property
        def expectations(self) -> list[Any]: ...

        def read(self, wallclock_time: Any = None, dataframe_type: str = "pandas", online: bool = False,
                 limit: int | None = None, offset: int = 0) -> Any: ...
        insert: Callable[..., Any]
        def set_expectations(self, expectations: Sequence[Any], validation: str | None = None) -> Self: ...
        def _stored_schema(self) -> Any: ...
        def _create_table(self, schema: pa.Schema) -> None: ...
        def _reload(self) -> Self: ...
        _row: Any
        _engines: Any

        @property
        def id(self) -> int: ...

    # -- on-demand transformations (hsfs: computed from other features at insert time) -------
    @property
    def transformation_functions(self) -> list[dict[str, Any]]:
        """The group's on-demand functions: ``[{"function", "features", "output"}]``."""
        return [dict(item) for item in self._row.settings.get("on_demand", [])]

    def _save_on_demand(self, spec: list[dict[str, Any]]) -> None:
        settings = dict(self._row.settings)
        settings["on_demand"] = spec
        self._engines.groups.update(self.id, settings=settings)
        self._reload()

    def show(self, n: int, online: bool = False) -> Any:
        """The first ``n`` rows (pandas), from the offline store or, with ``online``, online."""
        return self.read(online=online, limit=n)

    def save(self, features: Any = None, write_options: Any = None, validation_options: Any = None,
             wait: bool = False) -> Any:
        """hsfs: create the group's table — from a dataframe (inserted as the first commit, which
        is returned) or from a list of features (the schema only; returns None)."""
        if features is None:
            return None
        if isinstance(features, (list, tuple)):
            from lakebox.feature import as_feature

            if self._stored_schema() is not None:
                raise ValidationError(f"Feature group {self.name} v{self.version} has a schema already.")
            declared = [as_feature(f) for f in features]
            self._create_table(pa.schema([pa.field(f.name, f.arrow_type) for f in declared]))
            return None
        return self.insert(features, write_options=write_options, validation_options=validation_options, wait=wait)

    def select_features(self) -> Query:
        """hsfs: a query of the features that are neither the primary key nor the event time."""
        from lakebox.queries import Query

        skip = {*self.primary_key, *([self.event_time] if self.event_time else [])}
        return Query(self, features=[f.name for f in self.features if f.name not in skip])  # type: ignore[arg-type]

    # -- expectation suites (Great Expectations shape) --------------------------------------
    def save_expectation_suite(self, expectation_suite: Any, run_validation: bool = True,
                               validation_ingestion_policy: str | None = None, overwrite: bool = False) -> Any:
        """Replace the group's expectations with a GE/hsfs suite (translated to lakebox rules);
        ``validation_ingestion_policy``: ``"ALWAYS"`` writes failing batches and keeps the
        report, ``"STRICT"`` refuses them. ``run_validation=False`` keeps no rules."""
        from lakebox.expect_suite import from_suite

        rules, validation = from_suite(expectation_suite, validation_ingestion_policy)
        self.set_expectations(rules if run_validation else [], validation=validation)
        return self.get_expectation_suite()

    def get_expectation_suite(self, ge_type: bool = True) -> dict[str, Any] | None:
        """The group's expectations as a GE-shaped suite dict (None without any)."""
        from lakebox.expect_suite import to_suite

        rules = self.expectations
        if not rules:
            return None
        return to_suite(rules, f"{self.name}_{self.version}", self.validation)

    def delete_expectation_suite(self) -> None:
        self.set_expectations([])

    @property
    def expectation_suite(self) -> dict[str, Any] | None:
        return self.get_expectation_suite()

    @property
    def validation_ingestion_policy(self) -> str:
        """hsfs' name for the validation mode: ``"STRICT"`` or ``"ALWAYS"`` (lakebox's "warn")."""
        return "STRICT" if self.validation == "strict" else "ALWAYS"
