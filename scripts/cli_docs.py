"""Write docs/cli.md from the Click commands (``--check``: exit 1 if it is stale, write nothing).

Run: .venv/bin/python scripts/cli_docs.py [--check]
"""

from __future__ import annotations

import sys
from pathlib import Path

from lakebox.cli.reference import render

TARGET = Path(__file__).resolve().parent.parent / "docs" / "cli.md"


def main(argv: list[str]) -> int:
    text = render()
    current = TARGET.read_text(encoding="utf-8") if TARGET.exists() else ""
    if "--check" in argv:
        if current != text:
            print(f"{TARGET} is stale: run .venv/bin/python scripts/cli_docs.py", file=sys.stderr)
            return 1
        return 0
    if current != text:
        TARGET.write_text(text, encoding="utf-8")
        print(f"wrote {TARGET}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
