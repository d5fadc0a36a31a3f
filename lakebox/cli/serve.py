"""``lakebox serve`` and ``lakebox apikey ...``: the HTTP server of a box and its API keys."""

from __future__ import annotations

import contextlib
import signal
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
from rich.markup import escape

from lakebox.catalog.keys import SCOPES
from lakebox.cli.state import State, output_option, pass_state
from lakebox.errors import StorageError

if TYPE_CHECKING:
    from lakebox.project import Project


@click.command("serve", short_help="Serve a box over HTTP (loopback and API keys by default).")
@click.argument("box", required=False, type=click.Path(file_okay=False, path_type=Path))
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="Address to bind. The default is loopback: only programs on this machine can connect. "
    "0.0.0.0 binds every interface, so anyone on the network could read the box; it is refused "
    "unless API keys exist.",
)
@click.option("--port", type=click.IntRange(1, 65535), default=8765, show_default=True, help="TCP port to listen on.")
@click.option(
    "--allowed-host",
    "allowed_hosts",
    multiple=True,
    metavar="NAME",
    help="A host name clients may use in the Host header (repeat for several). Default: the "
    "loopback names, plus --host when it is not loopback. Other names are rejected, which stops "
    "web pages from reaching the server through DNS rebinding.",
)
@click.option(
    "--no-auth",
    is_flag=True,
    help="Serve without API keys. Loopback-only development: refused with a non-loopback --host.",
)
@click.option(
    "--home",
    type=click.Path(file_okay=False, exists=True, path_type=Path),
    help="Serve every box in this folder as a project, under /api/v1/projects/NAME/... (NAME: the box's folder "
    "name without .lakebox). Each project keeps its own keys, users and audit log. Instead of BOX.",
)
@click.option("--default-project", metavar="NAME",
              help="With --home: also serve project NAME on the single-box routes /api/v1/...")  # fmt: skip
