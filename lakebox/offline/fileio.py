"""A pyiceberg FileIO that lets a box be copied or moved as a plain directory.

Iceberg metadata records absolute paths. A box remembers the warehouse URI it was created
with (``lakebox.toml``: ``warehouse_origin``); when the directory now lives elsewhere, every
path under that origin is read and written under the current warehouse instead. Without
this, a copied box would silently read (and write!) the files of the box it was copied from.
"""

from __future__ import annotations

from typing import Any

from pyiceberg.io.pyarrow import PyArrowFile, PyArrowFileIO

ORIGIN = "lakebox.warehouse-origin"
CURRENT = "lakebox.warehouse-current"


class BoxFileIO(PyArrowFileIO):
    def __init__(self, properties: Any = None) -> None:
        super().__init__(properties or {})
        self.origin = self.properties.get(ORIGIN, "")
        self.current = self.properties.get(CURRENT, "")

    def localize(self, location: str) -> str:
        """The location on this machine of a path recorded in Iceberg metadata."""
        if self.origin and self.origin != self.current and location.startswith(self.origin):
            return self.current + location[len(self.origin) :]
        return location

    def new_input(self, location: str) -> PyArrowFile:
        return self._keep_recorded(super().new_input(self.localize(location)), location)

    def new_output(self, location: str) -> PyArrowFile:
        # The file is written under the current warehouse, but its recorded location stays
        # under the origin, so metadata never mixes prefixes and the box can move again.
        return self._keep_recorded(super().new_output(self.localize(location)), location)

    @staticmethod
    def _keep_recorded(file: PyArrowFile, location: str) -> PyArrowFile:
        file._location = location
        return file

    def delete(self, location: Any) -> None:
        if isinstance(location, str):
            location = self.localize(location)
        super().delete(location)
