"""Shared fixtures.  Hypothesis profiles: ``ci`` (default) and ``dev`` (more examples)."""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

settings.register_profile(
    "ci",
    max_examples=100,
    deadline=None,  # numba compiles on first call; timing is for asv, not tests
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile("dev", parent=settings.get_profile("ci"), max_examples=1000)
settings.register_profile("nojit", parent=settings.get_profile("ci"), max_examples=25)
settings.load_profile(
    os.environ.get(
        "HYPOTHESIS_PROFILE", "nojit" if os.environ.get("NUMBA_DISABLE_JIT") == "1" else "ci"
    )
)