@click.option("--tls-cert", type=click.Path(dir_okay=False, path_type=Path), help="PEM certificate: serve HTTPS (with --tls-key).")
@click.option("--tls-key", type=click.Path(dir_okay=False, path_type=Path), help="PEM private key of --tls-cert.")
@click.option(
    "--tls-self-signed",
    is_flag=True,
    help="Serve HTTPS with the box's own self-signed certificate (made on first use, kept in BOX/tls/); "
    "its SHA-256 fingerprint is printed. Clients pass verify='BOX/tls/cert.pem'.",
)
@output_option
@pass_state
def serve(
    state: State,
    box: Path | None,
    host: str,
    port: int,
    allowed_hosts: tuple[str, ...],
    no_auth: bool,
    tls_cert: Path | None,
    tls_key: Path | None,
    tls_self_signed: bool,
    home: Path | None,
    default_project: str | None,
) -> None:
    """Serve BOX (default: --box, $LAKEBOX_HOME or ./.lakebox) over HTTP until Ctrl+C.

    It serves feature vectors of feature views and metadata (the API is documented at
    /docs). Python clients: lakebox.connect("http://127.0.0.1:8765", api_key="lbk_...").

    \b
    Secure by default:
      * It binds 127.0.0.1 (loopback): only programs on this machine can connect.
      * Binding 0.0.0.0 (or any other address) exposes the box to everyone who can reach
        this machine over the network; it is refused unless API keys exist.
      * Every route but /health needs an API key with the right scope, sent as
        'Authorization: Bearer <key>'. Create one with `lakebox apikey create NAME`.
      * --no-auth turns keys off for loopback-only development; never with another --host.
      * Only loopback names (and --allowed-host names) are accepted in the Host header.
      * Plain HTTP by default. Off loopback, keys and data then cross the network in clear
        text (a warning says so): add --tls-cert/--tls-key, or --tls-self-signed.
      * Slow or idle clients are cut off: the request head must arrive within 10 s, the
        body within 30 s, idle kept-alive connections close after 5 s; at most 1,000
        connections (the oldest idle one is closed first). Bodies: 1 MiB, JSON nested at
        most 32 levels.
      * /health, /docs, /redoc and /openapi.json answer without a key: they describe the
        API, never the box's data (the docs are served offline, without a CDN).

    It also runs scheduled jobs (see `lakebox jobs schedule`): with --home, one scheduler
    per project, each firing its own project's schedules and commit triggers.

    \b
    Other defaults:
      * Offline reads (read:offline) stream Arrow record batches as DuckDB makes them; the
        server's memory is DuckDB's working set, capped by duckdb_memory_limit in the box's
        lakebox.toml (default: half the RAM; beyond it DuckDB spills into BOX/.tmp).
      * With --home, a project reads what other projects share with it ('shop::orders.amount');
        revoking a share refuses the next request. See docs/server.md and docs/security.md.

    \b
    Example:
      lakebox apikey create my_app --scope read:online
      lakebox serve my.lakebox --port 8765
      lakebox serve my.lakebox --host 0.0.0.0 --tls-self-signed
    """
    from lakebox.server.app import PLAINTEXT_WARNING, is_loopback
    from lakebox.server.app import serve as run_server
    from lakebox.server.tls import fingerprint, self_signed

    if tls_self_signed and (tls_cert or tls_key):
        raise click.UsageError("--tls-self-signed and --tls-cert/--tls-key exclude each other.")
    if bool(tls_cert) != bool(tls_key):
        raise click.UsageError("--tls-cert and --tls-key go together.")
    if home is not None:
        if box is not None:
            raise click.UsageError("Give BOX or --home DIR, not both.")
        _serve_home(state, home, host, port, allowed_hosts, no_auth, tls_cert, tls_key, tls_self_signed, default_project)
        return
    if default_project is not None:
        raise click.UsageError("--default-project goes with --home.")
    project = state.open(box)
    active = [k for k in project.get_api_keys() if k.active]
    err = state.err_console
    tls: tuple[Path, Path] | None = (tls_cert, tls_key) if tls_cert and tls_key else None
    if tls_self_signed:
        cert, key, created = self_signed(project.path / "tls", [host, *allowed_hosts])
        tls = (cert, key)
        err.print(f"{'Created' if created else 'Using'} the box's self-signed certificate {escape(str(cert))}.", soft_wrap=True)
    if tls is not None:
        err.print(f"TLS certificate SHA-256 fingerprint: [bold]{fingerprint(tls[0])}[/]", soft_wrap=True)
    elif not is_loopback(host):
        err.print(f"[bold yellow]⚠ {escape(PLAINTEXT_WARNING % host)}[/]", soft_wrap=True)
    url = f"{'https' if tls else 'http'}://{_url_host(host)}:{port}"
    where = f" (bound to every interface: {escape(host)})" if host in ("0.0.0.0", "::") else ""
    err.print(
        f"Starting lakebox for [bold]{escape(str(project.path))}[/] at [bold]{url}[/]{where} (Ctrl+C to stop).",
        soft_wrap=True,
    )
    if no_auth:
        err.print("[yellow]API keys are off (--no-auth): any program on this machine can read the box.[/]")
    elif active:
        err.print(f"{len(active)} active API key(s); clients send 'Authorization: Bearer <key>'.")
    else:
        err.print(
            f"No API keys yet: create one with `lakebox --box {escape(str(project.path))} apikey create NAME` "
            "(only /health answers without one).",
            soft_wrap=True,
        )
    from lakebox.jobs.scheduler import start_in_background  # jobs: schedules and commit triggers run here

    start_in_background(project)
    with _stop_quietly():
        run_server(project, host=host, port=port, allowed_hosts=list(allowed_hosts) or None, no_auth=no_auth, tls=tls)
    err.print("Stopped.")


