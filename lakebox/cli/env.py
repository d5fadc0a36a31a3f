"""``lakebox env show|check|diff|export``: the Python environment lakebox runs in."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from rich.markup import escape

from lakebox.cli.state import State, output_option, pass_state

path_option = click.option(
    "--path", "paths", multiple=True, type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="Look at the distributions in this folder (a site-packages) instead of this interpreter's; repeat for several.",
)  # fmt: skip


def _path(paths: tuple[Path, ...]) -> list[str] | None:
    return [str(p) for p in paths] if paths else None


@click.group("env", short_help="The Python environment: show, check, diff, export.")
def env() -> None:
    """The Python environment lakebox runs in: the interpreter and installed distributions,
    conflicts between their requirements, what changed since a run or a model was made, and a
    pinned requirements file."""


@env.command("show", short_help="The interpreter and installed distributions.")
@path_option
@output_option
@pass_state
def show(state: State, paths: tuple[Path, ...]) -> None:
    """Show the interpreter and every installed distribution with its version."""
    from lakebox.ops import pyenv

    info = pyenv.show(_path(paths))
    if not state.text:
        state.out.result(info, "")
        return
    state.err_console.print(f"Python {info['python']} ({escape(info['executable'])}) on {escape(info['platform'])}",
                            soft_wrap=True)  # fmt: skip
    rows = [{"distribution": k, "version": v} for k, v in info["packages"].items()]
    data = {"columns": [{"name": "distribution", "type": "string"}, {"name": "version", "type": "string"}],
            "rows": rows, "row_count": len(rows)}  # fmt: skip
    state.out.rows(data, title=f"{len(rows)} installed distributions")


@env.command("check", short_help="Requirements of installed distributions that do not hold (like pip check).")
@path_option
@output_option
@pass_state
def check(state: State, paths: tuple[Path, ...]) -> None:
    """List installed distributions whose requirements are missing or at a version outside
    their specifier (markers evaluated for this interpreter). Exits 1 when there is any."""
    from lakebox.ops import pyenv

    problems = pyenv.check(_path(paths))
    if not state.text:
        state.out.result({"ok": not problems, "problems": [p.to_dict() for p in problems]}, "")
    elif problems:
        for problem in problems:
            click.echo(str(problem))
    else:
        state.err_console.print("[green]✓[/] No broken requirements.")
    if problems:
        sys.exit(1)


@env.command("diff", short_help="What differs from the environment of a run or a model.")
@click.argument("kind", type=click.Choice(["experiment", "model"]))
@click.argument("name")
@click.argument("version", type=int, required=False)
@output_option
@pass_state
def diff(state: State, kind: str, name: str, version: int | None) -> None:
    """Compare this environment with the one recorded with experiment NAME (run VERSION,
    default the latest) or model NAME (VERSION, default the latest; the environment of the
    run that made it). Exits 1 when they differ."""
    from lakebox.experiments import get_experiment
    from lakebox.ops import pyenv

    project = state.open()
    if kind == "experiment":
        recorded = get_experiment(name, version, project=project).environment
    else:
        model = project.get_model_registry().get_model(name, version)
        run = model.experiment
        if run is None:
            from lakebox.errors import NotFoundError

            raise NotFoundError(
                f"Model {name!r} v{model.version} was not made by a recorded run: no environment to compare."
            )
        recorded = run.environment
    result = pyenv.diff(recorded)
    if not state.text:
        state.out.result(result, "")
    elif result["same"]:
        state.err_console.print("[green]✓[/] Same interpreter and packages as recorded.")
    else:
        if result["python"]["recorded"] != result["python"]["installed"]:
            click.echo(f"python: recorded {result['python']['recorded']}, installed {result['python']['installed']}")
        for package, versions in result["changed"].items():
            click.echo(f"{package}: recorded {versions['recorded']}, installed {versions['installed']}")
        for package, version_ in result["missing"].items():
            click.echo(f"{package}: recorded {version_}, not installed")
        for package, version_ in result["added"].items():
            click.echo(f"{package}: installed {version_}, not recorded")
    if not result["same"]:
        sys.exit(1)


@env.command("export", short_help="A requirements file pinned to what is installed (optionally with hashes).")
@click.option("--exclude", multiple=True, metavar="NAME", help="Leave this distribution out (repeat).")
@click.option(
    "--hashes",
    is_flag=True,
    help="Add --hash=sha256:... of each distribution's archive (wheel or sdist), for pip --require-hashes.",
)
@click.option(
    "--wheels",
    "wheels",
    multiple=True,
    metavar="DIR",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="With --hashes: a folder of wheels/sdists to hash (a wheelhouse, or `pip download -d DIR`); repeat.",
)
@path_option
@pass_state
def export(state: State, exclude: tuple[str, ...], hashes: bool, wheels: tuple[Path, ...],
           paths: tuple[Path, ...]) -> None:  # fmt: skip
    """Print a requirements file pinning every installed distribution (name==version).

    \b
    --hashes adds the sha256 of each distribution's archive, the file pip checks with
    --require-hashes. An installed environment does not keep its archives, so a hash comes from:
      * direct_url.json, which pip writes for a distribution installed from a wheel or sdist
        file or URL (its archive hash);
      * the wheels and sdists in --wheels DIR with the same name and version (all of them:
        pip accepts any listed hash), e.g. the folder of scripts/wheelhouse.sh or of
        `pip download -r requirements.txt --no-deps -d DIR`.
    RECORD files list the hashes of the installed files, not of the archive, so they cannot
    give one. Not hashed, and printed as a comment with the reason (and named on stderr):
    editable installs and installs from a source folder or version control (no archive:
    `pip wheel --no-deps PATH -w DIR`, then --wheels DIR), and distributions installed from
    an index whose archive is not in a --wheels folder (`pip download NAME==VERSION --no-deps
    -d DIR`, then --wheels DIR). Exits 1 when any distribution could not be hashed.
    """
    from lakebox.ops import pyenv

    if wheels and not hashes:
        raise click.UsageError("--wheels goes with --hashes.")
    text, missing = pyenv.export_hashed(_path(paths), exclude, hashes=hashes, wheels=wheels)
    click.echo(text, nl=False)
    if missing:
        state.err_console.print(
            f"[yellow]{len(missing)} distribution(s) not hashed (commented out): {escape(', '.join(missing[:10]))}"
            f"{f' and {len(missing) - 10} more' if len(missing) > 10 else ''}[/]",
            soft_wrap=True,
        )
        sys.exit(1)
