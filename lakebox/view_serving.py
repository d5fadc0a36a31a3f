"""Online serving of a feature view: feature vectors from the online store, transformed with
the parameters fitted for a training dataset (DESIGN §4, training/serving consistency).

A mixin of ``FeatureView`` (split out to keep that module small).
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa

from lakebox.catalog.views import DatasetRow
from lakebox.errors import NotFoundError, ValidationError
from lakebox.frames import from_arrow
from lakebox.queries import group_key
from lakebox.transformations import FittedTransformations

if TYPE_CHECKING:
    from lakebox.catalog.views import ViewRow
    from lakebox.feature_store import FeatureStore
    from lakebox.queries import Query

_RETURN_TYPES = frozenset(("list", "dict", "pandas", "polars", "numpy"))
FRESHNESS_CHECK_S = 1.0  # how often a serving view compares the online watermark with the commit log


def fitted_of(dataset: DatasetRow) -> FittedTransformations | None:
    """The transformation parameters fitted for a training dataset (None without any)."""
    return FittedTransformations.from_dict(dataset.transformations) if dataset.transformations else None


def _plain_entries(entries: list[Any], keys: list[str]) -> bool:
    """Every entry a plain dict holding every key (what check_entry would accept unchanged)."""
    for entry in entries:
        if type(entry) is not dict:
            return False
        for key in keys:
            if key not in entry:
                return False
    return True


class ServingMixin:
    """``init_serving``, ``get_feature_vector(s)`` and ``serving_columns`` (``FeatureView`` provides the rest)."""

    _row: ViewRow
    _store: FeatureStore
    _serving: Any
    _fresh_at: float
    _query: Any

    if TYPE_CHECKING:  # provided by FeatureView
        @property
        def id(self) -> int: ...
        @property
        def name(self) -> str: ...
        @property
        def version(self) -> int: ...

        @property
        def query(self) -> Query: ...
        def _dataset(self, version: int) -> DatasetRow: ...
        def _hidden_columns(self, primary_key: bool, event_time: bool) -> set[str]: ...

    # -- online serving -------------------------------------------------------------------
    def init_serving(self, training_dataset_version: int | None = None) -> None:
        """Prepare feature vectors: compile the serving plan, pick the fitted transformations
        (of ``training_dataset_version``, default the latest), and replay anything the online
        store missed. Called on first use; call it again to switch training dataset."""
        from lakebox.online.serving import ServingPlan

        self._query = None  # re-read the groups: one may have been enabled online since
        fitted = None
        if self._row.transformations:
            versions = [d.version for d in self._store._views.datasets(self.id)]
            if training_dataset_version is None:
                if not versions:
                    raise ValidationError(
                        f"Feature view {self.name} v{self.version} has transformation functions but no training "
                        "dataset to take their fitted parameters from: create_training_dataset() first."
                    )
                last = getattr(self, "_last_td_version", None)
                training_dataset_version = last if last in versions else versions[-1]
            self._dataset(training_dataset_version)  # NotFoundError lists the versions
            fitted = fitted_of(self._dataset(training_dataset_version))
        plan = self.query._plan()
        columns = self._serving_columns(plan)
        tables: dict[str, Any] = {}
        # the root group's key (and, when not served online, its event time) come from the entry
        root = self.query.root_group
        from_entry = {*root.primary_key, *([root.event_time] if root.event_time else [])}
        served = [o for o in plan.outputs if o.name in columns and not (o.alias == plan.spine_alias and o.column in from_entry)]
        used = {o.alias for o in served}
        used.update(j.left_alias for j in plan.joins)
        by_key = {group_key(g): g for g in self.query.groups()}
        for alias, relation in [(plan.spine_alias, plan.spine), *[(j.alias, j.relation) for j in plan.joins]]:
            assert relation.ref is not None
            group = by_key[relation.ref.key]
            needed = alias in used and (
                alias != plan.spine_alias or any(o.alias == alias for o in served)
                or any(j.left_alias == alias and any(k not in group.primary_key for k in j.left_keys) for j in plan.joins)
            )
            if relation.ref.project and needed:  # another project's group: its owner serves it
                raise ValidationError(
                    f"Feature view {self.name} serves features of {relation.ref.project}::{group.name} "
                    f"v{group.version}, a group shared by project {relation.ref.project!r}: shared groups are "
                    "read offline only (the owner's online store is not opened here). Serve vectors from "
                    f"project {relation.ref.project!r}, or share a feature view built there (fv.share_with)."
                )
            if not group.online_enabled:
                if needed:
                    raise ValidationError(
                        f"Feature view {self.name} serves features of {group.name} v{group.version}, which is not "
                        "online-enabled: call enable_online() on that group."
                    )
                tables[alias] = None
                continue
            group.catch_up_online()
            tables[alias] = group._online_table()
        self._serving = (ServingPlan(self._store.engines.online, plan, tables, columns), fitted, training_dataset_version)

    def _catch_up(self) -> None:
        """A long-lived view (a server's) notices when the online store fell behind the commit
        log — a writer in another process died after committing — and replays it."""
        groups = self._store._groups
        online = self._store.engines.online
        for group in self.query.groups():
            if group.online_enabled and groups.last_commit_id(group.id) > online.watermark(group._planner_ref().table_name):
                group.catch_up_online()

    def _serving_columns(self, plan: Any) -> list[str]:
        hidden = self._hidden_columns(False, False)
        return [o.name for o in plan.outputs if o.name not in self._row.labels and o.name not in hidden]

    def get_feature_vector(
        self,
        entry: Mapping[str, Any],
        passed_features: Mapping[str, Any] | None = None,
        return_type: str = "list",
        allow_missing: bool = False,
        training_dataset_version: int | None = None,
        *,
        transform: bool = True,
    ) -> Any:
        """One feature vector from the online store, transformed exactly as the training data
        (``transform=False``: as stored; ``fv.transform(vector)`` applies the transformations)."""
        # this class's own list path (the wrappers above it, aliases and on-demand features,
        # have already handled this call): one layer instead of three on the hot path (H13)
        result = ServingMixin.get_feature_vectors(
            self,
            [entry],
            passed_features=[passed_features] if passed_features else None,
            return_type="list" if return_type in ("pandas", "polars", "numpy") else return_type,
            allow_missing=allow_missing,
            training_dataset_version=training_dataset_version,
            **({} if transform else {"transform": False}),
        )[0]
        if return_type in ("pandas", "polars"):
            columns = self.serving_columns() if transform else list(self._serving[0].outputs)
            return from_arrow(pa.Table.from_pylist([dict(zip(columns, result, strict=True))]), return_type)
        if return_type == "numpy":
            return np.array(result, dtype=object if any(isinstance(v, (str, bytes)) or v is None for v in result) else None)
        return result

    def serving_columns(self) -> list[str]:
        """Column names of a feature vector (after one-hot expansion)."""
        if getattr(self, "_serving", None) is None:
            self.init_serving()
        plan, fitted, _ = self._serving
        return fitted.output_columns(plan.outputs) if fitted is not None else list(plan.outputs)

    def get_feature_vectors(
        self,
        entries: Sequence[Mapping[str, Any]],
        passed_features: Sequence[Mapping[str, Any]] | None = None,
        return_type: str = "list",
        allow_missing: bool = False,
        training_dataset_version: int | None = None,
        return_status: bool = False,
        *,
        transform: bool = True,
    ) -> Any:
        """One vector per entry, in order — never a shorter list. Missing or too-old rows raise
        unless ``allow_missing`` (then their values are None); ``return_status=True`` also
        returns a status per entry: present, missing or too_old. ``transform=False`` returns
        the values before the transformation functions (``fv.transform`` applies them)."""
        from lakebox.online.serving import PRESENT, check_entry

        if return_type not in _RETURN_TYPES:
            raise ValidationError(f"return_type must be list, dict, pandas, polars or numpy; got {return_type!r}.")
        serving = getattr(self, "_serving", None)
        if serving is None or (training_dataset_version is not None and serving[2] != training_dataset_version):
            self.init_serving(training_dataset_version)
        now = time.monotonic()
        if now - self._fresh_at > FRESHNESS_CHECK_S:
            self._fresh_at = now
            self._catch_up()
        plan, fitted, _ = self._serving
        if not transform:
            fitted = None
        # hot path (H13, issue 13): plain dicts holding their keys skip the generic checks
        if type(entries) is not list or not _plain_entries(entries, plan.entry_keys):
            if isinstance(entries, Mapping):
                raise ValidationError("get_feature_vectors takes a list of entries; use get_feature_vector for one.")
            entries = [check_entry(e, plan.entry_keys) for e in entries]
        if passed_features is not None:
            if isinstance(passed_features, Mapping) or len(passed_features) != len(entries):
                raise ValidationError("passed_features must be a list with one dict per entry.")
            for item in passed_features:
                if item is not None and not isinstance(item, Mapping):
                    raise ValidationError(f"Each passed_features item must be a dict of feature values, got {item!r}.")
        results = plan.lookup_many(entries)
        if fitted is None and passed_features is None and return_type == "list":
            vectors = [values for values, status, _ in results if allow_missing or status == PRESENT]
            if len(vectors) == len(results):  # every vector is there, already in column order
                return (vectors, [r[1] for r in results]) if return_status else vectors
        if not allow_missing:
            bad = [(e, status, detail) for e, (_, status, detail) in zip(entries, results, strict=True) if status != PRESENT]
            if bad:
                entry, status, detail = bad[0]
                raise NotFoundError(
                    f"{len(bad)} of {len(entries)} entries have no complete feature vector, e.g. {dict(entry)}: "
                    f"{ {g: s for g, s in detail.items() if s != PRESENT} }. Pass allow_missing=True to get nulls instead.",
                    status=status,
                )
        columns = fitted.output_columns(plan.outputs) if fitted is not None else plan.outputs
        vectors = []
        for index, (values, _, _) in enumerate(results):
            passed = passed_features[index] if passed_features is not None else None
            if fitted is None and not passed and return_type != "dict":
                vectors.append(values)  # the hot path: already in column order
                continue
            row = dict(zip(plan.outputs, values, strict=True))
            if passed:
                for name, value in passed.items():
                    if name not in row:
                        raise ValidationError(f"passed feature {name!r} is not a feature of the view; it has {list(row)}.")
                    row[name] = value
            if fitted is not None:
                row = fitted.transform_row(row)
            vectors.append(row if return_type == "dict" else [row[c] for c in columns])
        out: Any = vectors
        if return_type in ("pandas", "polars"):
            out = from_arrow(pa.Table.from_pylist([dict(zip(columns, v, strict=True)) for v in vectors]), return_type)
        elif return_type == "numpy":
            out = np.array(vectors, dtype=object)
        if return_status:
            return out, [status for _, status, _ in results]
        return out


    # -- hsfs: applying the transformations to vectors and frames -----------------------------
    def transform(self, feature_vector: Any, external: Any = None, transformation_context: Any = None,
                  return_type: str | None = None, **kwargs: Any) -> Any:
        """Apply the view's transformation functions (the parameters of the serving training
        dataset) to an untransformed vector (a list in ``get_feature_vector(transform=False)``
        order), a list of such vectors, or a pandas/polars/arrow frame; returns the same shape."""
        from lakebox.frames import to_arrow

        if transformation_context is not None:
            from lakebox.hsfs_compat import unsupported

            raise unsupported("fv.transform(transformation_context=...)", "lakebox transformation functions take no context")
        if getattr(self, "_serving", None) is None:
            self.init_serving()
        plan, fitted, _ = self._serving
        names = [*plan.outputs, *(f.name for f in getattr(self, "on_demand_features", []))]
        if isinstance(feature_vector, (list, tuple)) or isinstance(feature_vector, np.ndarray):
            rows = list(feature_vector)
            single = not rows or not isinstance(rows[0], (list, tuple, np.ndarray))
            vectors = [rows] if single else [list(r) for r in rows]
            out = []
            for vector in vectors:
                if len(vector) not in (len(plan.outputs), len(names)):
                    raise ValidationError(
                        f"fv.transform takes vectors of the view's untransformed features {names}; got {len(vector)} values."
                    )
                row = dict(zip(names, vector, strict=False))
                done = fitted.transform_row(row) if fitted is not None else row
                out.append(list(done.values()))
            result: Any = out[0] if single else out
            if return_type in ("pandas", "polars"):
                columns = list((fitted.transform_row(dict(zip(names, vectors[0], strict=False))) if fitted else
                                dict(zip(names, vectors[0], strict=False))).keys())
                result = from_arrow(pa.Table.from_pylist([dict(zip(columns, v, strict=True)) for v in out]), return_type)
            elif return_type == "numpy":
                result = np.array(result, dtype=object)
            return result
        kind = "polars" if type(feature_vector).__module__.startswith("polars") else (
            "arrow" if isinstance(feature_vector, (pa.Table, pa.RecordBatch)) else "pandas")
        table = to_arrow(feature_vector)
        done_table = fitted.transform_table(table) if fitted is not None else table
        return from_arrow(done_table, return_type or kind)
