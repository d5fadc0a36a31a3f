"""A small event hook: api objects publish what happened, a running trial listens.

The feature view publishes ``training_dataset_read`` when a training dataset is read; the
trial context (``lakebox.experiment.context``) subscribes while a trial runs and records the
dataset for the run's lineage. Publishing without listeners costs one dict lookup, and a
listener's failure never fails the caller's read.

>>> seen = []
>>> stop = subscribe("demo", lambda **data: seen.append(data))
>>> publish("demo", x=1); stop(); publish("demo", x=2)
>>> seen
[{'x': 1}]
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

log = logging.getLogger(__name__)

TRAINING_DATASET_READ = "training_dataset_read"
"""``view`` (the feature view), ``version`` (the training dataset version)."""

_listeners: dict[str, list[Callable[..., None]]] = {}


def subscribe(event: str, listener: Callable[..., None]) -> Callable[[], None]:
    """Call ``listener(**data)`` on every ``publish(event, ...)``; returns the unsubscribe function."""
    _listeners.setdefault(event, []).append(listener)

    def unsubscribe() -> None:
        listeners = _listeners.get(event, [])
        if listener in listeners:
            listeners.remove(listener)

    return unsubscribe


def publish(event: str, **data: Any) -> None:
    """Tell the listeners of ``event``; a failing listener is logged, never raised."""
    for listener in list(_listeners.get(event, ())):
        try:
            listener(**data)
        except Exception:  # bookkeeping must never break the caller's operation
            log.warning("a listener of %s failed", event, exc_info=True)
