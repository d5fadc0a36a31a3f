"""``lakebox serve``: the box's HTTP API (FastAPI), imported only when serving."""
