"""The one rule for user-chosen names of groups, features and views, and the range checks
for versions and counts that every api entry point shares.

Names match ``^[a-z_][a-z0-9_]*$`` (lower case because DuckDB folds case, so ``Age`` and
``age`` would collide), are not SQL keywords and are not reserved for lakebox's own columns
(``__lakebox...`` row numbers; ``_change_type``, ``_commit_id``, ``_commit_time`` of change
feeds). Every name is still quoted when it reaches SQL; this rule keeps user SQL in
``fs.sql`` unsurprising and names portable to Spark/Trino.
"""

from __future__ import annotations

import difflib
import numbers
import re
import warnings
from collections.abc import Iterable
from typing import TypeVar, overload

from lakebox.errors import InvalidNameError, LakeboxWarning, ValidationError

NAME_PATTERN = re.compile(r"^[a-z_][a-z0-9_]*$")
MAX_NAME_LENGTH = 63

# DuckDB's reserved and type_function keywords (duckdb_keywords(), DuckDB 2.0), plus the
# statement verbs: a feature called "select" or "join" would make every hand-written query fail.
SQL_KEYWORDS = frozenset(
    """
    all analyse analyze and any array as asc asymmetric both case cast check collate column
    constraint create default deferrable desc describe distinct do else end except false fetch
    for foreign from group having in initially intersect into lambda lateral leading limit not
    null offset on only or order pivot pivot_longer pivot_wider placing primary qualify
    references returning select show some summarize symmetric table then to trailing true union
    unique unpivot using variadic when where window with
    anti asof at authorization binary by collation columns concurrently cross freeze full
    generated glob ilike inner is isnull join left like map natural notnull outer overlaps
    positional right semi similar struct tablesample try_cast tuple unpack verbose
    insert update delete drop alter attach detach copy pragma call install load
    """.split()
)

RESERVED_PREFIX = "__lakebox"
# Columns the change feed adds to each row (lakebox.offline.changes).
RESERVED_NAMES = frozenset({"_change_type", "_commit_id", "_commit_time"})
MAX_VERSION = 2**31 - 1  # versions are SQLite integers, Iceberg identifiers and URL parts
MAX_COUNT = 2**63 - 1


def check_name(name: object, what: str = "name") -> str:
    """Return ``name`` if it is a valid lakebox identifier, else raise ``InvalidNameError``.

    >>> check_name("player_age", "feature")
    'player_age'
    """
    if not isinstance(name, str):
        raise InvalidNameError(f"The {what} must be a string, got {type(name).__name__} {name!r}.")
    if not NAME_PATTERN.match(name):
        suggestion = re.sub(r"[^a-z0-9_]", "_", name.strip().lower()) or "_"
        if suggestion[0].isdigit():
            suggestion = "_" + suggestion
        raise InvalidNameError(
            f"The {what} {name!r} is not a plain identifier: use lower-case letters, digits and "
            f"underscores, starting with a letter or underscore (for example {suggestion!r}).",
            name=name,
        )
    if len(name) > MAX_NAME_LENGTH:
        raise InvalidNameError(f"The {what} {name!r} is longer than {MAX_NAME_LENGTH} characters.")
    if name in SQL_KEYWORDS:
        raise InvalidNameError(
            f"The {what} {name!r} is an SQL keyword; pick another name (for example {name + '_'!r}).",
            name=name,
        )
    if name.startswith(RESERVED_PREFIX) or name in RESERVED_NAMES:
        raise InvalidNameError(
            f"The {what} {name!r} is reserved for lakebox's own columns (names starting with "
            f"{RESERVED_PREFIX!r}, and {sorted(RESERVED_NAMES)} of change feeds); rename it "
            f"(for example {name.lstrip('_') or 'x'!r}).",
            name=name,
        )
    return name


class NameLoweredWarning(LakeboxWarning):
    """A mixed-case name was lower-cased (as hsfs does)."""


_T = TypeVar("_T")


@overload
def lower_name(name: str, what: str = "name") -> str: ...


@overload
def lower_name(name: _T, what: str = "name") -> _T: ...


def lower_name(name: object, what: str = "name") -> object:
    """hsfs lower-cases feature, group and view names itself: ``customerID`` becomes
    ``customerid`` with a ``NameLoweredWarning``. Other values are returned as they are (and
    ``check_name`` judges them).

    >>> lower_name("age")
    'age'
    """
    if isinstance(name, str) and name != name.lower() and NAME_PATTERN.match(name.lower()):
        warnings.warn(
            f"The {what} {name!r} is lower-cased to {name.lower()!r}: lakebox names are lower case, as in hsfs.",
            NameLoweredWarning,
            stacklevel=3,
        )
        return name.lower()
    return name


def check_version(value: object, what: str = "version") -> int:
    """Return ``value`` as an int if it is a valid version (1 .. 2**31-1), else raise
    ``ValidationError``. Booleans are refused (``True`` is not version 1).

    >>> check_version(2)
    2
    """
    return check_count(value, what, minimum=1, maximum=MAX_VERSION)


def check_count(value: object, what: str = "count", *, minimum: int = 0, maximum: int = MAX_COUNT) -> int:
    """Return ``value`` as an int if it is an integer in ``minimum .. maximum``, else raise
    ``ValidationError`` naming ``what`` and the range (``keep_last``, ``limit``, ``num_trials``...).
    Booleans and floats are refused, numpy integers accepted.

    >>> check_count(0, "limit")
    0
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ValidationError(
            f"{what} must be an integer from {minimum} to {_bound(maximum)}, got {type(value).__name__} {value!r}.",
            argument=what,
        )
    number = int(value)
    if not minimum <= number <= maximum:
        raise ValidationError(
            f"{what} must be an integer from {minimum} to {_bound(maximum)}, got {number}.", argument=what
        )
    return number


def _bound(number: int) -> str:
    return f"2**{number.bit_length()}-1" if number > 10**6 and (number + 1) & number == 0 else str(number)


def closest(name: str, candidates: Iterable[str], n: int = 3) -> list[str]:
    """The candidates closest to ``name``, for "did you mean" messages."""
    return difflib.get_close_matches(name, list(candidates), n=n, cutoff=0.5)


def did_you_mean(name: str, candidates: Iterable[str]) -> str:
    """``"; did you mean 'a' or 'b'?"`` (empty when nothing is close)."""
    hints = closest(name, candidates)
    if not hints:
        return ""
    quoted = [repr(h) for h in hints]
    return "; did you mean " + (", ".join(quoted[:-1]) + " or " + quoted[-1] if len(quoted) > 1 else quoted[0]) + "?"
