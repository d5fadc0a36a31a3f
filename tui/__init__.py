"""The terminal registry browser: ``lakebox tui [BOX]`` (a Textual app over the public api).

>>> from lakebox.tui import BrowserApp
>>> BrowserApp(opener=lambda: lakebox.connect("my.lakebox"), read_only=True).run()  # doctest: +SKIP
"""

from lakebox.tui.app import BrowserApp

__all__ = ["BrowserApp"]
