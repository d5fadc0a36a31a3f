"""``lakebox fg external`` and ``lakebox fg import``: register an external feature group over
files, a DuckDB or SQLite file or a PostgreSQL table, and copy one into an Iceberg group."""

from __future__ import annotations

from pathlib import Path

import click
from rich.markup import escape

from lakebox.cli.state import State, output_option, pass_state
from lakebox.errors import ValidationError


@click.command("external", short_help="Register an external group: rows stay in files or a database.")
@click.argument("name")
@click.option("--files", "glob", default=None, help="A glob of Parquet, CSV or JSON files, e.g. 'data/*.parquet'.")
@click.option("--format", "file_format", type=click.Choice(["parquet", "csv", "json"]), default=None,
              help="The files' format (default: from the glob's suffix).")
@click.option("--duckdb", "duckdb_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="A DuckDB database file (opened read-only).")
@click.option("--sqlite", "sqlite_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="A SQLite database file (read-only, through the ADBC driver).")
@click.option("--postgres", "postgres_url", default=None,
              help="A postgresql://user@host:port/db URL, without a password (see --password-env).")
@click.option("--table", default=None, help="The table to read (databases).")
@click.option("--query", default=None, help="A SELECT to read instead of a table (databases).")
@click.option("--password-env", default=None, help="PostgreSQL: the environment variable holding the password.")
@click.option("--password-secret", default=None,
              help="PostgreSQL: the secrets file holding the password (<box>/secrets/NAME or $LAKEBOX_SECRETS_DIR/NAME).")
@click.option("--primary-key", "-k", "primary_key", multiple=True, required=True, help="A primary key column (repeat).")
@click.option("--event-time", default=None, help="The event time column, if the rows have history.")
@click.option("--timezone", default="UTC", show_default=True, help="The zone of naive timestamps in the source.")
@click.option("--version", type=click.IntRange(min=1), default=None, help="Group version (default: the next one).")
@click.option("--description", default="", help="What the group holds.")
@output_option
@pass_state
def fg_external(
    state: State, name: str, glob: str | None, file_format: str | None, duckdb_path: Path | None,
    sqlite_path: Path | None, postgres_url: str | None, table: str | None, query: str | None,
    password_env: str | None, password_secret: str | None, primary_key: tuple[str, ...], event_time: str | None,
    timezone: str, version: int | None, description: str,
) -> None:
    """Register NAME as an external feature group: lakebox records its schema and keys and
    reads the source at every use (queries, get_features, training datasets). Passwords are
    never stored: PostgreSQL reads one from --password-env or --password-secret.

    \b
    Examples:
      lakebox fg external orders --sqlite shop.db --table orders -k order_id --event-time ts
      lakebox fg external clicks --files 'logs/*.parquet' -k user_id --event-time ts
    """
    from lakebox import sources

    chosen = [o for o in (glob, duckdb_path, sqlite_path, postgres_url) if o is not None]
    if len(chosen) != 1:
        raise ValidationError("Name exactly one source: --files, --duckdb, --sqlite or --postgres.")
    if glob is not None:
        source = sources.files(glob, format=file_format, timezone=timezone)
    elif duckdb_path is not None:
        source = sources.duckdb(duckdb_path, query=query, table=table, timezone=timezone)
    elif sqlite_path is not None:
        source = sources.sqlite(sqlite_path, query=query, table=table, timezone=timezone)
    else:
        assert postgres_url is not None
        source = sources.postgres(postgres_url, query=query, table=table, password_env=password_env,
                                  password_secret=password_secret, timezone=timezone)
    fs = state.open().get_feature_store()
    with state.busy(f"Reading {source.describe()}…"):
        group = fs.create_external_feature_group(name, version=version, source=source, primary_key=list(primary_key),
                                                 event_time=event_time, description=description)
    state.out.result(
        group.describe(),
        f"[green]✓[/] Registered external group [bold]{escape(group.name)}[/] v{group.version} over "
        f"{escape(source.describe())} ({len(group.features)} features).",
    )


@click.command("import", short_help="Copy an external group into an Iceberg feature group.")
@click.argument("name")
@click.option("--version", type=click.IntRange(min=1), default=None, help="The external group's version (default: latest).")
@click.option("--to-name", default=None, help="The new group's name (default: the same name).")
@click.option("--to-version", type=click.IntRange(min=1), default=None, help="The new group's version (default: the next).")
@click.option("--online", is_flag=True, help="Serve the copy online.")
@output_option
@pass_state
def fg_import(state: State, name: str, version: int | None, to_name: str | None, to_version: int | None,
              online: bool) -> None:
    """Copy the rows of external group NAME, as its source holds them now, into a new
    Iceberg feature group (one commit) that keeps history and can be served online."""
    fs = state.open().get_feature_store()
    group = fs.get_feature_group(name, version)
    from lakebox.external_group import ExternalFeatureGroup

    if not isinstance(group, ExternalFeatureGroup):
        raise ValidationError(f"Feature group {group.name} v{group.version} is not external; it is already in lakebox.")
    with state.busy(f"Copying {group.name} v{group.version}…"):
        copy = group.to_internal(name=to_name, version=to_version, online_enabled=online)
    commits = copy.commits()
    rows = commits[-1].rows_inserted if commits else 0
    state.out.result(
        {"name": copy.name, "version": copy.version, "rows": rows, "from": {"name": group.name, "version": group.version}},
        f"[green]✓[/] Copied {escape(group.name)} v{group.version} into [bold]{escape(copy.name)}[/] v{copy.version} "
        f"({rows} rows, one commit).",
    )
