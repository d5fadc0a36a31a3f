"""``lakebox labs``: teaching labs shipped with lakebox, copied out for a student.

Each lab is a folder ``NN_name`` holding a ``README.md`` (the exercise), the student file
``name.py`` (parts to fill in), its tests ``test_name.py`` (they use lakebox's pytest plugin)
and ``solution.py`` (for teachers). In a wheel the labs are ``lakebox/_labs`` (hatch
force-include of ``examples/labs``); in a checkout they are read from ``examples/labs``.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import click
from rich.markup import escape

from lakebox.cli.state import State, output_option, pass_state
from lakebox.errors import AlreadyExistsError, NotFoundError, StorageError

PYTEST_INI = "[pytest]\n# lakebox's pytest plugin is loaded by its entry point: the fixtures need no conftest.py\n"


@dataclass(frozen=True)
class Lab:
    number: int
    name: str
    title: str
    path: Path

    def to_dict(self) -> dict[str, object]:
        return {"number": self.number, "name": self.name, "title": self.title}


def labs_root() -> Path:
    """Where the labs are: ``lakebox/_labs`` in an installed wheel, ``examples/labs`` in a checkout."""
    here = Path(__file__).resolve().parent.parent
    for candidate in (here / "_labs", here.parent / "examples" / "labs"):
        if candidate.is_dir():
            return candidate
    raise StorageError("This lakebox installation has no labs (neither lakebox/_labs nor examples/labs); reinstall it.")


def available() -> list[Lab]:
    """Every lab, in course order."""
    found = []
    for folder in sorted(labs_root().iterdir()):
        number, _, name = folder.name.partition("_")
        if not folder.is_dir() or not number.isdigit() or not (folder / "README.md").is_file():
            continue
        title = (folder / "README.md").read_text(encoding="utf-8").splitlines()[0].lstrip("# ").strip()
        found.append(Lab(int(number), name, title, folder))
    return found


def find(name: str) -> Lab:
    """A lab by name (``time_travel``), folder name (``01_time_travel``) or number (``1``)."""
    wanted = name.strip().lower().replace("-", "_")
    labs = available()
    for lab in labs:
        if wanted in (lab.name, lab.path.name, str(lab.number)):
            return lab
    raise NotFoundError(
        f"There is no lab {name!r}. The labs are: {', '.join(lab.name for lab in labs)} (see `lakebox labs list`)."
    )


def start(lab: Lab, dest: Path, solution: bool = False, force: bool = False) -> list[Path]:
    """Copy ``lab`` into ``dest`` (README, student file, tests, a ``pytest.ini``); the solution
    only when ``solution`` is true. Refuses a non-empty ``dest`` unless ``force``."""
    dest = Path(dest).expanduser()
    if dest.exists() and not dest.is_dir():
        raise AlreadyExistsError(f"{dest} is a file; give a directory for the lab.")
    if dest.is_dir() and any(dest.iterdir()) and not force:
        raise AlreadyExistsError(
            f"{dest} is not empty; choose a new directory, or pass --force to overwrite the lab's files there."
        )
    dest.mkdir(parents=True, exist_ok=True)
    written = []
    for source in sorted(lab.path.iterdir()):
        if not source.is_file() or source.suffix not in (".py", ".md", ".csv", ".parquet"):
            continue
        if source.name == "solution.py" and not solution:
            continue
        shutil.copyfile(source, dest / source.name)
        written.append(dest / source.name)
    ini = dest / "pytest.ini"
    if not ini.exists() or force:
        ini.write_text(PYTEST_INI, encoding="utf-8")
        written.append(ini)
    return written


@click.group("labs", short_help="Teaching labs: list them, copy one out.")
def labs() -> None:
    """Hands-on labs for a course: each is a README, a file to fill in, and pytest tests.

    \b
    Example:
      lakebox labs list
      lakebox labs start time_travel lab1 && cd lab1 && pytest -q
    """


@labs.command("list", short_help="List the labs.")
@output_option
@pass_state
def list_labs(state: State) -> None:
    """List the labs in course order."""
    found = available()
    rows = [lab.to_dict() for lab in found]
    data = {
        "columns": [
            {"name": "number", "type": "int"},
            {"name": "name", "type": "string"},
            {"name": "title", "type": "string"},
        ],
        "rows": rows,
        "row_count": len(rows),
    }
    state.out.rows(data, title="Labs")


@labs.command("start", short_help="Copy a lab into a directory.")
@click.argument("name")
@click.argument("directory", type=click.Path(path_type=Path))
@click.option("--solution", is_flag=True, help="Also copy solution.py (for teachers).")
@click.option("--force", is_flag=True, help="Write into a non-empty directory, overwriting the lab's files.")
@output_option
@pass_state
def start_lab(state: State, name: str, directory: Path, solution: bool, force: bool) -> None:
    """Copy lab NAME (see `lakebox labs list`) into DIRECTORY, ready for `pytest -q` there."""
    lab = find(name)
    written = start(lab, directory, solution=solution, force=force)
    student = f"{lab.name}.py"
    message = (
        f"[green]✓[/] Copied lab {lab.number} ({escape(lab.title)}) to [bold]{escape(str(directory))}[/].\n"
        f"  Read README.md, fill in {escape(student)}, then run: cd {escape(str(directory))} && pytest -q"
    )
    state.out.result({"lab": lab.to_dict(), "directory": str(directory), "files": [p.name for p in written]}, message)
