"""Great Expectations suites (what hsfs' ``expectation_suite=`` takes) as ``lakebox.expect`` rules.

A suite is duck-typed, so lakebox does not depend on Great Expectations: a GE/hsfs suite object
(``to_json_dict()``, ``to_dict()`` or an ``expectations`` attribute) or its JSON dict
``{"expectation_suite_name", "expectations": [{"expectation_type", "kwargs"}, ...]}``. The
types that mean the same as a lakebox rule are translated; any other type is an error naming
it and listing those that translate. ``validation_ingestion_policy`` (hsfs: ``"ALWAYS"``, its
default, writes a failing batch and keeps the report; ``"STRICT"`` refuses it) becomes the
group's ``validation`` (``"warn"`` / ``"strict"``).

>>> rules, policy = from_suite({"expectations": [
...     {"expectation_type": "expect_column_values_to_not_be_null", "kwargs": {"column": "id"}}]})
>>> rules, policy
([not_null(col='id')], 'warn')
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from lakebox import expect
from lakebox.errors import ValidationError

Translator = Callable[[Mapping[str, Any]], expect.Expectation]


def _column(kwargs: Mapping[str, Any]) -> str:
    column = kwargs.get("column")
    if not isinstance(column, str):
        raise ValidationError(f"The expectation needs kwargs.column (a feature name); got {dict(kwargs)!r}.")
    return column


TRANSLATIONS: dict[str, Translator] = {
    "expect_column_values_to_not_be_null": lambda k: expect.not_null(_column(k)),
    "expect_column_values_to_be_between": lambda k: expect.between(_column(k), k.get("min_value"), k.get("max_value")),
    "expect_column_values_to_be_in_set": lambda k: expect.in_set(_column(k), k.get("value_set") or []),
    "expect_column_values_to_match_regex": lambda k: expect.matches(_column(k), k.get("regex")),
    "expect_column_values_to_be_unique": lambda k: expect.unique(_column(k)),
    "expect_compound_columns_to_be_unique": lambda k: expect.unique(list(k.get("column_list") or [])),
    "expect_table_row_count_to_be_between": lambda k: expect.row_count_between(k.get("min_value"), k.get("max_value")),
    "expect_column_mean_to_be_between": lambda k: expect.mean_between(_column(k), k.get("min_value"), k.get("max_value")),
}

_BACK: dict[str, Callable[[Mapping[str, Any]], tuple[str, dict[str, Any]]]] = {
    "not_null": lambda k: ("expect_column_values_to_not_be_null", {"column": k["col"]}),
    "between": lambda k: ("expect_column_values_to_be_between",
                          {"column": k["col"], "min_value": k["lo"], "max_value": k["hi"]}),
    "in_set": lambda k: ("expect_column_values_to_be_in_set", {"column": k["col"], "value_set": list(k["values"])}),
    "matches": lambda k: ("expect_column_values_to_match_regex", {"column": k["col"], "regex": k["regex"]}),
    "unique": lambda k: (("expect_column_values_to_be_unique", {"column": k["cols"][0]}) if len(k["cols"]) == 1
                         else ("expect_compound_columns_to_be_unique", {"column_list": list(k["cols"])})),
    "row_count_between": lambda k: ("expect_table_row_count_to_be_between", {"min_value": k["lo"], "max_value": k["hi"]}),
    "mean_between": lambda k: ("expect_column_mean_to_be_between",
                               {"column": k["col"], "min_value": k["lo"], "max_value": k["hi"]}),
}

POLICIES = {"ALWAYS": "warn", "STRICT": "strict"}


def _as_dict(suite: Any) -> dict[str, Any]:
    if isinstance(suite, Mapping):
        return dict(suite)
    for method in ("to_json_dict", "to_dict"):
        if callable(getattr(suite, method, None)):
            data = getattr(suite, method)()
            if isinstance(data, Mapping):
                return dict(data)
    if hasattr(suite, "expectations"):
        return {
            "expectation_suite_name": getattr(suite, "expectation_suite_name", getattr(suite, "name", None)),
            "expectations": list(suite.expectations),
            "validation_ingestion_policy": getattr(suite, "validation_ingestion_policy", None),
        }
    raise ValidationError(
        f"expectation_suite takes a Great Expectations suite or its JSON dict, got {type(suite).__name__}."
    )


def _expectation(item: Any) -> tuple[str, dict[str, Any], dict[str, Any]]:
    """``(type, kwargs, meta)`` of one GE expectation (a dict or a configuration object)."""
    if not isinstance(item, Mapping):
        for method in ("to_json_dict", "to_dict"):
            if callable(getattr(item, method, None)):
                item = getattr(item, method)()
                break
        else:
            config = getattr(item, "configuration", item)
            item = {"expectation_type": getattr(config, "expectation_type", getattr(config, "type", None)),
                    "kwargs": dict(getattr(config, "kwargs", {}) or {})}
    kind = item.get("expectation_type") or item.get("type")
    kwargs = dict(item.get("kwargs") or {})
    if not kwargs:  # GE 1.x dumps the arguments at the top level
        kwargs = {k: v for k, v in item.items() if k not in ("expectation_type", "type", "meta", "id", "notes")}
    return str(kind), kwargs, dict(item.get("meta") or {})


def from_suite(suite: Any, policy: str | None = None) -> tuple[list[expect.Expectation], str]:
    """``(rules, validation)`` for a GE/hsfs suite; ``policy`` overrides the suite's own."""
    data = _as_dict(suite)
    raw_policy = policy or data.get("validation_ingestion_policy") or data.get("validationIngestionPolicy") or "ALWAYS"
    validation = POLICIES.get(str(raw_policy).upper())
    if validation is None:
        raise ValidationError(f"validation_ingestion_policy must be 'ALWAYS' or 'STRICT', got {raw_policy!r}.")
    rules = []
    for item in data.get("expectations") or []:
        kind, kwargs, _ = _expectation(item)
        translate = TRANSLATIONS.get(kind)
        if translate is None:
            raise ValidationError(
                f"The expectation type {kind!r} has no lakebox rule; the types lakebox translates are "
                f"{sorted(TRANSLATIONS)}. Write it as a lakebox.expect rule (e.g. expect.predicate('...')).",
                expectation_type=kind,
            )
        mostly = kwargs.get("mostly")
        if mostly is not None and mostly < 1:
            if kind != "expect_column_values_to_not_be_null":
                raise ValidationError(f"{kind} with mostly={mostly}: lakebox rules hold for every row; drop 'mostly'.")
            rules.append(expect.max_null_fraction(_column(kwargs), 1 - float(mostly)))
            continue
        for flag in ("strict_min", "strict_max"):
            if kwargs.get(flag):
                raise ValidationError(f"{kind} with {flag}=True: lakebox bounds are inclusive; adjust the bound instead.")
        rules.append(translate(kwargs))
    return rules, validation


def to_suite(rules: list[expect.Expectation], name: str, validation: str) -> dict[str, Any]:
    """The rules as a GE-shaped suite dict (what ``fg.get_expectation_suite()`` returns);
    ``predicate`` and ``max_null_fraction`` rules keep lakebox's own form under ``meta``."""
    expectations = []
    for rule in rules:
        back = _BACK.get(rule.name)
        if back is not None:
            kind, kwargs = back(rule.kwargs)
            expectations.append({"expectation_type": kind, "kwargs": kwargs, "meta": {}})
        elif rule.name == "max_null_fraction":
            expectations.append({"expectation_type": "expect_column_values_to_not_be_null",
                                 "kwargs": {"column": rule.kwargs["col"], "mostly": 1 - rule.kwargs["fraction"]},
                                 "meta": {}})
        else:
            expectations.append({"expectation_type": f"lakebox_{rule.name}", "kwargs": dict(rule.kwargs),
                                 "meta": {"lakebox_rule": rule.to_dict()}})
    policy = next(k for k, v in POLICIES.items() if v == validation)
    return {"expectation_suite_name": name, "expectations": expectations, "meta": {},
            "validation_ingestion_policy": policy, "run_validation": True}
