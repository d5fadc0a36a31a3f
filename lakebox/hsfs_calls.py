"""Every hsfs/hsml call lakebox knows about, with its status on lakebox: the data that
docs/hopsworks.md is generated from (``python -m lakebox.hsfs_calls > docs/hopsworks.md``;
tests/test_hsfs_docs.py checks the page is current and every target exists).

Statuses: **same** (the hsfs call runs unchanged), **alias** (the hsfs name runs lakebox's
implementation under another name), **different** (runs, with a difference the note names),
**not applicable** (refused with an error naming lakebox's alternative, or has no meaning).
"""

from __future__ import annotations

import importlib
from typing import NamedTuple


class Call(NamedTuple):
    call: str  # as hsfs/hsml code writes it
    status: str  # same | alias | different | not applicable
    target: str | None  # "module:Class.attribute" that implements it, or None
    note: str = ""


STATUSES = ("same", "alias", "different", "not applicable")
FS = "lakebox.feature_store:FeatureStore"
FG = "lakebox.feature_group:FeatureGroup"
FV = "lakebox.feature_view:FeatureView"
MR = "lakebox.model_registry:ModelRegistry"
MODEL = "lakebox.model_registry:Model"
PROJECT = "lakebox.project:Project"

CALLS: list[Call] = [
    # connection
    Call("hopsworks.login()", "different", "lakebox.compat:login",
         "`lakebox.connect(path)`; with `lakebox.compat.install_hopsworks_alias()` `hopsworks.login()` opens $LAKEBOX_HOME"),
    Call("project.get_feature_store()", "same", f"{PROJECT}.get_feature_store"),
    Call("project.get_model_registry()", "same", f"{PROJECT}.get_model_registry"),
    Call("project.get_dataset_api()", "same", f"{PROJECT}.get_dataset_api", "files live in the box's artifacts/files/"),
    Call("dataset_api.upload / download / exists / mkdir / remove / list / copy / move", "same",
         "lakebox.files_api:DatasetApi.upload", "chunking and retry options are accepted and ignored"),
    # feature store
    Call("fs.create_feature_group(...)", "same", f"{FS}.create_feature_group",
         "Hopsworks service options (time_travel_format, partition_key, stream, topic_name, online_config ...) are "
         "accepted and ignored; storage_connector/path/data_source -> `fs.create_external_feature_group`"),
    Call("fs.get_or_create_feature_group(...)", "same", f"{FS}.get_or_create_feature_group"),
    Call("fs.get_feature_group(name, version=None)", "different", f"{FS}.get_feature_group",
         "without a version: the latest (hsfs: version 1 with a warning)"),
    Call("fs.get_feature_groups(name)", "same", f"{FS}.get_feature_groups"),
    Call("fs.create_feature_view(...)", "same", f"{FS}.create_feature_view",
         "inference/training helper columns are refused"),
    Call("fs.get_or_create_feature_view(...)", "same", f"{FS}.get_or_create_feature_view"),
    Call("fs.get_feature_view(name, version)", "same", f"{FS}.get_feature_view"),
    Call("fs.get_feature_views(name)", "same", f"{FS}.get_feature_views"),
    Call("fs.get_transformation_functions()", "same", f"{FS}.get_transformation_functions"),
    Call("fs.get_transformation_function(name, version)", "same", f"{FS}.get_transformation_function",
         "one function per name (no versions)"),
    Call("fs.create_transformation_function(udf, version).save()", "same", f"{FS}.create_transformation_function",
         "a @udf is registered for the process when it is defined"),
    Call("fs.sql(query)", "same", f"{FS}.sql", "DuckDB SQL over groups named name_version"),
    Call("fs.create_external_feature_group(...)", "different", f"{FS}.create_external_feature_group",
         "sources are lakebox.sources (files, DuckDB, SQLite, PostgreSQL), not storage connectors"),
    # feature group
    Call("fg.insert(df, write_options=, wait=)", "different", f"{FG}.insert",
         "returns the commit (hsfs: (job, validation report)); write_options/wait ignored; overwrite/storage refused"),
    Call("fg.insert(df, validation_options={'run_validation': False})", "same", f"{FG}.insert"),
    Call("fg.read(wallclock_time=, dataframe_type=)", "same", f"{FG}.read", "an int wallclock_time is a commit id"),
    Call("fg.show(n)", "same", f"{FG}.show"),
    Call("fg.save(df)", "same", f"{FG}.save"),
    Call("fg.select(features) / select_all(include_primary_key=, include_event_time=) / select_except(...)", "same",
         f"{FG}.select_all"),
    Call("fg.select_features()", "same", f"{FG}.select_features"),
    Call("fg.filter(fg.feature > value)", "same", f"{FG}.filter"),
    Call("fg.as_of(wallclock_time, exclude_until)", "same", f"{FG}.as_of"),
    Call("fg.commit_details()", "same", f"{FG}.commit_details"),
    Call("fg.delete_records(df)", "same", f"{FG}.delete_records"),
    Call("fg.delete()", "same", f"{FG}.delete"),
    Call("fg.statistics_config / update_statistics_config()", "different", f"{FG}.update_statistics_config",
         "statistics are all on or all off per group; histograms/correlations/columns are kept, not used"),
    Call("fg.compute_statistics() / get_statistics()", "same", f"{FG}.get_statistics"),
    Call("fs.create_feature_group(expectation_suite=suite)", "same", f"{FS}.create_feature_group",
         "GE suites are translated to lakebox.expect rules; unknown expectation types are an error"),
    Call("fg.save_expectation_suite(suite, validation_ingestion_policy=)", "same", f"{FG}.save_expectation_suite"),
    Call("fg.get_expectation_suite() / delete_expectation_suite()", "same", f"{FG}.get_expectation_suite",
         "returns the suite as a dict (GE's JSON shape)"),
    Call("fg.validate(df)", "different", f"{FG}.validate", "returns lakebox's ValidationReport"),
    Call("fg.get_validation_reports()", "same", f"{FG}.get_validation_reports"),
    Call("fg.add_tag / get_tags / delete_tag", "same", f"{FG}.add_tag"),
    Call("fg.update_description / update_feature_description", "same", f"{FG}.update_description"),
    Call("fg.materialization_job / fg.online_config / fg.embedding_index", "not applicable", None,
         "no Spark jobs, Kafka topics or vector index in a box"),
    # feature view
    Call("fv.training_data(...)", "same", f"{FV}.training_data", "records an in-memory training dataset version"),
    Call("fv.train_test_split(test_size=, train_start=, ..., description=)", "same", f"{FV}.train_test_split",
         "records an in-memory training dataset version; seed= is lakebox's extra"),
    Call("fv.train_validation_test_split(...)", "same", f"{FV}.train_validation_test_split"),
    Call("fv.create_training_data(...)", "alias", f"{FV}.create_training_data",
         "materialises with create_training_dataset; returns (version, None)"),
    Call("fv.create_train_test_split(...)", "alias", f"{FV}.create_train_test_split"),
    Call("fv.create_train_validation_test_split(...)", "alias", f"{FV}.create_train_validation_test_split"),
    Call("fv.get_training_data(version)", "same", f"{FV}.get_training_data"),
    Call("fv.get_train_test_split(version)", "alias", f"{FV}.get_train_test_split"),
    Call("fv.get_train_validation_test_split(version)", "alias", f"{FV}.get_train_validation_test_split"),
    Call("fv.get_training_datasets() / get_training_dataset_statistics(version)", "different",
         f"{FV}.get_training_datasets", "metadata as dicts"),
    Call("fv.delete_training_dataset(version) / delete_all_training_datasets()", "same", f"{FV}.delete_all_training_datasets"),
    Call("fv.get_last_accessed_training_dataset()", "same", f"{FV}.get_last_accessed_training_dataset"),
    Call("fv.init_serving(training_dataset_version)", "same", f"{FV}.init_serving"),
    Call("fv.init_batch_scoring(training_dataset_version)", "same", f"{FV}.init_batch_scoring"),
    Call("fv.get_batch_data(start_time, end_time, transformed=)", "same", f"{FV}.get_batch_data"),
    Call("fv.get_feature_vector(entry, passed_features=, return_type=, transform=)", "same", f"{FV}.get_feature_vector",
         "exactly the view's features in its order; a key from the entry"),
    Call("fv.get_feature_vectors(entry=[...])", "same", f"{FV}.get_feature_vectors"),
    Call("fv.transform(vector_or_df)", "same", f"{FV}.transform"),
    Call("fv.query / labels / features / transformation_functions", "different", f"{FV}.transformation_functions",
         "features are names; transformation_functions maps feature -> function name"),
    Call("fv.add_tag / get_tags / delete_tag", "same", f"{FV}.add_tag"),
    Call("fv.delete()", "same", f"{FV}.delete"),
    Call("fv.enable_logging / log / read_log / materialize_log / pause_logging / resume_logging / delete_log",
         "different", f"{FV}.log",
         "logs untransformed features + predicted_<label> into the group {view}_{version}_log, batched like the "
         "deployments' prediction logs; read_log(transformed=True) transforms on read"),
    Call("fs.create_feature_view(logging_enabled=True)", "same", f"{FS}.create_feature_view"),
    Call("fv.get_batch_query() / find_neighbors()", "not applicable", None, "use fv.query.to_sql()"),
    # transformations
    Call("from hopsworks import udf; @udf(return_type, drop=, mode=)", "different", "lakebox.udf:udf",
         "`from lakebox.udf import udf`; the output keeps the feature's name and place; one feature per function"),
    Call("TransformationStatistics('feature')", "same", "lakebox.udf:TransformationStatistics",
         "statistics.<arg>.mean / std_dev / min / max / percentiles / unique_values / count"),
    Call("from hopsworks.hsfs.builtin_transformations import label_encoder, ...", "alias",
         "lakebox.builtin_transformations:label_encoder",
         "`from lakebox.builtin_transformations import ...`, or the hsfs import after install_hopsworks_alias()"),
    Call("transformation_functions=[min_max_scaler('amount'), ...]", "same", "lakebox.udf:transformation_spec"),
    Call("fs.create_feature_group(transformation_functions=[fn('a', 'b')]) (on-demand)", "different",
         "lakebox.udf:apply_on_demand",
         "computed from the inserted columns at insert time and stored (output column = function name); for "
         "request-time features attach @lakebox.on_demand functions to the view"),
    # model registry
    Call("mr.python / sklearn / torch / tensorflow / llm .create_model(...)", "same",
         "lakebox.hsfs_compat:FrameworkRegistry.create_model", "model_schema is accepted, not stored"),
    Call("create_model(feature_view=fv)", "same", f"{MR}.create_model",
         "the last accessed training dataset, else the latest"),
    Call("mr.get_model(name, version)", "different", f"{MR}.get_model", "without a version: the latest"),
    Call("mr.get_models(name) / get_best_model(name, metric, direction)", "same", f"{MR}.get_best_model"),
    Call("model.save(path)", "same", f"{MODEL}.save"),
    Call("model.download()", "same", f"{MODEL}.download"),
    Call("model.get_feature_view(init=True, online=False)", "same", f"{MODEL}.get_feature_view"),
    Call("model.training_metrics", "same", f"{MODEL}.training_metrics"),
    Call("model.deploy(...)", "different", f"{MODEL}.deploy", "lakebox deployments (docs/deployments.md)"),
    Call("project.get_model_serving()", "different", f"{PROJECT}.get_model_serving", "lakebox deployments"),
    Call("project.get_job_api()", "different", f"{PROJECT}.get_job_api", "lakebox jobs (docs/pipelines.md)"),
    Call("project.get_kafka_api() / get_opensearch_api() / get_secrets_api()", "not applicable", None,
         "no Kafka or OpenSearch in a box"),
]


