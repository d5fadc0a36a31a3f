"""``lakebox search``, ``lakebox lineage`` and ``lakebox tag ...``: the catalog from the shell."""

from __future__ import annotations

import json
from typing import Any

import click

from lakebox.catalog.assets import KINDS as SEARCH_KINDS
from lakebox.cli.formats import escape
from lakebox.cli.state import State, output_option, pass_state
from lakebox.jsonpolicy import dumps

LINEAGE_KINDS = tuple(k for k in SEARCH_KINDS if k != "feature")
TAG_KINDS = {
    "fg": "feature_group",
    "feature_group": "feature_group",
    "fv": "feature_view",
    "feature_view": "feature_view",
}


def parse_value(text: str) -> Any:
    """A tag value from the command line: JSON when it parses (``1``, ``true``, ``[1, 2]``,
    ``{"a": 1}``, ``"quoted"``), else the text itself as a string."""
    try:
        return json.loads(text)
    except ValueError:
        return text


def _tag_filter(values: tuple[str, ...]) -> dict[str, Any] | list[str] | None:
    """``--tag KEY=VALUE`` (a tag with that value) or ``--tag KEY`` (any value), not mixed."""
    if not values:
        return None
    pairs = [v.partition("=") for v in values]
    with_value = [p for p in pairs if p[1]]
    if with_value and len(with_value) != len(pairs):
        raise click.BadParameter(
            "use either KEY=VALUE for every --tag or KEY alone for every --tag.", param_hint="--tag"
        )
    if with_value:
        return {key: parse_value(value) for key, _, value in pairs}
    return [key for key, _, _ in pairs]


@click.command("search", short_help="Full-text search over every asset of the box.")
@click.argument("text", required=False, default="")
@click.option(
    "-k", "--kind", "kinds", multiple=True, type=click.Choice(SEARCH_KINDS),
    help="Only assets of this kind; repeat for several.",
)  # fmt: skip
@click.option(
    "-t", "--tag", "tags", multiple=True, metavar="KEY[=VALUE]",
    help="Only assets with this tag; VALUE is JSON when it parses (1, true, \"a b\"), else a string. "
    "Without =VALUE, any value. Repeat for several (all must match).",
)  # fmt: skip
@click.option(
    "-n", "--limit", type=click.IntRange(1, 1000), default=20, show_default=True, help="The most hits to show."
)
@output_option
@pass_state
def search(state: State, text: str, kinds: tuple[str, ...], tags: tuple[str, ...], limit: int) -> None:
    """Search feature groups, features, feature views, training datasets, models and
    experiments by name, description, feature names and tags.

    Names weigh most, then feature names and tags, then descriptions. Every word matches as a
    prefix ("attend" finds "attendance") and by its stem ("games" finds "game"); TEXT is plain
    words, never query syntax. With --tag alone, TEXT may be left out; text that starts with
    "-" goes after "--" (lakebox search -- -x).

    \b
    Example:
      lakebox search attend --kind feature_view
      lakebox search --tag owner=ml_team
    """
    project = state.open()
    hits = project.search(text, kind=list(kinds) or None, tags=_tag_filter(tags), limit=limit)
    state.out.search(
        {"query": text, "kind": list(kinds), "tags": list(tags), "limit": limit, "hits": [h.to_dict() for h in hits]}
    )


