"""Pass 1: feature names -> (group, feature), over the catalog's groups given as values.

``fs.get_features(["age", "teams.budget", "players:2.rating"], ...)`` names features;
``resolve_names(refs, names)`` maps each to the ``GroupRef`` that holds it: unqualified names
against the latest version of every group, ``group.feature`` against the group's latest
version, ``group:version.feature`` exactly, ``project::group[:version].feature`` a group another
project shares with this one (its refs carry ``project``; only such qualified names reach
them). An unknown or ambiguous name is an error listing the candidates and the closest names.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from lakebox.errors import NotFoundError, QueryError, ValidationError
from lakebox.names import closest, did_you_mean
from lakebox.query.refs import GroupRef

_NAME = re.compile(
    r"^(?:(?P<project>[a-z_][a-z0-9_]*)::)?"
    r"(?:(?P<group>[a-z_][a-z0-9_]*)(?::(?P<version>[0-9]+))?\.)?(?P<feature>[a-z_][a-z0-9_]*)$"
)

Resolved = tuple[str, GroupRef, str]  # (requested name, group, feature)


def resolve_names(refs: Sequence[GroupRef], names: Sequence[str]) -> list[Resolved]:
    """Map each requested name to (group, feature); errors list candidates and suggestions."""
    if isinstance(names, str):
        names = [names]
    if not names:
        raise ValidationError("get_features needs at least one feature name.")
    latest: dict[str, GroupRef] = {}
    for ref in refs:
        if ref.project is not None:
            continue  # another project's group: only a qualified name reaches it
        if ref.name not in latest or ref.version > latest[ref.name].version:
            latest[ref.name] = ref
    by_feature: dict[str, list[GroupRef]] = {}
    for ref in latest.values():
        for feature in ref.value_columns:  # keys come from the spine; they are not features to look up
            by_feature.setdefault(feature, []).append(ref)
    resolved: list[Resolved] = []
    for requested in names:
        match = _NAME.match(requested) if isinstance(requested, str) else None
        if match is None:
            raise ValidationError(
                f"{requested!r} is not a feature name; write 'feature', 'group.feature', 'group:version.feature' "
                "or, for a group another project shares, 'project::group.feature'."
            )
        feature, group_name, version, project = match["feature"], match["group"], match["version"], match["project"]
        if project is not None and group_name is None:
            raise ValidationError(
                f"{requested!r}: name the group of another project's feature, as '{project}::GROUP.FEATURE' or "
                f"'{project}::GROUP:VERSION.FEATURE'."
            )
        if group_name is not None:
            ref = find_group(refs, group_name, int(version) if version else None, project)
            if not ref.has(feature):
                hint = did_you_mean(feature, ref.columns)
                raise NotFoundError(
                    f"Feature group {ref.label} has no feature {feature!r}" + (hint or f"; it has {ref.columns}."),
                    feature=feature,
                )
            resolved.append((requested, ref, feature))
            continue
        candidates = by_feature.get(feature, [])
        if not candidates:
            raise NotFoundError(
                f"No feature group has a feature named {feature!r}{did_you_mean(feature, by_feature) or '.'}"
                " Qualify names as 'group.feature' to pick a group.",
                feature=feature,
                suggestions=closest(feature, by_feature),
            )
        if len(candidates) > 1:
            options = sorted(f"{g.name}.{feature}" for g in candidates)
            raise QueryError(
                f"The feature name {feature!r} is ambiguous: it exists in {len(candidates)} feature groups. "
                f"Write one of {options}.",
                candidates=options,
            )
        resolved.append((requested, candidates[0], feature))
    return resolved


def find_group(refs: Sequence[GroupRef], name: str, version: int | None, project: str | None = None) -> GroupRef:
    """The group ``name`` at ``version`` (None: its latest), of ``project`` (None: this one)."""
    refs = [r for r in refs if r.project == project]
    where = f" shared by project {project!r}" if project is not None else ""
    versions = sorted(r.version for r in refs if r.name == name)
    if not versions:
        names = sorted({r.name for r in refs})
        raise NotFoundError(f"No feature group{where} named {name!r}{did_you_mean(name, names) or '.'}", name=name)
    wanted = versions[-1] if version is None else version
    for ref in refs:
        if ref.name == name and ref.version == wanted:
            return ref
    raise NotFoundError(f"Feature group {name}{where} has no version {version}; it has {versions}.")
