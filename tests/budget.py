"""How much work the property tests do: the Hypothesis profile of this run and its example counts.

``dev`` (the default: ``pytest -q``, the inner loop) draws a few examples per property, fresh
ones each run, which is how edge cases turn up; ``ci`` (``CI=true``, as ``.ci/run`` runs, or
``HYPOTHESIS_PROFILE=ci``) draws several times more and the same ones every run, so a red CI is
a real regression, reproducible here with ``HYPOTHESIS_PROFILE=ci``. ``LAKEBOX_EXAMPLES=N``
sets every count to N (to hunt for a bug locally).
"""

from __future__ import annotations

import os

from hypothesis import settings

CI = os.environ.get("CI", "").lower() == "true"
PROFILE = os.environ.get("HYPOTHESIS_PROFILE") or ("ci" if CI else "dev")
if PROFILE not in ("dev", "ci"):
    raise ValueError(f"HYPOTHESIS_PROFILE={PROFILE!r}: use 'dev' (the default) or 'ci'.")

settings.register_profile("dev", print_blob=True)
settings.register_profile("ci", derandomize=True, print_blob=True)


def examples(dev: int, ci: int) -> int:
    """``max_examples`` for a property: ``dev`` in the inner loop, ``ci`` in CI."""
    forced = os.environ.get("LAKEBOX_EXAMPLES")
    if forced:
        return int(forced)
    return ci if PROFILE == "ci" else dev
