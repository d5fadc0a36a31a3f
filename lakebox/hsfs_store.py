"""hsfs' spelling of the feature store's calls (issue 18): a mixin of ``FeatureStore``.

``FeatureStore``'s own methods keep lakebox's signatures; for the calls whose arguments hsfs
spells differently, this mixin wraps them when ``FeatureStore`` is defined
(``__init_subclass__``) with a translator that turns hsfs' arguments into lakebox's and then
calls the original: ``statistics_config=`` (bool, dict or object), ``expectation_suite=`` (a
Great Expectations suite or its JSON, translated to ``lakebox.expect`` rules), lists of
``@udf``/built-in objects in ``transformation_functions=``, mixed-case names (lower-cased with
a warning, as hsfs does), on-demand ``transformation_functions=`` of a group (computed at
insert), and the options that tune Hopsworks' own services (accepted and
ignored: ``time_travel_format``, ``partition_key``, ``stream``, ``parents``, ``topic_name``,
``notification_topic_name``, ``online_config``, ``offline_backfill_every_hr``,
``hudi_precombine_key``). Options lakebox has no capability for fail naming the alternative.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from typing import Any

from lakebox.errors import NotFoundError, ValidationError
from lakebox.hsfs_compat import unsupported
from lakebox.names import lower_name

_IGNORED_GROUP_OPTIONS = (
    "time_travel_format", "partition_key", "stream", "parents", "topic_name", "notification_topic_name",
    "online_config", "offline_backfill_every_hr", "hudi_precombine_key", "sink_enabled",
)
_UNSUPPORTED_GROUP_OPTIONS = {
    "embedding_index": "lakebox has no vector index; keep embeddings as array features",
    "storage_connector": "use fs.create_external_feature_group(name, source=lakebox.sources...)",
    "data_source": "use fs.create_external_feature_group(name, source=lakebox.sources...)",
    "path": "use fs.create_external_feature_group(name, source=lakebox.sources.files(path))",
    "ttl": "retention is per box: lakebox box settings (keep_last/keep_days)",
}


def statistics_enabled(config: Any) -> bool:
    """hsfs' ``statistics_config``: a bool, a dict ``{"enabled": ..., "histograms": ...,
    "correlations": ..., "exact_uniqueness": ..., "columns": [...]}`` or a ``StatisticsConfig``
    object; lakebox keeps statistics on or off per group (all of them)."""
    if config is None:
        return True
    if isinstance(config, bool):
        return config
    if isinstance(config, Mapping):
        return bool(config.get("enabled", True))
    return bool(getattr(config, "enabled", True))


def statistics_config_dict(config: Any) -> dict[str, Any]:
    """The config as hsfs returns ``fg.statistics_config`` (a plain dict here)."""
    out = {"enabled": True, "correlations": True, "histograms": True, "exact_uniqueness": True, "columns": []}
    if isinstance(config, bool):
        out["enabled"] = config
    elif isinstance(config, Mapping):
        out.update({k: v for k, v in config.items() if k in out})
    elif config is not None:
        out.update({k: getattr(config, k) for k in out if hasattr(config, k)})
    return out


def _group_kwargs(kwargs: dict[str, Any]) -> dict[str, Any]:
    """hsfs' ``create_feature_group`` arguments as lakebox's (``kwargs`` is consumed)."""
    for option in _IGNORED_GROUP_OPTIONS:
        kwargs.pop(option, None)
    for option, alternative in _UNSUPPORTED_GROUP_OPTIONS.items():
        if kwargs.get(option) not in (None, "", [], {}):
            raise unsupported(f"fs.create_feature_group({option}=...)", alternative)
        kwargs.pop(option, None)
    functions = kwargs.pop("transformation_functions", None)
    if functions:
        from lakebox.udf import on_demand_spec

        kwargs["_on_demand"] = on_demand_spec(functions)
    if "statistics_config" in kwargs:
        config = kwargs.pop("statistics_config")
        kwargs["statistics"] = statistics_enabled(config)
        kwargs["_statistics_config"] = statistics_config_dict(config)
    suite = kwargs.pop("expectation_suite", None)
    if suite is not None:
        from lakebox.expect_suite import from_suite

        if kwargs.get("expectations"):
            raise ValidationError("Give expectations= (lakebox rules) or expectation_suite= (hsfs), not both.")
        rules, validation = from_suite(suite)
        kwargs["expectations"] = rules
        kwargs.setdefault("validation", validation)
    for key in ("name", "event_time"):
        if isinstance(kwargs.get(key), str):
            kwargs[key] = lower_name(kwargs[key], "feature group name" if key == "name" else "event time column")
    keys = kwargs.get("primary_key")
    if isinstance(keys, str):
        keys = [keys]
    if keys is not None:
        kwargs["primary_key"] = [lower_name(k, "primary key column") if isinstance(k, str) else k for k in keys]
    return kwargs


def _adapt_create_group(native: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(native)
    def create_feature_group(self: Any, name: str, *args: Any, **kwargs: Any) -> Any:
        kwargs = _group_kwargs({"name": name, **kwargs})
        config = kwargs.pop("_statistics_config", None)
        on_demand = kwargs.pop("_on_demand", None)
        group = native(self, kwargs.pop("name"), *args, **kwargs)
        if config is not None:
            group._save_statistics_config(config)
        if on_demand:
            group._save_on_demand(on_demand)
        return group

    return create_feature_group


def _adapt_view(native: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(native)
    def create_feature_view(self: Any, name: str, *args: Any, **kwargs: Any) -> Any:
        from lakebox.udf import transformation_spec

        for option in ("inference_helper_columns", "training_helper_columns"):
            if kwargs.pop(option, None):
                raise unsupported(f"fs.create_feature_view({option}=[...])",
                                  "select those columns as features, or read them with fs.get_features")
        logging_enabled = bool(kwargs.pop("logging_enabled", False))
        if "transformation_functions" in kwargs:
            kwargs["transformation_functions"] = transformation_spec(kwargs["transformation_functions"])
        view = native(self, lower_name(name, "feature view name"), *args, **kwargs)
        if logging_enabled:
            view.enable_logging()
        return view

    return create_feature_view


def _adapt_get(native: Callable[..., Any], what: str) -> Callable[..., Any]:
    @functools.wraps(native)
    def get(self: Any, name: Any = None, *args: Any, **kwargs: Any) -> Any:
        if isinstance(name, str):
            name = lower_name(name, what)
        return native(self, name, *args, **kwargs)

    return get


_ADAPTERS: dict[str, Callable[[Callable[..., Any]], Callable[..., Any]]] = {
    "create_feature_group": _adapt_create_group,
    "get_or_create_feature_group": _adapt_create_group,
    "create_feature_view": _adapt_view,
    "get_or_create_feature_view": _adapt_view,
    "get_feature_group": lambda f: _adapt_get(f, "feature group name"),
    "get_feature_groups": lambda f: _adapt_get(f, "feature group name"),
    "get_feature_view": lambda f: _adapt_get(f, "feature view name"),
    "get_feature_views": lambda f: _adapt_get(f, "feature view name"),
}


class StoreAliases:
    """hsfs' feature store calls on ``FeatureStore``: argument translators (see the module
    docstring) and the transformation-function registry."""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        for name, adapter in _ADAPTERS.items():
            native = cls.__dict__.get(name)
            if native is not None and not getattr(native, "__hsfs_adapted__", False):
                adapted = adapter(native)
                adapted.__hsfs_adapted__ = True  # type: ignore[attr-defined]
                setattr(cls, name, adapted)

    # -- transformation functions -----------------------------------------------------------
    def get_transformation_functions(self) -> list[Any]:
        """Every transformation function this process knows (built-ins first, then the
        ``@udf``/registered ones), as hsfs' objects: call one with a feature name to attach it."""
        from lakebox.transformations import list_transformation_functions

        return [self.get_transformation_function(name) for name in list_transformation_functions()]

    def get_transformation_function(self, name: str, version: int | None = None) -> Any:
        """hsfs: the transformation function ``name`` (versions do not apply: one per name)."""
        from lakebox import builtin_transformations
        from lakebox.transformations import list_transformation_functions
        from lakebox.udf import HopsworksUdf, registered

        known = list_transformation_functions()
        if name not in known:
            from lakebox.names import did_you_mean

            raise NotFoundError(f"No transformation function named {name!r}{did_you_mean(name, known) or '.'}"
                                f" Known: {known}.")
        found = getattr(builtin_transformations, name, None)
        if isinstance(found, HopsworksUdf):
            return found
        return registered(name)

    def create_transformation_function(self, transformation_function: Any, version: int | None = None) -> Any:
        """hsfs: register a ``@udf`` function (``.save()`` is then a no-op); lakebox registered it
        when it was defined, per process."""
        from lakebox.udf import HopsworksUdf

        if not isinstance(transformation_function, HopsworksUdf):
            raise ValidationError(f"create_transformation_function takes a @udf function, got {transformation_function!r}.")
        return transformation_function