def _serve_home(state: State, home: Path, host: str, port: int, allowed_hosts: tuple[str, ...], no_auth: bool,
                tls_cert: Path | None, tls_key: Path | None, tls_self_signed: bool,
                default_project: str | None) -> None:  # fmt: skip
    from lakebox.server.app import PLAINTEXT_WARNING, is_loopback
    from lakebox.server.app import serve as run_server
    from lakebox.server.projects import find_boxes
    from lakebox.server.tls import fingerprint, self_signed

    err = state.err_console
    tls: tuple[Path, Path] | None = (tls_cert, tls_key) if tls_cert and tls_key else None
    if tls_self_signed:
        cert, key, created = self_signed(home / ".lakebox-tls", [host, *allowed_hosts])
        tls = (cert, key)
        err.print(f"{'Created' if created else 'Using'} the self-signed certificate {escape(str(cert))}.", soft_wrap=True)
    if tls is not None:
        err.print(f"TLS certificate SHA-256 fingerprint: [bold]{fingerprint(tls[0])}[/]", soft_wrap=True)
    elif not is_loopback(host):
        err.print(f"[bold yellow]⚠ {escape(PLAINTEXT_WARNING % host)}[/]", soft_wrap=True)
    names = [name for name, _ in find_boxes(home)]
    url = f"{'https' if tls else 'http'}://{_url_host(host)}:{port}"
    err.print(f"Serving {len(names)} project(s) of [bold]{escape(str(home))}[/] at [bold]{url}/api/v1/projects/NAME[/]: "
              f"{escape(', '.join(names)) or 'none'} (Ctrl+C to stop).", soft_wrap=True)  # fmt: skip
    with _stop_quietly():
        run_server(None, host=host, port=port, allowed_hosts=list(allowed_hosts) or None, no_auth=no_auth, tls=tls,
                   home=home, default_project=default_project, run_jobs=True)  # fmt: skip
    err.print("Stopped.")


@click.group("apikey", short_help="API keys for `lakebox serve`: create, list, revoke.")
def apikey() -> None:
    """API keys for `lakebox serve`. A key's secret is shown once, when it is created, and
    stored only as a salted hash; clients send it as 'Authorization: Bearer <key>'.
    """


@apikey.command("create", short_help="Create a key; its secret is shown only once.")
@click.argument("name")
@click.option(
    "--scope",
    "scopes",
    multiple=True,
    type=click.Choice(SCOPES),
    help="What the key may do; repeat for several. read:online = feature vectors, read:offline = "
    "metadata and offline reads, admin = everything. Default: read:online and read:offline.",
)
@click.option("--user", "principal", metavar="USER",
              help="The user or service the key belongs to (`lakebox users add`); its role bounds the "
              "scopes, which default to the role's.")  # fmt: skip
@click.option("--expires", metavar="WHEN", help="When the key stops working: 30d, 12h, 90m, 2w, or an ISO date. Default: never.")
@output_option
@pass_state
def create_key(state: State, name: str, scopes: tuple[str, ...], principal: str | None, expires: str | None) -> None:
    """Create API key NAME and print its secret, ONCE: it cannot be shown again.

    In text output the secret alone goes to stdout (KEY=$(lakebox apikey create ci) works)
    and the notes go to stderr.
    """
    from lakebox.security import create_api_key

    project = state.open()
    secret = create_api_key(project, name, list(scopes) if scopes else None, principal=principal, expires=expires)
    key = next(k for k in project.get_api_keys() if k.name == name)
    warning = "Store this secret now: it is kept only as a hash and cannot be shown again."
    if not state.text:
        state.out.result({**_key_dict(key), "secret": secret, "warning": warning}, "")
        return
    state.err_console.print(
        f"[green]✓[/] Created API key [bold]{escape(name)}[/] (scopes: {escape(', '.join(key.scopes))}).",
        soft_wrap=True,
    )
    click.echo(secret)
    state.err_console.print(
        f"[bold yellow]⚠ {warning}[/] Clients send it as 'Authorization: Bearer <key>'.", soft_wrap=True
    )


