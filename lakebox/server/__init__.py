"""``lakebox serve``: the box's HTTP API (FastAPI), imported only when serving.

The server stack is the ``serve`` extra: without it, importing this package raises
``MissingDependencyError`` with the install line (``pip install 'lakebox[serve]'``).
"""

from lakebox.extras import require

for _module in ("fastapi", "uvicorn"):
    require(_module, "The HTTP server (lakebox serve) and the remote client")
