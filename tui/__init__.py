"""The terminal registry browser: ``lakebox tui [BOX]`` (a Textual app over the public api).

>>> from lakebox.tui import BrowserApp
>>> BrowserApp(opener=lambda: lakebox.connect("my.lakebox"), read_only=True).run()  # doctest: +SKIP

Layout of the package: ``app.py`` (the App: layout, tree, search, keys), ``detail.py`` (the
detail pane), ``tabs/`` (one widget per tab), ``sidebar.py``, ``screens.py`` (dialogs),
``editing.py``, ``keys.py`` (every key; help and docs are built from it), ``source.py`` and
``reads.py`` (the data layer over the public api), ``model.py`` (the values they exchange).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lakebox.tui.app import BrowserApp

__all__ = ["BrowserApp"]


def __getattr__(name: str) -> Any:
    if name == "BrowserApp":  # imported on use: `python -m lakebox.tui.keys` need not load the app
        from lakebox.tui.app import BrowserApp

        return BrowserApp
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
