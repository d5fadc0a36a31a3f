"""Operations on a whole box: ``doctor`` (check and repair), ``backup``, ``relocate``.

These are engines: they work from the box directory, its catalogs, warehouse and online
store, never from api objects, so the CLI, the server and scripts call them alike.
"""
