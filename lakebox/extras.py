"""Optional dependencies: which extra brings each one, and the error when it is missing.

``pip install lakebox`` gives the feature store and in-process online serving. The rest comes
with extras: ``[serve]`` (the HTTP server and the remote client: fastapi, uvicorn, httpx),
``[tui]`` (Textual), ``[train]`` (torch, scikit-learn, optuna), ``[polars]``, ``[spark]``, and
``[all]``. Code that needs one calls ``require`` where it starts to need it, so a light install
fails with the line that fixes it instead of an ImportError.

>>> require("json", "reading JSON").__name__
'json'
"""

from __future__ import annotations

import importlib
from types import ModuleType

from lakebox.errors import MissingDependencyError

EXTRA_OF = {
    "fastapi": "serve",
    "fastapi_offline": "serve",
    "starlette": "serve",
    "pydantic": "serve",
    "uvicorn": "serve",
    "httpx": "serve",
    "cryptography": "serve",
    "textual": "tui",
    "torch": "train",
    "sklearn": "train",
    "joblib": "train",
    "optuna": "train",
    "polars": "polars",
    "pyspark": "spark",
    "tensorboard": "tensorboard",
    "adbc_driver_manager": "sources",
    "adbc_driver_sqlite": "sources",
    "adbc_driver_postgresql": "sources",
}


def install_line(extra: str) -> str:
    """How to install an extra, from the package index or in a checkout."""
    return f"pip install 'lakebox[{extra}]' (in a checkout: bash scripts/install.sh {extra})"


def require(module: str, feature: str) -> ModuleType:
    """Import ``module`` or raise ``MissingDependencyError`` naming ``feature`` and the extra to install."""
    try:
        return importlib.import_module(module)
    except ImportError as e:
        top = module.split(".")[0]
        extra = EXTRA_OF.get(top)
        how = install_line(extra) if extra else f"pip install {top}"
        raise MissingDependencyError(
            f"{feature} needs {top}, which is not installed ({e}). Install it with: {how}.",
            module=top,
            extra=extra,
        ) from e


__all__ = ["EXTRA_OF", "install_line", "require"]
