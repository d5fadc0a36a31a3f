"""Frames as streams of Arrow record batches, for ``lakebox serve``'s remote reads (issue 15).

``fg.read_batches``, ``fs.get_features_batches``, ``fv.get_batch_data_batches`` and
``fv.get_training_data_batches`` return a ``pyarrow.RecordBatchReader`` with the same rows,
columns and order as ``fg.read``, ``fs.get_features``, ``fv.get_batch_data`` and frame ``part``
of ``fv.get_training_data`` (DuckDB engine; ``dataframe_type="arrow"``). The server sends each
batch as it comes, so its memory does not grow with the frame: DuckDB's working set (bounded by
``duckdb_memory_limit``, spilling to disk) plus a batch. Mixins on the api objects.
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa


class GroupStreamMixin:
    """``fg.read_batches(...)``: ``fg.read`` as record batches."""

    def read_batches(self, wallclock_time: Any = None, limit: int | None = None, offset: int = 0,
                     batch_rows: int | None = None) -> pa.RecordBatchReader:  # fmt: skip
        """The rows ``fg.read(wallclock_time, limit=, offset=)`` returns, a batch at a time."""
        from lakebox.queries import duck_settings
        from lakebox.query import stream

        me: Any = self
        return stream.group_batches(me._planner_ref(), me._planner_pin(wallclock_time), duck_settings(me._store),
                                    batch_rows or stream.BATCH_ROWS, limit=limit, offset=offset)  # fmt: skip

    def read_row_count(self, wallclock_time: Any = None, limit: int | None = None, offset: int = 0) -> int | None:
        """How many rows ``fg.read`` returns, from the data files' footers (None when delete
        files make that unknown without reading): the server's ``X-Rows`` for progress bars."""
        import pyarrow.parquet as pq

        me: Any = self
        pin = me._planner_pin(wallclock_time)
        if pin.exact is not None:
            total = pin.exact.num_rows
        elif pin.empty:
            total = 0
        elif pin.deletes is not None:  # lakebox's position deletes: the files' rows less the deleted ones
            deleted = pin.deletes.group_by(pin.deletes.column_names).aggregate([]).num_rows
            total = sum(pq.read_metadata(path).num_rows for path in pin.files) - deleted
        elif pin.has_deletes:
            return None
        else:
            total = sum(pq.read_metadata(path).num_rows for path in pin.files)
        total = max(0, total - offset)
        return min(total, limit) if limit is not None else total


class StoreStreamMixin:
    """``fs.get_features_batches(...)``: ``fs.get_features`` as record batches."""

    def get_features_batches(self, features: Any, entity_df: Any = None, event_time: str | None = None,
                             as_of: Any = None, max_age: Any = None,
                             batch_rows: int | None = None) -> pa.RecordBatchReader:  # fmt: skip
        """The frame ``fs.get_features(...)`` returns (DuckDB), a batch at a time."""
        from lakebox.queries import DEFAULT_FORMULATION, duck_settings, pin_resolver
        from lakebox.query import stream
        from lakebox.query.bind import bind

        me: Any = self
        plan = bind(me._feature_plan(features, entity_df, event_time, as_of, max_age), pin_resolver(store=me))
        return stream.batches(plan, DEFAULT_FORMULATION, duck_settings(me), batch_rows or stream.BATCH_ROWS)


