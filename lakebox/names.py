"""The one rule for user-chosen names of groups, features and views.

Names match ``^[a-z_][a-z0-9_]*$`` (lower case because DuckDB folds case, so ``Age`` and
``age`` would collide) and are not SQL keywords. Every name is still quoted when it reaches
SQL; this rule keeps user SQL in ``fs.sql`` unsurprising and names portable to Spark/Trino.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable

from lakebox.errors import InvalidNameError

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
    return name


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