def resolve(target: str) -> object:
    """The object a target names (``module:Class.attribute``); AttributeError/ImportError if absent."""
    module_name, _, path = target.partition(":")
    found: object = importlib.import_module(module_name)
    for part in path.split("."):
        found = getattr(found, part)
    return found


def render() -> str:
    """docs/hopsworks.md."""
    lines = [
        "# Running Hopsworks (hsfs/hsml) code on lakebox",
        "",
        "<!-- generated by `python -m lakebox.hsfs_calls > docs/hopsworks.md`; tests/test_hsfs_docs.py checks it -->",
        "",
        "Code written for the Hopsworks SDK 4.x runs on lakebox with one changed line:",
        "",
        "```python",
        "project = hopsworks.login()          # before",
        'project = lakebox.connect("my.box")  # lakebox',
        "```",
        "",
        "Imports from `hopsworks`/`hsfs` (`udf`, `builtin_transformations`, `TransformationStatistics`) need",
        "`lakebox.compat.install_hopsworks_alias()` once per process (an explicit opt-in: lakebox never ships a",
        "top-level `hopsworks` package that would shadow the real SDK), or lakebox's own imports",
        "(`lakebox.udf`, `lakebox.builtin_transformations`).",
        "",
        "Rules lakebox follows from hsfs: a time without a zone is UTC (inserted data warns once per group and",
        'column; `timestamps = "strict"` in lakebox.toml refuses naive data; `fg.insert(df, timezone=...)`',
        "names the zone); an event time may be int epoch milliseconds or a date; mixed-case names are lower-cased",
        "with a warning; the primary key and event time stay in training data, batch data and vectors when the",
        "view selects them (`primary_key=True`/`event_time=True` add them otherwise); an in-memory split records",
        "a training dataset version. Where lakebox cannot run a call it raises `UnsupportedError` naming the call",
        "and the alternative.",
        "",
        "| hsfs / hsml call | status | lakebox | note |",
        "|---|---|---|---|",
    ]
    for call in CALLS:
        target = f"`{call.target.split(':')[1]}`" if call.target else ""
        lines.append(f"| `{call.call}` | {call.status} | {target} | {call.note} |")
    counts = {s: sum(1 for c in CALLS if c.status == s) for s in STATUSES}
    lines += ["", "Totals: " + ", ".join(f"{n} {s}" for s, n in counts.items()) + ".", ""]
    return "\n".join(lines)


if __name__ == "__main__":
    print(render(), end="")