class ViewStreamMixin:
    """``fv.get_batch_data_batches(...)`` and ``fv.get_training_data_batches(version, part)``."""

    def get_batch_data_batches(self, start_time: Any = None, end_time: Any = None, transformed: bool = True,
                               primary_key: bool = False, event_time: bool = False,
                               batch_rows: int | None = None) -> pa.RecordBatchReader:  # fmt: skip
        """The frame ``fv.get_batch_data(...)`` returns (DuckDB), a batch at a time: on-demand
        features and the fitted transformations are applied to each batch (they work row by
        row, with parameters fitted once on the training split)."""
        from lakebox.hsfs_compat import time_arg
        from lakebox.ondemand import add_on_demand
        from lakebox.queries import DEFAULT_FORMULATION, duck_settings
        from lakebox.query import stream
        from lakebox.view_serving import fitted_of

        me: Any = self
        version = None
        if transformed and me._row.transformations:
            version = me._batch_version or me._last_td_version or me._latest_dataset_version()
        fitted = fitted_of(me._dataset(version)) if version is not None else None
        plan = me._bound_plan(time_arg(start_time), time_arg(end_time))

        def finish(table: pa.Table) -> pa.Table:
            table = add_on_demand(me, table)
            if fitted is not None:
                table = me._transform(fitted, table)
            return me._xy(table, "arrow", primary_key, event_time)[0]

        return stream.batches(plan, DEFAULT_FORMULATION, duck_settings(me._store), batch_rows or stream.BATCH_ROWS,
                              transform=finish)  # fmt: skip

    def get_training_data_frames(self, training_dataset_version: int) -> list[bool]:
        """For each frame of ``fv.get_training_data(version)``: whether it is there (y is None
        without labels), without reading the files."""
        from lakebox.feature_view import SPLITS

        me: Any = self
        dataset = me._dataset(training_dataset_version)
        names = [s for s in ("all", *SPLITS) if s in (dataset.columns.get("splits") or [])]
        if dataset.data_format != "parquet" or not names:
            return [f is not None for f in me.get_training_data(training_dataset_version, dataframe_type="arrow")]
        return [True] * len(names) + [bool(me._row.labels)] * len(names)

    def get_training_data_batches(self, training_dataset_version: int, part: int,
                                  batch_rows: int | None = None) -> pa.RecordBatchReader | None:  # fmt: skip
        """Frame ``part`` of ``fv.get_training_data(version)`` (X, then y, per split, in the
        local order), a batch at a time from the materialised Parquet file; None where the
        local tuple has None (no labels). Other formats and in-memory datasets are read whole."""
        import pyarrow.parquet as pq

        from lakebox.errors import NotFoundError
        from lakebox.feature_view import SPLITS
        from lakebox.query.stream import BATCH_ROWS
        from lakebox.training import materialize

        me: Any = self
        dataset = me._dataset(training_dataset_version)
        splits = dataset.columns.get("splits") or []
        names = [s for s in ("all", *SPLITS) if s in splits]
        if dataset.data_format != "parquet" or not names:
            frames = me.get_training_data(training_dataset_version, dataframe_type="arrow")
            if part >= len(frames):
                raise NotFoundError(f"Training dataset {training_dataset_version} has no frame {part}.")
            frame = frames[part]
            return None if frame is None else pa.RecordBatchReader.from_batches(frame.schema, frame.to_batches())
        if part >= 2 * len(names):
            raise NotFoundError(f"Training dataset {training_dataset_version} has no frame {part}.")
        schema = materialize.schema_from_json(dataset.columns["schema"])
        labels = list(me._row.labels)
        hidden = me._hidden_columns(False, False)
        split = names[part % len(names)]
        if part >= len(names):
            if not labels:
                return None
            columns = labels
        else:
            columns = [c for c in schema.names if c not in labels and c not in hidden]
        target = pa.schema([schema.field(c) for c in columns])
        path = me._store._project._box.artifacts / dataset.location / materialize.file_name(split, "parquet")
        if not path.exists():
            raise NotFoundError(f"The training dataset file {path} is missing; recreate the training dataset.")
        file = pq.ParquetFile(path)

        def rows() -> Any:
            try:
                for batch in file.iter_batches(batch_size=batch_rows or BATCH_ROWS, columns=columns):
                    yield from pa.Table.from_batches([batch]).select(columns).cast(target).to_batches()
            finally:
                file.close()

        return pa.RecordBatchReader.from_batches(target, rows())
