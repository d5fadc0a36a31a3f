"""``lakebox users ...``: the principals (users and services) of a box's project and their
roles; ``lakebox audit``: who did what, when."""

from __future__ import annotations

from typing import Any

import click
from rich.markup import escape

from lakebox.catalog.keys import ROLES
from lakebox.cli.state import State, output_option, pass_state

ROLE_HELP = (
    "owner = everything (keys, users, audit); editor = read, write, predict; viewer = read "
    "online and offline; serving = feature vectors and predictions only."
)


@click.group("users", short_help="Users and services (principals) and their roles.")
def users() -> None:
    """Principals of the box's project, each with one role that bounds its API keys:

    \b
      owner    everything: API keys, users, the audit log (scope admin)
      editor   read online and offline, write, predict
      viewer   read online and offline
      serving  read:online and predict only (feature vectors, predictions)

    Create a key for one with `lakebox apikey create NAME --user USER`. Changing a role
    takes effect on the next request; removing a user revokes every key of theirs.
    """


@users.command("add", short_help="Add a user or service with a role.")
@click.argument("name")
@click.option("--role", type=click.Choice(list(ROLES)), default="viewer", show_default=True, help=ROLE_HELP)
@output_option
@pass_state
def add(state: State, name: str, role: str) -> None:
    """Add principal NAME with --role."""
    state.open().add_user(name, role)
    state.out.result({"name": name, "role": role}, f"[green]✓[/] Added [bold]{escape(name)}[/] as {role}.")


@users.command("set-role", short_help="Change a principal's role.")
@click.argument("name")
@click.argument("role", type=click.Choice(list(ROLES)))
@output_option
@pass_state
def set_role(state: State, name: str, role: str) -> None:
    """Give principal NAME the role ROLE; their keys follow from the next request on."""
    state.open().set_user_role(name, role)
    state.out.result({"name": name, "role": role}, f"[green]✓[/] {escape(name)} is now {role}.")


@users.command("remove", short_help="Remove a principal and revoke its keys.")
@click.argument("name")
@output_option
@pass_state
def remove(state: State, name: str) -> None:
    """Remove principal NAME: every key of theirs stops working at once."""
    state.open().remove_user(name)
    state.out.result({"name": name, "removed": True}, f"[green]✓[/] Removed {escape(name)}; their keys are revoked.")


@users.command("list", short_help="List principals and their roles.")
@output_option
@pass_state
def list_users(state: State) -> None:
    """List principals: name, role, the scopes it grants, active keys."""
    rows = state.open().get_users()
    state.out.rows(
        _table(rows, ["name", "role", "scopes", "active_keys", "created_at", "removed_at"]), title="Users and services"
    )


@click.command("audit", short_help="The audit log: writes, key and role changes, refused requests.")
@click.option("--action", help="An action or its prefix: write, key, role.set, auth.failed, create, ...")
@click.option("--user", "principal", help="Who did it (a principal or key name; 'local' for in-process use).")
@click.option("--object", "object_", metavar="OBJECT", help="e.g. feature_group:players or key:ci (a prefix).")
@click.option("--since", help="How far back: 1d, 12h, 30m, 2w, or an ISO date.")
@click.option("--limit", type=click.IntRange(1, 100_000), default=50, show_default=True, help="Show at most this many entries, newest first.")
@output_option
@pass_state
def audit(state: State, action: str | None, principal: str | None, object_: str | None, since: str | None,
          limit: int) -> None:  # fmt: skip
    """Show the audit log, newest first: every write (commits, creating and deleting groups,
    views, models), every key, user and role change, and refused requests to `lakebox
    serve` (failed authentication, missing scopes; at most 60 a minute are kept)."""
    entries = [e.to_dict() for e in state.open().get_audit_log(action, principal, object_, since, limit)]
    for e in entries:
        e["details"] = ", ".join(f"{k}={v}" for k, v in e["details"].items()) if state.text else e["details"]
    state.out.rows(_table(entries, ["at", "principal", "action", "object", "outcome", "details"]), title="Audit log")


def _table(rows: list[dict[str, Any]], columns: list[str]) -> dict[str, Any]:
    shown = [{c: (", ".join(r[c]) if isinstance(r.get(c), list) else r.get(c)) for c in columns} for r in rows]
    return {"columns": [{"name": c, "type": "string"} for c in columns], "rows": shown, "row_count": len(rows)}