@click.command("lineage", short_help="Show where an asset came from and what was made from it.")
@click.argument("name")
@click.option("--version", type=click.IntRange(min=1), default=None, help="Asset version (default: the latest).")
@click.option(
    "--kind", type=click.Choice(LINEAGE_KINDS), default=None,
    help="The kind of asset, when NAME names several (a feature view and its training datasets share a name).",
)  # fmt: skip
@click.option(
    "--direction", type=click.Choice(("up", "down", "both")), default="both", show_default=True,
    help="up: what NAME was made from; down: what was made from NAME; both.",
)  # fmt: skip
@output_option
@pass_state
def lineage(state: State, name: str, version: int | None, kind: str | None, direction: str) -> None:
    """Show the lineage of asset NAME as a tree: the feature groups a feature view reads, the
    view and group snapshots (commits) a training dataset materialises, and onwards.

    Lakebox records lineage itself as assets are created; nothing needs logging.

    \b
    Example:
      lakebox lineage attendance --kind training_dataset --version 1
      lakebox lineage games --direction down
    """
    graph = state.open().lineage(name, direction=direction, version=version, kind=kind)
    data = graph.to_dict()
    for asset_id, asset in graph.nodes.items():
        data["nodes"][asset_id].update(parent=asset.parent, label=asset.label)
    state.out.lineage({"direction": direction, **data})


# -- tags -------------------------------------------------------------------------------------
@click.group("tag", short_help="Tags on feature groups and views: add, list, remove.")
def tag() -> None:
    """Tags: custom metadata on feature groups (KIND fg) and feature views (KIND fv).

    A tag is a key and a JSON value; tags are searchable (lakebox search --tag KEY=VALUE).
    """


def _asset(state: State, kind: str, name: str, version: int | None) -> Any:
    fs = state.open().get_feature_store()
    if TAG_KINDS[kind] == "feature_group":
        return fs.get_feature_group(name, version)
    return fs.get_feature_view(name, version)


def _described(kind: str, asset: Any) -> dict[str, Any]:
    return {"kind": TAG_KINDS[kind], "name": asset.name, "version": asset.version}


KIND_ARGUMENT = click.argument("kind", type=click.Choice(tuple(TAG_KINDS)), metavar="KIND")
VERSION_OPTION = click.option(
    "--version", type=click.IntRange(min=1), default=None, help="Version of the group or view (default: the latest)."
)


@tag.command("add", short_help="Set a tag (replaces the value of an existing key).")
@KIND_ARGUMENT
@click.argument("name")
@click.argument("key")
@click.argument("value")
@VERSION_OPTION
@output_option
@pass_state
def tag_add(state: State, kind: str, name: str, key: str, value: str, version: int | None) -> None:
    """Tag NAME (KIND fg or fv) with KEY = VALUE. VALUE is JSON when it parses (42, true,
    ["a", "b"], {"team": "ml"}), else the text as a string.

    \b
    Example:
      lakebox tag add fg players owner ml_team
      lakebox tag add fv attendance reviewed true
    """
    asset = _asset(state, kind, name, version)
    parsed = parse_value(value)
    asset.add_tag(key, parsed)
    data = {**_described(kind, asset), "key": key, "value": parsed, "tags": asset.get_tags()}
    shown = escape(dumps(parsed))
    state.out.result(data, f"[green]✓[/] {escape(asset.name)} v{asset.version}: tag {escape(key)} = {shown}")


@tag.command("list", short_help="List the tags of a group or view.")
@KIND_ARGUMENT
@click.argument("name")
@VERSION_OPTION
@output_option
@pass_state
def tag_list(state: State, kind: str, name: str, version: int | None) -> None:
    """List the tags of NAME (KIND fg or fv) with their JSON values."""
    state.out.tags(state.open().describe_tags(TAG_KINDS[kind], name, version))  # the catalog only


@tag.command("remove", short_help="Remove a tag.")
@KIND_ARGUMENT
@click.argument("name")
@click.argument("key")
@VERSION_OPTION
@output_option
@pass_state
def tag_remove(state: State, kind: str, name: str, key: str, version: int | None) -> None:
    """Remove tag KEY from NAME (KIND fg or fv); an error if it has no such tag."""
    asset = _asset(state, kind, name, version)
    asset.delete_tag(key)
    data = {**_described(kind, asset), "key": key, "tags": asset.get_tags()}
    state.out.result(data, f"[green]✓[/] {escape(asset.name)} v{asset.version}: removed tag {escape(key)}")