@apikey.command("list", short_help="List keys (never their secrets), with their last use.")
@output_option
@pass_state
def list_keys(state: State) -> None:
    """List the API keys: name, id prefix, owner and role, scopes, expiry, last use (recorded
    at most once a minute), status. Secrets and their hashes are never printed."""
    keys = [_key_dict(k) for k in state.open().get_api_keys()]
    if not state.text:
        state.out.api_keys(keys)
        return
    columns = ["name", "prefix", "user", "scopes", "expires", "last_used", "status"]
    rows = [
        {"name": k["name"], "prefix": k["prefix"], "user": f"{k['principal']} ({k['role']})" if k["principal"] else "",
         "scopes": ", ".join(k["effective_scopes"]), "expires": k["expires_at"] or "never",
         "last_used": k["last_used_at"] or "never",
         "status": "active" if k["active"] else ("expired" if k["revoked_at"] is None else "revoked")}
        for k in keys
    ]  # fmt: skip
    if not rows:
        state.err_console.print("No API keys. Create one with [bold]lakebox apikey create NAME[/].")
        return
    data = {"columns": [{"name": c, "type": "string"} for c in columns], "rows": rows, "row_count": len(rows)}
    state.out.rows(data, title="API keys (secrets are never shown again)")


@apikey.command("rotate", short_help="Replace a key's secret; the old one stops working at once.")
@click.argument("name")
@output_option
@pass_state
def rotate_key(state: State, name: str) -> None:
    """Give API key NAME a new secret (same scopes, owner and expiry) and print it ONCE; the
    old secret is refused from the next request on."""
    project = state.open()
    secret = project.rotate_api_key(name)
    warning = "Store this secret now: it is kept only as a hash and cannot be shown again."
    if not state.text:
        state.out.result({"name": name, "secret": secret, "warning": warning}, "")
        return
    state.err_console.print(f"[green]✓[/] Rotated API key [bold]{escape(name)}[/]; the old secret no longer works.")
    click.echo(secret)
    state.err_console.print(f"[bold yellow]⚠ {warning}[/]", soft_wrap=True)


@apikey.command("revoke", short_help="Revoke a key; effective on the next request.")
@click.argument("name")
@output_option
@pass_state
def revoke_key(state: State, name: str) -> None:
    """Revoke API key NAME: a running server refuses it from its next request on."""
    project = state.open()
    project.revoke_api_key(name)
    state.out.result({"name": name, "revoked": True}, f"[green]✓[/] Revoked API key [bold]{escape(name)}[/].")


# -- helpers ------------------------------------------------------------------------------
class _Stopped(Exception):
    """SIGTERM arrived (uvicorn re-raises it after its graceful shutdown)."""


@contextlib.contextmanager
def _stop_quietly() -> Iterator[None]:
    """Ctrl+C or SIGTERM end ``serve`` normally (exit 0, no "Aborted!") once uvicorn has
    finished its graceful shutdown and handed the signal back."""

    def stopped(signum: int, frame: Any) -> None:
        raise _Stopped()

    main = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, stopped) if main else None
    try:
        yield
    except (KeyboardInterrupt, _Stopped):
        pass
    finally:
        if main:
            signal.signal(signal.SIGTERM, previous if previous is not None else signal.SIG_DFL)


def _key_dict(key: Any) -> dict[str, Any]:
    """What may be shown of a key: never its secret nor its hash."""
    from lakebox.security import key_info

    return key_info(key)


def _url_host(host: str) -> str:
    if host in ("0.0.0.0", "::", ""):
        return "127.0.0.1" if host != "::" else "[::1]"
    return f"[{host}]" if ":" in host and not host.startswith("[") else host


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that was free a moment ago (for the demo's and the tests' servers)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def background_server(project: Project, host: str = "127.0.0.1", port: int | None = None) -> Iterator[str]:
    """Serve ``project`` from a thread of this process (uvicorn on ``create_app``), yielding
    its URL once it accepts connections; stopped when the block ends."""
    from lakebox.extras import require

    uvicorn = require("uvicorn", "The HTTP server (lakebox serve)")  # the serve extra
    from lakebox.server.app import create_app
    from lakebox.server.protocol import Limits, uvicorn_config

    port = port or free_port(host)
    config = uvicorn_config(create_app(project), host, port, Limits())
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="lakebox-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + 10.0
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            server.should_exit = True
            raise StorageError(f"The lakebox server did not start on {host}:{port}.")
        time.sleep(0.005)
    try:
        yield f"http://{_url_host(host)}:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10.0)
