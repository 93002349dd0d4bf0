"""Whether every suite is required: the one rule all conftests (and the
browser suite, frontend/e2e/browser.mjs) apply.

Under CI a suite whose service, binary or cluster is missing must fail, never
skip. ``CI`` counts as set when it is ``true`` or ``1``, in any case, as CI
systems spell it; ``.ci/run`` exports ``CI=true`` itself.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

_TRUE = {"true", "1"}


def every_suite_required(environ: Mapping[str, str] | None = None) -> bool:
    value = (os.environ if environ is None else environ).get("CI", "")
    return value.strip().lower() in _TRUE
